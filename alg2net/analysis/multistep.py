"""Multistep facts from the linear test: rho, consistency, effective steps, roots at values, order, error constant,
evaluation scales.

Assumes Pi from `alg2net.analysis.reduce.output_recurrence`. With T_F(v) = -z_F*v, the principal root of Pi is
zeta_1(z) = 1 + sum_F c_F*z_F + O(z^2) when zeta = 1 is a simple root of rho(zeta) = Pi(zeta, 0); the limit ODE is
x' = -sum_F c_F*T_F(x), and the order p is the largest p with zeta_1(z) = exp(sum_F c_F*z_F) + O(|z|^(p+1)).
Guarantees exact results: `Numeric` decides the conditions at numeric values of every param, `Frozen` does so for
many layers at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from alg2net.analysis.reduce import ZETA, StateSpace
from alg2net.analysis.roots import RootCondition, RootFacts, root_condition, root_facts
from alg2net.derive import LearnableForm, is_block, is_prox


def rho(pi: sp.Poly, variables: tuple[sp.Symbol, ...]) -> sp.Poly:
    """rho(zeta) = Pi(zeta, 0), monic."""
    at_zero = {v: 0 for v in variables}
    coefficients = [sp.cancel(c.xreplace(at_zero)) for c in pi.all_coeffs()]
    while len(coefficients) > 1 and coefficients[0] == 0:  # pragma: no cover - Pi is monic
        coefficients.pop(0)
    lead = coefficients[0]
    return sp.Poly([sp.cancel(c / lead) for c in coefficients], ZETA)


def effective_steps(pi: sp.Poly, variables: tuple[sp.Symbol, ...]) -> tuple[sp.Expr, ...]:
    """c_F = -dPi/dz_F(1, 0) / dPi/dzeta(1, 0) for each z_F; `zoo` where zeta = 1 is not a simple root."""
    expr = pi.as_expr()
    at = {ZETA: 1, **{v: 0 for v in variables}}
    slope = sp.cancel(sp.diff(expr, ZETA).xreplace(at))
    steps = []
    for variable in variables:
        rate = sp.cancel(sp.diff(expr, variable).xreplace(at))
        steps.append(sp.zoo if slope == 0 else sp.factor(sp.cancel(-rate / slope)))
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class Numeric:
    """The facts at numeric values of every param: what the verdict is made of."""

    rho: sp.Poly
    roots: RootFacts | RootCondition
    steps: tuple[sp.Expr, ...]
    rho_at_one: sp.Expr
    slope_at_one: sp.Expr

    @property
    def consistent(self) -> bool:
        return self.rho_at_one == 0 and self.slope_at_one != 0

    @property
    def steps_finite(self) -> bool:
        return self.consistent and all(c.is_finite for c in self.steps)

    @property
    def some_step(self) -> bool:
        return self.steps_finite and any(c != 0 for c in self.steps)

    @property
    def guaranteed(self) -> bool:
        return self.consistent and self.roots.zero_stable and self.steps_finite and self.some_step


def numeric(rho_symbolic: sp.Poly, steps_symbolic: tuple[sp.Expr, ...], values: dict, full: bool = True) -> Numeric:
    """Substitute `values` (every remaining symbol) into rho and the c_F and decide the conditions. Without `full`
    the roots themselves are left out where the root condition can be decided directly (layers, region samples)."""
    coefficients = [sp.cancel(c.xreplace(values)) if values else c for c in rho_symbolic.all_coeffs()]
    return _decide(coefficients, lambda: tuple(_value(c, values) for c in steps_symbolic), full)


class NotFinite(ValueError):
    """A coefficient of rho has no finite value (a pole of a schedule at some layer)."""


def _decide(coefficients: list[sp.Expr], steps: Callable[[], tuple[sp.Expr, ...]], full: bool) -> Numeric:
    if any(c.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for c in coefficients):
        raise NotFinite(coefficients)
    poly = sp.Poly(coefficients, ZETA)
    at_one = poly.eval(1)
    slope = poly.diff(ZETA).eval(1)
    roots = None if full else root_condition(poly)
    return Numeric(poly, roots or root_facts(poly), steps() if at_one == 0 and slope != 0 else (), at_one, slope)


class Frozen:
    """rho and the c_F at the values of the per-layer symbols (k, recurrences), compiled once for many layers:
    coefficients rational in those symbols are evaluated in exact rational arithmetic, others by substitution."""

    def __init__(self, rho_symbolic: sp.Poly, steps_symbolic: tuple[sp.Expr, ...], symbols: tuple[sp.Symbol, ...]):
        self.symbols = symbols
        self.rho = [_compile(c, symbols) for c in rho_symbolic.all_coeffs()]
        self.steps = [_compile(c, symbols) for c in steps_symbolic]

    def at(self, values: dict, full: bool = False) -> Numeric:
        """The facts at `values` (a value for each of `symbols`)."""
        point = [values[s] for s in self.symbols]
        if all(v.is_Rational for v in point):
            exact = {s: Fraction(int(v.p), int(v.q)) for s, v in zip(self.symbols, point)}
        else:
            exact = None

        def evaluate(compiled) -> sp.Expr:
            expr, numerator, denominator = compiled
            if exact is None or numerator is None:
                return _value(expr, values)
            bottom = _evaluate(denominator, exact)
            return sp.zoo if bottom == 0 else _rational(_evaluate(numerator, exact) / bottom)

        return _decide([evaluate(c) for c in self.rho], lambda: tuple(evaluate(c) for c in self.steps), full)


def _compile(expr: sp.Expr, symbols: tuple[sp.Symbol, ...]):
    """(expr, numerator, denominator) with the parts as {exponents: Fraction} where `expr` is rational in
    `symbols` with rational coefficients, else (expr, None, None)."""
    numerator, denominator = sp.fraction(sp.cancel(sp.together(expr)))
    parts = []
    for part in (numerator, denominator):
        if not part.free_symbols <= set(symbols) or not part.is_polynomial(*symbols):
            return expr, None, None
        try:
            poly = sp.Poly(part, *symbols, domain=sp.QQ) if symbols else None
        except (sp.PolynomialError, sp.polys.polyerrors.CoercionFailed):
            return expr, None, None
        if poly is None:
            if not part.is_Rational:
                return expr, None, None
            parts.append({(): Fraction(int(part.p), int(part.q))})
        else:
            parts.append({m: Fraction(int(c.numerator), int(c.denominator)) for m, c in poly.rep.to_dict().items()})
    return expr, parts[0], parts[1]


def _evaluate(terms: dict, values: dict) -> Fraction:
    point = list(values.values())
    total = Fraction(0)
    for exponents, coefficient in terms.items():
        for value, exponent in zip(point, exponents):
            if exponent:
                coefficient *= value**exponent
        total += coefficient
    return total


def _rational(value: Fraction) -> sp.Rational:
    return sp.Rational(value.numerator, value.denominator)


def _value(expr: sp.Expr, values: dict) -> sp.Expr:
    if not values:
        return expr
    value = sp.cancel(sp.together(expr.xreplace(values)))
    return sp.zoo if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) else value


def order_and_error_constant(
    pi: sp.Poly, variables: tuple[sp.Symbol, ...], steps: tuple[sp.Expr, ...], single: bool
) -> tuple[int | None, sp.Expr | None]:
    """The order p on the linear test and, when `single` (a classical LMM), the error constant C_{p+1}/sigma(1).

    Pi and `steps` must be numeric apart from the z_F. With several functions, z_F = a_F*s for symbolic directions
    a_F, and the series in s must match for every direction. None when every c_F is 0 (the limit is x' = 0).
    """
    if all(c == 0 for c in steps):
        return None, None
    s = sp.Symbol("s")
    directions = (sp.Integer(1),) if len(variables) == 1 else tuple(sp.Symbol(f"a{i}") for i in range(len(variables)))
    w = sp.Symbol("w")
    expr = sp.together(pi.as_expr().xreplace({v: a * s for v, a in zip(variables, directions)}))
    numerator = sp.numer(expr).xreplace({ZETA: 1 + w})
    gens = [w, s]
    poly = sp.Poly(sp.expand(numerator), *gens).to_field()
    domain = poly.domain
    terms = dict(poly.rep.to_dict())
    r, d = poly.degree(w), poly.degree(s)
    limit = (r + 1) * (d + 1) + 1  # the order of an algebraic approximation of exp is below this (Hermite-Pade)
    slope = terms.get((1, 0), domain.zero)
    if not slope:
        return None, None
    rate = sum((domain.from_sympy(c) * domain.from_sympy(a) for c, a in zip(steps, directions)), domain.zero)
    series = [domain.zero] * (limit + 1)
    for n in range(1, limit + 1):
        powers = _powers(series, r, n, domain)
        residual = domain.zero
        for (i, j), coefficient in terms.items():
            if j <= n and (i, j) != (1, 0):
                residual += coefficient * powers[i][n - j]
        series[n] = -residual / slope
        exact = rate**n * domain.from_sympy(sp.Rational(1, math.factorial(n)))
        if series[n] != exact:
            if not single:
                return n - 1, None
            c = steps[0]
            return n - 1, domain.to_sympy((exact - series[n]) / domain.from_sympy(c**n))
    return None, None  # pragma: no cover - exp is not algebraic


def _powers(series: list, r: int, n: int, domain) -> list[list]:
    """w^i truncated after s^n, for i = 0..r, where w = sum series[m]*s^m."""
    zero, one = domain.zero, domain.one
    powers = [[one] + [zero] * n]
    for _ in range(r):
        previous = powers[-1]
        power = [zero] * (n + 1)
        for a in range(n + 1):
            if previous[a] == zero:
                continue
            for b in range(1, n + 1 - a):
                power[a + b] += previous[a] * series[b]
        powers.append(power)
    return powers


def evaluation_scales(space: StateSpace) -> dict[str, list[sp.Expr]] | None:
    """For each function, the scales s with which its blocks see the state on the slow mode (zeta = 1 at z = 0):
    1 means T_F(x). None when that mode is not unique or the output does not follow it."""
    at_zero = {v: 0 for v in space.variables}
    matrix = space.matrix.xreplace(at_zero) - sp.eye(len(space.slots))
    basis = matrix.nullspace()
    if len(basis) != 1 or sp.cancel(basis[0][space.output]) == 0:
        return None
    mode = basis[0] / basis[0][space.output]
    index = {slot: i for i, slot in enumerate(space.slots)}
    scales: dict[str, list[sp.Expr]] = {}
    for point in space.points:
        total = sum((c.xreplace(at_zero) * mode[index[(name, 0)]] for (name, _), c in point.point), sp.Integer(0))
        scale = sp.factor(sp.cancel(total))
        if scale not in scales.setdefault(point.function, []):
            scales[point.function].append(scale)
    return scales


def classical(form: LearnableForm) -> bool:
    """One state, one function, no auxiliary, every block at a lag of the state itself: a classical LMM."""
    model = form.model
    if len(model.states) != 1 or model.auxiliaries or len(model.functions) != 1:
        return False
    for step in form.steps:
        for node in sp.preorder_traversal(step.value):
            call = is_block(node) or is_prox(node)
            if call and (not isinstance(node.args[0], sp.Indexed) or (is_prox(node) and node != step.value)):
                return False
    return True
