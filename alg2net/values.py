"""Stage 3b, values: every param, schedule, recurrence and update coefficient has a finite real value at every
layer, at the params' initial values.

Assumes a `LearnableForm` from `alg2net.derive`. Guarantees nothing new of the form; raises the located
`undefined-value` error, naming the layer, where a value is not a finite real number (`a^0.5` with `a = -2`,
`1/(k - 3)` at layer 3, a recurrence `1/t[k]` from `t[0] = 0`, a coefficient `1/lam` with `lam = 0`). A schedule
is decided at every k >= 0: by SymPy's real domain of the expression in k, and numerically on the first
`SCANNED_LAYERS` layers. A recurrence is iterated for `SCANNED_LAYERS` layers; one that overflows float64 is left
to `check`, which reports it.
"""

from __future__ import annotations

import math

import mpmath
import sympy as sp
from sympy.calculus.util import continuous_domain

from alg2net import ir
from alg2net.derive import K, LearnableForm, ParamForm, is_block, is_prox
from alg2net.errors import fail
from alg2net.printing import DslPrinter
from alg2net.resolve import ParamKind

SCANNED_LAYERS = 1000
_DIGITS = 30
_HINT = (
    "look for a division by zero, or a sqrt or log of a negative number (or log of zero), or a value of k past the"
    " float64 range (exp(exp(k)))"
)
_FLOAT64_MAX = 1.7976931348623157e308


def check_values(form: LearnableForm) -> LearnableForm:
    """`form` itself, once every value it needs is known to be a finite real number."""
    values: dict[sp.Basic, sp.Expr] = {}  # constants -> numbers, schedules -> expressions in k
    sequences: dict[sp.Basic, list] = {}  # a recurrence's t[k] -> its values t_0, t_1, ... (floats of _DIGITS)
    for param in form.params:
        _param_values(param, values, sequences)
    vectors = set(form.model.states) | set(form.model.auxiliaries)
    for step, update in zip(form.steps, form.model.updates):
        for coefficient in dict.fromkeys(_scalars(step.value, vectors)):
            layer = _first_bad_layer(coefficient.xreplace(values), sequences)
            _require(layer, update.span, f"the coefficient {_text(coefficient)}")
    return form


def _param_values(param: ParamForm, values: dict, sequences: dict) -> None:
    definition = param.definition
    name = definition.name
    if definition.kind is ParamKind.RECURRENCE:
        start = param.start.xreplace(values)
        _require(_first_bad_layer(start, {}), definition.start.span, f"{name}[0]")
        current = sp.IndexedBase(name)[K]
        sequences[current] = sequence = _iterate(param.value.xreplace(values), current, start)
        if isinstance(sequence[-1], int):  # the index of the first value that is not a finite real number
            _require(-1, definition.value.span, f"{name}[{sequence.pop()}]")
        sequences[sp.IndexedBase(name)[K + 1]] = sequence[1:]
        return
    value = param.value.xreplace(values)
    _require(_first_bad_layer(value, sequences), definition.value.span, name)
    atom = sp.Symbol(name, real=True) if definition.kind is ParamKind.CONSTANT else sp.IndexedBase(name)[K]
    values[atom] = value


def _require(layer: int | None, span: ir.Span, what: str) -> None:
    """Nothing when `layer` is None; else the error that `what` has no finite real value there (-1: anywhere)."""
    if layer is not None:
        where = "" if layer < 0 else f" at layer k = {layer}"
        raise fail("undefined-value", f"{what} has no finite real value{where}", span, _HINT)


def _scalars(expr: sp.Expr, vectors: set[str]):
    """The largest scalar parts of a vector expression: coefficients, and the steps of prox calls."""
    if not _has_vector(expr, vectors):
        yield expr
        return
    if isinstance(expr, sp.Mul):  # one coefficient, not its factors
        yield sp.Mul(*(arg for arg in expr.args if not _has_vector(arg, vectors)))
        expr = sp.Mul(*(arg for arg in expr.args if _has_vector(arg, vectors)), evaluate=False)
    for arg in expr.args:
        yield from _scalars(arg, vectors)


def _has_vector(expr: sp.Basic, vectors: set[str]) -> bool:
    return any(
        is_block(node) or is_prox(node) or (isinstance(node, sp.Indexed) and str(node.base) in vectors)
        for node in sp.preorder_traversal(expr)
    )


def _first_bad_layer(expr: sp.Expr, sequences: dict) -> int | None:
    """None when `expr` (a number, or in k and recurrences) is finite and real at every layer; else the first layer
    found where it is not, -1 for a number."""
    recurrences = [atom for atom in sequences if expr.has(atom)]
    if not expr.has(K) and not recurrences:
        return None if _finite_real(expr) else -1
    if not recurrences:
        beyond = _domain_failure(expr)
        if beyond is not None and beyond >= SCANNED_LAYERS:
            return beyond
    layers = min([SCANNED_LAYERS, *(len(sequences[atom]) for atom in recurrences)])
    function = sp.lambdify((K, *recurrences), expr, "mpmath")
    with mpmath.workdps(_DIGITS):
        for layer in range(layers):
            try:
                value = function(layer, *(sequences[atom][layer] for atom in recurrences))
            except (ZeroDivisionError, ValueError):
                return layer
            if not _finite_real_number(value):
                return layer
            if not recurrences and abs(value) > _FLOAT64_MAX:  # the module computes it as a Python float: it raises
                return layer
    return None


def _domain_failure(expr: sp.Expr) -> int | None:
    """The first whole k >= 0 outside the real domain of `expr` in k where it indeed has no finite real value."""
    real = sp.Symbol("k_real", real=True)
    try:
        domain = continuous_domain(expr.xreplace({K: real}), real, sp.Interval(0, sp.oo))
        outside = sp.Complement(sp.Interval(0, sp.oo), domain)
        start = None if outside.is_empty else outside.inf
    except (NotImplementedError, ValueError, TypeError):
        return None
    if start is None or not start.is_finite:
        return None
    for layer in range(math.ceil(start), math.ceil(start) + 3):  # a real domain may exclude whole k that are fine
        if not _finite_real(expr.xreplace({K: layer})):
            return layer
    return None


def _iterate(step: sp.Expr, current: sp.Indexed, start: sp.Expr) -> list:
    """start, step(start), ... for SCANNED_LAYERS layers or until float64 overflows; a last int j says that the
    value of index j has no finite real value."""
    sequence = [mpmath.mpf(sp.N(start, _DIGITS))]
    if any(atom != current for atom in step.atoms(sp.Indexed)):
        return sequence  # it reads another recurrence: not scanned here
    function = sp.lambdify((current, K), step, "mpmath")
    with mpmath.workdps(_DIGITS):
        for layer in range(SCANNED_LAYERS):
            try:
                value = function(sequence[-1], layer)
            except (ZeroDivisionError, ValueError):
                return [*sequence, layer + 1]
            if not _finite_real_number(value, overflow_ok=True):
                return [*sequence, layer + 1]
            if abs(value) > 1.7976931348623157e308:  # float64 overflows: `check` reports it
                break
            sequence.append(mpmath.mpf(value))
    return sequence


def _finite_real(value: sp.Expr) -> bool:
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return False
    try:
        number = complex(value.evalf(_DIGITS))
    except TypeError:  # still symbolic: a learnable param kept as a symbol cannot be (values hold every param)
        return True
    return math.isfinite(number.real) and abs(number.imag) <= 1e-25 * max(1.0, abs(number.real))


def _finite_real_number(value, overflow_ok: bool = False) -> bool:
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > 1e-25 * max(1, abs(value.real)):
            return False
        value = value.real
    return bool(mpmath.isfinite(value)) or (overflow_ok and mpmath.isinf(value))


def _text(expr: sp.Expr) -> str:
    return DslPrinter().doprint(expr)
