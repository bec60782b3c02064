"""A guarantee that survives training (guarantee.md): train, save the state dict, `check --weights` it.

For heavy ball, LM-ResNet, ZeroSNet and the learnable three-step family, an unconstrained and a `--constrain` network
are trained with a large learning rate on their learnable params (Adam at 0.3: each step moves a param by up to about
0.3, whatever its gradient), so that nothing but the constraint keeps them in their regions. Their state dicts go
through the real command line, `alg2net check --json --weights CHECKPOINT FILE`. The verdicts are compared with an
independent judgement: the roots of each layer's rho at the trained values, from NumPy, written here from the
examples' header comments.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import alg2net
from alg2net import cli

ROOT = Path(__file__).resolve().parent.parent
WIDTH, DEPTH, HIDDEN, STEPS, BATCH = 4, 10, 8, 150, 128
BLOCK_LR, PARAM_LR = 1e-2, 0.3
SEED = 0


def _rho(example: str, p: dict[str, float]) -> list[float]:
    """Coefficients of rho(zeta), highest power first, of one layer whose learnable params have the values `p`."""
    if example == "heavy_ball":  # x+ = x - h T(x) + beta (x - x_)
        return [1.0, -(1 + p["beta"]), p["beta"]]
    if example == "lm_resnet":  # x+ = (1 - kn) x + kn x_ - h T(x)
        return [1.0, -(1 - p["kn"]), -p["kn"]]
    if example == "zerosnet":  # x+ = (3l+3)/(4l) x - x_/l + (l+1)/(4l) x__ - ...
        lam = p["lam"]
        return [1.0, -(3 * lam + 3) / (4 * lam), 1 / lam, -(lam + 1) / (4 * lam)]
    if example == "learnable_lmm3":  # x+ = (1 + a) x + (b - a) x_ - b x__ - h T(x)
        return [1.0, -(1 + p["a"]), -(p["b"] - p["a"]), p["b"]]
    raise KeyError(example)


LEARNABLE = {"heavy_ball": ("beta",), "lm_resnet": ("kn",), "zerosnet": ("lam",), "learnable_lmm3": ("a", "b")}


def _zero_stable(coefficients: list[float]) -> bool:
    """rho has the simple root 1 and every other root strictly inside the unit disk (with a float margin)."""
    roots = np.roots(coefficients)
    one = int(np.argmin(abs(roots - 1)))
    assert abs(roots[one] - 1) < 1e-6, f"rho(1) != 0: {coefficients}"
    others = np.delete(roots, one)
    return bool(np.all(abs(others) < 1 - 1e-9) and np.all(abs(others - 1) > 1e-6))


def _failing_layers(example: str, values: dict[str, list[float]]) -> set[int]:
    """The layers whose rho at the trained values is not zero-stable (one entry per layer for a schedule)."""
    layers = max(len(v) for v in values.values())
    return {
        k
        for k in range(layers)
        if not _zero_stable(_rho(example, {name: v[k if len(v) > 1 else 0] for name, v in values.items()}))
    }


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, WIDTH, generator=generator, dtype=torch.float64)
    return x, torch.sin(2 * x) + 0.5 * x.roll(1, dims=1)


def _train(example: str, constrain: bool) -> torch.nn.Module:
    """The network of examples/<example>.alg after STEPS full-batch Adam steps, params at PARAM_LR."""
    options = {"constrain": True} if constrain else {}
    net = alg2net.load(ROOT / "examples" / f"{example}.alg", hidden=HIDDEN, **options)
    torch.manual_seed(SEED)
    model = net(WIDTH, DEPTH, dtype=torch.float64)
    own = [p for name, p in model.named_parameters() if not name.startswith("blocks.")]
    blocks = [p for name, p in model.named_parameters() if name.startswith("blocks.")]
    optimizer = torch.optim.Adam([{"params": blocks, "lr": BLOCK_LR}, {"params": own, "lr": PARAM_LR}])
    x, y = _data()
    for _ in range(STEPS):
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss), f"{example}: training diverged"
    return model


def _check_weights(example: str, model: torch.nn.Module, folder: Path) -> dict:
    """`alg2net check --json --weights CHECKPOINT examples/<example>.alg`, through the command line's main."""
    checkpoint = folder / f"{example}.pt"
    torch.save(model.state_dict(), checkpoint)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(["check", "--json", "--weights", str(checkpoint), str(ROOT / "examples" / f"{example}.alg")])
    facts = json.loads(out.getvalue())
    assert status == {"guaranteed": 0, "not_guaranteed": 1}[facts["verdict"]]
    return facts


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[tuple[str, bool], tuple[dict, dict[str, list[float]], set[str]]]:
    """(example, constrained) -> (check --weights facts, trained effective values of each learnable param, the
    state dict's keys)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same sums in the same order on every machine
    results = {}
    try:
        for example, names in LEARNABLE.items():
            for constrain in (False, True):
                folder = tmp_path_factory.mktemp(f"{example}_{constrain}")
                model = _train(example, constrain)
                values = {n: getattr(model, n).detach().reshape(-1).tolist() for n in names}
                results[example, constrain] = _check_weights(example, model, folder), values, set(model.state_dict())
    finally:
        torch.set_num_threads(threads)
    return results


@pytest.mark.parametrize("example", list(LEARNABLE))
def test_a_constrained_network_is_guaranteed_after_training(trained, example: str):
    facts, values, keys = trained[example, True]
    assert {f"{name}_raw" for name in LEARNABLE[example]} <= keys and not set(LEARNABLE[example]) & keys
    assert facts["verdict"] == "guaranteed", facts["reasons"]
    assert facts["reasons"] == []
    assert _failing_layers(example, values) == set()
    initial = {"heavy_ball": 0.9, "lm_resnet": -0.05, "zerosnet": 1.0, "learnable_lmm3": 0.3}[example]
    moved = max(abs(v - initial) for v in values[LEARNABLE[example][0]])
    assert moved > 0.05, f"{example}: the constrained param hardly trained ({values}), so this proves little"


@pytest.mark.parametrize("example", list(LEARNABLE))
def test_the_check_at_the_trained_values_agrees_with_the_roots(trained, example: str):
    """Unconstrained: `check --weights` says not_guaranteed exactly when a layer's rho has a root on or outside the
    unit circle besides 1, and names those layers."""
    facts, values, _ = trained[example, False]
    failing = _failing_layers(example, values)
    assert facts["verdict"] == ("not_guaranteed" if failing else "guaranteed"), (values, facts["reasons"])
    if example == "lm_resnet" and failing:
        named = set()
        for reason in facts["reasons"]:
            for first, last in re.findall(r"layers? (\d+)(?:\s*(?:–|-|to)\s*(\d+))?", reason):
                named |= set(range(int(first), int(last or first) + 1))
        assert named == failing, facts["reasons"]
        assert any("kn" in reason for reason in facts["reasons"])


def test_training_pushes_some_unconstrained_network_out_of_its_region(trained):
    """Without this, the constrained test above would prove nothing: the learning rate must be large enough."""
    left = [example for example in LEARNABLE if trained[example, False][0]["verdict"] == "not_guaranteed"]
    assert "lm_resnet" in left and "learnable_lmm3" in left, {e: trained[e, False][1] for e in LEARNABLE}
    for example in left:
        reasons = trained[example, False][0]["reasons"]
        assert any(re.search(rf"\b{name} = ", reason) for name in LEARNABLE[example] for reason in reasons), reasons
