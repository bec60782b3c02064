"""Stage 3b, values: a param, schedule, recurrence or coefficient without a finite real value at some layer is a
located error, in `check` and `compile` alike (issue 11, items 3 and 5)."""

from __future__ import annotations

import pytest

import alg2net
from alg2net import Alg2NetError

UPDATE = "x[k+1] = x[k] - {c}*grad f(x[k])"


def _program(*lines: str) -> str:
    return "\n".join(["algorithm a", *lines]) + "\n"


BAD = {
    "sqrt of a negative param": (_program("param a = -2", "param c = a^0.5", UPDATE.format(c="c")), 3, "c has", ""),
    "cube root of a negative": (_program("param c = (-8)^(1/3)", UPDATE.format(c="c")), 2, "c has", ""),
    "log of a negative": (_program("param b = 0.5", "param c = log(b - 1)", UPDATE.format(c="c")), 3, "c has", ""),
    "schedule with a sqrt": (
        _program("param s[k] = sqrt(k - 5.5)/sqrt(k + 1)", UPDATE.format(c="s[k]")),
        2,
        "s has",
        "at layer k = 0",
    ),
    "schedule with a pole": (_program("param s[k] = 1/(k - 3)", UPDATE.format(c="s[k]")), 2, "s has", "k = 3"),
    "pole beyond the scan": (_program("param s[k] = 1/(k - 2500)", UPDATE.format(c="s[k]")), 2, "s has", "k = 2500"),
    "recurrence dividing by zero": (
        _program("param t[0] = 0", "param t[k+1] = 1/t[k]", UPDATE.format(c="t[k]")),
        3,
        "t[1] has",
        "",
    ),
    "recurrence with a sqrt": (
        _program("param t[0] = 3", "param t[k+1] = sqrt(t[k] - 2)", UPDATE.format(c="t[k]")),
        3,
        "t[2] has",
        "",
    ),
    "coefficient dividing by a zero param": (
        _program("param lam = 0", "x[k+1] = (3*lam + 3)/(4*lam)*x[k] - x[k-1]/lam - grad f(x[k])"),
        3,
        "the coefficient",
        "",
    ),
    "coefficient with a pole in k": (_program("x[k+1] = x[k] - 1/(k - 3)*grad f(x[k])"), 2, "coefficient", "k = 3"),
}


@pytest.mark.parametrize("text, line, says, layer", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("command", ["check", "compile"])
def test_no_finite_real_value_is_a_located_error(command, text, line, says, layer):
    run = alg2net.check_source if command == "check" else alg2net.compile_source
    with pytest.raises(Alg2NetError) as caught:
        run(text)
    assert (caught.value.code, caught.value.line) == ("undefined-value", line)
    assert says in caught.value.message and layer in caught.value.message


GOOD = {
    "alternating sign": _program("param s[k] = (-1)^k", UPDATE.format(c="(1 + 0.5*s[k])")),
    "fista": _program(
        "param t[0] = 1",
        "param t[k+1] = (1 + sqrt(1 + 4*t[k]^2))/2",
        "y[k] = x[k] + (t[k] - 1)/t[k+1]*(x[k] - x[k-1])",
        "x[k+1] = y[k] - grad f(y[k])",
    ),
    "an overflowing recurrence is left to check": _program(
        "param t[0] = 2", "param t[k+1] = t[k]^2", UPDATE.format(c="(1 + 1/t[k])")
    ),
    "a pole at a negative k": _program("param s[k] = 1/(k + 3)", UPDATE.format(c="s[k]")),
}


@pytest.mark.parametrize("text", GOOD.values(), ids=GOOD.keys())
def test_finite_real_values_pass(text):
    assert alg2net.check_source(text)["algorithm"] == "a"


def test_a_value_of_k_past_float64_is_a_located_error():
    """exp(exp(k + 1)) is finite in exact arithmetic, but the module computes it as a Python float, which raises
    OverflowError from k = 6 (exp(e^7) > 1.8e308): found by the fuzz test, refused at the update and the layer."""
    text = "algorithm e\nx[k+1] = grad f(prox F(x[k], exp(exp(k + 1))))\n"
    with pytest.raises(Alg2NetError) as caught:
        alg2net.compile_source(text)
    assert caught.value.code == "undefined-value" and caught.value.line == 2
    assert "at layer k = 6" in caught.value.message and "float64 range" in str(caught.value)
