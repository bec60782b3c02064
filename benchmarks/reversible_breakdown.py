"""Where the time of a reversible forward + backward goes, beside autograd's (issue 13's 1.6x target).

    python benchmarks/reversible_breakdown.py                      # Momentum ResNet, depth 100, widths 64 and 256
    python benchmarks/reversible_breakdown.py --widths 64 --threads 1

Float32, batch 256, MLP blocks. For each width: autograd's forward + backward, and reversible's split into its
forward pass (the layers run without grad, anchors kept), the inverse (`layer_inverse`: each layer's input rebuilt,
its blocks run under grad) and the backward (`layer_backward`: `_step_backward`, the layer's arithmetic backwards, then
`torch.autograd.grad` through the recorded block outputs); `other` is the rest (the loss, the anchor checks, Python
around them). Per layer in microseconds, and as a fraction of autograd's whole pass; the fastest pass of `--rounds`
rounds that each run autograd's and then reversible's three times in a row.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import alg2net  # after the path: the checkout, not an installed copy


def timed(counter: Counter, name: str, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            counter[name] += time.perf_counter() - start

    return wrapper


def once(net, x: torch.Tensor) -> float:
    inputs = x.clone().requires_grad_()
    start = time.perf_counter()
    net(inputs).sum().backward()
    return time.perf_counter() - start


def measure(width: int, depth: int, batch: int, rounds: int) -> dict[str, float]:
    path = ROOT / "examples" / "momentum_resnet.alg"
    torch.manual_seed(0)
    autograd = alg2net.load(path)(width, depth)
    reversible = alg2net.load(path, memory="reversible")(width, depth)
    reversible.load_state_dict(autograd.state_dict())
    names = type(reversible).forward.__globals__  # the generated module's functions, wrapped in place
    counter: Counter = Counter()
    names["layer_inverse"] = timed(counter, "inverse", names["layer_inverse"])
    names["layer_backward"] = timed(counter, "backward", names["layer_backward"])
    function = names["Reversible"]
    function.forward = staticmethod(timed(counter, "forward pass", function.forward))
    x = torch.randn(batch, width)
    whole, total, parts = math.inf, math.inf, Counter()
    for _ in range(rounds):  # the two in turn, through the machine's same spells; each 3 passes in a row (see _memory)
        for _ in range(3):
            whole = min(whole, once(autograd, x))
        for _ in range(3):
            counter.clear()
            elapsed = once(reversible, x)
            if elapsed < total:
                total, parts = elapsed, Counter(counter)
    parts["other"] = total - sum(parts.values())
    return {"autograd": whole, **parts, "reversible": total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"Momentum ResNet, depth {args.depth}, batch {args.batch}, float32, {torch.get_num_threads()} threads")
    for width in args.widths:
        figures = measure(width, args.depth, args.batch, args.rounds)
        print(f"\nwidth {width}: per layer, and as a fraction of autograd's forward + backward")
        for name, seconds in figures.items():
            print(f"  {name:<18} {seconds / args.depth * 1e6:8.1f} us  {seconds / figures['autograd']:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
