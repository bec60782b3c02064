"""Forward + backward measured as memory.md asks: the bytes autograd holds after the forward pass and the peak (one
network per process), and the time (several networks in one process, run in turn). Shared by memory.py and
momentum_peer.py (each imports it as `_memory`: a script's own folder is on sys.path).
"""

from __future__ import annotations

import math
import resource
import time


def held_memory(net, x, device: str) -> dict:
    """Forward and backward of sum(net(x)) for an `x` that requires grad: `activations`, the bytes saved for
    backward during the forward pass (saved_tensors_hooks on the CPU, memory allocated above what was held before on
    cuda); `peak`, the process's peak RSS on the CPU, the peak allocated above that on cuda."""
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    saved = 0

    def pack(tensor):
        nonlocal saved
        saved += tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = net(x)
    if device == "cuda":
        torch.cuda.synchronize()
        saved = torch.cuda.memory_allocated() - base
    out.sum().backward()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"activations": saved, "peak": peak}


def fastest(nets: dict, x, device: str, rounds: int = 5, passes: int = 3) -> dict[str, float]:
    """The fastest forward + backward of sum(net(x)) in seconds for each of `nets`, over `rounds` rounds that run
    every network `passes` times in a row, in turn: the networks share the machine's slow and fast spells, so that
    their ratios hold where runs minutes apart, on a shared machine, differ by half. In a row, because the first
    pass after another network's is slower (the allocator regrows what the other freed; 10% for autograd's pass after
    a reversible one at width 64), and a network trains in a row."""
    import torch

    best = dict.fromkeys(nets, math.inf)
    for _ in range(rounds):
        for name, net in nets.items():
            for _ in range(passes):
                inputs = x.detach().clone().requires_grad_()
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                net(inputs).sum().backward()
                if device == "cuda":
                    torch.cuda.synchronize()
                best[name] = min(best[name], time.perf_counter() - start)
    return best
