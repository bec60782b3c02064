"""Polynomial roots by the Aberth-Ehrlich iteration, in floats or in mpmath's precision: shared by the verdict's
root analysis (`analysis/roots.py`, which starts it on the Newton polygon's circles and refines the result) and the
inverse's round-off estimate (`inverse.py`, which needs the moduli of the roots in floats)."""

from __future__ import annotations

import math


def aberth(monic: list, starts: list, tolerance, iterations: int = 500) -> list:
    """The roots of a monic polynomial (coefficients highest first) by the Aberth-Ehrlich iteration from `starts`,
    in floats or in mpmath's current precision (the numbers' type), until no root moves by more than `tolerance` of
    its modulus; [] where the numbers overflow or the roots do not settle in `iterations` sweeps."""
    zs = list(starts)
    for _ in range(iterations):
        moved = False
        for i, z in enumerate(zs):
            p, dp = horner(monic, z)
            if p == 0:
                continue
            ratio = p / dp if dp != 0 else complex(math.inf)
            # iterates that meet (near a multiple root) do not repel each other
            repulsion = sum(1 / (z - w) for j, w in enumerate(zs) if j != i and w != z)
            delta = ratio / (1 - ratio * repulsion)
            if not abs(delta) < math.inf:  # inf or nan
                return []
            zs[i] = z - delta
            moved = moved or abs(delta) > tolerance * abs(z)
        if not moved:
            return zs
    return []


def horner(coefficients: list, z):
    """The polynomial with these coefficients (highest first) and its derivative at z."""
    p, dp = coefficients[0] * 0, coefficients[0] * 0
    for c in coefficients:
        dp = dp * z + p
        p = p * z + c
    return p, dp
