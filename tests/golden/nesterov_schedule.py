"""NesterovSchedule: the network of the algorithm `nesterov_schedule`, compiled by alg2net 0.1.0.

Layer k runs one iteration of the algorithm below; every `grad F` is a learnable block.

Algorithm:

    # Nesterov's accelerated gradient with the momentum schedule mu_k = (k - 1) / (k + 2)
    # (Nesterov 1983; Su, Boyd, Candes 2016 read it as the ODE x'' + 3/t x' + grad f(x) = 0).
    #   y_k     = x_k + (k - 1) / (k + 2) * (x_k - x_{k-1})
    #   x_{k+1} = y_k - h * grad f(y_k)
    algorithm nesterov_schedule

    param h = 1
    param mu[k] = (k - 1) / (k + 2)   # one fixed value per layer

    y[k]   = x[k] + mu[k] * (x[k] - x[k-1])
    x[k+1] = y[k] - h * grad f(y[k])

Learnable form (T_F is the block of layer k, or the shared block when tied):

    y[k] = x[k] + (x[k] - x[k-1])*mu[k]
    x[k+1] = y[k] - h*T_f(y[k])

Needs only PyTorch.
"""

import numbers
from collections.abc import Callable, Sequence

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


def per_layer(name: str, value: float | Sequence[float], depth: int) -> list[float]:
    """A param's value at each of `depth` layers: one number for every layer, or a sequence of exactly `depth`."""
    if isinstance(value, numbers.Real):
        return [float(value)] * depth
    values = [float(v) for v in value]
    if len(values) != depth:
        raise ValueError(f"{name} needs a number or {depth} values, one per layer; got {len(values)} values")
    return values


class NesterovSchedule(nn.Module):
    """`nesterov_schedule` unrolled into `depth` layers; every grad F is a learnable block.

    Args:
        width: features of the (batch, width) input.
        depth: number of layers (iterations of the algorithm), at least 1.
        h: a number (a buffer).
        mu: a number for every layer or a sequence of depth numbers (a buffer); None for the file's (k - 1)/(k + 2) at
            layer k.
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
        mu: float | Sequence[float] | None = None,
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
        if mu is None:
            mu = [(k - 1) / (k + 2) for k in range(depth)]
        mu = per_layer("mu", mu, depth)
        self.register_buffer("mu", torch.tensor(mu, **factory_kwargs))

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
            y = x + self.mu[k] * (x - x_prev)
            grad_f_y = self._block("f", k)(y)
            x_prev, x = x, y - self.h * grad_f_y
        return x
