"""The compile options and their allowed values, apart from code generation so that the command line and the
pipeline can list and check them without loading black and jinja2."""

from __future__ import annotations

from dataclasses import dataclass

from alg2net.errors import fail


@dataclass(frozen=True, slots=True)
class BlockKind:
    """A compiled-in block: its class in the generated file, the template that defines it, what `width` counts in
    its input, and its hidden size when `--hidden` is not given (a Python expression in `width`)."""

    class_name: str
    template: str
    width: str
    hidden: str


BLOCKS = {
    "mlp": BlockKind("MLPBlock", "blocks/mlp.py.jinja", "features of the (batch, width) input", "width"),
    "conv": BlockKind("ConvBlock", "blocks/conv.py.jinja", "channels of the (batch, width, H, W) input", "width"),
    "attention": BlockKind(
        "AttentionBlock", "blocks/attention.py.jinja", "embedding size of the (batch, tokens, width) input", "4 * width"
    ),
}
ACTIVATIONS = {"relu": "nn.ReLU()", "gelu": "nn.GELU()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()"}
NORMS = ("batch", "group", "none")
MEMORY_MODES = ("autograd", "checkpoint", "reversible")  # how the backward pass gets its activations (memory.md)


@dataclass(frozen=True, slots=True)
class Options:
    """Compile options (module.md): the block kind, its activation, hidden size and normalization, weight tying, and
    the memory mode of the backward pass (memory.md), whether learnable params are held in their regions
    (guarantee.md)."""

    block: str = "mlp"
    activation: str = "relu"
    hidden: int | None = None
    tied: bool = False
    norm: str | None = None  # the conv block's normalization; None for the other blocks
    memory: str = "autograd"
    constrain: bool = False


def make_options(
    block: str = "mlp",
    activation: str = "relu",
    hidden: int | None = None,
    tied: bool = False,
    norm: str | None = None,
    memory: str = "autograd",
    constrain: bool = False,
) -> Options:
    """Checked `Options`; `norm` defaults to `batch` for the conv block and is refused for the others."""
    if block not in BLOCKS:
        raise fail("bad-option", f"unknown block '{block}'", hint=f"choose one of {', '.join(BLOCKS)}")
    if activation not in ACTIVATIONS:
        raise fail("bad-option", f"unknown activation '{activation}'", hint=f"choose one of {', '.join(ACTIVATIONS)}")
    if hidden is not None and hidden < 1:
        raise fail(
            "bad-option", f"--hidden must be a positive whole number, got {hidden}", hint="for example --hidden 64"
        )
    if norm is not None and norm not in NORMS:
        raise fail("bad-option", f"unknown norm '{norm}'", hint=f"choose one of {', '.join(NORMS)}")
    if norm is not None and block != "conv":
        raise fail(
            "bad-option",
            f"--norm sets the normalization of the conv block; the {block} block has no choice of it",
            hint="drop --norm, or use --block conv",
        )
    if memory not in MEMORY_MODES:
        raise fail("bad-option", f"unknown memory mode '{memory}'", hint=f"choose one of {', '.join(MEMORY_MODES)}")
    return Options(block, activation, hidden, tied, norm or ("batch" if block == "conv" else None), memory, constrain)
