"""Time `alg2net check` on every example, as a user runs it: a subprocess, Python start-up included.

Usage: python benchmarks/check_time.py [--repeat N]. Prints the best of N wall-clock times per example (target:
under 1 s each) and exits 1 if any example is over the target.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0


def time_check(path: Path, repeat: int) -> tuple[float, int]:
    best, status = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "alg2net", "check", str(path)], cwd=ROOT, capture_output=True, check=False
        )
        best = min(best, time.perf_counter() - start)
        status = result.returncode
    return best, status


def main() -> int:
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
