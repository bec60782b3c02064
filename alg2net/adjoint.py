"""A layer's arithmetic run backwards for the gradients (memory.md, `--memory reversible`): reverse-mode
differentiation of the update rules, with the blocks left to autograd.

Assumes a `LearnableForm` from `alg2net.derive`, whose updates are linear combinations of states, auxiliaries and
block outputs with scalar coefficients (the language refuses anything else). Guarantees an `Adjoint` when the
algorithm is explicit and every block is called at a state before the layer (the points `_inverse_step` rebuilds
and records the blocks at), with no prox, and no learnable param inside `min`, `max` or `abs`; otherwise None, and
the generated module differentiates a rerun of the layer instead. `gradient(entry)` stands for the gradient of the
loss by the value `entry` (`x[k+1]`, `T_f(x[k])`); the adjoint writes those of the states before the layer and of
the block outputs in terms of those of the states after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from alg2net.derive import LearnableForm, is_block, param_entries, vector

gradient = sp.Function("gradient")


@dataclass(frozen=True, slots=True)
class Adjoint:
    """One layer backwards: `statements` in order (`(entry, value)`: `gradient(entry)` becomes `value`), then the
    gradients of the states before the layer (`results`, one for each of `before`), of the block outputs (`blocks`,
    by block call) and of the learnable params' values at the layer (`params`, by param entry: `beta`, `mu[k]`).
    A param's is a vector whose sum is the gradient; the values it reads are the states' and the block outputs'."""

    after: tuple[sp.Indexed, ...]  # the states after the layer, whose gradients are given: x[k+1], x[k], ..., y[k+1]
    before: tuple[sp.Indexed, ...]  # those before it, in the same order: x[k], x[k-1], ..., y[k]
    statements: tuple[tuple[sp.Basic, sp.Expr], ...]
    results: tuple[sp.Expr, ...]
    blocks: tuple[tuple[sp.Expr, sp.Expr], ...]
    params: tuple[tuple[sp.Basic, sp.Expr], ...]


def adjoint(form: LearnableForm) -> Adjoint | None:
    """The reverse-mode pass through one layer of `form`'s updates, or None where the module document says."""
    model = form.model
    if any(step.implicit for step in form.steps):
        return None
    lags = form.lags()
    before = tuple(vector(s, -j) for s in model.states for j in range(lags[s] + 1))
    after = tuple(vector(s, 1 - j) for s in model.states for j in range(lags[s] + 1))
    vectors = set(model.states) | set(model.auxiliaries)
    learnable = [e for p in form.params if p.definition.learnable for e in param_entries(p.definition)]
    definitions: dict[sp.Basic, sp.Expr] = {}  # each auxiliary in terms of states and block outputs
    for step in form.steps:
        if step.offset == 0:
            definitions[step.lhs] = step.value.xreplace(definitions)
    gradients: dict[sp.Basic, sp.Expr] = {entry: gradient(entry) for entry in after}
    statements, blocks, params = [], {}, {}
    for step in reversed(form.steps):
        calls = list(step.value.atoms(AppliedUndef))
        if any(not is_block(c) or c.args[0] not in before for c in calls):
            return None  # a prox, or a block at a point the layer computes
        terms = sorted(calls, key=sp.default_sort_key) + sorted(
            (e for e in step.value.atoms(sp.Indexed) if str(e.base) in vectors), key=sp.default_sort_key
        )
        coefficients = _coefficients(step.value, terms)
        outer = gradients.pop(step.lhs, sp.S.Zero)
        used = [(term, c) for term, c in zip(terms, coefficients) if c != 0]
        by_params = [(entry, d) for entry in learnable if (d := _derivative(coefficients, terms, entry)) != 0]
        if any(d.has(sp.Heaviside, sp.sign) for _, d in by_params):
            return None  # a learnable param inside min, max or abs: its derivative has no Python form here
        if outer == 0:
            continue
        if len(used) + len(by_params) > 1 and not _is_gradient(outer):  # a sum read more than once is written once
            statements.append((step.lhs, outer))
            outer = gradient(step.lhs)
        for term, coefficient in used:
            into = blocks if is_block(term) else gradients
            into[term] = into.get(term, sp.S.Zero) + coefficient * outer
        for entry, derivative in by_params:
            params[entry] = params.get(entry, sp.S.Zero) + outer * derivative.xreplace(definitions)
    results = tuple(gradients.pop(entry, sp.S.Zero) for entry in before)
    return Adjoint(
        after,
        before,
        tuple(statements),
        results,
        tuple(sorted(blocks.items(), key=_first_key)),
        tuple(sorted(params.items(), key=_first_key)),
    )


def _derivative(coefficients: list[sp.Expr], terms: list[sp.Basic], entry: sp.Basic) -> sp.Expr:
    """d/d entry of the combination of `terms` with `coefficients`, each coefficient's derivative factored; the param
    entry stands alone (`mu[k+1]` is not `mu[k]`)."""
    stand_in = sp.Dummy()
    derivatives = [sp.factor(sp.diff(c.xreplace({entry: stand_in}), stand_in)) for c in coefficients]
    return sum((d * t for d, t in zip(derivatives, terms)), sp.S.Zero).xreplace({stand_in: entry})


def _coefficients(value: sp.Expr, terms: list[sp.Basic]) -> list[sp.Expr]:
    """The coefficient of each of `terms` in `value`, a linear combination of them."""
    stand_ins = [sp.Dummy() for _ in terms]
    linear = value.xreplace(dict(zip(terms, stand_ins)))  # a block call whole, with the point inside it
    return [sp.diff(linear, d) for d in stand_ins]


def _is_gradient(expr: sp.Basic) -> bool:
    return isinstance(expr, sp.Expr) and expr.func == gradient


def _first_key(item: tuple[sp.Basic, sp.Expr]):
    return sp.default_sort_key(item[0])
