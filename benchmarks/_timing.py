"""Timing the command line as a user runs it: `python -m alg2net ...` in a subprocess, Python start-up included.

Shared by check_time.py and overhead.py (each imports it as `_timing`: a script's own folder is on sys.path).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def time_cli(arguments: Sequence[str], repeat: int) -> tuple[list[float], subprocess.CompletedProcess[bytes]]:
    """Wall-clock seconds of each of `repeat` runs of `python -m alg2net ARGUMENTS` from the repository root.

    Returns the times and the last run's result (exit status and captured output), for the caller to check.
    """
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "alg2net", *arguments], cwd=ROOT, capture_output=True, check=False
        )
        seconds.append(time.perf_counter() - start)
    return seconds, result
