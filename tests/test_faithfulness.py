"""Generated networks with true-gradient blocks are the algorithms themselves (module.md, Faithfulness; STYLE habit 12).

Every block is replaced by `Grad`, the exact gradient v -> Qv - b of f(v) = 1/2 v'Qv - b'v (g likewise with R, c),
and `forward(x0)` is compared in float64 with an independent NumPy implementation of the algorithm, written here
from the maths in each example's header comment, never from the compiler's output. For quadratics a proximal step
is a linear solve: z = prox_{tF}(v) = v - t grad F(z) means (I + tQ) z = v + tb.

Conventions from dsl.md: a state has its initial value at every index <= 0 (x[-1] = x0); `init v = 0` gives zeros;
schedules and recurrences are indexed by the layer k = 0..L-1; every `grad F` and `prox F` of layer k, also at a
lagged point, uses layer k's block.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import alg2net

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.alg"))
DEPTHS = (1, 2, 12)
WIDTH = 5
RTOL = 1e-10  # explicit algorithms: float64 round-off
SOLVER = {"solver_tol": 1e-13, "solver_max_iter": 100}  # implicit steps are exact up to the solver tolerance ...
RTOL_IMPLICIT = 1e-9  # ... which, through a contraction and 12 layers, stays below this


# The problem: f(v) = 1/2 v'Qv - b'v and g(v) = 1/2 v'Rv - c'v, Q and R symmetric positive definite -----------------


def _spd(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    basis, _ = np.linalg.qr(rng.standard_normal((WIDTH, WIDTH)))
    matrix = basis @ np.diag(np.linspace(low, high, WIDTH)) @ basis.T
    return (matrix + matrix.T) / 2


_RNG = np.random.default_rng(20240611)
Q, B = _spd(_RNG, 0.1, 0.9), _RNG.standard_normal(WIDTH)
R, C = _spd(_RNG, 0.2, 0.6), _RNG.standard_normal(WIDTH)
X0 = _RNG.standard_normal((3, WIDTH))


class Grad(nn.Module):
    """The true gradient v -> scale * (v Q^T - b) of f(v) = 1/2 v'Qv - b'v, as a block (no parameters)."""

    def __init__(self, q: np.ndarray, b: np.ndarray, scale: float = 1.0):
        super().__init__()
        self.register_buffer("q", torch.tensor(q, dtype=torch.float64))
        self.register_buffer("b", torch.tensor(b, dtype=torch.float64))
        self.scale = scale

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.scale * (v @ self.q.T - self.b)


class Problem:
    """Quadratic functions by DSL name, with the NumPy gradients and proximal maps the references use.

    Layer k's function F is scales(k) * F, in the references and in the blocks of `factory()` alike.
    """

    def __init__(self, functions: dict[str, tuple[np.ndarray, np.ndarray]] | None = None, scales=lambda k: 1.0):
        self.functions = functions or {"f": (Q, B), "g": (R, C)}
        self.scales = scales

    def grad(self, name: str, v: np.ndarray, k: int) -> np.ndarray:
        q, b = self.functions[name]
        return self.scales(k) * (v @ q.T - b)

    def prox(self, name: str, v: np.ndarray, t: float, k: int) -> np.ndarray:
        """The z with z = v - t * grad F(z): (I + t s Q) z = v + t s b."""
        q, b = self.functions[name]
        ts = t * self.scales(k)
        return np.linalg.solve(np.eye(WIDTH) + ts * q, (v + ts * b).T).T

    def solve(self, name: str, k: int, a: float, rhs: np.ndarray) -> np.ndarray:
        """The z with z = rhs - a * grad F(z), for an implicit multistep update."""
        return self.prox(name, rhs, a, k)

    def factory(self):
        """A block_factory: function `name` at `layer` gets Grad(Q_name, b_name, scales(layer)); records its calls."""
        calls: list[tuple[str, int]] = []

        def factory(name: str, layer: int) -> nn.Module:
            calls.append((name, layer))
            return Grad(*self.functions[name], scale=self.scales(layer))

        factory.calls = calls
        return factory


@functools.cache
def load(example: Path) -> type:
    """`alg2net.load(example)`, once per example."""
    return alg2net.load(example)


def run(net: type, depth: int, factory=None, x0: np.ndarray = X0, /, **kwargs) -> np.ndarray:
    """forward(x0) of `net` in float64 with true-gradient blocks (those of `Problem()` unless `factory` is given); its
    params are made in float64 (`dtype=`), so coefficients are never rounded through float32."""
    model = net(WIDTH, depth, block_factory=factory or Problem().factory(), dtype=torch.float64, **kwargs)
    with torch.no_grad():
        out = model(torch.tensor(x0, dtype=torch.float64))
    assert out.dtype == torch.float64 and out.shape == x0.shape
    return out.numpy()


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str, rtol: float = RTOL) -> None:
    error = np.linalg.norm(actual - expected) / np.linalg.norm(expected)
    assert error <= rtol, f"{what}: relative error {error:.3e} > {rtol:.0e}\nactual:\n{actual}\nexpected:\n{expected}"


def assert_differs(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Guard for override tests: the override must change the result, or the test would prove nothing."""
    assert np.linalg.norm(a - b) > 1e-6 * np.linalg.norm(b), f"{what}: the override does not change the iterate"


# Independent implementations of the examples, from their header comments -------------------------------------------
# Each takes the Problem p, the input x0, the depth L and the example's params with their defaults from the file.


def gradient_descent(p: Problem, x0, depth, h=1.0):
    x = x0
    for k in range(depth):
        x = x - h * p.grad("f", x, k)
    return x


def heavy_ball(p: Problem, x0, depth, h=1.0, beta=0.9):
    x_prev, x = x0, x0
    for k in range(depth):
        x_prev, x = x, x - h * p.grad("f", x, k) + beta * (x - x_prev)
    return x


def nesterov(p: Problem, x0, depth, h=1.0, mu=0.9):
    x_prev, x = x0, x0
    for k in range(depth):
        y = x + mu * (x - x_prev)
        x_prev, x = x, y - h * p.grad("f", y, k)
    return x


def nesterov_schedule(p: Problem, x0, depth, h=1.0, mu=None):
    mu = [(k - 1) / (k + 2) for k in range(depth)] if mu is None else mu
    x_prev, x = x0, x0
    for k in range(depth):
        y = x + mu[k] * (x - x_prev)
        x_prev, x = x, y - h * p.grad("f", y, k)
    return x


def _fista_t(t0: float, depth: int) -> list[float]:
    t = [t0]
    for k in range(depth):
        t.append((1 + math.sqrt(1 + 4 * t[k] ** 2)) / 2)
    return t


def fista_momentum(p: Problem, x0, depth, h=1.0, t=1.0):
    t = _fista_t(t, depth)
    x_prev, x = x0, x0
    for k in range(depth):
        y = x + (t[k] - 1) / t[k + 1] * (x - x_prev)
        x_prev, x = x, y - h * p.grad("f", y, k)
    return x


def fista(p: Problem, x0, depth, h=1.0, t=1.0):
    t = _fista_t(t, depth)
    x_prev, x = x0, x0
    for k in range(depth):
        y = x + (t[k] - 1) / t[k + 1] * (x - x_prev)
        x_prev, x = x, p.prox("g", y - h * p.grad("f", y, k), h, k)
    return x


def ista(p: Problem, x0, depth, h=1.0):
    x = x0
    for k in range(depth):
        x = p.prox("g", x - h * p.grad("f", x, k), h, k)
    return x


def proximal_point(p: Problem, x0, depth, h=1.0):
    x = x0
    for k in range(depth):
        x = p.prox("f", x, h, k)
    return x


def heun(p: Problem, x0, depth, h=1.0):
    x = x0
    for k in range(depth):
        y = x - h * p.grad("f", x, k)
        x = x - h / 2 * (p.grad("f", x, k) + p.grad("f", y, k))
    return x


def adams_bashforth2(p: Problem, x0, depth, h=1.0):
    x_prev, x = x0, x0
    for k in range(depth):
        x_prev, x = x, x - h * (1.5 * p.grad("f", x, k) - 0.5 * p.grad("f", x_prev, k))
    return x


def trapezoidal(p: Problem, x0, depth, h=1.0):
    x = x0
    for k in range(depth):
        x = p.solve("f", k, h / 2, x - h / 2 * p.grad("f", x, k))  # x+ = x - h/2 (grad f(x) + grad f(x+))
    return x


def bdf2(p: Problem, x0, depth, h=1.0):
    x_prev, x = x0, x0
    for k in range(depth):
        x_prev, x = x, p.solve("f", k, 2 / 3 * h, 4 / 3 * x - 1 / 3 * x_prev)  # x+ = ... - 2/3 h grad f(x+)
    return x


def lm_resnet(p: Problem, x0, depth, h=1.0, kn=None):
    kn = [-0.05] * depth if kn is None else kn
    x_prev, x = x0, x0
    for k in range(depth):
        x_prev, x = x, (1 - kn[k]) * x + kn[k] * x_prev - h * p.grad("f", x, k)
    return x


def momentum_resnet(p: Problem, x0, depth, gamma=0.9):
    x, v = x0, np.zeros_like(x0)
    for k in range(depth):
        v = gamma * v + (1 - gamma) * (-p.grad("f", x, k))
        x = x + v
    return x


def admm(p: Problem, x0, depth, rho=1.0):
    x, z, u = x0, x0, np.zeros_like(x0)
    for k in range(depth):
        x = p.prox("f", z - u, 1 / rho, k)
        z = p.prox("g", x + u, 1 / rho, k)
        u = u + x - z
    return z


def linearized_admm(p: Problem, x0, depth, h=0.25, rho=1.0):
    x, z, u = x0, x0, np.zeros_like(x0)
    for k in range(depth):
        x = x - h * (p.grad("f", x, k) + rho * (x - z + u))
        z = p.prox("g", x + u, 1 / rho, k)
        u = u + x - z
    return z


def leapfrog(p: Problem, x0, depth, h=0.1):
    x_prev, x = x0, x0
    for k in range(depth):
        x_prev, x = x, x_prev - 2 * h * p.grad("f", x, k)
    return x


def reversible_heun(p: Problem, x0, depth, h=0.1, lam=0.99):
    y, z = x0, x0
    for k in range(depth):
        y = lam * y + (1 - lam) * z - h * p.grad("f", z, k)
        z = z + h * p.grad("f", y, k)
    return y


def zerosnet(p: Problem, x0, depth, h=1.0, lam=1.0):
    x2, x1, x = x0, x0, x0  # x[k-2], x[k-1], x[k]
    for k in range(depth):
        new = (
            (3 * lam + 3) / (4 * lam) * x
            - x1 / lam
            + (lam + 1) / (4 * lam) * x2
            - h * (3 * lam - 1) / (2 * lam) * p.grad("f", x, k)
        )
        x2, x1, x = x1, x, new
    return x


def learnable_lmm3(p: Problem, x0, depth, h=1.0, a=0.3, b=0.2):
    x2, x1, x = x0, x0, x0  # x[k-2], x[k-1], x[k]
    for k in range(depth):
        x2, x1, x = x1, x, (1 + a) * x + (b - a) * x1 - b * x2 - h * p.grad("f", x, k)
    return x


EXPLICIT = (
    leapfrog,
    reversible_heun,
    gradient_descent,
    heavy_ball,
    nesterov,
    nesterov_schedule,
    fista_momentum,
    heun,
    adams_bashforth2,
    lm_resnet,
    momentum_resnet,
    zerosnet,
    learnable_lmm3,
)
IMPLICIT = (fista, ista, proximal_point, trapezoidal, bdf2, admm, linearized_admm)  # a prox or x[k+1] in grad
REFERENCES: dict[str, Callable[..., np.ndarray]] = {f.__name__: f for f in EXPLICIT + IMPLICIT}
HAS_IMPLICIT_STEP = {f.__name__ for f in IMPLICIT}

# Non-default params per example, as a function of the depth (schedules need one value per layer).
OVERRIDES: dict[str, Callable[[int], dict]] = {
    "gradient_descent": lambda depth: {"h": 0.5},
    "heavy_ball": lambda depth: {"beta": 0.5, "h": 0.75},
    "nesterov": lambda depth: {"mu": 0.3},
    "nesterov_schedule": lambda depth: {"mu": [0.5 - 0.03 * k for k in range(depth)]},
    "fista_momentum": lambda depth: {"t": 2.0, "h": 0.5},
    "fista": lambda depth: {"t": 2.0, "h": 0.5},
    "ista": lambda depth: {"h": 0.5},
    "proximal_point": lambda depth: {"h": 2.0},
    "heun": lambda depth: {"h": 0.5},
    "adams_bashforth2": lambda depth: {"h": 0.5},
    "trapezoidal": lambda depth: {"h": 0.5},
    "bdf2": lambda depth: {"h": 0.5},
    "lm_resnet": lambda depth: {"kn": [-0.1 + 0.02 * k for k in range(depth)]},
    "momentum_resnet": lambda depth: {"gamma": 0.5},
    "leapfrog": lambda depth: {"h": 0.3},
    "reversible_heun": lambda depth: {"h": 0.2, "lam": 0.5},
    "admm": lambda depth: {"rho": 2.0},
    "linearized_admm": lambda depth: {"h": 0.125, "rho": 2.0},
    "zerosnet": lambda depth: {"lam": -1.5, "h": 0.5},
    "learnable_lmm3": lambda depth: {"a": -0.4, "b": 0.5},
}


def reference_for(example: Path) -> tuple[Callable[..., np.ndarray], dict, float]:
    """The reference of an example, the solver options its module needs, and the tolerance."""
    if example.stem not in REFERENCES:
        pytest.fail(
            f"examples/{example.name} has no reference implementation: add an independent one (from its header "
            f"comment) to REFERENCES in tests/test_faithfulness.py, and non-default params to OVERRIDES"
        )
    if example.stem in HAS_IMPLICIT_STEP:
        return REFERENCES[example.stem], SOLVER, RTOL_IMPLICIT
    return REFERENCES[example.stem], {}, RTOL


def test_every_reference_has_an_example():
    stale = sorted(set(REFERENCES) - {p.stem for p in EXAMPLES})
    assert not stale, f"references without an example in examples/: {stale}"


# The examples ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_the_algorithm(example: Path, depth: int):
    reference, solver, rtol = reference_for(example)
    actual = run(load(example), depth, **solver)
    assert_close(actual, reference(Problem(), X0, depth), f"{example.stem}, depth {depth}", rtol)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_honours_param_overrides(example: Path, depth: int):
    reference, solver, rtol = reference_for(example)
    if example.stem not in OVERRIDES:
        pytest.fail(f"add non-default params for examples/{example.name} to OVERRIDES in tests/test_faithfulness.py")
    params = OVERRIDES[example.stem](depth)
    expected = reference(Problem(), X0, depth, **params)
    if depth > 1:  # at depth 1 momentum terms multiply x[0] - x[-1] = 0
        assert_differs(expected, reference(Problem(), X0, depth), f"{example.stem} {params}")
    actual = run(load(example), depth, **solver, **params)
    assert_close(actual, expected, f"{example.stem}, depth {depth}, params {params}", rtol)


@pytest.mark.parametrize("stem", ["adams_bashforth2", "heun", "nesterov_schedule", "bdf2", "admm"])
def test_layer_k_uses_block_k_even_at_lagged_points(stem: str):
    """With a different function scale per layer, every grad/prox of layer k (also at x[k-1]) uses layer k's block."""
    depth = 6
    problem = Problem(scales=lambda k: 1 + k / 8)
    factory = problem.factory()
    reference, solver, rtol = reference_for(ROOT / "examples" / f"{stem}.alg")
    actual = run(load(ROOT / "examples" / f"{stem}.alg"), depth, factory, **solver)
    assert sorted(set(factory.calls)) == sorted(factory.calls), "a block was built twice"
    assert {layer for _, layer in factory.calls} == set(range(depth))
    assert_close(actual, reference(problem, X0, depth), f"{stem} with per-layer blocks", rtol)


def test_tied_module_is_the_algorithm():
    depth = 12
    factory = Problem().factory()
    net = load(ROOT / "examples" / "heavy_ball.alg")
    model = net(WIDTH, depth, block_factory=factory, tied=True, dtype=torch.float64)
    assert factory.calls == [("f", 0)]
    with torch.no_grad():
        actual = model(torch.tensor(X0)).numpy()
    assert_close(actual, heavy_ball(Problem(), X0, depth), "heavy_ball, tied")


# Language features the examples do not cover, compiled from inline source ------------------------------------------

TWO_FUNCTIONS = """
algorithm two_functions
param h = 0.5
y[k] = x[k] - h * grad f(x[k])
x[k+1] = y[k] - h * grad g(y[k]) - h / 4 * grad f(y[k])
"""


@pytest.mark.parametrize("depth", DEPTHS)
def test_two_functions_get_their_own_blocks(depth, load_source):
    p = Problem()
    x = X0
    for k in range(depth):
        y = x - 0.5 * p.grad("f", x, k)
        x = y - 0.5 * p.grad("g", y, k) - 0.125 * p.grad("f", y, k)
    net = load_source(TWO_FUNCTIONS)
    factory = p.factory()
    assert_close(run(net, depth, factory), x, "f and g")
    assert sorted(factory.calls) == sorted((name, k) for name in "fg" for k in range(depth))
    model = net(WIDTH, depth)
    assert set(model.blocks.keys()) == {"f", "g"}
    assert all(len(model.blocks[name]) == depth for name in "fg")


LAG_THREE = """
algorithm lag_three
param h = 0.5
param beta = 0.25
x[k+1] = x[k] - h * grad f(x[k]) + beta * (x[k-1] - x[k-3]) - h / 4 * grad f(x[k-2])
"""


@pytest.mark.parametrize("depth", DEPTHS)
def test_lag_of_three_starts_from_the_input(depth, load_source):
    def reference(p: Problem, beta=0.25):
        history = [X0, X0, X0, X0]  # x[k], x[k-1], x[k-2], x[k-3]
        for k in range(depth):
            x, x1, x2, x3 = history
            new = x - 0.5 * p.grad("f", x, k) + beta * (x1 - x3) - 0.125 * p.grad("f", x2, k)
            history = [new, x, x1, x2]
        return history[0]

    per_layer = Problem(scales=lambda k: 1 + k / 8)  # grad f(x[k-2]) must use layer k's block
    net = load_source(LAG_THREE)
    assert_close(run(net, depth, per_layer.factory()), reference(per_layer), "lag 3")
    assert_close(run(net, depth, beta=-0.5), reference(Problem(), beta=-0.5), "lag 3, beta=-0.5")


GAUSS_SEIDEL = """
algorithm gauss_seidel
param h = 0.5
init v = 0
output w
v[k+1] = v[k] - h * grad f(x[k])
x[k+1] = x[k] + h * v[k+1]
w[k+1] = w[k] + x[k+1] - 2 * x[k] + v[k] + grad g(x[k])
"""


@pytest.mark.parametrize("depth", DEPTHS)
def test_gauss_seidel_reads_new_and_old_values(depth, load_source):
    """x reads v[k+1] (already updated), w reads x[k+1] and the old x[k], v[k]: statements run in order."""
    p = Problem()
    x, v, w = X0, np.zeros_like(X0), X0
    for k in range(depth):
        v_next = v - 0.5 * p.grad("f", x, k)
        x_next = x + 0.5 * v_next
        w = w + x_next - 2 * x + v + p.grad("g", x, k)
        x, v = x_next, v_next
    assert_close(run(load_source(GAUSS_SEIDEL), depth), w, "Gauss-Seidel")


AUXILIARY_TWICE = """
algorithm auxiliary_twice
param h = 0.5
param mu = 0.5
d[k] = x[k] - x[k-1]
y[k] = x[k] + mu * d[k]
x[k+1] = y[k] - h * grad f(y[k]) + 0.25 * d[k]
"""


@pytest.mark.parametrize("depth", DEPTHS)
def test_auxiliary_used_by_two_later_lines(depth, load_source):
    p = Problem()
    x_prev, x = X0, X0
    for k in range(depth):
        d = x - x_prev
        y = x + 0.5 * d
        x_prev, x = x, y - 0.5 * p.grad("f", y, k) + 0.25 * d
    assert_close(run(load_source(AUXILIARY_TWICE), depth), x, "auxiliary used twice")


SCALAR_FUNCTIONS = """
algorithm scalar_functions
param a = 0.25
param b = 4
param e = sqrt(a) + exp(-b) + log(b) / 4
param c = 2 learnable
x[k+1] = x[k] - sqrt(a) * min(a, b) * max(a, 1/b + 0.5) * exp(-a) * log(b) * abs(a - b) * grad f(x[k]) + min(c, 1) * sqrt(c) / 8 * (x[k] - x[k-1]) - e / 4 * grad f(x[k-1]) + max(1, k) / 20 * grad f(x[k])
"""


def _scalar_functions_reference(depth, a=0.25, b=4.0, c=2.0):
    e = math.sqrt(a) + math.exp(-b) + math.log(b) / 4
    step = math.sqrt(a) * min(a, b) * max(a, 1 / b + 0.5) * math.exp(-a) * math.log(b) * abs(a - b)
    p = Problem()
    x_prev, x = X0, X0
    for k in range(depth):
        momentum = min(c, 1) * math.sqrt(c) / 8 * (x - x_prev)
        new = (
            x
            - step * p.grad("f", x, k)
            + momentum
            - e / 4 * p.grad("f", x_prev, k)
            + max(1, k) / 20 * p.grad("f", x, k)
        )
        x_prev, x = x, new
    return x


@pytest.mark.parametrize("depth", DEPTHS)
def test_scalar_functions_of_params_in_coefficients(depth, load_source):
    net = load_source(SCALAR_FUNCTIONS)
    assert_close(run(net, depth), _scalar_functions_reference(depth), "sqrt/min/max/exp/log/abs")
    # A derived param follows an overridden one (e is defined from a and b), and a learnable one is honoured.
    expected = _scalar_functions_reference(depth, a=0.16, b=3.0, c=0.5)
    assert_differs(expected, _scalar_functions_reference(depth), "a, b, c")
    assert_close(run(net, depth, a=0.16, b=3.0, c=0.5), expected, "sqrt/min/max/exp/log/abs, overridden")


SCHEDULES = """
algorithm schedules
param h = 0.75
param s[k] = h * 0.5^k + 1 / (k + 1)^2 / 4
param r[k] = 0.8 * (k + 1) ** (-1) learnable
x[k+1] = x[k] - s[k] * grad f(x[k]) + r[k] / 4 * (x[k] - x[k-1])
"""


def _schedules_reference(depth, s=None, r=None, h=0.75):
    s = [h * 0.5**k + 1 / (k + 1) ** 2 / 4 for k in range(depth)] if s is None else s
    r = [0.8 / (k + 1) for k in range(depth)] if r is None else r
    p = Problem()
    x_prev, x = X0, X0
    for k in range(depth):
        x_prev, x = x, x - s[k] * p.grad("f", x, k) + r[k] / 4 * (x - x_prev)
    return x


@pytest.mark.parametrize("depth", DEPTHS)
def test_schedules_with_powers_of_k_and_a_learnable_schedule(depth, load_source):
    net = load_source(SCHEDULES)
    assert_close(run(net, depth), _schedules_reference(depth), "schedules")
    assert_close(run(net, depth, h=0.25), _schedules_reference(depth, h=0.25), "schedules, h=0.25")
    s, r = [0.3 + 0.01 * k for k in range(depth)], [0.5 - 0.02 * k for k in range(depth)]
    assert_close(run(net, depth, s=s, r=r), _schedules_reference(depth, s=s, r=r), "schedules, s and r given")

    model = net(WIDTH, depth, r=r)
    learnable = dict(model.named_parameters())
    assert "r" in learnable and learnable["r"].shape == (depth,)
    assert learnable["r"].detach().tolist() == pytest.approx(r)
    assert "s" in dict(model.named_buffers()) and "s" not in learnable
    with pytest.raises(ValueError):
        net(WIDTH, depth, r=r + [0.0])


KEYWORD_NAMES = """
algorithm class
param lambda = 0.5
param def = 0.25
param print = 0.5
init torch = 0
self[k+1] = self[k] - lambda * grad update(self[k]) + print * torch[k]
input_[k+1] = input_[k] - def * grad keys(self[k+1]) + 0.5 * (input_[k] - input_[k-1])
torch[k+1] = torch[k] + 0.125 * (input_[k+1] - self[k+1])
class[k+1] = class[k] + torch[k+1]
output class
"""


def _stored(model: nn.Module, name: str) -> torch.Tensor:
    """A param under its DSL name, or with the `_` that Python needs for a keyword or builtin."""
    state = model.state_dict()
    keys = [key for key in (name, f"{name}_") if key in state]
    assert keys, f"param {name!r} is not in state_dict(): {sorted(state)}"
    return state[keys[0]]


@pytest.mark.parametrize("depth", DEPTHS)
def test_python_keywords_and_builtins_as_names(depth, load_source):
    p = Problem({"update": (Q, B), "keys": (R, C)})

    def reference(lam=0.5, def_=0.25, print_=0.5):
        self_, input_, torch_, class_ = X0, X0, np.zeros_like(X0), X0
        input_prev = X0
        for k in range(depth):
            self_ = self_ - lam * p.grad("update", self_, k) + print_ * torch_
            input_prev, input_ = input_, input_ - def_ * p.grad("keys", self_, k) + 0.5 * (input_ - input_prev)
            torch_ = torch_ + 0.125 * (input_ - self_)
            class_ = class_ + torch_
        return class_

    net = load_source(KEYWORD_NAMES)
    factory = p.factory()
    assert_close(run(net, depth, factory), reference(), "keyword names")
    assert sorted(factory.calls) == sorted((name, k) for name in ("update", "keys") for k in range(depth))
    # A keyword or builtin takes the constructor keyword `name_`; the value is stored under the DSL name or `name_`.
    overrides = {"lambda_": 0.25, "def_": 0.5, "print_": 0.125}
    expected = reference(lam=0.25, def_=0.5, print_=0.125)
    assert_close(run(net, depth, p.factory(), **overrides), expected, "keyword names, overridden")

    model = net(WIDTH, depth, **overrides)
    for keyword, value in overrides.items():
        assert _stored(model, keyword.rstrip("_")).item() == value
    assert len(model.blocks) == 2
    for name in ("update", "keys"):  # nn.ModuleDict cannot hold these keys as written; a trailing `_` is allowed
        (key,) = [key for key in model.blocks if key.rstrip("_") == name]
        assert len(model.blocks[key]) == depth
        assert any(entry.startswith(f"blocks.{key}.{depth - 1}.") for entry in model.state_dict())


SHADOWING_NAMES = """
algorithm shadowing
param self = 0.5
param width = 0.25
param depth = 2
x[k+1] = x[k] - self * width * depth * grad f(x[k])
"""


def test_params_named_like_constructor_arguments(load_source):
    """dsl.md allows `self`, `width`, `depth` as param names. They compile and keep their values; the constructor's
    own arguments keep their names (module.md's signature), so such a param's keyword gains a `_` (`width_=`)."""
    net = load_source(SHADOWING_NAMES)
    assert_close(run(net, 2), gradient_descent(Problem(), X0, 2, h=0.25), "defaults")
    assert {name for name, _ in net(WIDTH, 2).named_buffers()} == {"self", "width_", "depth_"}
    assert_close(run(net, 2, self_=1.0, width_=0.5, depth_=1), gradient_descent(Problem(), X0, 2, h=0.5), "given")
    with pytest.raises(TypeError):
        net(WIDTH, 2, width=0.5)
