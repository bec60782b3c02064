"""`alg2net check`: verdicts with reasons, the exact reduction, regions of learnable params, the CLI and the API."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

import alg2net
from alg2net import pipeline
from alg2net.analysis import CheckFacts
from alg2net.analysis import check as analyse
from alg2net.analysis.conditions import CODES
from alg2net.analysis.reduce import ZETA, output_recurrence, state_space
from alg2net.cli import main
from alg2net.derive import derive
from alg2net.pipeline import derive_source
from alg2net.resolve import resolve
from alg2net.syntax import parse

EXAMPLES = Path(__file__).parent.parent / "examples"
JSON_KEYS = {
    "algorithm": str,
    "explicit": bool,
    "rho": str,
    "roots": list,
    "consistent": bool,
    "zero_stable": bool,
    "strongly_stable": bool,
    "limit_ode": str,
    "verdict": str,
    "reasons": list,
}


def check(text: str, **options) -> dict:
    return alg2net.check_source(text, **options)


def example(name: str, **options) -> dict:
    return check((EXAMPLES / f"{name}.alg").read_text(), **options)


def heavy_ball(beta: str) -> str:
    return f"algorithm hb\nparam h = 1\nparam beta = {beta} learnable\nx[k+1] = x[k] - h * grad f(x[k]) + beta * (x[k] - x[k-1])\n"


# Verdicts ----------------------------------------------------------------------------------------------------------


def test_heavy_ball_inside_its_region():
    facts = example("heavy_ball")
    assert facts["verdict"] == "guaranteed" and facts["reasons"] == []
    assert facts["rho"] == "zeta**2 - (beta + 1)*zeta + beta"
    assert facts["limit_ode"] == "x' = -1/(1 - beta)*T_f(x)"
    assert facts["limit_ode_value"] == "x' = -10*T_f(x)"  # effective step h/(1 - beta) at beta = 0.9
    beta = next(p for p in facts["params"] if p["name"] == "beta")
    assert beta["region"] == "-1 <= beta < 1" and beta["initial_inside"] is True
    assert sorted((r["value"], r["multiplicity"]) for r in facts["roots"]) == [("1", 1), ("9/10", 1)]


@pytest.mark.parametrize(
    ("beta", "verdict", "strong", "reason"),
    [
        ("-1", "guaranteed", False, None),
        ("1", "not_guaranteed", False, "multiple root"),
        ("3/2", "not_guaranteed", False, "|zeta| = 3/2 > 1"),
        ("-2", "not_guaranteed", False, "|zeta| = 2 > 1"),
        ("1/2", "guaranteed", True, None),
    ],
)
def test_heavy_ball_in_and_out_of_its_region(beta, verdict, strong, reason):
    facts = check(heavy_ball(beta))
    assert facts["verdict"] == verdict
    assert facts["strongly_stable"] is strong
    entry = next(p for p in facts["params"] if p["name"] == "beta")
    assert entry["region"] == "-1 <= beta < 1"
    assert entry["initial_inside"] is (verdict == "guaranteed")
    if reason:
        assert any(reason in r for r in facts["reasons"]), facts["reasons"]


def test_nesterov_constant_and_its_region():
    facts = example("nesterov")
    assert facts["verdict"] == "guaranteed"
    assert facts["effective_steps"] == {"f": "1/(1 - mu)"}
    assert next(p for p in facts["params"] if p["name"] == "mu")["region"] == "-1 <= mu < 1"


def test_nesterov_schedule_approximates_a_second_order_ode():
    facts = example("nesterov_schedule", depth=30)
    assert facts["varying"] and facts["verdict"] == "not_guaranteed"
    (reason,) = facts["reasons"]
    assert "rho'(1) = 3/(k + 2) tends to 0" in reason and "second-order ODE" in reason
    assert "x'' + 3/t*x' + T_f(x) = 0 with t = k*sqrt(h)" in reason  # Su, Boyd, Candes 2016
    assert facts["second_order_limit"] == "x'' + 3/t*x' + T_f(x) = 0 with t = k*sqrt(h)"
    layers = next(c for c in facts["conditions"] if c["name"] == "frozen layers")
    assert layers["ok"] and layers["why"] == "every layer k >= 0 passes (decided exactly in k)"  # not only 30
    assert facts["max_depth_guaranteed"] is None
    assert facts["rho_value"] == "zeta**2 - 2*zeta + 1"  # the limit: a double root at 1


def test_fista_momentum_also_tends_to_a_second_order_ode():
    facts = example("fista_momentum", depth=20)
    assert facts["verdict"] == "not_guaranteed"
    assert any("second-order ODE" in reason for reason in facts["reasons"])


def test_a_schedule_that_fails_at_some_layers_names_them():
    text = "algorithm s\nparam b[k] = (k - 3) / 2\nx[k+1] = x[k] - grad f(x[k]) + b[k] * (x[k] - x[k-1])\n"
    facts = check(text, depth=10)
    layers = next(c for c in facts["conditions"] if c["name"] == "frozen layers")
    assert not layers["ok"]  # b = -3/2 at k = 0, b = 1 at k = 5, b > 1 from k = 6 on, at every depth
    assert layers["why"].startswith("at layer 0: the root zeta = -3/2 has |zeta| = 3/2 > 1")
    assert "; at layer 5: zeta = 1 is a multiple root" in layers["why"]
    assert layers["why"].endswith(
        "; from layer 6 on: the root zeta = 3/2 has |zeta| = 3/2 > 1: errors grow like |zeta|^k"
    )
    assert facts["max_depth_guaranteed"] == 0


def test_momentum_resnet():
    facts = example("momentum_resnet")
    assert facts["verdict"] == "guaranteed" and facts["order"] == 1
    assert facts["limit_ode"] == "x' = -T_f(x)"
    assert facts["rho"] == "zeta**2 - 19/10*zeta + 9/10"


def test_lm_resnet_region_in_the_papers_convention():
    facts = example("lm_resnet")
    assert facts["verdict"] == "guaranteed"
    kn = next(p for p in facts["params"] if p["name"] == "kn")
    assert kn["region"] == "-1 < kn <= 1" and kn["initial_inside"] is True
    assert facts["effective_steps"] == {"f": "1/(kn + 1)"}


def test_heun_has_order_two_and_no_classical_error_constant():
    facts = example("heun")
    assert facts["order"] == 2 and facts["error_constant"] is None and facts["verdict"] == "guaranteed"


def test_inconsistent_scheme():
    facts = check("algorithm bad\nx[k+1] = 2 * x[k] - grad f(x[k])\n")
    assert facts["consistent"] is False and facts["order"] is None
    assert facts["verdict"] == "not_guaranteed"
    assert any("rho(1) = -1 != 0" in reason for reason in facts["reasons"])


def test_scheme_without_gradient_term():
    facts = check("algorithm still\nx[k+1] = x[k] / 2 + x[k-1] / 2\n")
    assert facts["consistent"] and facts["zero_stable"]
    assert facts["verdict"] == "not_guaranteed" and facts["limit_ode"] == "x' = 0"
    assert any("no gradient term" in reason for reason in facts["reasons"])


def test_a_function_that_vanishes_from_the_limit_is_reported():
    text = "algorithm v\nx[k+1] = x[k] - grad f(x[k]) + grad g(x[k]) - grad g(x[k-1])\n"
    facts = check(text)
    assert facts["effective_steps"] == {"f": "1", "g": "0"} and facts["limit_ode"] == "x' = -T_f(x)"
    assert any("T_g vanishes" in c["why"] for c in facts["conditions"])


def test_evaluation_point_scale_is_reported():
    facts = check("algorithm s\nx[k+1] = x[k] - grad f(2 * x[k])\n")
    assert facts["evaluation_scales"] == {"f": ["2"]}
    assert facts["limit_ode_value"] == "x' = -T_f(2*x)"


def test_linearized_admm_is_an_implicit_explicit_euler_step_for_z():
    facts = example("linearized_admm")
    assert facts["explicit"] is False and facts["verdict"] == "guaranteed"
    assert facts["rho"] == "zeta**3 - zeta**2"  # x and u only add roots at 0
    assert facts["effective_steps"] == {"f": "1/4", "g": "1/4"}  # c_F = h for both: (1 + h z_f)/(1 - h z_g)
    assert facts["limit_ode"] == "z' = -1/4*T_f(z) - 1/4*T_g(z)"
    assert facts["order"] == 1


@pytest.mark.parametrize("name", ["linearized_admm", "admm", "momentum_resnet", "heun", "bdf2", "nesterov"])
def test_reduction_is_exact_on_simulated_sequences(name):
    """The output of the linearized layer, run from random states, satisfies Pi(zeta, z) exactly."""
    form = derive_source((EXAMPLES / f"{name}.alg").read_text()).form
    values = {sp.Symbol(p.definition.name, real=True): p.value for p in form.params}
    space = state_space(form, values)
    pi = output_recurrence(space)
    rng = random.Random(name)
    z = {v: sp.Rational(rng.randint(-9, 9), 7) for v in space.variables}
    matrix = space.matrix.xreplace(z)
    xi = sp.Matrix([sp.Rational(rng.randint(-20, 20), 3) for _ in space.slots])
    outputs = []
    for _ in range(pi.degree() + 4):
        outputs.append(xi[space.output])
        xi = matrix * xi
    coefficients = [sp.cancel(c.xreplace(z)) for c in reversed(pi.all_coeffs())]
    for start in range(4):
        assert sum(c * outputs[start + j] for j, c in enumerate(coefficients)) == 0
    assert pi.degree() <= len(space.slots)


def test_every_example_has_the_documented_keys_and_a_verdict():
    for path in sorted(EXAMPLES.glob("*.alg")):
        facts = check(path.read_text(), depth=10)
        for key, kind in JSON_KEYS.items():
            assert isinstance(facts[key], kind), (path.name, key)
        assert facts["verdict"] in ("guaranteed", "not_guaranteed")
        assert (facts["verdict"] == "guaranteed") == (facts["reasons"] == [])
        assert all(ZETA.name in facts["rho"] or facts["rho"] == "1" for _ in [0])
        json.dumps(facts)


# Command line and API ----------------------------------------------------------------------------------------------


def test_cli_json_matches_the_api(capsys):
    code = main(["check", "--json", str(EXAMPLES / "heavy_ball.alg")])
    facts = json.loads(capsys.readouterr().out)
    assert code == 0
    assert facts == alg2net.check_source((EXAMPLES / "heavy_ball.alg").read_text())


def test_cli_report_and_exit_status(capsys):
    assert main(["check", str(EXAMPLES / "heavy_ball.alg")]) == 0
    out = capsys.readouterr().out
    assert "\N{CHECK MARK} consistent" in out and "verdict: guaranteed" in out and "rho(zeta) =" in out
    assert main(["check", "--depth", "5", str(EXAMPLES / "nesterov_schedule.alg")]) == 1
    out = capsys.readouterr().out
    assert "\N{BALLOT X} limit k -> oo" in out and "verdict: not_guaranteed" in out


def test_cli_bad_input_is_located_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.alg"
    bad.write_text("algorithm bad\nx[k+1] = x[k] + mu * x[k]\n")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:2:17: error: unknown name 'mu'") and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(tmp_path / "missing.alg")])
    assert exit_.value.code == 2


def test_api_rejects_a_bad_depth():
    with pytest.raises(alg2net.Alg2NetError, match="depth"):
        alg2net.check_source("algorithm a\nx[k+1] = x[k] - grad f(x[k])\n", depth=0)


def test_compile_strict_refuses_what_check_does_not_guarantee(tmp_path, capsys):
    out = tmp_path / "net.py"
    assert main(["compile", "--strict", str(EXAMPLES / "nesterov_schedule.alg"), "-o", str(out)]) == 1
    assert not out.exists() and "--strict" in capsys.readouterr().err
    assert main(["compile", "--strict", str(EXAMPLES / "heavy_ball.alg"), "-o", str(out)]) == 0
    assert "class HeavyBall" in out.read_text()


def test_check_does_not_import_code_generation():
    code = "import sys, alg2net.cli as c; c.main(['check', 'examples/gradient_descent.alg']); print('black' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=EXAMPLES.parent
    )
    assert result.stdout.strip().endswith("False")


# Varying coefficients, names, limit ODE: inputs in tests/data/check ---------------------------------------------------

DATA = Path(__file__).parent / "data" / "check"


def data(name: str, **options) -> dict:
    return check((DATA / f"{name}.alg").read_text(), **options)


def test_json_when_the_coefficients_have_no_limit_and_layers_fail(capsys):
    """b_k = 1 - 3/2*(-1)^k has no limit; the facts shown are the last layer's, with Python booleans."""
    assert main(["check", "--json", str(DATA / "alternating_momentum.alg")]) == 1
    facts = json.loads(capsys.readouterr().out)
    assert facts["zero_stable"] is False and facts["strongly_stable"] is False and facts["consistent"] is True
    assert facts["roots_of"] == "at the last layer, k = 99"
    assert facts["rho_value"] == "zeta**2 - 7/2*zeta + 5/2"  # b_99 = 5/2
    assert [(r["value"], r["abs"]) for r in facts["roots"]] == [("5/2", 2.5), ("1", 1.0)]
    layers, limit = facts["reasons"]  # every odd layer fails, and so does the limit point of the odd layers
    assert layers == "at layers 1, 3, 5, ...: the root zeta = 5/2 has |zeta| = 5/2 > 1: errors grow like |zeta|^k"
    assert limit == "on odd layers, as k -> oo: the root zeta = 5/2 has |zeta| = 5/2 > 1: errors grow like |zeta|^k"
    assert facts["max_depth_guaranteed"] == 1


def test_a_diverging_recurrence_is_judged_as_its_schedule():
    """t_k = 2^k: beta_k = t_k/(t_k + 1) -> 1, rho -> (zeta - 1)^2, as with the schedule 2^k/(2^k + 1)."""
    recurrence, schedule = data("doubling_momentum"), data("doubling_momentum_schedule")
    for facts in (recurrence, schedule):
        assert facts["verdict"] == "not_guaranteed" and facts["rho_value"] == "zeta**2 - 2*zeta + 1"
        assert facts["roots"] == [{"value": "1", "abs": 1.0, "multiplicity": 2}]
        assert "second-order ODE" in facts["reasons"][0]
    assert recurrence["reasons"][0].startswith("rho'(1) = 1/(t[k] + 1) tends to 0 as k -> oo")
    assert schedule["reasons"][0].startswith("rho'(1) = 1/(2**k + 1) tends to 0 as k -> oo")


def test_a_step_that_grows_without_bound_is_named():
    facts = data("doubling_step")
    assert facts["verdict"] == "not_guaranteed"
    reason, overflow = facts["reasons"]  # t_k = 2^k also leaves float32 (the module's default buffers) at t[128]
    assert overflow == (
        "t[128] exceeds the float32 range (a float32 module stores inf): every layer from k = 127 on overflows"
    )
    assert reason == (
        "as k -> oo: c_f = t[k] -> oo: the effective step grows without bound, so the layers approximate no"
        " x' = -c*T(x)"
    )
    assert not any("every c_F is 0" in c["why"] for c in facts["conditions"])
    assert facts["order"] is None and facts["order_note"] == "some c_F is infinite in the limit k -> oo"


def test_without_a_limit_the_last_layer_is_shown_and_named():
    facts = data("alternating_step")
    assert facts["verdict"] == "guaranteed"
    assert facts["roots"] == [{"value": "1", "abs": 1.0, "multiplicity": 1}]
    assert facts["effective_steps_value"] == {"f": "1/2"}  # 1 + (-1)^99/2
    assert not any("in the limit k" in c["why"] for c in facts["conditions"])
    rows = {c["name"]: c["why"] for c in facts["conditions"]}
    assert rows["zero-stable"].startswith("at the last layer, k = 99: ")
    assert (
        rows["limit k -> oo"]
        == "the coefficients have no limit: on even and on odd layers they tend to values that pass"
    )
    bad = {c["name"]: c["why"] for c in data("alternating_momentum")["conditions"]}
    assert bad["zero-stable"] == (
        "at the last layer, k = 99: the root zeta = 5/2 has |zeta| = 5/2 > 1: errors grow like |zeta|^k"
    )


def test_no_limit_ode_without_consistency(capsys):
    for name, why in [("double_root", "multiple root"), ("contracting", "rho(1) = 1/2 != 0")]:
        facts = data(name)
        assert facts["limit_ode"] is None and "limit_ode_value" not in facts
        assert facts["effective_steps"] == {"f": None if name == "double_root" else "1"}
        assert any(why in reason for reason in facts["reasons"])
        assert main(["check", str(DATA / f"{name}.alg")]) == 1
        out = capsys.readouterr().out
        assert "limit ODE\n  none (not consistent" in out and "zoo" not in out and "x' =" not in out
        assert "order: none (not consistent)" in out


def test_the_limit_ode_uses_the_evaluation_scale(capsys):
    facts = data("scaled_point")
    assert facts["limit_ode"] == facts["limit_ode_value"] == "x' = -T_f(2*x)"
    assert facts["effective_steps"] == {"f": "2"}  # the linear test sees c*s
    assert main(["check", str(DATA / "scaled_point.alg")]) == 0
    out = capsys.readouterr().out
    assert "limit ODE\n  x' = -T_f(2*x)\n" in out and "-2*T_f(x)" not in out
    assert "T_f sees 2*x, not x" in out


def test_evaluation_scales_in_the_limit_are_limits():
    facts = data("scaled_point_schedule")
    assert facts["evaluation_scales"] == {"f": ["1"]}  # s_k = 1 + 1/(k + 1) -> 1
    assert facts["limit_ode"] == "x' = -T_f((k + 2)/(k + 1)*x)"  # frozen at layer k
    assert facts["limit_ode_value"] == "x' = -T_f(x)"
    row = next(c for c in facts["conditions"] if c["name"] == "evaluation points")
    assert row["ok"] and row["why"] == "in the limit k -> oo: every block sees the state x itself"


def test_regions_go_to_their_own_params():
    facts = data("underscore_names")
    regions = {p["name"]: p["region"] for p in facts["params"]}
    assert regions == {"b": "-1 <= b < 1", "b_": "b_ != 0"}
    assert facts["limit_ode"] == "x' = -b_/(1 - b)*T_f(x)"


def test_params_named_like_the_analysis_variables():
    facts = data("reserved_names")
    assert facts["rho"] == "zeta**3 - (zeta_ + 1)*zeta**2 - (z_f_ - zeta_)*zeta + z_f_"
    assert facts["rho_names"] == {"zeta_": "the param zeta", "z_f_": "the param z_f"}
    zeta, param, z_f = sp.symbols("zeta zeta_ z_f_")
    parsed = sp.parse_expr(facts["rho"], local_dict={"zeta": zeta, "zeta_": param, "z_f_": z_f})
    assert sp.expand(parsed - (zeta - 1) * (zeta**2 - param * zeta - z_f)) == 0
    regions = {p["name"]: p["region"] for p in facts["params"]}
    assert regions == {"zeta": "-3/4 <= zeta < 3/4", "z_f": "-1 <= z_f < 1/2", "lambda": "lambda != 0"}
    assert facts["limit_ode"] == "x' = -lambda/(-z_f - zeta + 1)*T_f(x)"
    keyword = check(heavy_ball("1/2").replace("beta", "lambda"))
    assert keyword["rho"] == "zeta**2 - (lambda_ + 1)*zeta + lambda_"
    assert sp.parse_expr(keyword["rho"], local_dict={"zeta": zeta, "lambda_": param}) is not None


def test_the_order_note_gives_the_real_reason(capsys):
    facts = data("halving_step")  # t_k -> 2: consistent in the limit, order computed there
    assert facts["verdict"] == "guaranteed" and facts["order"] == 1 and facts["order_note"] is None
    assert facts["limit_ode_value"] == "x' = -2*T_f(x)"
    assert main(["check", str(DATA / "halving_step.alg")]) == 0
    assert "order: 1 on the linear test (in the limit k -> oo)" in capsys.readouterr().out
    vanishing = check("algorithm v\nparam h[k] = 1/(k + 1)\nx[k+1] = x[k] - h[k]*grad f(x[k])\n")
    assert vanishing["order"] is None and vanishing["order_note"] == "every c_F is 0 in the limit k -> oo"
    assert data("doubling_momentum")["order_note"] == "not consistent in the limit k -> oo"


def test_regions_decide_rational_samples_without_computing_roots(monkeypatch):
    from alg2net.analysis import multistep, region
    from alg2net.analysis.roots import root_condition, root_facts

    form = derive_source(
        "algorithm c\nparam a = 0.3 learnable\nx[k+1] = x[k] - grad f(x[k]) + a*(x[k] - x[k-1]) + a^2*(x[k-1] - x[k-2])\n"
    ).form
    a = sp.Symbol("a", real=True)
    pi = output_recurrence(state_space(form, {a: a}))
    rho, steps = multistep.rho(pi, (sp.Symbol("z_f"),)), multistep.effective_steps(pi, (sp.Symbol("z_f"),))
    computed = []
    monkeypatch.setattr(multistep, "root_facts", lambda poly: computed.append(poly) or root_facts(poly))
    intervals = region.region(rho, steps, a)
    assert region.describe(intervals, "a") == "1/2 - sqrt(5)/2 <= a < -1/2 + sqrt(5)/2"
    assert all(not all(c.is_Rational for c in poly.all_coeffs()) for poly in computed)  # only irrational points
    rng = random.Random(7)
    for _ in range(200):  # the exact root condition agrees with the roots
        coefficients = [1] + [sp.Rational(rng.randint(-6, 6), rng.randint(1, 4)) for _ in range(rng.randint(1, 4))]
        poly = sp.Poly(coefficients, ZETA) * sp.Poly(ZETA - 1, ZETA) ** rng.randint(0, 2)
        poly = poly * sp.Poly(ZETA**2 + 1, ZETA) ** rng.randint(0, 1)
        decided, roots = root_condition(poly), root_facts(poly)
        assert (decided.zero_stable, decided.strongly_stable) == (roots.zero_stable, roots.strongly_stable)


def test_report_text_reads_as_the_algorithm(capsys):
    """prox expanded, recurrences as t[k], the learnable form printed as `alg2net show` prints it."""
    facts = example("fista", depth=5)
    assert facts["learnable_form"] == [
        "y[k] = x[k] + (t[k] - 1)*(x[k] - x[k-1])/t[k+1]",
        "x[k+1] = y[k] - h*T_f(y[k]) - h*T_g(x[k+1])",
    ]
    assert example("heavy_ball")["learnable_form"] == ["x[k+1] = x[k] + beta*(x[k] - x[k-1]) - h*T_f(x[k])"]
    assert main(["check", "--depth", "5", str(DATA / "doubling_momentum.alg")]) == 1
    out = capsys.readouterr().out
    assert "  param t[0] = 1, t[k+1] = 2*t[k]  (recurrence, fixed)\n" in out
    assert "where t_k is t[k]" in out and "x' = -(t[k] + 1)*T_f(x)   (frozen at layer k)" in out
    assert main(["check", str(DATA / "alternating_momentum.alg")]) == 1
    assert "x' = -2/(3*(-1)**k)*T_f(x)" in capsys.readouterr().out  # not 2*(1/(3*(-1)**k))
    assert main(["check", str(EXAMPLES / "gradient_descent.alg")]) == 0
    out = capsys.readouterr().out
    assert "  rho(zeta) = zeta - 1\n  roots:" in out  # no `= (zeta - 1)` restating it
    assert main(["check", str(EXAMPLES / "heavy_ball.alg")]) == 0
    assert "beta in its region: initial value 9/10 in the region -1 <= beta < 1" in capsys.readouterr().out
    nested = check("algorithm n\nx[k+1] = 0.5*x[k] + 0.5*prox f(x[k], 1)\n")
    assert nested["learnable_form"][-1] == "where prox_f(v, t) is the z with z = v - t*T_f(z)"


def test_a_schedule_with_a_pole_fails_at_that_layer():
    """The values stage refuses such input first (a located error); the analysis on its own still names the layer."""

    def analysed(text: str, depth: int) -> dict:
        return analyse(derive(resolve(parse(text))), depth).to_json()

    facts = analysed("algorithm p\nparam h[k] = 1/(k - 3)\nx[k+1] = x[k] - h[k]*grad f(x[k])\n", depth=6)
    assert facts["reasons"][0] == "layers 0-2 pass; at layer 3: c_f is infinite (division by zero)"
    momentum = analysed(
        "algorithm p\nparam b[k] = 1/(k - 3)\nx[k+1] = x[k] - grad f(x[k]) + b[k]*(x[k] - x[k-1])\n", depth=6
    )
    (reason,) = momentum["reasons"]  # b_4 = 1: a double root at 1; from k = 5 on 0 < b_k < 1
    assert reason.startswith("layers 0-2 pass; at layer 3: a coefficient has no finite value (division by zero);")
    assert "; at layer 4: zeta = 1 is a multiple root of rho" in reason


# Typed facts: CheckFacts, its JSON, the condition codes ------------------------------------------------------------

JSON_ORDER = [
    "algorithm", "explicit", "output", "functions", "learnable_form", "rho", "rho_factored", "rho_names",
    "effective_steps", "limit_ode", "varying", "rho_value", "roots", "roots_of", "evaluation_scales", "consistent",
    "zero_stable", "strongly_stable", "effective_steps_value", "limit_ode_value", "order", "error_constant",
    "classical_lmm", "order_of", "order_note", "params", "conditions", "reasons", "verdict", "max_depth_guaranteed",
    "second_order_limit", "reversal",
]  # fmt: skip


def test_to_json_pins_the_keys_their_order_and_the_values():
    facts = example("heavy_ball")
    assert list(facts) == JSON_ORDER
    assert list(facts["params"][1]) == ["name", "kind", "learnable", "value", "region", "initial_inside"]
    assert facts == {
        "algorithm": "heavy_ball",
        "explicit": True,
        "output": "x",
        "functions": ["f"],
        "learnable_form": ["x[k+1] = x[k] + beta*(x[k] - x[k-1]) - h*T_f(x[k])"],
        "rho": "zeta**2 - (beta + 1)*zeta + beta",
        "rho_factored": "(zeta - 1)*(zeta - beta)",
        "rho_names": {},
        "effective_steps": {"f": "1/(1 - beta)"},
        "limit_ode": "x' = -1/(1 - beta)*T_f(x)",
        "varying": False,
        "rho_value": "zeta**2 - 19/10*zeta + 9/10",
        "roots": [{"value": "1", "abs": 1.0, "multiplicity": 1}, {"value": "9/10", "abs": 0.9, "multiplicity": 1}],
        "roots_of": "at the initial values",
        "evaluation_scales": {"f": ["1"]},
        "consistent": True,
        "zero_stable": True,
        "strongly_stable": True,
        "effective_steps_value": {"f": "10"},
        "limit_ode_value": "x' = -10*T_f(x)",
        "order": 1,
        "error_constant": "19/2",
        "classical_lmm": True,
        "order_of": "",
        "order_note": None,
        "params": [
            {"name": "h", "kind": "constant", "learnable": False, "value": "1"},
            {
                "name": "beta",
                "kind": "constant",
                "learnable": True,
                "value": "9/10",
                "region": "-1 <= beta < 1",
                "initial_inside": True,
            },
        ],
        "conditions": [
            {
                "name": "consistent",
                "ok": True,
                "why": "zeta = 1 is a simple root of rho (rho'(1) = 1/10)",
                "required": True,
            },
            {
                "name": "zero-stable",
                "ok": True,
                "why": "every root has |zeta| <= 1 and the roots on the unit circle are simple",
                "required": True,
            },
            {
                "name": "strongly zero-stable",
                "ok": True,
                "why": "zeta = 1 is the only root on the unit circle",
                "required": False,
            },
            {"name": "gradient term in the limit", "ok": True, "why": "c_f = 10", "required": True},
            {"name": "evaluation points", "ok": True, "why": "every block sees the state x itself", "required": True},
            {
                "name": "beta in its region",
                "ok": True,
                "why": "initial value 9/10 in the region -1 <= beta < 1",
                "required": False,
            },
        ],
        "reasons": [],
        "verdict": "guaranteed",
        "max_depth_guaranteed": None,
        "second_order_limit": None,
        "reversal": {
            "invertible": True,
            "blocked_by": None,
            "inverse": ["x[k-1] = (x[k] + beta*x[k] - h*T_f(x[k]) - x[k+1])/beta"],
            "conditions": ["beta != 0"],
            "amplification": "(1/abs(beta))^L",
            "amplification_value": pytest.approx(0.9**-100),
            "anchor_every": 70,
        },
    }


def test_to_json_without_values_and_with_renamed_symbols_keeps_the_order():
    """No c_F at the values shown: those two keys are left out; internal names stay in the rho strings only."""
    facts = data("doubling_momentum", depth=5)
    assert list(facts) == [key for key in JSON_ORDER if key not in ("effective_steps_value", "limit_ode_value")]
    assert facts["rho"] == "zeta**2 - (2*t_k + 1)/(t_k + 1)*zeta + t_k/(t_k + 1)"
    assert facts["rho_names"] == {"t_k": "t[k]"}
    assert facts["effective_steps"] == {"f": "t[k] + 1"} and facts["limit_ode"] == "x' = -(t[k] + 1)*T_f(x)"
    assert facts["params"] == [
        {"name": "t", "kind": "recurrence", "learnable": False, "value": "t[0] = 1, t[k+1] = 2*t[k]"}
    ]
    assert [(c["name"], c["ok"], c["required"]) for c in facts["conditions"]] == [
        ("consistent", False, False),
        ("zero-stable", False, False),
        ("strongly zero-stable", False, False),
        ("evaluation points", True, True),
        ("frozen layers", True, True),
        ("limit k -> oo", False, True),
        ("finite coefficients", False, True),  # t_k = 2^k leaves float64 at t[1024]
    ]
    region = data("reserved_names")["params"][0]
    assert list(region) == ["name", "kind", "learnable", "value", "region", "initial_inside", "region_note"]


def test_check_returns_frozen_typed_facts():
    facts = pipeline.check(derive_source((EXAMPLES / "nesterov_schedule.alg").read_text()), depth=7)
    assert isinstance(facts, CheckFacts) and facts.verdict == "not_guaranteed"
    assert [c.code for c in facts.conditions] == [
        "consistent", "zero-stable", "strongly-zero-stable", "evaluation-points", "frozen-layers", "limit"
    ]  # fmt: skip
    assert facts.reasons == tuple(c.why for c in facts.conditions if c.required and not c.ok)
    assert [layer.k for layer in facts.layers] == list(range(7)) and all(layer.guaranteed for layer in facts.layers)
    assert all(layer.zero_stable and layer.strongly_stable for layer in facts.layers)
    varying = pipeline.check(derive_source((DATA / "growing_momentum.alg").read_text()), depth=200).layers
    assert [layer.zero_stable for layer in varying[148:152]] == [True, True, False, False]  # b_150 = 1: double root
    with pytest.raises(AttributeError):
        facts.verdict = "guaranteed"  # type: ignore[misc]
    assert json.loads(json.dumps(facts.to_json())) == facts.to_json()


def test_every_condition_has_a_known_code():
    seen = set()
    paths = [*EXAMPLES.glob("*.alg"), *DATA.glob("*.alg")]
    for path in sorted(paths):
        facts = pipeline.check(derive_source(path.read_text()), depth=10)
        seen |= {c.code for c in facts.conditions}
    assert seen == set(CODES)
    overflow = data("overflowing_recurrence", depth=10)
    assert overflow["reasons"][-1] == (
        "t[1] exceeds the float32 range (a float32 module stores inf): every layer from k = 0 on overflows"
    )
    assert overflow["max_depth_guaranteed"] == 0
