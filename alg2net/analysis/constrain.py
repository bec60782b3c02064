"""The maps of `alg2net compile --constrain` (guarantee.md): where each learnable param is held, or why it cannot be.

Assumes a `LearnableForm`. Reads rho and the c_F as `check` does (`params`, `reduce`, `multistep`), with every
learnable param kept as a symbol. Guarantees `alg2net.constraints` objects whose every image satisfies the
conditions `check` verifies (consistent, zero-stable, every c_F finite and some nonzero), or a located
`Alg2NetError`:

- No learnable param enters rho or the c_F: nothing to constrain.
- One does: `Bounded`, in the component of its region (`region.region`) that holds its initial value.
- Several do, and rho(1) = 0 for every value, the reduced q(zeta) = rho(zeta)/(zeta - 1) has monic coefficients
  affine and invertible in them, and each c_F * q(1) is free of them (so every c_F is finite, and one nonzero,
  wherever q's roots lie strictly inside the unit disk): `Reflection`.
- Several do, and every polynomial where a condition can change (the candidates of `region`) factors into
  polynomials of one param each: the conditions hold on whole boxes of the grid those factors' real roots cut, so
  each param is `Bounded` in its own region, provided no such root lies inside the interval it is held in.
- Otherwise, or where rho or a c_F varies with the layer k: refused (code `constrain-coupled`,
  `constrain-varying`), naming the params. An initial value on or outside the interval a param is held in is a
  located error (code `constrain-initial`), at the param's definition.
"""

from __future__ import annotations

import sympy as sp

from alg2net.analysis import multistep, region
from alg2net.analysis.params import Params, collect
from alg2net.analysis.reduce import ZETA, output_recurrence, state_space
from alg2net.constraints import Bounded, Constraint, Reflection, reflection_margin
from alg2net.derive import K, LearnableForm
from alg2net.errors import fail
from alg2net.ir import NOWHERE, Span
from alg2net.resolve import ParamKind

_FIXED_HINT = "make all but one of them fixed (drop `learnable`), or compile without --constrain"


def constraints(form: LearnableForm) -> tuple[Constraint, ...]:
    """The maps that hold the learnable params of `form` in their region, in the file's order of params."""
    params = collect(form)
    space = state_space(form, params.substitution)
    pi = output_recurrence(space)
    rho, steps = multistep.rho(pi, space.variables), multistep.effective_steps(pi, space.variables)
    exprs = (*rho.all_coeffs(), *steps)
    entering = tuple(s for s in params.learnable if any(e.has(s) for e in exprs))
    if not entering:
        return ()
    setting = _Setting(form, params, rho, steps, entering)
    varying = {s for e in exprs for s in e.free_symbols} & set(params.per_layer)
    if varying:
        raise fail(
            "constrain-varying",
            f"--constrain cannot hold {setting.listed(entering)} in a region: rho or a c_F varies with the layer k "
            "(a schedule or recurrence), and the region is derived at fixed coefficients",
            setting.span(entering[0]),
            hint="compile without --constrain, and check trained networks with `alg2net check --weights`",
        )
    if len(entering) == 1:
        return (setting.bounded(entering[0]),)
    joint = _reflection(setting)
    if isinstance(joint, Reflection):
        return (joint,)
    separate = _separate(setting)
    if separate is not None:
        return separate
    raise fail(
        "constrain-coupled",
        f"--constrain cannot hold {setting.listed(entering)} in their region jointly: the conditions couple them, "
        f"and {joint}",
        setting.span(entering[0]),
        hint=_FIXED_HINT,
    )


class _Setting:
    """rho, the c_F and the learnable params that enter them, with what the maps need of each param."""

    def __init__(self, form: LearnableForm, params: Params, rho: sp.Poly, steps: tuple, entering: tuple):
        self.params, self.rho, self.steps, self.entering = params, rho, steps, entering
        self.names = {symbol: name for name, symbol in params.symbols.items()}
        self.definitions = {p.definition.name: p.definition for p in form.params}
        self.initial = {s: sp.sympify(v) for s, v in params.learnable.items()}

    def name(self, symbol: sp.Symbol) -> str:
        return self.names[symbol]

    def listed(self, symbols) -> str:
        names = [f"`{self.name(s)}`" for s in symbols]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

    def span(self, symbol: sp.Symbol) -> Span:
        definition = self.definitions.get(self.name(symbol))
        return NOWHERE if definition is None else definition.span

    def per_layer(self, symbol: sp.Symbol) -> bool:
        return self.definitions[self.name(symbol)].kind is ParamKind.SCHEDULE

    def at_layer_zero(self, symbol: sp.Symbol) -> sp.Expr:
        return self.initial[symbol].xreplace({K: 0})

    def bounded(self, symbol: sp.Symbol) -> Bounded:
        """The map of one param into the component of its region (the others at their initial values) that holds
        its initial value; a located error where that value is not strictly inside."""
        others = {s: self.at_layer_zero(s) for s in self.initial if s != symbol}
        rho = sp.Poly([sp.cancel(c.xreplace(others)) for c in self.rho.all_coeffs()], ZETA)
        steps = tuple(sp.cancel(c.xreplace(others)) for c in self.steps)
        intervals = region.region(rho, steps, symbol)
        name, start = self.name(symbol), self.at_layer_zero(symbol)
        if intervals is None:
            raise fail(
                "constrain-coupled",
                f"--constrain needs the region of `{name}`, which is not derived exactly (it enters rho or a c_F "
                "other than rationally)",
                self.span(symbol),
                hint="compile without --constrain",
            )
        component = next((i for i in intervals if i.low != i.high and region.contains((i,), start)), None)
        if component is None:
            raise self.outside(symbol, region.describe(intervals, name))
        low = None if component.low == -sp.oo else float(component.low)
        high = None if component.high == sp.oo else float(component.high)
        found = Bounded(name, low, high, self.per_layer(symbol))
        if found.width is not None and not found.width > 0:
            raise fail(
                "constrain-coupled",
                f"--constrain cannot hold `{name}` in {region.describe(intervals, name)}: the interval is narrower "
                "than its margin",
                self.span(symbol),
                hint="compile without --constrain",
            )
        self.check_initial(symbol, found, region.describe(intervals, name))
        return found

    def check_initial(self, symbol: sp.Symbol, found: Bounded, described: str) -> None:
        """The initial value, at every layer for a schedule, strictly inside where `found` holds the param."""
        value = self.initial[symbol]
        if value.has(K):
            held = region.Interval(
                -sp.oo if found.lower is None else sp.Rational(found.lower),
                sp.oo if found.upper is None else sp.Rational(found.upper),
                False,
                False,
            )
            inside = region.inside_every_layer((held,), value) is True
        else:
            inside = found.holds(float(value))
        if not inside:
            raise self.outside(symbol, f"{described}, held in {found.describe()} by --constrain")

    def outside(self, symbol: sp.Symbol, described: str):
        name, value = self.name(symbol), self.initial[symbol]
        where = " at some layer k >= 0" if value.has(K) else ""
        return fail(
            "constrain-initial",
            f"--constrain holds `{name}` strictly inside its region, but its initial value {sp.sstr(value)} is{where} "
            f"on or outside the boundary of {described}",
            self.span(symbol),
            hint=f"start `{name}` strictly inside the region, away from its ends",
        )


# Joint maps --------------------------------------------------------------------------------------------------------


def _reflection(setting: _Setting) -> Reflection | str:
    """The reflection-coefficient map of the params entering rho, or why there is none (the end of a sentence)."""
    symbols = setting.entering
    found = region.monic_affine(setting.rho, setting.steps, symbols)
    if isinstance(found, str):
        return found
    if len({setting.per_layer(s) for s in symbols}) > 1:
        return "they mix per-layer schedules and constants"
    inverse = found.matrix.inv()
    reflection = Reflection(
        names=tuple(setting.name(s) for s in symbols),
        inverse=_floats(inverse),
        shift=tuple(float(v) for v in -inverse * found.offset),
        forward=_floats(found.matrix),
        offset=tuple(float(v) for v in found.offset),
        per_layer=setting.per_layer(symbols[0]),
        margin=reflection_margin(len(symbols)),
    )
    _check_reflection_start(setting, reflection)
    return reflection


def _floats(matrix: sp.Matrix) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in matrix.row(i)) for i in range(matrix.rows))


def _check_reflection_start(setting: _Setting, found: Reflection) -> None:
    """The initial values (layer 0's for schedules) with q's roots strictly inside the unit disk, with the margin."""
    values = [float(setting.at_layer_zero(s)) for s in setting.entering]
    try:
        found.raws(values)
    except ValueError as error:
        start = ", ".join(f"{setting.name(s)} = {sp.sstr(setting.initial[s])}" for s in setting.entering)
        raise fail(
            "constrain-initial",
            f"--constrain holds the roots of q(zeta) = rho(zeta)/(zeta - 1) strictly inside the unit disk, but at the "
            f"initial values {start}: {error}",
            setting.span(setting.entering[0]),
            hint="start the params where every root of rho but zeta = 1 lies strictly inside the unit disk",
        ) from None


def _separate(setting: _Setting) -> tuple[Bounded, ...] | None:
    """Each param held in its own region, where every condition factors into one-param polynomials and no real
    root of those lies inside the interval a param is held in; None where that is not so."""
    symbols = setting.entering
    roots: dict[sp.Symbol, set] = {s: set() for s in symbols}
    candidates = _candidates(setting.rho, setting.steps, symbols)
    if candidates is None:
        return None
    for candidate in candidates:
        for factor, _ in sp.factor_list(candidate, *symbols)[1]:
            involved = factor.free_symbols & set(symbols)
            if len(involved) > 1:
                return None
            for symbol in involved:
                found = region._real_roots(factor, symbol)  # the region's own exact roots
                if found is None:
                    return None
                roots[symbol] |= found
    maps = tuple(setting.bounded(s) for s in symbols)
    for symbol, held in zip(symbols, maps):
        low = -sp.oo if held.low is None else sp.Rational(held.low)
        high = sp.oo if held.high is None else sp.Rational(held.high)
        if any(bool(low < r) and bool(r < high) for r in roots[symbol]):
            return None
    return maps


def _candidates(rho: sp.Poly, steps: tuple, symbols: tuple) -> list[sp.Expr] | None:
    """The polynomials in the params where a condition can change (as `region` lists them); None where the params
    enter other than rationally."""
    numerator, denominator = sp.fraction(sp.together(rho.as_expr()))
    if not numerator.is_polynomial(ZETA, *symbols) or not denominator.is_polynomial(*symbols):
        return None
    poly = sp.Poly(numerator, ZETA)
    found = [denominator, poly.LC(), poly.discriminant() if poly.degree() > 1 else sp.Integer(1)]
    at_one = sp.expand(poly.as_expr().subs(ZETA, 1))
    if at_one != 0:
        found.append(at_one)
    else:
        quotient = sp.Poly(sp.cancel(poly.as_expr() / (ZETA - 1)), ZETA)
        found.append(quotient.as_expr().subs(ZETA, 1))
        if quotient.degree() >= 1:
            reciprocal = sp.Poly(list(reversed(quotient.all_coeffs())), ZETA)
            found.append(sp.resultant(quotient.as_expr(), reciprocal.as_expr(), ZETA))
    for step in steps:
        found += list(sp.fraction(sp.together(step)))
    found = [sp.expand(c) for c in found]
    if any(c.has(*symbols) and not c.is_polynomial(*symbols) for c in found):
        return None
    return [c for c in found if c != 0 and c.has(*symbols)]
