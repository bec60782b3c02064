"""Every example, with every block kind, trains for a few Adam steps on the given device; prints the losses.

    python benchmarks/train_smoke.py --device cuda [--steps 20] [--examples heavy_ball,heun]

This is how the GPU claims in the README were checked (CI has no GPU). Exit status 1 if any loss fails to fall
(the last step's loss is not below the first's, hence at least 2 steps) or any output leaves the device, dtype or
shape of its input.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

import alg2net

ROOT = Path(__file__).resolve().parent.parent
SHAPES = {"mlp": (64, 32), "conv": (16, 16, 8, 8), "attention": (16, 10, 32)}


def smoke_train(
    net: type, block: str, device: torch.device, dtype: torch.dtype, steps: int
) -> tuple[float, float, float]:
    """Train `net(width, 4, device=device, dtype=dtype)` to fit random targets for `steps` Adam steps: first loss, last loss, seconds per step.

    Raises:
        AssertionError: an output's shape, device or dtype differs from its input's.
    """
    torch.manual_seed(0)
    shape = SHAPES[block]
    width = shape[1] if block != "attention" else shape[2]
    model = net(width, 4, device=device, dtype=dtype)
    x = torch.randn(shape, device=device, dtype=dtype)
    target = torch.randn(shape, device=device, dtype=dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        output = model(x)
        if output.shape != x.shape or output.device != x.device or output.dtype != x.dtype:
            raise AssertionError(f"output {output.shape} {output.device} {output.dtype} for input {x.shape}")
        loss = nn.functional.mse_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[0], losses[-1], (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> int:
    """Train every example (or those of --examples) with every block kind and dtype; exit status 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--steps", type=int, default=20, help="Adam steps per network, at least 2 (default: 20)")
    parser.add_argument("--examples", help="comma-separated example names (default: every examples/*.alg)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    if args.steps < 2:
        parser.error(f"--steps must be at least 2 (the last loss is compared with the first), got {args.steps}")
    paths = sorted((ROOT / "examples").glob("*.alg"))
    if args.examples:
        names = args.examples.split(",")
        unknown = sorted(set(names) - {path.stem for path in paths})
        if unknown:
            parser.error(f"--examples: no examples/{unknown[0]}.alg")
        paths = [path for path in paths if path.stem in names]
    device = torch.device(args.device)
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    failures = 0
    print(f"{'example':<18} {'block':<10} {'dtype':<8} {'first loss':>10} {'last loss':>10} {'ms/step':>8}")
    for path in paths:
        for block in SHAPES:
            net = alg2net.load(path, block=block)
            for dtype in (torch.float32, torch.float64):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", RuntimeWarning)
                    first, last, seconds = smoke_train(net, block, device, dtype, args.steps)
                ok = last < first and all(not isinstance(w.message, RuntimeWarning) for w in caught)
                failures += not ok
                flag = "" if ok else "  <- FAILED" + (f" ({caught[0].message})" if caught else "")
                print(
                    f"{path.stem:<18} {block:<10} {str(dtype)[6:]:<8} {first:>10.4f} {last:>10.4f} "
                    f"{1e3 * seconds:>8.1f}{flag}"
                )
    print(f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
