"""One forward + backward measured as memory.md asks: the bytes autograd holds after the forward pass, the peak, the
time. Shared by memory.py and momentum_peer.py (each imports it as `_memory`: a script's own folder is on sys.path).
"""

from __future__ import annotations

import resource
import time


def forward_backward(net, x, device: str, repeat: int = 3) -> dict:
    """Forward and backward of sum(net(x)) for an `x` that requires grad: `activations`, the bytes saved for
    backward during the forward pass (saved_tensors_hooks on the CPU, memory allocated above what was held before on
    cuda); `peak`, the process's peak RSS on the CPU, the peak allocated above that on cuda; `seconds`, the fastest
    of `repeat` more passes, timed without the hooks."""
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
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        net(x).sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return {"activations": saved, "peak": peak, "seconds": min(seconds)}
