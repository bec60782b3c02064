"""Stage 4, analyse: the multistep analysis behind `alg2net check` (reduce, linear test, regions, report)."""

from alg2net.analysis.check import check

__all__ = ["check"]
