"""The values of one learnable param for which the check's conditions hold, as exact intervals.

Assumes rho and the c_F as rational functions of the param p (the other params at their values). The conditions
can change only where rho's leading coefficient, a denominator, rho(1), the multiplicity of a root (discriminant),
a root's crossing of the unit circle (resultant of rho/(zeta - 1) with its reciprocal) or a c_F vanishes. Between
those real points (found exactly: isolated for rational coefficients, else by SymPy's solveset) one rational sample
decides each interval; each point is decided on its own (`pieces`). This replaces a general inequality solver, which
is slow on these expressions. `inside_every_layer` decides the same way whether a schedule's values stay in a region
at every layer k >= 0, on the branches of `alg2net.analysis.sequences`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from alg2net.analysis import sequences
from alg2net.analysis.multistep import numeric
from alg2net.analysis.reduce import ZETA
from alg2net.derive import K


@dataclass(frozen=True, slots=True)
class Interval:
    low: sp.Expr  # -oo allowed
    high: sp.Expr  # oo allowed
    low_closed: bool
    high_closed: bool


@dataclass(frozen=True, slots=True)
class Piece:
    """An open interval (low, high) or, where low == high, a point; the conditions hold on all of it or nowhere."""

    low: sp.Expr
    high: sp.Expr
    holds: bool
    sample: sp.Expr  # a rational inside (the point itself for a point)

    def contains(self, value: sp.Expr) -> bool:
        if self.low == self.high:
            return bool(sp.Eq(value, self.low))
        return bool(value > self.low) and bool(value < self.high)


def region(rho: sp.Poly, steps: tuple[sp.Expr, ...], param: sp.Symbol) -> tuple[Interval, ...] | None:
    """The set of real values of `param` where the scheme is consistent, zero-stable and some c_F is finite and
    nonzero; None when it cannot be derived exactly (p enters other than rationally)."""
    found = pieces(rho, steps, param)
    return None if found is None else _merge([(p.low, p.high, p.holds) for p in found])


def pieces(rho: sp.Poly, steps: tuple[sp.Expr, ...], param: sp.Symbol) -> tuple[Piece, ...] | None:
    """The real line cut at the points where a condition can change, in order: open intervals and the points
    between them, each with whether the conditions hold there; None where `param` enters other than rationally."""
    try:
        points = _critical_points(rho, steps, param)
    except (sp.PolynomialError, sp.GeneratorsNeeded, NotImplementedError, ValueError):
        return None
    if points is None:
        return None

    def holds(value: sp.Expr) -> bool:
        try:
            return numeric(rho, steps, {param: value}, full=False).guaranteed
        except (ZeroDivisionError, sp.PolynomialError, NotImplementedError, ValueError, TypeError):
            return False

    samples = _samples(points)
    found: list[Piece] = []
    bounds = [-sp.oo, *points, sp.oo]
    for i, sample in enumerate(samples):
        found.append(Piece(bounds[i], bounds[i + 1], holds(sample), sample))
        if i < len(points):
            found.append(Piece(points[i], points[i], holds(points[i]), points[i]))
    return tuple(found)


def _critical_points(rho: sp.Poly, steps: tuple[sp.Expr, ...], p: sp.Symbol) -> list[sp.Expr] | None:
    together = sp.together(rho.as_expr())
    numerator, denominator = sp.fraction(together)
    if not numerator.is_polynomial(ZETA, p) or not denominator.is_polynomial(p):
        return None
    poly = sp.Poly(numerator, ZETA)
    candidates = [denominator, poly.LC(), poly.discriminant() if poly.degree() > 1 else sp.Integer(1)]
    at_one = sp.expand(poly.as_expr().subs(ZETA, 1))
    if at_one != 0:
        candidates.append(at_one)
    else:
        quotient = sp.Poly(sp.cancel(poly.as_expr() / (ZETA - 1)), ZETA)
        candidates.append(quotient.as_expr().subs(ZETA, 1))
        if quotient.degree() >= 1:
            reciprocal = sp.Poly(list(reversed(quotient.all_coeffs())), ZETA)
            candidates.append(sp.resultant(quotient.as_expr(), reciprocal.as_expr(), ZETA))
    for step in steps:
        candidates += list(sp.fraction(sp.together(step)))
    roots: set[sp.Expr] = set()
    for candidate in candidates:
        candidate = sp.expand(candidate)
        if candidate == 0 or not candidate.has(p):
            continue
        if not candidate.is_polynomial(p):
            return None
        found = _real_roots(candidate, p)
        if found is None:
            return None
        roots.update(found)
    return sorted(roots, key=lambda r: float(r.evalf(30)))


def _real_roots(candidate: sp.Expr, p: sp.Symbol) -> set[sp.Expr] | None:
    """The real roots of a polynomial in p, exactly: isolated for rational coefficients, else by SymPy's solveset
    (None where it does not answer a finite set)."""
    poly = sp.Poly(candidate, p)
    if poly.domain.is_QQ or poly.domain.is_ZZ:
        return set(poly.real_roots())
    solutions = sp.solveset(candidate, p, sp.S.Reals)
    if solutions is sp.S.EmptySet:
        return set()
    return set(solutions) if isinstance(solutions, sp.FiniteSet) else None


def _samples(points: list[sp.Expr]) -> list[sp.Expr]:
    """One rational in each open interval between the points, the simplest there (small numbers decide fast)."""
    if not points:
        return [sp.Integer(0)]
    numbers = [Fraction(str(point.evalf(30))) for point in points]
    samples = [sp.Integer(math.floor(numbers[0]) - 1)]
    for low, high in itertools.pairwise(numbers):
        simplest = _simplest_between(low, high)
        samples.append(sp.Rational(simplest.numerator, simplest.denominator))
    samples.append(sp.Integer(math.ceil(numbers[-1]) + 1))
    return samples


def _simplest_between(low: Fraction, high: Fraction) -> Fraction:
    """The rational of least denominator (then least magnitude) strictly between `low` < `high`."""
    if low < 0 < high:
        return Fraction(0)
    if high <= 0:
        return -_simplest_between(-high, -low)
    whole = math.floor(low) + 1
    if whole < high:
        return Fraction(whole)
    whole -= 1  # low and high share the integer part (or high is the next integer): continue with 1/fraction
    upper = None if low == whole else 1 / (low - whole)
    lower = 1 / (high - whole)
    return whole + 1 / (_simplest_above(lower) if upper is None else _simplest_between(lower, upper))


def _simplest_above(low: Fraction) -> Fraction:
    return Fraction(math.floor(low) + 1)


def _merge(pieces: list[tuple[sp.Expr, sp.Expr, bool]]) -> tuple[Interval, ...]:
    intervals: list[Interval] = []
    current: list | None = None  # [low, high, low_closed, high_closed]
    for low, high, ok in pieces:
        is_point = low == high
        if ok:
            if current is None:
                current = [low, high, is_point, is_point]
            else:
                current[1], current[3] = high, is_point
        elif current is not None:
            intervals.append(Interval(*current))
            current = None
    if current is not None:
        intervals.append(Interval(*current))
    return tuple(intervals)


def describe(intervals: tuple[Interval, ...], name: str) -> str:
    """`-1 <= beta < 1`, `beta != 0` style text, in SymPy's relational syntax."""
    if not intervals:
        return f"no real value of {name}"
    if len(intervals) == 1 and intervals[0].low == -sp.oo and intervals[0].high == sp.oo:
        return f"every real {name}"
    if (
        len(intervals) == 2
        and intervals[0].low == -sp.oo
        and intervals[1].high == sp.oo
        and intervals[0].high == intervals[1].low
        and not intervals[0].high_closed
        and not intervals[1].low_closed
    ):
        return f"{name} != {sp.sstr(intervals[0].high)}"
    return " or ".join(_interval(i, name) for i in intervals)


def _interval(interval: Interval, name: str) -> str:
    if interval.low == interval.high:
        return f"{name} = {sp.sstr(interval.low)}"
    parts = []
    if interval.low != -sp.oo:
        parts.append(f"{sp.sstr(interval.low)} {'<=' if interval.low_closed else '<'} ")
    parts.append(name)
    if interval.high != sp.oo:
        parts.append(f" {'<=' if interval.high_closed else '<'} {sp.sstr(interval.high)}")
    return "".join(parts)


def contains(intervals: tuple[Interval, ...], value: sp.Expr) -> bool:
    for interval in intervals:
        above = value > interval.low if not interval.low_closed else value >= interval.low
        below = value < interval.high if not interval.high_closed else value <= interval.high
        if bool(above) and bool(below):
            return True
    return False


def inside_every_layer(intervals: tuple[Interval, ...], value: sp.Expr) -> bool | None:
    """Whether `value` (an expression in k) lies in `intervals` at every layer k >= 0, decided exactly on the
    branches of `sequences`; None where that cannot be decided."""
    if not value.has(K):
        return contains(intervals, value)
    found = sequences.branches((value,))
    if found is None:
        return None
    verdicts = []
    for branch in found:
        try:
            verdicts.append(_branch_inside(intervals, branch))
        except (sequences.Undecided, NotImplementedError, ValueError, TypeError):
            return None
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _branch_inside(intervals: tuple[Interval, ...], branch: sequences.Branch) -> bool | None:
    """The values of one branch: f(u) for u = a(m) is inside or outside the intervals on each piece of u between the
    real points where f meets an end of an interval or has a pole."""
    value = branch.exprs[0]
    if not value.has(sequences.M):
        return contains(intervals, value)
    gen = sequences.generator(branch)
    if gen is None:
        return None
    f, u = gen.exprs[0], sequences.U
    ends = {e for i in intervals for e in (i.low, i.high) if e.is_finite}
    points: set[sp.Expr] = set()
    for part in [sp.fraction(sp.together(f))[1], *(sp.fraction(sp.together(f - e))[0] for e in ends)]:
        if part.has(u):
            found = _real_roots(sp.expand(part), u)
            if found is None:
                return None
            points |= found
    ordered = sorted(points, key=lambda r: float(r.evalf(30)))
    bounds = [-sp.oo, *ordered, sp.oo]
    pieces = [(bounds[i], bounds[i + 1], sample) for i, sample in enumerate(_samples(ordered))]
    pieces += [(p, p, p) for p in ordered]
    for low, high, sample in pieces:
        at = sp.cancel(f.xreplace({u: sample}))
        inside = not at.has(sp.zoo, sp.nan) and contains(intervals, at)
        if not inside and sequences.preimage(gen, low, high, branch) is not None:
            return False
    return True
