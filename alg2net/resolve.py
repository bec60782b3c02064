"""Stage 2, resolve: give every name in the syntax tree its meaning and check the rules of the language.

Assumes a `Program` from `alg2net.syntax`. Guarantees a `Model` in which every name is defined before use (in
Gauss–Seidel order), every expression is typed scalar or vector, and params depend only on earlier params; or
raises `Alg2NetError` at the first violation, with its span and a fix.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from alg2net import ir
from alg2net.errors import Alg2NetError, Diagnostic, fail

BUILTINS: dict[str, tuple[int, int | None]] = {  # name -> (fewest, most) arguments
    "sqrt": (1, 1),
    "exp": (1, 1),
    "log": (1, 1),
    "abs": (1, 1),
    "min": (2, None),
    "max": (2, None),
}


MAX_DEPTH = 5000  # levels of one expression's tree (a sum of n terms has n): deeper ones are refused

_MOVE_VECTOR = "a param holds numbers: write vector terms in an update such as `x[k+1] = ...`"


class ParamKind(enum.Enum):
    CONSTANT = "constant"  # param h = 1
    SCHEDULE = "schedule"  # param mu[k] = (k - 1) / (k + 2)
    RECURRENCE = "recurrence"  # param t[0] = 1 and param t[k+1] = ...


class Type(enum.Enum):
    SCALAR = "scalar"
    VECTOR = "vector"


@dataclass(frozen=True, slots=True)
class ParamDef:
    """A resolved param. For a recurrence, `start` is t[0] and `value` is t[k+1] in terms of t[k]."""

    name: str
    kind: ParamKind
    value: ir.Expr
    learnable: bool
    span: ir.Span = field(compare=False, repr=False)
    start: ir.Expr | None = None


@dataclass(frozen=True, slots=True)
class Update:
    """`target[k+1] = value` for a state, `target[k] = value` for an auxiliary."""

    target: str
    is_state: bool
    value: ir.Expr
    span: ir.Span = field(compare=False, repr=False)
    implicit: bool = False  # contains `prox`, or target[k+1] inside `grad`: a fixed-point equation


@dataclass(frozen=True, slots=True)
class Model:
    """An algorithm whose every name is resolved; the input of derivation and code generation."""

    name: str
    params: tuple[ParamDef, ...]
    updates: tuple[Update, ...]
    output: str
    zero_init: frozenset[str]
    functions: tuple[str, ...]
    warnings: tuple[Diagnostic, ...] = ()  # what was left out because it never reaches the output

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(u.target for u in self.updates if u.is_state)

    @property
    def auxiliaries(self) -> tuple[str, ...]:
        return tuple(u.target for u in self.updates if not u.is_state)

    def param(self, name: str) -> ParamDef | None:
        return next((p for p in self.params if p.name == name), None)


def resolve(program: ir.Program) -> Model:
    """Check `program` against the rules of dsl.md and return its `Model`."""
    return _Resolver(program).run()


class _Resolver:
    def __init__(self, program: ir.Program):
        self.program = program
        self.params: dict[str, ParamDef] = {}
        self.pending_recurrence: dict[str, ir.Param] = {}
        self.states: dict[str, ir.Assign] = {}
        self.auxiliaries: dict[str, ir.Assign] = {}
        self.vectors = {s.target for s in program.statements if isinstance(s, ir.Assign)}  # states and auxiliaries
        self.functions: list[str] = []
        self.implicit = False  # whether the update being resolved is implicit

    # The whole program ---------------------------------------------------------------------------------------------

    def run(self) -> Model:
        statements = self.program.statements
        name = self._algorithm_name(statements)
        for statement in statements:
            if isinstance(statement, ir.Param):
                self._param(statement)
        for start in self.pending_recurrence.values():
            raise fail(
                "missing-recurrence-step",
                f"the recurrence '{start.name}' has a start but no step",
                start.span,
                f"add `param {start.name}[k+1] = ...`",
            )
        assigns = [s for s in statements if isinstance(s, ir.Assign)]
        for assign in assigns:
            self._declare(assign)
        if not self.states:
            raise fail(
                "no-state",
                "the algorithm updates no state",
                statements[0].span,
                "add an update such as `x[k+1] = x[k] - h * grad f(x[k])`",
            )
        updates = []
        defined: set[str] = set()
        for assign in assigns:
            self.implicit = False
            _not_too_deep(assign.value, assign.span)
            kind = self._vector_expr(assign.value, _Where(assign, frozenset(defined)))
            if kind is not Type.VECTOR:
                raise fail(
                    "scalar-update",
                    f"the right-hand side of {assign.target}[{assign.index}] is a scalar, not a vector",
                    assign.value.span,
                    f"combine vectors, for example `{assign.target}[k]` or `grad f(...)`",
                )
            defined.add(assign.target)
            updates.append(Update(assign.target, assign.index.offset == 1, assign.value, assign.span, self.implicit))
        output, zero_init = self._output_and_init(statements)
        return _prune(
            Model(name, tuple(self.params.values()), tuple(updates), output, zero_init, tuple(self.functions))
        )

    def _algorithm_name(self, statements: tuple[ir.Statement, ...]) -> str:
        headers = [s for s in statements if isinstance(s, ir.Algorithm)]
        if not headers:
            span = statements[0].span if statements else ir.Span(1, 1, 1, 1)
            raise fail(
                "missing-algorithm",
                "the file does not start with `algorithm NAME`",
                span,
                "add a first line such as `algorithm heavy_ball`",
            )
        if statements[0] is not headers[0]:
            raise fail(
                "algorithm-not-first",
                "`algorithm NAME` must be the first statement",
                headers[0].span,
                "move this line to the top of the file",
            )
        if len(headers) > 1:
            raise fail(
                "duplicate-algorithm",
                "a file describes one algorithm",
                headers[1].span,
                "remove this second `algorithm` line",
            )
        return headers[0].name

    def _output_and_init(self, statements: tuple[ir.Statement, ...]) -> tuple[str, frozenset[str]]:
        outputs = [s for s in statements if isinstance(s, ir.Output)]
        for statement in outputs + [s for s in statements if isinstance(s, ir.Init)]:
            if statement.name not in self.states:
                what = "an auxiliary" if statement.name in self.auxiliaries else "not a state"
                raise fail(
                    "not-a-state",
                    f"'{statement.name}' is {what}; `{type(statement).__name__.lower()}` names a state",
                    statement.span,
                    f"states here: {', '.join(self.states)}",
                )
        if len(outputs) > 1:
            raise fail("duplicate-output", "the network returns one state", outputs[1].span, "keep one `output` line")
        if outputs:
            output = outputs[0].name
        elif len(self.states) == 1:
            output = next(iter(self.states))
        else:
            last = list(self.states.values())[-1]
            raise fail(
                "missing-output",
                f"the algorithm has {len(self.states)} states ({', '.join(self.states)}) and no `output`",
                last.span,
                f"add `output {next(iter(self.states))}` to say which state the network returns",
            )
        zero: dict[str, ir.Init] = {}
        for init in (s for s in statements if isinstance(s, ir.Init)):
            if init.name in zero:
                raise fail("duplicate-init", f"'{init.name}' is initialised twice", init.span, "keep one `init` line")
            zero[init.name] = init
        return output, frozenset(name for name, init in zero.items() if init.zero)

    # Params ----------------------------------------------------------------------------------------------------------

    def _param(self, param: ir.Param) -> None:
        index = param.index
        _not_too_deep(param.value, param.span)
        if param.name in self.params:
            raise fail(
                "duplicate-name",
                f"'{param.name}' is already defined",
                param.span,
                "give this param another name",
            )
        if index is None or (index.relative and index.offset == 0):
            kind = ParamKind.CONSTANT if index is None else ParamKind.SCHEDULE
            self._scalar_expr(param.value, param, allow_counter=kind is ParamKind.SCHEDULE)
            self.params[param.name] = ParamDef(param.name, kind, param.value, param.learnable, param.span)
            return
        if param.learnable:
            raise fail(
                "learnable-recurrence",
                f"the recurrence '{param.name}' cannot be learnable",
                param.span,
                f"for one learnable value per layer write `param {param.name}[k] = ... learnable`",
            )
        if not index.relative and index.offset == 0:
            if param.name in self.pending_recurrence:
                raise fail("duplicate-name", f"'{param.name}[0]' is already defined", param.span, "keep one")
            self._scalar_expr(param.value, param, allow_counter=False)
            self.pending_recurrence[param.name] = param
            return
        if index.relative and index.offset == 1:
            start = self.pending_recurrence.pop(param.name, None)
            if start is None:
                raise fail(
                    "missing-recurrence-start",
                    f"the recurrence '{param.name}' has no start value before this step",
                    param.span,
                    f"add `param {param.name}[0] = ...` above this line",
                )
            self._scalar_expr(param.value, param, allow_counter=True, recurrence=param.name)
            self.params[param.name] = ParamDef(
                param.name, ParamKind.RECURRENCE, param.value, False, param.span, start=start.value
            )
            return
        raise fail(
            "bad-param-index",
            f"a param is indexed [k] (schedule), [0] or [k+1] (recurrence), not [{index}]",
            index.span,
            f"write `param {param.name}[k] = ...` for one value per layer",
        )

    def _scalar_expr(self, expr: ir.Expr, param: ir.Param, *, allow_counter: bool, recurrence: str = "") -> None:
        """Check a param's defining expression: numbers, earlier params, k where allowed, built-ins."""
        for node in ir.walk(expr):
            if isinstance(node, ir.Counter) and not allow_counter:
                raise fail(
                    "counter-in-constant",
                    "`k` is not defined here",
                    node.span,
                    f"use k in a schedule: `param {param.name}[k] = ...`",
                )
            elif isinstance(node, (ir.Grad, ir.Prox)):
                raise fail(
                    "vector-in-param", "a param is a scalar and cannot contain a gradient", node.span, _MOVE_VECTOR
                )
            elif isinstance(node, ir.Call):
                self._check_call(node)
            elif isinstance(node, ir.Name):
                self._scalar_name(node, param)
            elif isinstance(node, ir.Indexed):
                if node.id == recurrence:
                    if not (node.index.relative and node.index.offset == 0):
                        raise fail(
                            "bad-param-index",
                            f"the step of '{recurrence}' may use {recurrence}[k] only",
                            node.span,
                            f"write `{recurrence}[k]`",
                        )
                    continue
                self._scalar_indexed(node, param)

    def _scalar_name(self, node: ir.Name, param: ir.Param | None) -> ParamDef:
        definition = self.params.get(node.id)
        if definition is None:
            if node.id in self.vectors and param is not None:
                raise fail(
                    "vector-in-param",
                    f"a param is a scalar and cannot use the vector '{node.id}'",
                    node.span,
                    _MOVE_VECTOR,
                )
            if node.id in self.vectors:
                raise fail(
                    "vector-without-index",
                    f"'{node.id}' is a vector and needs an index",
                    node.span,
                    f"write `{node.id}[k]`",
                )
            if param is not None and node.id == param.name:
                raise fail(
                    "undefined-name",
                    f"'{node.id}' is used in its own definition",
                    node.span,
                    "define a param from numbers and params declared above it",
                )
            raise fail(
                "undefined-name", f"unknown name '{node.id}'", node.span, f"declare it with `param {node.id} = ...`"
            )
        if definition.kind is not ParamKind.CONSTANT:
            raise fail(
                "missing-index",
                f"'{node.id}' has one value per layer and needs an index",
                node.span,
                f"write `{node.id}[k]`",
            )
        self._no_learnable_in_fixed(definition, node, param)
        return definition

    def _scalar_indexed(self, node: ir.Indexed, param: ir.Param | None) -> ParamDef:
        definition = self.params.get(node.id)
        if definition is None:
            if node.id in self.vectors:
                raise fail(
                    "vector-in-param",
                    f"a param is a scalar and cannot use the vector '{node.id}'",
                    node.span,
                    _MOVE_VECTOR,
                )
            raise fail(
                "undefined-name",
                f"unknown name '{node.id}'",
                node.span,
                f"declare it with `param {node.id}[k] = ...`",
            )
        offsets = {ParamKind.CONSTANT: (), ParamKind.SCHEDULE: (0,), ParamKind.RECURRENCE: (0, 1)}[definition.kind]
        if not node.index.relative or node.index.offset not in offsets:
            allowed = " or ".join(f"`{node.id}[{ir.Index(o)}]`" for o in offsets) or f"`{node.id}` without an index"
            raise fail(
                "bad-param-index",
                f"'{node.id}' is a {definition.kind.value} and cannot be indexed [{node.index}]",
                node.span,
                f"write {allowed}",
            )
        self._no_learnable_in_fixed(definition, node, param)
        return definition

    def _no_learnable_in_fixed(self, definition: ParamDef, node: ir.Expr, param: ir.Param | None) -> None:
        if param is not None and definition.learnable and not param.learnable:
            raise fail(
                "fixed-uses-learnable",
                f"the fixed param '{param.name}' cannot depend on the learnable '{definition.name}'",
                node.span,
                f"make '{param.name}' learnable too, or write its expression where it is used",
            )

    def _check_call(self, node: ir.Call) -> None:
        if node.func not in BUILTINS:
            raise fail(
                "unknown-function",
                f"unknown function '{node.func}'",
                node.span,
                f"built-ins are {', '.join(BUILTINS)}; a gradient is written `grad {node.func}(...)`",
            )
        fewest, most = BUILTINS[node.func]
        if len(node.args) < fewest or (most is not None and len(node.args) > most):
            wanted = f"{fewest}" if fewest == most else f"at least {fewest}"
            raise fail(
                "wrong-arity",
                f"{node.func} takes {wanted} argument{'s' if fewest > 1 or most is None else ''}, not {len(node.args)}",
                node.span,
                f"for example `{node.func}({', '.join('ab'[:fewest])})`",
            )

    # Updates ---------------------------------------------------------------------------------------------------------

    def _declare(self, assign: ir.Assign) -> None:
        index = assign.index
        if not index.relative or index.offset not in (0, 1):
            raise fail(
                "bad-target-index",
                f"the left-hand side must be {assign.target}[k+1] (a state) or {assign.target}[k] (an auxiliary)",
                index.span,
                f"write `{assign.target}[k+1] = ...`",
            )
        if assign.target in self.params or assign.target in self.pending_recurrence:
            raise fail(
                "duplicate-name",
                f"'{assign.target}' is a param and cannot be updated",
                assign.span,
                "rename the param or the vector",
            )
        mine, other = (self.states, self.auxiliaries) if index.offset == 1 else (self.auxiliaries, self.states)
        if assign.target in other:
            raise fail(
                "state-and-auxiliary",
                f"'{assign.target}' is assigned both as {assign.target}[k+1] and {assign.target}[k]",
                assign.span,
                "a name is either a state (updated with [k+1]) or an auxiliary (defined with [k]): rename one",
            )
        if assign.target in mine:
            raise fail(
                "duplicate-update",
                f"'{assign.target}[{index}]' is assigned twice",
                assign.span,
                "every state has one update and every auxiliary one definition: merge them or rename one",
            )
        mine[assign.target] = assign

    # Vector expressions: one rule per IR expression kind (`_VECTOR_RULES`) ---------------------------------------

    def _vector_expr(self, expr: ir.Expr, where: _Where) -> Type:
        """The type of `expr` on the right-hand side of `where.assign`."""
        return VECTOR_RULES[type(expr)](self, expr, where)

    def _leaf(self, expr: ir.Number | ir.Counter, where: _Where) -> Type:
        return Type.SCALAR

    def _name(self, expr: ir.Name, where: _Where) -> Type:
        self._scalar_name(expr, None)
        return Type.SCALAR

    def _indexed(self, expr: ir.Indexed, where: _Where) -> Type:
        if expr.id in self.params:
            self._scalar_indexed(expr, None)
            return Type.SCALAR
        self._vector_reference(expr, where)
        return Type.VECTOR

    def _call(self, expr: ir.Call, where: _Where) -> Type:
        self._check_call(expr)
        for arg in expr.args:
            if self._vector_expr(arg, where) is Type.VECTOR:
                raise fail(
                    "vector-in-function",
                    f"{expr.func} takes a scalar, and its argument is a vector",
                    arg.span,
                    "scalar functions apply to params, numbers and k only",
                )
        return Type.SCALAR

    def _grad(self, expr: ir.Grad, where: _Where) -> Type:
        message = f"grad {expr.function} is taken at a vector, and its argument is a scalar"
        self._gradient_point(expr, where, message, "for example `grad f(x[k])`")
        return Type.VECTOR

    def _prox(self, expr: ir.Prox, where: _Where) -> Type:
        self.implicit = True
        message = f"prox {expr.function} is taken at a vector, and its first argument is a scalar"
        self._gradient_point(expr, where, message, "for example `prox g(x[k], t)`")
        if self._vector_expr(expr.step, where) is not Type.SCALAR:
            raise fail(
                "vector-prox-step",
                f"the step of prox {expr.function} must be a scalar",
                expr.step.span,
                "for example `prox g(x[k], h)` with a param h",
            )
        return Type.VECTOR

    def _gradient_point(self, expr: ir.Grad | ir.Prox, where: _Where, message: str, hint: str) -> None:
        """Register the function of a `grad` or `prox`; the point where it is taken must be a vector."""
        if expr.function not in self.functions:
            self.functions.append(expr.function)
        if self._vector_expr(expr.arg, dataclasses.replace(where, inside_grad=True)) is not Type.VECTOR:
            raise fail("scalar-gradient-point", message, expr.arg.span, hint)

    def _neg(self, expr: ir.Neg, where: _Where) -> Type:
        return self._vector_expr(expr.operand, where)

    def _binary(self, expr: ir.Binary, where: _Where) -> Type:
        left, right = self._vector_expr(expr.left, where), self._vector_expr(expr.right, where)
        scalar, vector = Type.SCALAR, Type.VECTOR
        if expr.op in (ir.Op.ADD, ir.Op.SUB):
            if left is not right:
                raise fail(
                    "scalar-plus-vector",
                    f"cannot {'add' if expr.op is ir.Op.ADD else 'subtract'} a scalar and a vector",
                    expr.span,
                    "multiply the scalar by a vector, or remove it",
                )
            return left
        if expr.op is ir.Op.MUL:
            if left is vector and right is vector:
                raise fail(
                    "vector-product",
                    "the product of two vectors is not defined",
                    expr.span,
                    "updates are linear combinations: multiply vectors by scalars only",
                )
            return vector if vector in (left, right) else scalar
        if expr.op is ir.Op.DIV:
            if right is vector:
                raise fail(
                    "divide-by-vector",
                    "cannot divide by a vector",
                    expr.right.span,
                    "divide by a scalar, or multiply by a param instead",
                )
            return left
        if left is vector or right is vector:
            raise fail(
                "vector-power",
                "a vector cannot be raised to a power or be an exponent",
                expr.span,
                "powers apply to scalars: numbers, params and k",
            )
        return scalar

    def _vector_reference(self, node: ir.Indexed, where: _Where) -> None:
        index, name = node.index, node.id
        if name not in self.states and name not in self.auxiliaries:
            raise fail(
                "undefined-name",
                f"unknown name '{name}'",
                node.span,
                f"define it with an update `{name}[k+1] = ...` or declare a param `param {name}[k] = ...`",
            )
        if not index.relative:
            raise fail(
                "bad-index",
                f"a vector is indexed relative to k, not [{index}]",
                index.span,
                f"write `{name}[k]` or `{name}[k-1]`",
            )
        if index.offset > 1:
            raise fail(
                "index-beyond-next",
                f"{name}[{index}] looks beyond the next iterate",
                index.span,
                f"the furthest index is {name}[k+1]",
            )
        if name in self.auxiliaries:
            self._auxiliary_reference(node, where)
        elif index.offset == 1:
            self._next_reference(node, where)

    def _auxiliary_reference(self, node: ir.Indexed, where: _Where) -> None:
        name, index = node.id, node.index
        if index.offset != 0:
            raise fail(
                "auxiliary-lag",
                f"the auxiliary '{name}' exists only within an iteration, so {name}[{index}] is undefined",
                node.span,
                f"use {name}[k], or make {name} a state with `{name}[k+1] = ...` to keep its past values",
            )
        if name not in where.defined:
            raise fail(
                "used-before-definition",
                f"{name}[k] is used before its definition",
                node.span,
                f"move the line defining {name}[k] above this one",
            )

    def _next_reference(self, node: ir.Indexed, where: _Where) -> None:
        """`name[k+1]` of a state: implicit inside `grad`/`prox` of its own update, else defined above."""
        name = node.id
        if name == where.assign.target:
            if where.inside_grad:
                self.implicit = True
                return
            raise fail(
                "self-reference",
                f"{name}[k+1] is defined in terms of itself outside `grad` or `prox`",
                node.span,
                f"use {name}[k], or move {name}[k+1] inside a gradient for an implicit step",
            )
        if name not in where.defined:
            raise fail(
                "used-before-update",
                f"{name}[k+1] is used before the update of {name}",
                node.span,
                f"move the update of {name} above this line, or use {name}[k]",
            )


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a vector expression sits: the update it belongs to, the vectors assigned above it, inside a gradient."""

    assign: ir.Assign
    defined: frozenset[str]
    inside_grad: bool = False


# The rule for each kind of IR expression (tests/test_layering.py checks that every kind has one).
VECTOR_RULES = {
    ir.Number: _Resolver._leaf,
    ir.Counter: _Resolver._leaf,
    ir.Name: _Resolver._name,
    ir.Indexed: _Resolver._indexed,
    ir.Call: _Resolver._call,
    ir.Grad: _Resolver._grad,
    ir.Prox: _Resolver._prox,
    ir.Neg: _Resolver._neg,
    ir.Binary: _Resolver._binary,
}


def _not_too_deep(expr: ir.Expr, span: ir.Span) -> None:
    if ir.depth(expr) > MAX_DEPTH:
        raise fail(
            "too-deep",
            f"this expression nests more than {MAX_DEPTH} levels deep (a sum of that many terms)",
            span,
            "split it over auxiliaries, `y[k] = ...`, and add those",
        )


# Dead code -------------------------------------------------------------------------------------------------------


def _prune(model: Model) -> Model:
    """`model` without the updates, params and functions that never reach the output, with a warning for each.

    A learnable param that only initialises other learnable params would get no gradient: that is an error.
    """
    definitions = {update.target: update for update in model.updates}
    live, pending = set(), [model.output]
    while pending:
        name = pending.pop()
        if name not in live:
            live.add(name)
            pending += [
                node.id
                for node in ir.walk(definitions[name].value)
                if isinstance(node, ir.Indexed) and node.id in definitions
            ]
    updates = tuple(u for u in model.updates if u.target in live)
    read = {node.id for u in updates for node in ir.walk(u.value) if isinstance(node, (ir.Name, ir.Indexed))}
    params = _live_params(model.params, read)
    functions = {n.function for u in updates for n in ir.walk(u.value) if isinstance(n, (ir.Grad, ir.Prox))}
    kinds = {True: "state", False: "auxiliary"}
    warnings = [
        _dead(u.span, f"the {kinds[u.is_state]} '{u.target}' never reaches the output '{model.output}'")
        for u in model.updates
        if u not in updates
    ]
    warnings += [_dead(p.span, f"the param '{p.name}' is never used") for p in model.params if p not in params]
    warnings.sort(key=lambda warning: (warning.span.line, warning.span.column))
    return dataclasses.replace(
        model,
        params=params,
        updates=updates,
        zero_init=model.zero_init & live,
        functions=tuple(f for f in model.functions if f in functions),
        warnings=tuple(warnings),
    )


def _live_params(params: tuple[ParamDef, ...], read: set[str]) -> tuple[ParamDef, ...]:
    """The params that `read` names, and those their definitions use, in order; refuses a learnable param that
    only initialises others."""
    live = set(read)
    for param in reversed(params):  # a param uses only earlier ones
        if param.name in live:
            expressions = (param.value,) if param.start is None else (param.value, param.start)
            live |= {n.id for e in expressions for n in ir.walk(e) if isinstance(n, (ir.Name, ir.Indexed))}
    for param in params:
        if param.learnable and param.name in live and param.name not in read:
            raise only_initialises(param)
    return tuple(p for p in params if p.name in live)


def only_initialises(param: ParamDef) -> Alg2NetError:
    """The error for a learnable param that only initialises other params: training would never change it."""
    return fail(
        "learnable-only-initialises",
        f"the learnable param '{param.name}' is only used to initialise other params, so training would never"
        " change it (it gets no gradient)",
        param.span,
        f"drop `learnable` from '{param.name}', or use it in an update",
    )


def _dead(span: ir.Span, what: str) -> Diagnostic:
    return Diagnostic(
        "dead-code",
        f"{what}; it is left out of the network",
        span,
        "use it on the way to the output, or delete it",
        severity="warning",
    )
