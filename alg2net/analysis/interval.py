"""Rigorous enclosures of real SymPy expressions over intervals (mpmath's interval arithmetic, outward rounding).

Assumes real expressions built from numbers, the symbols given an interval, +, *, powers, sqrt, exp, log, abs, min
and max. Guarantees: `enclose(expr, box)` is an interval that contains the value of `expr` at every point of the
box, or raises `Unbounded` where it cannot say (a division by an interval around 0, a root or a logarithm of an
interval with nonpositive points, an unknown function). Endpoints come back as exact `Fraction`s, so a caller
compares them with exact numbers exactly. This is what makes a recurrence's values and a contraction proofs.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy as sp

_DPS = 40
iv = mpmath.iv


class Unbounded(ValueError):
    """The expression has no finite real enclosure over the box (or this module cannot find one)."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """A closed interval [low, high] with exact endpoints."""

    low: Fraction
    high: Fraction

    @property
    def width(self) -> Fraction:
        return self.high - self.low


def enclose(expr: sp.Expr, box: dict) -> Bounds:
    """An interval holding `expr` at every point of `box` (a symbol -> `Bounds` or an exact number)."""
    saved, iv.dps = iv.dps, _DPS
    try:
        return _bounds(_eval(expr, {s: _interval(v) for s, v in box.items()}))
    finally:
        iv.dps = saved


def point(value: sp.Expr) -> Bounds:
    """A tight enclosure of one exact real number."""
    return enclose(sp.sympify(value), {})


def _interval(value):
    if isinstance(value, Bounds):
        return iv.mpf([_mpf(value.low, -1), _mpf(value.high, 1)])
    return _number(sp.sympify(value))


def _mpf(value: Fraction, direction: int):
    """`value` rounded outwards (down for -1, up for 1) to the working precision."""
    quotient = iv.mpf(value.numerator) / iv.mpf(value.denominator)
    return quotient.a if direction < 0 else quotient.b


def _bounds(value) -> Bounds:
    """The exact ends of an mpmath interval."""
    low, high = (_fraction(raw) for raw in value._mpi_)
    if low is None or high is None:
        raise Unbounded("infinite enclosure")
    return Bounds(low, high)


def _fraction(raw) -> Fraction | None:
    sign, mantissa, exponent, _ = raw
    if not mantissa and exponent:  # inf or nan
        return None
    value = Fraction(mantissa) * Fraction(2) ** exponent
    return -value if sign else value


def _number(expr: sp.Expr):
    if expr.is_Rational:
        return iv.mpf(int(expr.p)) / iv.mpf(int(expr.q))
    if expr is sp.E:
        return iv.e
    if expr is sp.pi:
        return iv.pi
    return _eval(expr, {})


def _eval(expr: sp.Expr, box: dict):
    if expr in box:
        return box[expr]
    if expr.is_Number or expr in (sp.E, sp.pi):
        if not expr.is_finite:
            raise Unbounded(str(expr))
        return _number(expr)
    args = [_eval(a, box) for a in expr.args]
    if isinstance(expr, sp.Add):
        return sum(args[1:], args[0])
    if isinstance(expr, sp.Mul):
        product = args[0]
        for a in args[1:]:
            product = product * a
        return product
    if isinstance(expr, sp.Pow):
        return _power(expr, *args)
    return _function(expr, args)


def _power(expr: sp.Pow, base, exponent):
    if expr.exp.is_Integer:
        n = int(expr.exp)
        if n < 0:
            _nonzero(base)
            return 1 / base ** (-n)
        return base**n
    if expr.exp == sp.Rational(1, 2):
        _positive(base, strict=False)
        return iv.sqrt(base)
    _positive(base, strict=True)
    return iv.exp(exponent * iv.log(base))


def _function(expr: sp.Expr, args):
    if isinstance(expr, sp.exp):
        return iv.exp(args[0])
    if isinstance(expr, sp.log):
        _positive(args[0], strict=True)
        return iv.log(args[0])
    if isinstance(expr, sp.Abs):
        return abs(args[0])
    if isinstance(expr, (sp.Min, sp.Max)):
        lows = [_bounds(a).low for a in args]
        highs = [_bounds(a).high for a in args]
        pick = min if isinstance(expr, sp.Min) else max
        return _interval(Bounds(pick(lows), pick(highs)))
    raise Unbounded(f"no enclosure for {type(expr).__name__}")


def _nonzero(value) -> None:
    bounds = _bounds(value)
    if bounds.low <= 0 <= bounds.high:
        raise Unbounded("division by an interval around 0")


def _positive(value, strict: bool) -> None:
    low = _bounds(value).low
    if low < 0 or (strict and low == 0):
        raise Unbounded("a root or logarithm of an interval with nonpositive points")
