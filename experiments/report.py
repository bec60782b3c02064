"""Reporting: the markdown table of mean ± std over seeds, the raw runs as JSON, and the PNG plots.

Plots are drawn on `matplotlib.figure.Figure` objects (no pyplot, no global state, no display needed).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure

from experiments.networks import BASELINE
from experiments.tasks import Task
from experiments.train import Run

DPI = 80


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class Summary:
    """One network on one task over its seeds: the error's mean and std, and the costs' means."""

    error: float
    std: float
    seeds: int
    params: int
    flops: float
    seconds: float
    not_converged: int  # over all seeds


def summarise(runs: Sequence[Run], task: str, network: str) -> Summary:
    """The summary of the runs of `network` on `task` (there must be at least one)."""
    mine = [r for r in runs if r.task == task and r.network == network]
    error, spread = mean_std([r.error for r in mine])
    return Summary(
        error=error,
        std=spread,
        seeds=len(mine),
        params=mine[0].params,
        flops=statistics.fmean(r.flops for r in mine),
        seconds=statistics.fmean(r.seconds for r in mine),
        not_converged=sum(r.not_converged for r in mine),
    )


def beyond_spread(row: Summary, baseline: Summary) -> bool:
    """Whether two means differ by more than the sum of their seed standard deviations (needs 2+ seeds each)."""
    if row.seeds < 2 or baseline.seeds < 2:
        return False
    return abs(row.error - baseline.error) > row.std + baseline.std


def markdown(tasks: Sequence[Task], networks: Sequence[str], runs: Sequence[Run], header: Sequence[str]) -> str:
    """One table per task: network, parameters, FLOPs, training time, test error (mean ± std over seeds).

    The column "vs ResNet" gives the difference of means to gradient descent (the ResNet) and marks with "**"
    the differences larger than the sum of the two seed standard deviations. Those are listed as findings, except
    for rows whose fixed-point solves did not all converge: their errors are those of an inexact solver.
    """
    lines = [*header, ""]
    findings, unconverged = [], []
    for task in tasks:
        places = digits(task)
        ran = {r.network for r in runs if r.task == task.name}
        rows = {n: summarise(runs, task.name, n) for n in networks if n in ran}
        baseline = rows.get(BASELINE)
        lines += [f"### {task.title}", "", setup(task), ""]
        if task.note:
            lines += [task.note, ""]
        lines += [
            f"| network | params | FLOPs/example | train time (s) | {task.metric}, mean ± std | vs ResNet |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, row in rows.items():
            versus = ""
            if baseline is not None and name != BASELINE:
                difference = row.error - baseline.error
                mark = "**" if beyond_spread(row, baseline) and not row.not_converged else ""
                versus = f"{mark}{difference:+.{places}f}{mark}"
                if mark:
                    verdict = "better" if difference < 0 else "worse"
                    findings.append(
                        f"- {task.name}: {name} is {verdict} than the ResNet "
                        f"({row.error:.{places}f} vs {baseline.error:.{places}f})."
                    )
            label = name
            if row.not_converged:
                label += f" ({row.not_converged} unconverged solves)"
                unconverged.append(f"{name} on {task.name}")
            lines.append(
                f"| {label} | {row.params:,} | {row.flops:,.0f} | {row.seconds:.1f} | "
                f"{row.error:.{places}f} ± {row.std:.{places}f} | {versus} |"
            )
        lines.append("")
    lines += [
        "Differences from the ResNet larger than the sum of the two seed standard deviations (marked ** above):",
        "",
        *(findings or ["- none."]),
        "",
    ]
    if unconverged:
        lines += [
            (
                f"Left out of the findings (never marked): {', '.join(unconverged)}, whose fixed-point solves did not "
                "all converge within the solver budget, so their errors measure an inexact solve, not the algorithm."
            ),
            "",
        ]
    return "\n".join(lines)


def setup(task: Task) -> str:
    """The task's sizes and training budget, as one sentence under its table's title."""
    return (
        f"width {task.width}, depth {task.depth}, hidden {task.hidden}, block `{task.block}`, {task.steps} steps "
        f"of Adam (batch {task.batch_size}, lr {task.lr}, cosine schedule), {len(task.data.x_train)} train / "
        f"{len(task.data.x_test)} test examples."
    )


def digits(task: Task) -> int:
    """Decimals shown: errors in percent with 1, mean squared errors with 4."""
    return 4 if task.regression else 1


def save_json(runs: Sequence[Run], path: Path) -> None:
    """Every run's measurements (not its loss curve or probe outputs)."""
    fields = ("task", "network", "seed", "params", "flops", "seconds", "error", "not_converged")
    path.write_text(json.dumps([{f: getattr(r, f) for f in fields} for r in runs], indent=1) + "\n", encoding="utf-8")


def plot_curves(tasks: Sequence[Task], networks: Sequence[str], runs: Sequence[Run], path: Path) -> None:
    """Training loss against step, mean over seeds, smoothed by a running mean; one panel per task."""
    figure = Figure(figsize=(4.2 * len(tasks), 3.4), dpi=DPI, layout="constrained")
    for axes, task in zip(figure.subplots(1, len(tasks), squeeze=False)[0], tasks):
        for name in networks:
            curves = [r.losses for r in runs if r.task == task.name and r.network == name]
            if not curves:
                continue
            mean = torch.tensor(curves).mean(dim=0)
            window = max(1, len(mean) // 25)
            smooth = mean.unfold(0, window, 1).mean(dim=1) if len(mean) >= window else mean
            axes.plot(range(window, window + len(smooth)), smooth, label=name, lw=1.2)
        axes.set(title=task.title, xlabel="step", ylabel="training loss", yscale="log")
    axes.legend(fontsize="x-small")
    figure.savefig(path)


def plot_regions(task: Task, networks: Sequence[str], runs: Sequence[Run], seed: int, path: Path) -> None:
    """Decision regions of each network (seed `seed`) on the probe grid, with the test points."""
    shown = [r for n in networks for r in runs if r.task == task.name and r.network == n and r.seed == seed]
    rows = math.ceil(len(shown) / 4)
    figure = Figure(figsize=(2.4 * 4, 2.5 * rows), dpi=DPI, layout="constrained")
    side = round(len(task.probe) ** 0.5)
    x, y = task.probe[:, 0].reshape(side, side), task.probe[:, 1].reshape(side, side)
    panels = figure.subplots(rows, 4, squeeze=False).flatten()
    for axes, run in zip(panels, shown):
        regions = run.probe.argmax(dim=1).reshape(side, side)
        axes.contourf(x, y, regions, levels=[-0.5, 0.5, 1.5], colors=["#cfe0f3", "#f6d5c2"])
        points, labels = task.data.x_test[:400], task.data.y_test[:400]
        axes.scatter(points[:, 0], points[:, 1], c=labels, cmap="coolwarm", s=2)
        axes.set_title(f"{run.network}: {run.error:.1f}% err", fontsize="small")
        axes.set(xticks=[], yticks=[], aspect="equal")
    for axes in panels[len(shown) :]:
        axes.set_axis_off()
    figure.suptitle(f"{task.title}: decision regions (seed {seed})")
    figure.savefig(path)


def plot_fits(task: Task, networks: Sequence[str], runs: Sequence[Run], seed: int, path: Path) -> None:
    """Each network's fitted curve (seed `seed`) over the target, for a 1-D regression task."""
    shown = [r for n in networks for r in runs if r.task == task.name and r.network == n and r.seed == seed]
    rows = math.ceil(len(shown) / 4)
    figure = Figure(figsize=(2.6 * 4, 2.1 * rows), dpi=DPI, layout="constrained")
    panels = figure.subplots(rows, 4, squeeze=False, sharey=True).flatten()
    for axes, run in zip(panels, shown):
        axes.plot(task.data.x_test[:, 0], task.data.y_test[:, 0], color="0.7", lw=2, label="target")
        axes.plot(task.probe[:, 0], run.probe[:, 0], color="C3", lw=1, label="network")
        axes.set_title(f"{run.network}: MSE {run.error:.4f}", fontsize="small")
    for axes in panels[len(shown) :]:
        axes.set_axis_off()
    panels[0].legend(fontsize="x-small")
    figure.suptitle(f"{task.title}: fitted functions (seed {seed})")
    figure.savefig(path)
