"""The derived inverse (memory.md): which algorithms can be run backwards, by which formulas, and a property test
that the inverse undoes one iteration, exactly in SymPy and numerically with a nonlinear block."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from alg2net.analysis.reversal import reversal
from alg2net.cli import main
from alg2net.derive import K, LearnableForm, function_of, is_block
from alg2net.inverse import amplification, invert
from alg2net.pipeline import derive_source

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LEAPFROG = "algorithm leapfrog\nparam h = 0.1\nx[k+1] = x[k-1] - 2*h*grad f(x[k])\n"
REVERSIBLE_HEUN = (
    "algorithm reversible_heun\nparam lam = 0.999\nparam h = 0.1\noutput z\n"
    "y[k+1] = lam*y[k] + (1 - lam)*z[k] - h*grad f(z[k])\nz[k+1] = z[k] - h*grad f(y[k+1])\n"
)


def _form(name_or_text: str) -> LearnableForm:
    text = name_or_text if "\n" in name_or_text else (EXAMPLES / f"{name_or_text}.alg").read_text(encoding="utf-8")
    return derive_source(text).form


@pytest.mark.parametrize(
    "source, lines, conditions",
    [
        ("heavy_ball", ["x[k-1] = (x[k] + beta*x[k] - h*T_f(x[k]) - x[k+1])/beta"], ["beta != 0"]),
        ("lm_resnet", ["x[k-1] = (x[k+1] + h*T_f(x[k]) + kn[k]*x[k] - x[k])/kn[k]"], ["kn[k] != 0"]),
        (
            "momentum_resnet",
            ["x[k] = x[k+1] - v[k+1]", "v[k] = (v[k+1] + T_f(x[k]) - gamma*T_f(x[k]))/gamma"],
            ["gamma != 0"],
        ),
        (LEAPFROG, ["x[k-1] = x[k+1] + 2*h*T_f(x[k])"], []),
        (
            REVERSIBLE_HEUN,
            ["z[k] = z[k+1] + h*T_f(y[k+1])", "y[k] = (y[k+1] + h*T_f(z[k]) + lam*z[k] - z[k])/lam"],
            ["lam != 0"],
        ),
    ],
)
def test_invertible_algorithms_and_their_inverse(source: str, lines: list[str], conditions: list[str]):
    inverse = invert(_form(source))
    assert inverse.invertible and inverse.lines() == lines and inverse.condition_texts() == conditions


@pytest.mark.parametrize(
    "name, term",
    [
        ("gradient_descent", "grad f(x[k]) in the update of x[k+1]: recovering x[k]"),
        ("nesterov", "grad f(y[k]) in the update of x[k+1]: recovering x[k-1]"),
        ("adams_bashforth2", "grad f(x[k-1]) in the update of x[k+1]"),
        ("heun", "grad f(x[k]) in the update of x[k+1]"),
        ("proximal_point", "an implicit step"),
    ],
)
def test_algorithms_that_are_not_invertible_name_the_blocking_term(name: str, term: str):
    inverse = invert(_form(name))
    assert not inverse.invertible and inverse.blocked_by.startswith(term)


def test_show_inverse(capsys):
    assert main(["show", "--inverse", str(EXAMPLES / "heavy_ball.alg")]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "x[k-1] = (x[k] + beta*x[k] - h*T_f(x[k]) - x[k+1])/beta",
        "where beta != 0",
    ]
    assert main(["show", "--inverse", str(EXAMPLES / "nesterov.alg")]) == 1
    assert "is not invertible: grad f(y[k])" in capsys.readouterr().out
    assert main(["show", "--inverse", "--latex", str(EXAMPLES / "momentum_resnet.alg")]) == 0
    assert capsys.readouterr().out.startswith("\\begin{aligned}\n{x}_{k} &= ")


# inverse after step is the identity ------------------------------------------------------------------------------

_NONZERO = st.sampled_from(["0.5", "-0.7", "1.3", "2", "-1.5", "0.25"])
_ANY = st.sampled_from(["0", "0.5", "-1", "1.2", "0.3"])
# nonzero for every nonzero c; times a difference, the first cancels to 1/(1 + c^2) only once fractions combine
_RATIONAL = st.sampled_from(["(1 - c^2/(1 + c^2))", "c/(2 + c^2)", "(c + 1/c)"])


@st.composite
def invertible_programs(draw) -> str:
    """A one-state multistep scheme whose oldest lag appears outside the block, or a two-state momentum scheme."""
    if draw(st.booleans()):
        lag = draw(st.integers(1, 3))
        oldest = draw(st.one_of(_NONZERO, _RATIONAL))
        terms = [f"{draw(_ANY)}*x[k-{j}]" for j in range(lag)] + [f"{oldest}*(x[k] - x[k-{lag}])"]
        inner = " + ".join(f"{draw(_ANY)}*x[k-{j}]" for j in range(lag)) + " + x[k]"
        params = f"param h = {draw(_NONZERO)}\nparam c = {draw(_NONZERO)}\n"
        return f"algorithm a\n{params}x[k+1] = {' + '.join(terms)} - h*grad f({inner})\n"
    gamma, c, d = draw(_NONZERO), draw(_ANY), draw(_ANY)
    return (
        f"algorithm a\nparam gamma = {gamma}\noutput x\n"
        f"v[k+1] = gamma*v[k] - {c}*grad f(x[k]) + {d}*x[k]\nx[k+1] = x[k] + v[k+1] + {d}*grad g(v[k+1])\n"
    )


def _block(function: str):
    rng = np.random.default_rng(abs(hash(function)) % 2**32)
    matrix = rng.normal(size=(4, 4))
    return lambda v: np.tanh(matrix @ v)


def _evaluate(expr: sp.Expr, values: dict) -> np.ndarray:
    """`expr` with the vectors of `values` and the nonlinear blocks `_block(F)`, evaluated with numpy."""
    if is_block(expr):
        return _block(function_of(expr))(np.broadcast_to(_evaluate(expr.args[0], values), (4,)))  # may cancel to 0
    if isinstance(expr, sp.Indexed):
        return values[expr]
    if isinstance(expr, sp.Add):
        return sum(_evaluate(arg, values) for arg in expr.args)
    if isinstance(expr, sp.Mul):
        result = 1.0
        for arg in expr.args:
            result = result * _evaluate(arg, values)
        return result
    if isinstance(expr, sp.Pow):
        return _evaluate(expr.base, values) ** float(expr.exp)
    return float(expr)


@settings(max_examples=40, deadline=None)
@given(invertible_programs(), st.integers(0, 2**31))
@example(  # the residue x[k-1]*(c^2/(1 + c^2) + 1/(1 + c^2) - 1) was left in the inverse (issue 13)
    "algorithm a\nparam h = 2\nparam c = 0.5\nx[k+1] = x[k] + (1 - c^2/(1 + c^2))*(x[k] - x[k-1]) - h*grad f(x[k])\n", 0
)
def test_the_inverse_undoes_one_iteration(text: str, seed: int):
    form = derive_source(text).form
    inverse = invert(form)
    assert inverse.invertible, inverse.blocked_by
    params = {sp.Symbol(p.definition.name, real=True): p.value for p in form.params}
    rng = np.random.default_rng(seed)
    lags = form.lags()
    before = {sp.IndexedBase(s)[K - j]: rng.normal(size=4) for s in form.model.states for j in range(lags[s] + 1)}
    values = dict(before)
    for step in form.steps:  # one iteration, Gauss-Seidel
        values[step.lhs] = _evaluate(step.value.xreplace(params), values)
    after = {key: value for key, value in values.items() if key not in [v for v in before if _oldest(v, lags)]}
    for step in inverse.steps:
        assert not step.value.has(step.lhs)  # symbolically: with params as symbols, as the module computes it
        after[step.lhs] = _evaluate(step.value.xreplace(params), after)
        assert np.allclose(after[step.lhs], before[step.lhs], atol=1e-9)
        # exactly: the forward update, with the recovered value substituted, gives back the value after
        forward = next(s for s in form.steps if s.target == step.target and s.offset == 1)
        assert sp.simplify(forward.value.xreplace({step.lhs: step.value}) - forward.lhs) == 0


def _oldest(value: sp.Indexed, lags: dict) -> bool:
    return value.indices[0] == K - lags[str(value.base)]


@pytest.mark.parametrize(
    "source, text, factor, anchors",
    [
        ("heavy_ball", "(1/abs(beta))^L", 1 / 0.9, 70),  # memory.md: (1/beta)^L, 3.8e4 at beta = 0.9, L = 100
        ("momentum_resnet", "(1/abs(gamma))^L", 1 / 0.9, 70),
        ("lm_resnet", "(1/abs(kn[k]))^L", 20.0, 2),  # k_n = -0.05: the backward recurrence grows 20-fold a layer
        (LEAPFROG, "1", 1.0, 100),  # roots +-1: nothing grows, one anchor
        (REVERSIBLE_HEUN, "(1/abs(lam))^L", 1 / 0.999, 100),
    ],
)
def test_round_off_amplification_and_anchor_spacing(source: str, text: str, factor: float, anchors: int):
    growth = amplification(_form(source))
    assert growth.text() == text and growth.factor == pytest.approx(factor)
    assert growth.anchor_every(100) == anchors
    assert growth.value(100) == pytest.approx(factor**100)
    assert 6e-8 * growth.factor**anchors <= 1e-4 and (anchors == 100 or 6e-8 * growth.factor ** (anchors + 1) > 1e-4)


def test_a_zero_root_has_no_finite_amplification():
    growth = amplification(_form("algorithm a\nparam b = 0\nx[k+1] = x[k] - grad f(x[k]) + b*(x[k] - x[k-1])\n"))
    assert growth.value(10) is None and growth.anchor_every(10) == 1


def test_the_reversal_facts_of_check():
    facts = reversal(_form("heavy_ball"), 100).to_json()
    assert facts == {
        "invertible": True,
        "blocked_by": None,
        "inverse": ["x[k-1] = (x[k] + beta*x[k] - h*T_f(x[k]) - x[k+1])/beta"],
        "conditions": ["beta != 0"],
        "amplification": "(1/abs(beta))^L",
        "amplification_value": pytest.approx(0.9**-100),
        "anchor_every": 70,
    }
    blocked = reversal(_form("nesterov"), 100)
    assert not blocked.invertible and blocked.lines() == [f"  not invertible: {blocked.blocked_by}"]
    assert blocked.to_json()["inverse"] == [] and blocked.to_json()["anchor_every"] is None


# blocks inside auxiliaries, and programs at scale (issue 11) ------------------------------------------------------

BLOCK_IN_AUXILIARY = "algorithm b\nparam h = 0.1\na[k] = grad f(x[k-1])\nx[k+1] = x[k] + 0.5*(x[k] - x[k-1]) - h*a[k]\n"
STEP_IN_AUXILIARY = "algorithm b\nparam h = 0.1\ny[k] = x[k-1] - h*grad f(x[k-1])\nx[k+1] = x[k] + 0.5*(x[k] - y[k])\n"


@pytest.mark.parametrize(
    "source, term",
    [
        (BLOCK_IN_AUXILIARY, "grad f(x[k-1]) in a[k], read by the update of x[k+1]: recovering x[k-1] would need"),
        (STEP_IN_AUXILIARY, "grad f(x[k-1]) in y[k], read by the update of x[k+1]: recovering x[k-1] would need"),
    ],
)
def test_a_block_inside_an_auxiliary_blocks_the_inverse(source: str, term: str):
    """The block that stops the inverse is in an auxiliary whose argument is not recovered yet: it is named there
    (not reported as x[k-1] appearing nonlinearly, nor missed), and the reversal section says so."""
    inverse = invert(_form(source))
    assert not inverse.invertible and inverse.blocked_by.startswith(term)
    facts = reversal(_form(source), 100)
    assert not facts.invertible and facts.lines() == [f"  not invertible: {inverse.blocked_by}"]


def test_a_block_inside_an_auxiliary_at_a_known_value_inverts():
    text = "algorithm r\nparam h = 0.1\ny[k] = x[k] - h*grad f(x[k])\nx[k+1] = x[k-1] + 2*(y[k] - x[k])\n"
    inverse = invert(_form(text))
    assert inverse.invertible and inverse.lines() == ["x[k-1] = x[k+1] + 2*h*T_f(x[k])"]
    assert amplification(_form(text)).text() == "1"


def _chain(n: int) -> str:
    """n auxiliaries, each a gradient step from the previous one: the expanded update doubles at every link."""
    lines = ["algorithm chain", "param h = 0.1", "a1[k] = x[k] - h * grad f(x[k])"]
    lines += [f"a{i}[k] = a{i - 1}[k] - h * grad {'fgh'[(i - 1) % 3]}(a{i - 1}[k])" for i in range(2, n + 1)]
    return "\n".join([*lines, f"x[k+1] = a{n}[k]"]) + "\n"


def test_a_long_chain_of_auxiliaries_is_blocked_without_expanding_it():
    start = time.perf_counter()
    inverse = invert(_form(_chain(40)))
    assert inverse.blocked_by.startswith("grad f(a39[k]) in a40[k], read by the update of x[k+1]: recovering x[k]")
    assert time.perf_counter() - start < 10  # 2^40 terms expanded; took > 120 s at 20 links


def test_a_long_lag_has_its_amplification_from_the_binomial_factors():
    """x[k+1] = x[k] + (x[k-59] - x[k-60])/4 at z = 0: Pi = (zeta - 1)(2 zeta^30 - 1)(2 zeta^30 + 1), a = 2^(1/30)."""
    text = "algorithm lag\nparam h = 0.1\nx[k+1] = x[k] - h * grad f(x[k]) + 0.25 * (x[k-59] - x[k-60])\n"
    start = time.perf_counter()
    growth = amplification(_form(text))
    assert growth.symbolic == 2 ** sp.Rational(1, 30) and growth.factor == pytest.approx(2 ** (1 / 30))
    assert time.perf_counter() - start < 10  # took 73 s at lag 30 with symbolic eigenvalues


@pytest.mark.parametrize(
    "text, factor",
    [
        ("x[k+1] = 2*x[k] - x[k-1] - grad f(x[k])", 1.0),  # a double root at 1
        ("x[k+1] = 2.5*x[k] - 2*x[k-1] + 0.5*x[k-2] - grad f(x[k])", 2.0),  # (zeta - 1)^2 (zeta - 1/2)
        ("x[k+1] = 0.3*x[k] + 0.4*x[k-1] - grad f(x[k])", 2.0),  # roots 0.8 and -0.5
    ],
)
def test_the_numeric_amplification_is_the_largest_inverse_root(text: str, factor: float):
    growth = amplification(_form(f"algorithm n\n{text}\n"))
    assert growth.factor == pytest.approx(factor, rel=1e-6)


def test_cyclotomic_factors_add_no_growth():
    """(zeta - 1)(zeta^60 - 1) at z = 0: every root on the unit circle, a double one at 1; in well under a second."""
    growth = amplification(_form("algorithm n\nparam h = 0.1\nx[k+1] = x[k] + x[k-59] - x[k-60] - grad f(x[k])\n"))
    assert growth.text() == "1" and growth.factor == pytest.approx(1.0)
