"""Code generation of the memory modes (memory.md): which mode an algorithm allows, its inverse, and the anchors.

Assumes a `LearnableForm` and checked `Options`. Guarantees a `MemoryPlan` for `describe`, or a located
`Alg2NetError`: `checkpoint` and `reversible` need an explicit algorithm (code `memory-mode`), `reversible` an
invertible one whose inverse does not divide by zero at the initial param values (code `not-invertible`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from alg2net.adjoint import Adjoint, adjoint
from alg2net.codegen.options import Options
from alg2net.derive import LearnableForm
from alg2net.errors import fail
from alg2net.inverse import Inverse, amplification, initial_values, invert
from alg2net.ir import NOWHERE, Span

# The module's anchors keep the estimated float32 reconstruction error under 1e-6 rather than memory.md's 1e-4 (which
# `check` reports): the estimate leaves the blocks out, and with them heavy ball's gradients at depth 100 were 1e-2
# off at 1e-4's spacing, 1e-4 off at this one.
MODULE_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    """The memory mode of the generated module; for `reversible`, the inverse, the anchor spacing and, where there is
    one, the adjoint that takes the gradients back through a layer's arithmetic."""

    mode: str
    inverse: Inverse | None = None
    adjoint: Adjoint | None = None
    anchor_every: int | None = None  # None: round-off does not grow, one anchor (the input) suffices
    amplification: float = 1.0  # a: the factor by which one layer backwards can grow a rounding error


def plan_memory(form: LearnableForm, options: Options) -> MemoryPlan:
    """The plan for `options.memory`, or the located error that refuses it."""
    mode = options.memory
    if mode == "autograd":
        return MemoryPlan(mode)
    implicit = [i for i, step in enumerate(form.steps) if step.implicit]
    if implicit:
        raise fail(
            "memory-mode",
            f"--memory {mode} needs an explicit algorithm; this update is a fixed-point solve",
            _span(form, form.steps[implicit[0]].target),
            hint="compile with --memory autograd (the implicit steps already backpropagate in constant memory)",
        )
    if mode == "checkpoint":
        return MemoryPlan(mode)
    inverse = invert(form)
    if not inverse.invertible:
        raise fail(
            "not-invertible",
            f"--memory reversible needs an invertible algorithm: {inverse.blocked_by}",
            _blocked_span(form, inverse.blocked_by or ""),
            hint="compile with --memory checkpoint",
        )
    values = initial_values(form)
    for condition in inverse.conditions:
        if sp.simplify(condition.xreplace(values)) == 0:
            raise fail(
                "not-invertible",
                f"--memory reversible: the inverse divides by {condition}, which is 0 at the initial param values",
                _span(form, _state_of(form, condition)),
                hint="compile with --memory checkpoint, or start the param away from 0",
            )
    growth = amplification(form)
    return MemoryPlan(mode, inverse, adjoint(form), growth.spacing(MODULE_TOLERANCE), growth.factor)


def _state_of(form: LearnableForm, expr: sp.Expr) -> str | None:
    """The first state whose update holds `expr` (where a condition comes from)."""
    for step in form.steps:
        if step.offset == 1 and any(step.value.has(s) for s in expr.free_symbols | expr.atoms(sp.Indexed)):
            return step.target
    return None


def _blocked_span(form: LearnableForm, reason: str) -> Span:
    """The update the inverse is blocked in: the one `reason` names as `the update of x[k+1]`."""
    for step in form.steps:
        if f"update of {step.target}[k" in reason:
            return _span(form, step.target)
    return NOWHERE


def _span(form: LearnableForm, target: str | None) -> Span:
    for update in form.model.updates:
        if update.target == target:
            return update.span
    return NOWHERE
