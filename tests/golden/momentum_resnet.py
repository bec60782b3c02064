"""MomentumResnet: the network of the algorithm `momentum_resnet`, compiled by alg2net 0.1.0.

Layer k runs one iteration of the algorithm below; every `grad F` is a learnable block.

Algorithm:

    # Momentum ResNet (Sander, Ablin, Blondel, Peyre, ICML 2021).
    #   v_{k+1} = gamma * v_k + (1 - gamma) * (-grad f(x_k))
    #   x_{k+1} = x_k + v_{k+1}
    algorithm momentum_resnet

    param gamma = 0.9    # momentum

    init v = 0
    output x

    v[k+1] = gamma * v[k] + (1 - gamma) * (-grad f(x[k]))
    x[k+1] = x[k] + v[k+1]

Learnable form (T_F is the block of layer k, or the shared block when tied):

    v[k+1] = gamma*v[k] - (1 - gamma)*T_f(x[k])
    x[k+1] = x[k] + v[k+1]

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


class MomentumResnet(nn.Module):
    """`momentum_resnet` unrolled into `depth` layers; every grad F is a learnable block.

    Args:
        width: features of the (batch, width) input.
        depth: number of layers (iterations of the algorithm), at least 1.
        gamma: a number (a buffer).
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
        gamma: float = 0.9,
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
        self.register_buffer("gamma", torch.tensor(float(gamma), **factory_kwargs))

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
        v = torch.zeros_like(x)
        for k in range(self.depth):
            grad_f_x = self._block("f", k)(x)
            v = self.gamma * v - (1 - self.gamma) * grad_f_x
            x = x + v
        return x
