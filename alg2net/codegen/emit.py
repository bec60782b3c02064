"""Stage 5, emit: the learnable form to the source of a standalone PyTorch module (Jinja, then black).

Assumes a `LearnableForm` from `alg2net.derive`. Guarantees deterministic, black-formatted Python that imports only
the standard library and torch. All decisions (names, order, lines) are made here; the templates only lay out.
"""

from __future__ import annotations

import functools

import black
import jinja2
import sympy as sp

from alg2net import resources
from alg2net.codegen.names import MODULE_ATTRIBUTES, MODULE_DICT_ATTRIBUTES, PYTHON_RESERVED, Namespace, class_name
from alg2net.codegen.options import ACTIVATIONS, BLOCKS, Options
from alg2net.derive import K, LearnableForm, ParamForm, Step, function_of, is_block, offset_of, vector
from alg2net.printing import DslPrinter, TorchPrinter, learnable_lines
from alg2net.resolve import ParamKind

_GENERATED = frozenset({"self", "torch", "nn", "math", "k", "Any", "Callable"}) | frozenset(BLOCKS.values())


def network_class_name(algorithm: str) -> str:
    """The class name of the network of `algorithm` (`heavy_ball` -> `HeavyBall`), clear of the module's own names."""
    return class_name(algorithm, set(_GENERATED))


def emit(form: LearnableForm, options: Options, source: str, version: str) -> str:
    """The generated module's source text."""
    model = form.model
    name = network_class_name(model.name)
    attributes = Namespace(MODULE_ATTRIBUTES | PYTHON_RESERVED)
    stored = {p.definition.name: attributes.claim(p.definition.name) for p in form.params}
    init = _InitWriter(form, stored)
    forward = _ForwardWriter(form, stored, attributes)
    implicit = any(step.implicit for step in form.steps)
    modules = init.printer.modules | forward.printer.modules
    if implicit:
        modules |= {"math", "warnings"} | ({"functools"} if forward.methods else set())
    context = {
        "module_doc": _module_doc(form, name, source, version),
        "imports": _imports(modules),
        "implicit": implicit,
        "methods": forward.methods,
        "uses_prox": forward.uses_prox,
        "block": options.block,
        "activation": options.activation,
        "activation_module": ACTIVATIONS[options.activation],
        "class_name": name,
        "class_doc": _class_doc(form, name, options),
        "tied": str(options.tied),
        "param_keys": [repr(p.definition.name) for p in form.params],
        "param_list": ", ".join(p.definition.name for p in form.params) or "none",
        "param_lines": init.lines,
        "default_block": f"{BLOCKS[options.block]}(width, hidden={_hidden(options)})",
        "functions": forward.functions,
        "input_name": forward.input_name,
        "prelude": forward.prelude,
        "body": forward.body,
        "result": forward.result,
    }
    text = _environment().get_template("module.py.jinja").render(context)
    return black.format_str(text, mode=black.Mode())


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(resources.templates_dir()),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def _hidden(options: Options) -> str:
    if options.hidden is not None:
        return str(options.hidden)
    return "4 * width" if options.block == "attention" else "width"


def _imports(modules: set[str]) -> list[str]:
    standard = [f"import {name}" for name in ("functools", "math", "warnings") if name in modules]
    standard += ["from collections.abc import Callable", "from typing import Any"]
    return [*standard, "", "import torch", "from torch import nn"]


# Docstrings --------------------------------------------------------------------------------------------------------


def _docstring_text(text: str) -> str:
    """Text that can sit inside a triple-quoted docstring unchanged in meaning."""
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _module_doc(form: LearnableForm, name: str, source: str, version: str) -> str:
    listing = "\n".join(f"    {line}".rstrip() for line in source.strip("\n").splitlines())
    learnable = "\n".join(f"    {line}" for line in learnable_lines(form))
    text = (
        f"{name}: the network of the algorithm `{form.model.name}`, compiled by alg2net {version}.\n\n"
        "Layer k runs one iteration of the algorithm below; every `grad F` is a learnable block.\n\n"
        f"Algorithm:\n\n{listing}\n\n"
        f"Learnable form (T_F is the block of layer k, or the shared block when tied):\n\n{learnable}\n\n"
        "Needs only PyTorch.\n"
    )
    return _docstring_text(text)


def _class_doc(form: LearnableForm, name: str, options: Options) -> str:
    lines = [
        f"`{form.model.name}` unrolled into `depth` layers; every grad F is a learnable block.",
        "",
        "Args:",
        f"    width: {_WIDTH[options.block]}",
        "    depth: number of layers (iterations of the algorithm), at least 1.",
        "    block_factory: optional callable (function_name, layer) -> nn.Module that builds every block.",
        "    tied: one block per function shared by all layers.",
        "    **params: initial values by name, overriding the algorithm's:",
    ]
    for param in form.params:
        lines.append(f"        {param.definition.name}: {_param_summary(param)}.")
    if not form.params:
        lines.append("        (the algorithm has none).")
    return _docstring_text("\n".join(lines) + "\n")


_WIDTH = {
    "mlp": "features of the (batch, width) input.",
    "conv": "channels of the (batch, width, H, W) input.",
    "attention": "embedding size of the (batch, tokens, width) input.",
}


def _param_summary(param: ParamForm) -> str:
    definition = param.definition
    learnable = ", learnable" if definition.learnable else ""
    if definition.kind is ParamKind.CONSTANT:
        return f"a number (default {DslPrinter().doprint(param.value)}{learnable})"
    if definition.kind is ParamKind.SCHEDULE:
        return f"a sequence of depth numbers (default {DslPrinter().doprint(param.value)} at layer k{learnable})"
    step = DslPrinter().doprint(param.value)
    start = DslPrinter().doprint(param.start)
    return f"the start {definition.name}[0] of {definition.name}[k+1] = {step} (default {start})"


# __init__: params ------------------------------------------------------------------------------------------------


_INIT_LOCALS = frozenset(
    {"width", "depth", "block_factory", "tied", "params", "unknown", "layers", "layer", "name", "v"}
    | {"solver_max_iter", "solver_tol"}
)


class _InitWriter:
    """Lines that compute every param as Python floats and store it as a buffer or an nn.Parameter."""

    def __init__(self, form: LearnableForm, attributes: dict[str, str]):
        scope = Namespace(PYTHON_RESERVED | _GENERATED | _INIT_LOCALS)
        self.locals: dict[str, str] = {p.definition.name: scope.claim(p.definition.name) for p in form.params}
        self.attributes = attributes
        names: dict[sp.Basic, str] = {K: "k"}
        for param in form.params:
            local = self.locals[param.definition.name]
            names[sp.Symbol(param.definition.name, real=True)] = local
            for offset in (0, 1):
                names[sp.IndexedBase(param.definition.name)[K + offset]] = f"{local}[k{' + 1' if offset else ''}]"
        self.printer = TorchPrinter(names)
        self.lines: list[str] = []
        for param in form.params:
            self.lines += self._param(param)

    def _param(self, param: ParamForm) -> list[str]:
        key = param.definition.name
        local, attribute = self.locals[key], self.attributes[key]
        value = self.printer.doprint(param.value)
        kind = param.definition.kind
        if kind is ParamKind.CONSTANT:
            lines = [f"{local} = float(params.get({key!r}, {value}))"]
            stored = f"torch.tensor({local})"
        elif kind is ParamKind.SCHEDULE:
            lines = [
                f"{local} = [float(v) for v in params.get({key!r}, [{value} for k in range(depth)])]",
                f"if len({local}) != depth:",
                f'    raise ValueError(f"{key} needs {{depth}} values, one per layer; got {{len({local})}}")',
            ]
            stored = f"torch.tensor({local})"
        else:
            lines = [
                f"{local} = [float(params.get({key!r}, {self.printer.doprint(param.start)}))]",
                "for k in range(depth):",
                f"    {local}.append({value})",
            ]
            stored = f"torch.tensor({local})"
        if param.definition.learnable:
            lines.append(f"self.{attribute} = nn.Parameter({stored})")
        else:
            lines.append(f"self.register_buffer({attribute!r}, {stored})")
        return lines


# forward ---------------------------------------------------------------------------------------------------------


def _calls_at(expr: sp.Expr, point: sp.Basic) -> list[sp.Expr]:
    """The block calls in `expr` whose argument involves `point`."""
    return sorted(
        (c for c in expr.atoms(sp.Function) if is_block(c) and c.args[0].has(point)),
        key=sp.default_sort_key,
    )


class _ForwardWriter:
    """The forward pass: state set-up, one loop iteration per layer, history shifts, the output."""

    def __init__(self, form: LearnableForm, attributes: dict[str, str], scope_attributes: Namespace):
        self.form = form
        self.methods: list[list[str]] = []
        self.uses_prox = False
        model = form.model
        scope = Namespace(PYTHON_RESERVED | _GENERATED)
        dict_keys = Namespace(MODULE_DICT_ATTRIBUTES)
        self.functions = [(dict_keys.claim(f), f) for f in model.functions]
        function_keys = {f: key for key, f in self.functions}
        self.lags = form.lags()
        vectors = {name: scope.claim(name) for name in model.states + model.auxiliaries}
        x_is_input_state = vectors.get("x") == "x" and "x" in model.states and "x" not in model.zero_init
        if x_is_input_state:
            self.input_name = "x"
        else:
            self.input_name = scope.claim("inputs" if "x" in vectors.values() else "x")
        self.names: dict[sp.Basic, str] = {K: "k"}
        self.history: dict[str, list[str]] = {}
        for state in model.states:
            base = vectors[state]
            self.history[state] = [base] + [
                scope.claim(f"{base}_prev" + (str(j) if j > 1 else "")) for j in range(1, self.lags[state] + 1)
            ]
            for j, python in enumerate(self.history[state]):
                self.names[vector(state, -j)] = python
        for aux in model.auxiliaries:
            self.names[vector(aux)] = vectors[aux]
        self.next_names = {state: scope.claim(f"{vectors[state]}_next") for state in model.states}
        tensors = set()
        for param in form.params:
            attribute = f"self.{attributes[param.definition.name]}"
            if param.definition.kind is ParamKind.CONSTANT:
                symbol = sp.Symbol(param.definition.name, real=True)
                self.names[symbol] = attribute
                tensors.add(symbol)
            else:
                for offset in (0, 1):
                    entry = sp.IndexedBase(param.definition.name)[K + offset]
                    self.names[entry] = f"{attribute}[k{' + 1' if offset else ''}]"
                    tensors.add(entry)
        block_outputs = {}
        for step in form.steps:
            for call in step.calls:
                arg = self.names.get(call.arg) if isinstance(call.arg, sp.Indexed) else None
                preferred = f"grad_{call.function}" + (f"_{arg}" if arg else "")
                block_outputs[call] = scope.claim(preferred)
        all_vectors = set(self.names) - tensors - {K}
        all_vectors |= {vector(s, 1) for s in model.states} | {c.expr for c in block_outputs}
        zero = f"torch.zeros_like({self.history[model.states[0]][0]})"
        self.printer = TorchPrinter(self.names, frozenset(tensors), frozenset(all_vectors), self._prox_call, zero)
        self.function_keys = function_keys
        self.prelude = self._prelude()
        self.body: list[str] = []
        shifts: list[str] = []
        for i, step in enumerate(form.steps):
            for call in step.calls:
                arg = self.printer.print_vector(call.arg)
                self.names[call.expr] = block_outputs[call]
                self.body.append(f'{block_outputs[call]} = self._block("{function_keys[call.function]}", k)({arg})')
            if step.implicit and step.value.has(vector(step.target, 1)):
                value = self._implicit_update(step, scope_attributes)
            else:
                value = self.printer.print_vector(step.value, vector(step.target))
            if step.offset == 0:
                self.body.append(f"{self.names[vector(step.target)]} = {value}")
            elif self._read_later(step.target, form.steps[i + 1 :]):
                self.body.append(f"{self.next_names[step.target]} = {value}")
                self.names[vector(step.target, 1)] = self.next_names[step.target]
                shifts.append(self._shift(step.target, self.next_names[step.target]))
            else:
                self.body.append(self._shift(step.target, value))
                self.names[vector(step.target, 1)] = self.history[step.target][0]
        self.body += shifts
        self.result = self.history[model.output][0]

    def _prox_call(self, function: str, point: str, step: str) -> str:
        self.uses_prox = True
        return f'self._prox("{self.function_keys[function]}", k, {point}, {step})'

    def _implicit_update(self, step: Step, scope_attributes: Namespace) -> str:
        """A method mapping target[k+1] to the right-hand side, and the solve of its fixed point in forward."""
        unknown = vector(step.target, 1)
        unknown_name = self.next_names[step.target]
        inline = {}
        for call in _calls_at(step.value, unknown):
            inline[call] = f'self._block("{self.function_keys[function_of(call)]}", k)'
        # Locals the map reads are bound as arguments; params (`self.h`, `self.c[k]`) are read in place.
        read = {self.names[a] for a in step.value.atoms(sp.Indexed) if a in self.names and a != unknown}
        read |= {self.names[c] for c in step.value.atoms(sp.Function) if c in self.names}
        known = sorted(name for name in read if name.isidentifier())
        self.names[unknown] = unknown_name
        body = self.printer.doprint(step.value, vector(step.target), inline)
        del self.names[unknown]
        method = scope_attributes.claim(f"_{step.target}_update")
        arguments = "".join(f", {name}: torch.Tensor" for name in known)
        equation = f"{step.target}[k+1] = {DslPrinter().doprint(step.value, vector(step.target))}"
        self.methods.append(
            [
                f"def {method}(self, k: int{arguments}, {unknown_name}: torch.Tensor) -> torch.Tensor:",
                f'    """The map whose fixed point is the implicit update {_docstring_text(equation)}."""',
                f"    return {body}",
            ]
        )
        bound = ", ".join(["k", *known])
        current = self.history[step.target][0]
        return f'self._equilibrium(functools.partial(self.{method}, {bound}), {current}, f"{step.target}[k+1] at layer {{k}}")'

    def _prelude(self) -> list[str]:
        model = self.form.model
        lines = []
        ordered = [s for s in model.states if s not in model.zero_init] + [
            s for s in model.states if s in model.zero_init
        ]
        for state in ordered:
            base = self.history[state][0]
            if state in model.zero_init:
                lines.append(f"{base} = torch.zeros_like({self.input_name})")
            elif base != self.input_name:
                lines.append(f"{base} = {self.input_name}")
        for state in model.states:
            history = self.history[state]
            if len(history) > 1:
                lines.append(" = ".join(reversed(history[1:])) + f" = {history[0]}")
        return lines

    @staticmethod
    def _read_later(state: str, steps: tuple[Step, ...]) -> bool:
        """Whether a later step reads the current or a past value of `state` (so it cannot be overwritten yet)."""
        for step in steps:
            for entry in step.value.atoms(sp.Indexed):
                if str(entry.base) == state and offset_of(entry) <= 0:
                    return True
        return False

    def _shift(self, state: str, new: str) -> str:
        """`x_prev, x = x, new`: move the history of `state` one layer on."""
        history = self.history[state]
        targets = list(reversed(history))
        sources = list(reversed(history[:-1])) + [new]
        return f"{', '.join(targets)} = {', '.join(sources)}"
