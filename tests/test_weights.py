"""`alg2net check FILE.alg --weights CHECKPOINT` (guarantee.md): the check at the trained values of a checkpoint.

Checkpoints are made as a user makes them: compile the file with `alg2net.api.load`, set the learnable params, and
`torch.save(model.state_dict(), path)`. Every mismatch must be an error with exit 2 and no traceback.
"""

from __future__ import annotations

import json
import pickle
import sys
import warnings
from pathlib import Path

import pytest
import torch

import alg2net
from alg2net import pipeline
from alg2net.api import load
from alg2net.cli import main
from alg2net.errors import Alg2NetError

ROOT = Path(__file__).resolve().parent.parent
HEAVY_BALL = str(ROOT / "examples" / "heavy_ball.alg")
LM_RESNET = str(ROOT / "examples" / "lm_resnet.alg")
DEPTH = 40


def _load(path: str, **options) -> type:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load(path, **options)


@pytest.fixture(scope="module")
def heavy_ball() -> type:
    return _load(HEAVY_BALL)


@pytest.fixture(scope="module")
def lm_resnet() -> type:
    return _load(LM_RESNET)


def _saved(tmp_path: Path, model, name: str = "model.pt", wrap: str | None = None, **params) -> str:
    """`model`'s state dict with `params` set (a number, or {layer: value} for a schedule), saved to a file."""
    with torch.no_grad():
        for param, value in params.items():
            if isinstance(value, dict):
                for layer, v in value.items():
                    getattr(model, param)[layer] = v
            else:
                getattr(model, param).fill_(value)
    state = model.state_dict()
    path = tmp_path / name
    torch.save(state if wrap is None else {wrap: state, "epoch": 7}, path)
    return str(path)


def _check(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["check", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _json(capsys, *argv: str) -> tuple[int, dict]:
    status, out, _ = _check(capsys, *argv, "--json")
    return status, json.loads(out)


# Verdicts at the trained values ---------------------------------------------------------------------------------


def test_heavy_ball_trained_past_one_is_not_guaranteed_and_names_beta(tmp_path, capsys, heavy_ball):
    path = _saved(tmp_path, heavy_ball(4, 5), beta=1.2)
    status, facts = _json(capsys, HEAVY_BALL, "--weights", path)
    assert status == 1
    assert facts["verdict"] == "not_guaranteed"
    assert facts["zero_stable"] is False
    assert any("beta = 1.2 outside the region -1 <= beta < 1" in reason for reason in facts["reasons"])
    assert facts["roots_of"] == "at the trained values"
    beta = next(p for p in facts["params"] if p["name"] == "beta")
    assert beta["trained"] == float(torch.tensor(1.2))  # the exact float32 value
    assert beta["trained_inside"] is False and "initial_inside" not in beta


def test_heavy_ball_inside_its_region_is_guaranteed(tmp_path, capsys, heavy_ball):
    path = _saved(tmp_path, heavy_ball(4, 5), beta=0.5)
    status, out, _ = _check(capsys, HEAVY_BALL, "--weights", path)
    assert status == 0
    assert "at the trained values in" in out
    assert "trained: 0.5" in out
    assert "verdict: guaranteed" in out


def test_the_trained_value_is_judged_exactly(tmp_path, capsys, heavy_ball):
    """float32(0.99999999) is 1.0 exactly: beta = 1 makes zeta = 1 a double root, never rounded away."""
    path = _saved(tmp_path, heavy_ball(4, 5), beta=0.99999999)
    status, facts = _json(capsys, HEAVY_BALL, "--weights", path)
    assert status == 1 and facts["consistent"] is False


def test_lm_resnet_one_layer_outside_is_named(tmp_path, capsys, lm_resnet):
    path = _saved(tmp_path, lm_resnet(4, DEPTH), kn={37: 1.24, 3: 0.3})
    status, facts = _json(capsys, LM_RESNET, "--weights", path)
    assert status == 1
    assert facts["reasons"] == ["layer 37: kn = 1.24 outside -1 < kn <= 1; root zeta = -1.24 (|zeta| = 1.24 > 1)"]
    assert facts["fixed_depth"] == DEPTH and facts["max_depth_guaranteed"] == 37
    layers = facts["layers"]
    assert [layer["k"] for layer in layers] == list(range(DEPTH))
    assert [layer["k"] for layer in layers if not layer["guaranteed"]] == [37]
    assert layers[37]["values"] == {"kn": float(torch.tensor(1.24))}
    assert layers[37]["zero_stable"] is False and layers[37]["why"] == facts["reasons"][0]
    assert max(root["abs"] for root in layers[37]["roots"]) == pytest.approx(1.24)
    assert layers[3]["guaranteed"] is True and layers[3]["values"] == {"kn": float(torch.tensor(0.3))}


def test_lm_resnet_inside_is_guaranteed_and_the_report_says_so(tmp_path, capsys, lm_resnet):
    path = _saved(tmp_path, lm_resnet(4, DEPTH), kn={0: 0.9, 5: -0.9, 9: 1.0})
    status, out, _ = _check(capsys, LM_RESNET, "--weights", path)
    assert status == 0
    assert f"its learnable schedules fix the depth {DEPTH}" in out
    assert f"each layer 0-{DEPTH - 1} passes at its trained values" in out
    assert "region of kn: -1 < kn <= 1 (trained values inside)" in out


def test_many_failing_layers_are_counted(tmp_path, capsys, lm_resnet):
    path = _saved(tmp_path, lm_resnet(4, DEPTH), kn=-1.5)
    status, facts = _json(capsys, LM_RESNET, "--weights", path)
    assert status == 1
    assert facts["reasons"][0].startswith("layer 0: kn = -1.5 outside -1 < kn <= 1; root zeta = 1.5")
    assert facts["reasons"][-1] == f"{DEPTH - 10} more layers fail at their trained values: layers 10-{DEPTH - 1}"


def test_json_without_weights_is_unchanged(capsys):
    _, facts = _json(capsys, HEAVY_BALL)
    assert "weights" not in facts and "layers" not in facts and "fixed_depth" not in facts


def test_json_keys_with_weights(tmp_path, capsys, heavy_ball):
    path = _saved(tmp_path, heavy_ball(4, 5), beta=0.5)
    status, facts = _json(capsys, HEAVY_BALL, "--weights", path)
    assert status == 0
    assert facts["weights"] == path and facts["fixed_depth"] is None
    (layer,) = facts["layers"]  # constant coefficients: one entry for every layer
    assert layer["k"] is None and layer["values"] == {"beta": 0.5} and layer["guaranteed"] is True
    assert set(layer) == {"k", "values", "finite", "consistent", "zero_stable", "strongly_stable", "guaranteed",
                          "roots", "why"}  # fmt: skip


@pytest.mark.parametrize("wrap", ["state_dict", "model"])
def test_a_wrapped_state_dict_is_read(tmp_path, capsys, heavy_ball, wrap):
    path = _saved(tmp_path, heavy_ball(4, 5), wrap=wrap, beta=1.2)
    status, facts = _json(capsys, HEAVY_BALL, "--weights", path)
    assert status == 1 and facts["weights"] == path


def test_data_parallel_prefix_is_dropped(tmp_path, capsys, heavy_ball):
    state = {f"module.{k}": v for k, v in heavy_ball(4, 5).state_dict().items()}
    torch.save(state, tmp_path / "dp.pt")
    status, _, _ = _check(capsys, HEAVY_BALL, "--weights", str(tmp_path / "dp.pt"))
    assert status == 0


def test_pipeline_check_takes_weights(tmp_path, heavy_ball):
    path = _saved(tmp_path, heavy_ball(4, 5), beta=1.2)
    derived = pipeline.derive_source(Path(HEAVY_BALL).read_text(encoding="utf-8"), HEAVY_BALL)
    facts = pipeline.check(derived, weights=path)
    assert facts.verdict == "not_guaranteed" and facts.weights == path


# Mismatches: located errors, exit 2 ------------------------------------------------------------------------------


def _error(tmp_path, capsys, state_or_path, alg: str = HEAVY_BALL) -> str:
    if isinstance(state_or_path, str):
        path = state_or_path
    else:
        path = str(tmp_path / "bad.pt")
        torch.save(state_or_path, path)
    status, out, err = _check(capsys, alg, "--weights", path)
    assert status == 2, err
    assert out == "" and "Traceback" not in err
    return err


def test_missing_key_is_located_at_the_param(tmp_path, capsys, heavy_ball):
    state = heavy_ball(4, 5).state_dict()
    del state["beta"]
    err = _error(tmp_path, capsys, state)
    assert "heavy_ball.alg:6:1: error:" in err and "has no `beta`, the learnable param `beta`" in err


def test_unknown_key_is_an_error(tmp_path, capsys, heavy_ball):
    state = heavy_ball(4, 5).state_dict()
    state["gamma"] = torch.tensor(0.5)
    err = _error(tmp_path, capsys, state)
    assert "bad.pt: error:" in err and "`gamma`" in err and "another algorithm" in err


def test_wrong_shape_is_an_error(tmp_path, capsys, heavy_ball):
    state = heavy_ball(4, 5).state_dict()
    state["beta"] = torch.tensor([0.5, 0.5])
    err = _error(tmp_path, capsys, state)
    assert "`beta`" in err and "shape (2,)" in err and "needs shape ()" in err


def test_a_checkpoint_of_another_algorithm_is_an_error(tmp_path, capsys, lm_resnet):
    err = _error(tmp_path, capsys, lm_resnet(4, 5).state_dict())
    assert "has no `beta`" in err


def test_a_fixed_param_built_with_another_value_is_an_error(tmp_path, capsys, heavy_ball):
    err = _error(tmp_path, capsys, heavy_ball(4, 5, h=0.5).state_dict())
    assert "the fixed param `h` is 0.5" in err and "but 1 in this file" in err


def test_a_file_that_is_not_a_checkpoint_is_an_error(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("not a checkpoint\n", encoding="utf-8")
    err = _error(tmp_path, capsys, str(path))
    assert "is not a checkpoint torch can read safely" in err


def test_a_missing_file_is_an_error(tmp_path, capsys):
    err = _error(tmp_path, capsys, str(tmp_path / "nowhere.pt"))
    assert "no such file" in err


def test_a_dict_without_a_state_dict_is_an_error(tmp_path, capsys):
    err = _error(tmp_path, capsys, {"epoch": 3, "lr": 0.1})
    assert "holds no state dict" in err


class Pickled:
    """A custom object: torch.load(weights_only=True) must refuse to unpickle it."""


def test_a_pickled_object_is_refused_not_unpickled(tmp_path, capsys, heavy_ball):
    err = _error(tmp_path, capsys, {"state_dict": heavy_ball(4, 5).state_dict(), "extra": Pickled()})
    assert "refuses to unpickle" in err


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_trained_value_is_an_error(tmp_path, capsys, lm_resnet, value):
    path = _saved(tmp_path, lm_resnet(4, 6), kn={4: value})
    err = _error(tmp_path, capsys, path, LM_RESNET)
    assert "training diverged" in err and "at layer 4" in err and "lm_resnet.alg:7:1" in err


def test_without_torch_a_clear_error(tmp_path, capsys, monkeypatch, heavy_ball):
    path = _saved(tmp_path, heavy_ball(4, 5), beta=0.5)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    status, _, err = _check(capsys, HEAVY_BALL, "--weights", path)
    assert status == 2 and "--weights needs torch, which is not installed" in err and "alg2net[torch]" in err


def test_errors_are_alg2net_errors_in_the_api(tmp_path):
    derived = pipeline.derive_source(Path(HEAVY_BALL).read_text(encoding="utf-8"), HEAVY_BALL)
    path = tmp_path / "x.pt"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(Alg2NetError) as caught:
        pipeline.check(derived, weights=str(path))
    assert caught.value.code == "bad-checkpoint"


# --constrain: the raw parameters are read through the map --------------------------------------------------------


def test_a_constrained_checkpoint_is_read_through_its_map(tmp_path, capsys):
    network = _load(HEAVY_BALL, constrain=True)(4, 5)
    path = _saved(tmp_path, network, beta_raw=50.0)  # float32's sigmoid is 1: beta at the top of its map
    status, facts = _json(capsys, HEAVY_BALL, "--weights", path)
    assert status == 0, facts["reasons"]
    beta = next(p for p in facts["params"] if p["name"] == "beta")
    assert 0.9999 < beta["trained"] < 1 and beta["trained_inside"] is True


def test_a_constrained_schedule_is_read_layer_by_layer(tmp_path, capsys):
    network = _load(LM_RESNET, constrain=True)(4, 6)
    path = _saved(tmp_path, network, kn_raw={0: 40.0, 1: -40.0, 2: 3.0})
    status, facts = _json(capsys, LM_RESNET, "--weights", path)
    assert status == 0, facts["reasons"]
    values = [layer["values"]["kn"] for layer in facts["layers"]]
    assert -1 < values[1] < -0.9999 and 0.9999 < values[0] <= 1


# Trained values that leave a coefficient undefined, and joint params ------------------------------------------------

ZEROSNET = str(ROOT / "examples" / "zerosnet.alg")
LMM3 = str(ROOT / "examples" / "learnable_lmm3.alg")


def test_zerosnet_at_lambda_zero_is_an_error_not_a_traceback(tmp_path, capsys):
    path = _saved(tmp_path, _load(ZEROSNET)(4, 5), lam=0.0)
    err = _error(tmp_path, capsys, path, ZEROSNET)
    assert "at the trained values (lam = 0)" in err and "is not a finite real number" in err


def test_zerosnet_in_its_unstable_range_is_not_guaranteed(tmp_path, capsys):
    path = _saved(tmp_path, _load(ZEROSNET)(4, 5), lam=0.2)
    status, facts = _json(capsys, ZEROSNET, "--weights", path)
    assert status == 1
    assert "trained value lam = 0.2 outside the region lam <= -1 or 1/3 < lam" in facts["reasons"]


def test_a_square_root_of_a_negative_trained_value_is_an_error(tmp_path, capsys):
    source = tmp_path / "sq.alg"
    source.write_text(
        "algorithm sq\nparam h = 1\nparam beta = 0.25 learnable\n"
        "x[k+1] = x[k] - h * grad f(x[k]) + sqrt(beta) * (x[k] - x[k-1])\n",
        encoding="utf-8",
    )
    path = _saved(tmp_path, _load(str(source))(4, 5), beta=-0.25)
    err = _error(tmp_path, capsys, path, str(source))
    assert "sqrt(beta) = I/2 is not a finite real number" in err


def test_learnable_lmm3_outside_the_schur_cohn_triangle(tmp_path, capsys):
    network = _load(LMM3)(4, 5)
    status, _ = _json(capsys, LMM3, "--weights", _saved(tmp_path, network, "in.pt", a=1.5, b=-0.7))
    assert status == 0  # q = zeta^2 - 1.5*zeta + 0.7: complex roots of modulus sqrt(0.7)
    status, facts = _json(capsys, LMM3, "--weights", _saved(tmp_path, network, "out.pt", a=1.5, b=0.2))
    assert status == 1 and facts["zero_stable"] is False


def test_a_reflection_constrained_checkpoint_is_guaranteed(tmp_path, capsys):
    network = _load(LMM3, constrain=True)(4, 5)
    path = _saved(tmp_path, network, a_raw=30.0, b_raw=-25.0)  # reflection coefficients at their bounds
    status, facts = _json(capsys, LMM3, "--weights", path)
    assert status == 0, facts["reasons"]
    values = facts["layers"][0]["values"]
    assert values["b"] == pytest.approx(network.b.item(), abs=1e-6)
    assert values["a"] == pytest.approx(network.a.item(), abs=1e-6)


def test_the_python_api_checks_a_checkpoint_as_the_command_line_does(tmp_path, capsys, heavy_ball):
    path = _saved(tmp_path, heavy_ball(4, 5), beta=1.2)
    text = Path(HEAVY_BALL).read_text(encoding="utf-8")
    facts = alg2net.check_source(text, weights=path, filename=HEAVY_BALL)
    assert facts == _json(capsys, HEAVY_BALL, "--weights", path)[1]
    assert facts["verdict"] == "not_guaranteed" and facts["weights"] == path
