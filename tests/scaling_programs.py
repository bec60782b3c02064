"""The three families of generated programs at which `check` is timed and tested at scale: a chain of n auxiliaries
over three functions, n coupled states on a ring, one state with the lag x[k-n]. Shared by
tests/test_check_scaling.py and benchmarks/check_time.py (which puts this folder on sys.path)."""

from __future__ import annotations

FUNCTIONS = ("f", "g", "u")


def chain(n: int) -> str:
    """n auxiliaries, each a gradient step of the one before, over three functions in turn."""
    lines = ["algorithm chain", "param h = 0.1", "a1[k] = x[k] - h * grad f(x[k])"]
    for i in range(2, n + 1):
        lines.append(f"a{i}[k] = a{i - 1}[k] - h * grad {FUNCTIONS[(i - 1) % 3]}(a{i - 1}[k])")
    return "\n".join([*lines, f"x[k+1] = a{n}[k]"]) + "\n"


def coupled(n: int) -> str:
    """n states on a ring, each pulled halfway to the next: rho = (zeta - 1/2)^n - (1/2)^n."""
    lines = ["algorithm coupled", "param h = 0.1", "output x1"]
    for i in range(1, n + 1):
        following = i % n + 1
        lines.append(f"x{i}[k+1] = x{i}[k] + 0.5 * (x{following}[k] - x{i}[k]) - h * grad f(x{i}[k])")
    return "\n".join(lines) + "\n"


def lag(n: int) -> str:
    """One state with the lag x[k-n]: rho = zeta^(n+1) - zeta^n - zeta/4 + 1/4."""
    return f"algorithm lag\nparam h = 0.1\nx[k+1] = x[k] - h * grad f(x[k]) + 0.25 * (x[k-{n - 1}] - x[k-{n}])\n"
