"""The networks under study, compiled from examples/*.alg by the real compiler at run time.

Each network is written to `<cache>/<example>_<block>_h<hidden>[_<norm>][_constrained].py` by
`alg2net.compile_source`, byte for byte what `alg2net compile examples/<example>.alg --block <block> --hidden <hidden>
[--norm <norm>] [--constrain]` writes, and imported from that file;
nothing here defines a network by hand. Every network gets the same width, depth and hidden size, so every one
has the same blocks and the same parameter count up to its learnable scalars (momentum, LM coefficients).
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from pathlib import Path

from torch import nn

import alg2net

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CACHE = Path(__file__).resolve().parent / ".cache"  # generated files; ignored by git (experiments/.gitignore)

BASELINE = "gradient_descent"

# One example per line: adding a network to every study is adding its line. Every one has one function f, so one
# block per layer; Heun and Adams-Bashforth 2 call it twice per layer (twice the FLOPs, the same parameters).
NETWORKS = (
    "gradient_descent",  # ResNet, x - T(x): the baseline
    "heavy_ball",  # ACML 2018, learnable momentum beta
    "nesterov",  # ACML 2018, constant learnable momentum mu
    "momentum_resnet",  # Sander et al. 2021
    "lm_resnet",  # Lu et al. 2018, a learnable coefficient per layer
    "heun",  # explicit trapezoidal Runge-Kutta
    "adams_bashforth2",  # explicit two-step method
    "proximal_point",  # implicit: x[k+1] = x[k] - T(x[k+1]), a fixed-point solve per layer
)


@functools.cache
def compile_network(
    example: str, block: str, hidden: int, cache: Path = CACHE, norm: str | None = None, constrain: bool = False
) -> type[nn.Module]:
    """The network class of `examples/<example>.alg`, compiled into `cache` and imported from there; with
    `constrain`, as `alg2net compile --constrain` writes it (`<name>_constrained` files).

    The file is (re)written only when the compiler's output differs from it, so processes that start after the one
    that wrote it (see `train.main_process_first`) only read it.

    Raises:
        alg2net.Alg2NetError: the compiler refused the example.
    """
    alg = EXAMPLES / f"{example}.alg"
    text = alg.read_text(encoding="utf-8")
    held = {"constrain": True} if constrain else {}  # only where asked: an alg2net without --constrain still works
    source = alg2net.compile_source(text, block=block, hidden=hidden, norm=norm, filename=str(alg), **held)
    path = cache / f"{example}_{block}_h{hidden}{f'_{norm}' if norm else ''}{'_constrained' if constrain else ''}.py"
    if not path.exists() or path.read_text(encoding="utf-8") != source:
        cache.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"experiments_compiled_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, class_name(example))


def is_implicit(network: type[nn.Module]) -> bool:
    """Whether a generated network solves fixed points (module.md: its implicit steps take `solver_max_iter`)."""
    return "solver_max_iter" in inspect.signature(network).parameters


def class_name(example: str) -> str:
    """The generated class's name (module.md: CamelCase of the algorithm's name): `heavy_ball` -> `HeavyBall`."""
    return "".join(part[:1].upper() + part[1:] for part in example.split("_"))


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters (buffers such as fixed step sizes do not count)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
