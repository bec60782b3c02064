"""A checkpoint's trained values, matched against the algorithm (guarantee.md, `check --weights CHECKPOINT`).

Assumes a derived algorithm and the path of what `torch.save(model.state_dict(), path)` wrote for the module compiled
from it (or a dict holding that state dict under `state_dict` or `model`; a `module.` prefix on every key, as
DataParallel writes, is dropped). Reads it with `torch.load(..., weights_only=True)` only: a file holding any other
object is refused, never unpickled. Torch is imported here alone, on first use; without it, an error.

Guarantees `Trained` (`alg2net.analysis.trained`): every learnable param's trained value(s) as exact rationals (the
binary value of each float), through the constraint's map where the module was compiled with `--constrain`. Every
mismatch is an `Alg2NetError`: a file that is no checkpoint; a missing, unknown or wrongly shaped key; a fixed param
whose stored value is not the file's (the module was built with other values, or from another algorithm: the check
would judge another network); schedules of different lengths; a trained value that is not finite (training diverged:
there is no network to judge). Errors about one param carry its span in the `.alg` file; the others none, and the
pipeline attributes them to the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from alg2net import __version__
from alg2net.analysis.trained import Trained, TrainedValue
from alg2net.constraints import Bounded, Constraint, Reflection, raw_key
from alg2net.derive import K, LearnableForm, ParamForm
from alg2net.errors import fail
from alg2net.resolve import ParamKind

_WRAPPERS = ("state_dict", "model")  # the keys a training script's checkpoint dict keeps the state dict under
_PREFIX = "module."  # DataParallel's and DistributedDataParallel's prefix on every key
_RTOL = {"float64": 1e-9, "float32": 1e-5}  # a fixed param's stored value against the file's; 1e-2 for 16 bits


def _torch():
    """torch, imported on first use (the only place the compiler imports it); a clear error (exit 2) where it is not
    installed."""
    try:
        import torch
    except ImportError:
        raise fail(
            "missing-dependency", "--weights needs torch, which is not installed", hint="pip install 'alg2net[torch]'"
        ) from None
    return torch


@dataclass(frozen=True, slots=True)
class _Stored:
    """A param of the algorithm as the compiled module stores it."""

    param: ParamForm
    key: str  # its state_dict key (the raw parameter's, for a constrained param)
    held: Constraint | None = None  # `--constrain`: the map from the raw parameter(s) to the param


def read(form: LearnableForm, path: str) -> Trained:
    """The trained values of `form`'s learnable params in the checkpoint at `path` (see the module)."""
    torch = _torch()
    state = _state_dict(torch, path)
    stored, functions = _layout(form, state)
    _match_keys(state, stored, functions, path)
    depth = _depth(state, stored, path)
    _match_fixed(torch, form, state, stored, depth, path)
    learnable = [s for s in stored if s.param.definition.learnable]
    raws = {s.param.definition.name: _floats(torch, s, state[s.key], path) for s in learnable}
    values = _through_constraints(learnable, raws)
    trained = (_trained(torch, s, values[s.param.definition.name], state[s.key], path) for s in learnable)
    return Trained(path, tuple(trained))


def _state_dict(torch, path: str) -> dict:
    """The state dict in the file: a mapping of names to tensors, unwrapped and without DataParallel's prefix."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise fail("bad-checkpoint", f"{path}: no such file") from None
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a file that is no checkpoint
        raise fail("bad-checkpoint", f"{path} is not a checkpoint torch can read safely: {_why(error)}") from None
    state = loaded
    if isinstance(loaded, Mapping) and not _tensors(torch, loaded):
        state = next((loaded[k] for k in _WRAPPERS if isinstance(loaded.get(k), Mapping)), None)
    if not isinstance(state, Mapping) or not _tensors(torch, state):
        raise fail(
            "bad-checkpoint",
            f"{path} holds no state dict",
            hint="save `model.state_dict()` (a dict of tensors), or a dict holding it under 'state_dict' or 'model'",
        )
    state = {str(k): v for k, v in state.items()}
    if state and all(k.startswith(_PREFIX) for k in state):
        state = {k.removeprefix(_PREFIX): v for k, v in state.items()}
    return state


def _tensors(torch, mapping: Mapping) -> bool:
    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in mapping.items())


def _why(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "weights only" in text.lower() or "weights_only" in text.lower():
        return (
            "it holds objects other than tensors and plain containers, which torch.load(weights_only=True) refuses"
            " to unpickle"
        )
    return text[:200]


def _layout(form: LearnableForm, state: dict) -> tuple[tuple[_Stored, ...], tuple[str, ...]]:
    """Each param with its state_dict key, and the ModuleDict keys of the blocks, as the code generator names them
    (`alg2net.codegen.describe` is the one place that does; it loads neither jinja2 nor black). Where a learnable
    param is missing and its raw parameter `<attribute>_raw` is there, the module was compiled with `--constrain`:
    the held params are read through the maps `alg2net.analysis.constrain` derives, as the compiler does."""
    from alg2net.codegen.describe import describe
    from alg2net.codegen.options import make_options

    spec = describe(form, make_options(), "", __version__)
    stored = tuple(_Stored(p, s.attribute) for p, s in zip(form.params, spec.params))
    functions = tuple(key for key, _ in spec.forward.functions)
    if not any(s.key not in state and raw_key(s.key) in state for s in stored if s.param.definition.learnable):
        return stored, functions
    from alg2net.analysis.constrain import constraints

    held = {name: c for c in constraints(form) for name in _names(c)}
    stored = tuple(
        _Stored(s.param, raw_key(s.key), held[s.param.definition.name]) if s.param.definition.name in held else s
        for s in stored
    )
    return stored, functions


def _names(constraint: Constraint) -> tuple[str, ...]:
    return (constraint.name,) if isinstance(constraint, Bounded) else constraint.names


def _through_constraints(learnable: list[_Stored], raws: dict[str, list[float]]) -> dict[str, list[float]]:
    """Each learnable param's values: its stored ones, or for a held param its raw parameters' through the map (at
    each layer of a schedule; a reflection map takes its params' raw parameters together)."""
    values = {name: raw for name, raw in raws.items()}
    for s in learnable:
        held = s.held
        if isinstance(held, Bounded):
            values[held.name] = [held.effective(r) for r in raws[held.name]]
        elif isinstance(held, Reflection) and s.param.definition.name == held.names[0]:
            layers = zip(*(raws[name] for name in held.names))
            mapped = [held.effective(list(layer)) for layer in layers]
            for i, name in enumerate(held.names):
                values[name] = [m[i] for m in mapped]
    return values


def _match_keys(state: dict, stored: tuple[_Stored, ...], functions: tuple[str, ...], path: str) -> None:
    """Every param's key is there; every other key belongs to a block of one of the algorithm's functions."""
    for s in stored:
        if s.key not in state:
            what = "learnable param" if s.param.definition.learnable else "param (a buffer)"
            raise fail(
                "checkpoint-mismatch",
                f"{path} has no `{s.key}`, the {what} `{s.param.definition.name}` of this algorithm",
                s.param.definition.span,
                hint="was it saved from the module compiled from this file?" + _raw_hint(state, s.key),
            )
    known = {s.key for s in stored}
    blocks = tuple(f"blocks.{key}." for key in functions)
    unknown = sorted(k for k in state if k not in known and not k.startswith(blocks))
    if unknown:
        listed = ", ".join(f"`{k}`" for k in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise fail(
            "checkpoint-mismatch",
            f"{path} holds {listed}, which the module compiled from this file does not have",
            hint="was the checkpoint made from another algorithm, or from an older version of this file?",
        )


def _raw_hint(state: dict, key: str) -> str:
    if f"{key}_raw" in state:
        return f" (it holds `{key}_raw`, as with --constrain, but this file holds no such param in a region)"
    return ""


def _depth(state: dict, stored: tuple[_Stored, ...], path: str) -> int | None:
    """The depth L the per-layer params fix (schedules: L values, recurrences: L + 1), checking every shape."""
    depth = None
    for s in stored:
        kind, shape = s.param.definition.kind, tuple(state[s.key].shape)
        if kind is ParamKind.CONSTANT:
            if shape != ():
                raise _shape_error(s, shape, "() (one number)", path)
            continue
        extra = 1 if kind is ParamKind.RECURRENCE else 0
        if len(shape) != 1 or shape[0] < 1 + extra:
            raise _shape_error(s, shape, f"(depth{' + 1' if extra else ''},)", path)
        if depth is None:
            depth = shape[0] - extra
        elif shape[0] - extra != depth:
            raise _shape_error(s, shape, f"({depth + extra},), as the other per-layer params fix depth {depth}", path)
    return depth


def _shape_error(s: _Stored, shape: tuple, expected: str, path: str):
    name = s.param.definition.name
    return fail(
        "checkpoint-mismatch",
        f"`{s.key}` in {path} has shape {shape}, but the {s.param.definition.kind.value} `{name}` needs shape {expected}",
        s.param.definition.span,
        hint="was the checkpoint made from another algorithm?",
    )


def _match_fixed(torch, form: LearnableForm, state: dict, stored, depth: int | None, path: str) -> None:
    """A fixed param's stored value is the file's (to the float precision it is stored in)."""
    from alg2net.analysis.limits import recurrence_values
    from alg2net.analysis.params import collect

    params = collect(form)
    runs = recurrence_values(params.recurrences, depth) if depth is not None and params.recurrences else {}
    by_name = {r.name: runs.get(r.tk) for r in params.recurrences}
    for s in stored:
        definition = s.param.definition
        if definition.learnable:
            continue
        if definition.kind is ParamKind.RECURRENCE:
            expected = by_name.get(definition.name)
        else:
            expected = _fixed_values(params.substitution, definition, depth)
        tensor = state[s.key].detach().to("cpu", torch.float64).reshape(-1)
        if expected is None or len(expected) != tensor.numel():
            continue  # a recurrence that overflows: the check reports it
        _compare(tensor.tolist(), expected, str(state[s.key].dtype).removeprefix("torch."), s, path)


def _fixed_values(substitution: dict, definition, depth: int | None) -> list | None:
    if definition.kind is ParamKind.CONSTANT:
        value = substitution.get(sp.Symbol(definition.name, real=True))
        return None if value is None or value.free_symbols else [value]
    value = substitution.get(sp.IndexedBase(definition.name)[K])
    if value is None or depth is None or value.free_symbols - {K}:
        return None
    return [value.xreplace({K: k}) for k in range(depth)]


def _compare(stored: list[float], expected: list, dtype: str, s: _Stored, path: str) -> None:
    rtol = _RTOL.get(dtype, 1e-2)
    for layer, (got, value) in enumerate(zip(stored, expected)):
        want = float(sp.N(value, 20))
        if not abs(got - want) <= rtol * max(1.0, abs(want)):
            name = s.param.definition.name
            at = f"[{layer}]" if len(stored) > 1 else ""
            raise fail(
                "checkpoint-mismatch",
                f"the fixed param `{name}`{at} is {got:.9g} in {path}, but {want:.9g} in this file",
                s.param.definition.span,
                hint="the module was built with other values or from another algorithm; write the values it was"
                " trained with into the file to check that network",
            )


def _floats(torch, s: _Stored, tensor, path: str) -> list[float]:
    """A learnable param's (or its raw parameter's) stored values as Python floats, exactly."""
    if not tensor.is_floating_point():
        raise fail(
            "checkpoint-mismatch",
            f"`{s.key}` in {path} is a {tensor.dtype} tensor, not a floating-point one",
            s.param.definition.span,
        )
    return tensor.detach().to("cpu", torch.float64).reshape(-1).tolist()


def _trained(torch, s: _Stored, values: list[float], tensor, path: str) -> TrainedValue:
    """A learnable param's values as exact rationals, with their shortest texts; an error where one is not finite
    (for a held param: where its raw parameter is not)."""
    definition = s.param.definition
    bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        layers = f" at layer{'s' if len(bad) > 1 else ''} {', '.join(map(str, bad[:5]))}" if tensor.dim() else ""
        raise fail(
            "non-finite-weight",
            f"the trained `{definition.name}` in {path} is {values[bad[0]]}{layers}: training diverged, and a network"
            " that computes with it approximates no ODE",
            definition.span,
            hint="retrain with a smaller learning rate, or compile with --constrain",
        )
    dtype = tensor.dtype if s.held is None else torch.float64  # a held param: the map's value, in float64
    texts = tuple(_shortest(torch, v, dtype) for v in values)
    schedule = definition.kind is ParamKind.SCHEDULE
    return TrainedValue(definition.name, schedule, tuple(sp.Rational(v) for v in values), texts)


def _shortest(torch, value: float, dtype) -> str:
    """The shortest decimal that reads back as `value` in `dtype` (`1.24` for float32's 1.2400000095367432)."""
    for digits in range(1, 18):
        text = f"{value:.{digits}g}"
        if torch.tensor(float(text), dtype=dtype).item() == value:
            return text
    return repr(value)
