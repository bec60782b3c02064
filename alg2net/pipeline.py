"""The compiler's stages, in order; the one place where text becomes a learnable form.

    parse (syntax) -> resolve -> derive -> values -> analyse (`alg2net check`)
                                                 \\-> emit (`alg2net compile`)

Analysis and code generation are siblings: each reads the derived form, neither imports the other nor this module.
Each is imported on first use, so `check` never loads black or jinja2. A caller that needs both (`compile
--strict`, `load`) derives once with `derive_source` and hands the result to `check` and `emit`.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from alg2net import __version__
from alg2net.codegen.options import Options, make_options
from alg2net.derive import LearnableForm, derive
from alg2net.errors import Alg2NetError, Alg2NetWarning, Diagnostic, fail
from alg2net.resolve import MAX_DEPTH, resolve
from alg2net.syntax import parse
from alg2net.values import check_values

if TYPE_CHECKING:
    from alg2net.analysis import CheckFacts
    from alg2net.constraints import Constraint

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Derived:
    """An algorithm derived once, with the text and file name its errors are located in."""

    form: LearnableForm
    text: str
    filename: str


def derive_source(text: str, filename: str = "<input>") -> Derived:
    """Parse, resolve and derive `text`."""
    return Derived(_located(lambda: check_values(derive(resolve(parse(text)))), text, filename), text, filename)


def warnings_of(derived: Derived, options: Options | None = None) -> tuple[Diagnostic, ...]:
    """What the compiler advises about `derived` (what it left out as dead code) and, given `options`, about
    compiling it with them (BatchNorm in a block a layer calls several times). The command line prints them."""
    found = derived.form.model.warnings
    if options is not None:
        from alg2net.codegen.describe import compile_warnings

        found += compile_warnings(derived.form, options)
    return found


def issue_warnings(derived: Derived, options: Options | None = None) -> None:
    """`warnings_of`, issued as `Alg2NetWarning`s: how the Python API tells its caller."""
    for diagnostic in warnings_of(derived, options):
        warnings.warn(Alg2NetWarning(diagnostic, derived.filename, derived.text), stacklevel=3)


def check(derived: Derived, depth: int = 100, weights: str | None = None) -> CheckFacts:
    """The facts of `alg2net check` (check.md) for a derived algorithm; their `to_json()` is what `check --json`
    prints. With `weights`, a checkpoint of the module compiled from it, at its trained values (guarantee.md): needs
    torch; an error about the checkpoint as a whole is attributed to it, one about a param to the param."""
    from alg2net.analysis import check as analyse

    if depth < 1:
        raise fail(
            "bad-option", f"--depth must be a positive whole number, got {depth}", hint="for example --depth 100"
        )
    trained = None
    if weights is not None:
        from alg2net.weights import read

        try:
            trained = _located(lambda: read(derived.form, weights), derived.text, derived.filename)
        except Alg2NetError as error:
            raise (error if error.line > 0 else error.located(weights, "")) from None
    return _located(lambda: analyse(derived.form, depth, trained), derived.text, derived.filename)


def constraints_of(derived: Derived) -> tuple[Constraint, ...]:
    """The maps that `compile --constrain` holds the learnable params in (guarantee.md), in the file's order; a
    located error where a param's initial value is not strictly inside, or where no sound map exists."""
    from alg2net.analysis.constrain import constraints

    return _located(lambda: constraints(derived.form), derived.text, derived.filename)


def emit(derived: Derived, options: Options) -> str:
    """The generated module's source (module.md) for a derived algorithm; with `options.constrain`, its learnable
    params held in their regions by the maps of `constraints_of`."""
    from alg2net.codegen.emit import emit as generate

    held = constraints_of(derived) if options.constrain else ()
    return _located(
        lambda: generate(derived.form, options, derived.text, __version__, held), derived.text, derived.filename
    )


def compile_source(
    text: str,
    *,
    block: str = "mlp",
    activation: str = "relu",
    hidden: int | None = None,
    tied: bool = False,
    norm: str | None = None,
    memory: str = "autograd",
    constrain: bool = False,
    filename: str = "<input>",
) -> str:
    """The source of the generated module, exactly as `alg2net compile` writes it; its warnings are issued as
    `Alg2NetWarning`s.

    Raises:
        Alg2NetError: the text is not a valid algorithm, or an option is out of range.
    """
    options = make_options(
        block=block, activation=activation, hidden=hidden, tied=tied, norm=norm, memory=memory, constrain=constrain
    )
    derived = derive_source(text, filename)
    source = emit(derived, options)
    issue_warnings(derived, options)
    return source


def check_source(text: str, *, depth: int = 100, weights: str | None = None, filename: str = "<input>") -> dict:
    """The facts of `alg2net check --json` for `text`: rho, roots, consistency, stability, order, limit ODE, verdict;
    with `weights` (a checkpoint's path), at its trained values, as `check --weights`. Its warnings are issued as
    `Alg2NetWarning`s.

    Raises:
        Alg2NetError: the text is not a valid algorithm, `depth` is below 1, or the checkpoint does not fit it.
    """
    derived = derive_source(text, filename)
    facts = check(derived, depth, weights)
    issue_warnings(derived)
    return facts.to_json()


# The stages after parsing recurse along an expression's tree, two frames a level; resolve refuses trees deeper
# than `resolve.MAX_DEPTH` levels, so this limit is never reached (Python's default of 1000 would stop a sum of a
# few hundred terms).
_RECURSION_LIMIT = 4 * MAX_DEPTH


def _located(stage: Callable[[], T], text: str, filename: str) -> T:
    """Run `stage`; an error it raises is attributed to `filename`, whose text is `text`."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _RECURSION_LIMIT))
    try:
        return stage()
    except Alg2NetError as error:
        raise error.located(filename, text) from None
    finally:
        sys.setrecursionlimit(limit)
