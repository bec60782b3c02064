"""Recurrences t[k+1] = g(t[k]): closed forms, and proofs of where every value t_k, k >= 0, lies.

Assumes a step g in t[k] alone (numbers, fixed params substituted) and an exact start t_0. Guarantees:

- `closed_form`: t_k as an expression in k where g(t) = a*t + c with numbers a, c (t* + (t_0 - t*)*a^k, t_0 + c*k
  when a = 1), or where g(g(t)) = t exactly (t_k alternates t_0, t_1); exact.
- `orbit`: rigorous enclosures (`interval.enclose`) of t_0, t_1, ..., t_N and, where one is found, a `Tail`: a proof
  that every t_k with k >= N lies in an interval, and where the values go. The proofs: a contracting fixed point t*
  (|g'| <= q < 1 on an interval around t* that holds t_N: every later value stays in it and t_k -> t*); a monotone
  approach to the next fixed point (no fixed point between t_N and it, g increasing there: t_k -> it); divergence
  (no fixed point beyond t_N and g(t) > t there, or < t: t_k -> +-oo). Fixed points and poles are found exactly
  (real roots of polynomials; SymPy's solveset where g is not rational, only when it answers a finite set).

A sequence that none of these proofs covers (a chaotic map, a repelling fixed point) has no tail: the caller can
then decide no layer beyond N and no limit. A start exactly at a repelling fixed point is not taken as a constant
sequence either: the network computes t in floating point, and rounding drives it away.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp
from sympy.calculus.util import continuous_domain

from alg2net.analysis.interval import Bounds, Unbounded, enclose, point
from alg2net.analysis.sequences import sign
from alg2net.derive import K

_BUDGET = 2000  # values enclosed before giving up on a proof
_WIDE = Fraction(1, 10**6)  # an enclosure wider than this (relative) has lost the orbit: stop
_HUGE = Fraction(2) ** 256  # past float32 and float64 alike: the overflow check reports it


@dataclass(frozen=True)
class Tail:
    """Every t_k with k >= start lies in the interval from low to high (closed ends unless said); t_k -> limit."""

    start: int
    low: sp.Expr  # -oo allowed
    high: sp.Expr  # oo allowed
    low_closed: bool
    high_closed: bool
    limit: sp.Expr  # the fixed point t*, or +-oo
    how: str  # the proof, in words
    geometric: bool = False  # |t_k - t*| <= C*q^k with q < 1 (a contraction)

    @property
    def bounded(self) -> bool:
        return self.low.is_finite and self.high.is_finite


@dataclass(frozen=True)
class Orbit:
    """Enclosures of t_0 .. t_N (N = tail.start where there is a tail) and the tail, or why there is none."""

    values: tuple[Bounds, ...]
    tail: Tail | None
    note: str = ""  # why there is no tail


def closed_form(step: sp.Expr, t: sp.Symbol, start: sp.Expr) -> sp.Expr | None:
    """t_k in k (see the module), or None."""
    if step.has(K) or step.free_symbols - {t}:
        return None
    if step.is_polynomial(t) and sp.degree(step, t) <= 1:
        a, c = sp.Poly(step, t).coeff_monomial(t), sp.Poly(step, t).coeff_monomial(1)
        if a == 1:
            return start + c * K
        if a == 0:  # t_k = c from k = 1 on
            return c + (start - c) * sp.Max(0, 1 - K)
        fixed = c / (1 - a)
        return fixed + (start - fixed) * a**K
    if sp.cancel(sp.together(step.xreplace({t: step}) - t)) == 0:  # g(g(t)) = t: t_0, t_1, t_0, ...
        following = step.xreplace({t: start})
        return (start + following) / 2 + (start - following) / 2 * (-1) ** K
    return None


@functools.lru_cache(maxsize=64)  # the overflow check asks again for the same recurrence
def orbit(step: sp.Expr, t: sp.Symbol, start: sp.Expr, budget: int = _BUDGET) -> Orbit:
    """The enclosures of the values and, where one of the proofs applies, the tail (see the module)."""
    map_ = _Map.of(step, t)
    if isinstance(map_, str):
        return Orbit((point(start),), None, map_)
    values = [point(start)]
    for f in map_.fixed:
        if sign(f - start) == 0 and f not in map_.attracting:  # exact, but rounding drives the network's t away
            note = f"t[0] = {sp.sstr(f)} is a fixed point that repels: the network's rounded values leave it"
            return Orbit(tuple(values), None, note)
    for n in range(budget + 1):
        if n < 8 or n % 16 == 0:
            tail = map_.tail(values[-1], n)
            if tail is not None:
                return Orbit(tuple(values), tail)
        try:
            following = enclose(step, {t: values[-1]})
        except Unbounded:
            return Orbit(tuple(values), None, f"t[{n + 1}] could not be enclosed (a pole of the step)")
        if max(abs(following.low), abs(following.high)) > _HUGE:  # exact enclosures of t^(3^n) grow without end
            return Orbit(tuple(values), None, f"t[{n + 1}] is beyond 2^256: no limit is followed further")
        if following.width > _WIDE * (1 + abs(following.low) + abs(following.high)):
            return Orbit(tuple(values), None, _no_limit_note(map_))
        values.append(following)
    return Orbit(tuple(values), None, f"no proof of where t[k] goes within {budget} layers")


def _no_limit_note(map_: _Map) -> str:
    """Why the values are not followed further: they spread, as near repelling fixed points or a chaotic map."""
    repelling = [f for f in map_.fixed if f not in map_.attracting]
    if not repelling:
        return "t[k] has no limit that could be proven: the map has no real fixed point it settles on"
    written = ", ".join(_short(f) for f in repelling)
    return f"t[k] has no limit that could be proven: it does not settle at a fixed point ({written} repel it)"


def _short(value: sp.Expr) -> str:
    text = sp.sstr(value)
    return text if len(text) <= 20 else f"{float(value):.6g}"


@dataclass(frozen=True)
class _Map:
    """g with its exact fixed points, the attracting ones, its derivative and where it is continuous."""

    step: sp.Expr
    t: sp.Symbol
    fixed: tuple[sp.Expr, ...]
    attracting: tuple[sp.Expr, ...]
    derivative: sp.Expr
    domain: sp.Set

    @staticmethod
    def of(step: sp.Expr, t: sp.Symbol) -> _Map | str:
        """The map, or why it cannot be analysed."""
        try:
            fixed = _fixed_points(step, t)
            domain = continuous_domain(step, t, sp.S.Reals)
        except (NotImplementedError, ValueError, TypeError, sp.PolynomialError) as error:
            return f"the fixed points of the step could not be found ({type(error).__name__})"
        if fixed is None:
            return "the fixed points of the step could not be found exactly"
        derivative = sp.diff(step, t)
        attracting = []
        for f in fixed:
            try:
                slope = enclose(derivative, {t: f})
            except Unbounded:
                continue
            if -1 < slope.low and slope.high < 1:
                attracting.append(f)
        return _Map(step, t, tuple(fixed), tuple(attracting), derivative, domain)

    def tail(self, values: Bounds, n: int) -> Tail | None:
        """A proof about every t_k, k >= n, from an enclosure of t_n; None where none applies."""
        for f in self.attracting:
            tail = self._contracting(values, n, f)
            if tail is not None:
                return tail
        return self._monotone(values, n)

    def _contracting(self, values: Bounds, n: int, f: sp.Expr) -> Tail | None:
        centre = point(f)
        distance = max(values.high - centre.low, centre.high - values.low)  # >= |t_n - f|
        around = Bounds(centre.low - distance, centre.high + distance)  # holds [f - d, f + d], d >= |t_n - f|
        try:
            slope = enclose(self.derivative, {self.t: around})
        except Unbounded:
            return None
        if not (-1 < slope.low and slope.high < 1):
            return None
        q = max(abs(slope.low), abs(slope.high))
        how = f"t[k] -> {sp.sstr(f)}: a contracting fixed point (|g'| <= {float(q):.3g} near it from k = {n} on)"
        return Tail(n, sp.Rational(around.low), sp.Rational(around.high), True, True, f, how, geometric=True)

    def _monotone(self, values: Bounds, n: int) -> Tail | None:
        low, high = sp.Rational(values.low), sp.Rational(values.high)
        below = [f for f in self.fixed if sign(f - low) < 0]
        above = [f for f in self.fixed if sign(f - high) > 0]
        if len(below) + len(above) != len(self.fixed):
            return None  # t_n may be a fixed point: the contraction proof is the one that applies
        direction = sign(self.step.xreplace({self.t: (low + high) / 2}) - (low + high) / 2)
        if direction == 1:
            target = above[0] if above else sp.oo
            window = sp.Interval(low, target)
        elif direction == -1:
            target = below[-1] if below else -sp.oo
            window = sp.Interval(target, high)
        else:
            return None
        if not window.is_subset(self.domain):
            return None
        if not target.is_finite:
            side = ("above", ">") if direction == 1 else ("below", "<")
            how = f"t[k] -> {sp.sstr(target)}: t[k+1] {side[1]} t[k] from k = {n} on, with no fixed point {side[0]}"
            return Tail(
                n, low if direction == 1 else -sp.oo, high if direction == -1 else sp.oo, True, True, target, how
            )
        return self._increasing_to(target, direction, low, high, n)

    def _increasing_to(self, target: sp.Expr, direction: int, low, high, n: int) -> Tail | None:
        """t_n to the next fixed point `target`, monotone: g increasing between them."""
        try:  # a fixed point that is a root of a cubic (CRootOf) has no enclosure here: undecided
            edge = point(target)
            span = (
                Bounds(Fraction(low.p, low.q), edge.high)
                if direction == 1
                else Bounds(edge.low, Fraction(high.p, high.q))
            )
            slope = enclose(self.derivative, {self.t: span})
        except Unbounded:
            return None
        if slope.low <= 0:  # (a later t_n may give a strictly increasing g: t_k then never reaches the fixed point)
            return None
        how = f"t[k] -> {sp.sstr(target)} monotonically from k = {n} on (g increasing, no fixed point between)"
        if direction == 1:
            return Tail(n, low, target, True, False, target, how)
        return Tail(n, target, high, False, True, target, how)


def _fixed_points(step: sp.Expr, t: sp.Symbol) -> list[sp.Expr] | None:
    """The real solutions of g(t) = t, sorted; None where they cannot be found exactly."""
    numerator, denominator = sp.fraction(sp.together(step - t))
    if numerator.is_polynomial(t) and denominator.is_polynomial(t):
        if numerator == 0:
            return None  # g is the identity
        roots = set(sp.Poly(numerator, t).real_roots()) if numerator.has(t) else set()
        poles = set(sp.Poly(denominator, t).real_roots()) if denominator.has(t) else set()
        found = sorted(roots - poles, key=lambda r: float(r.evalf(30)))
        return found
    squared = _squared_out(step - t, t)
    if squared is not None:
        return squared
    solutions = sp.solveset(step - t, t, sp.S.Reals)
    if solutions is sp.S.EmptySet:
        return []
    if not isinstance(solutions, sp.FiniteSet):
        return None
    return sorted(solutions, key=lambda r: float(r.evalf(30)))


def _squared_out(expr: sp.Expr, t: sp.Symbol) -> list[sp.Expr] | None:
    """The real zeros of A(t) + B(t)*sqrt(Q(t)) with A, B, Q polynomials (FISTA's step): among the real roots of
    A^2 - B^2*Q, those where the expression vanishes exactly. None for any other form."""
    roots = {n for n in sp.preorder_traversal(expr) if isinstance(n, sp.Pow) and n.exp == sp.Rational(1, 2)}
    if len(roots) != 1:
        return None
    (root,) = roots
    parts = sp.collect(sp.expand(expr), root, evaluate=False)
    a, b = parts.pop(sp.S.One, sp.Integer(0)), parts.pop(root, sp.Integer(0))
    if parts or not all(e.is_polynomial(t) for e in (a, b, root.base)):
        return None
    candidates = sp.Poly(sp.expand(a**2 - b**2 * root.base), t)
    if candidates.is_zero:
        return None
    signs = {r: sign(expr.xreplace({t: r})) for r in candidates.real_roots()}
    if None in signs.values():
        return None  # a candidate SymPy cannot decide: the set would not be known to be complete
    return sorted({r for r, s in signs.items() if s == 0}, key=lambda r: float(r.evalf(30)))
