"""alg2net: compile optimization algorithms, written as update rules, into PyTorch networks."""

from __future__ import annotations

__version__ = "0.1.0"

from alg2net.api import check_source, compile_source, load
from alg2net.errors import Alg2NetError, Alg2NetWarning

__all__ = ["Alg2NetError", "Alg2NetWarning", "__version__", "check_source", "compile_source", "load"]
