"""The generated modules with their compiled-in blocks keep module.md's contract.

Training reaches every parameter; fixed params are buffers; torch.compile(fullgraph=True) works; every block kind
preserves shape, dtype and device; tying and block_factory; constructor checks; the generated text is black- and
ruff-clean, imports only torch and the standard library, and is deterministic; gradcheck in float64.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import alg2net

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.alg"))
BLOCKS = ("mlp", "conv", "attention")
ACTIVATIONS = ("relu", "gelu", "sigmoid", "tanh")
WIDTH, DEPTH = 4, 3


@functools.cache
def load(example: Path, **options) -> type:
    """`alg2net.load(example, **options)`, once per example and options (the classes are stateless)."""
    return alg2net.load(example, **options)


def example(stem: str) -> Path:
    return ROOT / "examples" / f"{stem}.alg"


def dsl_params(path: Path) -> dict[str, bool]:
    """The params an `.alg` file declares, each with whether it is learnable (read from the text, not the compiler)."""
    params: dict[str, bool] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*param\s+(\w+)\s*(\[[^\]]*\])?\s*=(.*)", line.split("#")[0])
        if match:
            params[match[1]] = match[3].split()[-1] == "learnable"
    return params


def stored_name(names: set[str], name: str) -> str:
    """The attribute a DSL param lives under: its name, or with the `_` Python needs for a keyword or builtin."""
    found = [key for key in (name, f"{name}_") if key in names]
    assert found, f"param {name!r} is not among {sorted(names)}"
    return found[0]


def shaped_input(block: str, batch: int = 2, dtype=torch.float32, device="cpu") -> tuple[int, torch.Tensor]:
    """(width, x) for a block kind: (batch, width) for mlp, (batch, width, H, W) for conv, (batch, tokens, width)."""
    if block == "conv":
        return WIDTH, torch.randn(batch, WIDTH, 5, 5, dtype=dtype, device=device)
    if block == "attention":
        return 8, torch.randn(batch, 3, 8, dtype=dtype, device=device)
    return WIDTH, torch.randn(batch, WIDTH, dtype=dtype, device=device)


# Training --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_one_sgd_step_changes_every_block_and_learnable_param(path: Path):
    torch.manual_seed(0)
    model = load(path)(WIDTH, DEPTH)
    declared = dsl_params(path)
    top_parameters = {name for name, _ in model.named_parameters() if not name.startswith("blocks.")}
    top_buffers = {name for name, _ in model.named_buffers() if not name.startswith("blocks.")}
    learnable = {stored_name(top_parameters, name) for name, is_learnable in declared.items() if is_learnable}
    fixed = {stored_name(top_buffers, name) for name, is_learnable in declared.items() if not is_learnable}
    assert top_parameters == learnable, "learnable params must be nn.Parameters, and nothing else outside the blocks"
    assert top_buffers == fixed, "fixed params must be buffers"
    assert fixed <= set(model.state_dict()) and learnable <= set(model.state_dict())

    x, target = torch.randn(16, WIDTH), torch.randn(16, WIDTH)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    nn.functional.mse_loss(model(x), target).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.isfinite().all()]
    assert not missing, f"no (finite) gradient reaches {missing}"
    optimizer.step()
    unchanged = [name for name, p in model.named_parameters() if torch.equal(p.detach(), before[name])]
    assert not unchanged, f"one SGD step left {unchanged} unchanged"
    assert {name for name, _ in model.named_parameters() if name.startswith("blocks.")}, "no block parameters"


# torch.compile ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["heavy_ball", "nesterov", "momentum_resnet"])
def test_torch_compile_fullgraph_matches_eager(stem: str):
    torch.manual_seed(0)
    model = load(example(stem))(WIDTH, DEPTH)
    x = torch.randn(5, WIDTH)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    out = compiled(x)
    out.square().sum().backward()
    compiled_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    expected = model(x)
    expected.square().sum().backward()
    torch.testing.assert_close(out, expected)
    for name, p in model.named_parameters():
        torch.testing.assert_close(compiled_grads[name], p.grad, msg=f"gradient of {name}")


# Shapes, dtypes, devices, batch sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_block_kind_preserves_shape_and_trains(path: Path, block: str):
    torch.manual_seed(0)
    width, x = shaped_input(block)
    model = load(path, block=block)(width, 2)
    out = model(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    out.square().mean().backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reaches {missing}"


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_output_has_the_input_shape_dtype_and_device(path: Path, dtype: torch.dtype, batch: int):
    torch.manual_seed(0)
    model = load(path)(WIDTH, DEPTH).to(dtype)
    x = torch.randn(batch, WIDTH, dtype=dtype)
    out = model(x)
    assert (out.shape, out.dtype, out.device) == (x.shape, x.dtype, x.device)
    assert all(p.dtype == dtype for p in model.parameters()) and all(b.dtype == dtype for b in model.buffers())


@pytest.mark.parametrize("block", BLOCKS)
def test_nothing_is_tied_to_a_device(block: str):
    """On the meta device every tensor the forward pass creates must follow the input (no hard-coded CPU)."""
    for stem in ("momentum_resnet", "fista_momentum", "lm_resnet"):  # zeros init, recurrence, schedule
        width, x = shaped_input(block, device="meta")
        out = load(example(stem), block=block)(width, DEPTH).to("meta")(x)
        assert (out.shape, out.device) == (x.shape, x.device)


# Tying and block_factory -----------------------------------------------------------------------------------------


def _recording_factory(calls: list[tuple[str, int]]):
    def factory(name: str, layer: int) -> nn.Module:
        calls.append((name, layer))
        return nn.Linear(WIDTH, WIDTH)

    return factory


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_tied_and_untied_blocks(path: Path):
    net = load(path)
    untied, tied = net(WIDTH, DEPTH), net(WIDTH, DEPTH, tied=True)
    functions = list(untied.blocks.keys())
    assert functions and list(tied.blocks.keys()) == functions
    assert all(len(untied.blocks[f]) == DEPTH for f in functions)
    assert all(len(tied.blocks[f]) == 1 for f in functions)
    assert isinstance(untied.blocks, nn.ModuleDict) and all(
        isinstance(m, nn.ModuleList) for m in untied.blocks.values()
    )

    calls: list[tuple[str, int]] = []
    net(WIDTH, DEPTH, block_factory=_recording_factory(calls))
    names = sorted({name for name, _ in calls})
    assert sorted(calls) == [(name, layer) for name in names for layer in range(DEPTH)]
    assert len(names) == len(functions)
    tied_calls: list[tuple[str, int]] = []
    net(WIDTH, DEPTH, block_factory=_recording_factory(tied_calls), tied=True)
    assert sorted(tied_calls) == [(name, 0) for name in names]


def test_tied_compile_option_sets_the_default():
    net = load(example("heun"), tied=True)
    assert len(net(WIDTH, DEPTH).blocks["f"]) == 1
    assert len(net(WIDTH, DEPTH, tied=False).blocks["f"]) == DEPTH


def test_tied_module_trains_its_one_block():
    torch.manual_seed(0)
    model = load(example("heavy_ball"))(WIDTH, DEPTH, tied=True)
    model(torch.randn(3, WIDTH)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_same_call_is_computed_once_per_layer():
    """dsl.md: all `grad F` calls of one layer share its block, and the same call is computed once (Heun: 2 calls)."""
    calls = []

    class Counting(nn.Linear):
        def forward(self, z):
            calls.append(id(self))
            return super().forward(z)

    model = load(example("heun"))(WIDTH, DEPTH, block_factory=lambda name, layer: Counting(WIDTH, WIDTH))
    model(torch.randn(2, WIDTH))
    assert [calls.count(id(block)) for block in model.blocks["f"]] == [2] * DEPTH


# Constructor -----------------------------------------------------------------------------------------------------


def test_param_override_sets_the_initial_value():
    model = load(example("heavy_ball"))(8, 3, beta=0.5)
    assert isinstance(model.beta, nn.Parameter) and model.beta.item() == 0.5
    assert model.h.item() == 1 and "h" in dict(model.named_buffers())
    assert load(example("heavy_ball"))(8, 3, h=0.25).h.item() == 0.25


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_unknown_param_and_bad_depth_are_refused(path: Path):
    net = load(path)
    with pytest.raises(TypeError, match="betta"):
        net(WIDTH, DEPTH, betta=0.5)
    for depth in (0, -1):
        with pytest.raises(ValueError, match="depth"):
            net(WIDTH, depth)


@pytest.mark.parametrize(("stem", "name"), [("lm_resnet", "kn"), ("nesterov_schedule", "mu")])
def test_schedule_override_needs_one_value_per_layer(stem: str, name: str):
    net = load(example(stem))
    values = [0.1 * k for k in range(DEPTH)]
    assert getattr(net(WIDTH, DEPTH, **{name: values}), name).tolist() == pytest.approx(values)
    for wrong in (values[:-1], values + [0.5]):
        with pytest.raises(ValueError, match=name):
            net(WIDTH, DEPTH, **{name: wrong})


# The generated text ----------------------------------------------------------------------------------------------
# All 16 x 3 x 4 x 2 combinations would take ~40 s of black formatting inside the compiler alone, so each example
# meets every block kind, every activation and both tied values, and across examples every (block, activation,
# tied) triple occurs: example i uses (ACTIVATIONS[j], BLOCKS[(i+j) % 3], tied=(i+j) odd) for j = 0..3.


def _combinations() -> list[tuple[Path, str, str, bool]]:
    return [
        (path, BLOCKS[(i + j) % 3], activation, (i + j) % 2 == 1)
        for i, path in enumerate(EXAMPLES)
        for j, activation in enumerate(ACTIVATIONS)
    ]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[tuple[Path, str, str, bool], Path]:
    """Every combination's generated file, written to a fresh folder with an empty pyproject.toml (default black)."""
    folder = tmp_path_factory.mktemp("generated")
    (folder / "pyproject.toml").write_text("")
    files = {}
    for path, block, activation, tied in _combinations():
        text = alg2net.compile_source(
            path.read_text(encoding="utf-8"), block=block, activation=activation, tied=tied, filename=str(path)
        )
        files[path, block, activation, tied] = (
            folder / f"{path.stem}_{block}_{activation}_{'tied' if tied else 'untied'}.py"
        )
        files[path, block, activation, tied].write_text(text, encoding="utf-8")
    return files


def test_combinations_cover_every_option():
    combinations = _combinations()
    for path in EXAMPLES:
        mine = [c for c in combinations if c[0] == path]
        assert {c[1] for c in mine} == set(BLOCKS) and {c[2] for c in mine} == set(ACTIVATIONS)
        assert {c[3] for c in mine} == {False, True}
    if len(EXAMPLES) >= 6:
        assert {c[1:] for c in combinations} == {(b, a, t) for b in BLOCKS for a in ACTIVATIONS for t in (False, True)}


def test_generated_files_pass_ruff(generated):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--output-format", "concise", "."],
        check=False,
        cwd=next(iter(generated.values())).parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_files_are_black_formatted(generated):
    result = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", "."],
        check=False,
        cwd=next(iter(generated.values())).parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"not black-formatted:\n{result.stdout}{result.stderr}"


def test_generated_files_import_only_torch_and_the_standard_library(generated):
    for file in generated.values():
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{file.name}: relative import"
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top == "torch" or top in sys.stdlib_module_names, f"{file.name} imports {module}"
                assert top != "alg2net", f"{file.name} imports alg2net"


def test_generated_files_define_nothing_unused(generated):
    """module.md: no dead code. Every function and method the file defines (but forward) is used in it."""
    for file in generated.values():
        tree = ast.parse(file.read_text(encoding="utf-8"))
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("__") and item.name != "forward":
                        assert item.name in used, f"{file.name}: method {node.name}.{item.name} is never used"
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                assert node.name in used, f"{file.name}: function {node.name} is never used"


def test_compiling_twice_gives_the_same_text(generated):
    seen = set()
    for (path, block, activation, tied), file in generated.items():
        if path in seen:
            continue
        seen.add(path)
        again = alg2net.compile_source(
            path.read_text(encoding="utf-8"), block=block, activation=activation, tied=tied, filename=str(path)
        )
        assert again == file.read_text(encoding="utf-8"), f"{file.name} differs on a second compile"


def test_the_cli_output_does_not_depend_on_the_hash_seed(generated):
    """Same input and options, byte-identical output, also across processes (string hashing changes set order)."""
    path = example("admm")  # two prox steps, an init, an output: the most the compiler decides
    (_, block, activation, tied), file = next((key, f) for key, f in generated.items() if key[0] == path)
    command = [sys.executable, "-m", "alg2net", "compile", str(path), "--block", block, "--activation", activation]
    command += ["--tied"] if tied else []
    outputs = set()
    for seed in ("0", "4242"):
        result = subprocess.run(
            command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed}, check=True
        )
        outputs.add(result.stdout)
    assert outputs == {file.read_text(encoding="utf-8")}


# Gradients in float64 --------------------------------------------------------------------------------------------


def test_gradcheck_through_heun():
    torch.manual_seed(0)
    model = load(example("heun"), activation="tanh")(3, 2).double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(model, (x,))


def test_gradcheck_with_respect_to_a_learnable_param():
    torch.manual_seed(0)
    model = load(example("nesterov"), activation="tanh")(3, 2).double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    mu = model.mu.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, mu: torch.func.functional_call(model, {"mu": mu}, (x,)), (x, mu))


def test_gradcheck_through_an_implicit_step():
    """Implicit differentiation of a prox (module.md) against finite differences of the solved forward pass."""
    torch.manual_seed(0)
    model = load(example("proximal_point"), activation="tanh")(
        3, 2, h=0.5, solver_tol=1e-12, solver_max_iter=200
    ).double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(model, (x,))
