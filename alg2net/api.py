"""The Python API of module.md: `compile_source` and `check_source` from the pipeline, and `load`."""

from __future__ import annotations

import sys
import types
from pathlib import Path

from alg2net.errors import Alg2NetError, Alg2NetWarning
from alg2net.pipeline import check_source, compile_source


def load(path: str | Path, **options) -> type:
    """Compile the `.alg` file at `path` and import the result in memory; returns the network class.

    Needs torch. `options` are those of `compile_source`.
    """
    from alg2net import pipeline
    from alg2net.codegen.emit import network_class_name
    from alg2net.codegen.options import make_options

    path = Path(path)
    derived = pipeline.derive_source(path.read_text(encoding="utf-8"), str(path))
    checked = make_options(**options)
    source = pipeline.emit(derived, checked)
    pipeline.issue_warnings(derived, checked)
    name = derived.form.model.name
    module = types.ModuleType(f"alg2net_generated_{name}")
    module.__file__ = f"<alg2net:{path}>"
    sys.modules[module.__name__] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own generated code
    return getattr(module, network_class_name(name))


__all__ = ["Alg2NetError", "Alg2NetWarning", "check_source", "compile_source", "load"]
