"""Ista: the network of the algorithm `ista`, compiled by alg2net 0.1.0.

Layer k runs one iteration of the algorithm below; every `grad F` is a learnable block.

Algorithm:

    # Proximal gradient, ISTA (Daubechies, Defrise, De Mol 2004; Combettes, Wajs 2005): a gradient step on the
    # smooth f, then the proximal step of the nonsmooth g.
    #   x_{k+1} = prox_{h g}(x_k - h * grad f(x_k))
    algorithm ista

    param h = 1

    x[k+1] = prox g(x[k] - h * grad f(x[k]), h)

Learnable form (T_F is the block of layer k, or the shared block when tied):

    x[k+1] = prox_g(x[k] - h*T_f(x[k]), h)

Needs only PyTorch.
"""

import math
import warnings
from collections.abc import Callable

import torch
from torch import nn


class MLPBlock(nn.Module):
    """T(z) = W2 relu(W1 z + b1) + b2 on (batch, width) tensors."""

    def __init__(
        self, width: int, hidden: int, *, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> None:
        super().__init__()
        factory_kwargs = {"device": device, "dtype": dtype}
        self.layers = nn.Sequential(
            nn.Linear(width, hidden, **factory_kwargs),
            nn.ReLU(),
            nn.Linear(hidden, width, **factory_kwargs),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


def anderson(
    f: Callable[[torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    max_iter: int,
    tol: float,
    memory: int = 5,
) -> tuple[torch.Tensor, float]:
    """Solve z = f(z) from z0 by Anderson acceleration.

    Returns the iterate f(z) with the smallest relative residual |f(z) - z| / |f(z)| and that residual; stops at
    `tol`, after `max_iter` evaluations of f, or when the residual is no longer finite.
    """
    z = z0
    points: list[torch.Tensor] = []
    values: list[torch.Tensor] = []
    best, best_residual = z0, float("inf")
    for _ in range(max_iter):
        fz = f(z)
        residual = ((fz - z).norm() / (fz.norm() + 1e-12)).item()
        if not math.isfinite(residual):
            break
        if residual < best_residual:
            best, best_residual = fz, residual
        if residual <= tol:
            break
        points, values = (points + [z])[-memory:], (values + [fz])[-memory:]
        # Mix the last iterates with weights summing to 1 that minimise the combined residual (in float64).
        residuals = torch.stack([(v - p).flatten() for p, v in zip(points, values)]).double()
        gram = residuals @ residuals.T
        gram = gram + 1e-12 * gram.diagonal().max() * torch.eye(len(points), dtype=gram.dtype, device=gram.device)
        weights = torch.linalg.solve(gram, torch.ones(len(points), dtype=gram.dtype, device=gram.device))
        weights = (weights / weights.sum()).to(z.dtype)
        z = sum(w * v for w, v in zip(weights, values))
    return best, best_residual


class Ista(nn.Module):
    """`ista` unrolled into `depth` layers; every grad F is a learnable block.

    Args:
        width: features of the (batch, width) input.
        depth: number of layers (iterations of the algorithm), at least 1.
        h: a number (a buffer).
        block_factory: optional callable (function_name, layer) -> nn.Module that builds every block instead of
            MLPBlock; it places and types its blocks itself (device and dtype do not reach it).
        tied: one block per function shared by all layers.
        solver_max_iter: iterations of each fixed-point solve, forward and backward.
        solver_tol: relative residual at which a solve stops; the module warns when a solve ends above it.
        device, dtype: where and in which dtype params, buffers and default blocks are made, as in nn.Linear.
    """

    def __init__(
        self,
        width: int,
        depth: int,
        *,
        h: float = 1.0,
        block_factory: Callable[[str, int], nn.Module] | None = None,
        tied: bool = False,
        solver_max_iter: int = 50,
        solver_tol: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        factory_kwargs = {"device": device, "dtype": dtype}
        self.width = width
        self.depth = depth
        self.tied = tied
        self.solver_max_iter = solver_max_iter
        self.solver_tol = solver_tol
        self.register_buffer("h", torch.tensor(float(h), **factory_kwargs))

        if block_factory is None:

            def block_factory(name: str, layer: int) -> nn.Module:
                return MLPBlock(width, hidden=width, **factory_kwargs)

        layers = 1 if tied else depth
        self.blocks = nn.ModuleDict(
            {
                "g": nn.ModuleList(block_factory("g", layer) for layer in range(layers)),
                "f": nn.ModuleList(block_factory("f", layer) for layer in range(layers)),
            }
        )

    def _block(self, name: str, k: int) -> nn.Module:
        """The block of function `name` at layer k (the shared one when tied)."""
        return self.blocks[name][0 if self.tied else k]

    def _equilibrium(self, f: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, where: str) -> torch.Tensor:
        """The fixed point z = f(z), solved from z0 outside autograd.

        Its gradient comes from implicit differentiation: the backward pass solves the adjoint fixed point
        y = grad + J^T y at the solution (J the Jacobian of f), so memory does not grow with the iterations. Both
        solves run outside autocast, in float32 at least: a float16 or bfloat16 residual cannot reach solver_tol.
        """
        device, dtype = z0.device.type, torch.promote_types(z0.dtype, torch.float32)
        with torch.no_grad(), torch.autocast(device, enabled=False):
            z, residual = anderson(f, z0.to(dtype), self.solver_max_iter, self.solver_tol)
        self._check_converged(residual, where)
        if not torch.is_grad_enabled():
            return z
        fz = f(z.detach().requires_grad_())
        if fz.requires_grad:

            def adjoint(grad: torch.Tensor | None) -> torch.Tensor | None:
                if grad is None:  # no gradient flows into this solution
                    return None
                with torch.enable_grad(), torch.autocast(device, enabled=False):  # a graph of its own
                    point = z.detach().requires_grad_()
                    value = f(point)
                start = grad.to(value.dtype)

                def transpose_step(y: torch.Tensor) -> torch.Tensor:
                    return torch.autograd.grad(value, point, y, retain_graph=True)[0] + start

                y, residual = anderson(transpose_step, start, self.solver_max_iter, self.solver_tol)
                self._check_converged(residual, f"the backward pass of {where}")
                return y.to(grad.dtype)

            fz.register_hook(adjoint)
        return fz

    def _check_converged(self, residual: float, where: str) -> None:
        if residual > self.solver_tol:
            warnings.warn(
                f"{type(self).__name__}: {where} did not converge: relative residual {residual:.2e} > "
                f"solver_tol={self.solver_tol:.1e} within solver_max_iter={self.solver_max_iter}; it goes on from "
                "the best iterate (raise solver_max_iter, or shrink the step so that the map contracts)",
                RuntimeWarning,
                stacklevel=3,
            )

    def _prox(self, name: str, k: int, v: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """prox of t*F at v, F the function `name`: the z with z = v - t * T(z), T its block at layer k."""
        block = self._block(name, k)
        return self._equilibrium(lambda z: v - t * block(z), v, f"prox {name} at layer {k}")

    @property
    def memory(self) -> str:
        """How the backward pass gets its activations: this file was compiled with `--memory autograd`."""
        return "autograd"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in range(self.depth):
            grad_f_x = self._block("f", k)(x)
            x = self._prox("g", k, x - self.h * grad_f_x, self.h)
        return x
