"""alg2net's reversible Momentum ResNet beside momentumnet's memory-free mode (issue 13's peer), on the same blocks.

    pip install --no-deps momentumnet==0.10        # the peer, when it is to be measured too
    python benchmarks/momentum_peer.py                        # depths 100 and 500, width 64 and 256, batch 256, CPU
    python benchmarks/momentum_peer.py --device cuda

Float32, gamma = 0.9, MLP blocks (Linear-ReLU-Linear, hidden = width). Every network computes the same function:
momentumnet's update v = gamma*v + (1 - gamma)*f(x) is given f = -T, alg2net's v = gamma*v - (1 - gamma)*T(x).
Columns: `activations`, the bytes saved for backward during the forward pass (saved_tensors_hooks on the CPU,
memory allocated above the weights on cuda); `time`, the fastest of `--rounds` forward + backward passes; `grad x 1st`, `grad x`
and `grad W`, the relative error (2-norm) of the input's gradient in the first pass and of the input's and the block
weights' gradients in the second, against alg2net's autograd module run in float64 with the same weights;
`anchors`, reversible's `anchor_every` after the first pass (it lowers the compiled 26 where it measures faster
growth). Memory and errors come from a process of its own per configuration; the times from one process per depth and
width that runs the networks in turn, so that they share the machine's slow and fast spells.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _memory import fastest, held_memory

ROOT = Path(__file__).resolve().parent.parent
GAMMA = 0.9
NETWORKS = ("autograd", "reversible", "momentumnet")


def build(network: str, depth: int, width: int, device: str, seed: int):
    """The network `network` of the given depth in float32, its blocks drawn from `seed`."""
    import torch

    sys.path.insert(0, str(ROOT))
    import alg2net

    memory = "autograd" if network == "momentumnet" else network
    torch.manual_seed(seed)
    net = alg2net.load(ROOT / "examples" / "momentum_resnet.alg", memory=memory)(width, depth, device=device)
    if network != "momentumnet":
        return net, list(net.blocks.parameters())
    from momentumnet import MomentumNet

    class Negated(torch.nn.Module):
        def __init__(self, block: torch.nn.Module) -> None:
            super().__init__()
            self.block = block

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return -self.block(x)

    peer = MomentumNet([Negated(b) for b in net.blocks["f"]], gamma=GAMMA, use_backprop=False)
    return peer, list(net.blocks.parameters())


def gradients(net, weights, x):
    """The input's gradient and the block weights' gradients of sum(net(x))."""
    x = x.detach().clone().requires_grad_()
    for w in weights:
        w.grad = None
    net(x).sum().backward()
    return x.grad, [w.grad.clone() for w in weights]


def relative(value, reference) -> float:
    import torch

    if isinstance(value, list):
        value, reference = torch.cat([v.flatten() for v in value]), torch.cat([r.flatten() for r in reference])
    return float((value.double() - reference).norm() / reference.norm())


def measure(network: str, depth: int, width: int, batch: int, device: str) -> dict:
    """One configuration, in this process."""
    import torch

    net, weights = build(network, depth, width, device, seed=0)
    reference, reference_weights = build("autograd", depth, width, device, seed=0)
    reference.double()
    x = torch.randn(batch, width, device=device)
    first_x, _ = gradients(net, weights, x)  # also the warm-up; reversible may lower its anchor spacing here
    grad_x, grad_w = gradients(net, weights, x)
    ref_x, ref_w = gradients(reference, reference_weights, x.double())
    return {
        "activations": held_memory(net, x.clone().requires_grad_(), device)["activations"],
        "first_x": relative(first_x, ref_x),
        "grad_x": relative(grad_x, ref_x),
        "grad_w": relative(grad_w, ref_w),
        "anchor_every": getattr(net, "anchor_every", None),
    }


def times(networks: list[str], depth: int, width: int, batch: int, device: str, rounds: int) -> dict[str, float]:
    """The networks' fastest forward + backward, run in turn in this process."""
    import torch

    nets = {network: build(network, depth, width, device, seed=0)[0] for network in networks}
    return fastest(nets, torch.randn(batch, width, device=device), device, rounds)


def run(*arguments: str) -> dict:
    command = [sys.executable, __file__, *arguments]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--one", nargs=3, metavar=("NETWORK", "DEPTH", "WIDTH"), help=argparse.SUPPRESS)
    parser.add_argument("--times", nargs="+", metavar="DEPTH WIDTH NETWORK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        network, depth, width = args.one
        print(json.dumps(measure(network, int(depth), int(width), args.batch, args.device)))
        return 0
    if args.times:
        depth, width, *networks = args.times
        print(json.dumps(times(networks, int(depth), int(width), args.batch, args.device, args.rounds)))
        return 0
    try:
        import momentumnet  # noqa: F401
    except ImportError:
        print("momentumnet is not installed (pip install --no-deps momentumnet==0.10): alg2net only", file=sys.stderr)
        networks = NETWORKS[:2]
    else:
        networks = NETWORKS
    print(
        f"{'network':12} {'depth':>5} {'width':>5} {'activations':>12} {'time':>8} {'grad x 1st':>10} {'grad x':>9}"
        f" {'grad W':>9} {'anchors':>7}"
    )
    shared = ["--batch", str(args.batch), "--device", args.device]
    for depth in args.depths:
        for width in args.widths:
            seconds = run("--times", str(depth), str(width), *networks, "--rounds", str(args.rounds), *shared)
            for network in networks:
                result = run("--one", network, str(depth), str(width), *shared)
                print(
                    f"{network:12} {depth:>5} {width:>5} {result['activations'] / 2**20:>9.2f} MiB "
                    f"{seconds[network]:>7.3f}s {result['first_x']:>10.1e} {result['grad_x']:>9.1e}"
                    f" {result['grad_w']:>9.1e} {result['anchor_every'] or '':>7}",
                    flush=True,
                )
            ratios = ", ".join(f"{n} {seconds[n] / seconds['autograd']:.2f}x" for n in networks[1:])
            print(f"  time against autograd: {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
