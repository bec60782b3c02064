"""`guaranteed` is a proof: the verdicts issue 11 found wrong, the facts a mutation audit left unpinned, and a
property test against an independent numerical evaluation of every layer up to depth 10^4.

The inputs are in tests/data/check; each file's header says what it shows.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import alg2net
from alg2net.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"
DATA = Path(__file__).parent / "data" / "check"


def data(name: str, **options) -> dict:
    return alg2net.check_source((DATA / f"{name}.alg").read_text(), **options)


def row(facts: dict, name: str) -> dict:
    return next(c for c in facts["conditions"] if c["name"] == name)


# 1. The output must be the integrated state ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["output_difference", "velocity_output"])
def test_an_output_that_is_not_the_integrated_state_is_not_guaranteed(name):
    """d = x[k+1] - x[k] and Momentum ResNet's velocity v satisfy the same linear test as x (a difference commutes
    with a linear T), so rho, c_f and the order look right; only the evaluation points tell."""
    facts = data(name)
    assert facts["consistent"] and facts["zero_stable"] and facts["order"] == 1  # the linear test cannot tell
    assert facts["verdict"] == "not_guaranteed"
    points = row(facts, "evaluation points")
    assert points["required"] and not points["ok"]
    output = facts["output"]
    assert f"T_f sees x[k], no combination of {output} and its lags" in points["why"]
    assert f"{output} is not the integrated state" in points["why"]
    assert facts["evaluation_scales"] is None
    assert facts["limit_ode"] is None and facts["limit_ode_value"] is None  # not d' = -T_f(d)
    assert facts["reasons"] == [points["why"]]


def test_momentum_resnet_returning_its_velocity_is_rejected_and_returning_x_is_not():
    source = (EXAMPLES / "momentum_resnet.alg").read_text()
    assert alg2net.check_source(source)["verdict"] == "guaranteed"
    assert alg2net.check_source(source.replace("output x", "output v"))["verdict"] == "not_guaranteed"


def test_a_block_that_sees_a_difference_sees_nothing_in_the_limit():
    facts = alg2net.check_source("algorithm d\nx[k+1] = x[k] - grad f(x[k] - x[k-1])\n")
    assert facts["verdict"] == "not_guaranteed"
    assert "T_f sees 0*x: its argument tends to 0" in row(facts, "evaluation points")["why"]


def test_a_scaled_evaluation_point_still_integrates_the_output():
    facts = data("scaled_point")
    assert facts["verdict"] == "guaranteed" and facts["evaluation_scales"] == {"f": ["2"]}
    assert row(facts, "evaluation points")["why"] == "T_f sees 2*x, not x: the limit field is evaluated there"


# 2. Coefficients that vary with k ----------------------------------------------------------------------------------


def test_a_momentum_that_converges_to_one_is_rejected_in_the_limit():
    """t_k = 1 - 2^-k -> 1: every layer passes, but rho'(1) = 1 - t_k -> 0 (the old check saw 1/5*10^29, no limit)."""
    facts = data("converging_momentum")
    assert facts["verdict"] == "not_guaranteed"
    assert row(facts, "frozen layers")["ok"] and facts["max_depth_guaranteed"] is None
    (reason,) = facts["reasons"]
    assert reason.startswith("rho'(1) = 1 - t[k] tends to 0 as k -> oo")
    assert facts["rho_value"] == "zeta**2 - 2*zeta + 1" and facts["roots_of"] == "in the limit k -> oo"
    assert facts["second_order_limit"] == "x'' + T_f(x) = 0 with t = k*sqrt(h)"  # rho'(1) ~ 2^-k: no friction


@pytest.mark.parametrize("schedule", ["2/(k+1)", "min(1, 2/(k+1))"])
def test_a_step_that_vanishes_is_rejected_with_or_without_min(schedule):
    facts = alg2net.check_source(f"algorithm s\nparam h[k] = {schedule}\nx[k+1] = x[k] - h[k]*grad f(x[k])\n")
    assert facts["verdict"] == "not_guaranteed"
    assert facts["reasons"] == ["as k -> oo: every c_F is 0: no gradient term reaches the limit, which is x' = 0"]
    assert facts["max_depth_guaranteed"] is None  # every layer itself passes


def test_a_capped_momentum_is_judged_on_every_piece_of_its_min():
    facts = data("capped_momentum")  # b_k = min(k/150, 2): k/150 up to k = 300, then 2
    assert facts["verdict"] == "not_guaranteed" and facts["max_depth_guaranteed"] == 150
    why = row(facts, "frozen layers")["why"]
    assert why.startswith("layers 0-149 pass; at layer 150: zeta = 1 is a multiple root of rho")
    assert "; at layers 151-299: the root zeta = 151/150 has |zeta| = 151/150 > 1" in why
    assert why.endswith("; from layer 300 on: the root zeta = 2 has |zeta| = 2 > 1: errors grow like |zeta|^k")
    assert (
        row(facts, "limit k -> oo")["why"]
        == "as k -> oo: the root zeta = 2 has |zeta| = 2 > 1: errors grow like |zeta|^k"
    )


@pytest.mark.parametrize("depth", [1, 100, 151, 200])
def test_the_verdict_holds_for_every_depth(depth):
    """b_k = k/150 was guaranteed at --depth 100 and rejected at 200; --depth now only sets the listed layers."""
    facts = data("growing_momentum", depth=depth)
    assert facts["verdict"] == "not_guaranteed" and facts["max_depth_guaranteed"] == 150
    why = row(facts, "frozen layers")["why"]
    assert why.startswith("layers 0-149 pass; at layer 150: zeta = 1 is a multiple root of rho (rho'(1) = 0)")
    assert why.endswith(
        "; from layer 151 on: the root zeta = 151/150 has |zeta| = 151/150 > 1: errors grow like |zeta|^k"
    )


def test_the_report_says_up_to_which_depth_every_layer_passes(capsys):
    assert main(["check", str(DATA / "growing_momentum.alg")]) == 1
    assert "depth: layers 0-149 pass on their own (max_depth_guaranteed = 150)" in capsys.readouterr().out
    assert main(["check", str(DATA / "halving_step.alg")]) == 0
    assert "depth: every layer k >= 0 passes on its own, at every depth" in capsys.readouterr().out


def test_an_alternating_recurrence_has_no_limit():
    """t_k = (-1)^k/2: the old check claimed t -> 0. Both limit points (the values themselves) pass."""
    facts = data("alternating_recurrence")
    assert facts["roots_of"] == "at the last layer, k = 99"
    limit = row(facts, "limit k -> oo")
    assert limit["ok"] and limit["why"].startswith("the coefficients have no limit")
    assert facts["verdict"] == "guaranteed"
    assert (
        row(facts, "frozen layers")["why"] == "every layer k >= 0 passes (decided exactly in k on even and odd layers)"
    )


def test_the_logistic_map_has_no_limit_and_is_not_guaranteed():
    facts = data("logistic_momentum")
    assert facts["verdict"] == "not_guaranteed" and facts["roots_of"].startswith("at the last layer")
    limit = row(facts, "limit k -> oo")
    assert not limit["ok"] and "t[k] has no limit that could be proven" in limit["why"]
    assert "0, 29/39 repel it" in limit["why"]
    layers = row(facts, "frozen layers")["why"]
    assert layers.startswith("layers 0-") and "could not decide from layer" in layers
    assert facts["max_depth_guaranteed"] >= 20  # the values are enclosed one by one until they spread


@pytest.mark.parametrize("name", ["exponential_step", "root_step"])
def test_a_consistent_schedule_has_an_order(name):
    facts = data(name)
    assert facts["verdict"] == "guaranteed" and facts["consistent"]
    assert facts["effective_steps_value"] == {"f": "1"} and facts["limit_ode_value"] == "x' = -T_f(x)"
    assert facts["order"] == 1 and facts["order_of"] == "in the limit k -> oo" and facts["order_note"] is None


def test_nesterovs_schedule_gives_the_su_boyd_candes_ode():
    facts = alg2net.check_source((EXAMPLES / "nesterov_schedule.alg").read_text())
    assert facts["second_order_limit"] == "x'' + 3/t*x' + T_f(x) = 0 with t = k*sqrt(h)"
    (reason,) = facts["reasons"]
    assert "the second-order ODE x'' + 3/t*x' + T_f(x) = 0 with t = k*sqrt(h)" in reason
    r5 = alg2net.check_source(
        "algorithm n\nparam b[k] = k/(k + 5)\nx[k+1] = x[k] - 0.5*grad f(x[k]) + b[k]*(x[k] - x[k-1])\n"
    )
    assert r5["second_order_limit"] == "x'' + 5/t*x' + 1/2*T_f(x) = 0 with t = k*sqrt(h)"


@pytest.mark.parametrize("start", ["1", "3"])
def test_fista_from_any_start_tends_to_the_same_second_order_ode(start):
    """t_k ~ k/2 (t[k+1] - t[k] -> 1/2, Stolz-Cesaro), so 1 - (t_k - 1)/t_{k+1} ~ 3/k: r = 3 from t[0] = 1 or 3."""
    source = (EXAMPLES / "fista_momentum.alg").read_text().replace("param t[0] = 1", f"param t[0] = {start}")
    facts = alg2net.check_source(source)
    assert facts["verdict"] == "not_guaranteed"
    assert facts["second_order_limit"] == "x'' + 3/t*x' + T_f(x) = 0 with t = k*sqrt(h)"
    assert row(facts, "frozen layers")["ok"]  # every layer's momentum lies in [0, 1): decided in sqrt(4t^2 + 1) + 2t
    assert facts["rho_value"] == "zeta**2 - 2*zeta + 1"


def test_several_moving_roots_need_a_strongly_stable_limit():
    """Frozen layers that each pass bound the product of the layers' matrices when rho/(zeta - 1) has one moving root
    (a scalar) or the coefficients tend to a strongly stable limit; otherwise nothing is proven."""
    three = "x[k+1] = x[k] - grad f(x[k]) + a[k]*(x[k] - x[k-1]) - 0.5*a[k]*(x[k-1] - x[k-2])\n"
    periodic = alg2net.check_source(f"algorithm m\nparam a[k] = 0.5*(-1)^k\n{three}")
    assert periodic["verdict"] == "not_guaranteed" and row(periodic, "frozen layers")["ok"]
    assert row(periodic, "limit k -> oo")["why"].startswith("could not decide: the coefficients have no limit")
    assert alg2net.check_source(f"algorithm m\nparam a[k] = 1/(k + 2)\n{three}")["verdict"] == "guaranteed"
    leapfrog = "x[k+1] = x[k-1] - 2*grad f(x[k]) + a[k]*(x[k] - x[k-2])\n"
    circle = alg2net.check_source(f"algorithm m\nparam a[k] = 1/(k + 2)\n{leapfrog}")
    assert circle["verdict"] == "not_guaranteed" and circle["rho_value"] == "zeta**3 - zeta"
    assert "in the limit rho has roots on the unit circle besides 1" in row(circle, "limit k -> oo")["why"]
    assert alg2net.check_source((DATA / "alternating_step.alg").read_text())["verdict"] == "guaranteed"  # one root


def test_a_start_on_a_repelling_fixed_point_is_not_followed():
    """t = 2 is a fixed point of (t^2 + 2)/3 that repels: the network's rounded t leaves it, so nothing beyond
    layer 0 is claimed."""
    source = (DATA / "two_fixed_points.alg").read_text().replace("t[0] = 1.4", "t[0] = 2")
    facts = alg2net.check_source(source.replace("2*(t[k] - 1)", "(t[k] - 1)/2"))
    assert facts["verdict"] == "not_guaranteed" and facts["max_depth_guaranteed"] == 1
    assert "t[0] = 2 is a fixed point that repels" in row(facts, "frozen layers")["why"]


# Pinned by the mutation audit --------------------------------------------------------------------------------------


def test_an_initial_value_on_a_closed_end_of_the_region_is_inside():
    source = (EXAMPLES / "lm_resnet.alg").read_text().replace("kn[k] = -0.05 learnable", "kn[k] = 1 learnable")
    facts = alg2net.check_source(source)
    kn = next(p for p in facts["params"] if p["name"] == "kn")
    assert kn["region"] == "-1 < kn <= 1" and kn["initial_inside"] is True
    assert facts["verdict"] == "guaranteed"  # rho = (zeta - 1)*(zeta + 1): -1 on the circle, simple
    outside = alg2net.check_source(source.replace("kn[k] = 1 learnable", "kn[k] = -1 learnable"))
    assert next(p for p in outside["params"] if p["name"] == "kn")["initial_inside"] is False


@pytest.mark.parametrize(
    ("initial", "inside"), [("1 - 1/(k + 1)", True), ("min(k/10, 1)", True), ("min(k/10, 2)", False)]
)
def test_a_learnable_schedule_starts_inside_its_region_at_every_layer(initial, inside):
    source = (EXAMPLES / "lm_resnet.alg").read_text().replace("kn[k] = -0.05 learnable", f"kn[k] = {initial} learnable")
    facts = alg2net.check_source(source, depth=5)  # min(k/10, 2) leaves -1 < kn <= 1 at k = 11, beyond the 5 listed
    assert next(p for p in facts["params"] if p["name"] == "kn")["initial_inside"] is inside
    assert facts["verdict"] == ("guaranteed" if inside else "not_guaranteed")


def test_a_recurrence_tends_to_its_attracting_fixed_point():
    """(t^2 + 2)/3 has the fixed points 1 (|g'| = 2/3) and 2 (|g'| = 4/3); from 1.4, t_k -> 1 and the momentum
    2*(t_k - 1) -> 0. Near 2 it would tend to 2 (momentum 2: rejected)."""
    facts = data("two_fixed_points")
    assert facts["verdict"] == "guaranteed" and facts["roots_of"] == "in the limit k -> oo"
    assert facts["rho_value"] == "zeta**2 - zeta"  # momentum 0: rho -> zeta*(zeta - 1)
    assert "t[k] -> 1: a contracting fixed point" in row(facts, "frozen layers")["why"]
    above = (DATA / "two_fixed_points.alg").read_text().replace("t[0] = 1.4", "t[0] = 2.1")
    assert alg2net.check_source(above)["verdict"] == "not_guaranteed"  # t_k -> oo from above 2


def test_a_recurrence_that_overflows_float32_is_not_guaranteed():
    """Every layer's c_f = 1 + 1/t_k and the limit c_f -> 1 pass; only t[7] = 2^128 fails: the module stores the
    recurrence's values as a buffer in its dtype, and float32 (the default) holds 2^128 as inf."""
    facts = data("squaring_recurrence")
    assert row(facts, "frozen layers")["ok"] and row(facts, "limit k -> oo")["ok"]
    assert facts["verdict"] == "not_guaranteed"
    assert facts["reasons"] == [
        "t[7] exceeds the float32 range (a float32 module stores inf): every layer from k = 6 on overflows"
    ]
    assert facts["max_depth_guaranteed"] == 6
    assert data("squaring_recurrence", depth=5)["verdict"] == "not_guaranteed"  # whatever the depth listed


# The network the user builds stores its params in float32 (the module's default dtype) -----------------------------


def test_a_momentum_that_float32_rounds_onto_the_boundary_is_not_guaranteed():
    facts = data("float32_momentum")
    assert row(facts, "consistent")["ok"] and row(facts, "zero-stable")["ok"]  # at the exact value 1 - 1e-11
    assert facts["verdict"] == "not_guaranteed" and facts["max_depth_guaranteed"] == 0
    (why,) = facts["reasons"]
    assert why.startswith("at the float32 values a module stores (beta = 1, h = 0.100000001): zeta = 1 is a multiple")
    learnable = (DATA / "float32_momentum.alg").read_text().replace("0.99999999999", "0.99999999999 learnable")
    assert alg2net.check_source(learnable)["verdict"] == "not_guaranteed"  # its initial value, stored likewise


@pytest.mark.parametrize(
    "value, why",
    [
        ("1e39", "c = 1000000000000000000000000000000000000000 is past float32's range, where a module stores inf"),
        ("1e-50", "at the float32 values a module stores (c = 0): "),  # 1/c is then a division by zero
    ],
)
def test_a_constant_that_float32_cannot_hold_is_not_guaranteed(value: str, why: str):
    """With c = 1e39 a float32 module computes 1/c = 0, the identity map; with c = 1e-50 it divides by zero."""
    text = f"algorithm tiny\nparam c = {value}\nx[k+1] = x[k] - (1/c) * grad f(x[k])\n"
    facts = alg2net.check_source(text)
    assert facts["verdict"] == "not_guaranteed"
    assert facts["reasons"][0].startswith(why)


def test_values_that_float32_holds_closely_enough_keep_the_verdict():
    """Every example that is guaranteed stays so at its stored values (0.9 is 0.899999976 there); a step that
    float32 rounds to a subnormal is still a step."""
    for path in sorted(EXAMPLES.glob("*.alg")):
        facts = alg2net.check_source(path.read_text())
        assert all(c["name"] != "float32 values" for c in facts["conditions"]), path.name
    facts = alg2net.check_source("algorithm small\nparam h = 1e-40\nx[k+1] = x[k] - h * grad f(x[k])\n")
    assert facts["verdict"] == "guaranteed"


def test_a_recurrence_whose_next_fixed_point_is_a_cubic_root_is_decided_without_a_traceback():
    """g(t) = 3t - t^3 + 1/7 from 1/3: its fixed points are roots of a cubic (no interval enclosure, which raised),
    and the orbit grows like t^(3^k) (exact enclosures that never ended): not_guaranteed, with the overflow."""
    text = (
        "algorithm cubic\nparam t[0] = 1/3\nparam t[k+1] = 3*t[k] - t[k]^3 + 1/7\n"
        "x[k+1] = x[k] - 0.1*grad f(x[k]) + 0.1*t[k]*(x[k] - x[k-1])\n"
    )
    facts = alg2net.check_source(text)
    assert facts["verdict"] == "not_guaranteed"
    assert facts["reasons"][-1].startswith("t[8] exceeds the float32 range")


def test_a_recurrence_from_another_start_is_decided_from_that_start():
    one = alg2net.check_source((EXAMPLES / "fista_momentum.alg").read_text())
    three = alg2net.check_source((EXAMPLES / "fista_momentum.alg").read_text().replace("t[0] = 1", "t[0] = 3"))
    assert "t[k] -> oo" in row(one, "frozen layers")["why"] and "t[k] -> oo" in row(three, "frozen layers")["why"]
    assert row(one, "frozen layers")["ok"] and row(three, "frozen layers")["ok"]


# A property: `guaranteed` survives an independent evaluation of every layer ---------------------------------------

LAYERS = 10**4
K = np.arange(LAYERS, dtype=float)


@st.composite
def rationals(draw, low: int = -3, high: int = 3) -> Fraction:
    return Fraction(draw(st.integers(low, high)), draw(st.integers(1, 4)))


def _number(value: Fraction) -> str:
    return f"({value.numerator}/{value.denominator})"


@st.composite
def schedules(draw, depth: int = 2) -> str:
    """An expression in k from rationals, k/(k + c), min and max."""
    kind = draw(st.sampled_from(["number", "ratio", "decay"] + (["min", "max"] if depth else [])))
    if kind == "number":
        return _number(draw(rationals()))
    if kind == "ratio":  # a + b*k/(k + c), c > 0
        a, b, c = draw(rationals()), draw(rationals()), draw(st.integers(1, 200))
        return f"({_number(a)} + {_number(b)}*k/(k + {c}))"
    if kind == "decay":  # a + b/(k + c)
        a, b, c = draw(rationals()), draw(rationals()), draw(st.integers(1, 20))
        return f"({_number(a)} + {_number(b)}/(k + {c}))"
    first, second = draw(schedules(depth - 1)), draw(schedules(depth - 1))
    return f"{kind}({first}, {second})"


def _values(expr: str) -> np.ndarray:
    values = eval(expr, {"min": np.minimum, "max": np.maximum, "k": K})  # the test's own expressions
    return np.broadcast_to(np.asarray(values, dtype=float), K.shape)


def _layers_pass(momentum: np.ndarray, step: np.ndarray) -> bool:
    """The root condition of rho_k = zeta^2 - (1 + b_k)*zeta + b_k at every layer, zeta = 1 simple, and
    c_f = h_k/(1 - b_k) finite, nonzero and bounded: an evaluation independent of the checker."""
    companions = np.zeros((LAYERS, 2, 2))
    companions[:, 0, 0], companions[:, 0, 1], companions[:, 1, 0] = 1 + momentum, -momentum, 1
    roots = np.linalg.eigvals(companions)
    if np.any(np.abs(roots) > 1 + 1e-9):
        return False
    other = roots[np.arange(LAYERS), np.argmax(np.abs(roots - 1), axis=1)]
    if np.any(np.abs(other - 1) < 1e-9):  # zeta = 1 a double root
        return False
    effective = step / (1 - momentum)
    return bool(np.all(np.isfinite(effective)) and np.all(step != 0) and np.max(np.abs(effective)) < 1e8)


def _heavy_ball(momentum: str, step: str, recurrence: str = "") -> str:
    return (
        f"algorithm property\n{recurrence}param b[k] = {momentum}\nparam h[k] = {step}\n"
        "x[k+1] = x[k] - h[k]*grad f(x[k]) + b[k]*(x[k] - x[k-1])\n"
    )


def _verdict(source: str) -> str | None:
    try:
        return alg2net.check_source(source, depth=5)["verdict"]
    except alg2net.Alg2NetError:  # a pole or an input the language refuses: nothing to check
        return None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(momentum=schedules(), step=schedules())
def test_a_guaranteed_schedule_passes_every_layer_numerically(momentum, step):
    verdict = _verdict(_heavy_ball(momentum, step))
    if verdict == "guaranteed":
        assert _layers_pass(_values(momentum), _values(step)), (momentum, step)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=rationals(), factor=rationals(-5, 5), shift=rationals(), step=schedules(1))
def test_a_guaranteed_recurrence_passes_every_layer_numerically(start, factor, shift, step):
    recurrence = f"param t[0] = {_number(start)}\nparam t[k+1] = {_number(factor)}*t[k] + {_number(shift)}\n"
    verdict = _verdict(_heavy_ball("t[k]", step, recurrence))
    if verdict == "guaranteed":
        values = [float(start)]
        for _ in range(LAYERS - 1):
            values.append(float(factor) * values[-1] + float(shift))
        assert _layers_pass(np.array(values), _values(step)), (start, factor, shift, step)


@st.composite
def block_weights(draw) -> str:
    """A schedule, or one that grows without bound (a + b*k, b != 0)."""
    if draw(st.booleans()):
        return draw(schedules(1))
    a, b = draw(rationals()), draw(rationals().filter(lambda r: r != 0))
    return f"({_number(a)} + {_number(b)}*k)"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(momentum=schedules(1), weight=block_weights())
def test_guaranteed_block_coefficients_stay_bounded(momentum, weight):
    """T at x[k] and x[k-1] with weights a_k and 1 - a_k: c_f = h/(1 - b_k) whatever a_k is, but a growing a_k adds
    a first-order term, so `guaranteed` must also mean a_k bounded over the layers."""
    source = (
        f"algorithm property\nparam b[k] = {momentum}\nparam a[k] = {weight}\nparam h = 1/2\n"
        "x[k+1] = x[k] + b[k]*(x[k] - x[k-1]) - h*(a[k]*grad f(x[k]) + (1 - a[k])*grad f(x[k-1]))\n"
    )
    if _verdict(source) == "guaranteed":
        assert _layers_pass(_values(momentum), np.full(LAYERS, 0.5)), (momentum, weight)
        assert np.max(np.abs(_values(weight))) < 100, (momentum, weight)


# Schedules beyond float32 ---------------------------------------------------------------------------------------


def test_a_schedule_that_leaves_float32_bounds_the_depth():
    """c[k] = 2^k as c/(2c + 1) -> 1/2: exact arithmetic passes every layer, but the module stores c[k] in its
    dtype, which in float32 (the default) is inf from k = 128 (and from 1024 no float at all): not guaranteed, every
    depth up to 128 is."""
    source = (
        "algorithm big\nparam c[k] = 2^k\nparam h = 0.1\n"
        "x[k+1] = x[k] - h * grad f(x[k]) + c[k]/(2*c[k] + 1)*(x[k] - x[k-1])\n"
    )
    facts = alg2net.check_source(source)
    assert facts["verdict"] == "not_guaranteed" and facts["max_depth_guaranteed"] == 128
    overflow = "c[128] exceeds the float32 range (a float32 module stores inf): every layer from k = 128 on overflows"
    assert overflow in facts["reasons"]


def test_a_rational_schedule_whose_critical_points_are_cubic_roots_is_decided_quickly():
    """Found by a random search: the conditions on this momentum change at roots of cubics in k, and deciding them
    exactly at those points took 7 minutes. No layer k is such a root, so the points are not evaluated; every layer
    k >= 0 still has to pass, and an independent evaluation agrees."""
    momentum = "(1/3 + (1/3)/(k + 19) + (3/4 + (3/2)/(k + 20))*(-1 + (3/2)*k/(k + 30)))"
    facts = alg2net.check_source(_heavy_ball(momentum, "2/3"), depth=5)
    assert facts["verdict"] == "guaranteed"
    assert _layers_pass(_values(momentum), np.full(LAYERS, 2 / 3))


@pytest.mark.parametrize(
    ("momentum", "step", "constant"),
    [
        ("1/4 + 3*exp(-k/24)", "-3/4 + 1/(k + 11) + 2/3*exp(-k/7)", "(5*exp(1/6) + 12)/(-24 + 6*exp(1/6))"),
        ("max(-1 - (1/2)*(k + 1)^(-3/2), 1) + (2/3)*(1/2 + exp(-k/24))", "3/2 + (1/3)*(1/2)^k", None),
    ],
)
def test_the_order_at_a_listed_layer_with_exp_of_several_rationals_is_no_traceback(momentum, step, constant):
    """Found by a random search: at layer 4 these hold exp(-1/6), exp(-4/7), ... and SymPy's field over exp(1/2),
    exp(1/3) cannot hold exp(83/42) (ValueError, exit 3). They are powers of exp(1/L), an indeterminate, so the
    order and the error constant stay exact: (1 + b)/(2(1 - b)) for heavy ball, b = 1/4 + 3*exp(-1/6)."""
    facts = alg2net.check_source(_heavy_ball(momentum, step), depth=5)
    assert facts["verdict"] == "not_guaranteed" and facts["order"] == 1
    assert facts["order_of"] == "at the last layer, k = 4"
    if constant is not None:
        assert facts["error_constant"] == constant


def test_the_order_beside_exp_and_a_square_root_is_not_computed_rather_than_wrong():
    """exp(-4/22) and sqrt(13/10) at layer 4: no exact field holds both here; SymPy's expression domain ran for hours
    with them, or (before exp was made an indeterminate) reported order 0. The order says it is not computed."""
    momentum = "(2/3 - exp(-k/22))*(1 + (1/2)*sqrt((k + 9)/(k + 6)))*(2/3)"
    facts = alg2net.check_source(_heavy_ball(momentum, "(1/2 + exp(-k/6))*(1/2 - 3/(k + 18))"), depth=5)
    assert facts["order"] is None and facts["error_constant"] is None
    assert facts["order_note"] == (
        "not computed: SymPy has no exact arithmetic for these coefficients at the last layer, k = 4"
    )


def test_a_schedule_large_only_in_its_parts_is_not_an_overflow():
    """(2^k + 1)/(2^k + 2) -> 1 is in range at every layer although 2^k alone is not: guaranteed as momentum 1/2
    of it, and the module computes every layer's value (Python's integers are exact)."""
    source = (
        "algorithm parts\nparam c[k] = (2^k + 1)/(2^k + 2)\nparam h = 0.1\n"
        "x[k+1] = x[k] - h * grad f(x[k]) + 0.5*c[k]*(x[k] - x[k-1])\n"
    )
    facts = alg2net.check_source(source)
    assert facts["verdict"] == "guaranteed" and facts["max_depth_guaranteed"] is None
