"""The generated modules with their compiled-in blocks keep module.md's contract.

Training reaches every parameter; fixed params are buffers; torch.compile(fullgraph=True) works; every block kind
preserves shape, dtype and device; tying and block_factory; constructor checks; the generated text is black- and
ruff-clean, imports only torch and the standard library, and is deterministic; gradcheck in float64.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

import alg2net
from alg2net.cli import main as cli
from alg2net.codegen.describe import compile_warnings
from alg2net.codegen.options import make_options
from alg2net.pipeline import derive_source

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.alg"))
BLOCKS = ("mlp", "conv", "attention")
ACTIVATIONS = ("relu", "gelu", "sigmoid", "tanh")
NORMS = ("batch", "group", "none")
WIDTH, DEPTH = 4, 3
IMPLICIT = {"admm", "bdf2", "fista", "ista", "linearized_admm", "proximal_point", "trapezoidal"}
# The examples of which a layer calls a block more than once (two points, or a fixed-point solve).
SEVERAL_CALLS = IMPLICIT | {"adams_bashforth2", "heun", "reversible_heun"}


@functools.cache
def load(example: Path, **options) -> type:
    """`alg2net.load(example, **options)`, once per example and options (the classes are stateless). The advice
    for BatchNorm in conv blocks called several times is expected here (its own tests are below)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*compile with --norm group", alg2net.Alg2NetWarning)
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


def dsl_defaults(path: Path) -> dict[str, float | None]:
    """Each param's default in the constructor, read from the text: a number where the file gives one (a
    recurrence's start), else None (the file's formula)."""
    defaults: dict[str, float | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*param\s+(\w+)\s*(\[[^\]]*\])?\s*=(.*)", line.split("#")[0])
        if match and match[2] != "[k+1]":
            value = match[3].replace("learnable", "").strip()
            defaults[match[1]] = float(value) if re.fullmatch(r"-?[\d.]+", value) else None
    return defaults


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
    model = load(path)(WIDTH, DEPTH, dtype=dtype)
    x = torch.randn(batch, WIDTH, dtype=dtype)
    out = model(x)
    assert (out.shape, out.dtype, out.device) == (x.shape, x.dtype, x.device)
    assert all(p.dtype == dtype for p in model.parameters()) and all(b.dtype == dtype for b in model.buffers())


@pytest.mark.parametrize("block", BLOCKS)
def test_nothing_is_tied_to_a_device(block: str):
    """On the meta device every tensor the forward pass creates must follow the input (no hard-coded CPU)."""
    for stem in ("momentum_resnet", "fista_momentum", "lm_resnet"):  # zeros init, recurrence, schedule
        width, x = shaped_input(block, device="meta")
        out = load(example(stem), block=block)(width, DEPTH, device="meta")(x)
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
def test_a_schedule_takes_a_number_for_every_layer_or_one_value_per_layer(stem: str, name: str):
    net = load(example(stem))
    values = [0.1 * k for k in range(DEPTH)]
    assert getattr(net(WIDTH, DEPTH, **{name: values}), name).tolist() == pytest.approx(values)
    assert getattr(net(WIDTH, DEPTH, **{name: 0.25}), name).tolist() == [0.25] * DEPTH
    assert getattr(net(WIDTH, DEPTH, **{name: 2}), name).dtype == torch.float32  # a whole number is a float too
    for wrong in (values[:-1], values + [0.5]):
        message = rf"{name} needs a number or {DEPTH} values, one per layer; got {len(wrong)} values"
        with pytest.raises(ValueError, match=message):
            net(WIDTH, DEPTH, **{name: wrong})


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_signature_lists_every_param_with_its_default(path: Path):
    """module.md: `Net(width, depth, *, <params>, block_factory=None, tied=False, [solver_max_iter, solver_tol],
    device=None, dtype=None)`, each param keyword-only with the file's number as its default (None: its formula)."""
    parameters = inspect.signature(load(path)).parameters
    defaults = dsl_defaults(path)
    solver = ["solver_max_iter", "solver_tol"] if path.stem in IMPLICIT else []
    assert list(parameters) == ["width", "depth", *defaults, "block_factory", "tied", *solver, "device", "dtype"]
    assert [parameters[name].kind for name in ("width", "depth")] == [inspect.Parameter.POSITIONAL_OR_KEYWORD] * 2
    for name, default in defaults.items():
        parameter = parameters[name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameter.annotation is not inspect.Parameter.empty, name
        assert parameter.default == default if default is not None else parameter.default is None, name
    assert {name: parameters[name].default for name in ("block_factory", "tied", "device", "dtype")} == {
        "block_factory": None,
        "tied": False,
        "device": None,
        "dtype": None,
    }


def test_a_param_that_depends_on_k_or_on_another_param_defaults_to_its_formula(load_source):
    net = load_source(
        "algorithm a\nparam h = 0.5\nparam g = 2 * h\nparam s[k] = h / (k + 1)\nx[k+1] = x[k] - g * s[k] * grad f(x[k])\n"
    )
    parameters = inspect.signature(net).parameters
    assert (parameters["h"].default, parameters["g"].default, parameters["s"].default) == (0.5, None, None)
    assert "2*h" in net.__doc__ and "h/(k + 1) at layer k" in net.__doc__
    model = net(WIDTH, DEPTH, h=0.25, dtype=torch.float64)
    assert model.g.item() == 0.5 and model.s.tolist() == [0.25 / (k + 1) for k in range(DEPTH)]
    assert net(WIDTH, DEPTH, g=3).g.item() == 3


def test_dtype_float64_gives_exact_float64_values():
    """module.md: params are made in the given dtype, not rounded through float32 first (as `.double()` would)."""
    net = load(example("heavy_ball"))
    model = net(8, 3, dtype=torch.float64)
    assert model.beta.dtype == torch.float64 and model.beta.item() == 0.9
    assert net(8, 3).double().beta.item() != 0.9  # rounded through float32
    schedule = load(example("nesterov_schedule"))(8, 5, dtype=torch.float64)
    assert schedule.mu.tolist() == [(k - 1) / (k + 2) for k in range(5)]
    t = [1.0]
    for k in range(5):
        t.append((1 + (1 + 4 * t[k] ** 2) ** 0.5) / 2)
    assert load(example("fista"))(8, 5, dtype=torch.float64).t.tolist() == pytest.approx(t, rel=1e-15, abs=0)


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_device_and_dtype_reach_every_param_and_buffer(path: Path, block: str):
    width, _ = shaped_input(block)
    net = load(path, block=block)
    on_meta = net(width, DEPTH, device="meta")
    tensors = {**dict(on_meta.named_parameters()), **dict(on_meta.named_buffers())}
    assert tensors and {name for name, t in tensors.items() if t.device.type != "meta"} == set()
    in_float64 = net(width, DEPTH, dtype=torch.float64)
    tensors = {**dict(in_float64.named_parameters()), **dict(in_float64.named_buffers())}
    floating = {name: t for name, t in tensors.items() if t.is_floating_point()}
    assert floating and {name for name, t in floating.items() if t.dtype != torch.float64} == set()
    assert set(tensors) - set(floating) <= {name for name in tensors if name.endswith("num_batches_tracked")}


# The conv block's normalization ----------------------------------------------------------------------------------


@pytest.mark.parametrize("norm", NORMS)
def test_conv_norm_option(norm: str):
    net = load(example("heun"), block="conv", norm=norm)
    model = net(48, DEPTH, dtype=torch.float64)
    batch_norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    group_norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(batch_norms) == (2 * DEPTH if norm == "batch" else 0)
    assert len(group_norms) == (2 * DEPTH if norm == "group" else 0)
    assert all(m.num_groups == 16 for m in group_norms)  # the largest of 32, 16, 8, 4, 2, 1 dividing 48
    x = torch.randn(3, 48, 4, 4, dtype=torch.float64)
    model.eval()
    if norm != "batch":  # each example is normalized by its own statistics: the batch does not matter
        torch.testing.assert_close(model(x)[:1], model(x[:1]))
    assert model(x).shape == x.shape


def test_group_norm_groups_divide_the_channels():
    net = load(example("heavy_ball"), block="conv", norm="group", hidden=6)
    groups = [(m.num_groups, m.num_channels) for m in net(4, 1).modules() if isinstance(m, nn.GroupNorm)]
    assert groups == [(4, 4), (2, 6)]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_conv_with_batch_norm_warns_where_a_layer_calls_a_block_more_than_once(path: Path):
    """module.md: BatchNorm's running statistics would mix several inputs; compile recommends --norm group."""
    text = path.read_text(encoding="utf-8")
    form = derive_source(text, str(path)).form
    codes = [d.code for d in compile_warnings(form, make_options(block="conv"))]
    assert codes == (["batch-norm-several-calls"] if path.stem in SEVERAL_CALLS else [])
    assert all(d.severity == "warning" for d in compile_warnings(form, make_options(block="conv")))
    assert not compile_warnings(form, make_options(block="conv", norm="group"))
    assert not compile_warnings(form, make_options(block="mlp"))
    if path.stem in SEVERAL_CALLS:
        with pytest.warns(UserWarning, match=rf"^{re.escape(str(path))}: warning: each layer calls .*--norm group"):
            alg2net.compile_source(text, block="conv", filename=str(path))
    else:
        alg2net.compile_source(text, block="conv", filename=str(path))  # no warning: pytest turns one into an error


def test_load_issues_the_warning_too():
    with pytest.warns(alg2net.Alg2NetWarning, match="compile with --norm group"):
        alg2net.load(example("heun"), block="conv")


def test_the_cli_prints_the_warning_and_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "heun.py"
    assert cli(["compile", str(example("heun")), "--block", "conv", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"{example('heun')}: warning: each layer calls the block of `f` more than once")
    assert err.rstrip().endswith("compile with --norm group, which normalizes each example by its own statistics")
    assert out.read_text(encoding="utf-8").startswith('"""Heun')
    assert cli(["compile", str(example("heun")), "--block", "conv", "--norm", "group", "-o", str(out)]) == 0
    assert capsys.readouterr().err == ""


# The generated text ----------------------------------------------------------------------------------------------
# All 16 x 3 x 4 x 2 combinations would take ~40 s of black formatting inside the compiler alone, so each example
# meets every block kind, every activation and both tied values, and across examples every (block, activation,
# tied) triple occurs: example i uses (ACTIVATIONS[j], BLOCKS[(i+j) % 3], tied=(i+j) odd) for j = 0..3. The conv
# combinations take the norms in turn.


@dataclass(frozen=True)
class Combination:
    path: Path
    block: str
    activation: str
    tied: bool
    norm: str | None  # the conv block's; None for the others

    def compile(self) -> str:
        """`alg2net.compile_source` with these options; the BatchNorm advice is expected where module.md says."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            text = alg2net.compile_source(
                self.path.read_text(encoding="utf-8"),
                block=self.block,
                activation=self.activation,
                tied=self.tied,
                norm=self.norm,
                filename=str(self.path),
            )
        advised = self.norm == "batch" and self.path.stem in SEVERAL_CALLS
        assert ["--norm group" in str(w.message) for w in caught] == ([True] if advised else []), self
        return text

    def command_line(self) -> list[str]:
        options = ["--block", self.block, "--activation", self.activation] + (["--tied"] if self.tied else [])
        return [*options, *(["--norm", self.norm] if self.norm else [])]

    @property
    def file_name(self) -> str:
        return (
            f"{self.path.stem}_{self.block}_{self.norm or ''}_{self.activation}_{'tied' if self.tied else 'untied'}.py"
        )


def _combinations() -> list[Combination]:
    triples = [
        (path, BLOCKS[(i + j) % 3], activation, (i + j) % 2 == 1)
        for i, path in enumerate(EXAMPLES)
        for j, activation in enumerate(ACTIVATIONS)
    ]
    conv = [triple for triple in triples if triple[1] == "conv"]
    return [Combination(*t, NORMS[conv.index(t) % 3] if t in conv else None) for t in triples]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[Combination, Path]:
    """Every combination's generated file, in a fresh folder whose pyproject.toml sets the project's line length."""
    folder = tmp_path_factory.mktemp("generated")
    (folder / "pyproject.toml").write_text("[tool.black]\nline-length = 120\n")
    files = {}
    for combination in _combinations():
        files[combination] = folder / combination.file_name
        files[combination].write_text(combination.compile(), encoding="utf-8")
    return files


def test_combinations_cover_every_option():
    combinations = _combinations()
    for path in EXAMPLES:
        mine = [c for c in combinations if c.path == path]
        assert {c.block for c in mine} == set(BLOCKS) and {c.activation for c in mine} == set(ACTIVATIONS)
        assert {c.tied for c in mine} == {False, True}
    if len(EXAMPLES) >= 6:
        triples = {(c.block, c.activation, c.tied) for c in combinations}
        assert triples == {(b, a, t) for b in BLOCKS for a in ACTIVATIONS for t in (False, True)}
        assert {c.norm for c in combinations if c.block == "conv"} == set(NORMS)
        assert {c.path.stem for c in combinations if c.norm == "batch"} & SEVERAL_CALLS
    assert {c.norm for c in combinations if c.block != "conv"} == {None}


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
    """module.md: no dead code. Every function and method the file defines (but its public interface: forward and
    the memory property) is used in it."""
    for file in generated.values():
        tree = ast.parse(file.read_text(encoding="utf-8"))
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if not isinstance(item, ast.FunctionDef) or item.name in ("forward", "memory"):
                        continue
                    if not item.name.startswith("__"):
                        assert item.name in used, f"{file.name}: method {node.name}.{item.name} is never used"
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                assert node.name in used, f"{file.name}: function {node.name} is never used"


def test_compiling_twice_gives_the_same_text(generated):
    seen = set()
    for combination, file in generated.items():
        if combination.path in seen:
            continue
        seen.add(combination.path)
        assert combination.compile() == file.read_text(encoding="utf-8"), f"{file.name} differs on a second compile"


def test_the_cli_output_does_not_depend_on_the_hash_seed(generated):
    """Same input and options, byte-identical output, also across processes (string hashing changes set order)."""
    path = example("admm")  # two prox steps, an init, an output: the most the compiler decides
    combination, file = next((c, f) for c, f in generated.items() if c.path == path)
    command = [sys.executable, "-m", "alg2net", "compile", str(path), *combination.command_line()]
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
    model = load(example("heun"), activation="tanh")(3, 2, dtype=torch.float64)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(model, (x,))


def test_gradcheck_with_respect_to_a_learnable_param():
    torch.manual_seed(0)
    model = load(example("nesterov"), activation="tanh")(3, 2, dtype=torch.float64)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    mu = model.mu.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, mu: torch.func.functional_call(model, {"mu": mu}, (x,)), (x, mu))


def test_gradcheck_through_an_implicit_step():
    """Implicit differentiation of a prox (module.md) against finite differences of the solved forward pass."""
    torch.manual_seed(0)
    model = load(example("proximal_point"), activation="tanh")(
        3, 2, h=0.5, solver_tol=1e-12, solver_max_iter=200, dtype=torch.float64
    )
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(model, (x,))
