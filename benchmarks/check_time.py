"""Time `alg2net check` on every example, as a user runs it: a subprocess, Python start-up included.

Usage: python benchmarks/check_time.py [--repeat N]. Prints the best of N wall-clock times per example (target:
under 1 s each) and exits 1 if any example is over the target.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _timing import ROOT, time_cli

TARGET_S = 1.0


def time_check(path: Path, repeat: int) -> tuple[float, int]:
    """The best of `repeat` wall-clock times of `alg2net check PATH`, and its exit status."""
    seconds, result = time_cli(["check", str(path)], repeat)
    return min(seconds), result.returncode


def main() -> int:
    """Time every example; exit status 1 if any is over the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per example; the best is reported (default: 3)")
    args = parser.parse_args()
    slow = 0
    print(f"{'example':<24} {'seconds':>8}  exit")
    for path in sorted((ROOT / "examples").glob("*.alg")):
        seconds, status = time_check(path, args.repeat)
        slow += seconds > TARGET_S
        print(f"{path.stem:<24} {seconds:>8.3f}  {status}{'   over target' if seconds > TARGET_S else ''}")
    print(f"target: under {TARGET_S:.0f} s each; {slow} over")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
