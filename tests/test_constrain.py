"""`alg2net compile --constrain` (guarantee.md): learnable params held strictly inside their derived region.

The maps of `alg2net.constraints` against the generated torch code; an untrained constrained network computes what
the unconstrained one does; every raw value, however extreme, in float32 and float64, gives values inside the
region (for the reflection-coefficient map: every root of rho but zeta = 1 strictly inside the unit disk, a
Hypothesis property); refusals and located errors; gradients through the memory modes; the generated files lint.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import alg2net
from alg2net.cli import main as cli
from alg2net.constraints import MARGIN, Bounded, Reflection, step_down, step_up
from alg2net.pipeline import constraints_of, derive_source

ROOT = Path(__file__).resolve().parent.parent
WIDTH, DEPTH = 3, 4

# The examples with learnable params in rho or the c_F, and the region `check` derives (exact ends; None: no end).
EXAMPLE_REGIONS = {
    "heavy_ball": {"beta": (Fraction(-1), Fraction(1))},
    "lm_resnet": {"kn": (Fraction(-1), Fraction(1))},
    "zerosnet": {"lam": (Fraction(1, 3), None)},
    "nesterov": {"mu": (Fraction(-1), Fraction(1))},
    "reversible_heun": {"lam": (Fraction(-1), Fraction(1))},
}

# The learnable three-step family of the brief (h = 0.5), and families whose q has a non-identity affine map or
# degree 3: rho(zeta) = (zeta - 1) q(zeta) with q = zeta**2 - (a + b) zeta + (a - b)/2 and q = zeta**3 - a zeta**2
# - b zeta - c.
LMM3 = """algorithm learnable_lmm3
param h = 0.5
param a = 0.5 learnable
param b = -0.2 learnable
x[k+1] = (1 + a) * x[k] + (b - a) * x[k-1] - b * x[k-2] - h * grad f(x[k])
"""
SHEARED = """algorithm sheared
param h = 1
param a = 0.3 learnable
param b = 0.1 learnable
x[k+1] = (1 + a + b) * x[k] - (a + b + (a - b)/2) * x[k-1] + (a - b)/2 * x[k-2] - h * grad f(x[k])
"""
LMM4 = """algorithm lmm4
param h = 1
param a = 0.2 learnable
param b = 0.1 learnable
param c = 0.05 learnable
x[k+1] = (1 + a) * x[k] - (a - b) * x[k-1] - (b - c) * x[k-2] - c * x[k-3] - h * grad f(x[k])
"""
JOINT = {"lmm3": LMM3, "sheared": SHEARED, "lmm4": LMM4}
EXTREMES = (-1e4, -100.0, -17.0, -1.0, 0.0, 1.0, 17.0, 100.0, 1e4)


def example_text(stem: str) -> str:
    return (ROOT / "examples" / f"{stem}.alg").read_text(encoding="utf-8")


@functools.cache
def network(text: str, **options) -> type:
    """The network class of `text` compiled with `options` (cached: the classes are stateless)."""
    source = alg2net.compile_source(text, **options)
    last = [node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)][-1]
    namespace: dict = {"__name__": "alg2net_test_constrain"}
    exec(compile(source, "<alg2net test>", "exec"), namespace)  # noqa: S102 - the compiler's own output
    return namespace[last]


def pair(text: str, dtype=torch.float64, **options):
    """An unconstrained and a constrained network of `text` with the same blocks."""
    torch.manual_seed(0)
    plain = network(text, **options)(WIDTH, DEPTH, dtype=dtype)
    held = network(text, constrain=True, **options)(WIDTH, DEPTH, dtype=dtype)
    held.blocks.load_state_dict(plain.blocks.state_dict())
    return plain, held


def set_raws(model: torch.nn.Module, value: float) -> None:
    with torch.no_grad():
        for name, parameter in model.named_parameters(recurse=False):
            assert name.endswith("_raw"), name
            parameter.fill_(value)


def inside(value: float, ends: tuple[Fraction | None, Fraction | None]) -> bool:
    """Exactly: `value` strictly between the ends."""
    exact, (low, high) = Fraction(value), ends
    return (low is None or exact > low) and (high is None or exact < high)


def other_roots_inside(rho: list[float]) -> bool:
    """Every root of rho but the one at zeta = 1 strictly inside the unit disk."""
    roots = sorted(np.roots(rho), key=lambda r: abs(r - 1))
    return abs(roots[0] - 1) < 1e-6 and all(abs(r) < 1 for r in roots[1:])


def rho_of(stem: str, values: dict[str, float]) -> list[float]:
    """rho(zeta) = (zeta - 1) q(zeta) of the joint families, from the params' values."""
    q = {
        "lmm3": lambda a, b: [1, -a, -b],
        "sheared": lambda a, b: [1, -(a + b), (a - b) / 2],
        "lmm4": lambda a, b, c: [1, -a, -b, -c],
    }[stem](**values)
    return list(np.polymul([1.0, -1.0], q))


# The maps ---------------------------------------------------------------------------------------------------------


def test_the_examples_get_their_maps():
    found = {stem: constraints_of(derive_source(example_text(stem))) for stem in EXAMPLE_REGIONS}
    assert found["heavy_ball"] == (Bounded("beta", -1.0, 1.0),)
    assert found["lm_resnet"] == (Bounded("kn", -1.0, 1.0, per_layer=True),)
    assert found["zerosnet"] == (Bounded("lam", 1 / 3, None),)
    (joint,) = constraints_of(derive_source(example_text("learnable_lmm3")))
    assert isinstance(joint, Reflection) and joint.names == ("a", "b")
    assert constraints_of(derive_source(example_text("momentum_resnet"))) == ()


def test_params_that_enter_apart_are_held_apart():
    text = "algorithm hb\nparam h = 1 learnable\nparam beta = 0.9 learnable\n"
    text += "x[k+1] = x[k] - h * grad f(x[k]) + beta * (x[k] - x[k-1])\n"
    assert constraints_of(derive_source(text)) == (Bounded("h", 0.0, None), Bounded("beta", -1.0, 1.0))


def test_step_up_and_step_down_invert_each_other():
    kappas = [0.3, -0.9, 0.5, 0.99]
    assert np.allclose(step_down(step_up(kappas)), kappas)
    assert max(abs(np.roots([1.0, *step_up(kappas)]))) < 1


@pytest.mark.parametrize("held", [Bounded("beta", -1.0, 1.0), Bounded("lam", 1 / 3, None), Bounded("p", None, -1.0)])
def test_bounded_raw_inverts_effective_and_stays_inside(held: Bounded):
    for value in (held.lower or held.upper - 3, held.upper or held.lower + 3):
        value = value + (1e-3 if value == held.lower else -1e-3)
        assert held.effective(held.raw(value)) == pytest.approx(value, rel=1e-12)
    ends = tuple(None if e is None else Fraction(e) for e in (held.low, held.high))
    assert all(inside(held.effective(theta), ends) for theta in EXTREMES)
    with pytest.raises(ValueError):
        held.raw(held.high if held.high is not None else held.low)


# The generated module ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["heavy_ball", "lm_resnet", "zerosnet", "learnable_lmm3"])
def test_untrained_constrained_network_computes_what_the_unconstrained_one_does(stem: str):
    plain, held = pair(example_text(stem))
    x = torch.randn(5, WIDTH, dtype=torch.float64)
    torch.testing.assert_close(held(x), plain(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stem", sorted(JOINT))
def test_untrained_joint_families_compute_what_the_unconstrained_ones_do(stem: str):
    plain, held = pair(JOINT[stem])
    x = torch.randn(5, WIDTH, dtype=torch.float64)
    torch.testing.assert_close(held(x), plain(x), rtol=1e-12, atol=1e-12)
    for name in ("a", "b", "c")[: len(held.state_dict()) - 1 - len(held.blocks.state_dict())]:
        assert getattr(held, name).item() == pytest.approx(getattr(plain, name).item(), abs=1e-13)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("stem", sorted(EXAMPLE_REGIONS))
def test_every_raw_value_gives_a_value_strictly_inside_the_region(stem: str, dtype: torch.dtype):
    ((name, ends),) = EXAMPLE_REGIONS[stem].items()
    model = network(example_text(stem), constrain=True)(WIDTH, DEPTH, dtype=dtype)
    for theta in EXTREMES:
        set_raws(model, theta)
        values = getattr(model, name).detach().reshape(-1)
        assert values.dtype == dtype
        assert all(inside(v, ends) for v in values.tolist()), (theta, values)


def test_bounded_effective_agrees_with_the_generated_map():
    text = example_text("zerosnet")
    (held,) = constraints_of(derive_source(text))
    model = network(text, constrain=True)(WIDTH, DEPTH, dtype=torch.float64)
    for theta in (*EXTREMES, -30.0, 0.123, 5.0, 25.0):
        set_raws(model, theta)
        assert model.lam.item() == pytest.approx(held.effective(theta), rel=1e-14, abs=1e-300)
    (held,) = constraints_of(derive_source(example_text("heavy_ball")))
    model = network(example_text("heavy_ball"), constrain=True)(WIDTH, DEPTH, dtype=torch.float64)
    for theta in (*EXTREMES, 0.123, 5.0):
        set_raws(model, theta)
        assert model.beta.item() == pytest.approx(held.effective(theta), rel=1e-15, abs=1e-15)


def test_reflection_effective_agrees_with_the_generated_map():
    (joint,) = constraints_of(derive_source(LMM4))
    model = network(LMM4, constrain=True)(WIDTH, DEPTH, dtype=torch.float64)
    rng = np.random.default_rng(0)
    for _ in range(20):
        raws = rng.normal(scale=3.0, size=3)
        with torch.no_grad():
            for key, theta in zip(joint.keys, raws):
                getattr(model, key).fill_(theta)
        generated = [model.a.item(), model.b.item(), model.c.item()]
        assert generated == pytest.approx(joint.effective(raws.tolist()), rel=1e-14, abs=1e-15)
        values = joint.effective(raws.tolist())  # theta itself is ill-conditioned where tanh(theta) is near +-1
        assert joint.effective(joint.raws(values)) == pytest.approx(values, rel=1e-12, abs=1e-12)


_RAW = st.one_of(st.floats(-40, 40, allow_nan=False), st.sampled_from(EXTREMES))


@settings(max_examples=200, deadline=None)
@given(stem=st.sampled_from(sorted(JOINT)), raws=st.lists(_RAW, min_size=3, max_size=3), double=st.booleans())
def test_any_raw_values_through_the_generated_reflection_map_give_a_zero_stable_rho(stem, raws, double):
    """Property (guarantee.md): random raw parameters through the generated map give rho with every root but
    zeta = 1 strictly inside the unit disk."""
    model = _joint_model(stem, torch.float64 if double else torch.float32)
    names = [name for name in ("a", "b", "c") if hasattr(model, f"{name}_raw")]
    with torch.no_grad():
        for name, theta in zip(names, raws):
            getattr(model, f"{name}_raw").fill_(theta)
    values = {name: float(getattr(model, name).item()) for name in names}
    assert other_roots_inside(rho_of(stem, values)), (raws, values)


@functools.cache
def _joint_model(stem: str, dtype: torch.dtype) -> torch.nn.Module:
    return network(JOINT[stem], constrain=True)(WIDTH, 1, dtype=dtype)


def test_model_attributes_read_the_effective_values_and_the_state_dict_holds_the_raws():
    model = network(example_text("heavy_ball"), constrain=True)(WIDTH, DEPTH)
    assert isinstance(model.beta, torch.Tensor) and model.beta.item() == pytest.approx(0.9, rel=1e-6)
    assert {k for k in model.state_dict() if not k.startswith("blocks.")} == {"h", "beta_raw"}
    assert [name for name, _ in model.named_parameters(recurse=False)] == ["beta_raw"]
    layered = network(example_text("lm_resnet"), constrain=True)(WIDTH, DEPTH, kn=[-0.1, 0.0, 0.2, 0.5])
    assert layered.kn_raw.shape == (DEPTH,)
    torch.testing.assert_close(layered.kn, torch.tensor([-0.1, 0.0, 0.2, 0.5]))
    joint = network(LMM3, constrain=True)(WIDTH, DEPTH)
    assert {k for k in joint.state_dict() if not k.startswith("blocks.")} == {"h", "a_raw", "b_raw"}


def test_the_constructor_refuses_a_value_outside_the_region():
    with pytest.raises(ValueError, match="beta = 1.5"):
        network(example_text("heavy_ball"), constrain=True)(WIDTH, DEPTH, beta=1.5)
    with pytest.raises(ValueError, match="unit disk"):
        network(LMM3, constrain=True)(WIDTH, DEPTH, a=1.5, b=0.0)


@pytest.mark.parametrize("memory", ["checkpoint", "reversible"])
@pytest.mark.parametrize(
    "text", [example_text("heavy_ball"), example_text("lm_resnet"), LMM3], ids=["hb", "lm", "lmm3"]
)
def test_gradients_reach_the_raw_params_in_every_memory_mode(text: str, memory: str):
    _, reference = pair(text)
    torch.manual_seed(1)
    model = network(text, constrain=True, memory=memory)(WIDTH, DEPTH, dtype=torch.float64)
    model.load_state_dict(reference.state_dict())
    x = torch.randn(5, WIDTH, dtype=torch.float64)
    reference(x).square().sum().backward()
    model(x).square().sum().backward()
    for name, parameter in reference.named_parameters(recurse=False):
        grad = dict(model.named_parameters(recurse=False))[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
        torch.testing.assert_close(grad, parameter.grad, rtol=1e-6, atol=1e-9)


def test_an_implicit_update_binds_the_mapped_values_and_differentiates_through_them():
    text = "algorithm implicit\nparam h = 0.5\nparam beta = 0.5 learnable\n"
    text += "x[k+1] = x[k] + beta * (x[k] - x[k-1]) - h * grad f(x[k+1])\n"
    plain, held = pair(text)
    x = torch.randn(5, WIDTH, dtype=torch.float64)
    torch.testing.assert_close(held(x), plain(x), rtol=1e-12, atol=1e-12)
    plain(x).sum().backward()
    held(x).sum().backward()
    slope = (held.beta - -0.99999) * (0.99999 - held.beta) / 1.99998  # d beta / d beta_raw
    torch.testing.assert_close(held.beta_raw.grad, plain.beta.grad * slope.detach(), rtol=1e-5, atol=1e-9)


def test_load_takes_the_option():
    model = alg2net.load(ROOT / "examples" / "zerosnet.alg", constrain=True)(WIDTH, DEPTH)
    assert hasattr(model, "lam_raw") and model.lam.item() == pytest.approx(1.0, rel=1e-6)


def test_without_constrain_nothing_changes():
    text = example_text("heavy_ball")
    assert alg2net.compile_source(text) == alg2net.compile_source(text, constrain=False)
    assert "beta_raw" not in alg2net.compile_source(text)


# Refusals and located errors --------------------------------------------------------------------------------------


def _cli(tmp_path: Path, text: str, capsys) -> tuple[int, str]:
    path = tmp_path / "algorithm.alg"
    path.write_text(text, encoding="utf-8")
    status = cli(["compile", str(path), "--constrain", "-o", str(tmp_path / "net.py")])
    return status, capsys.readouterr().err


def test_a_coupling_without_a_joint_map_is_refused_naming_the_params(tmp_path: Path, capsys):
    text = "algorithm coupled\nparam a = 0.3 learnable\nparam b = 0.2 learnable\n"
    text += "x[k+1] = (1 + a*b) * x[k] - a*b * x[k-1] - grad f(x[k])\n"
    status, err = _cli(tmp_path, text, capsys)
    assert status == 2 and "`a` and `b`" in err and "jointly" in err and ":2:1:" in err
    assert not (tmp_path / "net.py").exists()


def test_coefficients_that_vary_with_the_layer_are_refused(tmp_path: Path, capsys):
    text = "algorithm varying\nparam h[k] = 1/(k+1)\nparam beta = 0.5 learnable\n"
    text += "x[k+1] = x[k] - h[k] * grad f(x[k]) + beta * (x[k] - x[k-1])\n"
    status, err = _cli(tmp_path, text, capsys)
    assert status == 2 and "`beta`" in err and "varies with the layer" in err


@pytest.mark.parametrize(
    "param", ["param beta = 1 learnable", "param beta = -1 learnable", "param beta = 0.999999999 learnable"]
)
def test_an_initial_value_on_the_boundary_is_a_located_error(param: str):
    text = f"algorithm hb\n{param}\nx[k+1] = x[k] - grad f(x[k]) + beta * (x[k] - x[k-1])\n"
    with pytest.raises(alg2net.Alg2NetError) as caught:
        alg2net.compile_source(text, constrain=True)
    assert caught.value.code == "constrain-initial" and (caught.value.line, caught.value.column) == (2, 1)
    assert "boundary" in caught.value.message


def test_an_initial_value_outside_the_region_is_a_located_error():
    text = example_text("zerosnet").replace("param lam = 1 learnable", "param lam = 0.2 learnable")
    with pytest.raises(alg2net.Alg2NetError) as caught:
        alg2net.compile_source(text, constrain=True)
    assert caught.value.code == "constrain-initial" and "lam <= -1 or 1/3 < lam" in caught.value.message


def test_joint_initial_values_with_a_root_outside_are_a_located_error():
    text = LMM3.replace("param a = 0.5", "param a = 1.5")
    with pytest.raises(alg2net.Alg2NetError) as caught:
        alg2net.compile_source(text, constrain=True)
    assert caught.value.code == "constrain-initial" and caught.value.line == 3


# The generated files ----------------------------------------------------------------------------------------------

LINTED = [
    ("heavy_ball", "autograd"),
    ("heavy_ball", "reversible"),
    ("lm_resnet", "checkpoint"),
    ("lm_resnet", "reversible"),
    ("zerosnet", "checkpoint"),
    ("learnable_lmm3", "reversible"),
    ("reversible_heun", "reversible"),
    ("nesterov", "autograd"),
]


@pytest.fixture(scope="module")
def constrained_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("constrained")
    (folder / "pyproject.toml").write_text("[tool.black]\nline-length = 120\n")
    files = []
    sources = [(stem, example_text(stem), memory) for stem, memory in LINTED]
    sources += [(stem, text, "checkpoint") for stem, text in JOINT.items()]
    for stem, text, memory in sources:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", alg2net.Alg2NetWarning)
            source = alg2net.compile_source(text, constrain=True, memory=memory)
        files.append(folder / f"{stem}_{memory}.py")
        files[-1].write_text(source, encoding="utf-8")
    return files


def test_constrained_files_pass_ruff_and_black(constrained_files: list[Path]):
    folder = constrained_files[0].parent
    for command in (["ruff", "check", "--isolated", "--no-cache", "."], ["black", "--check", "--quiet", "."]):
        result = subprocess.run(
            [sys.executable, "-m", *command], check=False, cwd=folder, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_constrained_files_import_only_torch_and_the_standard_library(constrained_files: list[Path]):
    for file in constrained_files:
        text = file.read_text(encoding="utf-8")
        assert "--constrain" in text and f"{MARGIN!r}" in text
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert all(n.split(".")[0] == "torch" or n.split(".")[0] in sys.stdlib_module_names for n in names)
