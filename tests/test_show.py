"""`alg2net show`: the learnable form as text and as LaTeX."""

from __future__ import annotations

from pathlib import Path

from alg2net.cli import main

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
