"""The experiments suite (experiments/): networks from the real compiler, the report's statistics, quick mode end to
end, torchrun with DDP."""

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

import torch
from torch import nn

from experiments import run, stability
from experiments.networks import NETWORKS, compile_network, is_implicit, parameter_count
from experiments.report import Summary, beyond_spread, markdown, mean_std, summarise
from experiments.tasks import TASKS, Data, Task
from experiments.train import Run, parameter_groups


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
    counts = {
        n: parameter_count(task.build(compile_network(n, task.block, task.hidden, tmp_path, task.norm)))
        for n in NETWORKS
    }
    baseline = counts["gradient_descent"]
    assert all(0 <= count - baseline <= task.depth for count in counts.values()), counts


def test_implicit_networks_are_told_by_their_signature(tmp_path: Path) -> None:
    implicit = {n for n in NETWORKS if is_implicit(compile_network(n, "mlp", 4, tmp_path))}
    assert implicit == {"proximal_point"}


def test_digits_blocks_have_no_batchnorm(tmp_path: Path) -> None:
    task = TASKS["digits"](False)
    model = task.build(compile_network("heun", task.block, task.hidden, tmp_path, task.norm))
    network = model[1]
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.modules())
    assert sum(isinstance(m, nn.GroupNorm) for m in network.modules()) == 2 * task.depth
    x = task.data.x_test[:5]
    stem = model[0](x)
    assert network(stem).shape == stem.shape


def test_mean_std() -> None:
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_std([4.0, 8.0]) == pytest.approx((6.0, 8**0.5))
    assert mean_std([5.0]) == (5.0, 0.0)


def _run(task: str, network: str, seed: int, error: float, not_converged: int = 0) -> Run:
    return Run(task, network, seed, 10, 100.0 + seed, 1.0 + seed, error, [1.0], not_converged)


def test_summarise_keeps_only_its_task_and_network() -> None:
    runs = [
        _run("a", "gradient_descent", 0, 2.0, 3),
        _run("a", "gradient_descent", 1, 4.0, 1),
        _run("a", "heun", 0, 50.0),
        _run("b", "gradient_descent", 0, 99.0),
    ]
    assert summarise(runs, "a", "gradient_descent") == Summary(
        error=3.0, std=2**0.5, seeds=2, params=10, flops=100.5, seconds=1.5, not_converged=4
    )


def test_beyond_spread() -> None:
    baseline = Summary(error=2.0, std=0.5, seeds=3, params=1, flops=1.0, seconds=1.0, not_converged=0)
    assert beyond_spread(Summary(3.0, 0.4, 3, 1, 1.0, 1.0, 0), baseline)  # 1.0 > 0.9
    assert not beyond_spread(Summary(3.0, 0.6, 3, 1, 1.0, 1.0, 0), baseline)  # 1.0 < 1.1
    assert beyond_spread(Summary(1.0, 0.4, 3, 1, 1.0, 1.0, 0), baseline)  # better by as much: also beyond
    assert not beyond_spread(Summary(9.0, 0.0, 1, 1, 1.0, 1.0, 0), baseline)  # one seed: no spread to compare


def _task(name: str) -> Task:
    data = Data(torch.zeros(4, 2), torch.zeros(4), torch.zeros(2, 2), torch.zeros(2))
    return Task(name, f"Task {name}", data, "mlp", 2, 1, 1, 2, 1, 4, 0.1)


def test_markdown_tables_and_findings() -> None:
    runs = [
        *(_run("a", "gradient_descent", s, 10.0 + s) for s in (0, 1)),  # 10.5 ± 0.7
        *(_run("a", "heavy_ball", s, 1.0 + s) for s in (0, 1)),  # 1.5 ± 0.7: better, a finding
        *(_run("a", "proximal_point", s, 50.0 + s, not_converged=2) for s in (0, 1)),  # worse, but unconverged
        *(_run("b", "gradient_descent", s, 1.0) for s in (0, 1)),
        *(_run("b", "nesterov", s, 1.0) for s in (0, 1)),
    ]
    networks = ["gradient_descent", "heavy_ball", "nesterov", "proximal_point"]
    text = markdown([_task("a"), _task("b")], networks, runs, ["# header"])
    table_a, table_b = text.split("### Task b")
    assert "| nesterov" not in table_a and "| heavy_ball" not in table_b  # only networks run on that task
    assert "| heavy_ball | 10 | 100 | 1.5 | 1.5 ± 0.7 | **-9.0** |" in table_a
    assert "| proximal_point (4 unconverged solves) | 10 | 100 | 1.5 | 50.5 ± 0.7 | +40.0 |" in table_a
    assert "- a: heavy_ball is better than the ResNet (1.5 vs 10.5)." in text
    assert "proximal_point is" not in text
    assert "Left out of the findings (never marked): proximal_point on a," in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="the error path needs a machine without CUDA")
def test_device_cuda_without_cuda_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run.main(["--quick", "--device", "cuda"])
    assert exit_.value.code == 2
    assert "--device cuda: torch sees no CUDA device" in capsys.readouterr().err


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
    assert f"Command: `python -m experiments {' '.join([*argv, '--no-progress'])}`" in table  # main's argv
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


# The stability study (experiments/stability.py) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, inside, outside",
    [
        ("-1 <= beta < 1", [-1.0, 0.0, 0.999], [1.0, -1.001, float("nan")]),
        ("-1 < beta <= 1", [1.0, -0.999], [-1.0, 1.001]),
        ("beta <= -1 or 1/3 < beta", [-1.0, -5.0, 0.34, 1e9], [-0.999, 0.0, 1 / 3, float("inf")]),
        ("beta != 0", [-1e-9, 2.0], [0.0]),
        ("every real beta", [-1e300, 0.0], [float("nan")]),
        ("no real value of beta", [], [0.0]),
        ("beta < sqrt(2)/2", [0.7, -3.0], [0.71]),
        ("beta = 1/2 or 1 <= beta", [0.5, 1.0, 2.0], [0.6, 0.99]),
    ],
)
def test_regions_as_check_writes_them(text: str, inside: list[float], outside: list[float]) -> None:
    region = stability.parse_region("beta", text)
    assert all(value in region for value in inside), region
    assert not any(value in region for value in outside), region


def test_the_study_reads_the_regions_check_derives() -> None:
    found = {name: stability.regions(name) for name in stability.NETWORKS}
    assert {name: list(params) for name, params in found.items()} == {
        "heavy_ball": ["beta"],
        "lm_resnet": ["kn"],
        "zerosnet": ["lam"],
    }
    assert found["zerosnet"]["lam"].text == "lam <= -1 or 1/3 < lam"
    assert 1.0 in found["zerosnet"]["lam"] and 0.0 not in found["zerosnet"]["lam"]
    assert -0.05 in found["lm_resnet"]["kn"] and 1.2 not in found["lm_resnet"]["kn"]


def test_learnable_params_get_their_own_learning_rate(tmp_path: Path) -> None:
    task = TASKS["rings"](False)
    model = task.build(compile_network("lm_resnet", task.block, task.hidden, tmp_path))
    rest, own = parameter_groups(model, 0.01, 0.5)
    assert (rest["lr"], own["lr"]) == (0.01, 0.5)
    assert [p.shape for p in own["params"]] == [torch.Size([task.depth])]  # kn, one value per layer
    assert len(rest["params"]) + 1 == len(list(model.parameters()))
    (single,) = parameter_groups(model, 0.01, None)
    assert single["lr"] == 0.01 and len(single["params"]) == len(list(model.parameters()))


def test_outside_looks_at_the_last_value_of_every_layer() -> None:
    found = {"kn": stability.parse_region("kn", "-1 < kn <= 1")}
    assert not stability.outside({"kn": [[5.0, 5.0], [0.5, 1.0]]}, found)  # left and came back
    assert stability.outside({"kn": [[0.0, 0.0], [0.5, -1.0]]}, found)  # layer 1 on the boundary, outside
    assert stability.outside({"kn": [[0.0, 0.0], [0.5, float("nan")]]}, found)


def test_stability_study_trains_both_arms_and_writes_table_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "results"
    argv = ["--study", "stability", "--quick", "--steps", "3", "--seeds", "0", "--tasks", "rings", "--networks"]
    argv += ["heavy_ball", "lm_resnet", "--out", str(out), "--cache", str(tmp_path / "cache"), "--no-progress"]
    assert run.main(argv) == 0

    table = (out / "stability_quick.md").read_text(encoding="utf-8")
    assert f"Command: `python -m experiments {' '.join(argv)}`" in table
    assert TASKS["rings"](False).title in table and "Digits" not in table
    for network in ("heavy_ball", "lm_resnet"):
        assert f"| {network} | unconstrained |" in table and f"| {network} | constrained |" in table
    assert "-1 <= beta < 1" in table and "-1 < kn <= 1" in table
    outcomes = json.loads((out / "stability_quick.json").read_text(encoding="utf-8"))
    assert len(outcomes) == 2 * 2
    for outcome in outcomes:
        assert outcome["verdict"] in ("guaranteed", "not_guaranteed")
        assert (outcome["verdict"] == "guaranteed") == (outcome["reasons"] == [])
        if outcome["arm"] == "constrained":
            assert outcome["verdict"] == "guaranteed" and not outcome["outside_region"]
    assert len(outcomes[0]["trained"]["beta"]) == 1
    assert [len(o["trained"]["kn"]) for o in outcomes if o["network"] == "lm_resnet"] == [8, 8]  # depth 8
    assert (out / "stability_quick_params.png").read_bytes().startswith(b"\x89PNG")
