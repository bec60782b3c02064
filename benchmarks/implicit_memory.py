"""Memory and time of forward+backward through an implicit module, against backprop through the unrolled solver.

    python benchmarks/implicit_memory.py [--example proximal_point] [--device cpu|cuda]

The generated module solves each implicit step with Anderson acceleration outside autograd and differentiates the
fixed point implicitly. The comparison runs the same solver, the same number of iterations, under autograd, so the
backward pass goes through every iteration. Every solve is made to run exactly `iterations` steps (solver_tol = 0).

Memory is the size of the tensors autograd saves for backward (exact, any device) and, on CUDA, the peak allocated
memory of forward+backward.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

import alg2net

ROOT = Path(__file__).resolve().parent.parent


def unrolled(net: type) -> type:
    """`net` with its fixed-point solves differentiated by backprop through every solver iteration."""
    anderson = sys.modules[net.__module__].anderson

    class Unrolled(net):
        def _equilibrium(self, f, z0, where):
            z, _ = anderson(f, z0, self.solver_max_iter, self.solver_tol)
            return z

    return Unrolled


def saved_bytes(model: torch.nn.Module, x: torch.Tensor) -> tuple[int, torch.Tensor]:
    """The bytes of the tensors autograd keeps for backward during `model(x)` (counted once per storage)."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = model(x)
    return sum(storages.values()), output


def measure(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> dict[str, float]:
    """Forward+backward of `model(x)`: MiB saved for backward, peak MiB (CUDA only, else NaN), median milliseconds."""
    device = x.device
    saved, output = saved_bytes(model, x)
    output.square().mean().backward()
    times = []
    peak = float("nan")
    for _ in range(repeats):
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        start = time.perf_counter()
        model(x).square().mean().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
            peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        times.append(time.perf_counter() - start)
    return {"saved": saved / 2**20, "peak": peak, "ms": 1e3 * statistics.median(times)}


def main(argv: list[str] | None = None) -> int:
    """Print the table for 5, 20 and 80 solver iterations; returns the exit status 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", default="proximal_point", help="an implicit example in examples/")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")

    torch.manual_seed(0)
    torch.set_flush_denormal(True)  # solves run past convergence (tol 0): keep tiny residuals off the slow path
    device = torch.device(args.device)
    net = alg2net.load(ROOT / "examples" / f"{args.example}.alg")
    x = torch.randn(args.batch, args.width, device=device)
    print(f"{args.example}: width {args.width}, depth {args.depth}, batch {args.batch}, float32, {device}")
    print(
        f"{'iterations':>10} | {'implicit saved MiB':>18} {'peak MiB':>9} {'ms':>8} | "
        f"{'unrolled saved MiB':>18} {'peak MiB':>9} {'ms':>8}"
    )
    for iterations in (5, 20, 80):
        row = []
        for kind in (net, unrolled(net)):
            torch.manual_seed(0)
            model = kind(args.width, args.depth, solver_tol=0.0, solver_max_iter=iterations).to(device)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # tol 0 never "converges", by design
                row.append(measure(model, x, args.repeats))
        implicit, backprop = row
        print(
            f"{iterations:>10} | {implicit['saved']:>18.1f} {implicit['peak']:>9.1f} {implicit['ms']:>8.1f} | "
            f"{backprop['saved']:>18.1f} {backprop['peak']:>9.1f} {backprop['ms']:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
