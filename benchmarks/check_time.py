"""Time `alg2net check` on every example, as a user runs it: a subprocess, Python start-up included.

Usage: python benchmarks/check_time.py [--repeat N]. Prints the best of N wall-clock times per example (target:
under 1 s each) and exits 1 if any example is over the target.

With --scaling: times against program size for three families of generated programs (a chain of n auxiliaries over
three functions, n coupled states, one state with a lag x[k-n]), each run as `alg2net check` would run it (a fresh
interpreter), with the check's own time measured inside it; fits the growth exponent e of t ~ n^e (least squares of
log t against log n) for both, and exits 1 if a program is over 2 s at the sizes the issue quoted. --timeout stops a
run that takes too long (it shows as `>T`, and the fit leaves it out). --skip-reversal leaves out the reversal section
of the check (memory.md's inverse, computed by alg2net.inverse on the whole layer), to time the multistep analysis
alone.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _timing import ROOT, time_cli

sys.path.insert(0, str(ROOT / "tests"))
from scaling_programs import chain, coupled, lag  # the tests' folder, just put on the path

TARGET_S = 1.0
SCALING_TARGET_S = 2.0
# family: (generator, sizes, the sizes the issue quoted, which must be under SCALING_TARGET_S)
FAMILIES: dict[str, tuple[Callable[[int], str], tuple[int, ...], tuple[int, ...]]] = {
    "chain": (chain, (5, 10, 20, 40), (20, 40)),
    "coupled": (coupled, (4, 8, 16, 30), (16, 30)),
    "lag": (lag, (10, 20, 40, 60), (60,)),
}

_IN_PROCESS = (
    "import sys, time, alg2net\n"
    "if sys.argv[2:] == ['skip-reversal']:\n"
    "    from alg2net.analysis.reversal import ReversalFacts\n"
    "    check = sys.modules['alg2net.analysis.check']\n"
    "    check.reversal = lambda form, depth: ReversalFacts(False, 'skipped', (), (), None, None, None, depth)\n"
    "text = open(sys.argv[1]).read()\n"
    "start = time.perf_counter()\n"
    "alg2net.check_source(text)\n"
    "print(time.perf_counter() - start)\n"
)


def time_check(path: Path, repeat: int) -> tuple[float, int]:
    """The best of `repeat` wall-clock times of `alg2net check PATH`, and its exit status."""
    seconds, result = time_cli(["check", str(path)], repeat)
    return min(seconds), result.returncode


def time_program(text: str, repeat: int, timeout: float, skip: bool = False) -> tuple[float, float] | None:
    """The best of `repeat` runs of the check of `text` in a fresh interpreter: (wall seconds, Python start-up
    included; seconds inside `check_source`); None where a run takes longer than `timeout` seconds."""
    with tempfile.NamedTemporaryFile("w", suffix=".alg", delete=False) as file:
        file.write(text)
    walls, inside = [], []
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            command = [
                sys.executable,
                "-W",
                "ignore",
                "-c",
                _IN_PROCESS,
                file.name,
                *(["skip-reversal"] if skip else []),
            ]
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=True)
            walls.append(time.perf_counter() - start)
            inside.append(float(result.stdout.split()[-1]))
    except subprocess.TimeoutExpired:
        return None
    finally:
        Path(file.name).unlink()
    return min(walls), min(inside)


def exponent(sizes: list[int], seconds: list[float]) -> float | None:
    """The slope of log t against log n (least squares); None with fewer than two points."""
    if len(sizes) < 2:
        return None
    xs, ys = [math.log(n) for n in sizes], [math.log(t) for t in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def scaling(repeat: int, timeout: float, skip: bool = False) -> int:
    """Time every family at every size, print the table and the exponents; the number of quoted sizes over target."""
    over = 0
    print(f"{'family':<8} {'n':>4} {'wall s':>8} {'check s':>8}")
    for name, (generate, sizes, quoted) in FAMILIES.items():
        measured: list[tuple[int, float, float]] = []
        for n in sizes:
            times = time_program(generate(n), repeat, timeout, skip)
            if times is None:
                print(f"{name:<8} {n:>4} {'>' + format(timeout, 'g'):>8} {'':>8}")
                over += n in quoted
                continue
            wall, inside = times
            late = n in quoted and wall > SCALING_TARGET_S
            over += late
            print(f"{name:<8} {n:>4} {wall:>8.2f} {inside:>8.2f}{'   over target' if late else ''}")
            measured.append((n, wall, inside))
        fits = [exponent([m[0] for m in measured], [m[i] for m in measured]) for i in (1, 2)]
        texts = ["-" if e is None else f"{e:.2f}" for e in fits]
        print(f"{name:<8} growth exponent: wall {texts[0]}, check {texts[1]}")
    print(f"target: under {SCALING_TARGET_S:.0f} s at the quoted sizes; {over} over")
    return over


def main() -> int:
    """Time every example (or, with --scaling, the generated families); exit status 1 if any is over the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per example; the best is reported (default: 3)")
    parser.add_argument("--scaling", action="store_true", help="time generated programs of growing size instead")
    parser.add_argument("--timeout", type=float, default=300, help="seconds before a --scaling run is stopped")
    parser.add_argument(
        "--skip-reversal",
        action="store_true",
        help="with --scaling: leave out the reversal section (alg2net.inverse), to time the multistep analysis alone",
    )
    args = parser.parse_args()
    if args.scaling:
        return 1 if scaling(args.repeat, args.timeout, args.skip_reversal) else 0
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
