"""Nesterov: the network of the algorithm `nesterov`, compiled by alg2net 0.1.0.

Layer k runs one iteration of the algorithm below; every `grad F` is a learnable block.

Algorithm:

    # Nesterov's accelerated gradient with a constant, learnable momentum (Nesterov 1983; ACML 2018).
    #   y_k     = x_k + mu * (x_k - x_{k-1})
    #   x_{k+1} = y_k - h * grad f(y_k)
    algorithm nesterov

    param h = 1                  # step size (fixed)
    param mu = 0.9 learnable     # momentum, learned, starts at 0.9

    y[k]   = x[k] + mu * (x[k] - x[k-1])
    x[k+1] = y[k] - h * grad f(y[k])

Learnable form (T_F is the block of layer k, or the shared block when tied):

    y[k] = x[k] + mu*(x[k] - x[k-1])
    x[k+1] = y[k] - h*T_f(y[k])

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


class Nesterov(nn.Module):
    """`nesterov` unrolled into `depth` layers; every grad F is a learnable block.

    Args:
        width: features of the (batch, width) input.
        depth: number of layers (iterations of the algorithm), at least 1.
        h: a number (a buffer).
        mu: a number, learnable (an nn.Parameter).
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
        mu: float = 0.9,
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
        self.mu = nn.Parameter(torch.tensor(float(mu), **factory_kwargs))

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
        x_prev = x
        for k in range(self.depth):
            y = x + self.mu * (x - x_prev)
            grad_f_y = self._block("f", k)(y)
            x_prev, x = x, y - self.h * grad_f_y
        return x
