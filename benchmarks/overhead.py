"""What the compiler costs: generated modules against hand-written ones, and the time to compile every example.

1. Forward + backward of the generated heavy ball and Nesterov networks (examples/*.alg through `alg2net.load`)
   against the same networks written by hand below, with identical MLP blocks and weights. Runs alternate
   generated / hand-written, round after round, and the table reports medians and their ratio (target: <= 1.05).
2. `alg2net compile` on every example: as a user runs it (a subprocess, Python start-up included) and in process
   (`alg2net.compile_source`, caches warm). Target: under 1 s each.

Usage: python benchmarks/overhead.py [--device cpu|cuda] [--width 64] [--depth 20] [--batch 256] [--rounds 21]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
from _timing import ROOT, time_cli
from torch import nn

import alg2net

RATIO_TARGET = 1.05
COMPILE_TARGET_S = 1.0


# Hand-written networks: what a person would write for the same algorithms -------------------------------------------


def _mlp(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))


class HandHeavyBall(nn.Module):
    """x_{k+1} = x_k - h T_k(x_k) + beta (x_k - x_{k-1})."""

    def __init__(self, width: int, depth: int, h: float = 1.0, beta: float = 0.9):
        super().__init__()
        self.blocks = nn.ModuleList(_mlp(width) for _ in range(depth))
        self.register_buffer("h", torch.tensor(h))
        self.beta = nn.Parameter(torch.tensor(beta))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_prev = x
        for block in self.blocks:
            x_prev, x = x, x + self.beta * (x - x_prev) - self.h * block(x)
        return x


class HandNesterov(nn.Module):
    """y_k = x_k + mu (x_k - x_{k-1}); x_{k+1} = y_k - h T_k(y_k)."""

    def __init__(self, width: int, depth: int, h: float = 1.0, mu: float = 0.9):
        super().__init__()
        self.blocks = nn.ModuleList(_mlp(width) for _ in range(depth))
        self.register_buffer("h", torch.tensor(h))
        self.mu = nn.Parameter(torch.tensor(mu))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_prev = x
        for block in self.blocks:
            y = x + self.mu * (x - x_prev)
            x_prev, x = x, y - self.h * block(y)
        return x


def _pair(stem: str, hand: type, width: int, depth: int, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """The generated network of examples/STEM.alg and its hand-written twin, with the generated one's weights."""
    torch.manual_seed(0)
    generated = alg2net.load(ROOT / "examples" / f"{stem}.alg")(width, depth)
    twin = hand(width, depth)
    for k, block in enumerate(twin.blocks):
        source = generated.blocks["f"][k]
        block.load_state_dict(source.layers.state_dict() if hasattr(source, "layers") else source.state_dict())
    return generated.to(device), twin.to(device)


# Timing ---------------------------------------------------------------------------------------------------------------


def _step(model: nn.Module, x: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    model(x).square().mean().backward()


def _timed(run: Callable[[], None], iterations: int, device: torch.device) -> float:
    """Seconds per call of `run`, over `iterations` calls."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(iterations):
        run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / iterations


def compare(stem: str, hand: type, args: argparse.Namespace, device: torch.device) -> dict:
    """Median forward+backward times of the generated network of examples/STEM.alg and its hand-written twin.

    Checks first that both compute the same output (to 1e-5). Returns milliseconds, their ratio and its range.
    """
    generated, twin = _pair(stem, hand, args.width, args.depth, device)
    x = torch.randn(args.batch, args.width, device=device)
    difference = (generated(x) - twin(x)).abs().max().item()
    assert difference <= 1e-5, f"{stem}: the hand-written twin differs by {difference}"
    runs = {"generated": lambda: _step(generated, x), "hand": lambda: _step(twin, x)}
    for run in runs.values():  # warm-up: allocator, kernels, autograd graph caches
        _timed(run, args.iterations, device)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(args.rounds):  # interleaved, and the order flips every round
        for name in sorted(runs, reverse=bool(round_ % 2)):
            times[name].append(_timed(runs[name], args.iterations, device))
    generated_s, hand_s = statistics.median(times["generated"]), statistics.median(times["hand"])
    ratios = [g / h for g, h in zip(times["generated"], times["hand"], strict=True)]
    return {
        "stem": stem,
        "generated_ms": generated_s * 1e3,
        "hand_ms": hand_s * 1e3,
        "ratio": generated_s / hand_s,
        "ratio_spread": (min(ratios), max(ratios)),
        "difference": difference,
    }


def compile_times(repeat: int) -> list[dict]:
    """Median seconds of `alg2net compile` on every example: in a subprocess, and in process with warm caches."""
    rows = []
    for path in sorted((ROOT / "examples").glob("*.alg")):
        text = path.read_text(encoding="utf-8")
        subprocess_s, result = time_cli(["compile", str(path)], repeat)
        assert result.returncode == 0, result.stderr.decode()
        alg2net.compile_source(text)  # warm: the parser, templates and SymPy caches are built once per process
        in_process_s = []
        for _ in range(repeat):
            start = time.perf_counter()
            alg2net.compile_source(text)
            in_process_s.append(time.perf_counter() - start)
        rows.append(
            {
                "example": path.stem,
                "subprocess_s": statistics.median(subprocess_s),
                "in_process_s": statistics.median(in_process_s),
            }
        )
    return rows


# Report ---------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Print both tables; exit status 1 if any ratio or compile time is over its target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=21, help="interleaved rounds per network (default: 21)")
    parser.add_argument("--iterations", type=int, default=10, help="forward+backward calls per timing (default: 10)")
    parser.add_argument("--compile-repeat", type=int, default=3, help="compiles per example (median; default: 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu, torch threads: {torch.get_num_threads()}"
    )
    print(f"alg2net {alg2net.__version__}, torch {torch.__version__}, Python {sys.version.split()[0]}, {name}")
    print(
        f"forward+backward, width {args.width}, depth {args.depth}, batch {args.batch}: median of {args.rounds} "
        f"interleaved rounds of {args.iterations} calls"
    )
    print()
    print(
        f"{'network':<12} {'generated ms':>13} {'hand ms':>9} {'ratio':>7} {'ratio range':>15}  target <= {RATIO_TARGET}"
    )
    ok = True
    for stem, hand in (("heavy_ball", HandHeavyBall), ("nesterov", HandNesterov)):
        row = compare(stem, hand, args, device)
        low, high = row["ratio_spread"]
        verdict = "ok" if row["ratio"] <= RATIO_TARGET else "OVER"
        ok &= verdict == "ok"
        print(
            f"{stem:<12} {row['generated_ms']:>13.3f} {row['hand_ms']:>9.3f} {row['ratio']:>7.3f} "
            f"{f'{low:.3f}-{high:.3f}':>15}  {verdict}"
        )
    print()
    print(f"alg2net compile, median of {args.compile_repeat}")
    print(f"{'example':<20} {'subprocess s':>13} {'in-process s':>13}  target < {COMPILE_TARGET_S:g} s")
    for row in compile_times(args.compile_repeat):
        verdict = "ok" if row["subprocess_s"] < COMPILE_TARGET_S else "OVER"
        ok &= verdict == "ok"
        print(f"{row['example']:<20} {row['subprocess_s']:>13.3f} {row['in_process_s']:>13.3f}  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
