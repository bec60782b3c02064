"""The conditions of check.md as values with stable codes, each with one line of why, and the verdict they give.

Assumes the facts of a network (`alg2net.analysis.limits.Network`): those shown for the whole network, at the values
its `where` names, and, when its coefficients vary with k, what `every_layer` proves of every layer k >= 0 and of
the limit k -> oo. Guarantees `Condition`s whose `code` is one of `CODES`, in the order the report lists them. With
varying coefficients every layer and the limit decide, and the rows of the values shown are informative; the
evaluation points always decide. At trained values whose schedules fix the depth (`Network.fixed_depth`), each
failing layer is a required row of its own, and a constant's trained value outside its region is a required row
that names it. The verdict is `guaranteed` exactly when every required condition holds; the
reasons are the failing required conditions' whys.
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from alg2net.analysis import points
from alg2net.analysis.every_layer import EveryLayer, Run, SecondOrder
from alg2net.analysis.facts import Condition, ParamFacts
from alg2net.analysis.fixed_depth import zero_scale
from alg2net.analysis.limits import LIMIT, OVERFLOW_LAYERS, Network, Where
from alg2net.analysis.multistep import Numeric
from alg2net.analysis.reduce import ZETA
from alg2net.analysis.roots import modulus_text, render_root, root_facts
from alg2net.analysis.text import Text, factored, scaled, step_text, tidy

CODES = {  # stable: tests and tools match on these; the names and whys are for people
    "consistent": "zeta = 1 is a simple root of rho",
    "zero-stable": "the root condition: every root of rho in the closed unit disk, those on the circle simple",
    "strongly-zero-stable": "zeta = 1 the only root of rho on the unit circle (informative)",
    "gradient-term": "every c_F finite and some c_F nonzero: a gradient term reaches the limit ODE",
    "evaluation-points": "every block sees a nonzero multiple of the output in the limit: the output is the state",
    "frozen-layers": "every layer k >= 0 of the network, its coefficients frozen, passes on its own",
    "limit": "the layers' limit k -> oo (every limit point of the coefficients) passes",
    "finite-coefficients": "every recurrence and schedule stays a finite float32 at every layer",
    "param-region": "a learnable param's initial value lies in its region (informative; with --weights, a trained"
    " constant outside its region fails)",
    "stored-values": "the verdict holds at the float32 values a module stores for the constants (listed only where"
    " it fails)",
}

GUARANTEED, NOT_GUARANTEED = "guaranteed", "not_guaranteed"


def conditions(net: Network, output: str, functions, params: tuple[ParamFacts, ...], text: Text) -> list[Condition]:
    """Every condition, in the order the report lists them."""
    trained = any(p.trained is not None for p in params)
    rows = shown(net.main, output, functions, net.steps_initial, net.where, text, trained)
    if net.varying:  # every layer and the limit decide; the rows above describe the limit or the last layer
        rows = [dataclasses.replace(c, required=False) for c in rows]
    rows += evaluation_rows(net.scales, net.generic, output, net.where, text)
    if net.fixed_depth is not None:
        rows += trained_layers(net, params, functions, text)
    elif net.varying:
        rows += layer_conditions(net, output, functions, text)
    return rows + region_conditions(params)


def verdict(rows: list[Condition]) -> tuple[tuple[str, ...], str]:
    """The reasons (the whys of the failing required conditions) and the verdict."""
    reasons = tuple(c.why for c in rows if c.required and not c.ok)
    return reasons, NOT_GUARANTEED if reasons else GUARANTEED


def shown(
    n: Numeric, x: str, functions, symbolic_steps, where: Where, text: Text, decimals: bool = False
) -> list[Condition]:
    """The conditions at the values shown for the whole network (`n`, taken at `where`); with `decimals` (trained
    values, whose exact binary fractions are long) numbers are written as decimals."""
    prefix = where.prefix
    rows = [
        Condition("consistent", "consistent", n.consistent, prefix + _consistency_why(n, decimals)),
        Condition("zero-stable", "zero-stable", n.roots.zero_stable, prefix + _stability_why(n, decimals)),
    ]
    on_circle = [render_root(r) for r in n.roots.roots if r.on_circle and r.value != 1]
    strong_why = (
        "zeta = 1 is the only root on the unit circle"
        if n.roots.strongly_stable
        else (f"other roots on the unit circle: {', '.join(on_circle)}" if on_circle else "not zero-stable")
    )
    strong = n.roots.strongly_stable
    rows.append(Condition("strongly-zero-stable", "strongly zero-stable", strong, prefix + strong_why, False))
    if n.consistent:
        why = _gradient_why(n, functions, symbolic_steps if where.text == LIMIT else (), text)
        rows.append(Condition("gradient-term", "gradient term in the limit", n.some_step, prefix + why))
    return rows


def evaluation_rows(scales, generic, x: str, where: Where, text: Text) -> list[Condition]:
    """The evaluation points at the values shown and, for varying coefficients, with them symbolic (generic): a
    block must see a nonzero multiple of the output in the limit (required)."""
    for found, prefix in ((generic, "at every layer k: "), (scales, where.prefix)):
        if found is not None and not (isinstance(found, dict) and _ok_scales(found)):
            return [Condition("evaluation-points", "evaluation points", False, prefix + _unseen_why(found, x, text))]
    if not isinstance(scales, dict):
        if not isinstance(generic, dict):
            return []  # no slow mode: the scheme is not consistent, which the rows above say
        scales, where = generic, Where("at every layer k", None)  # no limit to take the scales at
    odd = {f: s for f, s in scales.items() if s != [1]}
    seen = [f"T_{f} sees {', '.join(scaled(v, x, text) for v in s)}, not {x}" for f, s in odd.items()]
    why = "; ".join(seen) + ": the limit field is evaluated there" if odd else f"every block sees the state {x} itself"
    return [Condition("evaluation-points", "evaluation points", True, where.prefix + why)]


def _ok_scales(scales: dict) -> bool:
    return all(s != 0 for v in scales.values() for s in v)


def _unseen_why(found, x: str, text: Text) -> str:
    if isinstance(found, dict):
        zero = next(f for f, v in found.items() if 0 in v)
        return (
            f"T_{zero} sees 0*{x}: its argument tends to 0 (a difference of states), so the limit field T_{zero}(0)"
            f" does not depend on {x}"
        )
    seen = points.written(found.point, text)
    if found.blind:
        return (
            f"the output {x} does not follow the state the layers integrate (it tends to 0 on their slow mode):"
            f" T_{found.function} sees {seen}, no combination of {x} and its lags, so {x} is not the integrated"
            " state (a velocity or a difference); return the state the blocks see"
        )
    return f"T_{found.function} sees {seen}, which tends to no combination of the output {x} and its lags"


def layer_conditions(net: Network, x: str, functions, text: Text) -> list[Condition]:
    """Every layer k >= 0, the limit k -> oo, and the recurrences and schedules that overflow float32."""
    every = net.every
    limit = _limit_condition(net, x, functions, text)
    if net.unsettled and limit.ok:  # a block term that does not settle fails the limit too
        limit = dataclasses.replace(limit, ok=False, why=_unsettled_why(net, text))
    rows = [_frozen_layers(every, functions, text), limit]
    for overflow in net.overflows:
        if overflow.layer is None:
            why = (
                f"{overflow.name}[k] grows without bound: its value leaves the float32 range at some layer beyond"
                f" k = {OVERFLOW_LAYERS}"
            )
        else:
            why = (
                f"{overflow.name}[{overflow.entry}] exceeds the float32 range (a float32 module stores inf): every layer from k ="
                f" {overflow.layer} on overflows"
            )
        rows.append(Condition("finite-coefficients", "finite coefficients", False, why))
    return rows


def region_conditions(params: tuple[ParamFacts, ...]) -> list[Condition]:
    """For each learnable param with a region: is its initial value inside (informative)?"""
    rows = []
    for p in params:
        if p.region is not None and p.region.text is not None:
            inside = p.region.initial_inside
            if p.region.of == "trained":
                rows.append(_trained_region(p))
                continue
            why = f"initial value {p.value} {'in' if inside else 'outside'} the region {p.region.text}"
            rows.append(Condition("param-region", f"{p.name} in its region", bool(inside), why, required=False))
    return rows


def _trained_region(p: ParamFacts) -> Condition:
    """`check --weights`: is the trained value inside the region? Required where a constant's lies outside (its
    layers then fail too: the row names the param); a schedule's failing layers have rows of their own."""
    region, name = p.region, f"{p.name} in its region"
    if region.initial_inside is None:
        why = f"trained value{'s' if p.kind == 'schedule' else ''} not judged against the region {region.text}"
        return Condition("param-region", name, False, f"{why}: {region.note}", required=False)
    if p.kind != "schedule":
        where = "in" if region.initial_inside else "outside"
        why = f"trained value {p.name} = {p.trained_texts[0]} {where} the region {region.text}"
        return Condition("param-region", name, bool(region.initial_inside), why, required=not region.initial_inside)
    outside = region.outside_layers
    if not outside:
        return Condition("param-region", name, True, f"every trained value in the region {region.text}", False)
    why = f"{len(outside)} of {len(p.trained_texts)} trained values outside the region {region.text}"
    why += f" ({layer_runs(outside)})"
    return Condition("param-region", name, False, why, required=False)


# Layers at trained values (a checkpoint whose learnable schedules fix the depth) -------------------------------------

_LISTED_LAYERS = 10  # failing layers with a row of their own; the rest are counted in one


def trained_layers(net: Network, params: tuple[ParamFacts, ...], functions, text: Text) -> list[Condition]:
    """One row for each failing layer (the first `_LISTED_LAYERS`), or one that says every layer passes."""
    depth, failing = net.fixed_depth, net.failing
    if not failing:
        why = f"each layer 0-{depth - 1} passes at its trained values (the checkpoint fixes the depth {depth})"
        return [Condition("frozen-layers", "frozen layers", True, why)]
    layers = dict(net.layers)
    rows = []
    for k in failing[:_LISTED_LAYERS]:
        unseen = zero_scale(net.generic, net.schedule.values_at(k))
        why = layer_why(k, layers[k], params, functions, text, unseen)
        rows.append(Condition("frozen-layers", "frozen layer", False, why))
    if len(failing) > _LISTED_LAYERS:
        rest = failing[_LISTED_LAYERS:]
        why = f"{len(rest)} more layers fail at their trained values: {layer_runs(rest)}"
        rows.append(Condition("frozen-layers", "more layers", False, why))
    return rows


def layer_runs(layers: tuple[int, ...]) -> str:
    """`layers 10-14, layer 17, layers 20-39`: increasing layers as runs of consecutive ones."""
    runs: list[list[int]] = []
    for k in layers:
        if runs and k == runs[-1][1] + 1:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    return ", ".join(f"layer {a}" if a == b else f"layers {a}-{b}" for a, b in runs)


def layer_why(
    k: int | None, n: Numeric | None, params: tuple[ParamFacts, ...], functions, text: Text, unseen: str | None = None
) -> str:
    """`layer 37: kn = 1.24 outside -1 < kn <= 1; root zeta = -1.24 (|zeta| = 1.24 > 1)`: the trained values at
    layer k (those outside their region), then why the frozen layer fails (`unseen`: a function one of whose blocks
    sees 0*x there)."""
    values = []
    for p in params:
        if p.trained is None or p.kind != "schedule" or k is None:
            continue
        value = f"{p.name} = {p.trained_texts[k]}"
        outside = p.region is not None and k in p.region.outside_layers
        values.append(f"{value} outside {p.region.text}" if outside else value)
    head = ("every layer" if k is None else f"layer {k}") + (f": {', '.join(values)}" if values else "")
    if unseen is not None and n is not None and n.guaranteed:
        return f"{head}; T_{unseen} sees 0*x here: the limit field does not depend on the state"
    return f"{head}; {_layer_failure(n, functions, text)}"


def _layer_failure(n: Numeric | None, functions, text: Text) -> str:
    """Why a frozen layer at trained values fails, with its numbers as decimals."""
    if n is None:
        return "a coefficient has no finite value (division by zero, or a recurrence past the float32 range)"
    if not n.consistent:
        if n.rho_at_one != 0:
            return f"rho(1) = {float(n.rho_at_one):.6g} != 0: not consistent"
        return "zeta = 1 is a multiple root of rho: not consistent (an infinite effective step)"
    roots = root_facts(n.rho)
    if not roots.zero_stable:
        root = roots.offending[0]
        if root.outside:
            return f"root zeta = {decimal(root.value, root)} (|zeta| = {decimal(root.modulus, root)} > 1)"
        return f"root zeta = {decimal(root.value, root)} on the unit circle with multiplicity {root.multiplicity}"
    if not n.steps_finite or not n.some_step:
        return _first_failure(n, functions, (), text)
    on_circle = ", ".join(decimal(r.value, r) for r in roots.roots if r.on_circle and r.value != 1)
    return (
        f"could not decide: roots on the unit circle besides 1 ({on_circle}) while rho changes from layer to layer,"
        " so frozen layers that pass need not bound the product of the layers' matrices"
    )


def decimal(value: sp.Expr, root) -> str:
    """A number of a root as a decimal with 6 significant digits, more where a root off the unit circle would show
    |zeta| = 1; a whole number as it is."""
    if value.is_Integer:
        return sp.sstr(value)
    number = complex(sp.N(value, 30))
    digits = 6
    while digits < 17 and not root.on_circle and float(f"{abs(complex(sp.N(root.modulus, 30))):.{digits}g}") == 1:
        digits += 1
    if abs(number.imag) < 1e-14 * max(1.0, abs(number.real)):
        return f"{number.real:.{digits}g}"
    sign = "+" if number.imag >= 0 else "-"
    return f"{number.real:.{digits}g} {sign} {abs(number.imag):.{digits}g}*I"


# Every layer and the limit ---------------------------------------------------------------------------------------


def _frozen_layers(every: EveryLayer, functions, text: Text) -> Condition:
    if not every.runs and every.undecided is None:
        return Condition("frozen-layers", "frozen layers", True, f"every layer k >= 0 passes ({every.how})")
    parts = []
    first = every.max_depth
    if first and (not every.runs or every.runs[0].step == 1):  # a prefix of passing layers, then failures
        parts.append(f"layer{'s 0-' + str(first - 1) if first > 1 else ' 0'} pass{'' if first > 1 else 'es'}")
    for run in every.runs[:4]:
        parts.append(f"{_run_text(run)}: {_run_why(run, functions, text)}")
    if len(every.runs) > 4:
        parts.append(f"and {len(every.runs) - 4} more runs of failing layers")
    if every.undecided is not None:
        parts.append(f"could not decide from layer {every.undecided} on: {every.undecided_why}")
    return Condition("frozen-layers", "frozen layers", False, "; ".join(parts))


def _run_text(run: Run) -> str:
    if run.last == run.first:
        return f"at layer {run.first}"
    if run.step == 1:
        return f"from layer {run.first} on" if run.last is None else f"at layers {run.first}-{run.last}"
    listed = ", ".join(str(run.first + i * run.step) for i in range(3))
    end = "..." if run.last is None else f"..., {run.last}"
    return f"at layers {listed}, {end}"


def _run_why(run: Run, functions, text: Text) -> str:
    if run.facts is None:
        return "a coefficient has no finite value (division by zero)"
    return _first_failure(dataclasses.replace(run.facts, roots=root_facts(run.facts.rho)), functions, (), text)


def _limit_condition(net: Network, x: str, functions, text: Text) -> Condition:
    every = net.every
    if not every.points:
        why = f"could not decide the limit k -> oo: {every.limit_why}"
        return Condition("limit", "limit k -> oo", False, why)
    if len(every.points) > 1:
        failing = [p for p in every.points if p.facts is None or not p.facts.guaranteed]
        if not failing and every.moving > 1:
            why = f"could not decide: the coefficients have no limit and {_moving(every)}"
            return Condition("limit", "limit k -> oo", False, why)
        if not failing:
            why = "the coefficients have no limit: on even and on odd layers they tend to values that pass"
            return Condition("limit", "limit k -> oo", True, why)
        point = failing[0]
        failure = (
            _first_failure(point.facts, functions, (), text) if point.facts else "a coefficient grows without bound"
        )
        return Condition("limit", "limit k -> oo", False, f"{point.label}, as k -> oo: {failure}")
    limit = every.points[0].facts
    if limit is None:
        return Condition("limit", "limit k -> oo", False, "as k -> oo: a coefficient of rho grows without bound")
    if limit.guaranteed and every.moving > 1 and not limit.roots.strongly_stable:
        why = f"could not decide: in the limit rho has roots on the unit circle besides 1, and {_moving(every)}"
        return Condition("limit", "limit k -> oo", False, why)
    if limit.guaranteed:
        return Condition("limit", "limit k -> oo", True, f"rho tends to {factored(limit.rho, text)}")
    if limit.rho_at_one == 0 and limit.slope_at_one == 0 and sp.cancel(net.rho_initial.as_expr().subs(ZETA, 1)) == 0:
        why = _second_order_why(net, x, functions, every.second_order, text)
    else:
        why = f"as k -> oo: {_first_failure(limit, functions, net.steps_initial, text)}"
    return Condition("limit", "limit k -> oo", False, why)


def _unsettled_why(net: Network, text: Text) -> str:
    """Why Pi's block terms that vary with k break the limit (`limits.Unsettled`)."""
    term = net.unsettled[0]
    coefficient = f"the coefficient {text(term.coefficient)} of {text(term.monomial)} in Pi(zeta, z)"
    if term.limit is None:
        head = f"could not decide whether {coefficient} has a finite limit as k -> oo"
    else:
        head = f"as k -> oo, {coefficient} tends to {text(term.limit)}"
    return (
        f"{head}: a block's coefficients that do not settle leave terms of higher order in h that do not vanish,"
        " so the layers need not approximate x' = -c*T(x)"
    )


def _moving(every: EveryLayer) -> str:
    return (
        f"rho has {every.moving} roots besides 1 (and 0) that move with k: layers that each pass do not bound the"
        " product of their matrices unless the limit has every such root strictly inside the unit circle"
    )


def _second_order_why(net: Network, x: str, functions, second: SecondOrder | None, text: Text) -> str:
    slope = sp.factor(sp.cancel(sp.diff(net.rho_initial.as_expr(), ZETA).subs(ZETA, 1)))
    head = (
        f"rho'(1) = {text(slope)} tends to 0 as k -> oo, so zeta = 1 becomes a double root and the effective"
        " step grows without bound:"
    )
    if second is None:
        return f"{head} the layers approximate a second-order ODE (x'' + a(t)*x' = -c*T(x)), not x' = -c*T(x)"
    return (
        f"{head} the layers approximate the second-order ODE {second_order_text(second, x, functions, text)}"
        " (Su, Boyd, Candes 2016), not x' = -c*T(x)"
    )


def second_order_text(second: SecondOrder, x: str, functions, text: Text) -> str:
    """`x'' + 3/t*x' + T_f(x) = 0 with t = k*sqrt(h)`."""
    written = f"{x}''"
    if second.r != 0:
        r = text(second.r)
        written += f" + {r if second.r.is_Integer else '(' + r + ')'}/t*{x}'"
    for f, c in zip(functions, second.coefficients):
        if c == 0:
            continue
        magnitude = text(tidy(abs(c), text)) if c.is_number else f"({text(c)})"
        sign = "-" if c.is_number and c.is_negative else "+"
        written += f" {sign} {'' if magnitude == '1' else magnitude + '*'}T_{f}({x})"
    return f"{written} = 0 with t = k*sqrt(h)"


# Why ---------------------------------------------------------------------------------------------------------------


def _first_failure(n: Numeric, functions, symbolic_steps, text: Text) -> str:
    """Why `n` (the facts at some values, or in the limit) is not guaranteed, in one line."""
    if not n.consistent:
        return _consistency_why(n)
    if not n.roots.zero_stable:
        return _stability_why(n)
    if not n.steps_finite:
        return _infinite_why(n, functions, symbolic_steps, text)
    return "every c_F is 0: no gradient term reaches the limit, which is x' = 0"


def _gradient_why(n: Numeric, functions, symbolic_steps, text: Text) -> str:
    """Why a gradient term does or does not reach the limit ODE, for a consistent `n`."""
    vanished = [f for f, c in zip(functions, n.steps) if c == 0]
    if not n.steps_finite:
        return _infinite_why(n, functions, symbolic_steps, text)
    if not functions:
        return "the algorithm has no gradient term: the limit is x' = 0, nothing is learned"
    if len(vanished) == len(functions):
        return "every c_F is 0: no gradient term reaches the limit, which is x' = 0"
    why = ", ".join(f"c_{f} = {step_text(c, text)}" for f, c in zip(functions, n.steps))
    if vanished:
        why += f" ({', '.join('T_' + f for f in vanished)} vanish{'es' if len(vanished) == 1 else ''} from the limit)"
    return why


def _infinite_why(n: Numeric, functions, symbolic_steps, text: Text) -> str:
    """Which c_F are infinite; with `symbolic_steps`, in the limit k -> oo, how they grow."""
    infinite = [(f, c, s) for f, c, s in zip(functions, n.steps, symbolic_steps or n.steps) if not c.is_finite]
    if not symbolic_steps:
        return ", ".join(f"c_{f} is infinite" for f, _, _ in infinite) + " (division by zero)"
    growing = ", ".join(
        f"c_{f} = {text(tidy(s, text))} -> {text(c) if c in (sp.oo, -sp.oo) else 'oo'}" for f, c, s in infinite
    )
    return f"{growing}: the effective step grows without bound, so the layers approximate no x' = -c*T(x)"


def _consistency_why(n: Numeric, decimals: bool = False) -> str:
    number = (lambda v: f"{float(v):.6g}") if decimals else sp.sstr
    if n.rho_at_one != 0:
        return (
            f"rho(1) = {number(n.rho_at_one)} != 0: zeta = 1 is not a root of rho, so a constant state is not kept"
            " and the layers approximate no ODE (inconsistent)"
        )
    if n.slope_at_one == 0:
        return (
            "zeta = 1 is a multiple root of rho (rho'(1) = 0): the principal root has no first-order term, so the"
            " effective step c_F is infinite"
        )
    return f"zeta = 1 is a simple root of rho (rho'(1) = {number(n.slope_at_one)})"


def _stability_why(n: Numeric, decimals: bool = False) -> str:
    bad = n.roots.offending
    if n.roots.zero_stable or not bad:
        return "every root has |zeta| <= 1 and the roots on the unit circle are simple"
    root = bad[0]
    if root.outside and decimals:
        value, modulus = decimal(root.value, root), decimal(root.modulus, root)
        return f"the root zeta = {value} has |zeta| = {modulus} > 1: errors grow like |zeta|^k"
    if root.outside:
        return f"the root zeta = {render_root(root)} has |zeta| = {modulus_text(root)} > 1: errors grow like |zeta|^k"
    return (
        f"the root zeta = {render_root(root)} on the unit circle has multiplicity {root.multiplicity}: errors grow"
        " like k^" + str(root.multiplicity - 1)
    )
