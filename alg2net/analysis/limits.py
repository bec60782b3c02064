"""Coefficients that vary with k (schedules, recurrences, k itself): the facts of every layer and of the limit
k -> oo (`every_layer`), the frozen facts of the layers a report lists, and the values the facts shown for the whole
network are taken at.

Assumes the params of `alg2net.analysis.params` and rho, the c_F and the layer's state space with the learnable
params kept symbolic. The listed layers use recurrences evaluated with `_DIGITS` digits, as rationals (they only
describe; `every_layer` decides). A recurrence is run in float64, as the network runs it, for `OVERFLOW_LAYERS`
layers: where it leaves the float32 range (the module's buffers are float32 by default) the network overflows from
there; one that provably grows without bound overflows at some layer even where that is further. Guarantees a `Network`: the decision for every layer, the
listed layers 0 .. depth - 1, and the values at which the facts shown are taken (`Where`): the only values, the
limit (where `every_layer` proves one), or the last listed layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath
import sympy as sp

from alg2net.analysis import every_layer, multistep, points, recurrences
from alg2net.analysis.every_layer import EveryLayer, LimitOf
from alg2net.analysis.multistep import Numeric
from alg2net.analysis.params import Params, Recurrence
from alg2net.analysis.reduce import ZETA, StateSpace, substituted
from alg2net.derive import K
from alg2net.errors import fail

LIMIT = "in the limit k -> oo"
OVERFLOW_LAYERS = 10**4  # a recurrence is run this far in float64 to find where it overflows
_DIGITS = 30  # the listed layers' recurrences (such as FISTA's t_k) are evaluated with this many digits
# The largest float32: the module stores schedule and recurrence values as buffers in its dtype, float32 by default,
# where a larger value is inf (and a coefficient of it nan), so the check holds them to this range whatever the dtype.
STORED_MAX = 3.4028234663852886e38
_HINT = "look for a division by zero: a recurrence that reaches 0 exactly, a schedule with a pole"


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
    """The value of each per-layer symbol at each listed layer: k, the learnable params' initial values
    (expressions in k), the recurrences."""

    initial: dict  # a kept symbol -> its initial value
    recurrences: tuple[Recurrence, ...]
    sequences: dict  # a recurrence's t_k symbol -> t_0, t_1, ... (shorter where the values overflow)
    trained: dict = field(default_factory=dict)  # a learnable schedule's symbol -> its trained value at each layer

    def values_at(self, layer: int) -> dict:
        values = {symbol: sp.sympify(value).xreplace({K: layer}) for symbol, value in self.initial.items()}
        values.update({symbol: trained[layer] for symbol, trained in self.trained.items()})
        values[K] = sp.Integer(layer)
        for r in self.recurrences:
            sequence = self.sequences[r.tk]  # where it is shorter, the last finite values stand in
            values[r.tk] = sequence[min(layer, len(sequence) - 2)]
            values[r.tk1] = sequence[min(layer + 1, len(sequence) - 1)]
        return values

    def computed(self, depth: int) -> int:
        """How many layers have finite values (at most `depth`, the layers asked for)."""
        return min((len(v) - 1 for v in self.sequences.values()), default=depth)


@dataclass(frozen=True)
class Overflow:
    """A recurrence or a schedule whose values leave the float32 range: every layer from `layer` on overflows
    (None: at some layer beyond `OVERFLOW_LAYERS`, as it grows without bound). `entry` is the index of the first
    value out of range: layer + 1 for a recurrence (layer k reads t[k+1]), the layer for a schedule."""

    name: str
    layer: int | None
    entry: int | None = None


@dataclass(frozen=True)
class Unsettled:
    """A coefficient of Pi(zeta, z) at a monomial with some z_F (a block's term) that varies with k and has no proven
    finite limit: the layers' terms of second and higher order in h need not vanish as the layers multiply (a
    coefficient k*h*T(x[k]) - k*h*T(x[k-1]) adds k*h*(T(x[k]) - T(x[k-1])), of first order), so the frozen layers
    and the limit of rho and the c_F do not make the network a convergent discretization."""

    monomial: sp.Expr
    coefficient: sp.Expr
    limit: sp.Expr | None  # +-oo; None: undecided (no limit along some limit point's layers, or SymPy cannot tell)


@dataclass(frozen=True)
class Network:
    """The facts of a network: of every layer and the limit when its coefficients vary with k (`every`), of the
    listed layers, and those shown for the whole network (`main`, at `where`)."""

    depth: int
    varying: bool
    rho_initial: sp.Poly  # rho with the learnable params at their initial values
    steps_initial: tuple[sp.Expr, ...]
    schedule: Schedule
    layers: list[tuple[int, Numeric | None]]  # the listed layers; None: a coefficient has no finite value there
    every: EveryLayer | None  # None: not varying
    overflows: tuple[Overflow, ...]
    where: Where
    main: Numeric
    scales: dict | points.Unseen | None  # the evaluation scales at `where`
    generic: dict | points.Unseen | None  # with the per-layer values kept symbolic (None: not varying)
    fixed_depth: int | None = None  # trained per-layer values fix the depth: layers 0 .. fixed_depth - 1 decide
    failing: tuple[int, ...] = ()  # with a fixed depth, the layers that fail
    unsettled: tuple[Unsettled, ...] = ()  # the block terms of Pi that vary with k and have no proven finite limit

    @property
    def limit(self) -> Numeric | None:
        return None if self.every is None else self.every.limit

    @property
    def limit_of(self) -> LimitOf | None:
        return None if self.every is None else self.every.limit_of

    @property
    def max_depth(self) -> int | None:
        """The largest depth whose layers are all proven to pass (None: every depth)."""
        if self.fixed_depth is not None:
            return self.failing[0] if self.failing else self.fixed_depth
        firsts = [o.layer if o.layer is not None else OVERFLOW_LAYERS for o in self.overflows]
        if self.every is not None and self.every.max_depth is not None:
            firsts.append(self.every.max_depth)
        return min(firsts, default=None)


def network(
    params: Params, space: StateSpace, pi: sp.Poly, rho: sp.Poly, steps: tuple[sp.Expr, ...], depth: int
) -> Network:
    """Every layer, the listed layers, the limit and the facts shown, for Pi, rho and the c_F of the layer `space`."""
    initial = dict(params.learnable)
    rho_initial = sp.Poly([c.xreplace(initial) for c in rho.all_coeffs()], ZETA)
    steps_initial = tuple(c.xreplace(initial) for c in steps)
    per_layer = set(params.per_layer)
    reached = pi.free_symbols.union(*(sp.sympify(v).free_symbols for s, v in initial.items() if s in pi.free_symbols))
    terms = []
    if reached & per_layer:  # expanding Pi's block terms is costly on large programs: only where some may vary
        terms = [(m, c) for m, c in _block_terms(pi, space.variables, initial) if c.free_symbols & per_layer]
    varying = bool(terms) or any(e.free_symbols & per_layer for e in (*rho_initial.all_coeffs(), *steps_initial))
    sequences = recurrence_values(params.recurrences, depth + 1 if varying else 1)
    schedule = Schedule(initial, params.recurrences, sequences)
    layers: list[tuple[int, Numeric | None]] = []
    every, overflows = None, ()
    if varying:
        frozen = multistep.Frozen(rho_initial, steps_initial, params.per_layer, digits=_DIGITS)
        layers = [
            (layer, _at(frozen, schedule.values_at(layer))) for layer in range(min(depth, schedule.computed(depth)))
        ]
        every = every_layer.decide(params, rho_initial, steps_initial)
        overflows = _overflows(params.recurrences) + _schedule_overflows(params)
    if every is not None and every.limit is not None:
        where, main = Where(LIMIT, None), every.limit
        scales = _limit_scales(space.at(initial), every.limit_of)
    else:
        layer = max((layer for layer, n in layers if n is not None), default=0)
        where = Where(f"at the last layer, k = {layer}" if varying else "", schedule.values_at(layer))
        main = main_facts(rho, steps, where, bool(layers))
        scales = points.seen(space.at(where.values))
    generic = points.seen(space.at(initial)) if varying else None
    unsettled = tuple(u for u in (_limit_term(m, c, every) for m, c in terms) if u is not None)
    return Network(
        depth,
        varying,
        rho_initial,
        steps_initial,
        schedule,
        layers,
        every,
        overflows,
        where,
        main,
        scales,
        generic,
        unsettled=unsettled,
    )


def _block_terms(pi: sp.Poly, variables, initial: dict) -> list[tuple[sp.Expr, sp.Expr]]:
    """Pi's monomials in zeta and the z_F that hold some z_F, with their coefficients at the initial values."""
    terms = []
    for (power,), coefficient in pi.terms():
        if not coefficient.has(*variables):
            continue
        if not coefficient.is_polynomial(*variables):  # rational in the z_F: the whole of it, limits undecided
            blocks = coefficient - coefficient.xreplace(dict.fromkeys(variables, 0))
            terms.append((ZETA**power, blocks.xreplace(initial)))
            continue
        for powers, c in sp.Poly(coefficient, *variables).terms():
            if any(powers):
                monomial = ZETA**power * sp.Mul(*(v**e for v, e in zip(variables, powers)))
                terms.append((monomial, sp.sympify(c).xreplace(initial)))
    return terms


def _limit_term(monomial: sp.Expr, coefficient: sp.Expr, every: EveryLayer | None) -> Unsettled | None:
    """None where the coefficient has a finite limit along the layers of every limit point (even and odd layers
    where the coefficients have no limit); else what is known of it: an infinite limit, or none."""
    limits = [_limit(limit_of, coefficient) for limit_of in every.limits_of] if every is not None else []
    if limits and all(v is not None and v.is_number and v.is_finite for v in limits):
        return None
    infinite = next((v for v in limits if v is not None and v.is_number and v.is_infinite), None)
    return Unsettled(monomial, coefficient, infinite)


def main_facts(rho: sp.Poly, steps: tuple[sp.Expr, ...], where: Where, listed: bool) -> Numeric:
    """The facts at `where`; a located input error where not one listed layer has finite coefficients (the values
    stage lets a pole through where rounding hides it: a recurrence that reaches 0 exactly)."""
    try:
        return multistep.numeric(rho, steps, where.values)
    except multistep.NotFinite:
        where_text = " at any listed layer" if listed else ""
        raise fail("undefined-value", f"the coefficients have no finite value{where_text}", hint=_HINT) from None


def pi_at(pi: sp.Poly, where: Where, limit_of: LimitOf | None) -> sp.Poly | None:
    """Pi with the values of `where` (or its coefficientwise limit k -> oo); None when a limit is not finite."""
    if where.values is not None:
        return substituted(pi, where.values)
    coefficients = [_limit(limit_of, c) for c in pi.all_coeffs()]
    if any(c is None or c.has(sp.oo, -sp.oo, sp.zoo, sp.nan) for c in coefficients):
        return None
    return sp.Poly([sp.cancel(c) for c in coefficients], ZETA)


def _limit(limit_of: LimitOf, expr: sp.Expr) -> sp.Expr | None:
    """`limit_of(expr)`; None where it cannot be taken (an expression with (-1)^k on layers that every_layer did not
    split by parity: it found no (-1)^k in rho and the c_F)."""
    try:
        return limit_of(expr)
    except (ValueError, TypeError, NotImplementedError, ArithmeticError):
        return None


def recurrence_values(recurrences: tuple[Recurrence, ...], count: int) -> dict:
    """t_0 .. t_count of every recurrence, as rationals from `_DIGITS`-digit arithmetic; run together, as a step may
    read the recurrences declared before it. Each stops where it leaves the float32 range (`STORED_MAX`)."""
    symbols = [s for r in recurrences for s in (r.tk, r.tk1)]
    with mpmath.workdps(_DIGITS):
        functions = [sp.lambdify((*symbols, K), r.step, "mpmath") for r in recurrences]
        sequences = [[mpmath.mpf(sp.N(r.start, _DIGITS))] for r in recurrences]
        stopped = [False] * len(recurrences)
        for layer in range(count):
            current = {r.tk: seq[-1] for r, seq in zip(recurrences, sequences)}
            for i, r in enumerate(recurrences):
                if stopped[i]:
                    continue
                arguments = [current.get(s, mpmath.mpf(0)) for s in symbols]
                value = mpmath.mpf(functions[i](*arguments, layer))
                if not mpmath.isfinite(value) or abs(value) > STORED_MAX:  # the network overflows from here on
                    stopped[i] = True
                    continue
                current[r.tk1] = value
                sequences[i].append(value)
    return {r.tk: [sp.Rational(mpmath.nstr(v, _DIGITS)) for v in seq] for r, seq in zip(recurrences, sequences)}


def _schedule_overflows(params: Params) -> tuple[Overflow, ...]:
    """The schedules (fixed, or a learnable one's initial value) whose value at some layer below `OVERFLOW_LAYERS`
    is beyond the float32 range: the module stores each layer's value in its dtype, inf from there on in float32 (2^k
    from k = 1024). Evaluated exactly (mpmath), so a value that is only large in its parts does not count; a schedule
    that reads recurrences is evaluated along their float64 orbits, as far as they stay finite."""
    per_layer = set(params.per_layer)
    values = [(str(a.base), v) for a, v in params.substitution.items() if isinstance(a, sp.Indexed)]
    values += [(params.display.get(s.name, s.name), v) for s, v in params.learnable.items()]
    values = [(name, v) for name, v in values if v.free_symbols & per_layer]
    orbits = {}
    for r in params.recurrences:
        orbit = _float_orbit(r)
        if orbit is not None:
            orbits[r.tk], orbits[r.tk1] = orbit, orbit[1:]
    found = []
    for name, value in values:
        read = sorted(value.free_symbols - {K}, key=str)
        if not set(read) <= set(orbits):
            continue  # it reads a recurrence that reads another: `every_layer` decides nothing there either
        fast, exact = sp.lambdify((K, *read), value, "math"), sp.lambdify((K, *read), value, "mpmath")
        for n in range(min([OVERFLOW_LAYERS, *(len(orbits[s]) for s in read)])):
            at_n = [orbits[s][n] for s in read]
            try:
                if abs(fast(n, *at_n)) <= STORED_MAX:
                    continue  # a float in range: certainly finite
            except (ArithmeticError, ValueError, TypeError):
                pass  # decided exactly below
            try:
                at = exact(mpmath.mpf(n), *map(mpmath.mpf, at_n))
            except (ArithmeticError, ValueError, TypeError):
                break  # a pole or no real value: the values stage refuses it
            if not mpmath.isfinite(at) or abs(at) > STORED_MAX:
                found.append(Overflow(name, n, n))
                break
    return tuple(found)


def _float_orbit(r: Recurrence) -> list[float] | None:
    """t_0, t_1, ... run in float64 as the module runs them, up to t_OVERFLOW_LAYERS or the first value past the
    float32 range (left out); None where the step reads another recurrence."""
    if not r.step.free_symbols <= {r.tk, K}:
        return None
    function = sp.lambdify((r.tk, K), r.step, "math")
    values = [float(sp.N(r.start, 20))]
    for n in range(1, OVERFLOW_LAYERS + 1):
        try:
            value = float(function(values[-1], n - 1))
        except (OverflowError, ZeroDivisionError, ValueError):
            value = math.inf
        if not math.isfinite(value) or abs(value) > STORED_MAX:
            break
        values.append(value)
    return values


def _overflows(recurrences: tuple[Recurrence, ...]) -> tuple[Overflow, ...]:
    """The recurrences whose values leave the float32 range, run in float64 as the module runs them (see the
    module)."""
    found = []
    for r in recurrences:
        orbit = _float_orbit(r)
        if orbit is None:
            continue  # it reads another recurrence: `every_layer` decides nothing there either
        if len(orbit) <= OVERFLOW_LAYERS:
            n = len(orbit)  # t[n] is the first value out of range
            found.append(Overflow(r.name, n - 1, n))  # layer n - 1 reads t[n]
        elif _grows(r):
            found.append(Overflow(r.name, None))
    return tuple(found)


def _grows(r: Recurrence) -> bool:
    """Whether the recurrence provably grows without bound."""
    if r.step.has(K) or r.step.free_symbols - {r.tk}:
        return False
    closed = recurrences.closed_form(r.step, r.tk, r.start)
    if closed is not None:
        return every_layer.limit_at(sp.Abs(closed), K, sp.oo) is sp.oo
    tail = recurrences.orbit(r.step, r.tk, r.start).tail
    return tail is not None and not tail.limit.is_finite


def _at(frozen: multistep.Frozen, values: dict) -> Numeric | None:
    """The facts of one layer; None where its coefficients are not finite."""
    try:
        return frozen.at(values)
    except multistep.NotFinite:
        return None


def _limit_scales(space: StateSpace, limit_of: LimitOf) -> dict | points.Unseen | None:
    """The evaluation scales of the layer with every coefficient at its limit k -> oo (None: some has none)."""
    limits: dict = {}

    def limit(expr: sp.Expr) -> sp.Expr:
        if expr not in limits:
            limits[expr] = limit_of(expr)
        value = limits[expr]
        if value is None or not value.is_finite:
            raise ValueError(expr)
        return value

    try:
        return points.seen(space.at({v: 0 for v in space.variables}).map(limit))
    except ValueError:
        return None
