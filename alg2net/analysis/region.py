"""The values of one learnable param for which the check's conditions hold, as exact intervals.

Assumes rho and the c_F as rational functions of the param p (the other params at their values). The conditions
can change only where rho's leading coefficient, a denominator, rho(1), the multiplicity of a root (discriminant),
a root's crossing of the unit circle (resultant of rho/(zeta - 1) with its reciprocal) or a c_F vanishes. Between
those real points (found exactly: isolated for rational coefficients, else by SymPy's solveset) one rational sample
decides each interval; each point is decided on its own (`pieces`). This replaces a general inequality solver, which
is slow on these expressions. `inside_every_layer` decides the same way whether a schedule's values stay in a region
at every layer k >= 0, on the branches of `alg2net.analysis.sequences`.

Where p enters only through one monotone function g of itself (sqrt(p), p**(1/n), exp(c*p), log(p)), the region is
derived in u = g(p), where rho and the c_F are rational, cut to g's range and mapped back (`_through_monotone`).
Several params jointly: `monic_affine` decides whether q(zeta) = rho(zeta)/(zeta - 1) is monic with coefficients
affine and invertible in them (the criterion of `compile --constrain`'s joint map), and `schur_cohn` gives the
conditions, free of denominators, under which every root of such a q lies strictly inside the unit circle.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
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
    nonzero; None when it cannot be derived exactly (p enters other than rationally, and not through one monotone
    function that `_through_monotone` undoes)."""
    found = pieces(rho, steps, param)
    if found is not None:
        return _merge([(p.low, p.high, p.holds) for p in found])
    return _through_monotone(rho, steps, param)


def pieces(
    rho: sp.Poly, steps: tuple[sp.Expr, ...], param: sp.Symbol, rational_only: bool = False
) -> tuple[Piece, ...] | None:
    """The real line cut at the points where a condition can change, in order: open intervals and the points
    between them, each with whether the conditions hold there; None where `param` enters other than rationally.
    With `rational_only` (only the rational values of `param` matter), the conditions are not decided at irrational
    points, which fail: exact algebra at a cubic's root can take minutes."""
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
    try:
        for i, sample in enumerate(samples):
            found.append(Piece(bounds[i], bounds[i + 1], holds(sample), sample))
            if i < len(points):
                point = points[i]
                decided = point.is_Rational or not rational_only
                found.append(Piece(point, point, decided and holds(point), point))
    except mpmath.libmp.NoConvergence:  # roots of rho at an algebraic point not found: not decided, so no region
        return None
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


# Through a monotone function ---------------------------------------------------------------------------------------


_ZERO = sp.Integer(0)


@dataclass(frozen=True, slots=True)
class _Change:
    """p = `value` of the new variable `assumed` (u = g(p), g monotone increasing on its domain), u ranging over
    `range`; `ends` says where the ends of u's range that have no finite preimage go."""

    assumed: sp.Symbol  # u, with the assumptions that make SymPy undo g (sqrt(u**2) = u for u >= 0)
    value: sp.Expr  # p as a function of u: g's inverse
    range: Interval
    ends: dict

    def back(self, u: sp.Expr) -> sp.Expr:
        if u in self.ends:
            return self.ends[u]
        return sp.expand(self.value.xreplace({self.assumed: u}), log=False)


def _changes(exprs, p: sp.Symbol) -> list[_Change]:
    """The substitutions u = g(p) worth trying, where such atoms occur: u = p**(1/n), n the least common denominator
    of p's fractional powers (sqrt(p) among them); u = exp(p/n), n that of the factors c in exp(c*p + d); log(p)."""
    atoms = set().union(*(sp.sympify(e).atoms(sp.Pow, sp.exp, sp.log) for e in exprs))
    found = []
    powers = [a.exp for a in atoms if isinstance(a, sp.Pow) and a.base == p and a.exp.is_Rational]
    if _denominator(powers) > 1:
        u = sp.Symbol("u", nonnegative=True)
        found.append(_Change(u, u ** _denominator(powers), Interval(_ZERO, sp.oo, True, False), {sp.oo: sp.oo}))
    exps = [a for a in atoms if isinstance(a, sp.exp) and a.has(p)]
    if exps:
        slopes = [sp.diff(a.args[0], p) for a in exps]
        u, n = sp.Symbol("u", positive=True), _denominator([s for s in slopes if s.is_Rational])
        found.append(_Change(u, n * sp.log(u), Interval(_ZERO, sp.oo, False, False), {0: -sp.oo, sp.oo: sp.oo}))
    if any(isinstance(a, sp.log) and a.has(p) for a in atoms):
        u = sp.Symbol("u", real=True)
        found.append(_Change(u, sp.exp(u), Interval(-sp.oo, sp.oo, False, False), {-sp.oo: _ZERO, sp.oo: sp.oo}))
    return found


def _denominator(numbers: list[sp.Rational]) -> int:
    return math.lcm(*(int(r.q) for r in numbers)) if numbers else 1


def _through_monotone(rho: sp.Poly, steps: tuple[sp.Expr, ...], p: sp.Symbol) -> tuple[Interval, ...] | None:
    """The region of p where p enters rho and the c_F only through u = g(p), g one of `_changes`: the region in u
    (rational there), cut to g's range and mapped back through g's inverse, ends to ends, closedness kept. Values of p
    outside g's domain (sqrt or log of a negative number) are outside the region: the network computes nan there.
    None where no such g makes every coefficient rational."""
    exprs = (*rho.all_coeffs(), *steps)
    for change in _changes(exprs, p):
        u = sp.Dummy("u", real=True)
        renamed = {change.assumed: u}
        swapped = [sp.cancel(sp.expand(sp.sympify(e).xreplace({p: change.value})).xreplace(renamed)) for e in exprs]
        if any(e.has(p) or not e.is_rational_function(u) for e in swapped):
            continue
        coefficients = swapped[: len(rho.all_coeffs())]
        found = pieces(sp.Poly(coefficients, ZETA), tuple(swapped[len(coefficients) :]), u)
        if found is None:
            continue
        cut = (_cut(i, change.range) for i in _merge([(q.low, q.high, q.holds) for q in found]))
        return tuple(
            Interval(change.back(i.low), change.back(i.high), i.low_closed, i.high_closed) for i in cut if i is not None
        )
    return None


def _cut(interval: Interval, within: Interval) -> Interval | None:
    """The part of `interval` inside `within`; None where they do not meet."""
    low, low_closed = _end(interval.low, interval.low_closed, within.low, within.low_closed, higher=True)
    high, high_closed = _end(interval.high, interval.high_closed, within.high, within.high_closed, higher=False)
    if bool(low > high) or (low == high and not (low_closed and high_closed)):
        return None
    return Interval(low, high, low_closed, high_closed)


def _end(a: sp.Expr, a_closed: bool, b: sp.Expr, b_closed: bool, higher: bool) -> tuple[sp.Expr, bool]:
    """The inner of two ends (the higher of two low ends, the lower of two high ends), closed where both are."""
    if a == b:
        return a, a_closed and b_closed
    return (a, a_closed) if bool(a > b) == higher else (b, b_closed)


# Several params jointly: Schur-Cohn --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Affine:
    """q(zeta) = rho(zeta)/(zeta - 1) = zeta**n + c_1*zeta**(n-1) + ... + c_n, with c = matrix @ params + offset."""

    coefficients: tuple[sp.Expr, ...]  # c_1 .. c_n, in the params
    matrix: sp.Matrix  # invertible, n x n
    offset: sp.Matrix  # n x 1


def monic_affine(rho: sp.Poly, steps: tuple[sp.Expr, ...], symbols: tuple[sp.Symbol, ...]) -> Affine | str:
    """q's monic coefficients as an invertible affine function of `symbols`, where rho(1) = 0 for every value and each
    c_F * q(1) is a constant (so every c_F is finite, and one nonzero, wherever q's roots lie strictly inside the unit
    disk); else why not (the end of a sentence)."""
    if sp.cancel(rho.as_expr().subs(ZETA, 1)) != 0:
        return "rho(1) = 0 does not hold for every value of them"
    q = sp.Poly(sp.cancel(rho.as_expr() / (ZETA - 1)), ZETA)
    coefficients = [sp.cancel(c) for c in q.all_coeffs()]
    if coefficients[0] != 1 or q.degree() != len(symbols):
        return f"q(zeta) = rho(zeta)/(zeta - 1) has degree {q.degree()}, not one coefficient per param"
    rows = [affine(c, symbols) for c in coefficients[1:]]
    if any(row is None for row in rows):
        return "the coefficients of q(zeta) = rho(zeta)/(zeta - 1) are not affine in them"
    matrix = sp.Matrix([row[0] for row in rows])
    if matrix.det() == 0:
        return "the coefficients of q(zeta) = rho(zeta)/(zeta - 1) do not determine them (a singular affine map)"
    at_one = q.as_expr().subs(ZETA, 1)
    scaled = [sp.cancel(step * at_one) for step in steps]
    if any(s.free_symbols & set(symbols) or not s.is_finite for s in scaled) or all(s == 0 for s in scaled):
        return "a c_F is not a nonzero constant over q(1), so q's roots inside the unit disk do not keep it finite"
    return Affine(tuple(coefficients[1:]), matrix, sp.Matrix([row[1] for row in rows]))


def affine(expr: sp.Expr, symbols: tuple) -> tuple[list, sp.Expr] | None:
    """(the coefficient of each symbol, the constant) of an expression affine in `symbols` with numeric
    coefficients; None for any other expression."""
    try:
        poly = sp.Poly(expr, *symbols)
    except sp.PolynomialError:
        return None
    if poly.total_degree() > 1 or not all(c.is_number for c in poly.coeffs()):
        return None
    coefficients = [poly.coeff_monomial(s) for s in symbols]
    return coefficients, poly.coeff_monomial(1)


def schur_cohn(coefficients: tuple[sp.Expr, ...]) -> tuple[tuple[sp.Expr, sp.Expr], ...]:
    """Pairs (N, D), kappa_n's first, such that every root of zeta**n + c_1*zeta**(n-1) + ... + c_n lies strictly inside
    the unit circle exactly when |N| < D for every pair: the reflection coefficients of the step-down recursion
    (kappa_n = c_n; constraints.step_down), each kappa = N/D in lowest terms with D > 0 where the earlier |kappa| < 1.
    """
    generic = _schur_cohn_generic(len(coefficients))
    values = dict(zip(sp.symbols(f"c1:{len(coefficients) + 1}", real=True), coefficients))
    found = []
    for numerator, denominator in generic:
        numerator, denominator = (sp.expand(e.xreplace(values)) for e in (numerator, denominator))
        found.append((-numerator if numerator.could_extract_minus_sign() else numerator, denominator))
    return tuple(found)


@functools.lru_cache(maxsize=8)
def _schur_cohn_generic(n: int) -> tuple[tuple[sp.Expr, sp.Expr], ...]:
    """`schur_cohn` for the symbols c1..cn. The recursion divides only by 1 - kappa**2 > 0, so each kappa is finite on
    the set where the earlier |kappa| < 1; that set is connected (the image of (-1, 1)**m times the lower coefficients
    under the step-up recursion) and holds c = 0, and the denominator of kappa in lowest terms divides a product that
    is positive there: it keeps one sign on the set, the sign it has at c = 0."""
    c = list(sp.symbols(f"c1:{n + 1}", real=True))
    origin = {s: 0 for s in c}
    work, found = list(c), []
    while work:
        kappa = sp.cancel(work[-1])
        numerator, denominator = sp.fraction(kappa)
        if denominator.xreplace(origin) < 0:
            numerator, denominator = -numerator, -denominator
        found.append((numerator, denominator))
        m = len(work)
        work = [sp.cancel((work[j] - kappa * work[m - 2 - j]) / (1 - kappa**2)) for j in range(m - 1)]
    return tuple(found)
