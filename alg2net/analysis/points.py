"""Where each block is evaluated, as the output sees it: check.md's evaluation points.

Assumes a `StateSpace` (`alg2net.analysis.reduce`). With the blocks switched off (z = 0) the layer keeps the states
of its slow modes, the fixed vectors of M(0) (the eigenvalue 1); every other mode is a transient or a parasitic
oscillation, which the root condition keeps bounded and the limit h -> 0 does not see. So in the limit a block's
argument p is a combination of the output's own lags exactly when, on the slow modes, p is a multiple s of the
output (then the limit field is T_F(s*x)); the output itself must see the slow modes. A velocity or a difference
returned as output sees none of them (v -> 0, d -> 0 on a fixed vector), and a block that reads another slow state
than the output is not determined by the output. Guarantees `seen`: each function's scales s, or the first block
where this fails (`Unseen`), or None where M(0) has no fixed vector (the scheme is not consistent; other conditions
say so). Where the coefficients keep symbols the answer is the generic one (over rational functions in them).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from alg2net.analysis.reduce import Atom, StateSpace


@dataclass(frozen=True)
class Unseen:
    """A block of `function` evaluated at `point` (at z = 0), which no combination of the output's lags is in the
    limit; `blind`: the output itself does not follow the slow modes."""

    function: str
    point: tuple[tuple[Atom, sp.Expr], ...]
    blind: bool


def seen(space: StateSpace) -> dict[str, list[sp.Expr]] | Unseen | None:
    """For each function, the distinct scales with which its blocks see the output (see the module)."""
    at_zero = {v: 0 for v in space.variables}
    space = space.at(at_zero)  # in the coefficients' field: the expressions below are small
    matrix = space.matrix.xreplace(at_zero) - sp.eye(len(space.slots))
    modes = [v.applyfunc(sp.cancel) for v in matrix.nullspace()]
    if not modes:
        return None
    output = [mode[space.output] for mode in modes]
    index = {slot: i for i, slot in enumerate(space.slots)}
    scales: dict[str, list[sp.Expr]] = {}
    for block in space.points:
        point = tuple((atom, sp.cancel(c.xreplace(at_zero))) for atom, c in block.point)
        if any(atom not in index for atom, c in point if c != 0):
            return Unseen(block.function, point, False)
        values = [sp.cancel(sum((c * mode[index[atom]] for atom, c in point), sp.Integer(0))) for mode in modes]
        scale = _ratio(values, output)
        if scale is None:
            return Unseen(block.function, point, all(o == 0 for o in output))
        if scale not in scales.setdefault(block.function, []):
            scales[block.function].append(scale)
    return scales


def _ratio(values: list[sp.Expr], output: list[sp.Expr]) -> sp.Expr | None:
    """The s with values = s*output, None if there is none (or output is 0)."""
    pivot = next((i for i, o in enumerate(output) if o != 0), None)
    if pivot is None:
        return None
    scale = sp.factor(sp.cancel(values[pivot] / output[pivot]))
    if any(sp.cancel(v - scale * o) != 0 for v, o in zip(values, output)):
        return None
    return scale


def written(point: tuple[tuple[Atom, sp.Expr], ...], text) -> str:
    """The argument at z = 0 as the algorithm writes it: `v[k]`, `x[k] - x[k-1]`."""
    total = sp.Integer(0)
    for (name, offset), c in point:
        total += c * sp.Symbol(f"{name}[k{offset:+d}]" if offset else f"{name}[k]")
    return text(total)
