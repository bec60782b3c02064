"""`alg2net check` against the classical linear multistep methods (Hairer, Norsett, Wanner I, III) and nodepy.

The .alg files in tests/data/lmm write each method in the language. The oracle is nodepy (order, root condition)
and the Hairer-Wanner error constant C_{p+1}/sigma(1) computed here from nodepy's exact coefficients.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from nodepy import lm

import alg2net

DATA = Path(__file__).parent / "data" / "lmm"

CATALOGUE = {  # file: (nodepy method, zero-stable, strongly zero-stable)
    **{f"adams_bashforth{k}": (lambda k=k: lm.Adams_Bashforth(k), True, True) for k in range(1, 5)},
    **{f"adams_moulton{k}": (lambda k=k: lm.Adams_Moulton(k), True, True) for k in range(1, 4)},
    **{f"bdf{k}": (lambda k=k: lm.backward_difference_formula(k), k <= 6, k <= 6) for k in range(1, 8)},
    "leapfrog": (lambda: lmm([-1, 0, 1], [0, 2, 0]), True, False),
    "milne_simpson": (lambda: lm.Milne_Simpson(2), True, False),
    "maximal_explicit_two_step": (lambda: lmm([-5, 4, 1], [2, 4, 0]), False, False),
}

LITERATURE_ERROR_CONSTANTS = {  # C_{p+1}/sigma(1), Hairer-Norsett-Wanner I, III.2
    "adams_bashforth1": "1/2",
    "adams_bashforth2": "5/12",
    "adams_bashforth3": "3/8",
    "adams_bashforth4": "251/720",
    "adams_moulton1": "-1/12",
    "adams_moulton2": "-1/24",
    "adams_moulton3": "-19/720",
    "leapfrog": "1/6",
    "milne_simpson": "-1/180",
    **{f"bdf{k}": f"-1/{k + 1}" for k in range(1, 8)},
}


def lmm(alpha, beta) -> lm.LinearMultistepMethod:
    """A nodepy method with exact coefficients."""
    exact = [np.array([sp.nsimplify(c) for c in coefficients], dtype=object) for coefficients in (alpha, beta)]
    return lm.LinearMultistepMethod(*exact)


def hairer_wanner_error_constant(alpha, beta, p: int) -> Fraction:
    """C_{p+1}/sigma(1) with C_q = sum alpha_j j^q / q! - sum beta_j j^(q-1) / (q-1)!."""
    alpha = [Fraction(str(a)) for a in alpha]
    beta = [Fraction(str(b)) for b in beta]
    q = p + 1
    c = sum(a * j**q for j, a in enumerate(alpha)) / math.factorial(q)
    c -= sum(b * j ** (q - 1) for j, b in enumerate(beta)) / math.factorial(q - 1)
    return c / sum(beta)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_catalogue_against_nodepy_and_hairer_wanner(name):
    make, zero_stable, strongly = CATALOGUE[name]
    method = make()
    facts = alg2net.check_source((DATA / f"{name}.alg").read_text(), filename=name)
    assert facts["classical_lmm"] and facts["consistent"]
    assert facts["order"] == method.order()
    assert facts["zero_stable"] is zero_stable is bool(method.is_zero_stable())
    assert facts["strongly_stable"] is strongly
    expected = hairer_wanner_error_constant(method.alpha, method.beta, method.order())
    assert sp.Rational(facts["error_constant"]) == sp.Rational(expected.numerator, expected.denominator)
    assert facts["error_constant"] == LITERATURE_ERROR_CONSTANTS.get(name, facts["error_constant"])
    assert facts["verdict"] == ("guaranteed" if zero_stable else "not_guaranteed")


def test_maximal_explicit_two_step_has_order_three_and_a_root_at_minus_five():
    facts = alg2net.check_source((DATA / "maximal_explicit_two_step.alg").read_text())
    assert facts["rho"] == "zeta**2 + 4*zeta - 5"
    assert {r["value"]: r["abs"] for r in facts["roots"]} == {"-5": 5.0, "1": 1.0}
    assert facts["order"] == 3 and facts["error_constant"] == "1/36"
    assert any("|zeta| = 5 > 1" in reason for reason in facts["reasons"])


def _alg(alpha, beta) -> str:
    """The LMM sum alpha_j x_{n+j} = h sum beta_j f(x_{n+j}) (f = -grad f, alpha_k = 1) in the language."""
    steps = len(alpha) - 1

    def at(j: int) -> str:
        offset = j - steps + 1
        return "x[k]" if offset == 0 else f"x[k{offset:+d}]"

    terms = [f"({-a}) * {at(j)}" for j, a in enumerate(alpha[:-1]) if a != 0] or ["0 * x[k]"]
    grads = [f"({b}) * grad f({at(j)})" for j, b in enumerate(beta) if b != 0] or ["0 * grad f(x[k])"]
    return f"algorithm random_lmm\nx[k+1] = {' + '.join(terms)} - ({' + '.join(grads)})\n"


def _random_method(rng: random.Random, steps: int):
    """rho with the root 1 and random rational roots (some on the unit circle); beta solving a random number of
    order conditions, the last ones left free."""
    zeta = sp.Symbol("zeta")
    roots = [sp.Rational(rng.randint(-12, 12), rng.choice([4, 6, 8])) for _ in range(steps - 1)]
    if rng.random() < 0.25:
        roots[0] = sp.Integer(-1)
    alpha = list(reversed(sp.Poly(sp.prod([zeta - 1, *(zeta - r for r in roots)]), zeta).all_coeffs()))
    implicit = rng.random() < 0.5
    unknowns = sp.symbols(f"b0:{steps + 1}")[: steps + 1 if implicit else steps]
    conditions = [
        sum(a * j**q for j, a in enumerate(alpha)) - q * sum(b * j ** (q - 1) for j, b in enumerate(unknowns))
        for q in range(1, len(unknowns) + 1)
    ]
    wanted = rng.randint(1, len(unknowns))
    solution = sp.solve(conditions[:wanted], unknowns, dict=True)[0]
    free = {u: sp.Rational(rng.randint(-3, 3), 2) for u in unknowns if u not in solution}
    beta = [sp.sympify(solution[u]).subs(free) if u in solution else free[u] for u in unknowns]
    return alpha, beta + [sp.Integer(0)] * (steps + 1 - len(beta))


@pytest.mark.parametrize("steps", [2, 3])
def test_random_methods_agree_with_nodepy(steps):
    rng = random.Random(20240 + steps)
    compared = 0
    for _ in range(15):
        alpha, beta = _random_method(rng, steps)
        if sum(beta) == 0:
            continue
        method = lmm(alpha, beta)
        facts = alg2net.check_source(_alg(alpha, beta))
        assert facts["consistent"]
        assert facts["order"] == method.order()
        assert facts["zero_stable"] is bool(method.is_zero_stable())
        expected = hairer_wanner_error_constant(alpha, beta, method.order())
        assert sp.Rational(facts["error_constant"]) == sp.Rational(expected.numerator, expected.denominator)
        compared += 1
    assert compared >= 10


def test_where_nodepy_is_wrong_rho_of_one_is_never_checked():
    """rho = zeta^2 - 1/2: rho(1) = 1/2, so constant states drift and no ODE is approximated. nodepy only checks
    the order conditions from q = 1 on, which sigma(1) = rho'(1) = 2 satisfies, and calls the method order 1."""
    alpha, beta = [sp.Rational(-1, 2), 0, 1], [0, 2, 0]
    assert lmm(alpha, beta).order() >= 1  # nodepy's answer
    facts = alg2net.check_source(_alg(alpha, beta))
    assert facts["consistent"] is False and facts["order"] is None
    assert facts["verdict"] == "not_guaranteed"
    assert any("rho(1) = 1/2 != 0" in reason for reason in facts["reasons"])
