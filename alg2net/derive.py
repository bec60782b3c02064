"""Stage 3, derive: the learnable form of a resolved algorithm, in SymPy.

Assumes a `Model` from `alg2net.resolve`. Guarantees exact SymPy expressions (numbers as rationals of float64 size)
in which every `grad F(v)` is the application `T_F(v)` of an undefined function, vectors and per-layer params are
`IndexedBase` entries such as `x[k - 1]` and `mu[k]`, and constant params are real symbols. Block calls are listed
once per distinct (function, argument) pair, in the order a layer first needs them. Arithmetic without a finite
real value (`1/0`, `sqrt(-1)`) or out of float64 range is a located error.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from alg2net import ir
from alg2net.errors import Diagnostic, fail
from alg2net.resolve import Model, ParamDef, ParamKind, only_initialises

K = sp.Symbol("k", integer=True, nonnegative=True)

# The built-in scalar functions of the language (resolve.BUILTINS) in SymPy.
FUNCTIONS = {"sqrt": sp.sqrt, "exp": sp.exp, "log": sp.log, "abs": sp.Abs, "min": sp.Min, "max": sp.Max}
_OPS = {
    ir.Op.ADD: lambda a, b: a + b,
    ir.Op.SUB: lambda a, b: a - b,
    ir.Op.MUL: lambda a, b: a * b,
    ir.Op.DIV: lambda a, b: a / b,
    ir.Op.POW: lambda a, b: a**b,
}


# Block and prox calls: the one encoding every later stage reads through `is_block`, `is_prox` and `function_of`.
# Each is an undefined SymPy function that prints as `T_F` or `prox_F` and carries its kind and DSL function name.
_BLOCK, _PROX = "block", "prox"


def block(function: str) -> sp.FunctionClass:
    """The learnable block `T_F` that replaces `grad F`."""
    return sp.Function(f"T_{function}", alg2net_kind=_BLOCK, alg2net_function=function)


def prox(function: str) -> sp.FunctionClass:
    """`prox_F(v, t)`: the z with z = v - t*T_F(z), the proximal step of t*F at v."""
    return sp.Function(f"prox_{function}", alg2net_kind=_PROX, alg2net_function=function)


def is_block(expr: sp.Basic) -> bool:
    """Whether `expr` is a block call `T_F(v)`."""
    return isinstance(expr, AppliedUndef) and getattr(expr.func, "alg2net_kind", None) == _BLOCK


def is_prox(expr: sp.Basic) -> bool:
    """Whether `expr` is a prox call `prox_F(v, t)`."""
    return isinstance(expr, AppliedUndef) and getattr(expr.func, "alg2net_kind", None) == _PROX


def function_of(expr: sp.Basic) -> str:
    """F, the DSL function of a block or prox call."""
    return expr.func.alg2net_function


def vector(name: str, offset: int = 0) -> sp.Indexed:
    """`name[k + offset]`."""
    return sp.IndexedBase(name)[K + offset]


def param_entries(definition: ParamDef) -> dict[sp.Basic, str]:
    """The symbols the updates read a param by, each with its index in Python: `beta` and "", or `mu[k]` and
    "[k]", `mu[k+1]` and "[k + 1]"."""
    if definition.kind is ParamKind.CONSTANT:
        return {sp.Symbol(definition.name, real=True): ""}
    return {sp.IndexedBase(definition.name)[K + offset]: f"[k{' + 1' if offset else ''}]" for offset in (0, 1)}


@dataclass(frozen=True, slots=True)
class BlockCall:
    """One distinct `T_F(arg)` of a layer."""

    function: str
    arg: sp.Expr

    @property
    def expr(self) -> sp.Expr:
        return block(self.function)(self.arg)


@dataclass(frozen=True, slots=True)
class Step:
    """`target[k + offset] = value` in the learnable form; `calls` are the block calls to make before it, at
    known points (not yet made by an earlier step of the layer).

    An implicit step's `value` contains `target[k+1]` inside a block call or a `prox_F(v, t)` application: the step
    is the fixed-point equation `target[k+1] = value`.
    """

    target: str
    offset: int
    value: sp.Expr
    calls: tuple[BlockCall, ...]
    implicit: bool = False

    @property
    def lhs(self) -> sp.Indexed:
        return vector(self.target, self.offset)


@dataclass(frozen=True, slots=True)
class ParamForm:
    """A param in SymPy: its value (initial value, schedule in k, or recurrence step in t[k]) and start."""

    definition: ParamDef
    value: sp.Expr
    start: sp.Expr | None = None


@dataclass(frozen=True, slots=True)
class LearnableForm:
    model: Model
    params: tuple[ParamForm, ...]
    steps: tuple[Step, ...]

    def lags(self) -> dict[str, int]:
        """For each state, the deepest lag j such that some step reads state[k - j]."""
        deepest = {name: 0 for name in self.model.states}
        for step in self.steps:
            for entry in step.value.atoms(sp.Indexed):
                name = str(entry.base)
                if name in deepest:
                    deepest[name] = max(deepest[name], -offset_of(entry))
        return deepest


def offset_of(entry: sp.Indexed) -> int:
    """j in `name[k + j]` (an absolute index counts from 0)."""
    return int(entry.indices[0].subs(K, 0))


def derive(model: Model) -> LearnableForm:
    """The learnable form of `model`: every update with `grad F` replaced by its block `T_F`."""
    params = tuple(_param_form(p) for p in model.params)
    values = {update.target: to_sympy(update.value) for update in model.updates}
    model = _without_cancelled_updates(model, values)
    steps = []
    seen: set[BlockCall] = set()
    for update in model.updates:
        value = values[update.target]
        unknown = vector(update.target, 1) if update.is_state else None
        calls = []
        for call in _block_calls(update.value):
            at_unknown = unknown is not None and call.arg.has(unknown)
            cancelled = not value.has(call.expr)  # `0 * grad f(x[k])`: nothing needs the call
            if call not in seen and not (at_unknown or cancelled):  # a call at the unknown is made inside the solve
                seen.add(call)
                calls.append(call)
        steps.append(Step(update.target, 1 if update.is_state else 0, value, tuple(calls), update.implicit))
    return _without_cancelled(model, params, tuple(steps))


def _without_cancelled_updates(model: Model, values: dict[str, sp.Expr]) -> Model:
    """`model` without the updates that reach the output only through terms that cancel (`z[k+1] = u[k] - u[k]`),
    with a warning for each, and without the functions only they call."""
    live, pending = set(), [model.output]
    while pending:
        name = pending.pop()
        if name not in live:
            live.add(name)
            pending += [str(a.base) for a in values[name].atoms(sp.Indexed) if str(a.base) in values]
    if live == set(values):
        return model
    kinds = {True: "state", False: "auxiliary"}
    warnings = [
        _cancelled(f"the {kinds[u.is_state]} '{u.target}' reaches the output only through terms that", u.span)
        for u in model.updates
        if u.target not in live
    ]
    updates = tuple(u for u in model.updates if u.target in live)
    called = {n.function for u in updates for n in ir.walk(u.value) if isinstance(n, (ir.Grad, ir.Prox))}
    return dataclasses.replace(
        model,
        updates=updates,
        zero_init=model.zero_init & live,
        functions=tuple(f for f in model.functions if f in called),
        warnings=model.warnings + tuple(warnings),
    )


def _without_cancelled(model: Model, params: tuple[ParamForm, ...], steps: tuple[Step, ...]) -> LearnableForm:
    """The form without the functions and params whose every use cancels (`0 * grad g(x[k])`, `beta*(x[k] - x[k])`),
    with a warning for each: the network has no block or param that gets no gradient."""
    atoms = set().union(*(step.value.atoms(sp.Symbol, sp.Indexed, AppliedUndef) for step in steps))
    called = {function_of(atom) for atom in atoms if is_block(atom) or is_prox(atom)}
    read = {str(atom.base) if isinstance(atom, sp.Indexed) else str(atom) for atom in atoms}
    used = set(read)
    for param in reversed(params):  # a param is used when a step or a later used param reads it
        if param.definition.name in used:
            expressions = (param.value,) if param.start is None else (param.value, param.start)
            used |= {
                str(a.base) if isinstance(a, sp.Indexed) else str(a)
                for e in expressions
                for a in e.atoms(sp.Symbol, sp.Indexed)
            }
    for param in params:  # read only by other params once cancelled terms are gone: it would get no gradient
        if param.definition.learnable and param.definition.name in used - read:
            raise only_initialises(param.definition)
    warnings = [
        _cancelled(f"every call of `grad {f}` is in terms that", _first_use(model, f))
        for f in model.functions
        if f not in called
    ]
    warnings += [
        _cancelled(f"the param '{p.definition.name}' is used only in terms that", p.definition.span)
        for p in params
        if p.definition.name not in used
    ]
    if not warnings:
        return LearnableForm(model, params, steps)
    kept = tuple(p for p in params if p.definition.name in used)
    model = dataclasses.replace(
        model,
        params=tuple(p.definition for p in kept),
        functions=tuple(f for f in model.functions if f in called),
        warnings=model.warnings + tuple(warnings),
    )
    return LearnableForm(model, kept, steps)


def _first_use(model: Model, function: str) -> ir.Span:
    calls = (n for u in model.updates for n in ir.walk(u.value) if isinstance(n, (ir.Grad, ir.Prox)))
    return next(call.span for call in calls if call.function == function)


def _cancelled(what: str, span: ir.Span) -> Diagnostic:
    return Diagnostic(
        "dead-code",
        f"{what} cancel (add up to 0); it is left out of the network",
        span,
        "delete the terms, or correct them so that they do not cancel",
        severity="warning",
    )


def _param_form(definition: ParamDef) -> ParamForm:
    value = to_sympy(definition.value)
    start = None if definition.start is None else to_sympy(definition.start)
    return ParamForm(definition, value, start)


def to_sympy(expr: ir.Expr) -> sp.Expr:
    """Translate an IR expression. Constant params become real symbols, everything indexed an `Indexed`."""
    return TRANSLATIONS[type(expr)](expr)


def _indexed(expr: ir.Indexed) -> sp.Indexed:
    if expr.index.relative:
        return vector(expr.id, expr.index.offset)
    return sp.IndexedBase(expr.id)[expr.index.offset]


def _binary(expr: ir.Binary) -> sp.Expr:
    left, right = to_sympy(expr.left), to_sympy(expr.right)
    if expr.op is ir.Op.POW:
        _no_huge_power(left, right, expr)
    return _finite(_OPS[expr.op](left, right), expr)


# The translation of each kind of IR expression (tests/test_layering.py checks that every kind has one).
TRANSLATIONS = {
    ir.Number: lambda expr: _finite(sp.Rational(expr.text), expr),
    ir.Counter: lambda expr: K,
    ir.Name: lambda expr: sp.Symbol(expr.id, real=True),
    ir.Indexed: _indexed,
    ir.Call: lambda expr: _finite(FUNCTIONS[expr.func](*(to_sympy(a) for a in expr.args)), expr),
    ir.Grad: lambda expr: block(expr.function)(to_sympy(expr.arg)),
    ir.Prox: lambda expr: prox(expr.function)(to_sympy(expr.arg), to_sympy(expr.step)),
    ir.Neg: lambda expr: -to_sympy(expr.operand),
    ir.Binary: _binary,
}


# The sizes a float64 holds, subnormals included: from about 4.9e-324 to 1.8e308, exactly and as log10.
_SMALLEST, _LARGEST = sp.Rational(math.ulp(0.0)), sp.Rational(sys.float_info.max)
_LOG10_SMALLEST, _LOG10_LARGEST = math.log10(math.ulp(0.0)), math.log10(sys.float_info.max)
_FLOAT_MAX = sp.Float(sys.float_info.max)


def _finite(value: sp.Expr, node: ir.Expr) -> sp.Expr:
    """`value`, or a located error when the arithmetic of `node` has no finite real value."""
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
        raise fail(
            "undefined-value",
            "this expression has no finite real value",
            node.span,
            "look for a division by zero, a sqrt of a negative number or a log of zero",
        )
    if value.is_Rational and value != 0 and not _SMALLEST <= abs(value) <= _LARGEST:
        raise _out_of_range(node)
    if value.is_number and not value.is_Rational and abs(value.evalf(15)) > _FLOAT_MAX:  # exp(250^2)
        raise _out_of_range(node)
    return value


def _no_huge_power(base: sp.Expr, exponent: sp.Expr, node: ir.Expr) -> None:
    """Refuse `base ^ exponent` of two numbers whose value is out of float64 range before SymPy spends forever
    computing it exactly (`9 ^ 9 ^ 9` has 370 million digits)."""
    numbers = base.is_Rational and exponent.is_Rational and base not in (0, 1, -1)
    if numbers and not _LOG10_SMALLEST - 1 < float(exponent) * _log10(base) < _LOG10_LARGEST + 1:
        raise _out_of_range(node)


def _log10(value: sp.Rational) -> float:
    """log10 |value|, computed without converting a huge integer to a float."""
    value = abs(value)
    return math.log10(value.p) - math.log10(value.q)


def _out_of_range(node: ir.Expr):
    return fail(
        "number-out-of-range",
        "this number is out of the range of float64 (about 5e-324 to 1.8e308 in size)",
        node.span,
        "use a number of a size that a float64 holds",
    )


def _block_calls(expr: ir.Expr) -> list[BlockCall]:
    """The `grad` calls of `expr` in the order they are written (inner calls first), without repeats."""
    calls: list[BlockCall] = []
    if isinstance(expr, ir.Grad):
        calls = _block_calls(expr.arg)
        call = BlockCall(expr.function, to_sympy(expr.arg))
        return calls + [call] if call not in calls else calls
    if isinstance(expr, ir.Prox):  # its block call is part of the fixed-point solve
        return [*_block_calls(expr.arg), *(c for c in _block_calls(expr.step) if c not in _block_calls(expr.arg))]
    for child in ir.children(expr):
        calls += [call for call in _block_calls(child) if call not in calls]
    return calls
