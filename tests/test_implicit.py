"""Implicit steps compile to equilibrium layers (module.md, Implicit steps; issue 4).

Faithfulness of every implicit example against closed-form linear solves is in test_faithfulness.py; here: exact
gradients by implicit differentiation, memory that does not grow with the solver's iterations, and the warning when a
solve does not converge.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import alg2net

ROOT = Path(__file__).resolve().parent.parent
IMPLICIT = ["admm", "bdf2", "fista", "ista", "linearized_admm", "proximal_point", "trapezoidal"]
TIGHT = {"solver_tol": 1e-12, "solver_max_iter": 200}


def _load(stem: str, **options) -> type:
    return alg2net.load(ROOT / "examples" / f"{stem}.alg", **options)


def _small(stem: str, **kwargs) -> nn.Module:
    """A float64 module of width 3 and depth 2 whose blocks are small enough for every solve to contract."""
    torch.manual_seed(0)
    model = _load(stem, activation="tanh")(3, 2, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        for parameter in model.blocks.parameters():
            parameter.mul_(0.5)
    return model


@pytest.mark.parametrize("stem", IMPLICIT)
def test_gradcheck_for_the_input_and_every_block_weight(stem: str):
    model = _small(stem, **TIGHT)
    names = [name for name, _ in model.named_parameters()]
    values = [p.detach().clone().requires_grad_() for p in model.parameters()]
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)

    def forward(x: torch.Tensor, *parameters: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(model, dict(zip(names, parameters, strict=True)), (x,))

    assert torch.autograd.gradcheck(forward, (x, *values), atol=1e-6, rtol=1e-5)


def _graph_size(output: torch.Tensor) -> int:
    """The number of autograd nodes behind `output`."""
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return len(seen)


@pytest.mark.parametrize("stem", ["proximal_point", "bdf2"])
def test_the_autograd_graph_does_not_grow_with_solver_iterations(stem: str):
    """No backprop through the solver loop: the graph kept for backward is the same after 5 or 80 iterations."""
    x = torch.randn(4, 3, dtype=torch.float64)
    sizes = []
    for iterations in (5, 80):
        model = _small(stem, solver_tol=0.0, solver_max_iter=iterations)  # tol 0: every solve runs to the limit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sizes.append(_graph_size(model(x)))
    assert sizes[0] == sizes[1]


def test_backward_matches_backprop_through_a_converged_unrolled_solve():
    """The implicit gradient equals the gradient of many unrolled fixed-point iterations z <- v - h T(z)."""
    model = _small("proximal_point", h=0.5, **TIGHT)
    block = model.blocks["f"][0]
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    one_layer = type(model)(3, 1, block_factory=lambda name, layer: block, h=0.5, **TIGHT)
    one_layer(x).square().sum().backward()
    implicit_x, implicit_w = x.grad.clone(), block.layers[0].weight.grad.clone()

    x.grad, block.layers[0].weight.grad = None, None
    z = x
    for _ in range(200):
        z = x - 0.5 * block(z)
    z.square().sum().backward()
    torch.testing.assert_close(implicit_x, x.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(implicit_w, block.layers[0].weight.grad, rtol=1e-9, atol=1e-12)


class Oscillating(nn.Module):
    """T(z) = -3 sin(4z): z -> v - T(z) has slope up to 12, far from a contraction."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return -3 * torch.sin(4 * z)


class Exploding(nn.Module):
    """T(z) = -exp(z): z -> v + exp(z) has no fixed point; the iterates overflow."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return -torch.exp(z)


@pytest.mark.parametrize("block", [Oscillating(), Exploding()], ids=["oscillating", "exploding"])
def test_a_solve_that_does_not_converge_warns_with_the_residual_and_the_layer(block: nn.Module):
    model = _load("proximal_point")(4, 2, block_factory=lambda name, layer: block, solver_max_iter=20)
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    with pytest.warns(RuntimeWarning) as records:
        output = model(x)
    messages = [str(record.message) for record in records]
    assert any("prox f at layer 0 did not converge" in message for message in messages), messages
    assert all("relative residual" in message and "solver_max_iter=20" in message for message in messages)
    assert output.shape == x.shape
    if isinstance(block, Oscillating):
        assert output.isfinite().all()


def test_a_converged_solve_is_silent_and_a_loose_tolerance_is_honoured():
    model = _small("proximal_point", solver_tol=1e-3, solver_max_iter=50)
    x = torch.randn(4, 3, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loose = model(x)
    model.solver_tol = 1e-13
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tight = model(x)
    error = ((loose - tight).norm() / tight.norm()).item()
    assert 0 < error < 1e-2


def test_the_backward_solve_warns_when_the_adjoint_does_not_converge():
    """Forward converges (Anderson solves this linear map exactly); the adjoint solve is denied iterations."""
    model = _small("proximal_point", solver_tol=1e-10, solver_max_iter=40)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    output = model(x)
    model.solver_max_iter = 1
    with pytest.warns(RuntimeWarning, match="the backward pass of prox f at layer"):
        output.sum().backward()


def test_float32_implicit_module_trains():
    torch.manual_seed(0)
    model = _load("fista")(6, 3)
    x, target = torch.randn(16, 6), torch.randn(16, 6)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


@pytest.mark.parametrize("stem", IMPLICIT)
def test_under_bfloat16_autocast_the_solves_converge_in_float32(stem: str):
    """memory.md: under autocast the forward and adjoint solves run in float32, so they reach solver_tol (a bfloat16
    residual stalls near 4e-3) and no solve warns; the gradients stay near the float32 ones."""
    torch.manual_seed(0)
    model = _load(stem, activation="tanh")(8, 3)
    with torch.no_grad():
        for parameter in model.blocks.parameters():
            parameter.mul_(0.5)
    x = torch.randn(4, 8)

    def input_gradient(autocast: bool) -> torch.Tensor:
        inputs = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            output = model(inputs)
        output.float().square().sum().backward()
        return inputs.grad

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a solve above solver_tol would warn
        mixed = input_gradient(True)
    full = input_gradient(False)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed).all()
    assert ((mixed - full).norm() / full.norm()).item() < 5e-2
