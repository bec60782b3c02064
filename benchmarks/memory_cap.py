"""The deepest network that trains within a fixed memory cap: `--memory autograd` against `--memory reversible`.

    python benchmarks/memory_cap.py                    # Momentum ResNet, tied blocks, cap 256 MiB, CPU
    python benchmarks/memory_cap.py --cap-mib 512 --example heavy_ball

Tied blocks (`tied=True`, one block shared by every layer) keep the parameters and their gradients the same at every
depth, so only activations grow with depth. Each configuration runs in a process of its own: it builds the network
(width 256, batch 256, float32), takes one training step on two rows to warm up, then caps its address space at what
it uses plus `--cap-mib` (RLIMIT_AS) and takes three SGD steps (learning rate 0.01/depth²) on a fixed regression target. The shared block's last
layer is scaled by 1/depth, so that the network integrates over a time of about 1 at every depth (unscaled, the
states overflow at a few hundred layers). A depth "trains" when those steps finish with a finite loss; an allocation
the cap refuses ends the run. Depths double from 25.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("autograd", "reversible")


def virtual_size() -> int:
    """This process's address space in bytes (VmSize)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def train(example: str, mode: str, depth: int, cap: int, width: int, batch: int) -> dict:
    """Three SGD steps under the cap, in this process."""
    import torch

    sys.path.insert(0, str(ROOT))
    import alg2net

    torch.manual_seed(0)
    net = alg2net.load(ROOT / "examples" / f"{example}.alg", memory=mode)(width, depth, tied=True)
    with torch.no_grad():  # the shared block's output scaled by 1/depth: the layers integrate over a time of about 1
        net.blocks["f"][0].layers[-1].weight.mul_(1 / depth)
        net.blocks["f"][0].layers[-1].bias.mul_(1 / depth)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-2 / depth**2)  # the shared block sums depth layers
    x, target = torch.randn(batch, width), torch.randn(batch, width)

    def step(rows: int = batch) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(net(x[:rows]), target[:rows])
        loss.backward()
        optimizer.step()
        return loss.item()

    # A step on two rows starts the thread pools and creates the optimizer's state, without touching the memory a
    # full batch needs (the allocator would keep it, and the cap would not see it).
    step(rows=2)
    resource.setrlimit(resource.RLIMIT_AS, (virtual_size() + cap, resource.RLIM_INFINITY))
    start = time.perf_counter()
    try:
        losses = [step() for _ in range(3)]
    except (RuntimeError, MemoryError) as error:
        return {"trains": False, "why": str(error).splitlines()[0][:80]}
    finite = all(math.isfinite(loss) for loss in losses)
    return {"trains": finite, "seconds": (time.perf_counter() - start) / 3, "loss": losses[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--example", default="momentum_resnet", choices=["momentum_resnet", "heavy_ball"])
    parser.add_argument("--cap-mib", type=int, default=256)
    parser.add_argument("--max-depth", type=int, default=1600)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--one", nargs=2, metavar=("MODE", "DEPTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    cap = args.cap_mib * 2**20
    if args.one:
        mode, depth = args.one
        print(json.dumps(train(args.example, mode, int(depth), cap, args.width, args.batch)))
        return 0
    print(
        f"{args.example}, tied blocks, width {args.width}, batch {args.batch}, cap {args.cap_mib} MiB above the warm-up"
    )
    deepest = {}
    for mode in MODES:
        depth = 25
        while depth <= args.max_depth:
            command = [sys.executable, __file__, "--one", mode, str(depth), "--example", args.example]
            command += ["--cap-mib", str(args.cap_mib), "--width", str(args.width), "--batch", str(args.batch)]
            run = subprocess.run(command, capture_output=True, text=True, check=False)
            result = json.loads(run.stdout) if run.returncode == 0 else {"trains": False, "why": "the process died"}
            shown = f"{result['seconds']:.2f} s a step" if result["trains"] else result.get("why", "non-finite loss")
            print(f"  {mode:10} depth {depth:>5}: {'trains' if result['trains'] else 'fails '}  {shown}", flush=True)
            if not result["trains"]:
                break
            deepest[mode] = depth
            depth *= 2
    print("deepest that trains: " + ", ".join(f"{m} {deepest.get(m, 'none')}" for m in MODES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
