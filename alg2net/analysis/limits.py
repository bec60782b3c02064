"""Coefficients that vary with k (schedules, recurrences, k itself): their values at each layer, the frozen facts of
each layer, and the limit k -> oo.

Assumes the params of `alg2net.analysis.params` and rho, the c_F and the layer's state space with the learnable
params kept symbolic. A recurrence is evaluated with `_DIGITS` digits, as rationals, until it leaves the float64
range (the network overflows from there: the last finite values stand in). A limit is claimed only where it is
decided: exactly for rational functions of k, by SymPy's `limit` otherwise, and for a recurrence through its fixed
point nearest to where 2*10^4 more steps bring it (or +-oo where it grows without bound); anything undecided is no
limit. Guarantees a `Network`: the frozen facts of layers 0 .. depth - 1 and in the limit, and the values at which
the facts shown for the whole network are taken (`Where`): the only values, the limit, or the last layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import sympy as sp

from alg2net.analysis import multistep
from alg2net.analysis.multistep import Numeric
from alg2net.analysis.params import Params, Recurrence
from alg2net.analysis.reduce import ZETA, StateSpace
from alg2net.derive import K

LIMIT = "in the limit k -> oo"
_DIGITS = 30  # recurrences such as FISTA's t_k are evaluated with this many digits
_FLOAT_MAX = 1.7976931348623157e308

LimitOf = Callable[[sp.Expr], "sp.Expr | None"]  # an expression's limit as k -> oo: a number, +-oo or None


@dataclass(frozen=True)
class Where:
    """Which values the facts shown for the whole network are taken at."""

    text: str  # "" (the only values), "in the limit k -> oo", "at the last layer, k = 99"
    values: dict | None  # the values, when they are values (not a limit)

    @property
    def prefix(self) -> str:
        return f"{self.text}: " if self.text else ""


@dataclass(frozen=True)
class Schedule:
    """The value of each per-layer symbol at each layer: k, the learnable params' initial values (expressions in
    k), the recurrences."""

    initial: dict  # a kept symbol -> its initial value
    recurrences: tuple[Recurrence, ...]
    sequences: dict  # a recurrence's t_k symbol -> t_0, t_1, ... (shorter where the values overflow)

    def values_at(self, layer: int) -> dict:
        values = {symbol: sp.sympify(value).xreplace({K: layer}) for symbol, value in self.initial.items()}
        values[K] = sp.Integer(layer)
        for r in self.recurrences:
            sequence = self.sequences[r.tk]  # where it is shorter, the last finite values stand in
            values[r.tk] = sequence[min(layer, len(sequence) - 2)]
            values[r.tk1] = sequence[min(layer + 1, len(sequence) - 1)]
        return values

    def computed(self, depth: int) -> int:
        """How many layers have finite values (at most `depth`, the layers asked for)."""
        return min((len(v) - 1 for v in self.sequences.values()), default=depth)

    def overflowing(self, computed: int) -> list[str]:
        """`t[N]` for each recurrence whose value N = computed + 1 leaves the float64 range."""
        return [f"{r.name}[{computed + 1}]" for r in self.recurrences if len(self.sequences[r.tk]) == computed + 1]


@dataclass(frozen=True)
class Network:
    """The facts of a network of depth `depth`: per layer and in the limit when its coefficients vary with k, and
    those shown for the whole network (`main`, at `where`)."""

    depth: int
    varying: bool
    rho_initial: sp.Poly  # rho with the learnable params at their initial values
    steps_initial: tuple[sp.Expr, ...]
    schedule: Schedule
    computed: int  # layers with finite values
    layers: list[tuple[int, Numeric | None]]  # None: a coefficient has no finite value at that layer
    limit: Numeric | None  # None: no limit, or not varying
    limit_of: LimitOf | None
    where: Where
    main: Numeric
    scales: dict | None  # the evaluation scales at `where`


def network(params: Params, space: StateSpace, rho: sp.Poly, steps: tuple[sp.Expr, ...], depth: int) -> Network:
    """The frozen layers, the limit and the facts shown, for rho and the c_F of the layer `space`."""
    initial = dict(params.learnable)
    rho_initial = sp.Poly([c.xreplace(initial) for c in rho.all_coeffs()], ZETA)
    steps_initial = tuple(c.xreplace(initial) for c in steps)
    per_layer = params.per_layer
    varying = any(e.free_symbols & set(per_layer) for e in (*rho_initial.all_coeffs(), *steps_initial))
    sequences = _recurrence_values(params.recurrences, depth + 1 if varying else 1)
    schedule = Schedule(initial, params.recurrences, sequences)
    computed = schedule.computed(depth)
    layers: list[tuple[int, Numeric | None]] = []
    limit = limit_of = None
    if varying:
        frozen = multistep.Frozen(rho_initial, steps_initial, per_layer)
        layers = [(layer, _at(frozen, schedule.values_at(layer))) for layer in range(min(depth, computed))]
        limit_of = _limit_map(schedule)
        limit = None if limit_of is None else _limit(rho, steps, limit_of)
    if limit is not None:
        where, main, scales = Where(LIMIT, None), limit, _limit_scales(space, limit_of)
    else:
        layer = max((layer for layer, n in layers if n is not None), default=0)
        where = Where(f"at the last layer, k = {layer}" if varying else "", schedule.values_at(layer))
        main = multistep.numeric(rho, steps, where.values)
        scales = multistep.evaluation_scales(space.at(where.values))
    return Network(
        depth, varying, rho_initial, steps_initial, schedule, computed, layers, limit, limit_of, where, main, scales
    )


def pi_at(pi: sp.Poly, where: Where, limit_of: LimitOf | None) -> sp.Poly | None:
    """Pi with the values of `where` (or its coefficientwise limit k -> oo); None when a limit is not finite."""
    if where.values is not None:
        return sp.Poly([sp.cancel(c.xreplace(where.values)) for c in pi.all_coeffs()], ZETA)
    coefficients = [limit_of(c) for c in pi.all_coeffs()]
    if any(c is None or c.has(sp.oo, -sp.oo, sp.zoo, sp.nan) for c in coefficients):
        return None
    return sp.Poly([sp.cancel(c) for c in coefficients], ZETA)


def _recurrence_values(recurrences: tuple[Recurrence, ...], count: int) -> dict:
    """t_0 .. t_count of every recurrence, as rationals from `_DIGITS`-digit arithmetic."""
    values: dict = {}
    for r in recurrences:
        with mpmath.workdps(_DIGITS):
            function = sp.lambdify((r.tk, K), r.step, "mpmath")
            sequence = [mpmath.mpf(sp.N(r.start, _DIGITS))]
            for layer in range(count):
                value = mpmath.mpf(function(sequence[-1], layer))
                if not mpmath.isfinite(value) or abs(value) > _FLOAT_MAX:  # the network overflows from here on
                    break
                sequence.append(value)
            values[r.tk] = [sp.Rational(mpmath.nstr(v, _DIGITS)) for v in sequence]
    return values


def _at(frozen: multistep.Frozen, values: dict) -> Numeric | None:
    """The facts of one layer; None where its coefficients are not finite."""
    try:
        return frozen.at(values)
    except multistep.NotFinite:
        return None


# The limit k -> oo -------------------------------------------------------------------------------------------------


def _limit_map(schedule: Schedule) -> LimitOf | None:
    """The map of an expression (in k, the recurrences and the learnable params) to its limit as k -> oo, None
    where it has none; None instead of a map when some recurrence has no limit."""
    targets = []
    for r in schedule.recurrences:
        last = _far(r.step, r.tk, schedule.sequences[r.tk][-1])
        target = sp.oo if last is None else _fixed_point(r.step, r.tk, last)
        if target is None:
            return None
        targets.append((r.tk, r.tk1, r.step, target))

    def limit_of(expr: sp.Expr) -> sp.Expr | None:
        expr = expr.xreplace(schedule.initial)
        for tk, tk1, step, target in targets:
            expr = _limit_of(expr.xreplace({tk1: step}), tk, target)
            if expr is None:
                return None
        return _limit_of(expr, K, sp.oo)

    return limit_of


def _limit(rho: sp.Poly, steps: tuple[sp.Expr, ...], limit_of: LimitOf) -> Numeric | None:
    """The frozen facts in the limit k -> oo, or None where rho or a c_F has no limit (a c_F may tend to +-oo)."""
    coefficients = [limit_of(c) for c in rho.all_coeffs()]
    limits = [limit_of(c) for c in steps]
    if any(c is None or not c.is_finite for c in coefficients) or any(c is None for c in limits):
        return None
    numeric = multistep.numeric(sp.Poly(coefficients, ZETA), (), {})
    return Numeric(
        numeric.rho,
        numeric.roots,
        tuple(limits) if numeric.consistent else (),
        numeric.rho_at_one,
        numeric.slope_at_one,
    )


def _limit_of(expr: sp.Expr | None, symbol: sp.Symbol, point: sp.Expr) -> sp.Expr | None:
    """The limit of `expr` as `symbol` -> `point`: a finite number, +-oo, or None (no limit, or undecided)."""
    if expr is None or not expr.has(symbol):
        return expr
    if point is not sp.oo:
        value = sp.cancel(expr.xreplace({symbol: point}))
        return None if value.has(sp.nan, sp.zoo) else value
    if expr.is_rational_function(symbol):  # compare degrees: fast and exact
        numerator, denominator = (sp.Poly(part, symbol) for part in sp.fraction(sp.cancel(sp.together(expr))))
        if numerator.degree() > denominator.degree():
            return sp.oo * sp.sign(numerator.LC() / denominator.LC())
        if numerator.degree() < denominator.degree():
            return sp.Integer(0)
        return sp.cancel(numerator.LC() / denominator.LC())
    small = sp.Symbol("epsilon", positive=True)  # k = 1/epsilon: much faster than a limit at oo
    try:
        value = sp.limit(expr.xreplace({symbol: 1 / small}), small, 0, "+")
    except (NotImplementedError, ValueError, TypeError, sp.PoleError):  # SymPy cannot decide: no limit claimed
        return None
    if value in (sp.oo, -sp.oo) or (value.is_finite and value.is_extended_real):
        return value
    return None


def _far(step: sp.Expr, symbol: sp.Symbol, value: sp.Expr) -> float | None:
    """Where the recurrence is after 2*10^4 more steps (floats); None when it diverges (grows, or overflows)."""
    if step.has(K):
        return float(value)
    function = sp.lambdify(symbol, step, "math")
    current, checkpoints = float(value), []
    try:
        for _ in range(2):
            for _ in range(10**4):
                current = function(current)
            checkpoints.append(current)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    first, second = checkpoints
    if not (math.isfinite(first) and math.isfinite(second)):  # float products overflow to inf without raising
        return None
    if abs(second - first) <= 1e-9 * (1 + abs(second)):
        return second
    return None if abs(second) > abs(first) else second


def _fixed_point(step: sp.Expr, symbol: sp.Symbol, near: float) -> sp.Expr | None:
    if step.has(K):
        return None
    candidates = [r for r in sp.solve(sp.Eq(step, symbol), symbol) if r.is_real]
    return min(candidates, key=lambda r: abs(float(r) - near), default=None)


def _limit_scales(space: StateSpace, limit_of: LimitOf) -> dict | None:
    """The evaluation scales of the layer with every coefficient at its limit k -> oo (None: some has none)."""
    at_zero = space.at({v: 0 for v in space.variables})
    limits: dict = {}

    def limit(expr: sp.Expr) -> sp.Expr:
        if expr not in limits:
            limits[expr] = limit_of(expr)
        value = limits[expr]
        if value is None or not value.is_finite:
            raise ValueError(expr)
        return value

    try:
        return multistep.evaluation_scales(at_zero.map(limit))
    except ValueError:
        return None
