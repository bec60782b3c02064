"""LearnableLmm3: the network of the algorithm `learnable_lmm3`, compiled by alg2net 0.1.0.

Layer k runs one iteration of the algorithm below; every `grad F` is a learnable block.

Algorithm:

    # A learnable three-step family with rho(1) = 0 built in (consistent for every a, b with a + b != 1):
    #   x_{k+1} = (1 + a) x_k + (b - a) x_{k-1} - b x_{k-2} - h * grad f(x_k)
    # Its characteristic polynomial is rho(zeta) = (zeta - 1)(zeta^2 - a zeta - b): zero-stable when the roots of
    # q(zeta) = zeta^2 - a zeta - b lie in the closed unit disk, those on the circle simple; strictly inside exactly when
    # |b| < 1 and |a| < 1 - b (the Schur-Cohn conditions). The initial values put them at 0.62 and -0.32.
    algorithm learnable_lmm3

    param h = 1
    param a = 0.3 learnable
    param b = 0.2 learnable

    x[k+1] = (1 + a) * x[k] + (b - a) * x[k-1] - b * x[k-2] - h * grad f(x[k])

Learnable form (T_F is the block of layer k, or the shared block when tied):

    x[k+1] = (b - a)*x[k-1] + (a + 1)*x[k] - b*x[k-2] - h*T_f(x[k])

Needs only PyTorch.
"""

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


class LearnableLmm3(nn.Module):
    """`learnable_lmm3` unrolled into `depth` layers; every grad F is a learnable block.

    Args:
        width: features of the (batch, width) input.
        depth: number of layers (iterations of the algorithm), at least 1.
        h: a number (a buffer).
        a: a number, learnable (an nn.Parameter).
        b: a number, learnable (an nn.Parameter).
        block_factory: optional callable (function_name, layer) -> nn.Module that builds every block instead of
            MLPBlock; it places and types its blocks itself (device and dtype do not reach it).
        tied: one block per function shared by all layers.
        device, dtype: where and in which dtype params, buffers and default blocks are made, as in nn.Linear.
    """

    def __init__(
        self,
        width: int,
        depth: int,
        *,
        h: float = 1.0,
        a: float = 0.3,
        b: float = 0.2,
        block_factory: Callable[[str, int], nn.Module] | None = None,
        tied: bool = False,
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
        self.register_buffer("h", torch.tensor(float(h), **factory_kwargs))
        self.a = nn.Parameter(torch.tensor(float(a), **factory_kwargs))
        self.b = nn.Parameter(torch.tensor(float(b), **factory_kwargs))

        if block_factory is None:

            def block_factory(name: str, layer: int) -> nn.Module:
                return MLPBlock(width, hidden=width, **factory_kwargs)

        layers = 1 if tied else depth
        self.blocks = nn.ModuleDict(
            {
                "f": nn.ModuleList(block_factory("f", layer) for layer in range(layers)),
            }
        )

    def _block(self, name: str, k: int) -> nn.Module:
        """The block of function `name` at layer k (the shared one when tied)."""
        return self.blocks[name][0 if self.tied else k]

    @property
    def memory(self) -> str:
        """How the backward pass gets its activations: this file was compiled with `--memory autograd`."""
        return "autograd"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_prev2 = x_prev = x
        for k in range(self.depth):
            grad_f_x = self._block("f", k)(x)
            x_prev2, x_prev, x = (
                x_prev,
                x,
                (self.b - self.a) * x_prev + (self.a + 1) * x - self.b * x_prev2 - self.h * grad_f_x,
            )
        return x
