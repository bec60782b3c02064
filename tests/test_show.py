"""`alg2net show`: the learnable form as text and as LaTeX."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from matplotlib.mathtext import MathTextParser

from alg2net.cli import main
from alg2net.pipeline import derive_source
from alg2net.printing import show_text
from alg2net.syntax import KEYWORDS

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_show_prints_the_learnable_form(capsys):
    assert main(["show", str(EXAMPLES / "nesterov.alg")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "algorithm nesterov"
    assert "param mu = 0.9 learnable" in out  # as the algorithm writes it
    assert out[-2:] == ["y[k] = x[k] + mu*(x[k] - x[k-1])", "x[k+1] = y[k] - h*T_f(y[k])"]


def test_show_marks_implicit_steps(capsys):
    assert main(["show", str(EXAMPLES / "proximal_point.alg")]) == 0
    assert "x[k+1] = prox_f(x[k], h)   (implicit)" in capsys.readouterr().out


def test_show_latex(capsys):
    assert main(["show", "--latex", str(EXAMPLES / "heavy_ball.alg")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\\begin{aligned}") and out.rstrip().endswith("\\end{aligned}")
    assert "{x}_{k + 1} &=" in out and "T_{f}" in out


def test_show_bad_input_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.alg"
    bad.write_text("algorithm bad\nx[k+1] = x[k] * x[k]\n")
    assert main(["show", str(bad)]) == 2
    assert f"{bad}:2:" in capsys.readouterr().err


def test_show_declares_params_as_the_language_does(capsys):
    assert main(["show", str(EXAMPLES / "fista.alg")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:4] == ["param h = 1", "param t[0] = 1", "param t[k+1] = 0.5 + sqrt(1 + 4*t[k]^2)/2"]
    assert out[-1] == "x[k+1] = prox_g(y[k] - h*T_f(y[k]), h)   (implicit)"
    assert main(["show", str(EXAMPLES / "nesterov_schedule.alg")]) == 0
    assert "param mu[k] = (k - 1)/(k + 2)" in capsys.readouterr().out


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(lambda name: name not in KEYWORDS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(param=_NAMES, function=_NAMES, state=_NAMES)
@example(param="__init__", function="a__b", state="_x")
@example(param="class_", function="T_f", state="x__1")
def test_latex_is_valid_for_every_legal_name(param: str, function: str, state: str):
    """Every row of `show --latex` typesets (matplotlib's mathtext rejects double subscripts and the like)."""
    assume(len({param, function, state}) == 3)
    text = (
        f"algorithm a\nparam {param} = 0.5\n"
        f"{state}[k+1] = {state}[k] - {param}*grad {function}({state}[k]) + prox g({state}[k], {param})\n"
    )
    latex = show_text(derive_source(text).form, latex=True)
    parser = MathTextParser("path")
    for row in latex.splitlines()[1:-1]:
        parser.parse("$" + row.replace("&=", "=").removesuffix(" \\\\") + "$")
