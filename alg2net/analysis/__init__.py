"""Stage 4, analyse: the multistep analysis behind `alg2net check` (reduce, linear test, regions, report).

`learnable_form` parses, resolves and derives without loading code generation, so `check` starts fast.
"""

from __future__ import annotations

from alg2net.derive import LearnableForm, derive
from alg2net.errors import Alg2NetError
from alg2net.resolve import resolve
from alg2net.syntax import parse


def learnable_form(text: str, filename: str = "<input>") -> LearnableForm:
    """Parse, resolve and derive `text`; an error is attributed to `filename`."""
    try:
        return derive(resolve(parse(text)))
    except Alg2NetError as error:
        raise error.located(filename, text) from None


def check_source(text: str, depth: int = 100, filename: str = "<input>") -> dict:
    """The facts of `alg2net check --json` for `text`."""
    from alg2net.analysis.check import check

    return check(learnable_form(text, filename), depth)
