"""The four studies: data, and the layers around a compiled network (a fixed or learned input map, a readout).

Every task's data is generated here, or is scikit-learn's bundled digits: nothing is downloaded. The data of a task
is the same for every network and seed (generated from `DATA_SEED`); seeds vary initialisation and batch order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

DATA_SEED = 0


@dataclass(frozen=True)
class Data:
    """Inputs and targets; classes as integer labels, regression targets as (n, 1) floats."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@dataclass(frozen=True)
class Task:
    """One study: its data, the compiled network's shape and block, and the training budget.

    Every network gets the same width, depth and hidden size (so the same blocks and parameters, up to its
    learnable scalars). `probe` holds inputs whose outputs are plotted (a grid), if the task has a plot.
    """

    name: str
    title: str
    data: Data
    block: str
    width: int
    depth: int
    hidden: int
    outputs: int
    steps: int
    batch_size: int
    lr: float
    regression: bool = False
    norm: str | None = None  # the conv block's normalization (`alg2net compile --norm`)
    probe: torch.Tensor | None = None
    note: str = ""  # a sentence for the report, after the setup line

    @property
    def metric(self) -> str:
        """The name of what `error` measures, as the table's column header."""
        return "test MSE" if self.regression else "test error (%)"

    def build(self, network: type[nn.Module], **options: float) -> nn.Module:
        """stem -> network(width, depth, **options) -> head, in the current default dtype, on the CPU.

        The stem and head are the same for every network: a fixed zero padding (mlp) or a 3x3 convolution (conv)
        in, a linear readout out (after BatchNorm-ReLU-pooling for conv).
        """
        if self.block == "conv":
            stem = nn.Conv2d(self.data.x_train.shape[1], self.width, kernel_size=3, padding=1)
            head = nn.Sequential(
                nn.BatchNorm2d(self.width),  # called once per forward pass, on the network's output: sound
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
                nn.Linear(self.width, self.outputs),
            )
        else:
            stem = ZeroPad(self.width)
            head = nn.Linear(self.width, self.outputs)
        return nn.Sequential(stem, network(self.width, self.depth, **options), head)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training loss: mean squared error for regression, else cross-entropy on the logits."""
        return F.mse_loss(output, target) if self.regression else F.cross_entropy(output, target)

    def error(self, output: torch.Tensor, target: torch.Tensor) -> float:
        """Mean squared error for regression, else the percentage of misclassified examples."""
        if self.regression:
            return F.mse_loss(output, target).item()
        return 100.0 * (output.argmax(dim=1) != target).float().mean().item()


class ZeroPad(nn.Module):
    """The fixed linear embedding x -> [x, 0]: the network sees the input in `width` >= its size coordinates.

    With width equal to the input size this is the identity, and the network alone must separate the data.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, self.width - x.shape[1]))


def rings(full: bool) -> Task:
    """Nested rings in the plane (TPAMI 2024; Dupont et al. 2019): a disk and two rings around it, classes 0, 1, 0.

    At width 2 a ResNet whose layers are invertible maps the plane onto itself continuously, and so can never pull
    the inner disk out of the ring around it; a two-state network (momentum) is not bound by this.
    """
    generator = torch.Generator().manual_seed(DATA_SEED)
    bands = torch.tensor([[0.0, 1.0, 0], [1.5, 2.0, 1], [2.5, 3.0, 0]])  # rows of (inner radius, outer radius, class)

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        band = torch.randint(len(bands), (n,), generator=generator)
        low, high, label = bands[band].unbind(dim=1)
        # Uniform over each band's area: the radius squared is uniform between the band's radii squared.
        radius = torch.sqrt(low**2 + (high**2 - low**2) * torch.rand(n, generator=generator))
        angle = 2 * math.pi * torch.rand(n, generator=generator)
        return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1), label.long()

    n = 4096 if full else 1024
    axis = torch.linspace(-3.3, 3.3, 120)
    grid = torch.cartesian_prod(axis, axis).flip(1)  # rows of (x, y), x varying fastest
    return Task(
        "rings",
        "Nested rings, width 2",
        Data(*sample(n), *sample(1024)),
        block="mlp",
        width=2,
        depth=16 if full else 8,
        hidden=32 if full else 16,
        outputs=2,
        steps=3000 if full else 300,
        batch_size=256,
        lr=1e-2,
        probe=grid,
    )


def parity(full: bool) -> Task:
    """The parity of n bits (TPAMI 2024), as ±1 inputs with Gaussian noise (sd 0.2); width n, so no extra room.

    Train and test strings are fresh draws with fresh noise: the test error measures how well the network
    represents parity, not whether it can guess unseen strings.
    """
    bits = 10 if full else 6
    generator = torch.Generator().manual_seed(DATA_SEED)

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        signs = torch.randint(2, (n, bits), generator=generator)
        x = (2 * signs - 1).float() + 0.2 * torch.randn(n, bits, generator=generator)
        return x, signs.sum(dim=1) % 2

    return Task(
        "parity",
        f"Parity of {bits} bits, width {bits}",
        Data(*sample(8192 if full else 2048), *sample(2048)),
        block="mlp",
        width=bits,
        depth=16 if full else 8,
        hidden=32 if full else 16,
        outputs=2,
        steps=3000 if full else 250,
        batch_size=256,
        lr=1e-2,
    )


def sawtooth(full: bool) -> Task:
    """Telgarsky's sawtooth (2016): the tent map composed m times, 2^(m-1) teeth on [0, 1]; deep and narrow.

    A ReLU network needs depth about m to fit it with few units per layer, which is what deep narrow networks are
    for. Regression; the test inputs are a uniform grid.
    """
    teeth_power = 3 if full else 2
    generator = torch.Generator().manual_seed(DATA_SEED)

    def target(x: torch.Tensor) -> torch.Tensor:
        for _ in range(teeth_power):
            x = 1 - (2 * x - 1).abs()
        return x

    x_train = torch.rand(4096 if full else 1024, 1, generator=generator)
    x_test = torch.linspace(0, 1, 1025).unsqueeze(1)
    return Task(
        "sawtooth",
        f"Telgarsky's sawtooth, {2 ** (teeth_power - 1)} teeth, width 2",
        Data(x_train, target(x_train), x_test, target(x_test)),
        block="mlp",
        width=2,
        depth=16 if full else 8,
        hidden=8,
        outputs=1,
        steps=3000 if full else 300,
        batch_size=256,
        lr=1e-2,
        regression=True,
        probe=x_test,
    )


def digits(full: bool) -> Task:
    """scikit-learn's bundled 8x8 digits (1797 images, 10 classes) with conv blocks; a fixed 25% test split.

    The blocks normalize with GroupNorm (`--norm group`), not BatchNorm: Heun and Adams-Bashforth 2 call each block
    twice per layer and an implicit layer once per solver iteration, so BatchNorm's running statistics would average
    several inputs and eval mode would apply that average to each (quick mode, BatchNorm: Heun 84% test error, 3.5%
    with test-batch statistics). GroupNorm normalizes each example by its own statistics.
    """
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    x = torch.tensor(images, dtype=torch.get_default_dtype()).reshape(-1, 1, 8, 8) / 16
    y = torch.tensor(labels)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(DATA_SEED))
    test, train = order[: len(x) // 4], order[len(x) // 4 :]
    return Task(
        "digits",
        "Digits (8x8), GroupNorm conv blocks",
        Data(x[train], y[train], x[test], y[test]),
        block="conv",
        width=16 if full else 8,
        depth=6 if full else 3,
        hidden=16 if full else 8,
        outputs=10,
        steps=2000 if full else 200,
        batch_size=64,
        lr=1e-2,
        norm="group",
        note=(
            "Every network's block is GroupNorm-ReLU-Conv3x3-GroupNorm-ReLU-Conv3x3 (`alg2net compile --block conv "
            "--norm group`) instead of the default BatchNorm, because Heun and Adams-Bashforth 2 call each block twice "
            "per layer and proximal_point once per solver iteration, so BatchNorm's running statistics would mix "
            "several inputs' statistics and eval mode would misnormalise each of them (the head's one BatchNorm, "
            "applied once per forward pass, is unaffected)."
        ),
    )


TASKS: dict[str, Callable[[bool], Task]] = {"rings": rings, "parity": parity, "sawtooth": sawtooth, "digits": digits}
