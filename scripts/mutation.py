"""Mutation testing of `alg2net/analysis`, `alg2net/codegen` and `alg2net/aberth.py` (the verdict's root finder) with
a pinned mutmut (not part of CI).

    pip install mutmut==3.8.1
    python scripts/mutation.py                          # every mutant (about 11,000: days on 2 cores)
    python scripts/mutation.py --sample 200 --seed 1    # a reproducible random sample of them
    python scripts/mutation.py NAME [NAME ...]          # (re)run these mutants (names or globs)
    mutmut show NAME                                    # the diff of a mutant

The configuration is `[tool.mutmut]` in pyproject.toml. mutmut copies the package, the tests, the grammars, the
templates and the examples into `mutants/` and runs, for each mutant, the tests that call the mutated function.
The tests that run `python -m alg2net` in a subprocess run the mutant too: PYTHONPATH puts `mutants/` ahead of the
editable install (which would import the unmutated package), and the subprocess inherits MUTANT_UNDER_TEST (but
see SITECUSTOMIZE). A full run keeps the results it already has, so it resumes; named or sampled mutants are
always rerun. Timeouts count as killed; mutants that no test reaches count as survivors; the kill rate leaves out
the mutants in EQUIVALENT (reviewed by hand: no test can tell them from the original).
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.metadata
import json
import math
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

PINNED = "3.8.1"
ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
# mutmut's exit codes (mutmut/stats.py) grouped into the verdicts this script reports.
VERDICTS = {0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests", None: "not checked"}
VERDICTS |= dict.fromkeys((24, -24, 36, 152, 255), "timeout")
# Mutant name -> why no test can tell it from the original (reviewed in the sample run of issue 11, at commit
# 61e2fa8; mutmut numbers the mutants of a function afresh when it changes, so review again after an edit: the
# entries of roots._aberth, roots._newton and check._order went when those functions changed).
EQUIVALENT: dict[str, str] = {
    "alg2net.analysis.constrain.x__candidates__mutmut_4": "a non-polynomial rho leaves a non-polynomial candidate",
    "alg2net.analysis.region.x__changes__mutmut_96": "the name of a dummy symbol, u or U, that no param shares",
    "alg2net.analysis.recurrences.x__fixed_points__mutmut_61": "evalf(None) sorts by 15 digits, as evalf(30) does",
    "alg2net.analysis.sequences.x_preimage__mutmut_25": "d*c is never 0 for an infinite c",
    # reviewed in the seed-2 sample (commit 20dd588)
    "alg2net.analysis.every_layer.x__in_k__mutmut_21": "`how` is shown only where every layer passes: here none is",
    "alg2net.analysis.every_layer.x__in_t__mutmut_31": "`how` is shown only where every layer passes: without a tail"
    " some layer is undecided",
    "alg2net.analysis.region.x__real_roots__mutmut_10": "the candidate's one symbol is p, which solveset then infers",
    "alg2net.analysis.sequences.x__real_zeros__mutmut_3": "differences of min/max arguments hold no symbol but m",
    # reviewed in the seed-3 sample (commit dc84c41)
    "alg2net.analysis.multistep.xǁFrozenǁat__mutmut_3": "substitution reaches the same rationals as the fast path",
    "alg2net.analysis.recurrences.x__fixed_points__mutmut_38": "a fast path: solveset finds the same real roots",
    "alg2net.analysis.reduce.x__polynomial__mutmut_5": "quo_ground(1) returns the polynomial unchanged",
    "alg2net.analysis.region.x__critical_points__mutmut_21": "a linear polynomial's discriminant is 1: no root",
    "alg2net.aberth.x_horner__mutmut_12": "p*z - c evaluates -P and -P': the steps P/P' are the same",
    "alg2net.codegen.describe.x__class_doc__mutmut_82": "break_on_hyphens=None is falsy, as False is",
    # reviewed in the seed-4 sample (commit 38d659b)
    "alg2net.analysis.check.x__limit_odes__mutmut_21": "without initial values space.at({}) is space itself, so"
    " net.generic is points.seen(space)",
    "alg2net.analysis.multistep.x__value__mutmut_13": "a number that holds zoo after cancel is zoo or nan (sums,"
    " products and powers absorb it)",
    "alg2net.analysis.roots.x__circle_count__mutmut_21": "a square-free self-reciprocal polynomial without the roots"
    " +-1 has even degree",
    "alg2net.analysis.sequences.x__normal__mutmut_16": "the exponents that reach _normal hold no symbol but m",
    # reviewed in the seed-5 sample (commit 3aafe7c)
    "alg2net.analysis.every_layer.x__in_t__mutmut_90": "a point's label is shown only beside another point; _in_t"
    " makes one",
    "alg2net.analysis.sequences.x__direction__mutmut_16": "the atom's one free symbol is m, which"
    " is_strictly_increasing then infers",
    "alg2net.analysis.sequences.x_preimage__mutmut_37": "no generator falls to -oo: atoms are k, c^k with c > 1, or"
    " functions bounded below (SymPy writes log(1/(k+1)) as -log(k+1))",
    # reviewed in the seed-6 sample (commit e12a979)
    "alg2net.analysis.every_layer.x__second_order_in_k__mutmut_2": "in a consistent limit k*rho'(1) has no finite"
    " limit, so the checks that follow return None too",
    "alg2net.analysis.limits.x__float_orbit__mutmut_18": "20 or 21 digits of the start round to the same float64",
    "alg2net.aberth.x_horner__mutmut_3": "the coefficients share one type, so coefficients[1] * 0 is the same zero"
    " (the polynomials here have degree 1 or more)",
    "alg2net.analysis.sequences.x_preimage__mutmut_108": "strict=None is falsy, as False is",
}
# Copies the tree into mutants/ and writes every mutant, so that the names exist before `mutmut run`.
GENERATE = """
import os
import mutmut.__main__ as m
m.set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
m.copy_src_dir(); m.copy_also_copy_files(); m.setup_source_paths(); m.store_lines_covered_by_tests()
m.create_mutants(1)
"""
# On PYTHONPATH, so imported by every Python a test starts: in mutmut's stats run (MUTANT_UNDER_TEST=stats) the
# copy's functions record their callers, which fails outside mutants/ (mutmut looks for its configuration in the
# working directory) and would be lost anyway; so a subprocess runs the unmutated functions then.
SITECUSTOMIZE = """import os

if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    del os.environ["MUTANT_UNDER_TEST"]
"""


def check_version() -> None:
    try:
        version = importlib.metadata.version("mutmut")
    except importlib.metadata.PackageNotFoundError:
        version = "none"
    if version != PINNED:
        sys.exit(f"mutmut {PINNED} is required (found {version}): pip install mutmut=={PINNED}")


def results() -> dict[str, int | None]:
    """Every mutant's name -> mutmut's exit code for it (None: not run yet)."""
    codes: dict[str, int | None] = {}
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        codes |= json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return codes


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z = 1.96)."""
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return centre - half, centre + half


def report(codes: dict[str, int | None], sampled: bool) -> None:
    verdicts = {name: VERDICTS.get(code, "suspicious") for name, code in codes.items()}
    counts = Counter(verdicts.values())
    print("\n" + ", ".join(f"{verdict}: {count}" for verdict, count in sorted(counts.items())))
    judged = [name for name, verdict in verdicts.items() if verdict != "not checked" and name not in EQUIVALENT]
    caught = sum(verdicts[name] in ("killed", "timeout") for name in judged)
    equivalent = sum(name in EQUIVALENT for name in verdicts)
    print(f"mutants run: {len(codes) - counts['not checked']}, equivalent (left out): {equivalent}")
    if judged:
        line = f"kill rate (killed + timed out, of the non-equivalent): {caught}/{len(judged)} = {caught / len(judged):.1%}"
        if sampled:
            low, high = wilson(caught, len(judged))
            line += f", 95% Wilson interval [{low:.1%}, {high:.1%}]"
        print(line)
    survivors = sorted(name for name in judged if verdicts[name] not in ("killed", "timeout"))
    for name in survivors:
        print(f"  {verdicts[name]}: {name}")
    for name in sorted(set(EQUIVALENT) & set(verdicts)):
        print(f"  equivalent: {name} ({EQUIVALENT[name]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mutants", nargs="*", help="mutant names or globs to (re)run; default: all, or --sample")
    parser.add_argument("--sample", type=int, metavar="N", help="also run a random sample of N mutants")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the sample (default 0)")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutmut workers (default 1)")
    args = parser.parse_args()
    check_version()
    os.chdir(ROOT)
    subprocess.run([sys.executable, "-c", GENERATE], check=True, stdout=subprocess.DEVNULL)
    (MUTANTS / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    names = list(args.mutants)
    if args.sample:
        names += random.Random(args.seed).sample(sorted(results()), args.sample)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(MUTANTS), os.environ.get("PYTHONPATH")]))}
    command = ["mutmut", "run", "--max-children", str(args.max_children), *names]
    subprocess.run(command, env=env, check=False)
    codes = results()
    if names:
        codes = {name: code for name, code in codes.items() if any(fnmatch.fnmatch(name, n) for n in names)}
    report(codes, sampled=bool(args.sample))


if __name__ == "__main__":
    main()
