"""Facts that the rest of the suite left unchecked, found by mutation testing (`python scripts/mutation.py`): each
test pins a behaviour that a surviving mutant of alg2net/analysis or alg2net/codegen changed."""

from __future__ import annotations

import json
import warnings
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

import alg2net
from alg2net.cli import main

ROOT = Path(__file__).resolve().parent.parent
HEAVY_BALL = ROOT / "examples" / "heavy_ball.alg"
LM_RESNET = ROOT / "examples" / "lm_resnet.alg"


def _check(capsys, *argv: str) -> tuple[int, str]:
    status = main(["check", *map(str, argv)])
    return status, capsys.readouterr().out


def _checkpoint(tmp_path: Path, source: Path, depth: int, **values: dict[int, float] | float) -> str:
    """The state dict of `source`'s network (width 4) with some layers of its schedules ({layer: value}) or some
    learnable constants (a number) set, saved to a file."""
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = alg2net.load(source)(4, depth)
    with torch.no_grad():
        for name, value in values.items():
            for k, v in value.items() if isinstance(value, dict) else [(..., value)]:
                getattr(network, name)[k] = v
    path = tmp_path / "model.pt"
    torch.save(network.state_dict(), path)
    return str(path)


def _source(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "algorithm.alg"
    path.write_text(text, encoding="utf-8")
    return path


# check: the text report ---------------------------------------------------------------------------------------------


def test_the_report_has_a_reversal_section(capsys):
    status, out = _check(capsys, HEAVY_BALL)
    assert status == 0
    assert "\n\nreversal (run backwards, memory.md)\n  x[k-1] = " in out


def test_a_checkpoint_that_fixes_the_depth_says_so_in_the_depth_line(tmp_path, capsys):
    path = _checkpoint(tmp_path, LM_RESNET, 40)
    status, out = _check(capsys, LM_RESNET, "--weights", path)
    assert status == 0
    assert "\ndepth: 40, fixed by the checkpoint; every layer passes at its trained values\n" in out
    assert (
        "\n  ✓ frozen layers: each layer 0-39 passes at its trained values (the checkpoint fixes the depth 40)\n" in out
    )
    assert "\n\nlearnable form (T_F is the block that replaces grad F)\n" in out


def test_a_recurrence_through_abs_is_bounded_layer_by_layer():
    """Interval arithmetic encloses abs(t[k]): the first 2002 layers are proven to pass (the tail is left open)."""
    text = "algorithm ab\nparam t[0] = 1\nparam t[k+1] = 1 + abs(t[k])/2\nx[k+1] = x[k] - t[k]*grad f(x[k])\n"
    facts = alg2net.check_source(text)
    assert facts["verdict"] == "not_guaranteed" and facts["max_depth_guaranteed"] == 2002


def test_momentum_that_tends_to_one_geometrically_gives_an_undamped_second_order_limit():
    """t[k+1] = sqrt(t[k]) reaches 1 geometrically, so k*rho'(1) -> 0: no damping term x'/t in the limit."""
    text = "algorithm g\nparam t[0] = 1/2\nparam t[k+1] = sqrt(t[k])\nx[k+1] = x[k] + t[k]*(x[k] - x[k-1]) - grad f(x[k])\n"
    facts = alg2net.check_source(text)
    assert facts["verdict"] == "not_guaranteed"
    assert facts["second_order_limit"] == "x'' + T_f(x) = 0 with t = k*sqrt(h)"


def _frozen_layers(facts: dict) -> dict:
    return next(c for c in facts["conditions"] if c["name"] == "frozen layers")


def _recurrence(step: str, start: str, update: str) -> dict:
    return alg2net.check_source(f"algorithm r\nparam t[0] = {start}\nparam t[k+1] = {step}\nx[k+1] = {update}\n")


def test_a_cube_root_recurrence_is_followed_to_its_fixed_point():
    """t[k+1] = t[k]^(1/3) from 1/8 rises to the fixed point 1 (found by solving g(t) = t over the reals)."""
    facts = _recurrence("t[k]^(1/3)", "1/8", "x[k] - grad f(x[k]) + (t[k]/2)*(x[k] - x[k-1])")
    assert facts["verdict"] == "guaranteed"
    assert facts["roots_of"] == "in the limit k -> oo" and facts["rho_value"] == "zeta**2 - 3/2*zeta + 1/2"
    assert "t[k] -> 1 monotonically from k = 0 on" in _frozen_layers(facts)["why"]


def test_a_recurrence_that_grows_without_bound_is_described_and_bounded_below_only():
    grows = "t[k] + 1/t[k]"
    facts = _recurrence(grows, "1", "x[k] - grad f(x[k])/t[k]")
    assert _frozen_layers(facts)["why"] == (
        "every layer k >= 0 passes (t[k] -> oo: t[k+1] > t[k] from k = 0 on, with no fixed point above)"
    )
    # the momentum t[k]/4 passes 1 once t[k] > 4: the layers cannot all pass
    facts = _recurrence(grows, "1", "x[k] - grad f(x[k]) + (t[k]/4)*(x[k] - x[k-1])")
    assert facts["verdict"] == "not_guaranteed" and _frozen_layers(facts)["ok"] is False


def test_a_recurrence_of_period_two_takes_exactly_its_two_values():
    """t = 2, 1/2, 2, ...: the momentum 8t^2 - 20t + 8 is 0 at both, so every layer passes; at the mean of the two
    values, or anything between, it would not."""
    facts = _recurrence("1/t[k]", "2", "x[k] - grad f(x[k]) + (8*t[k]^2 - 20*t[k] + 8)*(x[k] - x[k-1])")
    assert facts["verdict"] == "guaranteed" and facts["rho_value"] == "zeta**2 - zeta"
    assert _frozen_layers(facts)["why"] == "every layer k >= 0 passes (decided exactly in k on even and odd layers)"


# check --weights: layers past a schedule's float32 range, and blocks that see 0*x ----------------------------------

OVERFLOWING = """algorithm ovf
param t[0] = 1
param t[k+1] = 2*t[k]
param kn[k] = 0.5 learnable
x[k+1] = x[k] - t[k]*grad f(x[k]) + kn[k]*(x[k] - x[k-1])
"""


def test_layers_past_the_float32_range_of_a_schedule_are_listed_with_their_trained_values(tmp_path, capsys):
    """t[k] = 2^k leaves float32 at k = 128: from layer 127 on a layer has no finite coefficients. Exactly ten
    layers fail (127-136), which the reasons list one by one, with no "0 more layers" after them."""
    source = _source(tmp_path, OVERFLOWING)
    status, out = _check(capsys, source, "--weights", _checkpoint(tmp_path, source, 137), "--json")
    facts = json.loads(out)
    assert status == 1 and facts["fixed_depth"] == 137
    why = "a coefficient has no finite value (division by zero, or a recurrence past the float32 range)"
    assert facts["reasons"] == [f"layer {k}: kn = 0.5; {why}" for k in range(127, 137)]
    assert facts["layers"][127] == {
        "k": 127,
        "values": {"kn": 0.5},
        "finite": False,
        "consistent": False,
        "zero_stable": False,
        "strongly_stable": False,
        "guaranteed": False,
        "roots": [],
        "why": facts["reasons"][0],
    }
    assert facts["layers"][126]["finite"] is True and facts["layers"][126]["guaranteed"] is True


def test_a_layer_whose_block_sees_zero_says_so(tmp_path, capsys):
    source = _source(
        tmp_path,
        "algorithm sp\nparam h = 1\nparam s[k] = 1 learnable\nx[k+1] = x[k] - h*grad f(x[k]) - h*grad g(s[k]*x[k])\n",
    )
    status, out = _check(capsys, source, "--weights", _checkpoint(tmp_path, source, 5, s={2: 0.0}), "--json")
    layer = json.loads(out)["layers"][2]
    assert status == 1 and layer["guaranteed"] is False and layer["zero_stable"] is True
    assert layer["why"] == "layer 2: s = 0; T_g sees 0*x here: the limit field does not depend on the state"


def test_an_undefined_layer_names_every_trained_value_at_that_layer(tmp_path, capsys):
    source = _source(
        tmp_path,
        "algorithm undef\nparam a = 1 learnable\nparam s[k] = 1 learnable\nx[k+1] = x[k] - (a/s[k])*grad f(x[k])\n",
    )
    status = main(["check", str(source), "--weights", _checkpoint(tmp_path, source, 5, s={2: 0.0})])
    err = capsys.readouterr().err
    assert status == 2
    assert "error: at layer 2, at the trained values (a = 1, s = 0), 1/s = zoo is not a finite real number" in err


# compile --memory reversible and --constrain ------------------------------------------------------------------------


def test_the_inverse_names_a_block_output_after_its_point():
    source = alg2net.compile_source(HEAVY_BALL.read_text(encoding="utf-8"), memory="reversible")
    assert 'grad_f_x = self._block("f", k)(x).to(x_next.dtype)' in source
    assert 'return (x, x_prev), {"grad_f_x": grad_f_x}' in source


def test_the_inverse_puts_a_scalar_before_a_state_in_a_product():
    text = (
        "algorithm t\nparam h = 1\nparam beta = 9/10 learnable\n"
        "x[k+1] = x[k] + exp(beta)*(x[k] - x[k-1]) - h*grad f(x[k])\n"
    )
    source = alg2net.compile_source(text, memory="reversible")
    assert "x_prev = torch.exp(-self.beta) * (x + torch.exp(self.beta) * x - self.h * grad_f_x - x_next)" in source


def test_a_constrained_schedule_is_documented_as_one_value_per_layer():
    source = alg2net.compile_source(LM_RESNET.read_text(encoding="utf-8"), constrain=True)
    assert '"""`kn` (one value per layer), held in -0.99999 < kn < 0.99999' in source


# check: coefficients that vary with k (found by the seed-2 sample) --------------------------------------------------


def _facts(*lines: str) -> dict:
    return alg2net.check_source("\n".join(["algorithm t", *lines, ""]))


def _rows(facts: dict) -> dict[str, str]:
    """Each condition's why, by name."""
    return {c["name"]: c["why"] for c in facts["conditions"]}


def test_block_coefficients_that_grow_with_k_fail_the_limit(capsys, tmp_path):
    """rho and c_f settle, but T's coefficients k + 1 and -k do not: the layers add k*h*(T(x[k]) - T(x[k-1])), a
    first-order term, so they approximate no x' = -c*T(x). With rho varying too, the order is the last layer's."""
    update = "x[k+1] = x[k] + b[k]*(x[k] - x[k-1]) - h*((k+1)*grad f(x[k]) - k*grad f(x[k-1]))"
    lines = ["param h = 0.5", "param b[k] = 0.5 + 1/(k+4)", update]
    facts = _facts(*lines)
    assert facts["verdict"] == "not_guaranteed"
    why = (
        "as k -> oo, the coefficient -k/2 - 1/2 of z_f*zeta in Pi(zeta, z) tends to -oo: a block's coefficients that"
        " do not settle leave terms of higher order in h that do not vanish, so the layers need not approximate"
        " x' = -c*T(x)"
    )
    assert facts["reasons"] == [why]
    status, out = _check(capsys, _source(tmp_path, "\n".join(["algorithm t", *lines, ""])))
    assert status == 1
    assert "\norder: 1 on the linear test (at the last layer, k = 99), error constant" in out
    constant = _facts("param h = 0.5", "x[k+1] = x[k] - h*((k+1)*grad f(x[k]) - k*grad f(x[k-1]))")
    assert constant["verdict"] == "not_guaranteed" and "tends to -oo" in constant["reasons"][0]


def test_block_coefficients_that_settle_keep_the_guarantee():
    settled = _facts("param h = 0.5", "x[k+1] = x[k] - h*((1 + 1/(k+1))*grad f(x[k]) - grad f(x[k-1])/(k+1))")
    assert settled["verdict"] == "guaranteed", settled["reasons"]
    alternating = _facts("param h[k] = 1 + (-1)^k/2", "x[k+1] = x[k] - h[k]*((1 + 1/(k+1))*grad f(x[k]))")
    assert alternating["verdict"] == "guaranteed", alternating["reasons"]


def test_block_coefficients_that_alternate_alone_are_undecided():
    """rho and c_f are the same at every layer but T's coefficients alternate: even and odd layers are not told
    apart for them, so boundedness is not proven (conservative)."""
    facts = _facts("param h = 0.5", "x[k+1] = x[k] - h*((2 + (-1)^k)*grad f(x[k]) - (-1)^k*grad f(x[k-1]))")
    assert facts["verdict"] == "not_guaranteed"
    assert facts["reasons"][0].startswith("could not decide whether the coefficient")


def test_k_and_a_recurrence_without_closed_form_together_are_undecided():
    """A schedule that reads a recurrence (it used to crash the float32 overflow scan)."""
    facts = _facts(
        "param t[0] = 3",
        "param t[k+1] = t[k]^2/4 + 0.5",
        "param b[k] = t[k]/(k+2)",
        "x[k+1] = x[k] + 0.5*b[k]*(x[k] - x[k-1]) - grad f(x[k])",
    )
    why = "the coefficients depend on k and on recurrences without a closed form together"
    assert facts["verdict"] == "not_guaranteed"
    assert facts["reasons"] == [
        f"could not decide from layer 0 on: {why}",
        f"could not decide the limit k -> oo: {why}",
    ]


def test_a_schedule_that_reads_a_recurrence_is_scanned_for_float32_overflow():
    facts = _facts(
        "param t[0] = 1",
        "param t[k+1] = t[k] + 1",
        "param s[k] = 2^(t[k]) + 1",
        "x[k+1] = x[k] - (1 - 1/s[k])*grad f(x[k])",
    )
    rows = [c["why"] for c in facts["conditions"] if c["name"] == "finite coefficients"]
    assert rows == [
        "t[k] grows without bound: its value leaves the float32 range at some layer beyond k = 10000",
        "s[127] exceeds the float32 range (a float32 module stores inf): every layer from k = 127 on overflows",
    ]
    assert facts["max_depth_guaranteed"] == 127


def test_a_recurrence_inside_exp_is_undecided_and_listed_quickly():
    """exp(-t[k]) at 30-digit t_k used to make the listed layers' exact algebra run for hours."""
    facts = _facts(
        "param t[0] = 0.5",
        "param t[k+1] = t[k]^2/4 + 0.5",
        "x[k+1] = x[k] + exp(-t[k])*(x[k] - x[k-1]) - grad f(x[k])",
    )
    assert facts["verdict"] == "not_guaranteed"
    assert facts["reasons"] == ["could not decide from layer 0 on: t[k] enters the coefficients other than rationally"]


def test_a_recurrence_read_only_at_k_plus_one_is_followed_to_its_limit():
    """Momentum t[k+1] -> 1: the limit is second order, although t[k] itself appears nowhere."""
    facts = _facts(
        "param t[0] = 0",
        "param t[k+1] = 0.5*t[k] + 0.5",
        "x[k+1] = x[k] + t[k+1]*(x[k] - x[k-1]) - grad f(x[k])",
    )
    assert facts["verdict"] == "not_guaranteed" and facts["max_depth_guaranteed"] is None
    assert facts["reasons"][0].startswith("rho'(1) = 1 - t[k+1] tends to 0 as k -> oo")


@pytest.mark.parametrize(
    "schedule",
    [
        "exp(-k)*(exp(k) + 1)/4",  # rational in exp(-k) only once expanded
        "sqrt(k + 1)/sqrt(k + 2)",  # one generator once the roots are combined
    ],
)
def test_a_step_schedule_with_one_generator_is_decided_in_k(schedule: str):
    facts = _facts(f"param h[k] = {schedule}", "x[k+1] = x[k] - h[k]*grad f(x[k])")
    assert facts["verdict"] == "guaranteed"
    assert _rows(facts)["frozen layers"] == "every layer k >= 0 passes (decided exactly in k)"


# analysis helpers ---------------------------------------------------------------------------------------------------


def test_min_and_max_are_enclosed_by_the_min_and_max_of_their_arguments():
    from alg2net.analysis.interval import Bounds, enclose

    t = sp.Symbol("t")
    assert enclose(sp.Min(t, 2), {t: Bounds(0, 5)}) == Bounds(0, 2)
    assert enclose(sp.Max(t, 2), {t: Bounds(0, 5)}) == Bounds(2, 5)


def test_closed_forms_and_fixed_points_of_recurrences():
    from alg2net.analysis.recurrences import _fixed_points, closed_form
    from alg2net.derive import K

    t = sp.Symbol("t")
    assert closed_form(t + 2, t, sp.Integer(1)) == 2 * K + 1
    # A + B*sqrt(Q) with B = 1/4: squaring out must use B^2 (B*2 finds the roots of t^2/16 - 4 instead).
    assert _fixed_points((t + sp.sqrt(t**2 + 8)) / 4, t) == [1]


def test_roots_within_1e_40_of_the_unit_circle_are_placed_and_written_exactly():
    from alg2net.analysis.reduce import ZETA
    from alg2net.analysis.roots import modulus_text, root_facts

    cubic = root_facts(sp.Poly((ZETA - 1) * (ZETA**3 - ZETA - sp.Rational(1, 10**45)), ZETA))
    assert not cubic.zero_stable
    assert sorted(modulus_text(r) for r in cubic.roots if not r.on_circle) == ["1 + 5e-46", "1 - 5e-46", "1e-45"]
    pair = root_facts(sp.Poly((ZETA - 1) * (ZETA**2 - ZETA + 1 + sp.Rational(2, 10**20)), ZETA))
    assert [modulus_text(r) for r in pair.roots if not r.on_circle] == ["1 + 1e-20", "1 + 1e-20"]


def test_a_complex_pair_just_outside_the_unit_circle_is_reported(capsys, tmp_path):
    """|zeta|^2 = 1 + 2e-20 exactly: the report used to crash writing the modulus."""
    text = "algorithm near\nparam c = 1.00000000000000000002\nx[k+1] = 2*x[k] - (1 + c)*x[k-1] + c*x[k-2] - 0.1*grad f(x[k])\n"
    status, out = _check(capsys, _source(tmp_path, text))
    assert status == 1
    assert "(|zeta| = 1 + 1e-20)" in out


def test_a_fixed_point_where_g_flattens_is_reached_by_contraction():
    """g(t) = 1 + (t - 1)^3 has g'(1) = 0: the enclosed slope on [1/2, 1] starts at 0, so `g increasing` is not
    proven there (an open end at the fixed point needs g strictly increasing); the contraction decides."""
    from alg2net.analysis.recurrences import orbit

    t = sp.Symbol("t")
    tail = orbit(1 + (t - 1) ** 3, t, sp.Rational(1, 2)).tail
    assert (tail.low, tail.high, tail.limit) == (sp.Rational(1, 2), sp.Rational(3, 2), 1)
    assert tail.how == "t[k] -> 1: a contracting fixed point (|g'| <= 0.75 near it from k = 0 on)"


def test_a_monotone_approach_starts_where_the_enclosed_slope_is_positive():
    """g(t) = t + (1 - t)^3/3 from t_0 = 0: g'(1) = 1 (no contraction), and on [0, 1] the enclosed slope is [0, 1],
    which does not prove g strictly increasing (the open end at 1 needs it); from t_1 = 1/3 on it does."""
    from alg2net.analysis.recurrences import orbit

    t = sp.Symbol("t")
    tail = orbit(t + (1 - t) ** 3 / 3, t, sp.Integer(0)).tail
    assert (tail.start, tail.high, tail.high_closed, tail.limit) == (1, 1, False, 1)
    assert tail.how == "t[k] -> 1 monotonically from k = 1 on (g increasing, no fixed point between)"


# found by the seed-3 sample ------------------------------------------------------------------------------------------


def test_a_decimal_near_the_unit_circle_gets_the_digits_that_tell_it_from_1():
    from alg2net.analysis.conditions import decimal
    from alg2net.analysis.reduce import ZETA
    from alg2net.analysis.roots import root_facts

    value = 1 + sp.Rational(1, 10**8)
    (root,) = [r for r in root_facts(sp.Poly((ZETA - 1) * (ZETA - value), ZETA)).roots if r.value != 1]
    assert decimal(root.value, root) == "1.00000001"


def test_a_nested_square_root_is_not_squared_out():
    from alg2net.analysis.recurrences import _squared_out

    t = sp.Symbol("t")
    assert _squared_out(sp.exp(sp.sqrt(t)) - t, t) is None


def test_a_tail_that_grows_without_bound_includes_its_first_value():
    """t_0 = 2 fails (momentum 1, a double root) and the tail [2, oo) starts there: it must not be read as (2, oo)."""
    facts = _facts(
        "param t[0] = 2",
        "param t[k+1] = t[k] + 1/t[k]",
        "x[k+1] = x[k] + (1 - (t[k] - 2)^2/(1 + (t[k] - 2)^2))*(x[k] - x[k-1]) - grad f(x[k])",
    )
    assert _rows(facts)["frozen layers"] == (
        "could not decide from layer 0 on: from layer 0 on, t[k] ranges over values that pass and values that fail"
    )


def test_constrain_holds_a_param_in_a_region_open_below():
    text = (
        "algorithm t\nparam a = -1 learnable\nparam beta = 0.5 learnable\n"
        "x[k+1] = x[k] + beta*(x[k] - x[k-1]) - a*grad f(x[k])\n"
    )
    source = alg2net.compile_source(text, constrain=True)
    assert '"""`a`, held in a < -1e-05 (its region\'s interval below 0.0) through `a_raw`."""' in source


def test_constrain_checks_a_learnable_schedule_at_every_layer():
    text = "algorithm s\nparam b[k] = {}/(k+10) learnable\nx[k+1] = x[k] + b[k]*(x[k] - x[k-1]) - grad f(x[k])\n"
    assert "held in -0.99999 < b < 0.99999" in alg2net.compile_source(text.format("0.5*k"), constrain=True)
    with pytest.raises(alg2net.Alg2NetError, match="its initial value .* is at some layer k >= 0 on or outside"):
        alg2net.compile_source(text.format("(k+20)"), constrain=True)


def test_a_joint_region_documents_its_thetas_and_wraps_at_112_columns():
    source = alg2net.compile_source((ROOT / "examples" / "learnable_lmm3.alg").read_text(), constrain=True)
    assert "theta_1 = a_raw" in source and "theta_2 = b_raw" in source
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("    a, b: every root of q(zeta)"))
    paragraph = lines[start : lines.index("", start)]  # the map's description, wrapped at 112 columns
    assert len(paragraph) == 3 and all(70 < len(line) <= 112 for line in paragraph[:2])


def test_the_inverse_writes_k_as_the_layer_index():
    text = "algorithm m\nx[k+1] = x[k] + (k+1)/(k+2)*(x[k] - x[k-1]) - grad f(x[k])\n"
    source = alg2net.compile_source(text, memory="reversible")
    assert "x_prev = (k + 2) * (x + x / (k + 2) + k * x / (k + 2) - grad_f_x - x_next) / (k + 1)" in source


def test_a_param_that_is_zero_where_the_inverse_divides_is_located_at_its_update(tmp_path, capsys):
    source = _source(tmp_path, HEAVY_BALL.read_text(encoding="utf-8").replace("beta = 0.9", "beta = 0"))
    status = main(["compile", str(source), "--memory", "reversible", "-o", str(tmp_path / "net.py")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"{source}:8:1: error: --memory reversible: the inverse divides by beta")


# found by the seed-4 sample ------------------------------------------------------------------------------------------


def test_a_schedule_that_passes_only_layer_0_says_so():
    facts = _facts("param b[k] = min(k, 2)", "x[k+1] = x[k] - 0.1*grad f(x[k]) + b[k]*(x[k] - x[k-1])")
    assert _rows(facts)["frozen layers"].startswith("layer 0 passes; at layer 1: zeta = 1 is a multiple root of rho")


def test_trained_schedule_values_are_judged_against_their_region(tmp_path):
    text = LM_RESNET.read_text(encoding="utf-8")
    inside = alg2net.check_source(text, weights=_checkpoint(tmp_path, LM_RESNET, 10))
    assert _rows(inside)["kn in its region"] == "every trained value in the region -1 < kn <= 1"
    outside = alg2net.check_source(text, weights=_checkpoint(tmp_path, LM_RESNET, 10, kn={2: 1.5, 3: 1.5, 7: 2.0}))
    why = "3 of 10 trained values outside the region -1 < kn <= 1 (layers 2-3, layer 7)"
    assert _rows(outside)["kn in its region"] == why


def test_a_schedule_past_float32_through_exp_is_found_exactly():
    """min(exp(k), 1e39) is beyond float32 from k = 89: the overflow scan evaluates it in mpmath, exp included."""
    facts = _facts(
        "param c[k] = min(exp(k), 1e39)",
        "x[k+1] = x[k] - 0.1*grad f(x[k]) + c[k]/(2*c[k] + 1)*(x[k] - x[k-1])",
    )
    assert facts["max_depth_guaranteed"] == 89
    assert facts["reasons"] == [
        "c[89] exceeds the float32 range (a float32 module stores inf): every layer from k = 89 on overflows"
    ]


def test_a_recurrence_stops_where_it_leaves_float32():
    """t_1 = 2^200 overflows; from the last finite value a later layer's step (2^(200-k)) would be finite again,
    and must not be taken for t_1."""
    from alg2net.analysis.limits import K, recurrence_values
    from alg2net.analysis.params import Recurrence

    t, t1 = sp.symbols("t_k t_k1")
    runs = recurrence_values((Recurrence("t", t, t1, sp.Integer(1), t * 2 ** (200 - K)),), 100)
    assert runs == {t: [1]}


def test_a_monotone_approach_does_not_start_on_a_fixed_point():
    """g(t) = (3t - t^2)/2 fixes 0 and 1 and rises between them; from an enclosure [0, 1/2] of t_n, t_n may be 0,
    which it never leaves: no claim that t_k -> 1 (from [1/4, 1/2] there is one)."""
    from alg2net.analysis.interval import Bounds
    from alg2net.analysis.recurrences import _Map

    t = sp.Symbol("t")
    step = _Map.of((3 * t - t**2) / 2, t)
    assert step._monotone(Bounds(Fraction(0), Fraction(1, 2)), 0) is None
    assert step._monotone(Bounds(Fraction(1, 4), Fraction(1, 2)), 0).limit == 1


def test_roots_on_the_circle_of_an_irreducible_quartic_are_told_from_those_off_it():
    """rho = (zeta - 1)*(zeta^4 - zeta^3 - zeta^2 - zeta + 1), a Salem polynomial: two roots on the unit circle,
    one at 1.72 and one at 0.58."""
    facts = _facts("param h = 0.1", "x[k+1] = 2*x[k] - 2*x[k-3] + x[k-4] - h*grad f(x[k])")
    roots = [(r["value"], r["abs"]) for r in facts["roots"]]
    assert [v for v, _ in roots] == ["1.72208", "1", "-0.651388 - 0.758745*I", "-0.651388 + 0.758745*I", "0.580692"]
    assert [a for _, a in roots][1:4] == [1.0, 1.0, 1.0]


def test_tiny_roots_of_a_cubic_factor_are_found_to_their_own_precision():
    """Coefficients 1e-300 and 3e-322 made integers past the float range (OverflowError: exit 3), and Newton's
    absolute stop took roots of size 1e-108 for 0: the roots are the three cube roots of about 3e-322."""
    facts = _facts(
        "param a = 1e-300",
        "param b = 3e-322",
        "x[k+1] = x[k] - 0.1*grad f(x[k]) + a*(x[k-1] - x[k-2]) + b*(x[k-2] - x[k-3])",
    )
    assert [r["value"] for r in facts["roots"]] == ["1", "6.69433e-108", "-3.34716e-108", "-3.34716e-108"]
    assert [r["abs"] for r in facts["roots"]][1:] == pytest.approx(
        [float(sp.Rational(3, 10**322) ** sp.Rational(1, 3))] * 3, rel=1e-9
    )


def test_roots_closer_than_floats_tell_apart_are_found():
    """(zeta - 1/3)^2*(zeta + 1/2) + 10^-40: a pair 2.2e-20 apart, one root to floats; mpmath's polyroots did not
    converge on it (exit 3). Aberth in mpmath separates them: 1/3 +- i*sqrt(6/5)*1e-20 to leading order."""
    from alg2net.analysis.reduce import ZETA
    from alg2net.analysis.roots import root_facts

    third = sp.Rational(1, 3)
    poly = sp.Poly(sp.expand((ZETA - third) ** 2 * (ZETA + sp.Rational(1, 2)) + sp.Rational(1, 10**40)), ZETA)
    roots = sorted(root_facts(poly).roots, key=lambda r: float(sp.im(r.value)))
    assert [r.multiplicity for r in roots] == [1, 1, 1]
    pair = (roots[0], roots[2])
    assert all(abs(sp.re(r.value) - third) < sp.Rational(1, 10**39) for r in pair)
    assert [float(sp.im(r.value)) for r in pair] == pytest.approx([-1.0954451150e-20, 1.0954451150e-20], rel=1e-9)
    assert abs(roots[1].value + sp.Rational(1, 2)) < sp.Rational(1, 10**35)


def test_square_roots_of_one_schedule_are_combined_into_one_generator():
    """sqrt(k+1)/sqrt(k+9) is one monotone function of k, sqrt((k+1)/(k+9)): minus 1/3 it is 0 at layer 0 only,
    minus 1/2 never."""
    step = "x[k+1] = x[k] - h[k]*grad f(x[k])"
    facts = _facts("param h[k] = sqrt(k+1)/sqrt(k+9) - 1/3", step)
    assert facts["reasons"] == ["at layer 0: every c_F is 0: no gradient term reaches the limit, which is x' = 0"]
    assert facts["max_depth_guaranteed"] == 0
    facts = _facts("param h[k] = sqrt(k+1)/sqrt(k+9) - 1/2", step)
    assert facts["verdict"] == "guaranteed"
    assert _rows(facts)["frozen layers"] == "every layer k >= 0 passes (decided exactly in k)"


# found by the seed-5 sample ------------------------------------------------------------------------------------------


def test_trained_values_are_written_as_short_decimals(tmp_path):
    """beta = 0.7 in float32 is 11744051/16777216: the texts write c_f = 3.33333, not 16777216/5033165; the decision
    stays exact."""
    path = _checkpoint(tmp_path, HEAVY_BALL, 10, beta=0.7)
    facts = alg2net.check_source(HEAVY_BALL.read_text(encoding="utf-8"), weights=path)
    assert _rows(facts)["gradient term in the limit"] == "at the trained values: c_f = 3.33333"
    assert facts["limit_ode_value"] == "x' = -3.33333*T_f(x)"


def test_a_recurrence_that_falls_to_minus_infinity_is_followed_there():
    """t[k+1] = t[k] - t[k]^2/4 from -1 falls without bound: momentum 1/(2 - t[k]) -> 0 passes at every layer,
    and t[12] is past float32, so the depth is bounded."""
    facts = _facts(
        "param t[0] = -1",
        "param t[k+1] = t[k] - t[k]^2/4",
        "x[k+1] = x[k] - 0.1*(1 - 1/(2 - t[k]))*grad f(x[k]) + (1/(2 - t[k]))*(x[k] - x[k-1])",
    )
    rows = _rows(facts)
    assert rows["frozen layers"] == (
        "every layer k >= 0 passes (t[k] -> -oo: t[k+1] < t[k] from k = 0 on, with no fixed point below)"
    )
    assert rows["limit k -> oo"] == "rho tends to (zeta - 1)*zeta"
    assert facts["max_depth_guaranteed"] == 11


def test_pi_is_enclosed_tightly():
    from alg2net.analysis.interval import Bounds, enclose, point

    pi = point(sp.pi)
    assert pi.low < sp.pi < pi.high and pi.width < sp.Rational(1, 10**40)
    doubled = enclose(sp.pi * sp.Symbol("x"), {sp.Symbol("x"): Bounds(Fraction(1), Fraction(2))})
    assert doubled.low < sp.pi and 2 * sp.pi < doubled.high < 2 * sp.pi + sp.Rational(1, 10**40)


def test_params_held_jointly_are_documented_as_such():
    source = alg2net.compile_source((ROOT / "examples" / "learnable_lmm3.alg").read_text(), constrain=True)
    assert '        """`a`, held with b by `_a_b`."""\n        return self._a_b()[0]' in source


def test_an_inverse_without_growth_documents_that_only_the_input_is_stored():
    source = alg2net.compile_source((ROOT / "examples" / "leapfrog.alg").read_text(), memory="reversible")
    assert (
        "None, the default, stores only the input: at the file's initial param values a rounding error does not grow"
        " as a layer is run backwards." in " ".join(source.split())
    )


# found by the seed-6 sample ------------------------------------------------------------------------------------------


def test_a_trained_constant_outside_its_region_is_reported_by_name(tmp_path, capsys):
    status, out = _check(capsys, HEAVY_BALL, "--weights", _checkpoint(tmp_path, HEAVY_BALL, 10, beta=1.5))
    assert status == 1
    assert "\n  ✗ beta in its region: trained value beta = 1.5 outside the region -1 <= beta < 1\n" in out
    assert (
        "\n  x' = 2*T_f(x)   (at the trained values)\n  region of beta: -1 <= beta < 1 (trained value OUTSIDE)\n" in out
    )


def test_roots_next_to_the_circle_are_written_with_the_digits_that_place_them():
    text = "algorithm n\nparam h = 0.1\nx[k+1] = x[k] - 1.00000003 * (x[k-2] - x[k-3]) - h * grad f(x[k])\n"
    facts = alg2net.check_source(text)
    assert [r["value"] for r in facts["roots"]][:3] == [
        "0.500000005 - 0.866025412*I",
        "0.500000005 + 0.866025412*I",
        "-1.00000001",
    ]
    why = "the root zeta = 0.500000005 - 0.866025412*I has |zeta| = 1.00000001 > 1: errors grow like |zeta|^k"
    assert facts["reasons"] == [why]


def test_a_consistent_limit_has_no_second_order_ode():
    facts = _facts("param b[k] = 0.5*k/(k + 10)", "x[k+1] = x[k] + b[k]*(x[k] - x[k-1]) - grad f(x[k])")
    assert facts["verdict"] == "guaranteed" and facts["second_order_limit"] is None


def test_a_joint_map_writes_no_zero_constant():
    source = alg2net.compile_source((ROOT / "examples" / "learnable_lmm3.alg").read_text(), constrain=True)
    assert "\n        return -c1, -c2\n" in source
