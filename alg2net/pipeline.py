"""The compiler's stages, in order. Each stage's module docstring says what it assumes and guarantees.

parse (syntax) -> resolve -> derive -> emit (codegen); `alg2net.analysis` reads the derived form for `check`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from alg2net import __version__
from alg2net.codegen.options import Options
from alg2net.derive import LearnableForm, derive
from alg2net.errors import Alg2NetError
from alg2net.resolve import resolve
from alg2net.syntax import parse

T = TypeVar("T")


def learnable_form(text: str, filename: str = "<input>") -> LearnableForm:
    """Parse, resolve and derive `text`."""
    return _located(lambda: derive(resolve(parse(text))), text, filename)


def compile_source(text: str, options: Options | None = None, filename: str = "<input>") -> str:
    """The generated module for `text`."""
    from alg2net.codegen.emit import emit  # black and jinja2 load only here, so `check` starts fast

    form = learnable_form(text, filename)
    return _located(lambda: emit(form, options or Options(), text, __version__), text, filename)


def _located(stage: Callable[[], T], text: str, filename: str) -> T:
    """Run `stage`; an error it raises is attributed to `filename`, whose text is `text`."""
    try:
        return stage()
    except Alg2NetError as error:
        raise error.located(filename, text) from None
