"""Memory and time of forward + backward for `--memory autograd|checkpoint|reversible` (memory.md).

    python benchmarks/memory.py                       # depths 10 and 100 on the CPU (about two minutes on 2 cores)
    python benchmarks/memory.py --depths 10 100 1000  # the issue's full table
    python benchmarks/memory.py --device cuda

Width 256, batch 256, MLP blocks, heavy ball and Momentum ResNet. Each configuration runs in a process of its own.
Columns: `activations`, the bytes autograd holds after the forward pass (saved tensors, counted through
torch.autograd.graph.saved_tensors_hooks on the CPU, torch.cuda.memory_allocated above the weights on cuda);
`peak`, the whole run's peak (the process's peak RSS on the CPU, torch.cuda.max_memory_allocated on cuda); time of
one forward + backward after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _memory import forward_backward

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("heavy_ball", "momentum_resnet")
MODES = ("autograd", "checkpoint", "reversible")


def measure(stem: str, mode: str, depth: int, width: int, batch: int, device: str) -> dict:
    """One configuration, in this process."""
    import torch

    sys.path.insert(0, str(ROOT))
    import alg2net

    net = alg2net.load(ROOT / "examples" / f"{stem}.alg", memory=mode)(width, depth, device=device)
    x = torch.randn(batch, width, device=device, requires_grad=True)
    net(x).sum().backward()  # warm-up
    x.grad = None
    net.zero_grad(set_to_none=True)
    return forward_backward(net, x, device)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--one", nargs=3, metavar=("EXAMPLE", "MODE", "DEPTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        stem, mode, depth = args.one
        print(json.dumps(measure(stem, mode, int(depth), args.width, args.batch, args.device)))
        return 0
    peak_name = "peak RSS" if args.device == "cpu" else "peak alloc"
    print(f"{'example':16} {'mode':11} {'depth':>5} {'activations':>12} {peak_name:>11} {'time':>8}")
    for stem in EXAMPLES:
        for depth in args.depths:
            for mode in MODES:
                command = [sys.executable, __file__, "--one", stem, mode, str(depth)]
                command += ["--width", str(args.width), "--batch", str(args.batch), "--device", args.device]
                result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
                print(
                    f"{stem:16} {mode:11} {depth:>5} {result['activations'] / 2**20:>9.1f} MB "
                    f"{result['peak'] / 2**20:>8.1f} MB {result['seconds']:>7.3f}s",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
