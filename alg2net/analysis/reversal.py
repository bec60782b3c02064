"""The `reversal` section of `alg2net check` (memory.md): can the network be run backwards, and at what round-off.

Assumes a `LearnableForm`. Guarantees a frozen `ReversalFacts` made from `alg2net.inverse` (the derived inverse
and the round-off amplification a^L at z = 0), with the JSON object of memory.md and the report's lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from alg2net.derive import LearnableForm
from alg2net.inverse import amplification, invert


@dataclass(frozen=True, slots=True)
class ReversalFacts:
    invertible: bool
    blocked_by: str | None
    inverse: tuple[str, ...]  # the backward iteration in the language's notation
    conditions: tuple[str, ...]  # `beta != 0`
    amplification: str | None  # a^L symbolically, `(1/abs(beta))^L`
    amplification_value: float | None  # a^depth at the initial values; None where it overflows
    anchor_every: int | None  # memory.md's spacing at depth layers
    depth: int = 100  # the layers `amplification_value` and `anchor_every` are for; not in the JSON

    def to_json(self) -> dict:
        return {
            "invertible": self.invertible,
            "blocked_by": self.blocked_by,
            "inverse": list(self.inverse),
            "conditions": list(self.conditions),
            "amplification": self.amplification,
            "amplification_value": self.amplification_value,
            "anchor_every": self.anchor_every,
        }

    def lines(self) -> list[str]:
        """The report's `reversal` section."""
        if not self.invertible:
            return [f"  not invertible: {self.blocked_by}"]
        lines = [f"  {line}" for line in self.inverse]
        if self.conditions:
            lines.append(f"  where {', '.join(self.conditions)}")
        value = "beyond float64" if self.amplification_value is None else f"{self.amplification_value:.3g}"
        lines.append(
            f"  round-off amplification: {self.amplification}, {value} over {self.depth} layers at the initial values"
        )
        lines.append(f"  anchor every {self.anchor_every} layers (float32 reconstruction error under 1e-4)")
        return lines


def reversal(form: LearnableForm, depth: int) -> ReversalFacts:
    """The reversal facts of `form` for a network of `depth` layers."""
    inverse = invert(form)
    if not inverse.invertible:
        return ReversalFacts(False, inverse.blocked_by, (), (), None, None, None, depth)
    growth = amplification(form)
    return ReversalFacts(
        True,
        None,
        tuple(inverse.lines()),
        tuple(inverse.condition_texts()),
        growth.text(),
        growth.value(depth),
        growth.anchor_every(depth),
        depth,
    )
