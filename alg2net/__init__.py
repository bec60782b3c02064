"""alg2net: compile optimization algorithms, written as update rules, into PyTorch networks."""

from __future__ import annotations

__version__ = "0.1.0"

from alg2net.api import compile_source, load  # noqa: E402
from alg2net.errors import Alg2NetError  # noqa: E402

__all__ = ["Alg2NetError", "__version__", "compile_source", "load"]
