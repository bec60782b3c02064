"""Every layer k >= 0 and the limit k -> oo of a network whose coefficients vary with k: a proof that every depth
passes, or the layers from which it does not.

Assumes rho's coefficients and the c_F with the learnable params at their initial values, in k and the
recurrences' symbols (`alg2net.analysis.params`). The conditions of one layer (consistent, zero-stable, every c_F
finite, some c_F nonzero) hold on a set of values of one real variable that `region.pieces` finds exactly: open
intervals and points, each passing or failing as a whole. Decided:

- in k, where every recurrence the coefficients use has a closed form (`recurrences.closed_form`): on each branch
  of `sequences.branches` the coefficients are rational in a strictly monotone generator u = a(m), so the layers
  whose u lies in a failing piece form one run of whole numbers, found by exact comparisons; the limit is taken at
  the generator's end;
- in t, for one recurrence t[k+1] = g(t[k]) without k: the enclosed values t_0 .. t_N one at a time, every later
  one by the interval of the orbit's tail (`recurrences.orbit`); the limit at the tail's limit. The coefficients
  must be rational in t, or in p = sqrt(Q(t)) + sqrt(a)*t where they hold one square root of a quadratic Q
  (Euler's substitution: FISTA's sqrt(1 + 4*t^2)).

Anything else is undecided from the first layer not proven ("could not decide"). Where the coefficients tend to
different values on different branches (even and odd k), each is a limit point and must pass; there is no limit.
Frozen layers that each pass bound the product of the layers' matrices when at most one root of rho besides 1 and
the structural zeros moves with k (`moving`: the layers then act on the rest as scalars of modulus <= 1), or when
the limit is strongly zero-stable; `conditions` asks for one of the two. Guarantees `EveryLayer`; `max_depth` is the
largest depth whose layers are all proven to pass (None: every depth).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from alg2net.analysis import multistep, region
from alg2net.analysis.interval import Bounds, Unbounded, enclose
from alg2net.analysis.multistep import Numeric
from alg2net.analysis.params import Params, Recurrence
from alg2net.analysis.recurrences import Orbit, Tail, closed_form, orbit
from alg2net.analysis.reduce import ZETA
from alg2net.analysis.sequences import Branch, Generator, M, U, Undecided, branches, generator, preimage, sign
from alg2net.derive import K

LimitOf = Callable[[sp.Expr], "sp.Expr | None"]  # an expression's limit as k -> oo: a number, +-oo or None


@dataclass(frozen=True)
class Run:
    """Failing layers first, first + step, ... up to last (None: on and on), for the reason their first shows."""

    first: int
    step: int
    last: int | None
    facts: Numeric | None  # at layer `first`; None where a coefficient has no finite value there


@dataclass(frozen=True)
class LimitPoint:
    """A value the coefficients tend to along some layers; `facts` None where a coefficient of rho grows without
    bound."""

    label: str  # "" for the limit, "on even layers" where the branches differ
    facts: Numeric | None


@dataclass(frozen=True)
class SecondOrder:
    """rho'(1) -> 0 like r/k: the layers approximate x'' + (r/t)*x' + sum c_F*T_F(x) = 0 with t = k*sqrt(h)."""

    r: sp.Expr
    coefficients: tuple[sp.Expr, ...]


@dataclass(frozen=True)
class EveryLayer:
    """What is proven of every layer and of the limit."""

    runs: tuple[Run, ...]  # the failing layers
    undecided: int | None  # from this layer on nothing is proven (None: every layer is decided)
    undecided_why: str
    points: tuple[LimitPoint, ...]  # the limit points; empty where none is proven
    limit_why: str  # how the limit is known, or why there is none
    how: str  # how the layers are decided
    limit_of: LimitOf | None = None  # where there is one limit
    second_order: SecondOrder | None = None
    moving: int = 0  # roots of rho besides 1 and the structural zeros: above 1, frozen layers do not bound products
    limits_of: tuple[LimitOf, ...] = ()  # an expression's limit along each limit point's layers (empty: none known)

    @property
    def max_depth(self) -> int | None:
        firsts = [r.first for r in self.runs] + ([] if self.undecided is None else [self.undecided])
        return min(firsts, default=None)

    @property
    def limit(self) -> Numeric | None:
        """The facts in the limit k -> oo where there is one limit with finite coefficients."""
        return self.points[0].facts if len(self.points) == 1 and self.limit_of is not None else None


def decide(params: Params, rho: sp.Poly, steps: tuple[sp.Expr, ...]) -> EveryLayer:
    """Every layer and the limit of rho and the c_F (learnable params at their initial values)."""
    coefficients, zeros = rho.all_coeffs(), 0
    while zeros < len(coefficients) - 1 and coefficients[-1 - zeros] == 0:  # rho = zeta^j*(...) at every k
        zeros += 1
    return dataclasses.replace(_decide(params, rho, steps), moving=max(rho.degree() - 1 - zeros, 0))


def _decide(params: Params, rho: sp.Poly, steps: tuple[sp.Expr, ...]) -> EveryLayer:
    target = _Target(tuple(rho.all_coeffs()), tuple(steps))
    used = [r for r in params.recurrences if any(e.has(r.tk, r.tk1) for e in target.exprs)]
    forms: dict = {}
    for r in used:
        closed = closed_form(r.step, r.tk, r.start)
        if closed is not None:
            forms[r.tk], forms[r.tk1] = closed, closed.xreplace({K: K + 1})
    if len(forms) == 2 * len(used):
        return _in_k(target.map(lambda e: e.xreplace(forms)), dict(params.learnable), forms)
    alone = len(used) == 1 and not any(e.has(K) for e in target.exprs)
    if alone and used[0].step.free_symbols <= {used[0].tk}:
        return _in_t(used[0], target, dict(params.learnable))
    why = "the coefficients depend on k and on recurrences without a closed form together"
    return EveryLayer((), 0, why, (), why, "")


@dataclass(frozen=True)
class _Target:
    """rho's coefficients (highest first) and the c_F, as one tuple for the maps below."""

    rho: tuple[sp.Expr, ...]
    steps: tuple[sp.Expr, ...]

    @property
    def exprs(self) -> tuple[sp.Expr, ...]:
        return (*self.rho, *self.steps)

    def map(self, function: Callable[[sp.Expr], sp.Expr]) -> _Target:
        return _Target(tuple(function(e) for e in self.rho), tuple(function(e) for e in self.steps))

    def split(self, exprs) -> tuple[sp.Poly, tuple[sp.Expr, ...]]:
        exprs = tuple(exprs)
        return sp.Poly(exprs[: len(self.rho)], ZETA), exprs[len(self.rho) :]

    def facts(self, values: dict) -> Numeric | None:
        """The frozen facts at exact values of every per-layer symbol; None where a coefficient is not finite."""
        try:
            return multistep.numeric(sp.Poly(self.rho, ZETA), self.steps, values)
        except multistep.NotFinite:
            return None

    def slopes(self) -> tuple[sp.Expr, sp.Expr]:
        """rho'(1) and rho''(1)/2 as expressions."""
        degree = len(self.rho) - 1
        powers = [degree - i for i in range(len(self.rho))]
        first = sum((p * c for p, c in zip(powers, self.rho)), sp.Integer(0))
        second = sum((sp.Rational(p * (p - 1), 2) * c for p, c in zip(powers, self.rho)), sp.Integer(0))
        return first, second


# In k ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    runs: tuple[Run, ...] = ()
    undecided: int | None = None
    why: str = ""
    point: LimitPoint | None = None
    generator: Generator | None = None


def _in_k(target: _Target, initial: dict, forms: dict) -> EveryLayer:
    found = branches(target.exprs)
    if found is None:
        why = "min, max or abs in the coefficients switch where SymPy cannot tell"
        return EveryLayer((), 0, why, (), why, "")
    outcomes = [(b, _branch(b, target)) for b in found]
    runs = tuple(sorted((r for _, o in outcomes for r in o.runs), key=lambda r: r.first))
    undecided = [(o.undecided, o.why) for _, o in outcomes if o.undecided is not None]
    first_undecided, undecided_why = min(undecided, default=(None, ""), key=lambda u: u[0])
    ends = [(b, o) for b, o in outcomes if b.high is sp.oo]
    how = "decided exactly in k" + (" on even and odd layers" if found[0].period == 2 else "")
    every = EveryLayer(runs, first_undecided, undecided_why, (), "", how)
    if any(o.point is None for _, o in ends):
        return dataclasses.replace(every, limit_why=next(o.why for _, o in ends if o.point is None))
    maps = tuple(_k_limit_map(b, o.generator, initial, forms) for b, o in ends)
    points = tuple(o.point for _, o in ends)
    if len({_key(p) for p in points}) > 1:
        labelled = tuple(LimitPoint(_label(b), o.point.facts) for b, o in ends)
        return dataclasses.replace(every, points=labelled, limit_why="the coefficients have no limit", limits_of=maps)
    second = _second_order_in_k(target, points[0], maps[-1])
    return dataclasses.replace(every, points=points[:1], limit_of=maps[-1], second_order=second, limits_of=maps)


def _key(point: LimitPoint):
    if point.facts is None:
        return None
    return (tuple(point.facts.rho.all_coeffs()), point.facts.steps)


def _label(branch: Branch) -> str:
    return f"on {'even' if branch.residue == 0 else 'odd'} layers"


def _branch(branch: Branch, target: _Target) -> _Outcome:
    """The failing runs of one branch and its limit point (where it is unbounded)."""
    layer = branch.layer(branch.low)
    last = None if branch.high is sp.oo else branch.layer(int(branch.high))
    if not any(e.has(M) for e in branch.exprs):
        facts = target.facts({K: layer})
        fails = facts is None or not facts.guaranteed
        runs = (Run(layer, branch.period, last, facts),) if fails else ()
        return _Outcome(runs, point=LimitPoint("", facts) if last is None else None)
    gen = generator(branch)
    pieces = None
    if gen is not None:
        pieces = region.pieces(*target.split(gen.exprs), U, rational_only=gen.rational_at_layers)
    if pieces is None:
        why = f"from layer {layer} on the coefficients are not rational in one monotone function of k"
        return _Outcome(undecided=layer, why=why)
    try:
        runs = []
        for piece in (p for p in pieces if not p.holds):
            span = preimage(gen, piece.low, piece.high, branch)
            if span is not None:
                first, final = branch.layer(span[0]), None if span[1] is None else branch.layer(span[1])
                runs.append(Run(first, branch.period, final, target.facts({K: first})))
    except Undecided as error:
        return _Outcome(undecided=layer, why=f"from layer {layer} on: {error}")
    point = _limit_point(target, gen.exprs, gen.end) if last is None else None
    return _Outcome(tuple(runs), point=point, generator=gen)


def _limit_point(target: _Target, exprs: tuple[sp.Expr, ...], end: sp.Expr, symbol: sp.Symbol = U) -> LimitPoint:
    limits = [limit_at(e, symbol, end) for e in exprs]
    return LimitPoint("", limit_facts(limits[: len(target.rho)], limits[len(target.rho) :]))


def limit_facts(coefficients: list, steps: list) -> Numeric | None:
    """The frozen facts at the limits of rho's coefficients and the c_F; None where a coefficient of rho has no
    finite limit (a c_F may tend to +-oo)."""
    if any(c is None or not c.is_finite for c in coefficients):
        return None
    numeric = multistep.numeric(sp.Poly(coefficients, ZETA), (), {})
    if any(c is None for c in steps):
        steps = [sp.oo if c is None else c for c in steps]
    steps = tuple(steps) if numeric.consistent else ()
    return Numeric(numeric.rho, numeric.roots, steps, numeric.rho_at_one, numeric.slope_at_one)


def _k_limit_map(branch: Branch, gen: Generator | None, initial: dict, forms: dict) -> LimitOf:
    def limit_of(expr: sp.Expr) -> sp.Expr | None:
        value = branch.in_m(sp.sympify(expr).xreplace(initial).xreplace(forms))
        if not value.has(M):
            return None if value.has(sp.nan, sp.zoo) else value
        if value.is_rational_function(M):  # exact and fast, whatever the generator
            return limit_at(value, M, sp.oo)
        in_u = gen.of(value) if gen is not None else None
        if in_u is not None:
            return limit_at(in_u, U, gen.end)
        return limit_at(value, M, sp.oo)

    return limit_of


def _second_order_in_k(target: _Target, point: LimitPoint, limit_of: LimitOf) -> SecondOrder | None:
    facts = point.facts
    if facts is None or facts.rho_at_one != 0 or facts.slope_at_one != 0:
        return None
    slope, curvature = target.slopes()
    if sp.cancel(target.split(target.rho)[0].as_expr().subs(ZETA, 1)) != 0:
        return None  # some layer is not consistent: no ODE at all
    return _second_order(limit_of(K * slope / curvature), [limit_of(c * slope / curvature) for c in target.steps])


def _second_order(r: sp.Expr | None, coefficients: list) -> SecondOrder | None:
    if r is None or not r.is_finite or r.is_negative or any(c is None or not c.is_finite for c in coefficients):
        return None
    return SecondOrder(r, tuple(coefficients))


# In t: one recurrence -----------------------------------------------------------------------------------------------


def _in_t(recurrence: Recurrence, target: _Target, initial: dict) -> EveryLayer:
    t = recurrence.tk
    in_t = target.map(lambda e: e.xreplace(initial).xreplace({recurrence.tk1: recurrence.step}))
    path = orbit(recurrence.step, t, recurrence.start)
    chart = _Chart.of(in_t, t)
    pieces = None if chart is None else region.pieces(*in_t.split(chart.exprs), chart.symbol)
    how = path.tail.how if path.tail is not None else ""
    if pieces is None:
        why = f"{recurrence.name}[k] enters the coefficients other than rationally"
        runs, undecided = (), (0, why)
    else:
        runs, undecided = _orbit_runs(path, pieces, chart, in_t, recurrence)
    first_undecided, undecided_why = undecided if undecided is not None else (None, "")
    if path.tail is None:
        return EveryLayer(runs, first_undecided, undecided_why, (), path.note, how)
    tail = path.tail
    chart = chart or _Chart(t, t, t, in_t.exprs)

    def limit_of(expr: sp.Expr) -> sp.Expr | None:
        value = sp.sympify(expr).xreplace(initial).xreplace({recurrence.tk1: recurrence.step})
        return None if value.has(K) else chart.limit(value, tail.limit)

    limits = [limit_of(e) for e in in_t.exprs]
    point = LimitPoint("", limit_facts(limits[: len(in_t.rho)], limits[len(in_t.rho) :]))
    second = _second_order_in_t(in_t, point, recurrence, tail, limit_of)
    return EveryLayer(runs, first_undecided, undecided_why, (point,), "", how, limit_of, second, limits_of=(limit_of,))


_P = sp.Symbol("p", real=True)


@dataclass(frozen=True)
class _Chart:
    """The variable v in which the coefficients are rational: t itself, or p = sqrt(Q(t)) + sqrt(a)*t where they
    hold one square root of a quadratic Q = a*t^2 + b*t + c with a rational sqrt(a) (Euler's substitution: t and
    sqrt(Q) are rational in p, and p is strictly increasing in t where Q > 0 for all t, FISTA's 4*t^2 + 1)."""

    symbol: sp.Symbol
    of_t: sp.Expr  # v as a function of t
    t: sp.Symbol
    exprs: tuple[sp.Expr, ...]  # the coefficients in v
    euler: tuple | None = None  # Q, t as a function of p, sqrt(Q) as a function of p

    @staticmethod
    def of(target: _Target, t: sp.Symbol) -> _Chart | None:
        exprs = target.exprs
        if all(e.is_rational_function(t) for e in exprs):
            return _Chart(t, t, t, exprs)
        bases = {n.base for e in exprs for n in sp.preorder_traversal(e) if _half_power(n)}
        if len(bases) != 1:
            return None
        (q,) = bases
        if not q.is_polynomial(t) or sp.degree(q, t) != 2:
            return None
        a, b, c = sp.Poly(q, t).all_coeffs()
        root_a = sp.sqrt(a)
        if not root_a.is_Rational or b**2 - 4 * a * c >= 0:
            return None
        inverse = (_P**2 - c) / (b + 2 * root_a * _P)
        chart = _Chart(_P, sp.sqrt(q) + root_a * t, t, (), (q, inverse, _P - root_a * inverse))
        in_p = tuple(chart.convert(e) for e in exprs)
        if any(e is None for e in in_p):
            return None
        return dataclasses.replace(chart, exprs=in_p)

    def convert(self, expr: sp.Expr) -> sp.Expr | None:
        """`expr` (in t) in v, rational; None where it is not."""
        if self.euler is None:
            return expr if expr.is_rational_function(self.t) else None
        q, inverse, root = self.euler
        expr = expr.replace(lambda n: _half_power(n) and n.base == q, lambda n: root ** (2 * n.exp))
        value = expr.xreplace({self.t: inverse})  # cancelled where it is used: a limit, a region
        return value if value.is_rational_function(_P) else None

    def limit(self, expr: sp.Expr, point: sp.Expr) -> sp.Expr | None:
        """The limit of `expr` (in t) as t -> point: in v where it is rational there (exact and fast)."""
        in_v = self.convert(expr)
        if in_v is None:
            return limit_at(expr, self.t, point)
        return limit_at(in_v, self.symbol, self.image(point))

    def enclose(self, values: Bounds) -> tuple[sp.Expr, sp.Expr]:
        if self.of_t == self.t:
            return sp.Rational(values.low), sp.Rational(values.high)
        try:
            image = enclose(self.of_t, {self.t: values})
        except Unbounded:  # every piece then meets it: nothing is claimed
            return -sp.oo, sp.oo
        return sp.Rational(image.low), sp.Rational(image.high)

    def image(self, value: sp.Expr) -> sp.Expr:
        """v at t = value (an end of an interval; v is increasing in t)."""
        if value.is_finite:
            return self.of_t.xreplace({self.t: value})
        return limit_at(self.of_t, self.t, value)


def _half_power(node: sp.Basic) -> bool:
    """sqrt(q), q^(3/2), 1/sqrt(q): a power with a half-integer exponent."""
    return isinstance(node, sp.Pow) and node.exp.is_Rational and node.exp.q == 2


def _orbit_runs(path: Orbit, pieces, chart: _Chart, target: _Target, recurrence: Recurrence):
    """The failing runs among the enclosed values and the tail; the first undecided layer with why."""
    t, runs = recurrence.tk, []
    count = path.tail.start if path.tail is not None else len(path.values)
    for k in range(count):
        value = path.values[k]
        verdict = _classify(pieces, *chart.enclose(value), True, True)
        if verdict is None:
            return tuple(runs), (k, f"{recurrence.name}[{k}] lies too close to where a condition changes")
        if not verdict:
            middle = sp.Rational((value.low + value.high) / 2)
            if runs and runs[-1].last == k - 1:
                runs[-1] = Run(runs[-1].first, 1, k, runs[-1].facts)
            else:
                runs.append(Run(k, 1, k, target.facts({t: middle})))
    if path.tail is None:
        return tuple(runs), (count, path.note)
    tail = path.tail
    low, high = chart.image(tail.low), chart.image(tail.high)
    verdict = _classify(pieces, low, high, tail.low_closed, tail.high_closed)
    if verdict is None:
        why = f"from layer {count} on, {recurrence.name}[k] ranges over values that pass and values that fail"
        return tuple(runs), (count, why)
    if not verdict:
        runs.append(Run(count, 1, None, target.facts({t: (tail.low + tail.high) / 2 if tail.bounded else tail.low})))
    return tuple(runs), None


def _classify(pieces, low, high, low_closed: bool, high_closed: bool) -> bool | None:
    """True where every piece the interval meets passes, False where none does, None otherwise."""
    met = [p.holds for p in pieces if _meets(p, low, high, low_closed, high_closed)]
    if all(met):
        return True
    return False if not any(met) else None


def _meets(piece: region.Piece, low, high, low_closed: bool, high_closed: bool) -> bool:
    def below(a, b, closed: bool) -> bool:  # a < b, or a == b when closed
        if a == b:
            return closed
        s = sign(b - a) if a.is_finite and b.is_finite else (1 if (a is -sp.oo or b is sp.oo) else -1)
        return s is None or s > 0  # undecided comparisons count as meeting: the caller cannot then claim a pass

    if piece.low == piece.high:
        c = piece.low
        return below(low, c, low_closed) and below(c, high, high_closed)
    return below(low, piece.high, False) and below(piece.low, high, False)


def _second_order_in_t(
    target: _Target, point: LimitPoint, recurrence: Recurrence, tail: Tail, limit_of: LimitOf
) -> SecondOrder | None:
    facts = point.facts
    if facts is None or facts.rho_at_one != 0 or facts.slope_at_one != 0:
        return None
    t = recurrence.tk
    slope, curvature = target.slopes()
    coefficients = [limit_of(c * slope / curvature) for c in target.steps]
    if tail.limit.is_finite:  # geometric convergence: k*rho'(1) -> 0
        return _second_order(sp.Integer(0), coefficients) if tail.geometric else None
    growth = limit_of(recurrence.step - t)  # t[k] ~ growth*k (Stolz-Cesaro)
    if growth is None or not growth.is_finite or growth == 0:
        return None
    r = limit_of(t * slope / curvature)
    return _second_order(None if r is None else sp.cancel(r / growth), coefficients)


# Limits of expressions ----------------------------------------------------------------------------------------------


def limit_at(expr: sp.Expr | None, symbol: sp.Symbol, point: sp.Expr) -> sp.Expr | None:
    """The limit of `expr` as `symbol` -> `point`: a finite number, +-oo, or None (no limit, or undecided)."""
    if expr is None or not expr.has(symbol):
        return expr
    if point is -sp.oo:
        return limit_at(expr.xreplace({symbol: -symbol}), symbol, sp.oo)
    if point is not sp.oo:
        value = sp.cancel(expr.xreplace({symbol: point}))
        if not value.has(sp.nan, sp.zoo):
            return value
        return _sympy_limit(expr, symbol, point)
    if expr.is_rational_function(symbol):  # compare degrees: fast and exact
        numerator, denominator = (sp.Poly(part, symbol) for part in sp.fraction(sp.cancel(sp.together(expr))))
        if numerator.degree() > denominator.degree():
            return sp.oo * sp.sign(numerator.LC() / denominator.LC())
        if numerator.degree() < denominator.degree():
            return sp.Integer(0)
        return sp.cancel(numerator.LC() / denominator.LC())
    small = sp.Symbol("epsilon", positive=True)  # k = 1/epsilon: much faster than a limit at oo
    return _sympy_limit(expr.xreplace({symbol: 1 / small}), small, 0)


def _sympy_limit(expr: sp.Expr, symbol: sp.Symbol, point: sp.Expr) -> sp.Expr | None:
    real = sp.Symbol(symbol.name, real=True) if not symbol.is_real else symbol
    try:
        value = sp.limit(expr.xreplace({symbol: real}), real, point, "+-" if point != 0 else "+")
    except (NotImplementedError, ValueError, TypeError, sp.PoleError):  # SymPy cannot decide: no limit claimed
        return None
    if value in (sp.oo, -sp.oo) or (value.is_finite and value.is_extended_real):
        return value
    return None
