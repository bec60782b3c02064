"""The Python API: `compile_source`, `check_source` and `load`, thin wrappers over the pipeline.

Code generation (black, jinja2) is imported on first use, so `check_source` and `alg2net check` start fast.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

from alg2net.errors import Alg2NetError


def compile_source(
    text: str,
    *,
    block: str = "mlp",
    activation: str = "relu",
    hidden: int | None = None,
    tied: bool = False,
    filename: str = "<input>",
) -> str:
    """The source of the generated module, exactly as `alg2net compile` writes it.

    Raises:
        Alg2NetError: the text is not a valid algorithm, or an option is out of range.
    """
    from alg2net import pipeline

    return pipeline.compile_source(text, _options(block, activation, hidden, tied), filename)


def check_source(text: str, *, depth: int = 100, filename: str = "<input>") -> dict:
    """The facts of `alg2net check --json` for `text`: rho, roots, consistency, stability, order, limit ODE, verdict.

    Raises:
        Alg2NetError: the text is not a valid algorithm, or `depth` is below 1.
    """
    from alg2net import analysis
    from alg2net.errors import fail

    if depth < 1:
        raise fail(
            "bad-option", f"--depth must be a positive whole number, got {depth}", hint="for example --depth 100"
        )
    return analysis.check_source(text, depth, filename)


def load(path: str | Path, **options) -> type:
    """Compile the `.alg` file at `path` and import the result in memory; returns the network class.

    Needs torch. `options` are those of `compile_source`.
    """
    from alg2net import pipeline
    from alg2net.codegen.emit import network_class_name

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    source = compile_source(text, filename=str(path), **options)
    name = pipeline.learnable_form(text, str(path)).model.name
    module = types.ModuleType(f"alg2net_generated_{name}")
    module.__file__ = f"<alg2net:{path}>"
    sys.modules[module.__name__] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own generated code
    return getattr(module, network_class_name(name))


def _options(block: str, activation: str, hidden: int | None, tied: bool):
    from alg2net.codegen.options import ACTIVATIONS, BLOCKS, Options
    from alg2net.errors import fail

    if block not in BLOCKS:
        raise fail("bad-option", f"unknown block '{block}'", hint=f"choose one of {', '.join(BLOCKS)}")
    if activation not in ACTIVATIONS:
        raise fail("bad-option", f"unknown activation '{activation}'", hint=f"choose one of {', '.join(ACTIVATIONS)}")
    if hidden is not None and hidden < 1:
        raise fail(
            "bad-option", f"--hidden must be a positive whole number, got {hidden}", hint="for example --hidden 64"
        )
    return Options(block, activation, hidden, tied)


__all__ = ["Alg2NetError", "check_source", "compile_source", "load"]
