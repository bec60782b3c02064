"""Training: one network on one task with one seed, in one process or in several under torchrun.

Launched by `torchrun`, every process joins the process group (gloo on CPU, nccl on GPU), wraps the model in
DistributedDataParallel and trains on its DistributedSampler share of every batch; gradients are averaged, so the
processes hold the same model throughout. Every process evaluates; only rank 0 keeps results and writes files.
"""

from __future__ import annotations

import itertools
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DistributedSampler, TensorDataset
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

from experiments.networks import parameter_count
from experiments.tasks import Task

NOT_CONVERGED = "did not converge"  # the warning of an implicit layer whose fixed-point solve stopped short


@dataclass(frozen=True)
class Processes:
    """This process's place among those training together: a single process has rank 0 of 1."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def start(device: str) -> Processes:
    """Join the process group when torchrun started several processes (WORLD_SIZE > 1); pick this process's device.

    Args:
        device: "cpu", or "cuda" for the GPU of this process's LOCAL_RANK.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch sees no CUDA device")
        where = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(where)
    else:
        where = torch.device("cpu")
    if world_size == 1:
        return Processes(0, 1, where)
    dist.init_process_group("nccl" if where.type == "cuda" else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), where)


def stop(processes: Processes, *, together: bool = True) -> None:
    """Leave the process group; `together` waits for every rank first (a rank that tore gloo down while rank 0
    still wrote its files could abort). Pass together=False on an error, when the other ranks may never arrive.
    """
    if processes.distributed:
        if together:
            dist.barrier()
        dist.destroy_process_group()


@contextmanager
def main_process_first(processes: Processes) -> Iterator[None]:
    """Rank 0 runs the body first (writing what it writes), the other processes after it (finding it written)."""
    if processes.distributed and not processes.is_main:
        dist.barrier()
    yield
    if processes.distributed and processes.is_main:
        dist.barrier()


@dataclass(frozen=True)
class Run:
    """What one training run measured. `flops` counts one forward pass per example (matmuls and convolutions)."""

    task: str
    network: str
    seed: int
    params: int
    flops: float
    seconds: float
    error: float
    losses: list[float] = field(repr=False)
    not_converged: int = 0  # fixed-point solves that stopped short of their tolerance (implicit networks)
    probe: torch.Tensor | None = field(default=None, repr=False)  # the model's outputs on task.probe


def train(
    task: Task,
    network: type[nn.Module],
    name: str,
    seed: int,
    processes: Processes,
    *,
    progress: bool = False,
    options: dict[str, float] | None = None,
    param_lr: float | None = None,
    observe: Callable[[nn.Module], None] | None = None,
) -> Run:
    """Train `task.build(network, **options)` from seed `seed` for `task.steps` steps of Adam, cosine schedule.

    The seed fixes the initialisation and the batch order; the data are the task's. Warnings that an implicit
    layer's solve stopped short are counted (`Run.not_converged`) rather than shown; any other warning is re-raised.
    `param_lr`: the algorithm's learnable params' learning rate (default the task's); `observe(model)` runs before
    the first step and after every step."""
    torch.manual_seed(seed)
    model = task.build(network, **(options or {})).to(processes.device)
    trainee = wrap(model, processes)
    optimizer = torch.optim.Adam(parameter_groups(model, task.lr, param_lr))
    observe = observe or (lambda model: None)
    observe(model)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=task.steps)
    data = TensorDataset(task.data.x_train.to(processes.device), task.data.y_train.to(processes.device))

    losses = []
    bar = tqdm(total=task.steps, desc=f"{task.name} {name} seed {seed}", disable=not progress, leave=False)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.train()
        for _, (x, y) in zip(range(task.steps), batches(data, task.batch_size, seed, processes)):
            loss = task.loss(trainee(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            observe(model)
            losses.append(loss.detach())
            bar.update()
        if processes.device.type == "cuda":
            torch.cuda.synchronize(processes.device)
        seconds = time.perf_counter() - started
        bar.close()
        error, flops, probe = evaluate(task, model, processes.device)
    not_converged = count_unconverged(caught)
    curve = mean_curve(losses, processes)
    return Run(task.name, name, seed, parameter_count(model), flops, seconds, error, curve, not_converged, probe)


def wrap(model: nn.Module, processes: Processes) -> nn.Module:
    """The module to train: `model` itself, or under torchrun `model` in DistributedDataParallel."""
    if not processes.distributed:
        return model
    device_ids = [processes.device] if processes.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def count_unconverged(caught: list[warnings.WarningMessage]) -> int:
    """How many caught warnings say an implicit layer's solve stopped short; every other one is issued again."""
    for w in caught:
        if NOT_CONVERGED not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return sum(NOT_CONVERGED in str(w.message) for w in caught)


def mean_curve(losses: list[torch.Tensor], processes: Processes) -> list[float]:
    """The loss at every step, averaged over the processes training together."""
    curve = torch.stack(losses)
    if processes.distributed:
        dist.all_reduce(curve)
        curve /= processes.world_size
    return curve.tolist()


def parameter_groups(model: nn.Module, lr: float, param_lr: float | None) -> list[dict]:
    """Adam's parameter groups: everything at `lr`, or, given `param_lr`, the algorithm's learnable params (those
    of the compiled network `model[1]` outside its blocks: `beta`, `kn`, or a constrained module's `beta_raw`) at
    `param_lr` and the rest at `lr`."""
    if param_lr is None:
        return [{"params": list(model.parameters()), "lr": lr}]
    network = model[1]
    own = [p for name, p in network.named_parameters() if not name.startswith("blocks.")]
    ids = {id(p) for p in own}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": rest, "lr": lr}, {"params": own, "lr": param_lr}]


def batches(
    data: TensorDataset, batch_size: int, seed: int, processes: Processes
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless batches of this process's share (batch_size // world_size examples), reshuffled every epoch."""
    sampler = DistributedSampler(
        data, num_replicas=processes.world_size, rank=processes.rank, shuffle=True, seed=seed, drop_last=True
    )
    for epoch in itertools.count():
        sampler.set_epoch(epoch)
        for indices in BatchSampler(sampler, max(1, batch_size // processes.world_size), drop_last=True):
            yield data[indices]


@torch.no_grad()
def evaluate(task: Task, model: nn.Module, device: torch.device) -> tuple[float, float, torch.Tensor | None]:
    """Test error (task.error), forward FLOPs per test example, and outputs on task.probe (on the CPU), in eval mode."""
    model.eval()
    x_test, y_test = task.data.x_test.to(device), task.data.y_test.to(device)
    with FlopCounterMode(display=False) as counter:
        output = model(x_test)
    error = task.error(output, y_test)
    probe = None if task.probe is None else model(task.probe.to(device)).cpu()
    return error, counter.get_total_flops() / len(x_test), probe
