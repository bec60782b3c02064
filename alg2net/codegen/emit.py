"""Code generation, second half: the module's description laid out by the templates, then formatted by black.

Assumes a `LearnableForm` from `alg2net.derive`. Guarantees deterministic, black-formatted Python (at the project's
line length, 120) that imports only the standard library and torch. `describe` makes every decision; the templates
only lay out what it prepared.
"""

from __future__ import annotations

import functools

import black
import jinja2

from alg2net import resources
from alg2net.codegen.describe import describe, network_class_name
from alg2net.codegen.options import Options
from alg2net.constraints import Constraint
from alg2net.derive import LearnableForm

__all__ = ["emit", "network_class_name"]

LINE_LENGTH = 120


def emit(
    form: LearnableForm, options: Options, source: str, version: str, constraints: tuple[Constraint, ...] = ()
) -> str:
    """The generated module's source text; `constraints` hold params in their regions (--constrain)."""
    spec = describe(form, options, source, version, constraints)
    text = _environment().get_template("module.py.jinja").render(spec=spec)
    return black.format_str(text, mode=black.Mode(line_length=LINE_LENGTH))


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(resources.templates_dir()),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
