"""The generated module's forward pass, described: state set-up, one loop iteration per layer, the output.

Assumes a `LearnableForm` and the attribute names of its params. Guarantees every Python name of the pass (states,
their history, block outputs, the methods of implicit updates), claimed in a fixed order, and its statements as
frozen values that `templates/macros.jinja` lays out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy as sp

from alg2net.adjoint import Adjoint, gradient
from alg2net.codegen.names import GENERATED, MODULE_DICT_ATTRIBUTES, PYTHON_RESERVED, Namespace, docstring_text
from alg2net.derive import BlockCall, K, LearnableForm, Step, function_of, is_block, offset_of, param_entries, vector
from alg2net.inverse import Inverse
from alg2net.printing import DslPrinter, TorchPrinter

# The values an assignment can take; `kind` names the macro that prints each.


@dataclass(frozen=True, slots=True)
class Expression:
    """A printed vector expression."""

    text: str
    kind: ClassVar[str] = "expression"


@dataclass(frozen=True, slots=True)
class Block:
    """`self._block(key, k)(argument)`: the block of a function at layer k, applied to a point; with `dtype_of`,
    its output cast to that tensor's dtype (`.to(x.dtype)`)."""

    key: str
    argument: str
    dtype_of: str | None = None
    kind: ClassVar[str] = "block"


@dataclass(frozen=True, slots=True)
class Solve:
    """`self._equilibrium(functools.partial(self.method, *bound), start, f"where")`: an implicit update's solution."""

    method: str
    bound: tuple[str, ...]
    start: str
    where: str  # the inside of an f-string naming the update and its layer
    kind: ClassVar[str] = "solve"


@dataclass(frozen=True, slots=True)
class Assign:
    """`a, b = u, v`; one value for several targets is the chain `a = b = v`.

    `given`: `_step` makes the assignment only when the backward pass did not hand the value in (a block output that
    `_inverse_step` recorded). `recorded`: `_inverse_step` makes it under `torch.enable_grad()`, for that hand-over.
    """

    targets: tuple[str, ...]
    values: tuple[Expression | Block | Solve, ...]
    given: bool = False
    recorded: bool = False


@dataclass(frozen=True, slots=True)
class UpdateMethod:
    """`name(self, k, *arguments, unknown) -> body`: the map whose fixed point is an implicit update."""

    name: str
    arguments: tuple[str, ...]  # the tensors of the layer the map reads, bound before the solve
    unknown: str
    equation: str  # the update in the language's notation, ready for a docstring
    body: str


@dataclass(frozen=True, slots=True)
class ForwardSpec:
    """`forward(input_name)`: the prelude, then `body` for each layer k, then `return result`."""

    input_name: str
    prelude: tuple[Assign, ...]
    body: tuple[Assign, ...]
    result: str
    functions: tuple[tuple[str, str], ...]  # (nn.ModuleDict key, DSL function), in the file's order
    methods: tuple[UpdateMethod, ...]
    uses_prox: bool
    modules: frozenset[str]  # "math", "torch": what the printed expressions call
    states: tuple[str, ...] = ()  # what a layer reads and writes: each state and its past values, in the file's order
    inverse: InverseSpec | None = None
    held: tuple[tuple[str, str], ...] = ()  # (DSL name, local) of each param read through its --constrain map


@dataclass(frozen=True, slots=True)
class InverseSpec:
    """`_inverse_step(k, *arguments) -> results`: layer k backwards (memory.md)."""

    arguments: tuple[str, ...]  # the states after layer k: `x_next` (x[k+1]), `x` (x[k]), ...
    body: tuple[Assign, ...]
    results: tuple[str, ...]  # the states before it, in the order of `ForwardSpec.states`
    equations: tuple[str, ...]  # the inverse in the language's notation, for the docstring
    # (name in `_step`, local of `_inverse_step`) of each block output at the states before the layer that both
    # compute: the inverse records it under grad, and the backward pass's rerun of the layer reuses it
    handed: tuple[tuple[str, str], ...] = ()
    backward: BackwardSpec | None = None


@dataclass(frozen=True, slots=True)
class BackwardSpec:
    """`_step_backward(k, grads, after, before, **blocks)`: layer k's arithmetic backwards (`alg2net.adjoint`). It
    unpacks the tuples it reads (`_` for an entry it does not), runs `body`, and returns the gradients of the states
    before the layer and the (tensor, gradient) pairs for autograd: each block output, and each learnable param's
    value at the layer."""

    grads: tuple[str, ...]  # the gradients of the states after the layer, unpacked from `grads`
    after: tuple[str, ...] | None  # the states after it, unpacked from `after`; None where none is read
    before: tuple[str, ...] | None
    body: tuple[Assign, ...]
    results: tuple[str, ...]
    through: tuple[tuple[str, str], ...]  # (block output, a keyword argument named as in `_step`; its gradient)
    params: tuple[tuple[str, str], ...]  # (learnable param's value at layer k, its gradient), read with grad


def describe_forward(
    form: LearnableForm,
    attributes: dict[str, str],
    attribute_scope: Namespace,
    inverse: Inverse | None = None,
    held: frozenset[str] = frozenset(),
    adjoint: Adjoint | None = None,
) -> ForwardSpec:
    """The forward pass of `form`; params are read as `self.<attributes[name]>`, and the methods of implicit updates
    are named in `attribute_scope`. With `inverse`, also the method that runs a layer backwards, and with `adjoint`
    the one that takes the gradients back through a layer's arithmetic. The params named in `held` (--constrain) are
    read from locals that hold their mapped values (bound as arguments of an implicit update's method)."""
    return _ForwardWriter(form, attributes, attribute_scope, held).describe(inverse, adjoint)


def calls_at(expr: sp.Expr, point: sp.Basic) -> list[sp.Expr]:
    """The block calls in `expr` whose argument involves `point`."""
    return sorted(
        (c for c in expr.atoms(sp.Function) if is_block(c) and c.args[0].has(point)),
        key=sp.default_sort_key,
    )


class _ForwardWriter:
    """Names every value of the pass, then writes its statements."""

    def __init__(
        self, form: LearnableForm, attributes: dict[str, str], attribute_scope: Namespace, held: frozenset[str]
    ):
        self.form, self.model, self.held = form, form.model, held
        self.attribute_scope = attribute_scope
        self.scope = Namespace(PYTHON_RESERVED | GENERATED)
        dict_keys = Namespace(MODULE_DICT_ATTRIBUTES)
        self.functions = tuple((dict_keys.claim(f), f) for f in self.model.functions)
        self.function_keys = {f: key for key, f in self.functions}
        self.methods: list[UpdateMethod] = []
        self.uses_prox = False
        self.names: dict[sp.Basic, str] = {K: "k"}
        self._name_states()
        tensors = self._name_params(attributes)
        self.block_outputs = self._name_block_outputs()
        vectors = set(self.names) - tensors - {K}
        vectors |= {vector(s, 1) for s in self.model.states} | {c.expr for c in self.block_outputs}
        zero = f"torch.zeros_like({self.history[self.model.states[0]][0]})"
        self.printer = TorchPrinter(self.names, frozenset(tensors), frozenset(vectors), self._prox_call, zero)

    def describe(self, inverse: Inverse | None = None, adjoint: Adjoint | None = None) -> ForwardSpec:
        prelude = self._prelude()
        self.inverse_modules: set[str] = set()
        inverse_spec, handed = self._inverse(inverse, adjoint) if inverse is not None else (None, frozenset())
        # Run backwards, a layer must recompute the forward pass's values exactly: under autocast the updates'
        # arithmetic then runs in the states' dtype, with each block output cast to it.
        self.cast_to = self.history[self.model.states[0]][0] if inverse is not None else None
        body = self._layer(handed)
        return ForwardSpec(
            input_name=self.input_name,
            prelude=tuple(prelude),
            body=tuple(body),
            result=self.history[self.model.output][0],
            functions=self.functions,
            methods=tuple(self.methods),
            uses_prox=self.uses_prox,
            modules=frozenset(self.printer.modules | self.inverse_modules),
            states=tuple(name for state in self.model.states for name in self.history[state]),
            inverse=inverse_spec,
            held=tuple(self.held_locals.items()),
        )

    # Names -------------------------------------------------------------------------------------------------------

    def _name_states(self) -> None:
        """The input, each state with its past values (`x_prev`, `x_prev2`) and next value, and the auxiliaries."""
        model, scope, lags = self.model, self.scope, self.form.lags()
        vectors = {name: scope.claim(name) for name in model.states + model.auxiliaries}
        if vectors.get("x") == "x" and "x" in model.states and "x" not in model.zero_init:
            self.input_name = "x"  # the input is the first value of the state x: no copy needed
        else:
            self.input_name = scope.claim("inputs" if "x" in vectors.values() else "x")
        self.history: dict[str, list[str]] = {}
        for state in model.states:
            base = vectors[state]
            past = [scope.claim(f"{base}_prev" + (str(j) if j > 1 else "")) for j in range(1, lags[state] + 1)]
            self.history[state] = [base, *past]
            for j, python in enumerate(self.history[state]):
                self.names[vector(state, -j)] = python
        for aux in model.auxiliaries:
            self.names[vector(aux)] = vectors[aux]
        self.next_names = {state: scope.claim(f"{vectors[state]}_next") for state in model.states}

    def _name_params(self, attributes: dict[str, str]) -> set[sp.Basic]:
        """Params are read from the module (`self.h`, `self.mu[k]`), a held one from the local of its mapped value
        (`beta`); returns their symbols, which print as tensors."""
        tensors = set()
        self.param_names: dict[sp.Basic, str] = {}
        self.held_locals: dict[str, str] = {}
        self.held_entries: dict[sp.Basic, str] = {}  # a held param's symbol or entry -> its local
        for param in self.form.params:
            name = param.definition.name
            attribute = f"self.{attributes[name]}"
            if name in self.held:
                self.held_locals[name] = self.scope.claim(attributes[name])
            read = self.held_locals.get(name, attribute)
            for entry, index in param_entries(param.definition).items():
                self.names[entry] = self.param_names[entry] = read + index
                if name in self.held:
                    self.held_entries[entry] = read
                tensors.add(entry)
        return tensors

    def _name_block_outputs(self) -> dict[BlockCall, str]:
        """`grad_f_x` for the call T_f(x[k]), `grad_f` for one at a point that has no name."""
        outputs = {}
        for step in self.form.steps:
            for call in step.calls:
                point = self.names.get(call.arg) if isinstance(call.arg, sp.Indexed) else None
                outputs[call] = self.scope.claim(f"grad_{call.function}" + (f"_{point}" if point else ""))
        return outputs

    # Statements --------------------------------------------------------------------------------------------------

    def _prelude(self) -> list[Assign]:
        """Initial values: the input, or zeros for `init v = 0`; every past value starts at the first value."""
        model = self.model
        statements = []
        ordered = [s for s in model.states if s not in model.zero_init] + [
            s for s in model.states if s in model.zero_init
        ]
        for state in ordered:
            base = self.history[state][0]
            if state in model.zero_init:
                statements.append(Assign((base,), (Expression(f"torch.zeros_like({self.input_name})"),)))
            elif base != self.input_name:
                statements.append(Assign((base,), (Expression(self.input_name),)))
        for state in model.states:
            history = self.history[state]
            if len(history) > 1:
                statements.append(Assign(tuple(reversed(history[1:])), (Expression(history[0]),)))
        return statements

    def _layer(self, handed: frozenset[sp.Expr]) -> list[Assign]:
        """One iteration: each step's block calls, then its update; a state that a later step still reads at its old
        value is written to `x_next` and shifted in at the end. The calls in `handed` may be given to the layer."""
        statements, shifts = [], []
        steps = self.form.steps
        for i, step in enumerate(steps):
            for call in step.calls:
                argument = self.printer.print_vector(call.arg)
                self.names[call.expr] = self.block_outputs[call]
                block = Block(self.function_keys[call.function], argument, self.cast_to)
                statements.append(Assign((self.block_outputs[call],), (block,), given=call.expr in handed))
            value = self._value(step)
            if step.offset == 0:
                statements.append(Assign((self.names[vector(step.target)],), (value,)))
            elif self._read_later(step.target, steps[i + 1 :]):
                next_name = self.next_names[step.target]
                statements.append(Assign((next_name,), (value,)))
                self.names[vector(step.target, 1)] = next_name
                shifts.append(self._shift(step.target, Expression(next_name)))
            else:
                statements.append(self._shift(step.target, value))
                self.names[vector(step.target, 1)] = self.history[step.target][0]
        return statements + shifts

    def _value(self, step: Step) -> Expression | Solve:
        if step.implicit and step.value.has(vector(step.target, 1)):
            return self._solve(step)
        return Expression(self.printer.print_vector(step.value, vector(step.target)))

    def _solve(self, step: Step) -> Solve:
        """A method mapping target[k+1] to the right-hand side, and the solve of its fixed point."""
        unknown = vector(step.target, 1)
        unknown_name = self.next_names[step.target]
        inline = {
            call: f'self._block("{self.function_keys[function_of(call)]}", k)' for call in calls_at(step.value, unknown)
        }
        # Locals the map reads are bound as arguments (held params' mapped values too); params (`self.h`,
        # `self.c[k]`) are read in place.
        read = {self.names[a] for a in step.value.atoms(sp.Indexed) if a in self.names and a != unknown}
        read |= {self.names[c] for c in step.value.atoms(sp.Function) if c in self.names}
        read |= {local for entry, local in self.held_entries.items() if step.value.has(entry)}
        known = tuple(sorted(name for name in read if name.isidentifier()))
        self.names[unknown] = unknown_name
        body = self.printer.doprint(step.value, vector(step.target), inline)
        del self.names[unknown]
        method = self.attribute_scope.claim(f"_{step.target}_update")
        equation = f"{step.target}[k+1] = {DslPrinter().doprint(step.value, vector(step.target))}"
        self.methods.append(UpdateMethod(method, known, unknown_name, docstring_text(equation), body))
        current = self.history[step.target][0]
        return Solve(method, ("k", *known), current, f"{step.target}[k+1] at layer {{k}}")

    def _prox_call(self, function: str, point: str, step: str) -> str:
        self.uses_prox = True
        return f'self._prox("{self.function_keys[function]}", k, {point}, {step})'

    @staticmethod
    def _read_later(state: str, steps: tuple[Step, ...]) -> bool:
        """Whether a later step reads the current or a past value of `state` (so it cannot be overwritten yet)."""
        for step in steps:
            for entry in step.value.atoms(sp.Indexed):
                if str(entry.base) == state and offset_of(entry) <= 0:
                    return True
        return False

    def _shift(self, state: str, new: Expression | Solve) -> Assign:
        """`x_prev, x = x, new`: move the history of `state` one layer on."""
        history = self.history[state]
        return Assign(tuple(reversed(history)), (*(Expression(name) for name in reversed(history[:-1])), new))

    # The inverse ----------------------------------------------------------------------------------------------------

    def _inverse(self, inverse: Inverse, adjoint: Adjoint | None) -> tuple[InverseSpec, frozenset[sp.Expr]]:
        """Layer k backwards: its arguments are the states after it (x[k+1] is `x_next`, x[k] is `x`, ...); each
        inverse step recovers the value an update overwrote, after the block calls it reads. Also the block calls
        it hands to the layer's rerun, and the adjoint where it reads only what the inverse hands over."""
        lags = self.form.lags()
        names = {K: "k", **self.param_names}
        arguments = []
        for state in self.model.states:
            after = [self.next_names[state], *self.history[state][:-1]]
            names |= {vector(state, 1 - j): name for j, name in enumerate(after)}
            arguments += after
        scope = Namespace(PYTHON_RESERVED | GENERATED | set(self.names.values()) | set(self.next_names.values()))
        calls = {c for step in inverse.steps for c in step.value.atoms(sp.Function) if is_block(c)}
        vectors = {vector(s, 1 - j) for s in self.model.states for j in range(lags[s] + 2)} | calls
        zero = f"torch.zeros_like({arguments[0]})"
        printer = TorchPrinter(names, frozenset(self.param_names), frozenset(vectors), None, zero)
        # A block call at a state before the layer that the layer makes too is recorded at a leaf for the rerun.
        before = {vector(s, -j) for s in self.model.states for j in range(lags[s] + 1)}
        handed = {c.expr for step in self.form.steps for c in step.calls if c.arg in before} & calls
        leaves = {c.args[0] for c in handed}
        body = [self._leaf(names[point]) for point in sorted(leaves, key=sp.default_sort_key) if point in names]
        for step in inverse.steps:
            for call in sorted(step.value.atoms(sp.Function), key=sp.default_sort_key):
                if is_block(call) and call not in names:
                    point = names.get(call.args[0]) if isinstance(call.args[0], sp.Indexed) else None
                    names[call] = scope.claim(f"grad_{function_of(call)}" + (f"_{point}" if point else ""))
                    block = Block(
                        self.function_keys[function_of(call)], printer.print_vector(call.args[0]), arguments[0]
                    )
                    body.append(Assign((names[call],), (block,), recorded=call in handed))
            recovered = self.history[step.target][-step.offset]
            body.append(Assign((recovered,), (Expression(printer.print_vector(step.value)),)))
            names[step.lhs] = recovered
            if step.lhs in leaves:
                body.append(self._leaf(recovered))
        self.inverse_modules = set(printer.modules)
        backward = None
        if adjoint is not None and {c.expr for c in self.block_outputs} <= handed and not self.held:
            backward = self._backward(adjoint, names)
        results = tuple(name for state in self.model.states for name in self.history[state])
        equations = [*inverse.lines(), *(f"where {condition}" for condition in inverse.condition_texts())]
        return InverseSpec(
            tuple(arguments),
            tuple(body),
            results,
            tuple(docstring_text(e) for e in equations),
            tuple(sorted((self._output_name(call), names[call]) for call in handed)),
            backward,
        ), frozenset(handed)

    def _backward(self, adjoint: Adjoint, names: dict[sp.Basic, str]) -> BackwardSpec:
        """`_step_backward` from `adjoint`, the entries named as in `_inverse_step` (`names`), the block outputs as in
        `_step`, each gradient as its value's name with `_grad`."""
        names = {**names, **{call: self._output_name(call) for call, _ in adjoint.blocks}}
        names |= {vector(aux): self.names[vector(aux)] for aux in self.model.auxiliaries}
        scope = Namespace(PYTHON_RESERVED | GENERATED | set(names.values()))
        entries = dict.fromkeys([*adjoint.after, *adjoint.before, *(entry for entry, _ in adjoint.statements)])
        grads = {entry: scope.claim(f"{names[entry]}_grad") for entry in entries}
        printer = TorchPrinter(
            {**names, **{gradient(entry): name for entry, name in grads.items()}},
            frozenset(self.param_names),
            frozenset(gradient(entry) for entry in grads) | set(names) - set(self.param_names) - {K},
            None,
            f"torch.zeros_like({grads[adjoint.after[0]]})",
        )

        def assign(name: str, value: sp.Expr, sums: bool = False) -> Assign:
            text = printer.print_vector(value)
            return Assign((name,), (Expression(f"({text}).sum()" if sums else text),))

        body = [assign(grads[entry], value) for entry, value in adjoint.statements]
        through = [(names[call], scope.claim(f"{names[call]}_grad")) for call, _ in adjoint.blocks]
        body += [assign(name, value) for (_, name), (_, value) in zip(through, adjoint.blocks)]
        params = [(self.param_names[entry], scope.claim(f"{_param_name(entry)}_grad")) for entry, _ in adjoint.params]
        body += [assign(name, value, sums=True) for (_, name), (_, value) in zip(params, adjoint.params)]
        # last: a state before the layer can be one after it too (x[k]), whose given gradient the statements above
        # may read; where its result is that given gradient, nothing is written
        body += [
            assign(grads[entry], value)
            for entry, value in zip(adjoint.before, adjoint.results)
            if value != gradient(entry)
        ]
        values = [v for _, v in (*adjoint.statements, *adjoint.blocks, *adjoint.params)] + list(adjoint.results)
        read = {a for value in values for a in _without_gradients(value).atoms(sp.Indexed)}
        self.inverse_modules |= printer.modules
        return BackwardSpec(
            tuple(grads[entry] for entry in adjoint.after),
            _unpacked(adjoint.after, read - set(adjoint.before), names),
            _unpacked(adjoint.before, read, names),
            tuple(body),
            tuple(grads[entry] for entry in adjoint.before),
            tuple(through),
            tuple(params),
        )

    @staticmethod
    def _leaf(name: str) -> Assign:
        """`x = x.detach().requires_grad_()`: a state the rerun of the layer differentiates at, and a recorded block
        output depends on."""
        return Assign((name,), (Expression(f"{name}.detach().requires_grad_()"),))

    def _output_name(self, call: sp.Expr) -> str:
        """The local of the layer that holds the block call `call`."""
        return next(name for c, name in self.block_outputs.items() if c.expr == call)


def _without_gradients(value: sp.Expr) -> sp.Expr:
    """`value` with each `gradient(entry)` replaced by a symbol: the entries it reads as values."""
    return value.xreplace({g: sp.Dummy() for g in value.atoms(sp.Function) if g.func == gradient})


def _unpacked(
    entries: tuple[sp.Indexed, ...], read: set[sp.Basic], names: dict[sp.Basic, str]
) -> tuple[str, ...] | None:
    """The targets that unpack `entries`: the name of each one in `read`, `_` for the others; None if none is."""
    if not read & set(entries):
        return None
    return tuple(names[entry] if entry in read else "_" for entry in entries)


def _param_name(entry: sp.Basic) -> str:
    """The language's name of a param entry: `beta`, `kn` for `kn[k]`."""
    return str(entry.base) if isinstance(entry, sp.Indexed) else str(entry)
