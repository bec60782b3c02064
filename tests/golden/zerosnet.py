"""Zerosnet: the network of the algorithm `zerosnet`, compiled by alg2net 0.1.0.

Layer k runs one iteration of the algorithm below; every `grad F` is a learnable block.

Algorithm:

    # ZeroSNet, a zero-stable three-step network (Chen, Jin, Shang, "Zero stability well predicts performance of
    # convolutional neural networks", arXiv:2206.13100, 2022):
    #   x_{k+1} = (3 lam + 3)/(4 lam) x_k - 1/lam x_{k-1} + (lam + 1)/(4 lam) x_{k-2} - h (3 lam - 1)/(2 lam) grad f(x_k)
    # Consistent for every lam != 0, zero-stable exactly for lam > 1/3 or lam <= -1; the authors train lam unconstrained.
    algorithm zerosnet

    param h = 1
    param lam = 1 learnable    # the learnable coefficient, starts inside lam > 1/3

    x[k+1] = ((3*lam + 3) / (4*lam) * x[k] - x[k-1] / lam + (lam + 1) / (4*lam) * x[k-2]
              - h * (3*lam - 1) / (2*lam) * grad f(x[k]))

Learnable form (T_F is the block of layer k, or the shared block when tied):

    x[k+1] = (lam + 1)*x[k-2]/(4*lam) + (3 + 3*lam)*x[k]/(4*lam) - x[k-1]/lam - h*(3*lam - 1)*T_f(x[k])/(2*lam)

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


class Zerosnet(nn.Module):
    """`zerosnet` unrolled into `depth` layers; every grad F is a learnable block.

    Args:
        width: features of the (batch, width) input.
        depth: number of layers (iterations of the algorithm), at least 1.
        h: a number (a buffer).
        lam: a number, learnable (an nn.Parameter).
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
        lam: float = 1.0,
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
        self.lam = nn.Parameter(torch.tensor(float(lam), **factory_kwargs))

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
                (self.lam + 1) * x_prev2 / (4 * self.lam)
                + (3 + 3 * self.lam) * x / (4 * self.lam)
                - x_prev / self.lam
                - self.h * (3 * self.lam - 1) * grad_f_x / (2 * self.lam),
            )
        return x
