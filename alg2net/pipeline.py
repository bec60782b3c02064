"""The compiler's stages, in order. Each stage's module docstring says what it assumes and guarantees.

    parse -> resolve -> derive -> emit
"""

from __future__ import annotations

from alg2net import __version__
from alg2net.codegen.emit import Options, emit
from alg2net.derive import LearnableForm, derive
from alg2net.errors import Alg2NetError
from alg2net.resolve import resolve
from alg2net.syntax import parse


def learnable_form(text: str, filename: str = "<input>") -> LearnableForm:
    """Parse, resolve and derive `text`; errors are attributed to `filename`."""
    try:
        return derive(resolve(parse(text)))
    except Alg2NetError as error:
        raise error.located(filename, text) from None


def compile_source(text: str, options: Options | None = None, filename: str = "<input>") -> str:
    """The generated module for `text`."""
    form = learnable_form(text, filename)
    return emit(form, options or Options(), text, __version__)
