"""Multistep facts from the linear test: rho, consistency, effective steps, roots at values, order, error constant,
evaluation scales.

Assumes Pi from `alg2net.analysis.reduce.output_recurrence`. With T_F(v) = -z_F*v, the principal root of Pi is
zeta_1(z) = 1 + sum_F c_F*z_F + O(z^2) when zeta = 1 is a simple root of rho(zeta) = Pi(zeta, 0); the limit ODE is
x' = -sum_F c_F*T_F(x), and the order p is the largest p with zeta_1(z) = exp(sum_F c_F*z_F) + O(|z|^(p+1)).
Guarantees exact results: `Numeric` decides the conditions at numeric values of every param, `Frozen` does so for
many layers at once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from alg2net.analysis.reduce import ZETA, Scalars
from alg2net.analysis.roots import RootCondition, RootFacts, root_condition, root_facts
from alg2net.derive import LearnableForm, is_block, is_prox


def rho(pi: sp.Poly, variables: tuple[sp.Symbol, ...]) -> sp.Poly:
    """rho(zeta) = Pi(zeta, 0), monic."""
    scalars, coefficients = Scalars.of_poly(pi, variables)
    at_zero = scalars.at_zero(variables)
    coefficients = [sp.cancel(scalars.expr(at_zero(c))) for c in coefficients]
    while len(coefficients) > 1 and coefficients[0] == 0:  # pragma: no cover - Pi is monic
        coefficients.pop(0)
    lead = coefficients[0]
    return sp.Poly([sp.cancel(c / lead) for c in coefficients], ZETA)


def effective_steps(pi: sp.Poly, variables: tuple[sp.Symbol, ...]) -> tuple[sp.Expr, ...]:
    """c_F = -dPi/dz_F(1, 0) / dPi/dzeta(1, 0) for each z_F; `zoo` where zeta = 1 is not a simple root."""
    scalars, coefficients = Scalars.of_poly(pi, variables)
    at_zero, degree, domain = scalars.at_zero(variables), len(coefficients) - 1, scalars.domain
    slope = sum((domain.convert(degree - i) * at_zero(c) for i, c in enumerate(coefficients)), domain.zero)
    slope = sp.cancel(scalars.expr(slope))
    steps = []
    for variable in variables:
        rate = sum((at_zero(scalars.derivative(c, variable)) for c in coefficients), domain.zero)
        rate = sp.cancel(scalars.expr(rate))
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
    exact = root_condition(poly)
    roots = exact if exact is not None and not full else _agreeing(root_facts(poly), exact)
    return Numeric(poly, roots, steps() if at_one == 0 and slope != 0 else (), at_one, slope)


def _agreeing(facts: RootFacts, exact: RootCondition | None) -> RootFacts | RootCondition:
    """The roots, whose moduli off the unit circle are numbers, where they agree with the exact root condition
    (rational coefficients); otherwise that condition's verdict, made no stronger than the roots' (never reached:
    a safeguard, so that a numeric modulus can never make a layer zero-stable)."""
    if exact is None or (facts.zero_stable, facts.strongly_stable) == (exact.zero_stable, exact.strongly_stable):
        return facts
    stable = exact.zero_stable and facts.zero_stable  # pragma: no cover - see the docstring
    strongly = stable and exact.strongly_stable and facts.strongly_stable  # pragma: no cover
    return RootCondition(stable, strongly, facts.roots, facts.offending)  # pragma: no cover


class Frozen:
    """rho and the c_F at the values of the per-layer symbols (k, recurrences), compiled once for many layers:
    coefficients rational in those symbols are evaluated in exact rational arithmetic, others by substitution; with
    `digits`, one that is not rational at the values (exp(-t_k) at a 30-digit t_k) is rounded to that many digits,
    for layers that only describe (the listed ones: exact algebra over such numbers can take hours)."""

    def __init__(
        self,
        rho_symbolic: sp.Poly,
        steps_symbolic: tuple[sp.Expr, ...],
        symbols: tuple[sp.Symbol, ...],
        digits: int | None = None,
    ):
        self.symbols, self.digits = symbols, digits
        self.rho = [_compile(c, symbols) for c in rho_symbolic.all_coeffs()]
        self.steps = [_compile(c, symbols) for c in steps_symbolic]

    def at(self, values: dict) -> Numeric:
        """The facts at `values` (a value for each of `symbols`), the roots left out where the root condition is
        decided directly."""
        point = [values[s] for s in self.symbols]
        if all(v.is_Rational for v in point):
            exact = {s: Fraction(int(v.p), int(v.q)) for s, v in zip(self.symbols, point)}
        else:
            exact = None

        def evaluate(compiled) -> sp.Expr:
            expr, numerator, denominator = compiled
            if exact is None or numerator is None:
                value = _value(expr, values)
                return value if self.digits is None else _rounded(value, self.digits)
            bottom = _evaluate(denominator, exact)
            return sp.zoo if bottom == 0 else _rational(_evaluate(numerator, exact) / bottom)

        return _decide([evaluate(c) for c in self.rho], lambda: tuple(evaluate(c) for c in self.steps), False)


def _rounded(value: sp.Expr, digits: int) -> sp.Expr:
    """A real number that is not rational as a rational with `digits` significant digits."""
    if value.is_Rational or not value.is_number or value.has(sp.zoo) or not value.is_real:
        return value
    return sp.Rational(str(sp.N(value, digits)))


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
    back, pi, steps = _exp_powers(pi, steps)
    if back:
        order, constant = order_and_error_constant(pi, variables, steps, single)
        return order, None if constant is None else constant.xreplace(back)
    directions = (sp.Integer(1),) if len(variables) == 1 else tuple(sp.Symbol(f"a{i}") for i in range(len(variables)))
    domain, terms = _series_terms(pi, variables, directions)
    r, d = max(i for i, _ in terms), max(j for _, j in terms)
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


def _exp_powers(pi: sp.Poly, steps: tuple[sp.Expr, ...]) -> tuple[dict, sp.Poly, tuple[sp.Expr, ...]]:
    """exp(p/q) for rationals p/q (schedules such as exp(-k/7) at a listed layer) as powers of one symbol u that
    stands for exp(1/L), L the lcm of the q: e is transcendental, so u is an indeterminate and the field arithmetic
    stays exact, where SymPy's own field over exp(1/2), exp(1/3) cannot hold exp(5/6). Returns {u: exp(1/L)} (empty
    where there are none) and pi and the c_F in u. ValueError beside other irrational numbers (sqrt(13/10)): in
    SymPy's expression domain the series took hours, and compared unequal forms of one number (a wrong order 0)."""
    generators = getattr(pi.domain, "symbols", None)  # Pi's coefficients as expressions are costly on large programs
    held = pi.domain.is_EX or pi.domain.is_EXRAW or any(isinstance(g, sp.exp) for g in generators or ())
    whole = pi.as_expr() if held else None
    atoms = {a for e in (*steps, *([whole] if held else [])) for a in e.atoms(sp.exp) if a.args[0].is_Rational}
    if not atoms:
        return {}, pi, steps
    lcm = math.lcm(*(int(a.args[0].q) for a in atoms))
    unit = sp.Dummy("u", positive=True)
    powers = {a: unit ** int(a.args[0] * lcm) for a in atoms}
    rest = [e.xreplace(powers) for e in (pi.as_expr() if whole is None else whole, *steps)]
    if any(a.is_number and not a.is_Rational for e in rest for a in e.atoms(sp.Pow, sp.Function)):
        raise ValueError("exp(p/q) beside other irrational numbers: no exact field for both")  # SymPy's EX: hours
    return {unit: sp.exp(sp.Rational(1, lcm))}, sp.Poly(rest[0], *pi.gens), tuple(rest[1:])


def _series_terms(pi: sp.Poly, variables: tuple[sp.Symbol, ...], directions: tuple[sp.Expr, ...]):
    """Pi(1 + w, z_F = a_F*s) with its denominators cleared (a factor that is 1 at s = 0), as its field (that of the
    directions and of any symbol left in Pi) and {(i, j): the coefficient of w^i*s^j}, nonzero ones only."""
    scalars, coefficients = Scalars.of_poly(pi, variables)
    if not scalars.rational:
        return _series_terms_expr(pi, variables, directions)
    symbols = scalars.domain.symbols
    z = [symbols.index(v) for v in variables]
    others = [i for i in range(len(symbols)) if i not in z]
    named = [a for a in directions if isinstance(a, sp.Symbol)]
    field = sp.QQ.frac_field(*named, *(symbols[i] for i in others)) if named or others else sp.QQ
    degree, collected = len(coefficients) - 1, {}
    for power, numerator in zip(range(degree, -1, -1), _numerators(coefficients)):
        for monomial, c in numerator.terms():
            j = sum(monomial[i] for i in z)
            key = tuple(monomial[i] for i in z) if named else ()
            key += tuple(monomial[i] for i in others)
            for i in range(power + 1):  # zeta^power = (1 + w)^power
                entry = collected.setdefault((i, j), {})
                entry[key] = entry.get(key, sp.QQ.zero) + c * math.comb(power, i)
    if field == sp.QQ:
        return field, {key: entry[()] for key, entry in collected.items() if entry[()]}
    ring = field.field.ring
    terms = {key: field.field.field_new(ring.from_dict(entry)) for key, entry in collected.items()}
    return field, {key: value for key, value in terms.items() if value}


def _numerators(coefficients: list) -> list:
    """The coefficients (in QQ(symbols)) times the least common multiple of their denominators."""
    common = functools.reduce(lambda a, b: a.lcm(b), (c.denom for c in coefficients))
    return [c.numer * common.exquo(c.denom) for c in coefficients]


def _series_terms_expr(pi: sp.Poly, variables: tuple[sp.Symbol, ...], directions: tuple[sp.Expr, ...]):
    """`_series_terms` through expressions, for coefficients outside QQ(symbols)."""
    s, w = sp.Symbol("s"), sp.Symbol("w")
    expr = sp.together(pi.as_expr().xreplace({v: a * s for v, a in zip(variables, directions)}))
    numerator = sp.numer(expr).xreplace({ZETA: 1 + w})
    poly = sp.Poly(sp.expand(numerator), w, s).to_field()
    return poly.domain, dict(poly.rep.to_dict())


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
