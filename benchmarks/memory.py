"""Memory and time of forward + backward for `--memory autograd|checkpoint|reversible` (memory.md).

    python benchmarks/memory.py                       # depths 10 and 100 on the CPU (about two minutes on 2 cores)
    python benchmarks/memory.py --depths 10 100 1000  # the issue's full table
    python benchmarks/memory.py --device cuda

Width 256, batch 256, MLP blocks, heavy ball and Momentum ResNet. Columns: `activations`, the bytes autograd holds
after the forward pass (saved tensors, counted through torch.autograd.graph.saved_tensors_hooks on the CPU,
torch.cuda.memory_allocated above the weights on cuda); `peak`, the whole run's peak (the process's peak RSS on the
CPU, torch.cuda.max_memory_allocated on cuda), both from a process of its own per configuration; `time`, the fastest
of `--rounds` forward + backward passes, from one process per example and depth that runs the three modes (with the
same weights) in turn, so that they share the machine's slow and fast spells.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _memory import fastest, held_memory

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("heavy_ball", "momentum_resnet")
MODES = ("autograd", "checkpoint", "reversible")


def build(stem: str, mode: str, depth: int, width: int, device: str):
    import torch

    sys.path.insert(0, str(ROOT))
    import alg2net

    torch.manual_seed(0)
    return alg2net.load(ROOT / "examples" / f"{stem}.alg", memory=mode)(width, depth, device=device)


def memory(stem: str, mode: str, depth: int, width: int, batch: int, device: str) -> dict:
    """One configuration's activations and peak, in this process."""
    import torch

    net = build(stem, mode, depth, width, device)
    x = torch.randn(batch, width, device=device, requires_grad=True)
    net(x).sum().backward()  # warm-up; reversible's check sets its anchor spacing here
    x.grad = None
    net.zero_grad(set_to_none=True)
    return held_memory(net, x, device)


def times(stem: str, depth: int, width: int, batch: int, device: str, rounds: int) -> dict[str, float]:
    """The three modes' fastest forward + backward, run in turn in this process."""
    import torch

    nets = {mode: build(stem, mode, depth, width, device) for mode in MODES}
    x = torch.randn(batch, width, device=device)
    return fastest(nets, x, device, rounds)


def run(*arguments: str) -> dict:
    command = [sys.executable, __file__, *arguments]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--one", nargs=3, metavar=("EXAMPLE", "MODE", "DEPTH"), help=argparse.SUPPRESS)
    parser.add_argument("--times", nargs=2, metavar=("EXAMPLE", "DEPTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        stem, mode, depth = args.one
        print(json.dumps(memory(stem, mode, int(depth), args.width, args.batch, args.device)))
        return 0
    if args.times:
        stem, depth = args.times
        print(json.dumps(times(stem, int(depth), args.width, args.batch, args.device, args.rounds)))
        return 0
    peak_name = "peak RSS" if args.device == "cpu" else "peak alloc"
    print(f"{'example':16} {'mode':11} {'depth':>5} {'activations':>12} {peak_name:>11} {'time':>8} {'ratio':>6}")
    shared = ["--width", str(args.width), "--batch", str(args.batch), "--device", args.device]
    for stem in EXAMPLES:
        for depth in args.depths:
            seconds = run("--times", stem, str(depth), "--rounds", str(args.rounds), *shared)
            for mode in MODES:
                result = run("--one", stem, mode, str(depth), *shared)
                print(
                    f"{stem:16} {mode:11} {depth:>5} {result['activations'] / 2**20:>9.1f} MB "
                    f"{result['peak'] / 2**20:>8.1f} MB {seconds[mode]:>7.3f}s {seconds[mode] / seconds['autograd']:>5.2f}x",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
