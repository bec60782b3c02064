"""A network's learnable params at their trained values (guarantee.md, `check --weights`), as the analysis takes them.

Assumes values already read and matched against the algorithm (`alg2net.weights`): exact rationals, the binary value
of each trained float, and finite. Guarantees `Trained`, the plain values `check` judges: a learnable constant's one
value, a learnable schedule's value at each layer 0 .. L - 1 (its length fixes the network's depth L). Also the
texts the report writes them with: the shortest decimal that reads back as the same float in the checkpoint's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


@dataclass(frozen=True, slots=True)
class TrainedValue:
    """One learnable param's trained value(s): one for a constant, one per layer for a schedule."""

    name: str
    schedule: bool
    values: tuple[sp.Rational, ...]
    texts: tuple[str, ...]  # each value as the shortest decimal that reads back as the same float


@dataclass(frozen=True, slots=True)
class Trained:
    """The trained values of every learnable param, read from the checkpoint at `path`."""

    path: str
    params: tuple[TrainedValue, ...]

    @property
    def depth(self) -> int | None:
        """The depth L that the learnable schedules fix (None: no learnable schedule, every depth)."""
        lengths = {len(p.values) for p in self.params if p.schedule}
        return lengths.pop() if lengths else None

    def value(self, name: str) -> TrainedValue:
        return next(p for p in self.params if p.name == name)
