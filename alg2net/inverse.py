"""The derived inverse (memory.md): can one iteration be run backwards in closed form, and by which formulas?

Assumes a `LearnableForm` from `alg2net.derive`. Guarantees an `Inverse`: for an invertible algorithm, one
`InverseStep` per state update in reverse Gauss-Seidel order, each giving the value the update overwrote (the
oldest lag of its state that the iteration reads; with no lag, `x[k]`) as an expression of values known at that
point of the backward pass, with blocks evaluated only at known values; and the conditions on the params under
which the formulas hold (`beta != 0`). Otherwise the statement and the term that block the inverse. Auxiliaries are
substituted by their definitions, so the inverse reads only states. Implicit algorithms are not invertible here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from alg2net.derive import K, LearnableForm, Step, function_of, is_block, is_prox, vector
from alg2net.printing import DslPrinter, latex_aligned
from alg2net.resolve import ParamKind


@dataclass(frozen=True, slots=True)
class InverseStep:
    """`target[k + offset] = value`: the value an update overwrote, recovered."""

    target: str
    offset: int
    value: sp.Expr

    @property
    def lhs(self) -> sp.Indexed:
        return vector(self.target, self.offset)


@dataclass(frozen=True, slots=True)
class Inverse:
    """The backward iteration, or why there is none (`blocked_by`, in the language's notation)."""

    steps: tuple[InverseStep, ...]
    conditions: tuple[sp.Expr, ...]  # expressions of the params that must not be 0
    blocked_by: str | None = None

    @property
    def invertible(self) -> bool:
        return self.blocked_by is None

    def lines(self) -> list[str]:
        """The inverse iteration in the language's notation, one recovered value a line."""
        printer = DslPrinter()
        return [f"{printer.doprint(step.lhs)} = {printer.doprint(step.value)}" for step in self.steps]

    def condition_texts(self) -> list[str]:
        return [f"{DslPrinter().doprint(condition)} != 0" for condition in self.conditions]


# memory.md: float32's unit round-off, and the relative reconstruction error that anchors keep.
ROUNDOFF, TOLERANCE = 6e-8, 1e-4


@dataclass(frozen=True, slots=True)
class Amplification:
    """How running the layers backwards amplifies round-off: a^L over L layers, a = max |1/zeta| over the nonzero
    roots zeta of the layer at z = 0 (blocks dropped), symbolically and at the params' initial values."""

    symbolic: sp.Expr | None  # a in the params, None where SymPy cannot find the roots
    factor: float  # a at the initial values (first layer for schedules); inf with a zero root

    def text(self) -> str:
        """`(1/abs(beta))^L`, or `1` when nothing grows."""
        if self.symbolic is None:
            return f"{self.factor:.6g}^L"
        return "1" if self.symbolic == 1 else f"({DslPrinter().doprint(self.symbolic)})^L"

    def value(self, depth: int) -> float | None:
        """a^depth, None where it overflows a float."""
        try:
            value = math.pow(self.factor, depth)
        except OverflowError:
            return None
        return value if math.isfinite(value) else None

    def anchor_every(self, depth: int) -> int:
        """The largest m with ROUNDOFF * a^m <= TOLERANCE, capped at `depth` (memory.md)."""
        spacing = self.spacing(TOLERANCE)
        return depth if spacing is None else min(depth, spacing)

    def spacing(self, tolerance: float) -> int | None:
        """The largest m with ROUNDOFF * a^m <= tolerance; None where round-off does not grow (a <= 1)."""
        if not math.isfinite(self.factor):
            return 1
        if self.factor <= 1 + 1e-12:
            return None
        return max(1, int(math.log(tolerance / ROUNDOFF) / math.log(self.factor)))


def amplification(form: LearnableForm) -> Amplification:
    """The round-off amplification of the backward iteration of `form` (memory.md)."""
    matrix = _layer_at_zero(form)
    values = initial_values(form)
    try:
        numeric = [complex(root) for root in sp.Matrix(matrix.xreplace(values)).evalf().eigenvals(multiple=True)]
    except TypeError:  # a value SymPy could not reduce to a number: no estimate, so anchor every layer
        return Amplification(None, math.inf)
    factor = max((1 / abs(root) if abs(root) > 1e-12 else math.inf for root in numeric), default=1.0)
    variable = sp.Dummy("zeta")
    try:
        roots = [root for root in sp.roots(matrix.charpoly(variable), multiple=True) if root != 0]
    except (NotImplementedError, sp.PolynomialError):
        roots = []
    growing = [sp.Abs(1 / root) for root in roots if sp.simplify(sp.Abs(root) - 1) != 0]
    symbolic = None if len(roots) < matrix.rows else (sp.Max(*growing) if growing else sp.Integer(1))
    return Amplification(symbolic, max(factor, 1.0))


def _layer_at_zero(form: LearnableForm) -> sp.Matrix:
    """The layer as a linear map of the stacked states and lags, with every block dropped (z = 0)."""
    lags = form.lags()
    slots = [vector(state, -j) for state in form.model.states for j in range(lags[state] + 1)]
    definitions = {vector(step.target): step.value for step in form.steps if step.offset == 0}
    updated: dict[sp.Indexed, sp.Expr] = {}
    blocks = {}
    for step in form.steps:
        value = _expand(step.value, definitions).xreplace(updated)
        blocks.update({n: 0 for n in sp.preorder_traversal(value) if is_block(n)})
        blocks.update({n: n.args[0] for n in sp.preorder_traversal(value) if is_prox(n)})
        if step.offset == 1:
            updated[step.lhs] = sp.expand(value.xreplace(blocks))
    rows = []
    for state, j in ((s, j) for s in form.model.states for j in range(lags[s] + 1)):
        value = updated[vector(state, 1)] if j == 0 else vector(state, 1 - j)
        rows.append([sp.expand(value).coeff(slot) for slot in slots])
    return sp.Matrix(rows)


def initial_values(form: LearnableForm) -> dict[sp.Basic, sp.Expr]:
    """Each param's value at layer 0 (and at layer 1 for `p[k+1]`), as numbers where the file's formulas allow."""
    values: dict[sp.Basic, sp.Expr] = {}
    for param in form.params:
        name, base = param.definition.name, sp.IndexedBase(param.definition.name)
        if param.definition.kind is ParamKind.CONSTANT:
            values[sp.Symbol(name, real=True)] = param.value
        elif param.definition.kind is ParamKind.SCHEDULE:
            values[base[K]], values[base[K + 1]] = param.value, param.value.xreplace({K: K + 1})
        else:
            values[base[K]], values[base[K + 1]] = param.start, param.value
    for _ in range(len(values)):  # formulas may read other params (in k: layer 0 is substituted last)
        values = {key: value.xreplace(values) for key, value in values.items()}
    return {key: value.xreplace({K: 0}) for key, value in values.items()}


def inverse_text(name: str, inverse: Inverse, latex: bool = False) -> str:
    """What `alg2net show --inverse` prints: the backward iteration and its conditions, or why there is none."""
    if not inverse.invertible:
        return f"algorithm {name} is not invertible: {inverse.blocked_by}\n"
    if latex:
        return latex_aligned([(step.lhs, step.value) for step in inverse.steps])
    conditions = ", ".join(inverse.condition_texts())
    where = [f"where {conditions}"] if conditions else []
    return "\n".join([f"algorithm {name}, one iteration backwards", *inverse.lines(), *where]) + "\n"


def invert(form: LearnableForm) -> Inverse:
    """The inverse of one iteration of `form` (memory.md, Invertibility)."""
    if any(step.implicit for step in form.steps):
        return _blocked("an implicit step (a fixed-point solve) cannot be run backwards in closed form")
    lags = form.lags()
    oldest = {state: vector(state, -lags[state]) for state in form.model.states}
    definitions = {vector(step.target): step.value for step in form.steps if step.offset == 0}
    unknown = set(oldest.values())  # the values before the iteration that the backward pass must recover
    steps, conditions = [], []
    for step in reversed([s for s in form.steps if s.offset == 1]):
        target = oldest[step.target]
        value = _expand(step.value, definitions)
        blocked = _blocking(step, definitions, target, unknown)
        if blocked is not None:
            return _blocked(blocked)
        coefficient = sp.factor(sp.diff(value, target))
        if coefficient == 0 or coefficient.has(target):
            how = "does not appear" if coefficient == 0 else "appears nonlinearly"
            return _blocked(f"{_dsl(target)} {how} in the update of {_dsl(step.lhs)}")
        steps.append(InverseStep(step.target, -lags[step.target], _solved(value, target, coefficient, step.lhs)))
        conditions += [factor for factor in _factors(coefficient) if factor not in conditions]
        unknown.discard(target)
    return Inverse(tuple(steps), tuple(conditions))


def _solved(value: sp.Expr, target: sp.Indexed, coefficient: sp.Expr, after: sp.Indexed) -> sp.Expr:
    """`target` from `after = value`, where `value` is `coefficient*target + rest`: (after - rest)/coefficient,
    written with a positive divisor."""
    numerator = after - sp.expand(value - coefficient * target)
    if coefficient.could_extract_minus_sign():
        numerator, coefficient = -numerator, -coefficient
    return numerator if coefficient == 1 else sp.Mul(numerator, 1 / coefficient)


def _blocked(reason: str) -> Inverse:
    return Inverse((), (), reason)


def _expand(value: sp.Expr, definitions: dict[sp.Indexed, sp.Expr]) -> sp.Expr:
    """`value` with every auxiliary replaced by its definition (definitions read only earlier ones)."""
    while any(value.has(aux) for aux in definitions):
        value = value.xreplace(definitions)
    return value


def _blocking(step: Step, definitions: dict, target: sp.Indexed, unknown: set[sp.Indexed]) -> str | None:
    """Why `target` cannot be solved for in `step`, or None; the blocking term is named as the algorithm writes it."""
    value = _expand(step.value, definitions)
    for node in sp.preorder_traversal(step.value):
        if (is_block(node) or is_prox(node)) and any(_expand(node.args[0], definitions).has(u) for u in unknown):
            kind = "grad" if is_block(node) else "prox"
            return (
                f"{kind} {function_of(node)}({_dsl(node.args[0])}) in the update of {_dsl(step.lhs)}: recovering"
                f" {_dsl(target)} would need the inverse of a block"
            )
    others = sorted((u for u in unknown - {target} if value.has(u)), key=sp.default_sort_key)
    if others:
        return f"the update of {_dsl(step.lhs)} reads {_dsl(others[0])}, which is recovered only later"
    return None


def _factors(coefficient: sp.Expr) -> list[sp.Expr]:
    """The factors of `coefficient` that depend on params: each must not be 0 for the inverse to exist."""
    numerator = sp.fraction(sp.factor(coefficient))[0]
    bases = [factor.as_base_exp()[0] for factor in sp.Mul.make_args(numerator)]  # beta^2 != 0 is beta != 0
    return [base for base in bases if base.free_symbols - {K}]


def _dsl(expr: sp.Expr) -> str:
    return DslPrinter().doprint(expr)
