"""Stage 4, analyse: the multistep analysis behind `alg2net check`, returning `CheckFacts` (see `check`)."""

from alg2net.analysis.check import check
from alg2net.analysis.facts import CheckFacts

__all__ = ["CheckFacts", "check"]
