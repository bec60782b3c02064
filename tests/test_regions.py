"""Regions of learnable params (check.md, issue 12): through a monotone function of the param (sqrt, exp, log,
p**(1/n)), exact and sound against the check at the value itself; the joint Schur-Cohn region of several params that
enter q(zeta) = rho(zeta)/(zeta - 1) affinely, its text, whether the values lie inside, and JSON that gains the key
only where there is one."""

from __future__ import annotations

import dataclasses
import functools
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import alg2net
from alg2net.analysis import multistep, region
from alg2net.analysis.params import collect, joint_region
from alg2net.analysis.reduce import output_recurrence, state_space
from alg2net.cli import main
from alg2net.constraints import Bounded
from alg2net.pipeline import constraints_of, derive_source

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def momentum(name: str, value: str, coefficient: str) -> str:
    """Heavy ball with the momentum coefficient `coefficient`, a function of the learnable param `name`."""
    return (
        f"algorithm hb\nparam h = 1\nparam {name} = {value} learnable\n"
        f"x[k+1] = x[k] + ({coefficient}) * (x[k] - x[k-1]) - h * grad f(x[k])\n"
    )


def intervals_of(text: str, name: str) -> tuple[region.Interval, ...] | None:
    """The region of the learnable param `name` of `text`, as `check` derives it."""
    form = derive_source(text).form
    params = collect(form)
    space = state_space(form, params.substitution)
    pi = output_recurrence(space)
    rho, steps = multistep.rho(pi, space.variables), multistep.effective_steps(pi, space.variables)
    return region.region(rho, steps, params.symbols[name])


def verdict_at(text: str, value: Fraction) -> str:
    """The check's verdict with the param's initial value set to `value`; an input error (sqrt or log of a negative
    number: the network computes nan) is no guarantee."""
    old = text.split("\n")[2]
    name = old.split()[1]
    try:
        return alg2net.check_source(text.replace(old, f"param {name} = {value} learnable"))["verdict"]
    except alg2net.Alg2NetError:
        return "error"


def param_json(facts: dict, name: str) -> dict:
    return next(p for p in facts["params"] if p["name"] == name)


# Through a monotone function of the param: (coefficient, initial value, region derived by hand, values inside,
# values outside). Momentum m must satisfy -1 <= m < 1 (heavy ball's region).
MONOTONE = {
    # sqrt(s) in [0, 1): s in [0, 1); s < 0 has no real coefficient
    "sqrt": ("sqrt(s)", "0.81", "0 <= s < 1", ["0", "1/2", "99/100"], ["-1/2", "1", "2"]),
    # sqrt(s) in [1, 3): s in [1, 9)
    "sqrt_shifted": ("sqrt(s) - 2", "2", "1 <= s < 9", ["1", "4", "17/2"], ["0", "1/2", "9", "10"]),
    # exp(r) in (0, 1): r < 0
    "exp": ("exp(r)", "-0.1", "r < 0", ["-5", "-1/10"], ["0", "1/10"]),
    # exp(r) in (0, 2]: r <= log(2)
    "exp_falling": ("1 - exp(r)", "0.1", "r <= log(2)", ["-3", "0", "69/100"], ["7/10", "1"]),
    # exp(r) in [1/2, 5/2): log(1/2) <= r < log(5/2)
    "exp_shifted": ("exp(r) - 1.5", "0.1", "-log(2) <= r < log(5/2)", ["-69/100", "0", "9/10"], ["-7/10", "1"]),
    # exp(2r) in (0, 2): r < log(sqrt(2))
    "exp_scaled": ("exp(2*r) - 1", "0.1", "r < log(sqrt(2))", ["-4", "34/100"], ["35/100", "1"]),
    # log(r) in [-1, 1): r in [1/e, e)
    "log": ("log(r)", "0.5", "exp(-1) <= r < E", ["37/100", "1", "27/10"], ["-1", "0", "36/100", "272/100"]),
    # log(r)**2 < 1: r in (1/e, e)
    "log_squared": ("log(r)^2", "0.5", "exp(-1) < r < E", ["37/100", "2"], ["36/100", "3"]),
    # u = p**(1/3) >= 0, 2u - u**2 = 1 - (1 - u)**2 in [-1, 1): u in [0, 1) or (1, 1 + sqrt(2)], p = u**3
    "cube_root": (
        "2*p^(1/3) - p^(2/3)",
        "0.5",
        "0 <= p < 1 or 1 < p <= 7 + 5*sqrt(2)",
        ["0", "1/2", "2", "14"],
        ["-1", "1", "15"],
    ),
    # u = sqrt(p), u**2 + u < 1: u < (sqrt(5) - 1)/2, p < (3 - sqrt(5))/2
    "sqrt_mixed": ("sqrt(p) + p", "0.5", "0 <= p < 3/2 - sqrt(5)/2", ["0", "38/100"], ["-1", "39/100", "1/2"]),
}


def param_name(coefficient: str) -> str:
    """The one param the coefficient reads (`s`, `r` or `p`)."""
    return next(name for name in "srp" if sp.Symbol(name) in sp.sympify(coefficient.replace("^", "**")).free_symbols)


@pytest.mark.parametrize("case", sorted(MONOTONE))
def test_regions_through_a_monotone_function(case):
    coefficient, value, expected, inside, outside = MONOTONE[case]
    name = param_name(coefficient)
    text = momentum(name, value, coefficient)
    facts = alg2net.check_source(text)
    assert param_json(facts, name)["region"] == expected
    for v in inside:
        assert verdict_at(text, Fraction(v)) == "guaranteed", v
    for v in outside:
        assert verdict_at(text, Fraction(v)) != "guaranteed", v


def test_initial_value_outside_a_region_through_sqrt():
    entry = param_json(alg2net.check_source(momentum("p", "0.5", "sqrt(p) + p")), "p")
    assert entry["region"] == "0 <= p < 3/2 - sqrt(5)/2" and entry["initial_inside"] is False


def test_not_derived_where_no_monotone_function_undoes_the_param():
    entry = param_json(alg2net.check_source(momentum("r", "0.1", "r * exp(r)")), "r")
    assert entry["region"] is None and entry["region_note"].startswith("not derived exactly")
    entry = param_json(alg2net.check_source(momentum("r", "0.1", "sqrt(r + 1)")), "r")
    assert entry["region"] is None


@settings(max_examples=12, deadline=None)
@given(
    case=st.sampled_from(["sqrt", "exp_shifted", "log", "cube_root", "sqrt_mixed"]),
    value=st.fractions(min_value=-3, max_value=20, max_denominator=40),
)
def test_regions_through_a_monotone_function_are_sound(case, value):
    """Inside the derived region the scheme at that value is guaranteed; outside it is not."""
    coefficient, initial, expected, _, _ = MONOTONE[case]
    name = param_name(coefficient)
    text = momentum(name, initial, coefficient)
    intervals = intervals_of(text, name)
    assert region.describe(intervals, name) == expected
    derived = region.contains(intervals, sp.Rational(value.numerator, value.denominator))
    assert (verdict_at(text, value) == "guaranteed") == derived


@pytest.mark.parametrize(
    ("coefficient", "value", "expected"),
    [("sqrt(s)", "0.81", Bounded("s", 0.0, 1.0)), ("exp(r)", "-0.1", Bounded("r", None, 0.0))],
)
def test_compile_constrain_holds_params_through_a_monotone_function(coefficient, value, expected):
    name = expected.name
    text = momentum(name, value, coefficient)
    assert constraints_of(derive_source(text)) == (expected,)
    source = alg2net.compile_source(text, constrain=True)
    assert f"{name}_raw" in source


def test_compile_constrain_with_irrational_ends():
    (held,) = constraints_of(derive_source(momentum("r", "0.1", "exp(r) - 1.5")))
    assert held.low == pytest.approx(-np.log(2)) and held.high == pytest.approx(np.log(2.5))
    assert held.holds(0.1) and not held.holds(float(-np.log(2))) and not held.holds(float(np.log(2.5)))


# Joint regions ------------------------------------------------------------------------------------------------------

LMM3 = (EXAMPLES / "learnable_lmm3.alg").read_text(encoding="utf-8")
# rho(zeta) = (zeta - 1)(zeta**3 + a zeta**2 + b zeta + c)
LMM4 = """algorithm lmm4
param h = 1
param a = -0.2 learnable
param b = 0.1 learnable
param c = 0.05 learnable
x[k+1] = (1 - a) * x[k] + (a - b) * x[k-1] + (b - c) * x[k-2] + c * x[k-3] - h * grad f(x[k])
"""
MEANING = "every root of rho but zeta = 1 strictly inside the unit circle"


def with_values(text: str, values: dict[str, Fraction]) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        parts = line.split()
        if len(parts) > 1 and parts[0] == "param" and parts[1] in values:
            lines[i] = f"param {parts[1]} = {values[parts[1]]} learnable"
    return "\n".join(lines)


def test_joint_region_of_learnable_lmm3():
    joint = alg2net.check_source(LMM3)["joint_region"]
    assert joint == {
        "params": ["a", "b"],
        "region": "|b| < 1 and |a| < 1 - b",
        "meaning": MEANING,
        "initial_inside": True,
    }


def test_joint_region_in_the_text_report(capsys):
    assert main(["check", str(EXAMPLES / "learnable_lmm3.alg")]) == 0
    out = capsys.readouterr().out
    line = f"  joint region of (a, b): |b| < 1 and |a| < 1 - b ({MEANING}; initial values inside)"
    assert line in out.splitlines()
    assert out.index("region of b:") < out.index("joint region of") < out.index("order:")


def test_joint_region_of_three_params():
    joint = alg2net.check_source(LMM4)["joint_region"]
    assert joint["params"] == ["a", "b", "c"]
    assert joint["region"] == "|c| < 1 and |a*c - b| < 1 - c**2 and |a - b*c| < -a*c + b - c**2 + 1"
    assert joint["initial_inside"] is True


@pytest.mark.parametrize(
    ("values", "inside", "verdict"),
    [
        ({"a": Fraction(9, 10), "b": Fraction(1, 5)}, False, "not_guaranteed"),  # a root at 1.08
        ({"a": Fraction(0), "b": Fraction(-1)}, False, "guaranteed"),  # roots +-i on the circle: zero-stable
        ({"a": Fraction(-3, 2), "b": Fraction(-3, 5)}, True, "guaranteed"),  # a complex pair inside
    ],
)
def test_initial_values_against_the_joint_region(values, inside, verdict):
    facts = alg2net.check_source(with_values(LMM3, values))
    assert facts["joint_region"]["initial_inside"] is inside and facts["verdict"] == verdict


def other_roots_inside(q: list[float]) -> bool | None:
    """Every root of q strictly inside the unit circle; None too close to the circle to say in floats."""
    moduli = np.abs(np.roots(q))
    if np.any(np.abs(moduli - 1) < 1e-9):
        return None
    return bool(np.all(moduli < 1))


@functools.cache
def lmm4_analysed():
    """The params, rho and c_F of LMM4, as `check` has them."""
    form = derive_source(LMM4).form
    params = collect(form)
    space = state_space(form, params.substitution)
    pi = output_recurrence(space)
    return params, multistep.rho(pi, space.variables), multistep.effective_steps(pi, space.variables)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.fractions(min_value=-2, max_value=2, max_denominator=20), min_size=3, max_size=3))
def test_joint_region_decides_the_roots(abc):
    """Whether the values lie in the joint region agrees with numpy's roots of q = zeta**3 + a zeta**2 + b zeta + c,
    and inside it the scheme at those values is guaranteed (the per-param regions are left out: slow at random
    values)."""
    expected = other_roots_inside([1.0, *(float(v) for v in abc)])
    params, rho, steps = lmm4_analysed()
    values = {params.symbols[name]: sp.Rational(v.numerator, v.denominator) for name, v in zip("abc", abc)}
    joint = joint_region(dataclasses.replace(params, learnable=values), rho, steps)
    assert joint.params == ("a", "b", "c")
    if expected is not None:
        assert joint.initial_inside is expected
    if joint.initial_inside:
        assert multistep.numeric(rho, steps, values, full=False).guaranteed


@pytest.mark.parametrize("n", [2, 3, 4])
def test_schur_cohn_conditions_against_numpy(n):
    c = sp.symbols(f"x1:{n + 1}", real=True)
    conditions = region.schur_cohn(tuple(c))
    holds = sp.lambdify(c, sp.And(*[sp.Abs(numerator) < d for numerator, d in conditions]))
    rng = np.random.default_rng(n)
    for values in rng.uniform(-2.5, 2.5, size=(400, n)):
        expected = other_roots_inside([1.0, *values])
        if expected is not None:
            assert bool(holds(*values)) == expected, values


@pytest.mark.parametrize("stem", ["heavy_ball", "zerosnet", "lm_resnet", "nesterov", "gradient_descent"])
def test_no_joint_region_key_without_several_params_in_q(stem):
    facts = alg2net.check_source((EXAMPLES / f"{stem}.alg").read_text(encoding="utf-8"))
    assert "joint_region" not in facts


def test_no_joint_region_where_the_params_enter_other_than_affinely():
    text = "algorithm t\nparam h = 1\nparam a = 0.3 learnable\nparam b = 0.2 learnable\n"
    text += "x[k+1] = x[k] + a*b * (x[k] - x[k-1]) - h * grad f(x[k])\n"
    assert "joint_region" not in alg2net.check_source(text)


def test_joint_region_at_trained_values(tmp_path):
    torch = pytest.importorskip("torch")
    net = alg2net.load(str(EXAMPLES / "learnable_lmm3.alg"))(width=3, depth=4)
    with torch.no_grad():
        net.a.fill_(0.9)
    path = tmp_path / "lmm3.pt"
    torch.save(net.state_dict(), path)
    facts = alg2net.check_source(LMM3, weights=str(path))
    assert facts["joint_region"]["trained_inside"] is False
    assert "initial_inside" not in facts["joint_region"]


def test_a_region_whose_boundary_roots_are_not_found_is_not_derived():
    """Regression: at a = 0, b = 6/7, c = -1 the roots of rho at an algebraic boundary point of a's region are not
    found numerically (mpmath's NoConvergence): no region then, and no traceback."""
    facts = alg2net.check_source(with_values(LMM4, {"a": Fraction(0), "b": Fraction(6, 7), "c": Fraction(-1)}))
    entry = param_json(facts, "a")
    assert entry["region"] is None and entry["region_note"].startswith("not derived exactly: the roots of rho")
    assert facts["joint_region"]["initial_inside"] is False
