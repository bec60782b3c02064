"""`alg2net compile --memory checkpoint|reversible` (memory.md): the same gradients as autograd in less memory.

Gradients of the input, every block weight and every learnable param against autograd's, for every invertible
example at depths 1, 2, 12 and 100 in float64; gradcheck; float32 at depth 100 with the compiled anchors; the
inverse rebuilds the forward activations; dropout and BatchNorm; `model.memory`; the refusals by code.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_inverse import invertible_programs  # the random programs of the inverse's own property test
from torch import nn

import alg2net
from alg2net.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
INVERTIBLE = ("heavy_ball", "momentum_resnet", "lm_resnet", "leapfrog", "reversible_heun")
MODES = ("checkpoint", "reversible")
WIDTH, BATCH = 6, 5
# Heavy ball's default step h = 1 with random blocks makes running it backwards grow round-off far faster than the
# compile-time estimate (1/beta per layer, which leaves the blocks out); h = 0.1 keeps the tests in that estimate.
OVERRIDES = {"heavy_ball": {"h": 0.1}}


@functools.cache
def network(stem: str, memory: str) -> type:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", alg2net.Alg2NetWarning)
        return alg2net.load(ROOT / "examples" / f"{stem}.alg", memory=memory)


def pair(stem: str, memory: str, depth: int, dtype=torch.float64, **kwargs) -> tuple[nn.Module, nn.Module]:
    """(autograd's module, `memory`'s module) with the same weights."""
    torch.manual_seed(0)
    kwargs = {**OVERRIDES.get(stem, {}), **kwargs}
    reference = network(stem, "autograd")(WIDTH, depth, dtype=dtype, **kwargs)
    other = network(stem, memory)(WIDTH, depth, dtype=dtype, **kwargs)
    other.load_state_dict(reference.state_dict())
    return reference, other


def gradients(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The gradients of a fixed linear functional of the output: the input's, then every parameter's."""
    x = x.clone().requires_grad_()
    out = net(x)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * weights).sum().backward()
    return [x.grad, *(torch.zeros_like(p) if p.grad is None else p.grad for p in net.parameters())]


def relative_error(found: list[torch.Tensor], expected: list[torch.Tensor]) -> float:
    """The largest, over the tensors, of |found - expected| / |expected| (2-norms). A gradient that is 0 in exact
    arithmetic (a bias before BatchNorm; a block's weight at a layer whose block sees x[k] - x[k-2] = 0) is compared
    with 1e-4 of the largest gradient instead: the reconstructed input is 0 only up to round-off there."""
    floor = 1e-4 * max(e.norm() for e in expected)
    return max(((f - e).norm() / e.norm().clamp_min(floor)).item() for f, e in zip(found, expected))


@pytest.mark.parametrize("depth", [1, 2, 12, 100])
@pytest.mark.parametrize("memory", MODES)
@pytest.mark.parametrize("stem", INVERTIBLE)
def test_gradients_equal_autograds_in_float64(stem: str, memory: str, depth: int):
    reference, other = pair(stem, memory, depth)
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    expected, found = gradients(reference, x), gradients(other, x)
    assert len(found) == len(expected) == 1 + len(list(reference.parameters()))
    assert expected[0].abs().max() > 0 and expected[-1].abs().max() > 0  # the input and the last block's bias
    assert relative_error(found, expected) < 1e-8


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=invertible_programs(), depth=st.integers(1, 9), every=st.integers(1, 4))
@example(  # layer 0's block sees x - x = 0: its weight's gradient is 0, and 1e-14 once the input is rebuilt
    program="algorithm a\nparam h = 0.5\nparam c = 0.5\nx[k+1] = 0.5*x[k-0] + 1.2*x[k-1] + 0.5*x[k-2]"
    " + 1.3*(x[k] - x[k-3]) - h*grad f(0*x[k-0] + 0*x[k-1] + -1*x[k-2] + x[k])\n",
    depth=3,
    every=3,
)
def test_random_invertible_programs_give_autograds_gradients(load_source, program: str, depth: int, every: int):
    """Multistep schemes of up to 3 lags whose block sees a combination of them (handed to the rerun only where it
    is a state itself), and two-state schemes with a block at a state after the layer, at any anchor spacing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", alg2net.Alg2NetWarning)
        reference_class, other_class = (load_source(program, memory=memory) for memory in ("autograd", "reversible"))
    torch.manual_seed(0)
    reference = reference_class(WIDTH, depth, dtype=torch.float64)
    other = other_class(WIDTH, depth, dtype=torch.float64, anchor_every=every)
    other.load_state_dict(reference.state_dict())
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    assert relative_error(gradients(other, x), gradients(reference, x)) < 1e-8


@st.composite
def adjoint_programs(draw) -> str:
    """Invertible programs whose blocks are all at states before the layer, so that the gradients go back through
    `_step_backward`: a multistep scheme of up to 3 lags with an auxiliary that holds the block, a schedule that
    multiplies the auxiliary and a second block at x[k-1]; or a two-state momentum scheme whose second update reads
    v[k+1] (Gauss-Seidel). Each param is learnable or not."""
    learn = [" learnable" if draw(st.booleans()) else "" for _ in range(3)]
    number, nonzero = st.sampled_from(["0.3", "-0.5", "1", "0"]), st.sampled_from(["0.3", "-0.5", "1"])
    if draw(st.booleans()):
        lag = draw(st.integers(1, 3))
        b, s = draw(st.sampled_from(["0.5", "0.8", "1.25"])), draw(st.sampled_from(["0.1", "0.3", "-0.2"]))
        params = f"param h = 0.5{learn[0]}\nparam b = {b}{learn[1]}\nparam s[k] = {s}{learn[2]}\n"
        extra = f" + {draw(number)}*x[k-1] + {draw(nonzero)}*grad g(x[k-1])" if lag > 1 else ""
        return (
            f"algorithm a\n{params}y[k] = x[k] - h*grad f(x[k])\n"
            f"x[k+1] = y[k] + b*(x[k] - x[k-{lag}]) + s[k]*(y[k] - x[k-1]){extra}\n"
        )
    gamma, d = draw(st.sampled_from(["0.5", "0.9", "-0.7"])), draw(st.sampled_from(["0.5", "1", "1.5"]))
    params = f"param gamma = {gamma}{learn[0]}\nparam d[k] = {d}{learn[1]}\nparam c = 0.5{learn[2]}\n"
    return (
        f"algorithm a\n{params}output x\ninit v = 0\n"
        f"v[k+1] = gamma*v[k] - c*grad f(x[k]) + {draw(number)}*x[k]\nx[k+1] = x[k] + d[k]*v[k+1]\n"
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=adjoint_programs(), depth=st.integers(2, 9), every=st.integers(2, 4))
def test_the_derived_backward_step_gives_autograds_gradients(load_source, program: str, depth: int, every: int):
    """Through `_step_backward` (the module has it, and no layer of a segment of two or more is run again): the
    gradients of the input, the block weights and the learnable params, each against autograd's."""
    reference_class, other_class = (load_source(program, memory=memory) for memory in ("autograd", "reversible"))
    assert hasattr(other_class, "_step_backward")
    torch.manual_seed(0)
    reference = reference_class(WIDTH, depth, dtype=torch.float64)
    # a float64 round-off past the default 32 eps would run a segment again, through `_step`
    other = other_class(WIDTH, depth, dtype=torch.float64, anchor_every=every, reconstruction_tolerance=1e-9)
    other.load_state_dict(reference.state_dict())
    steps = 0
    step = other._step

    def counted(*args, **kwargs):
        nonlocal steps
        steps += 1
        return step(*args, **kwargs)

    other._step = counted
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    expected, found = gradients(reference, x), gradients(other, x)
    assert relative_error(found, expected) < 1e-8
    one_layer_segments = int(depth % every == 1)
    assert steps == depth + one_layer_segments  # the forward pass's and the one-layer segments' reruns


def test_the_backward_step_is_left_out_where_the_layer_computes_a_blocks_point_or_a_param_is_held():
    """Reversible Heun's T_f(y[k+1]), a held param (--constrain), a learnable param inside min: the rerun stays."""
    heun = (ROOT / "examples" / "reversible_heun.alg").read_text()
    held = (ROOT / "examples" / "heavy_ball.alg").read_text()
    inside_min = "algorithm a\nparam b = 0.3 learnable\nx[k+1] = x[k] + min(b, 0.5)*(x[k] - x[k-1]) - grad f(x[k])\n"
    for text, options in ((heun, {}), (held, {"constrain": True}), (inside_min, {})):
        assert "_step_backward" not in alg2net.compile_source(text, memory="reversible", **options)
    assert "_step_backward" in alg2net.compile_source(held, memory="reversible")


# The compile-time estimate (round-off grows by a = 1/beta a layer at z = 0) leaves the blocks out; with random MLP
# blocks, heavy ball (h = 0.1) and Momentum ResNet grow it faster: at memory.md's spacing (u*a^m <= 1e-4, m = 70)
# their errors were 8.6e-3 and 2.7e-2, so the module's default keeps u*a^m <= 1e-6 (m = 26).
@pytest.mark.parametrize("stem", INVERTIBLE)
def test_float32_at_depth_100_with_the_compiled_anchors(stem: str):
    """memory.md: the anchors keep the float32 reconstruction error small; the figure is in the assertion."""
    reference, other = pair(stem, "reversible", 100, dtype=torch.float32)
    x = torch.randn(BATCH, WIDTH)
    error = relative_error(gradients(other, x), gradients(reference, x))
    print(f"{stem}: float32 relative gradient error at depth 100: {error:.2e}")
    assert error < 1e-3, f"{stem}: relative gradient error {error:.2e} with anchor_every={other.anchor_every}"


def test_a_segment_whose_round_off_grew_too_far_is_run_again_from_its_anchor():
    """LM-ResNet's kn = -0.05 grows round-off 20-fold a layer run backwards. Forced to anchors 6 layers apart, the
    backward pass finds the states it rebuilt about 20**6 * u off at each anchor, runs those segments again from their
    anchors, and lowers `anchor_every` to 1, the spacing that growth allows: the gradients equal autograd's in both
    passes, though without the check they would be lost to round-off."""
    reference, other = pair("lm_resnet", "reversible", 24, dtype=torch.float32)
    other.anchor_every = 6
    x = torch.randn(BATCH, WIDTH)
    expected = gradients(reference, x)
    assert relative_error(gradients(other, x), expected) < 1e-5
    assert other.reconstruction_error > 1e-2
    assert other.anchor_every == 1
    other.zero_grad()
    assert relative_error(gradients(other, x), expected) < 1e-5
    assert other.reconstruction_error == 0.0  # every layer is an anchor: nothing is rebuilt


def test_a_looser_reconstruction_tolerance_keeps_the_anchors():
    """memory.md's 1e-4 as the tolerance: LM-ResNet forced to anchors 2 layers apart (20**2 * u = 2.4e-5 off) keeps
    them and its rebuilt states, so its float32 gradients are further from autograd's than with the default."""
    reference, other = pair("lm_resnet", "reversible", 24, dtype=torch.float32)
    other.anchor_every, other.reconstruction_tolerance = 2, 1e-4
    x = torch.randn(BATCH, WIDTH)
    error = relative_error(gradients(other, x), gradients(reference, x))
    assert other.anchor_every == 2 and 16 * torch.finfo(torch.float32).eps < other.reconstruction_error < 1e-4
    assert 1e-7 < error < 1e-2


def test_wide_blocks_in_float32_stay_under_1e_3_from_the_first_pass():
    """Random MLP blocks of width 256 grow round-off run backwards far faster than the compile-time estimate (1/gamma
    a layer); the check at the anchors keeps Momentum ResNet's float32 gradients at depth 100 within 1e-3 of float64
    autograd's in the first backward pass, and the spacing it leaves keeps the next pass there without a rerun."""
    torch.manual_seed(0)
    reference = network("momentum_resnet", "autograd")(256, 100, dtype=torch.float64)
    other = network("momentum_resnet", "reversible")(256, 100)
    other.load_state_dict(reference.state_dict())
    x = torch.randn(16, 256)
    expected = gradients(reference, x.double())
    first = relative_error([g.double() for g in gradients(other, x)], expected)
    spacing = other.anchor_every
    other.zero_grad()
    second = relative_error([g.double() for g in gradients(other, x)], expected)
    print(f"float32 relative gradient error: {first:.1e}, then {second:.1e} with anchor_every={spacing}")
    assert first < 1e-3 and second < 1e-3
    assert other.anchor_every == spacing < 26  # lowered once, then kept
    assert other.reconstruction_error <= 16 * torch.finfo(torch.float32).eps


@pytest.mark.parametrize("memory", MODES)
def test_gradcheck(memory: str):
    _, net = pair("momentum_resnet", memory, 3)
    x = torch.randn(2, WIDTH, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x,))


@pytest.mark.parametrize("stem", INVERTIBLE)
def test_the_inverse_rebuilds_the_forward_states(stem: str):
    _, net = pair(stem, "reversible", 20)
    count = len(net._inverse_step.__code__.co_varnames[2 : net._inverse_step.__code__.co_argcount])
    torch.manual_seed(1)
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    states, history = (x,) * count, []
    if stem == "momentum_resnet":
        states = (torch.zeros_like(x), x)  # init v = 0
    with torch.no_grad():
        for k in range(net.depth):
            history.append(states)
            states = net._step(k, *states)
        history.append(states)
        for k in reversed(range(net.depth)):
            if (k + 1) % net.anchor_every == 0:  # as the backward pass does: from the anchor after layer k
                states = history[k + 1]
            states, _ = net._inverse_step(k, *states)
            for rebuilt, stored in zip(states, history[k]):
                assert torch.allclose(rebuilt, stored, rtol=1e-9, atol=1e-9), (stem, k)


class Counted(nn.Module):
    """A linear block that counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(WIDTH, WIDTH, dtype=torch.float64)
        self.calls = 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.linear(z)


# Block calls per layer in the forward pass, and in the backward pass (its inverse records the layer's block outputs
# at the states before it and hands them to the rerun; at an anchor, the inverse's result is also checked against
# the anchor, and serves).
CALLS = {
    "heavy_ball": (1, 1),
    "momentum_resnet": (1, 1),
    "lm_resnet": (1, 1),
    "leapfrog": (1, 1),
    "reversible_heun": (2, 3),  # T_f(y[k+1]) is at a state after the layer: the inverse and the rerun each make it
}


@pytest.mark.parametrize("stem", INVERTIBLE)
def test_the_rerun_reuses_the_block_outputs_the_inverse_recorded(stem: str):
    blocks: list[Counted] = []

    def factory(name: str, layer: int) -> nn.Module:
        blocks.append(Counted())
        return blocks[-1]

    depth, every = 12, 5  # anchors before layers 0, 5 and 10
    # LM-ResNet's kn = -0.05 grows round-off 20-fold a layer run backwards (its compiled spacing is 1): -0.9 keeps the
    # segments of 5 layers within the tolerance, so that none is run again
    slow = {"lm_resnet": {"kn": -0.9, "h": 0.1}}.get(stem, {})
    kwargs = {**OVERRIDES.get(stem, {}), **slow, "block_factory": factory, "dtype": torch.float64}
    reference = network(stem, "autograd")(WIDTH, depth, **kwargs)
    other = network(stem, "reversible")(WIDTH, depth, anchor_every=every, **kwargs)
    other.load_state_dict(reference.state_dict())
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64, requires_grad=True)
    expected = torch.autograd.grad(reference(x).sum(), x)[0]
    for block in blocks:
        block.calls = 0
    out = other(x)
    forward, backward = CALLS[stem]
    assert sum(b.calls for b in blocks) == forward * depth
    out.sum().backward()
    assert sum(b.calls for b in blocks) == (forward + backward) * depth
    assert torch.allclose(x.grad, expected, rtol=1e-10, atol=1e-12)
    assert other.reconstruction_error < 1e-13 and other.anchor_every == every  # no segment was run again


def dropout_factory(name: str, layer: int) -> nn.Module:
    return nn.Sequential(nn.Linear(WIDTH, WIDTH, dtype=torch.float64), nn.Dropout(0.5))


@pytest.mark.parametrize("stem", ["heavy_ball", "momentum_resnet"])
def test_checkpoint_gives_the_same_gradients_with_a_dropout_block(stem: str):
    reference, other = pair(stem, "checkpoint", 12, block_factory=dropout_factory)
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    torch.manual_seed(7)
    expected = gradients(reference, x)
    torch.manual_seed(7)
    found = gradients(other, x)
    assert relative_error(found, expected) < 1e-12


def test_reversible_with_a_dropout_block_differentiates_the_masks_of_its_own_forward_pass():
    """Each layer's random numbers come from one seed per forward pass: the rerun sees the forward pass's masks, so
    the gradients are those of the function the forward pass computed (checked against finite differences)."""
    _, net = pair("momentum_resnet", "reversible", 6, block_factory=dropout_factory)
    x = torch.randn(2, WIDTH, dtype=torch.float64, requires_grad=True)

    def seeded(x: torch.Tensor) -> torch.Tensor:
        with torch.random.fork_rng():
            torch.manual_seed(3)
            return net(x)

    assert torch.autograd.gradcheck(seeded, (x,))


def batch_norm_factory(name: str, layer: int) -> nn.Module:
    return nn.Sequential(nn.Linear(WIDTH, WIDTH, dtype=torch.float64), nn.BatchNorm1d(WIDTH, dtype=torch.float64))


@pytest.mark.parametrize("memory", MODES)
def test_batch_norm_statistics_are_updated_once_per_forward(memory: str):
    reference, other = pair("momentum_resnet", memory, 9, block_factory=batch_norm_factory)
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    expected, found = gradients(reference, x), gradients(other, x)
    assert relative_error(found, expected) < 1e-8
    for (name, mine), theirs in zip(other.named_buffers(), reference.buffers()):
        assert torch.equal(mine, theirs), name
    assert all(int(b) == 1 for name, b in other.named_buffers() if name.endswith("num_batches_tracked"))


def test_a_segment_run_again_keeps_batch_norm_statistics_and_dropout_masks():
    """The rerun of a segment from its anchor (LM-ResNet forced to anchors 4 layers apart, where round-off grows
    20-fold a layer) replays the forward pass's layers: BatchNorm statistics are still updated once per forward pass,
    and dropout blocks see the forward pass's masks (gradcheck)."""
    reference, other = pair("lm_resnet", "reversible", 9, block_factory=batch_norm_factory)
    other.anchor_every = 4
    x = torch.randn(BATCH, WIDTH, dtype=torch.float64)
    assert relative_error(gradients(other, x), gradients(reference, x)) < 1e-8
    assert other.anchor_every == 1
    for (name, mine), theirs in zip(other.named_buffers(), reference.buffers()):
        assert torch.equal(mine, theirs), name

    _, net = pair("lm_resnet", "reversible", 6, block_factory=dropout_factory)
    x = torch.randn(2, WIDTH, dtype=torch.float64, requires_grad=True)

    def seeded(x: torch.Tensor) -> torch.Tensor:
        net.anchor_every = 3  # lowered again by each backward pass
        with torch.random.fork_rng():
            torch.manual_seed(3)
            return net(x)

    assert torch.autograd.gradcheck(seeded, (x,))
    assert net.reconstruction_error > 16 * torch.finfo(torch.float64).eps  # the segments were run again


@pytest.mark.parametrize("memory", [*MODES, "autograd"])
def test_memory_is_a_read_only_string(memory: str):
    net = network("heavy_ball", memory)(WIDTH, 2)
    assert getattr(net, "memory", "autograd") == memory
    assert net.memory == memory
    with pytest.raises(AttributeError):
        net.memory = "autograd"


def test_anchor_every_is_a_constructor_argument_with_the_compiled_default():
    import inspect

    defaults = {
        stem: inspect.signature(network(stem, "reversible")).parameters["anchor_every"].default for stem in INVERTIBLE
    }
    # heavy ball and Momentum ResNet: a = 1/0.9, m = floor(log(1e-6/6e-8)/log(1/0.9)); LM-ResNet a = 1/0.05;
    # leapfrog: roots +-1, round-off does not grow; reversible Heun: a = 1/0.99.
    assert defaults == {
        "heavy_ball": 26,
        "momentum_resnet": 26,
        "lm_resnet": 1,
        "leapfrog": None,
        "reversible_heun": 279,
    }
    net = network("heavy_ball", "reversible")(WIDTH, 5, anchor_every=2, reconstruction_tolerance=1e-4)
    assert net.anchor_every == 2 and net.reconstruction_tolerance == 1e-4
    with pytest.raises(ValueError, match="anchor_every"):
        network("heavy_ball", "reversible")(WIDTH, 5, anchor_every=0)


# Refusals -----------------------------------------------------------------------------------------------------


def compile_with(stem_or_text: str, memory: str) -> str:
    text = stem_or_text if "\n" in stem_or_text else (ROOT / "examples" / f"{stem_or_text}.alg").read_text()
    return alg2net.compile_source(text, memory=memory, filename=f"{stem_or_text[:20]}.alg")


@pytest.mark.parametrize("stem", ["gradient_descent", "nesterov", "adams_bashforth2", "heun"])
def test_reversible_refuses_an_algorithm_that_is_not_invertible(stem: str):
    with pytest.raises(alg2net.Alg2NetError) as caught:
        compile_with(stem, "reversible")
    assert caught.value.diagnostic.code == "not-invertible"
    assert "grad f(" in str(caught.value) and "--memory checkpoint" in str(caught.value)
    assert caught.value.diagnostic.span.line > 0
    compile_with(stem, "checkpoint")  # which it suggests, and which works


def test_reversible_refuses_an_initial_value_where_the_inverse_divides_by_zero():
    text = "algorithm hb\nparam beta = 0\nx[k+1] = x[k] - grad f(x[k]) + beta * (x[k] - x[k-1])\n"
    with pytest.raises(alg2net.Alg2NetError) as caught:
        compile_with(text, "reversible")
    assert caught.value.diagnostic.code == "not-invertible"
    assert "beta" in str(caught.value) and "--memory checkpoint" in str(caught.value)


@pytest.mark.parametrize("memory", MODES)
@pytest.mark.parametrize("stem", ["ista", "proximal_point", "bdf2"])
def test_implicit_algorithms_are_refused(stem: str, memory: str):
    with pytest.raises(alg2net.Alg2NetError) as caught:
        compile_with(stem, memory)
    assert caught.value.diagnostic.code == "memory-mode"
    assert "--memory autograd" in str(caught.value)


def test_the_cli_refuses_with_exit_2(capsys: pytest.CaptureFixture[str]):
    assert cli(["compile", str(ROOT / "examples" / "gradient_descent.alg"), "--memory", "reversible"]) == 2
    error = capsys.readouterr().err
    assert "gradient_descent.alg:" in error and "--memory checkpoint" in error


def test_autograd_is_the_default_and_leaves_the_file_as_it_was():
    text = (ROOT / "examples" / "heavy_ball.alg").read_text()
    assert alg2net.compile_source(text) == alg2net.compile_source(text, memory="autograd")
    assert 'return "autograd"' in alg2net.compile_source(text)


def autocast_gradients(net: nn.Module, x: torch.Tensor, forward) -> list[torch.Tensor]:
    """`gradients` of `forward(x)` with the forward pass under CPU bfloat16 autocast."""
    x = x.clone().requires_grad_()
    net.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = forward(x)
    weights = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
    (out.float() * weights).sum().backward()
    return [x.grad, *(torch.zeros_like(p) if p.grad is None else p.grad for p in net.parameters())]


def unrolled(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The reversible module's own layers (`_step`) under plain autograd, from the initial states of its forward pass
    for heavy ball and Momentum ResNet: `v` starts at zero, the others at the input."""
    count = len(net._inverse_step.__code__.co_varnames[2 : net._inverse_step.__code__.co_argcount])
    names = net._step.__code__.co_varnames[2 : 2 + count]
    states = tuple(torch.zeros_like(x) if name.startswith("v") else x for name in names)
    for k in range(net.depth):
        states = net._step(k, *states)
    return states[names.index("x")]


@pytest.mark.parametrize("stem", ["heavy_ball", "momentum_resnet"])
def test_reversible_under_bfloat16_autocast_differentiates_its_own_forward_pass(stem: str):
    """The backward pass reruns the layers under the forward pass's autocast, and block outputs are cast to the
    states' dtype, so the inverse rebuilds what the forward pass computed: at depth 100 the gradients equal those of
    the same layers under plain autograd (and autocast) to float32 round-off, amplified between anchors."""
    _, net = pair(stem, "reversible", 100, dtype=torch.float32)
    x = torch.randn(BATCH, WIDTH)
    found = autocast_gradients(net, x, net)
    expected = autocast_gradients(net, x, lambda inputs: unrolled(net, inputs))
    error = relative_error([torch.cat([g.flatten() for g in found])], [torch.cat([g.flatten() for g in expected])])
    worst = relative_error(found, expected)
    print(f"{stem}: bfloat16 autocast at depth 100, relative gradient error {error:.2e} (worst tensor {worst:.2e})")
    # A bfloat16 gradient carries bfloat16 round-off (2**-8 = 3.9e-3 relative): a rebuilt input a float32 ulp off
    # flips the rounding of some entries of a block's bfloat16 backward. Over all the gradients together that stays
    # under bfloat16's round-off; a small tensor (heavy ball's beta, a sum over layers that cancels) can differ more.
    assert error < 2**-8


def test_checkpoint_under_bfloat16_autocast_equals_autograd():
    reference, net = pair("momentum_resnet", "checkpoint", 30, dtype=torch.float32)
    x = torch.randn(BATCH, WIDTH)
    expected = autocast_gradients(reference, x, reference)
    assert relative_error(autocast_gradients(net, x, net), expected) < 1e-6


EXPLICIT = ("gradient_descent", "nesterov", "nesterov_schedule", "adams_bashforth2", "heun", "zerosnet")


@pytest.fixture(scope="module")
def memory_files(tmp_path_factory) -> Path:
    """Every invertible example compiled with --memory checkpoint and reversible, the other explicit ones with
    checkpoint, tied or not, in a folder whose pyproject.toml sets the project's line length."""
    folder = tmp_path_factory.mktemp("memory")
    (folder / "pyproject.toml").write_text("[tool.black]\nline-length = 120\n")
    jobs = [(stem, memory) for stem in INVERTIBLE for memory in MODES] + [(stem, "checkpoint") for stem in EXPLICIT]
    for i, (stem, memory) in enumerate(jobs):
        text = (ROOT / "examples" / f"{stem}.alg").read_text(encoding="utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", alg2net.Alg2NetWarning)
            source = alg2net.compile_source(text, memory=memory, tied=i % 2 == 1)
        (folder / f"{stem}_{memory}.py").write_text(source, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "--isolated", "--no-cache", "--output-format", "concise", "."],
        ["black", "--check", "--quiet", "."],
    ],
    ids=["ruff", "black"],
)
def test_memory_mode_files_are_lint_clean_and_black_formatted(memory_files: Path, command: list[str]):
    result = subprocess.run(
        [sys.executable, "-m", *command], check=False, cwd=memory_files, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list(memory_files.glob("*.py"))) == 2 * len(INVERTIBLE) + len(EXPLICIT)
