"""The compile options and their allowed values, apart from code generation so that the command line can list them
without loading black and jinja2."""

from __future__ import annotations

from dataclasses import dataclass

BLOCKS = {"mlp": "MLPBlock", "conv": "ConvBlock", "attention": "AttentionBlock"}
ACTIVATIONS = {"relu": "nn.ReLU()", "gelu": "nn.GELU()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()"}


@dataclass(frozen=True, slots=True)
class Options:
    """Compile options (module.md): the block kind, its activation and hidden size, and weight tying."""

    block: str = "mlp"
    activation: str = "relu"
    hidden: int | None = None
    tied: bool = False
