"""The params of the check: which are substituted, which are kept as symbols and how texts name those; the regions
of the learnable ones.

Assumes a `LearnableForm`. Guarantees, as check.md says: a fixed constant or schedule is substituted by its value; a
learnable one is kept as a real symbol, with its initial value (an expression in k) beside it, to derive its region
and to decide the verdict; a recurrence t becomes two symbols for t[k] and t[k+1], with its start and its step. A
kept symbol has the param's own name unless the analysis takes it (`zeta`, a linear-test variable `z_F`) or it is a
Python keyword: then a trailing underscore makes it SymPy syntax (`zeta_`); a recurrence's symbols are `t_k`,
`t_k1` (made unique the same way). `display` maps each such internal name to how texts write it (`zeta`, `t[k]`),
`rho_names` to what it stands for in the rho strings, which keep it. A learnable param's region is derived with the
other learnable params at their initial values (`region.region`); whether its initial value lies inside is decided
at every layer k >= 0 for a schedule (`region.inside_every_layer`), None where that cannot be decided. Where several
learnable params enter q(zeta) = rho(zeta)/(zeta - 1) affinely, `joint_region` gives their joint (Schur-Cohn) region.
"""

from __future__ import annotations

import dataclasses
import keyword
import math
import struct
from dataclasses import dataclass

import sympy as sp
from sympy.functions.elementary.hyperbolic import HyperbolicFunction
from sympy.functions.elementary.trigonometric import TrigonometricFunction

from alg2net.analysis import region
from alg2net.analysis.facts import JointRegion, ParamFacts, Region
from alg2net.analysis.reduce import ZETA, test_variable
from alg2net.analysis.text import indexed_text
from alg2net.analysis.trained import Trained
from alg2net.derive import K, LearnableForm, ParamForm
from alg2net.resolve import ParamKind


@dataclass(frozen=True, slots=True)
class Recurrence:
    """t[0] = start, t[k+1] = step, with t[k] and t[k+1] the symbols `tk` and `tk1`; `step` is in `tk` and k."""

    name: str
    tk: sp.Symbol
    tk1: sp.Symbol
    start: sp.Expr
    step: sp.Expr


@dataclass(frozen=True)
class Params:
    substitution: dict  # param atoms (Symbols, Indexed) -> fixed values or kept symbols
    learnable: dict  # a kept symbol -> its initial value (an expression in k)
    symbols: dict  # a learnable param's name -> its kept symbol
    recurrences: tuple[Recurrence, ...]
    display: dict  # an internal symbol name -> how texts other than the rho strings write it
    rho_names: dict  # a name in the rho strings that is no DSL name -> what it stands for
    facts: tuple[ParamFacts, ...]  # without regions
    trained: dict = dataclasses.field(default_factory=dict)  # `--weights`: a learnable schedule -> its trained values
    of: str = "initial"  # the values `learnable` holds: "initial", or "trained" (`check --weights`)

    @property
    def per_layer(self) -> tuple[sp.Symbol, ...]:
        """k and the recurrences' symbols: what takes a value at each layer."""
        return (K, *(symbol for r in self.recurrences for symbol in (r.tk, r.tk1)))


def collect(form: LearnableForm) -> Params:
    """The params of `form`, as the check handles them."""
    collector = _Collector(form)
    for p in form.params:
        if p.definition.kind is ParamKind.RECURRENCE:
            collector.recurrence(p)
        else:
            collector.value(p)
    c = collector
    return Params(c.substitution, c.learnable, c.symbols, tuple(c.recurrences), c.display, c.rho_names, tuple(c.facts))


class _Collector:
    """`Params`, filled in one param at a time (a param's value may use the params before it)."""

    def __init__(self, form: LearnableForm):
        self.reserved = {ZETA.name} | {test_variable(f).name for f in form.model.functions}
        model = form.model
        self.taken = {p.definition.name for p in form.params} | set(model.states) | set(model.auxiliaries)
        self.taken |= self.reserved | set(model.functions)
        self.substitution: dict = {}
        self.learnable: dict = {}
        self.symbols: dict = {}
        self.recurrences: list[Recurrence] = []
        self.display: dict = {}
        self.rho_names: dict = {}
        self.facts: list[ParamFacts] = []

    def fresh(self, name: str) -> str:
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name

    def kept(self, name: str) -> sp.Symbol:
        """The symbol of a param kept symbolic: its own name unless the analysis or SymPy's syntax needs it."""
        if name not in self.reserved and not keyword.iskeyword(name):
            return sp.Symbol(name, real=True)
        symbol = sp.Symbol(self.fresh(name + "_"), real=True)
        self.display[symbol.name] = name
        self.rho_names[symbol.name] = f"the param {name}"
        return symbol

    def recurrence(self, p: ParamForm) -> None:
        name = p.definition.name
        base = sp.IndexedBase(name)
        tk = sp.Symbol(self.fresh(f"{name}_k"), real=True)
        tk1 = sp.Symbol(self.fresh(f"{name}_k1"), real=True)
        self.substitution[base[K]], self.substitution[base[K + 1]] = tk, tk1
        self.display[tk.name], self.display[tk1.name] = f"{name}[k]", f"{name}[k+1]"
        self.rho_names[tk.name], self.rho_names[tk1.name] = f"{name}[k]", f"{name}[k+1]"
        step = p.value.xreplace({base[K]: tk}).xreplace(self.substitution)
        start = p.start.xreplace(self.substitution)
        self.recurrences.append(Recurrence(name, tk, tk1, start, step))
        value = f"{name}[0] = {sp.sstr(start)}, {name}[k+1] = {indexed_text(step.xreplace({tk: base[K]}))}"
        self.facts.append(ParamFacts(name, p.definition.kind.value, p.definition.learnable, value))

    def value(self, p: ParamForm) -> None:
        """A constant or a schedule: substituted when fixed, kept as a symbol when learnable."""
        name, definition = p.definition.name, p.definition
        value = p.value.xreplace(self.substitution)
        atom = sp.Symbol(name, real=True) if definition.kind is ParamKind.CONSTANT else sp.IndexedBase(name)[K]
        initial: tuple[float, ...] = ()
        if definition.learnable:
            symbol = self.kept(name)
            self.substitution[atom] = symbol
            self.learnable[symbol] = value = value.xreplace(self.learnable)
            self.symbols[name] = symbol
            initial = (float(value),) if value.is_number and value.is_finite else ()
        else:
            self.substitution[atom] = value
        self.facts.append(
            ParamFacts(name, definition.kind.value, definition.learnable, indexed_text(value), None, initial)
        )


def at_trained(params: Params, trained: Trained) -> Params:
    """`params` with every learnable param at its trained value (`check --weights`): a constant's replaces its
    initial value; a schedule's values go to `trained`, one per layer (`learnable` holds layer 0's)."""
    learnable, per_layer, facts = dict(params.learnable), {}, []
    for fact in params.facts:
        if fact.learnable and fact.name in params.symbols:
            value, symbol = trained.value(fact.name), params.symbols[fact.name]
            learnable[symbol] = value.values[0]
            if value.schedule:
                per_layer[symbol] = value.values
            floats = tuple(float(v) for v in value.values)
            fact = dataclasses.replace(fact, trained=floats, trained_texts=value.texts)
        facts.append(fact)
    return dataclasses.replace(params, learnable=learnable, trained=per_layer, of="trained", facts=tuple(facts))


def as_stored(params: Params, form: LearnableForm) -> tuple[Params, dict[str, float]]:
    """`params` with each constant (fixed, or a learnable one's initial value) at the float32 value a module stores
    for it (its dtype's default), and those values by name where they differ from the exact ones. A constant beyond
    float32's range is stored as inf: `params` is returned unchanged then, the inf among the values. A constant that
    the updates read inside exp, log or a fractional power keeps its exact value unless float32 rounds it to an
    integer (SymPy cannot factor over exp(p/q) with q = 2^27)."""
    names = {symbol: name for name, symbol in params.symbols.items()}
    inside = _read_inside_functions(form)
    substitution, learnable, stored = dict(params.substitution), dict(params.learnable), {}
    for values in (substitution, learnable):
        for atom, value in values.items():
            if not (isinstance(atom, sp.Symbol) and value.is_number):  # schedules, and kept symbols
                continue
            single, name = _float32(value), names.get(atom, atom.name)
            if name in inside and not (math.isinf(single) or single.is_integer()):
                continue
            if math.isinf(single) or sp.Rational(single) != value:
                stored[name] = single
                values[atom] = value if math.isinf(single) else sp.Rational(single)
    if any(math.isinf(value) for value in stored.values()):
        return params, stored
    return dataclasses.replace(params, substitution=substitution, learnable=learnable), stored


def _read_inside_functions(form: LearnableForm) -> set[str]:
    """The names of the params that the updates read inside exp, log, a trigonometric or hyperbolic function, or a
    fractional power."""
    transcendental = (sp.exp, sp.log, TrigonometricFunction, HyperbolicFunction)
    found: set[str] = set()
    for step in form.steps:
        for part in step.value.atoms(sp.Function, sp.Pow):
            if isinstance(part, transcendental) or (isinstance(part, sp.Pow) and not part.exp.is_integer):
                found |= {str(getattr(a, "base", a)) for a in part.atoms(sp.Symbol, sp.Indexed)}
    return found


def _float32(value: sp.Expr) -> float:
    """`value` rounded to float32, inf beyond its range."""
    try:
        return struct.unpack("f", struct.pack("f", float(value)))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


# Regions -----------------------------------------------------------------------------------------------------------


def with_regions(params: Params, rho: sp.Poly, steps: tuple[sp.Expr, ...], values0: dict):
    """`params.facts` with the region of each learnable param, the others at their values `values0` (layer 0)."""
    facts = []
    for fact in params.facts:
        symbol = params.symbols.get(fact.name) if fact.learnable else None
        if symbol is not None:  # resolve makes only constants and schedules learnable
            fact = dataclasses.replace(fact, region=_region(params, symbol, fact.name, rho, steps, values0))
        facts.append(fact)
    return tuple(facts)


def _region(params: Params, symbol, name: str, rho: sp.Poly, steps, values0: dict) -> Region:
    others = {s: v for s, v in values0.items() if s != symbol}
    rho_p = sp.Poly([sp.cancel(c.xreplace(others)) for c in rho.all_coeffs()], ZETA)
    steps_p = tuple(sp.cancel(c.xreplace(others)) for c in steps)
    if not any(e.has(symbol) for e in (*rho_p.all_coeffs(), *steps_p)):
        return Region(None, None, "does not enter rho or the limit ODE", params.of)
    intervals = region.region(rho_p, steps_p, symbol)
    if intervals is None:
        return Region(None, None, _not_derived(symbol, (*rho_p.all_coeffs(), *steps_p)), params.of)
    note = f"with the other learnable params at their {params.of} values" if len(params.learnable) > 1 else None
    text, spans = region.describe(intervals, name), tuple(_span(i) for i in intervals)
    if symbol not in params.trained:
        inside = region.inside_every_layer(intervals, params.learnable[symbol])
        return Region(text, inside, note, params.of, spans)
    per_layer = set(params.per_layer) | set(params.trained)
    if any(e.free_symbols & (per_layer - {symbol}) for e in (*rho.all_coeffs(), *steps)):
        note = "the region changes with the layer: shown at layer 0, the trained values judged layer by layer"
        return Region(text, None, note, params.of, spans)
    outside = tuple(k for k, v in enumerate(params.trained[symbol]) if not region.contains(intervals, v))
    return Region(text, not outside, note, params.of, spans, outside)


def _not_derived(symbol: sp.Symbol, exprs: tuple[sp.Expr, ...]) -> str:
    if all(sp.sympify(e).is_rational_function(symbol) for e in exprs):
        return "not derived exactly: the roots of rho at a point where a condition can change were not found"
    return "not derived exactly: the param enters other than rationally"


def _span(interval: region.Interval):
    return (float(interval.low), float(interval.high), interval.low_closed, interval.high_closed)


def joint_region(params: Params, rho: sp.Poly, steps: tuple[sp.Expr, ...]) -> JointRegion | None:
    """The joint region of the learnable params that enter rho or the c_F, where there are several, rho and the c_F
    do not vary with the layer, and q(zeta) = rho(zeta)/(zeta - 1) is monic with coefficients affine and invertible
    in them (`region.monic_affine`, the criterion of `compile --constrain`'s joint map): the Schur-Cohn conditions
    |N| < D of `region.schur_cohn`, and whether the params' values (initial, or trained at every layer) satisfy
    them, decided exactly. None elsewhere."""
    exprs = (*rho.all_coeffs(), *steps)
    entering = tuple(s for s in params.learnable if any(e.has(s) for e in exprs))
    if len(entering) < 2 or any(e.free_symbols & set(params.per_layer) for e in exprs):
        return None
    if any(params.learnable[s].has(K) for s in entering if s not in params.trained):
        return None  # an initial schedule that varies with k: not decided here
    found = region.monic_affine(rho, steps, entering)
    if isinstance(found, str):
        return None
    conditions = region.schur_cohn(found.coefficients)
    names = {symbol: name for name, symbol in params.symbols.items()}
    shown = {symbol: sp.Symbol(name) for symbol, name in names.items()}
    text = " and ".join(f"|{sp.sstr(n.xreplace(shown))}| < {sp.sstr(d.xreplace(shown))}" for n, d in conditions)
    layers = max((len(params.trained[s]) for s in entering if s in params.trained), default=1)
    try:
        inside = all(
            all(bool(abs(n.xreplace(values)) < d.xreplace(values)) for n, d in conditions)
            for values in ({s: _value(params, s, k) for s in entering} for k in range(layers))
        )
    except TypeError:  # a comparison SymPy cannot decide: no joint region rather than a guess
        return None
    return JointRegion(tuple(names[s] for s in entering), text, inside, params.of)


def _value(params: Params, symbol: sp.Symbol, layer: int) -> sp.Expr:
    """A learnable param's value at `layer`: its trained value there for a trained schedule, else its value."""
    if symbol in params.trained:
        return sp.sympify(params.trained[symbol][layer])
    return sp.sympify(params.learnable[symbol])
