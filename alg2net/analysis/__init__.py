"""Stage 4, analyse: the multistep analysis behind `alg2net check` (reduce, linear test, regions, report)."""

from __future__ import annotations

from alg2net.pipeline import learnable_form


def check_source(text: str, depth: int = 100, filename: str = "<input>") -> dict:
    """The facts of `alg2net check --json` for `text`."""
    from alg2net.analysis.check import check

    return check(learnable_form(text, filename), depth)
