"""`alg2net check` as programs and steps scale: large generated programs reduce to the right recurrence, the error
constant is normalized by the effective step, roots next to the unit circle fall on the right side of it, and the
texts are the language's.

Untimed: benchmarks/check_time.py --scaling prints the times. Here the three families of that benchmark (a chain of
auxiliaries over three functions, coupled states on a ring, one state with a long lag) are reduced at the sizes the
issue found slow and checked whole at small sizes, against their recurrences worked out by hand, and the output
recurrence against an independent computation (the rank of the Krylov matrix with SymPy's own linear algebra). The
error constants are those of Hairer-Wanner (and nodepy), for steps h = 1/2 where every earlier test had c = 1:
C_{p+1}/sigma(1) is normalized by c^(p+1).
"""

from __future__ import annotations

import cmath
import math
import random

import mpmath
import pytest
import sympy as sp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nodepy import lm
from scaling_programs import FUNCTIONS, chain, coupled, lag
from sympy.polys.matrices import DomainMatrix

import alg2net
from alg2net.analysis.multistep import effective_steps, rho
from alg2net.analysis.params import collect
from alg2net.analysis.reduce import ZETA, output_recurrence, state_space, substituted
from alg2net.analysis.roots import RootCondition, modulus_text, render_root, root_condition, root_facts
from alg2net.analysis.text import factored, writer
from alg2net.pipeline import derive_source


def poly(expr) -> sp.Poly:
    return sp.Poly(sp.sympify(expr, locals={"zeta": ZETA}), ZETA)


# Large programs ----------------------------------------------------------------------------------------------------
# The reduction (state space, output recurrence, rho, c_F) at sizes the issue found slow; the whole check at sizes
# where the reversal section (alg2net.inverse, symbolic in the whole layer) stays quick.


def test_a_chain_of_auxiliaries_is_one_step_with_every_function():
    """x[k+1] = prod (1 + h*z_F) x[k]: rho = zeta - 1, and c_F = h times the number of steps through F."""
    facts = alg2net.check_source(chain(6))
    assert facts["rho"] == "zeta - 1" and facts["verdict"] == "guaranteed"
    assert facts["effective_steps"] == {"f": "1/5", "g": "1/5", "u": "1/5"}
    assert facts["limit_ode"] == "x' = -1/5*T_f(x) - 1/5*T_g(x) - 1/5*T_u(x)"
    assert facts["order"] == 1  # (1 + h*z)^m is not exp(m*h*z) to second order
    assert facts["evaluation_scales"] == {"f": ["1"], "g": ["1"], "u": ["1"]}


@pytest.mark.parametrize("n", [10, 40])
def test_a_chain_recurrence_is_the_product_of_its_steps(n):
    space, pi = _reduced(chain(n))
    z = [sp.Symbol(f"z_{f}") for f in FUNCTIONS]
    counts = [len(range(i, n, 3)) for i in range(3)]
    steps = [sp.Poly(1 + v / 10, ZETA, domain=pi.domain) ** c for v, c in zip(z, counts)]  # expanded as polys
    assert pi == sp.Poly(ZETA, ZETA, domain=pi.domain) - steps[0] * steps[1] * steps[2]
    assert rho(pi, space.variables) == poly(ZETA - 1)
    assert effective_steps(pi, space.variables) == tuple(sp.Rational(c, 10) for c in counts)


def test_coupled_states_see_every_mode_of_the_ring():
    """M(0) = (I + P)/2 for the cyclic shift P: rho = (zeta - 1/2)^n - (1/2)^n, roots 1/2 + omega/2."""
    n = 9
    facts = alg2net.check_source(coupled(n))
    expected = poly((ZETA - sp.Rational(1, 2)) ** n - sp.Rational(1, 2) ** n)
    assert poly(facts["rho"]) == expected
    assert len(facts["roots"]) == n and facts["zero_stable"] and facts["strongly_stable"]
    assert facts["effective_steps"] == {"f": "1/10"} and facts["verdict"] == "guaranteed"
    moduli = sorted(root["abs"] for root in facts["roots"])
    expected_moduli = sorted(abs(0.5 + cmath.exp(2j * math.pi * j / n) / 2) for j in range(n))
    assert moduli == pytest.approx(expected_moduli, rel=1e-12)


@pytest.mark.parametrize("n", [6, 30])
def test_coupled_states_recurrence_is_the_characteristic_polynomial(n):
    space, pi = _reduced(coupled(n))
    z = sp.Symbol("z_f")
    expected = (ZETA - sp.Rational(1, 2) - z / 10) ** n - sp.Rational(1, 2) ** n
    assert pi == sp.Poly(expected, ZETA, domain=pi.domain)
    assert effective_steps(pi, space.variables) == (sp.Rational(1, 10),)


@pytest.mark.parametrize("n", [6, 60, 120])
def test_a_long_lag_gives_the_companion_recurrence(n):
    """x[k+1] = (1 + h*z) x[k] + (x[k-n+1] - x[k-n])/4: Pi = zeta^(n+1) - (1 + z/10) zeta^n - zeta/4 + 1/4."""
    space, pi = _reduced(lag(n))
    z = sp.Symbol("z_f")
    expected = ZETA ** (n + 1) - (1 + z / 10) * ZETA**n - ZETA / 4 + sp.Rational(1, 4)
    assert pi == sp.Poly(expected, ZETA, domain=pi.domain)
    assert effective_steps(pi, space.variables) == (sp.Rational(2, 15),)  # h / rho'(1) = (1/10) / (3/4)
    rho_n = rho(pi, space.variables)
    assert root_condition(rho_n) == RootCondition(True, True)
    moduli = [float(root.modulus) for root in root_facts(rho_n).roots if root.value != 1]  # zeta^n = 1/4
    assert moduli == pytest.approx([0.25 ** (1 / n)] * n, rel=1e-15) and len(moduli) == n


def test_a_long_lag_is_checked_whole():
    facts = alg2net.check_source(lag(6))
    assert poly(facts["rho"]) == poly(ZETA**7 - ZETA**6 - ZETA / 4 + sp.Rational(1, 4))
    assert facts["effective_steps"] == {"f": "2/15"} and facts["verdict"] == "guaranteed"


@pytest.mark.parametrize("seed", range(6))
def test_output_recurrence_agrees_with_the_rank_of_the_krylov_matrix(seed):
    """Random layers of several states, lags and functions, some modes hidden from the output: Pi is the monic
    polynomial of least degree with e*Pi(M) = 0, computed here with SymPy's Matrix."""
    space, pi = _reduced(_random_program(random.Random(seed)))
    matrix = DomainMatrix.from_Matrix(space.matrix).to_field()
    row = DomainMatrix.from_Matrix(sp.eye(len(space.slots))[space.output, :]).convert_to(matrix.domain)
    rows = [row]
    while DomainMatrix.vstack(*rows, rows[-1] * matrix).rank() > len(rows):
        rows.append(rows[-1] * matrix)
    assert pi.degree() == len(rows)
    total, power = sp.zeros(1, len(space.slots)), row.to_Matrix()
    for c in reversed(pi.all_coeffs()):
        total += c * power
        power = power * space.matrix
    assert all(sp.cancel(entry) == 0 for entry in total)


def test_substituted_is_the_coefficientwise_substitution():
    form = derive_source("algorithm c\nparam a = 0.3 learnable\nx[k+1] = x[k] - grad f(x[k]) + a*(x[k] - x[k-1])\n")
    a = sp.Symbol("a", real=True)
    pi = output_recurrence(state_space(form.form, {a: a}))
    for values in ({a: sp.Rational(3, 10)}, {a: sp.sqrt(2)}, {}):
        expected = sp.Poly([sp.cancel(c.xreplace(values)) for c in pi.all_coeffs()], ZETA)
        assert substituted(pi, values).all_coeffs() == expected.all_coeffs()


def _reduced(text: str):
    form = derive_source(text).form
    space = state_space(form, collect(form).substitution)
    return space, output_recurrence(space)


def _random_program(rng: random.Random) -> str:
    """Two to four states with lags up to 2, an auxiliary, two functions and a prox, updated Gauss-Seidel."""
    states = [f"s{i}" for i in range(rng.randint(2, 4))]

    def term(name: str) -> str:
        lag_text = rng.choice(["k", "k", "k-1", "k-2"])
        return f"{sp.Rational(rng.randint(-4, 4), rng.randint(1, 4))} * {name}[{lag_text}]"

    lines = ["algorithm random_layer", "param h = 0.5", f"output {states[0]}"]
    lines.append(f"y[k] = {states[0]}[k] - h * grad g({term(states[-1])})")
    for i, state in enumerate(states):
        others = " + ".join(term(rng.choice(states)) for _ in range(2))
        block = "grad f(y[k])" if i == 0 else f"grad f({state}[k])"
        value = f"{state}[k] + {others} - h * {block}"
        lines.append(f"{state}[k+1] = prox g({value}, h)" if i == len(states) - 1 else f"{state}[k+1] = {value}")
    return "\n".join(lines) + "\n"


# Steps other than 1: the error constant C_{p+1}/sigma(1) is normalized by c^(p+1) ---------------------------------


@pytest.mark.parametrize(
    ("text", "order", "constant"),
    [
        ("x[k+1] = x[k] - h * grad f(x[k])", 1, "1/2"),  # explicit Euler, AB1
        ("x[k+1] = x[k] - h * (3/2 * grad f(x[k]) - 1/2 * grad f(x[k-1]))", 2, "5/12"),  # AB2
        ("x[k+1] = prox f(x[k], h)", 1, "-1/2"),  # proximal point: implicit Euler, BDF1
        ("x[k+1] = x[k] - h/2 * (grad f(x[k]) + grad f(x[k+1]))", 2, "-1/12"),  # trapezoidal rule, AM1
        ("x[k+1] = 4/3 * x[k] - 1/3 * x[k-1] - 2/3 * h * grad f(x[k+1])", 2, "-1/3"),  # BDF2
    ],
)
def test_error_constant_at_half_step(text, order, constant):
    facts = alg2net.check_source(f"algorithm m\nparam h = 0.5\n{text}\n")
    assert facts["classical_lmm"] and facts["effective_steps"] == {"f": "1/2"}
    assert facts["order"] == order and facts["error_constant"] == constant


def test_the_literature_agrees_on_the_half_step_constants():
    """nodepy's exact coefficients (normalized, sigma(1) = 1) give the same C_{p+1}/sigma(1)."""
    for method, constant in ((lm.Adams_Bashforth(2), "5/12"), (lm.Adams_Moulton(1), "-1/12")):
        p = method.order()
        q = p + 1
        alpha, beta = [sp.nsimplify(a) for a in method.alpha], [sp.nsimplify(b) for b in method.beta]
        c = sum(a * j**q for j, a in enumerate(alpha)) / sp.factorial(q)
        c -= sum(b * j ** (q - 1) for j, b in enumerate(beta)) / sp.factorial(q - 1)
        assert c / sum(beta) == sp.Rational(constant)


def test_prox_beyond_first_order():
    """A half gradient step and a half prox step of the same function are the trapezoidal rule, zeta_1 =
    (1 + w/2)/(1 - w/2) = 1 + w + w^2/2 + w^3/4 + ..., order 2; with two functions the w^2 terms differ for unequal
    directions (a^2/8 + ab/4 + b^2/8 against ab/4 + b^2/4), order 1."""
    halves = "y[k] = x[k] - 0.5 * h * grad f(x[k])\nx[k+1] = prox {F}(y[k], 0.5 * h)"
    same = alg2net.check_source(f"algorithm t\nparam h = 0.5\n{halves.format(F='f')}\n")
    assert same["order"] == 2 and same["effective_steps"] == {"f": "1/2"} and same["verdict"] == "guaranteed"
    assert lm.Adams_Moulton(1).order() == 2  # the trapezoidal rule
    split = alg2net.check_source(f"algorithm s\nparam h = 0.5\n{halves.format(F='g')}\n")
    assert split["order"] == 1 and split["effective_steps"] == {"f": "1/4", "g": "1/4"}


# Roots on and near the unit circle: decided exactly, printed so that the text agrees ------------------------------


def test_roots_on_the_unit_circle_are_exactly_on_it():
    """rho = zeta^5 - 1: the fifth roots of unity, from an irreducible quartic (no closed form is looked for)."""
    facts = alg2net.check_source("algorithm r\nparam h = 0.1\nx[k+1] = x[k-4] - h * grad f(x[k])\n")
    assert [root["abs"] for root in facts["roots"]] == [1.0] * 5
    assert facts["zero_stable"] and not facts["strongly_stable"] and facts["verdict"] == "guaranteed"
    roots = root_facts(poly(ZETA**5 - 1)).roots
    assert all(r.on_circle and r.modulus == 1 and not r.outside for r in roots)


def test_a_salem_polynomial_has_roots_on_inside_and_outside_the_circle():
    """zeta^4 - zeta^3 - zeta^2 - zeta + 1 is irreducible and self-reciprocal: two roots on the circle, a real pair
    (lambda, 1/lambda) with lambda = 1.72..."""
    roots = root_facts(poly(ZETA**4 - ZETA**3 - ZETA**2 - ZETA + 1)).roots
    assert sorted((r.on_circle, r.outside) for r in roots) == [(False, False), (False, True), (True, False)] + [
        (True, False)
    ]
    assert [r.modulus for r in roots if r.on_circle] == [1, 1]
    assert not root_condition(poly(ZETA**4 - ZETA**3 - ZETA**2 - ZETA + 1)).zero_stable


@pytest.mark.parametrize(("c", "stable"), [("1.00000003", False), ("0.99999997", True)])
def test_a_root_next_to_the_circle_is_on_its_side(c, stable):
    """rho = (zeta - 1)(zeta^3 - c): three roots of modulus c^(1/3) = 1 +- 10^-8. The text never reads |zeta| = 1
    for them, nor 1 > 1."""
    text = f"algorithm n\nparam h = 0.1\nx[k+1] = x[k] + {c} * (x[k-2] - x[k-3]) - h * grad f(x[k])\n"
    facts = alg2net.check_source(text)
    assert facts["zero_stable"] is stable and (facts["verdict"] == "guaranteed") is stable
    others = [root["abs"] for root in facts["roots"] if root["value"] != "1"]
    assert len(others) == 3 and all((m > 1) is not stable and m != 1 for m in others)
    rho_c = poly(facts["rho"])
    near = [r for r in root_facts(rho_c).roots if r.value != 1]
    assert all(r.outside is not stable and not r.on_circle for r in near)
    assert {modulus_text(r) for r in near} == {"1.00000001" if not stable else "0.99999999"}
    assert all(render_root(r) != "1" for r in near)


def test_the_reason_for_a_root_next_to_the_circle_shows_its_modulus():
    text = "algorithm n\nparam h = 0.1\nx[k+1] = x[k] + 1.00000003 * (x[k-2] - x[k-3]) - h * grad f(x[k])\n"
    written = " ".join(alg2net.check_source(text)["reasons"])
    assert "|zeta| = 1 >" not in written and "|zeta| = 1.00000001 > 1" in written


# Texts: the language's names, valid SymPy where it is SymPy --------------------------------------------------------


def test_min_max_abs_are_written_as_the_language_writes_them():
    text = "algorithm s\nparam h[k] = max(1/(k+1), 1/2)\nx[k+1] = x[k] - h[k] * grad f(x[k])\n"
    facts = alg2net.check_source(text)
    assert facts["effective_steps"] == {"f": "max(1/2, 1/(k + 1))"}
    assert facts["limit_ode"] == "x' = -max(1/2, 1/(k + 1))*T_f(x)"
    assert writer({})(sp.Min(sp.Symbol("k"), 3) + sp.Abs(sp.Symbol("a"))) == "abs(a) + min(3, k)"


def test_rho_with_a_sum_as_its_constant_term_reads_back():
    """Heavy ball with beta = sqrt(2) - 1: rho = zeta^2 - sqrt(2)*zeta - (1 - sqrt(2)), the parentheses kept."""
    text = "algorithm s\nparam h = 0.1\nparam b = 2^0.5 - 1\nx[k+1] = x[k] - h * grad f(x[k]) + b * (x[k] - x[k-1])\n"
    facts = alg2net.check_source(text)
    b = sp.sqrt(2) - 1
    assert poly(facts["rho"]) == poly(ZETA**2 - (1 + b) * ZETA + b)
    assert poly(facts["rho_factored"]) == poly(ZETA**2 - (1 + b) * ZETA + b)


def test_rho_with_powers_of_two_in_k_is_factored():
    k = sp.Symbol("k")
    rho_k = sp.Poly(ZETA**2 - (1 + 2**-k) * ZETA + 2**-k, ZETA)
    assert factored(rho_k) == "(zeta - 1)*(zeta - 1/(2**k))"


def test_a_block_at_a_vanishing_argument_is_no_traceback():
    """`grad g(0*x[k])` is a constant block: absent from the linear test, and reported as seeing 0*x."""
    text = "algorithm z\nparam h = 0.5\ny[k] = x[k] - h * grad g(0 * x[k])\nx[k+1] = y[k] - h * grad f(x[k])\n"
    facts = alg2net.check_source(text)
    assert facts["rho"] == "zeta - 1" and facts["effective_steps"] == {"g": "0", "f": "1/2"}
    assert facts["verdict"] == "not_guaranteed"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(-9, 9), st.integers(-120, 120)), min_size=4, max_size=6),
    st.booleans(),
)
@example([(6, -78), (9, 98), (0, 0), (0, 0), (1, 0)], False)  # roots 1.5e176 and 1e-33: Aberth never settled
@example([(-1, 93), (0, 0), (0, 0), (1, 0)], True)  # a pair 1e-66 apart: Aberth settled on noise at 60 digits
@example([(1, 0), (-6, 112), (0, 0), (-1, -1)], True)  # a complex pair 1e-57 taken for real beside roots near 1/3
def test_the_roots_of_any_factor_are_found_whatever_their_sizes(terms, cluster):
    """Coefficients m*10^e over 240 decades (some roots 1e-100, others 1e100), or a double root split by 10^-40:
    `root_facts` gives every root of every factor, checked without an oracle (Vieta's product of each factor's
    roots, and each root's residual relative to the size of the terms)."""
    coefficients = [sp.Rational(m) * sp.Rational(10) ** e for m, e in terms]
    if coefficients[0] == 0 or coefficients[-1] == 0:
        coefficients[0] = coefficients[-1] = sp.Integer(1)
    p = sp.Poly(coefficients, ZETA)
    if cluster:
        p = sp.Poly((ZETA - sp.Rational(1, 3)) ** 2 * p.as_expr() + sp.Rational(1, 10**40), ZETA)
    roots = root_facts(p).roots
    assert sum(r.multiplicity for r in roots) == p.degree()
    with mpmath.workdps(60):
        for factor, _ in p.factor_list()[1]:
            values = [_mpc(r.value) for r in roots]
            mine = [v for v in values if _residual(factor, v) < mpmath.mpf(10) ** -25]
            assert len(mine) >= factor.degree(), (factor, values)
            ratio = abs(factor.all_coeffs()[-1] / factor.LC())  # Vieta: the product of the roots' moduli
            product = mpmath.fprod(abs(v) for v in mine[: factor.degree()])
            assert abs(product * int(ratio.q) / int(ratio.p) - 1) < mpmath.mpf(10) ** -20, factor


def _mpc(value: sp.Expr) -> mpmath.mpc:
    re, im = (sp.Float(sp.N(part, 60), 60) for part in value.as_real_imag())
    return mpmath.mpc(mpmath.mpf(re._mpf_), mpmath.mpf(im._mpf_))


def _residual(factor: sp.Poly, z):
    """|factor(z)| relative to the largest of its terms at z."""
    terms = [mpmath.mpf(int(c.p)) / int(c.q) * z**i for i, c in enumerate(reversed(factor.all_coeffs()))]
    return abs(mpmath.fsum(terms)) / max(abs(t) for t in terms)


@pytest.mark.parametrize("seed", range(4))
def test_the_roots_agree_with_the_exact_root_condition(seed):
    """Products of cyclotomic, self-reciprocal and nearly-circle factors: the roots' flags (what the report prints)
    give the verdict that Schur-Cohn and Sturm give without the roots."""
    rng = random.Random(seed)
    pool = [
        ZETA - 1,
        ZETA + 1,
        ZETA**2 + ZETA + 1,
        ZETA**4 + ZETA**3 + ZETA**2 + ZETA + 1,
        ZETA**4 - ZETA**3 - ZETA**2 - ZETA + 1,
        ZETA**3 - sp.Rational(100000003, 100000000),
        ZETA**3 - sp.Rational(99999997, 100000000),
        2 * ZETA**3 - ZETA + 1,
        ZETA**4 + ZETA / 3 - sp.Rational(1, 2),
    ]
    for _ in range(12):
        product = sp.prod(rng.sample(pool, rng.randint(1, 3)))
        p = poly(product * rng.choice([1, ZETA - 1]))
        facts, exact = root_facts(p), root_condition(p)
        assert (facts.zero_stable, facts.strongly_stable) == (exact.zero_stable, exact.strongly_stable), product
        assert all(r.modulus == 1 for r in facts.roots if r.on_circle)
        assert all(bool(r.modulus > 1) is r.outside for r in facts.roots if not r.on_circle)
