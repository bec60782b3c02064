"""Code generation, first half: the learnable form as a frozen description of the generated module.

Assumes a `LearnableForm` from `alg2net.derive` and checked `Options`. Guarantees every name, docstring and piece
of Python the module needs, sanitised and in a fixed order, so that the templates only lay them out; and the
warnings that the options deserve for this algorithm (`compile_warnings`). Loads neither jinja2 nor black.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field

import sympy as sp

from alg2net.codegen.constrain import HeldSpec, describe_held, held_names
from alg2net.codegen.forward import ForwardSpec, calls_at, describe_forward
from alg2net.codegen.memory import MODULE_TOLERANCE, MemoryPlan, plan_memory
from alg2net.codegen.names import (
    GENERATED,
    MODULE_ATTRIBUTES,
    PYTHON_RESERVED,
    Namespace,
    class_name,
    docstring_text,
)
from alg2net.codegen.options import ACTIVATIONS, BLOCKS, BlockKind, Options
from alg2net.constraints import Constraint
from alg2net.derive import K, LearnableForm, ParamForm, function_of, is_prox, vector
from alg2net.errors import Diagnostic
from alg2net.printing import DslPrinter, TorchPrinter, learnable_lines
from alg2net.resolve import ParamKind

# The constructor's own names: a param whose keyword would clash with one is renamed (`width` -> `width_`).
_INIT_NAMES = frozenset(
    {"width", "depth", "block_factory", "tied", "solver_max_iter", "solver_tol", "device", "dtype", "anchor_every"}
    | {"reconstruction_tolerance", "factory_kwargs", "layers", "layer", "name"}
)

_DOC_WIDTH = 116  # the class docstring's lines, within the project's 120 once indented in the class body


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A param as the constructor takes and stores it."""

    argument: str  # the keyword argument, and the local that holds the param's value(s) in __init__
    attribute: str  # the buffer's or nn.Parameter's attribute, and its state_dict key
    kind: str  # "constant", "schedule" or "recurrence"
    learnable: bool
    annotation: str
    default: str  # a number, or "None" for the file's formula
    formula: str  # where the default is None, the file's value (a schedule's at layer k); else ""
    step: str  # a recurrence's next value, `argument[k + 1]` from `argument[k]`; else ""
    held: bool = False  # stored as a raw parameter and read through its --constrain map (`ModuleSpec.held`)


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """Everything `templates/module.py.jinja` lays out."""

    docstring: str
    imports: tuple[str, ...]
    block: BlockKind
    activation: str
    activation_module: str  # `nn.ReLU()`
    norm: str | None  # the conv block's normalization
    hidden: str  # the default block's hidden size, a Python expression in `width`
    class_name: str
    class_doc: str
    tied: bool
    params: tuple[ParamSpec, ...]
    per_layer: bool  # whether a schedule needs the `per_layer` helper
    implicit: bool  # whether the module solves fixed points (then it has solver_max_iter, solver_tol, _equilibrium)
    forward: ForwardSpec
    memory: str = "autograd"  # the backward pass's memory mode (memory.md)
    anchor_every: str = "None"  # reversible: the default of the constructor's `anchor_every`
    held: HeldSpec = field(default_factory=HeldSpec)  # --constrain: the raw parameters and their maps


def network_class_name(algorithm: str) -> str:
    """The class name of the network of `algorithm` (`heavy_ball` -> `HeavyBall`), clear of the module's own names."""
    return class_name(algorithm, set(GENERATED))


def describe(
    form: LearnableForm, options: Options, source: str, version: str, constraints: tuple[Constraint, ...] = ()
) -> ModuleSpec:
    """The generated module of `form` under `options`; `source` is the algorithm's text, quoted in the docstring;
    `constraints` the maps of the params held in their regions (--constrain)."""
    name = network_class_name(form.model.name)
    attributes = Namespace(MODULE_ATTRIBUTES | PYTHON_RESERVED)
    stored = {p.definition.name: attributes.claim(p.definition.name) for p in form.params}
    params, modules = _describe_params(form, stored, held_names(constraints))
    plan = plan_memory(form, options)
    forward = describe_forward(form, stored, attributes, plan.inverse, held_names(constraints), plan.adjoint)
    held = _describe_held(form, constraints, params, stored, forward, attributes, plan)
    modules |= {"math"} if held.helpers else set()
    implicit = any(step.implicit for step in form.steps)
    per_layer = any(p.kind == "schedule" for p in params)
    modules |= forward.modules
    if implicit:
        modules |= {"math", "warnings"} | ({"functools"} if forward.methods else set())
    if per_layer:
        modules |= {"numbers", "Sequence"}
    modules |= _MEMORY_MODULES[plan.mode]
    block = BLOCKS[options.block]
    return ModuleSpec(
        docstring=_module_doc(form, name, source, version, held.doc),
        imports=_imports(modules),
        block=block,
        activation=options.activation,
        activation_module=ACTIVATIONS[options.activation],
        norm=options.norm,
        hidden=str(options.hidden) if options.hidden is not None else block.hidden,
        class_name=name,
        class_doc=_class_doc(form, params, options, implicit, plan, bool(forward.inverse and forward.inverse.backward)),
        tied=options.tied,
        params=params,
        per_layer=per_layer,
        implicit=implicit,
        forward=forward,
        memory=plan.mode,
        anchor_every=str(plan.anchor_every),
        held=held,
    )


def _describe_held(
    form: LearnableForm,
    constraints: tuple[Constraint, ...],
    params: tuple[ParamSpec, ...],
    stored: dict[str, str],
    forward: ForwardSpec,
    attributes: Namespace,
    plan: MemoryPlan,
) -> HeldSpec:
    """The --constrain part of the module: each held param's raw parameter, map and property; the inverse step
    (reversible) maps only the params it reads (constants as symbols, schedules as entries)."""
    read: set[str] = set()
    for step in plan.inverse.steps if plan.inverse is not None else ():
        read |= {symbol.name for symbol in step.value.free_symbols}
        read |= {str(entry.base) for entry in step.value.atoms(sp.Indexed)}
    arguments = {p.definition.name: spec.argument for p, spec in zip(form.params, params)}
    return describe_held(constraints, arguments, stored, dict(forward.held), attributes, frozenset(read))


# What each memory mode's code needs besides the forward pass: `checkpoint` stands for torch.utils.checkpoint's.
_MEMORY_MODULES = {
    "autograd": set(),
    "checkpoint": {"contextlib", "functools", "math", "checkpoint"},
    "reversible": {"contextlib", "math"},
}


def _imports(modules: set[str]) -> tuple[str, ...]:
    standard = [
        f"import {name}" for name in ("contextlib", "functools", "math", "numbers", "warnings") if name in modules
    ]
    collections = ", ".join(name for name in ("Callable", "Sequence") if name == "Callable" or name in modules)
    checkpoint = ["from torch.utils.checkpoint import checkpoint"] if "checkpoint" in modules else []
    return (
        *standard,
        f"from collections.abc import {collections}",
        "",
        "import torch",
        "from torch import nn",
        *checkpoint,
    )


# Params ----------------------------------------------------------------------------------------------------------


def _describe_params(
    form: LearnableForm, attributes: dict[str, str], held: frozenset[str] = frozenset()
) -> tuple[tuple[ParamSpec, ...], set[str]]:
    """Each param's keyword, default and, where the default is the file's formula, that formula in Python floats
    over the other params' keywords; and the modules (`math`) the formulas call. The params in `held` are stored
    through their --constrain maps."""
    scope = Namespace(PYTHON_RESERVED | GENERATED | _INIT_NAMES)
    arguments = {p.definition.name: scope.claim(p.definition.name) for p in form.params}
    names: dict[sp.Basic, str] = {K: "k"}
    for name, argument in arguments.items():
        names[sp.Symbol(name, real=True)] = argument
        for offset in (0, 1):
            names[sp.IndexedBase(name)[K + offset]] = f"{argument}[k{' + 1' if offset else ''}]"
    printer = TorchPrinter(names)
    specs = tuple(
        _param_spec(p, arguments[p.definition.name], attributes[p.definition.name], printer, p.definition.name in held)
        for p in form.params
    )
    return specs, set(printer.modules)


def _param_spec(param: ParamForm, argument: str, attribute: str, printer: TorchPrinter, held: bool) -> ParamSpec:
    kind = param.definition.kind
    initial = param.start if kind is ParamKind.RECURRENCE else param.value
    default = _number(printer.doprint(initial)) if initial.is_number else "None"
    annotation = "float | Sequence[float]" if kind is ParamKind.SCHEDULE else "float"
    return ParamSpec(
        argument=argument,
        attribute=attribute,
        kind=kind.value,
        learnable=param.definition.learnable,
        annotation=annotation + (" | None" if default == "None" else ""),
        default=default,
        formula="" if initial.is_number else printer.doprint(initial),
        step=printer.doprint(param.value) if kind is ParamKind.RECURRENCE else "",
        held=held,
    )


def _number(text: str) -> str:
    """A whole number as a float literal (`1` -> `1.0`), so that every default reads as the float it is."""
    return f"{text}.0" if text.lstrip("-").isdigit() else text


# Docstrings --------------------------------------------------------------------------------------------------------


def _module_doc(form: LearnableForm, name: str, source: str, version: str, held: str = "") -> str:
    # The language's line ends (\n, \r\n), not splitlines': a lone \r or \u2028 in a comment stays in its line.
    lines = [line.removesuffix("\r") for line in source.strip("\n").split("\n")]
    listing = "\n".join(f"    {line}".rstrip() for line in lines)
    learnable = "\n".join(f"    {line}" for line in learnable_lines(form))
    text = (
        f"{name}: the network of the algorithm `{form.model.name}`, compiled by alg2net {version}.\n\n"
        "Layer k runs one iteration of the algorithm below; every `grad F` is a learnable block.\n\n"
        f"Algorithm:\n\n{listing}\n\n"
        f"Learnable form (T_F is the block of layer k, or the shared block when tied):\n\n{learnable}\n\n"
        "Needs only PyTorch.\n"
    )
    if held:  # already escaped
        return docstring_text(text.removesuffix("Needs only PyTorch.\n")) + held + "\nNeeds only PyTorch.\n"
    return docstring_text(text)


def _class_doc(
    form: LearnableForm,
    params: tuple[ParamSpec, ...],
    options: Options,
    implicit: bool,
    plan: MemoryPlan,
    derived_backward: bool = False,
) -> str:
    """The class docstring; `derived_backward`: the reversible module has `_step_backward`."""
    block = BLOCKS[options.block]
    factory = (
        "optional callable (function_name, layer) -> nn.Module that builds every block instead of "
        f"{block.class_name}; it places and types its blocks itself (device and dtype do not reach it)."
    )
    args = [
        ("width", f"{block.width}."),
        ("depth", "number of layers (iterations of the algorithm), at least 1."),
        *((spec.argument, _param_doc(param, spec)) for param, spec in zip(form.params, params)),
        ("block_factory", factory),
        ("tied", "one block per function shared by all layers."),
    ]
    if implicit:
        args += [
            ("solver_max_iter", "iterations of each fixed-point solve, forward and backward."),
            ("solver_tol", "relative residual at which a solve stops; the module warns when a solve ends above it."),
        ]
    if plan.mode == "reversible":
        args.append(("anchor_every", _anchor_doc(form, plan)))
        args.append(("reconstruction_tolerance", _TOLERANCE_DOC))
    args.append(
        ("device, dtype", "where and in which dtype params, buffers and default blocks are made, as in nn.Linear.")
    )
    lines = [f"`{form.model.name}` unrolled into `depth` layers; every grad F is a learnable block.", ""]
    if plan.mode != "autograd":
        memory = _MEMORY_DOCS[plan.mode].format(backward=_BACKWARD_DOCS[derived_backward])
        lines += [*textwrap.wrap(memory, _DOC_WIDTH, break_on_hyphens=False), ""]
    lines.append("Args:")
    for name, text in args:
        lines += textwrap.wrap(
            f"{name}: {text}",
            _DOC_WIDTH,
            initial_indent="    ",
            subsequent_indent="        ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    return docstring_text("\n".join(lines) + "\n")


_MEMORY_DOCS = {
    "checkpoint": (
        "Memory (compiled with `--memory checkpoint`): the layers run in segments of about sqrt(depth) through "
        "torch.utils.checkpoint, which keeps only each segment's input states and reruns the segment in the backward "
        "pass; the gradients equal autograd's. The rerun sees the same random numbers as the forward pass (the RNG "
        "state is preserved, so dropout masks match), and BatchNorm running statistics are restored after it, so "
        "they are updated once per forward pass."
    ),
    "reversible": (
        "Memory (compiled with `--memory reversible`): the forward pass keeps only the states every `anchor_every` "
        "layers (the anchors) and the last ones; the backward pass rebuilds each layer's input from its output with "
        "`_inverse_step` (which records the layer's block outputs at that input) and backpropagates through the "
        "layer, one layer at a time: {backward}. The states rebuilt before each anchor are checked against "
        "it: where round-off grew past `reconstruction_tolerance`, that segment is run again from its anchor (so the "
        "gradients equal autograd's up to that round-off) and `anchor_every` is lowered for later passes; "
        "`reconstruction_error` holds the largest error of the last backward pass. Layer k draws its random numbers "
        "from a seed drawn once per forward pass plus k, so a random block (dropout) that a layer calls once sees the "
        "same mask in the forward pass, the inverse and any rerun; a layer that calls random blocks several times "
        "sees them in another order there (use --memory checkpoint). BatchNorm running statistics are restored after "
        "the backward pass, so they are updated once per forward pass. Double backward is not supported."
    ),
}
_BACKWARD_DOCS = {  # the reversible mode's backward through a layer, by whether the module has `_step_backward`
    True: (
        "`_step_backward`, derived from the updates, takes the gradients back through its arithmetic, and autograd "
        "through its blocks and learnable params alone (a segment of one layer, or one run again, is rerun under "
        "autograd)"
    ),
    False: "autograd differentiates a rerun of the layer that reuses those block outputs",
}


_TOLERANCE_DOC = (
    "the relative error of the states rebuilt before an anchor past which the backward pass runs that segment again "
    "from the anchor and lowers anchor_every; None: 16 eps of the states' dtype (1.9e-6 in float32). A larger one "
    "(memory.md's 1e-4) keeps fewer anchors and gradients further from autograd's."
)


def _anchor_doc(form: LearnableForm, plan: MemoryPlan) -> str:
    """`anchor_every`: what its default keeps, and that it was chosen at the file's initial param values."""
    if plan.anchor_every is None:
        return (
            "layers between stored exact states (anchors); None, the default, stores only the input: at the file's "
            "initial param values a rounding error does not grow as a layer is run backwards."
        )
    return (
        f"layers between stored exact states (anchors). The default {plan.anchor_every} is the largest m with "
        f"6e-8 * a**m <= {MODULE_TOLERANCE:g} (float32), a = {plan.amplification:.4g} the growth of a rounding error "
        "per layer run backwards, computed at compile time from the file's initial param values, without the blocks; "
        "the backward pass lowers it where it measures faster growth. None: only the input."
    )


def _param_doc(param: ParamForm, spec: ParamSpec) -> str:
    """`a number, learnable.`, `a number or a sequence of depth numbers; None for the file's (k - 1)/(k + 2) at
    layer k.`, or a recurrence's start; with the file's name first where Python needed another."""
    name, printer = param.definition.name, DslPrinter()
    renamed = f"`{name}` in the file; " if spec.argument != name else ""
    learnable = ", learnable (an nn.Parameter)" if spec.learnable else " (a buffer)"
    if spec.held:
        learnable = f", learnable, held in its region (as `{spec.attribute}_raw`, see the module docstring)"
    formula = f"; None for the file's {printer.doprint(param.start if spec.kind == 'recurrence' else param.value)}"
    formula = formula if spec.default == "None" else ""
    if spec.kind == "constant":
        return f"{renamed}a number{learnable}{formula}."
    if spec.kind == "schedule":
        where = " at layer k" if formula else ""
        return f"{renamed}a number for every layer or a sequence of depth numbers{learnable}{formula}{where}."
    step = printer.doprint(param.value)
    return f"{renamed}the start {name}[0] of the recurrence {name}[k+1] = {step}{formula}."


# Warnings --------------------------------------------------------------------------------------------------------


def compile_warnings(form: LearnableForm, options: Options) -> tuple[Diagnostic, ...]:
    """What the options deserve for this algorithm: BatchNorm in a conv block that a layer calls more than once."""
    if options.block != "conv" or options.norm != "batch":
        return ()
    several = _called_several_times(form)
    if not several:
        return ()
    names = [f"`{f}`" for f in several]
    blocks = f"the block of {names[0]}" if len(names) == 1 else f"the blocks of {', '.join(names[:-1])} and {names[-1]}"
    return (
        Diagnostic(
            "batch-norm-several-calls",
            f"each layer calls {blocks} more than once (at several points, or in a fixed-point solve), so "
            "BatchNorm's running statistics mix several inputs' statistics and eval mode normalizes each with the mix",
            hint="compile with --norm group, which normalizes each example by its own statistics",
            severity="warning",
        ),
    )


def _called_several_times(form: LearnableForm) -> tuple[str, ...]:
    """The functions whose block a layer calls more than once: at distinct points, or inside a fixed-point solve
    (a block at the unknown of an implicit update, or a prox)."""
    counts = Counter(call.function for step in form.steps for call in step.calls)
    solved = set()
    for step in form.steps:
        if step.implicit:
            solved |= {function_of(call) for call in calls_at(step.value, vector(step.target, 1))}
            solved |= {function_of(node) for node in sp.preorder_traversal(step.value) if is_prox(node)}
    return tuple(f for f in form.model.functions if counts[f] > 1 or f in solved)
