"""A network whose trained per-layer values fix its depth (`check --weights` with a learnable schedule): every layer
0 .. L - 1 frozen at its values and judged on its own.

Assumes the params at their trained values (`params.at_trained`: a learnable schedule's L values under `trained`),
rho and the c_F with the learnable params kept symbolic, and the layer's state space. Each layer is decided exactly
(`multistep.Frozen`, rational arithmetic at the exact binary values of the trained floats). Frozen layers that each
pass bound the product of the layers' matrices where at most one root of rho besides 1 and the structural zeros can
move (`every_layer`'s argument) or where rho is the same at every layer; otherwise a layer must also be strongly
zero-stable (every root but 1 strictly inside the unit circle), and one that is only zero-stable fails as undecided.
A layer also fails where a block sees 0*x there: a scale of the evaluation points, found with the per-layer values
kept symbolic, that vanishes at the layer's values. Guarantees a `Network` with `fixed_depth` L, its layers, the ones that fail (`failing`), and the facts shown for the
whole network at the first failing layer with finite coefficients (else the last layer).
"""

from __future__ import annotations

import math

import sympy as sp

from alg2net.analysis import multistep, points
from alg2net.analysis.limits import Network, Schedule, Where, main_facts, recurrence_values
from alg2net.analysis.multistep import Numeric
from alg2net.analysis.params import Params
from alg2net.analysis.reduce import ZETA, StateSpace
from alg2net.derive import LearnableForm


def fixed_network(params: Params, space: StateSpace, rho: sp.Poly, steps: tuple[sp.Expr, ...]) -> Network:
    """Layers 0 .. L - 1 at the trained values of `params` (L the length of the trained schedules)."""
    depth = len(next(iter(params.trained.values())))
    constants = {s: v for s, v in params.learnable.items() if s not in params.trained}
    rho_c = sp.Poly([c.xreplace(constants) for c in rho.all_coeffs()], ZETA)
    steps_c = tuple(c.xreplace(constants) for c in steps)
    schedule = Schedule(constants, params.recurrences, recurrence_values(params.recurrences, depth + 1), params.trained)
    frozen = multistep.Frozen(rho_c, steps_c, (*params.per_layer, *params.trained))
    computed = schedule.computed(depth)
    layers = [(k, _at(frozen, schedule.values_at(k)) if k < computed else None) for k in range(depth)]
    strict = moving(rho_c) > 1 and len({tuple(n.rho.all_coeffs()) for _, n in layers if n is not None}) > 1
    generic = points.seen(space.at(constants))
    failing = tuple(
        k
        for k, n in layers
        if n is None
        or not n.guaranteed
        or (strict and not n.roots.strongly_stable)
        or zero_scale(generic, schedule.values_at(k)) is not None
    )
    shown = next((k for k in failing if layers[k][1] is not None), None)
    if shown is None:
        shown = max((k for k, n in layers if n is not None), default=0)
    where = Where(f"at the trained values, layer {shown}", schedule.values_at(shown))
    main = main_facts(rho, steps, where, True)
    scales = points.seen(space.at(where.values))
    return Network(
        depth, True, rho_c, steps_c, schedule, layers, None, (), where, main, scales, generic, depth, failing
    )


def undefined(form: LearnableForm, params: Params, depth: int) -> tuple[int | None, sp.Expr, sp.Expr] | None:
    """The first layer (None: every layer) where a part of the layer's coefficients that depends on the trained
    values has no finite real value there, with that part and its value: `sqrt(beta)` at beta = -0.25 is I/2, and
    the network computes nan; None where every part is finite and real. A schedule fixes the depth; otherwise the
    layers 0 .. depth - 1 are scanned where k or a recurrence enters."""
    trained = set(params.learnable)
    parts: dict = {}
    for step in form.steps:
        for node in sp.preorder_traversal(step.value.xreplace(params.substitution)):
            if isinstance(node, sp.Expr) and node.free_symbols & trained and not node.is_Symbol:
                parts.setdefault(node, None)
    constants = {s: v for s, v in params.learnable.items() if s not in params.trained}
    bad = _first_bad(parts, constants)
    if bad is not None or not any(p.free_symbols & (set(params.per_layer) | set(params.trained)) for p in parts):
        return None if bad is None else (None, *bad)
    depth = len(next(iter(params.trained.values()))) if params.trained else depth
    sequences = recurrence_values(params.recurrences, depth + 1)
    schedule = Schedule(constants, params.recurrences, sequences, params.trained)
    for k in range(min(depth, schedule.computed(depth))):
        bad = _first_bad(parts, schedule.values_at(k))
        if bad is not None:
            return (k, *bad)
    return None


def _first_bad(parts, values: dict) -> tuple[sp.Expr, sp.Expr] | None:
    for part in parts:
        value = part.xreplace(values)
        if value.is_number and not _finite_real(value):
            return part, value
    return None


def _finite_real(value: sp.Expr) -> bool:
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return False
    number = complex(value.evalf(30))
    return math.isfinite(number.real) and abs(number.imag) <= 1e-25 * max(1.0, abs(number.real))


def zero_scale(generic, values: dict) -> str | None:
    """The function one of whose blocks sees 0*x at a layer with `values`: a scale of the evaluation points (with
    the per-layer values kept symbolic) that vanishes there; None where none does."""
    if not isinstance(generic, dict):
        return None
    for function, scales in generic.items():
        if any(s.free_symbols and sp.cancel(s.xreplace(values)) == 0 for s in scales):
            return function
    return None


def moving(rho: sp.Poly) -> int:
    """The roots of rho besides 1 and the structural zeros (rho = zeta^j*(...) whatever the values)."""
    coefficients, zeros = rho.all_coeffs(), 0
    while zeros < len(coefficients) - 1 and coefficients[-1 - zeros] == 0:
        zeros += 1
    return max(rho.degree() - 1 - zeros, 0)


def _at(frozen: multistep.Frozen, values: dict) -> Numeric | None:
    """The facts of one layer; None where its coefficients are not finite."""
    try:
        return frozen.at(values)
    except multistep.NotFinite:
        return None
