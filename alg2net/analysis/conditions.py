"""The conditions of check.md as values with stable codes, each with one line of why, and the verdict they give.

Assumes the facts of a network (`alg2net.analysis.limits.Network`): those shown for the whole network, at the values
its `where` names, and, when its coefficients vary with k, those of each frozen layer and of the limit k -> oo.
Guarantees `Condition`s whose `code` is one of `CODES`, in the order the report lists them. With varying
coefficients the layers and the limit decide, and the rows of the values shown are informative. The verdict is
`guaranteed` exactly when every required condition holds; the reasons are the failing required conditions' whys.
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from alg2net.analysis.facts import Condition, ParamFacts
from alg2net.analysis.limits import LIMIT, Network, Where
from alg2net.analysis.multistep import Numeric
from alg2net.analysis.reduce import ZETA
from alg2net.analysis.roots import render_root, root_facts
from alg2net.analysis.text import Text, factored, scaled, step_text, tidy

CODES = {  # stable: tests and tools match on these; the names and whys are for people
    "consistent": "zeta = 1 is a simple root of rho",
    "zero-stable": "the root condition: every root of rho in the closed unit disk, those on the circle simple",
    "strongly-zero-stable": "zeta = 1 the only root of rho on the unit circle (informative)",
    "gradient-term": "every c_F finite and some c_F nonzero: a gradient term reaches the limit ODE",
    "evaluation-points": "every block sees the state itself on the slow mode (informative)",
    "frozen-layers": "each layer of the network, its coefficients frozen, passes on its own",
    "limit": "the layers' limit k -> oo passes, where the coefficients have one",
    "finite-coefficients": "every coefficient is a finite float64 at every layer asked for",
    "param-region": "a learnable param's initial value lies in its region (informative)",
}

GUARANTEED, NOT_GUARANTEED = "guaranteed", "not_guaranteed"


def conditions(net: Network, output: str, functions, params: tuple[ParamFacts, ...], text: Text) -> list[Condition]:
    """Every condition, in the order the report lists them."""
    rows = shown(net.main, output, functions, net.steps_initial, net.scales, net.where, text)
    if net.varying:  # the layers and the limit decide; the rows above describe the limit or the last layer
        rows = [dataclasses.replace(c, required=False) for c in rows]
        rows += layer_conditions(net, functions, text)
    return rows + region_conditions(params)


def verdict(rows: list[Condition]) -> tuple[tuple[str, ...], str]:
    """The reasons (the whys of the failing required conditions) and the verdict."""
    reasons = tuple(c.why for c in rows if c.required and not c.ok)
    return reasons, NOT_GUARANTEED if reasons else GUARANTEED


def shown(n: Numeric, x: str, functions, symbolic_steps, scales, where: Where, text: Text) -> list[Condition]:
    """The conditions at the values shown for the whole network (`n`, taken at `where`)."""
    prefix = where.prefix
    rows = [
        Condition("consistent", "consistent", n.consistent, prefix + _consistency_why(n)),
        Condition("zero-stable", "zero-stable", n.roots.zero_stable, prefix + _stability_why(n)),
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
    if scales is not None:
        odd = {f: s for f, s in scales.items() if s != [1]}
        seen = [f"T_{f} sees {', '.join(scaled(v, x, text) for v in s)}, not {x}" for f, s in odd.items()]
        why = "; ".join(seen) if odd else f"every block sees the state {x} itself"
        rows.append(Condition("evaluation-points", "evaluation points", not odd, prefix + why, False))
    return rows


def layer_conditions(net: Network, functions, text: Text) -> list[Condition]:
    """The frozen layers, the limit k -> oo, and the layers whose coefficients overflow float64."""
    rows = [_frozen_layers(net.layers, functions, net.depth, text), _limit_condition(net, functions, text)]
    if net.computed < net.depth:
        names = ", ".join(net.schedule.overflowing(net.computed))
        why = f"{names} exceeds the float64 range: layers {net.computed}-{net.depth - 1} of {net.depth} overflow"
        rows.append(Condition("finite-coefficients", "finite coefficients", False, why))
    return rows


def region_conditions(params: tuple[ParamFacts, ...]) -> list[Condition]:
    """For each learnable param with a region: is its initial value inside (informative)?"""
    rows = []
    for p in params:
        if p.region is not None and p.region.text is not None:
            inside = p.region.initial_inside
            why = f"initial value {p.value} {'in' if inside else 'outside'} the region {p.region.text}"
            rows.append(Condition("param-region", f"{p.name} in its region", bool(inside), why, required=False))
    return rows


# Layers and the limit ----------------------------------------------------------------------------------------------


def _frozen_layers(layers, functions, depth: int, text: Text) -> Condition:
    failing = [(layer, n) for layer, n in layers if n is None or not n.guaranteed]
    if not failing:
        finite = "" if len(layers) == depth else " with finite coefficients"
        why = f"each of the {len(layers)} layers{finite} passes on its own"
        return Condition("frozen-layers", "frozen layers", True, why)
    first = failing[0][1]
    if first is None:
        failure = "a coefficient has no finite value (division by zero)"
    else:
        failure = _first_failure(dataclasses.replace(first, roots=root_facts(first.rho)), functions, (), text)
    where = _ranges([layer for layer, _ in failing])
    why = f"at layer{'s' if len(failing) > 1 else ''} {where} of {depth}: {failure}"
    return Condition("frozen-layers", "frozen layers", False, why)


def _limit_condition(net: Network, functions, text: Text) -> Condition:
    limit = net.limit
    if limit is None:
        return Condition("limit", "limit k -> oo", True, "the coefficients have no limit: only the layers count")
    if limit.guaranteed:
        return Condition("limit", "limit k -> oo", True, f"rho tends to {factored(limit.rho, text)}")
    all_consistent = all(n is not None and n.consistent for _, n in net.layers)
    if all_consistent and limit.rho_at_one == 0 and limit.slope_at_one == 0:
        slope = sp.factor(sp.cancel(sp.diff(net.rho_initial.as_expr(), ZETA).subs(ZETA, 1)))
        why = (
            f"rho'(1) = {text(slope)} tends to 0 as k -> oo, so zeta = 1 becomes a double root and the effective"
            " step grows without bound: the layers approximate a second-order ODE (x'' + a(t)*x' = -c*T(x), as"
            " Nesterov's momentum does), not x' = -c*T(x)"
        )
    else:
        why = f"as k -> oo: {_first_failure(limit, functions, net.steps_initial, text)}"
    return Condition("limit", "limit k -> oo", False, why)


def _ranges(layers: list[int]) -> str:
    """`0, 5-9`: the layers as ranges."""
    parts, start = [], None
    for i, layer in enumerate(layers):
        if start is None:
            start = layer
        if i + 1 == len(layers) or layers[i + 1] != layer + 1:
            parts.append(str(start) if start == layer else f"{start}-{layer}")
            start = None
    return ", ".join(parts)


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


def _consistency_why(n: Numeric) -> str:
    if n.rho_at_one != 0:
        return (
            f"rho(1) = {sp.sstr(n.rho_at_one)} != 0: zeta = 1 is not a root of rho, so a constant state is not kept"
            " and the layers approximate no ODE (inconsistent)"
        )
    if n.slope_at_one == 0:
        return (
            "zeta = 1 is a multiple root of rho (rho'(1) = 0): the principal root has no first-order term, so the"
            " effective step c_F is infinite"
        )
    return f"zeta = 1 is a simple root of rho (rho'(1) = {sp.sstr(n.slope_at_one)})"


def _stability_why(n: Numeric) -> str:
    bad = n.roots.offending
    if n.roots.zero_stable or not bad:
        return "every root has |zeta| <= 1 and the roots on the unit circle are simple"
    root = bad[0]
    if root.outside:
        modulus = sp.nsimplify(root.modulus) if root.modulus.is_rational else f"{float(root.modulus):.6g}"
        return f"the root zeta = {render_root(root)} has |zeta| = {modulus} > 1: errors grow like |zeta|^k"
    return (
        f"the root zeta = {render_root(root)} on the unit circle has multiplicity {root.multiplicity}: errors grow"
        " like k^" + str(root.multiplicity - 1)
    )
