"""The stability study: do learnable coefficients leave the region where `alg2net check` guarantees the network,
and what does holding them there (`alg2net compile --constrain`) cost in test error?

    python -m experiments --study stability --quick      # a few minutes on 2 CPU cores

Every network (learnable heavy ball, LM-ResNet, ZeroSNet) is compiled twice from `examples/<name>.alg`, as it is and
with `--constrain`, and trained on every task from every seed; the learnable params get their own, larger learning
rate (`--param-lr`), since they are what training could push out of the region. Each step records the params'
effective values. After training, the network's state dict is saved and judged by `alg2net check --weights` (the
check at the trained values); independently, every trained value is compared with the region that `check` derives
at the initial values (the one the constrained module holds its params in).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
import json
import math
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from torch import nn
from tqdm import tqdm

import alg2net
from alg2net import cli
from experiments import report
from experiments.networks import EXAMPLES, compile_network
from experiments.tasks import TASKS, Task
from experiments.train import Processes, Run, main_process_first, train

NETWORKS = ("heavy_ball", "lm_resnet", "zerosnet")
TASK_NAMES = ("rings", "digits")  # a generated task and scikit-learn's digits
ARMS = ("unconstrained", "constrained")
SEEDS = {"quick": (0, 1, 2), "full": (0, 1, 2, 3, 4)}
PARAM_LR = 0.1  # Adam's learning rate on the learnable params (the blocks, stem and head keep the task's)


# Regions, as `check` states them ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """low < p < high, each end closed where flagged; infinite ends are +-inf."""

    low: float
    high: float
    low_closed: bool = False
    high_closed: bool = False

    def __contains__(self, value: float) -> bool:
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below


@dataclass(frozen=True)
class Region:
    """A learnable param's region as `alg2net check` derives it (its `region` text, parsed into intervals)."""

    name: str
    text: str
    intervals: tuple[Interval, ...]

    def __contains__(self, value: float) -> bool:
        return math.isfinite(value) and any(value in interval for interval in self.intervals)


def parse_region(name: str, text: str) -> Region:
    """`-1 <= beta < 1`, `lam <= -1 or 1/3 < lam`, `beta != 0`, `every real beta`, `no real value of beta`."""
    import sympy as sp

    def number(word: str) -> float:
        return float(sp.sympify(word))

    if text == f"every real {name}":
        return Region(name, text, (Interval(-math.inf, math.inf),))
    if text == f"no real value of {name}":
        return Region(name, text, ())
    if text.startswith(f"{name} != "):
        point = number(text.removeprefix(f"{name} != "))
        return Region(name, text, (Interval(-math.inf, point), Interval(point, math.inf)))
    intervals = []
    for piece in text.split(" or "):
        low, high, low_closed, high_closed = -math.inf, math.inf, False, False
        before, _, after = piece.partition(name)
        if piece.startswith(f"{name} = "):
            point = number(piece.removeprefix(f"{name} = "))
            intervals.append(Interval(point, point, True, True))
            continue
        if before.strip():
            bound, relation = before.strip().rsplit(" ", 1)
            low, low_closed = number(bound), relation == "<="
        if after.strip():
            relation, bound = after.strip().split(" ", 1)
            high, high_closed = number(bound), relation == "<="
        intervals.append(Interval(low, high, low_closed, high_closed))
    return Region(name, text, tuple(intervals))


@functools.cache
def regions(example: str) -> dict[str, Region]:
    """The region of every learnable param of `examples/<example>.alg` that `check` derives one (file order)."""
    facts = alg2net.check_source((EXAMPLES / f"{example}.alg").read_text(encoding="utf-8"), depth=10)
    return {p["name"]: parse_region(p["name"], p["region"]) for p in facts["params"] if p.get("region")}


# Training, recording the params ------------------------------------------------------------------------------------


class Recorder:
    """Called with the model before training and after every step: records each learnable param's effective value
    (every layer's, for a schedule) as `model[1].<name>` reads it, which a constrained module maps from its raw
    parameter. Keeps the last model it saw: the trained one."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.trajectory: dict[str, list[list[float]]] = {name: [] for name in self.names}
        self.model: nn.Module | None = None

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> None:
        self.model = model
        for name in self.names:
            self.trajectory[name].append(getattr(model[1], name).detach().reshape(-1).cpu().tolist())


@dataclass(frozen=True)
class Outcome:
    """One trained network: its run, arm, param trajectories, and the verdicts on its trained values."""

    run: Run
    arm: str
    trajectory: dict[str, list[list[float]]] = field(repr=False)
    outside: bool  # a trained value outside its derived region, or not finite
    verdict: str | None  # `check --weights`: guaranteed, not_guaranteed, error; None: not judged (not rank 0)
    reasons: tuple[str, ...] = ()

    def final(self, name: str) -> list[float]:
        return self.trajectory[name][-1]


def check_weights(example: str, network: nn.Module, depth: int) -> tuple[str, tuple[str, ...]]:
    """`alg2net check --json --weights CHECKPOINT examples/<example>.alg` on `network`'s state dict, run in process:
    the verdict and its reasons, or ("error", (first line of the message,)) where check refuses the checkpoint (exit
    2: a trained value that is not finite) or fails (exit 3)."""
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / f"{example}.pt"
        torch.save(network.state_dict(), checkpoint)
        out, err = io.StringIO(), io.StringIO()
        alg = EXAMPLES / f"{example}.alg"
        argv = ["check", "--json", "--depth", str(depth), "--weights", str(checkpoint), str(alg)]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cli.main(argv)
    if status not in (0, 1):
        return "error", (f"exit {status}: " + next(iter(err.getvalue().strip().splitlines()), ""),)
    facts = json.loads(out.getvalue())
    return facts["verdict"], tuple(facts["reasons"])


def outside(trajectory: dict[str, list[list[float]]], found: dict[str, Region]) -> bool:
    """Whether any trained value (the last recorded, every layer) is outside its param's region or not finite."""
    return any(value not in found[name] for name, values in trajectory.items() for value in values[-1])


def train_one(task: Task, example: str, arm: str, seed: int, processes: Processes, args: argparse.Namespace) -> Outcome:
    """Train one arm of one network on one task from one seed; judge its trained values (on the main process)."""
    found = regions(example)
    network = compile_network(example, task.block, task.hidden, args.cache, task.norm, arm == "constrained")
    recorder = Recorder(list(found))
    run = train(task, network, example, seed, processes, param_lr=args.param_lr, observe=recorder)
    verdict, reasons = None, ()
    if processes.is_main:
        verdict, reasons = check_weights(example, recorder.model[1], task.depth)
    return Outcome(run, arm, recorder.trajectory, outside(recorder.trajectory, found), verdict, reasons)


def study(args: argparse.Namespace, processes: Processes) -> tuple[list[Outcome], list[Task], tuple[int, ...]]:
    """Every network of args.networks, each arm of args.arms, on every task, from every seed."""
    seeds = tuple(args.seeds or SEEDS[args.mode])
    tasks = [TASKS[name](args.mode == "full") for name in args.tasks]
    if args.steps is not None:
        tasks = [dataclasses.replace(task, steps=args.steps) for task in tasks]
    with main_process_first(processes):  # rank 0 writes the compiled files, the others read them
        for task in tasks:
            for example in args.networks:
                for arm in args.arms:
                    compile_network(example, task.block, task.hidden, args.cache, task.norm, arm == "constrained")
    jobs = [(t, n, a, s) for t in tasks for n in args.networks for a in args.arms for s in seeds]
    progress = args.progress and processes.is_main
    outcomes = [
        train_one(task, example, arm, seed, processes, args)
        for task, example, arm, seed in tqdm(jobs, desc="stability runs", disable=not progress)
    ]
    return outcomes, tasks, seeds


def run_study(args: argparse.Namespace, argv: Sequence[str], processes: Processes, started: float) -> None:
    """`python -m experiments --study stability`: train, judge, and (main process) write the table and the plot."""
    args.tasks = args.tasks or list(TASK_NAMES)
    args.networks = args.networks or list(NETWORKS)
    args.arms = [arm for arm in ARMS if arm in (args.arms or ARMS)]
    outcomes, tasks, seeds = study(args, processes)
    if processes.is_main:
        write(args, argv, tasks, seeds, outcomes, processes, time.perf_counter() - started)


# Reporting ---------------------------------------------------------------------------------------------------------


def header(args: argparse.Namespace, argv: Sequence[str], seeds: Sequence[int], processes: Processes, seconds: float):
    """The lines above the tables: the command, the setup, and how the verdicts were reached."""
    launcher = f"torchrun --nproc_per_node {processes.world_size}" if processes.distributed else "python"
    arms = " and ".join(args.arms)
    return [
        f"# alg2net experiments: stability study, {args.mode} mode",
        "",
        f"Command: `{launcher} -m experiments {shlex.join(argv)}`  ",
        (
            f"Seeds: {', '.join(map(str, seeds))}; device {processes.device.type} "
            f"({platform.processor() or platform.machine()}), {processes.world_size} process(es), "
            f"{torch.get_num_threads()} thread(s) each; torch {torch.__version__}; wall time {seconds:.0f} s.  "
        ),
        (
            f"Arms: {arms}; a constrained network is compiled with `alg2net compile --constrain`. Learnable params "
            f"are trained at Adam learning rate {args.param_lr}, everything else at the task's.  "
        ),
        (
            "*outside region*: a trained value (any layer) outside the region `alg2net check` derives at the "
            "initial values. *check*: `alg2net check --weights` on the trained network's state dict (the check at "
            "the trained values), networks it does not guarantee."
        ),
    ]


def value_range(outcomes: Sequence[Outcome], name: str) -> str:
    """`min … max` of the trained values of `name` over the outcomes and layers."""
    values = [v for o in outcomes for v in o.final(name)]
    if not all(math.isfinite(v) for v in values):
        return "not finite"
    return f"{min(values):.3g} … {max(values):.3g}"


def row(task: Task, example: str, arm: str, outcomes: Sequence[Outcome], found: dict[str, Region]) -> str:
    """One table row: test error, how many left the region, the check's verdicts, the trained values."""
    error, spread = report.mean_std([o.run.error for o in outcomes])
    places = report.digits(task)
    left = sum(o.outside for o in outcomes)
    failed = sum(o.verdict == "not_guaranteed" for o in outcomes)
    errors = sum(o.verdict == "error" for o in outcomes)
    check = f"{failed}/{len(outcomes)}" + (f" ({errors} refused or failed)" if errors else "")
    values = "; ".join(f"{name} {value_range(outcomes, name)}" for name in found)
    regions_text = "; ".join(region.text for region in found.values())
    return (
        f"| {example} | {arm} | {error:.{places}f} ± {spread:.{places}f} | {left}/{len(outcomes)} | {check} | "
        f"{values} | {regions_text} |"
    )


def markdown(tasks: Sequence[Task], networks: Sequence[str], outcomes: Sequence[Outcome], lines: list[str]) -> str:
    """One table per task; then every reason `check --weights` gave for a network it did not guarantee."""
    lines = [*lines, ""]
    for task in tasks:
        lines += [f"### {task.title}", "", report.setup(task), ""]
        lines += [
            (
                f"| network | arm | {task.metric}, mean ± std | outside region | check: not guaranteed | "
                "trained values (min … max) | region |"
            ),
            "| --- | --- | ---: | ---: | ---: | --- | --- |",
        ]
        for example in networks:
            found = regions(example)
            for arm in ARMS:
                mine = [o for o in outcomes if o.run.task == task.name and o.run.network == example and o.arm == arm]
                if mine:
                    lines.append(row(task, example, arm, mine, found))
        lines.append("")
    lines += [*totals(outcomes), ""]
    failing = [o for o in outcomes if o.verdict not in (None, "guaranteed")]
    lines += ["Every network `check --weights` did not guarantee, with the first of its reasons:", ""]
    lines += [
        f"- {o.run.task}, {o.run.network}, {o.arm}, seed {o.run.seed}: {o.verdict}; {(o.reasons or ('',))[0]}"
        for o in failing
    ] or ["- none."]
    return "\n".join([*lines, ""])


def totals(outcomes: Sequence[Outcome]) -> list[str]:
    """Per arm, over every task and seed: how many trained networks the check does not guarantee, how many left."""
    lines = []
    for arm in ARMS:
        mine = [o for o in outcomes if o.arm == arm]
        if mine:
            failed = sum(o.verdict == "not_guaranteed" for o in mine)
            left = sum(o.outside for o in mine)
            lines.append(
                f"- {arm}: {failed} of {len(mine)} trained networks not guaranteed by `check --weights`, "
                f"{left} of {len(mine)} with a trained value outside its region."
            )
    return lines


def save_json(outcomes: Sequence[Outcome], path: Path) -> None:
    """Every outcome's measurements and final values (not the trajectories)."""
    entries = [
        {
            "task": o.run.task,
            "network": o.run.network,
            "arm": o.arm,
            "seed": o.run.seed,
            "error": o.run.error,
            "seconds": o.run.seconds,
            "trained": {name: values[-1] for name, values in o.trajectory.items()},
            "outside_region": o.outside,
            "verdict": o.verdict,
            "reasons": list(o.reasons),
        }
        for o in outcomes
    ]
    path.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")


ARM_COLOURS = {"unconstrained": "C3", "constrained": "C0"}


def plot_trajectories(tasks: Sequence[Task], networks: Sequence[str], outcomes: Sequence[Outcome], path: Path) -> None:
    """One panel per (param, task): every seed's (and layer's) value against the training step, per arm, over the
    region `check` derives (shaded)."""
    params = [(example, name, region) for example in networks for name, region in regions(example).items()]
    if not params:  # no network with a learnable param that has a region: nothing to draw
        return
    figure = Figure(figsize=(4.2 * len(tasks), 2.6 * len(params)), dpi=report.DPI, layout="constrained")
    panels = figure.subplots(len(params), len(tasks), squeeze=False)
    for (example, name, region), axes_row in zip(params, panels):
        for task, axes in zip(tasks, axes_row):
            mine = [o for o in outcomes if o.run.task == task.name and o.run.network == example]
            for outcome in mine:
                values = torch.tensor(outcome.trajectory[name])  # (steps + 1, layers)
                axes.plot(values, color=ARM_COLOURS[outcome.arm], lw=0.6, alpha=0.6)
            shade(axes, region)
            axes.set_title(f"{example}: {name}, {task.name}", fontsize="small")
            axes.set_xlabel("step", fontsize="small")
    handles = [Line2D([], [], color=c, label=a) for a, c in ARM_COLOURS.items()]
    handles.append(Patch(color="#cfe8cf", label="region (check)"))
    panels[0][0].legend(handles=handles, fontsize="x-small")
    figure.savefig(path)


def shade(axes, region: Region) -> None:
    """Shade the region's intervals within the panel's current y range (kept as it was)."""
    bottom, top = axes.get_ylim()
    pad = 0.15 * (top - bottom)
    bottom, top = bottom - pad, top + pad
    for interval in region.intervals:
        low, high = max(interval.low, bottom), min(interval.high, top)
        if low < high:
            axes.axhspan(low, high, color="#cfe8cf", zorder=0)
        for end in (interval.low, interval.high):
            if bottom <= end <= top:
                axes.axhline(end, color="0.4", lw=0.6, ls="--", zorder=1)
    axes.set_ylim(bottom, top)


def write(args, argv, tasks, seeds, outcomes, processes, seconds) -> None:
    """The markdown table, the outcomes as JSON and the trajectory plot, into args.out."""
    out, mode = args.out, args.mode
    out.mkdir(parents=True, exist_ok=True)
    lines = header(args, argv, seeds, processes, seconds)
    (out / f"stability_{mode}.md").write_text(markdown(tasks, args.networks, outcomes, lines), encoding="utf-8")
    save_json(outcomes, out / f"stability_{mode}.json")
    plot_trajectories(tasks, args.networks, outcomes, out / f"stability_{mode}_params.png")
    print(f"wrote {out / f'stability_{mode}.md'} and stability_{mode}_params.png ({seconds:.0f} s)", file=sys.stderr)
