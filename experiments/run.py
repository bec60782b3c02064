"""The command line: train every network on every task over several seeds, then write the table and the plots.

python -m experiments --quick                      # a few minutes on a laptop CPU
python -m experiments --full --device cuda         # the full study
python -m experiments --study stability --quick    # learnable params against their regions (experiments/stability.py)
torchrun --standalone --nproc_per_node 2 -m experiments --quick   # DistributedDataParallel, 2 processes
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from experiments import report, stability
from experiments.networks import CACHE, NETWORKS, compile_network, is_implicit
from experiments.tasks import TASKS, Task
from experiments.train import Processes, Run, main_process_first, start, stop, train

RESULTS = Path(__file__).resolve().parent / "results"

# The implicit layers' fixed-point solves (Anderson): looser in quick mode, where they dominate the time.
SOLVER = {"quick": {"solver_max_iter": 8, "solver_tol": 1e-3}, "full": {"solver_max_iter": 30, "solver_tol": 1e-4}}
SEEDS = {"quick": (0, 1, 2), "full": (0, 1, 2, 3, 4)}
CHOICES = sorted({*NETWORKS, *stability.NETWORKS})


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The options of `python -m experiments ARGV`; exits with status 2 and a usage message on bad ones.

    `--device cuda` without a CUDA device is a usage error, caught here before any process group starts.
    """
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick", help="small budgets, 3 seeds")
    mode.add_argument("--full", dest="mode", action="store_const", const="full", help="the full study, 5 seeds")
    parser.add_argument(
        "--study",
        choices=["compare", "stability"],
        default="compare",
        help="compare: every network against the ResNet (default); stability: learnable params against their regions",
    )
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), metavar="TASK", help="default: the study's")
    parser.add_argument("--networks", nargs="+", choices=CHOICES, metavar="NETWORK", help="default: the study's")
    parser.add_argument(
        "--arms", nargs="+", choices=stability.ARMS, metavar="ARM", help="stability: unconstrained, constrained (both)"
    )
    parser.add_argument(
        "--param-lr", type=float, default=stability.PARAM_LR, help="stability: learning rate of the learnable params"
    )
    parser.add_argument("--seeds", nargs="+", type=int, help="default: 0 1 2 (quick), 0 1 2 3 4 (full)")
    parser.add_argument("--steps", type=int, help="training steps for every task, overriding the mode's")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda if available")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per process (default 1: tiny ops)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the table and plots go")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the compiled networks go")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device (use --device cpu)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study that `argv` (default: sys.argv[1:]) asks for and write its results; returns the exit status 0.

    Usage errors exit with status 2 (argparse); under torchrun every process runs this, and only rank 0 writes.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse(argv)
    started = time.perf_counter()
    device = args.device if args.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    processes = start(device)
    try:
        if args.study == "stability":
            stability.run_study(args, argv, processes, started)
        else:
            runs, tasks, seeds = study(args, processes)
            if processes.is_main:
                write(args, argv, tasks, seeds, runs, processes, time.perf_counter() - started)
    except BaseException:
        stop(processes, together=False)
        raise
    else:
        stop(processes)
    finally:
        torch.set_num_threads(threads)
    return 0


def study(args: argparse.Namespace, processes: Processes) -> tuple[list[Run], list[Task], tuple[int, ...]]:
    """Train every network of args.networks on every task of args.tasks from every seed: the runs, tasks, seeds."""
    seeds = tuple(args.seeds or SEEDS[args.mode])
    args.tasks, args.networks = args.tasks or list(TASKS), args.networks or list(NETWORKS)
    tasks = [TASKS[name](args.mode == "full") for name in args.tasks]
    if args.steps is not None:
        tasks = [dataclasses.replace(task, steps=args.steps) for task in tasks]

    with main_process_first(processes):  # rank 0 writes the compiled files, the others read them
        networks = {
            (t.name, n): compile_network(n, t.block, t.hidden, args.cache, t.norm) for t in tasks for n in args.networks
        }

    progress = args.progress and processes.is_main
    runs = []
    jobs = [(task, name, seed) for task in tasks for name in args.networks for seed in seeds]
    for task, name, seed in tqdm(jobs, desc=f"{args.mode} runs", disable=not progress):
        options = SOLVER[args.mode] if is_implicit(networks[task.name, name]) else {}
        runs.append(train(task, networks[task.name, name], name, seed, processes, progress=progress, options=options))
    return runs, tasks, seeds


def write(
    args: argparse.Namespace,
    argv: Sequence[str],
    tasks: Sequence[Task],
    seeds: Sequence[int],
    runs: Sequence[Run],
    processes: Processes,
    seconds: float,
) -> None:
    """The markdown table, the raw runs and the plots, into args.out, named after the mode; `argv` is the command's."""
    out, mode = args.out, args.mode
    out.mkdir(parents=True, exist_ok=True)
    launcher = f"torchrun --nproc_per_node {processes.world_size}" if processes.distributed else "python"
    command = f"{launcher} -m experiments {shlex.join(argv)}"
    header = [
        f"# alg2net experiments: {mode} mode",
        "",
        f"Command: `{command.strip()}`  ",
        (
            f"Seeds: {', '.join(map(str, seeds))}; device {processes.device.type} "
            f"({platform.processor() or platform.machine()}), {processes.world_size} process(es), "
            f"{torch.get_num_threads()} thread(s) each; torch {torch.__version__}; wall time {seconds:.0f} s.  "
        ),
        "Every network is compiled from `examples/<name>.alg` by `alg2net.compile_source` and sits between the same "
        "stem and head; the implicit network's solver: "
        + ", ".join(f"{k}={v}" for k, v in SOLVER[mode].items())
        + ". FLOPs: one forward pass per test example (matmuls and convolutions, torch's FlopCounterMode). "
        "Train time: mean seconds per training run.",
    ]
    (out / f"results_{mode}.md").write_text(report.markdown(tasks, args.networks, runs, header), encoding="utf-8")
    report.save_json(runs, out / f"results_{mode}.json")
    report.plot_curves(tasks, args.networks, runs, out / f"{mode}_curves.png")
    for task in tasks:
        if task.probe is None:
            continue
        plot = report.plot_fits if task.regression else report.plot_regions
        plot(task, args.networks, runs, seeds[0], out / f"{mode}_{task.name}.png")
    print(f"wrote {out / f'results_{mode}.md'} and plots ({seconds:.0f} s)", file=sys.stderr)
