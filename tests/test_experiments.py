"""The experiments suite (experiments/): networks from the real compiler, quick mode end to end, torchrun with DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # experiments/ is a directory of the checkout, not part of the installed package
    sys.path.insert(0, str(ROOT))

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from experiments import run
from experiments.networks import NETWORKS, compile_network, parameter_count
from experiments.tasks import TASKS


def test_networks_are_what_the_cli_writes(tmp_path: Path) -> None:
    compile_network("heavy_ball", "mlp", 7, tmp_path)
    cli = subprocess.run(
        [sys.executable, "-m", "alg2net", "compile", "examples/heavy_ball.alg", "--hidden", "7"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert (tmp_path / "heavy_ball_mlp_h7.py").read_text(encoding="utf-8") == cli.stdout


@pytest.mark.parametrize("name", ["rings", "parity", "sawtooth", "digits"])
def test_parameter_counts_match_up_to_learnable_scalars(name: str, tmp_path: Path) -> None:
    task = TASKS[name](False)
    counts = {n: parameter_count(task.build(compile_network(n, task.block, task.hidden, tmp_path))) for n in NETWORKS}
    baseline = counts["gradient_descent"]
    assert all(0 <= count - baseline <= task.depth for count in counts.values()), counts


def test_quick_mode_trains_and_writes_table_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "results"
    argv = ["--quick", "--steps", "3", "--seeds", "0", "1", "--out", str(out), "--cache", str(tmp_path / "cache")]
    assert run.main([*argv, "--no-progress"]) == 0

    table = (out / "results_quick.md").read_text(encoding="utf-8")
    for name in NETWORKS:
        assert f"| {name}" in table
    for task in TASKS.values():
        assert task(False).title in table
    assert "Seeds: 0, 1;" in table
    runs = json.loads((out / "results_quick.json").read_text(encoding="utf-8"))
    assert len(runs) == len(TASKS) * len(NETWORKS) * 2
    for png in ("quick_curves.png", "quick_rings.png", "quick_sawtooth.png"):
        assert (out / png).read_bytes().startswith(b"\x89PNG")


def test_torchrun_with_two_cpu_processes(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "experiments",
        "--quick",
        "--device",
        "cpu",
        "--tasks",
        "rings",
        "digits",
        "--networks",
        "gradient_descent",
        "heavy_ball",
        "lm_resnet",
        "--steps",
        "4",
        "--seeds",
        "0",
        "--out",
        str(out),
        "--cache",
        str(tmp_path / "cache"),
        "--no-progress",
    ]
    # A subprocess, so that torchrun's and gloo's own warnings stay out of pytest's filterwarnings=error.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    table = (out / "results_quick.md").read_text(encoding="utf-8")
    assert "2 process(es)" in table
    assert "torchrun --nproc_per_node 2 -m experiments" in table
    assert len(json.loads((out / "results_quick.json").read_text(encoding="utf-8"))) == 2 * 3
