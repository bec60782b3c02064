"""Reduce a learnable form, on the linear test, to the recurrence of its output sequence.

Assumes a `LearnableForm` from `alg2net.derive`. Every block call `T_F(v)` is replaced by `-z_F*v` (the test
equation x' = lambda*x with z_F absorbing the step) and every `prox_F(v, t)` by its exact solution `v/(1 - t*z_F)`.
A layer is then linear: auxiliaries and states updated earlier in the layer (Gauss-Seidel) are substituted, an
implicit step is solved for its unknown, and the states with their lags are stacked into one vector xi_k with
xi_{k+1} = M(z)*xi_k. The output sequence obeys the recurrence given by the minimal polynomial of the output row
under M (a Krylov sequence), which is the characteristic polynomial with the modes the output never sees removed.

Guarantees exact SymPy results; coefficients keep whatever symbols the caller left in the substitution (learnable
params, k, frozen per-layer values).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
from sympy.polys.matrices import DomainMatrix

from alg2net.derive import LearnableForm, function_of, is_block, is_prox, offset_of

ZETA = sp.Symbol("zeta")

Atom = tuple[str, int]  # (state, j): state[k + j]
Linear = dict[Atom, sp.Expr]


def test_variable(function: str) -> sp.Symbol:
    """z_F of the linear test: T_F(v) becomes -z_F*v."""
    return sp.Symbol(f"z_{function}")


@dataclass(frozen=True, slots=True)
class BlockPoint:
    """Where a block is evaluated: `function` at the linear combination `point` of states (z kept)."""

    function: str
    point: tuple[tuple[Atom, sp.Expr], ...]


@dataclass(frozen=True, slots=True)
class StateSpace:
    """xi_{k+1} = matrix*xi_k with xi_k = (state[k - j] for each state and lag), and the layer's block points."""

    slots: tuple[Atom, ...]
    matrix: sp.Matrix
    output: int
    points: tuple[BlockPoint, ...]
    variables: tuple[sp.Symbol, ...]

    def at(self, values: dict) -> StateSpace:
        """The same layer with `values` substituted in every coefficient."""
        return self.map(lambda c: sp.cancel(c.xreplace(values))) if values else self

    def map(self, function: Callable[[sp.Expr], sp.Expr]) -> StateSpace:
        """The same layer with `function` applied to every coefficient."""
        points = tuple(BlockPoint(p.function, tuple((a, function(c)) for a, c in p.point)) for p in self.points)
        return StateSpace(self.slots, self.matrix.applyfunc(function), self.output, points, self.variables)


def state_space(form: LearnableForm, substitution: dict) -> StateSpace:
    """The layer of `form` on the linear test; `substitution` maps param atoms (Symbols, Indexed) to expressions."""
    layer = _Layer(form, substitution)
    forms: dict[str, Linear] = {}  # each state's update, as a form over state[k - j]
    for step in form.steps:
        target = step.target if step.offset == 1 else None
        value = layer.linear(step.value, target)
        if target is not None and (target, 1) in value:  # implicit: target[k+1] = a*target[k+1] + rest
            own = value.pop((target, 1))
            value = _scale(value, 1 / (1 - own))
        value = {atom: sp.cancel(c) for atom, c in value.items() if c != 0}
        layer.defined[step.target] = value
        if target is not None:
            forms[target] = value
    # A point that mentions target[k+1] of an implicit step: substitute the solved update.
    points = tuple(BlockPoint(p.function, tuple(_resolve_next(dict(p.point), forms).items())) for p in layer.points)
    return _stacked(form, forms, points)


class _Layer:
    """The expressions of one layer as linear forms over state[k - j], in the order the steps define them."""

    def __init__(self, form: LearnableForm, substitution: dict):
        self.states, self.auxiliaries = set(form.model.states), set(form.model.auxiliaries)
        self.substitution = substitution
        self.defined: dict[str, Linear] = {}  # auxiliaries at [k], states at [k+1], as forms over state[k - j]
        self.points: list[BlockPoint] = []

    def linear(self, expr: sp.Expr, target: str | None) -> Linear:
        """`expr` as a linear form; `target` is the state that the step being read updates (if any)."""
        vectors = self.states | self.auxiliaries
        if isinstance(expr, sp.Indexed) and str(expr.base) in vectors:
            name, offset = str(expr.base), offset_of(expr)
            if name in self.auxiliaries or (offset == 1 and name != target):
                return dict(self.defined[name])
            return {(name, offset): sp.Integer(1)}
        if is_block(expr):
            function = function_of(expr)
            arg = self.linear(expr.args[0], target)
            self.points.append(BlockPoint(function, tuple(arg.items())))
            return _scale(arg, -test_variable(function))
        if is_prox(expr):
            function = function_of(expr)
            step = expr.args[1].xreplace(self.substitution)
            result = _scale(self.linear(expr.args[0], target), 1 / (1 - step * test_variable(function)))
            self.points.append(BlockPoint(function, tuple(result.items())))
            return result
        if isinstance(expr, sp.Add):
            total: Linear = {}
            for term in expr.args:
                for atom, coefficient in self.linear(term, target).items():
                    total[atom] = total.get(atom, 0) + coefficient
            return total
        if isinstance(expr, sp.Mul):
            factors = [a for a in expr.args if _is_vector(a, vectors)]
            scalar = sp.Mul(*(a for a in expr.args if a not in factors)).xreplace(self.substitution)
            (vector,) = factors  # resolve guarantees updates are linear in vectors
            return _scale(self.linear(vector, target), scalar)
        raise ValueError(f"not a vector expression: {expr}")  # pragma: no cover - resolve rules this out


def _stacked(form: LearnableForm, forms: dict[str, Linear], points: tuple[BlockPoint, ...]) -> StateSpace:
    """The states and their lags stacked into xi_k, with xi_{k+1} = M*xi_k."""
    model = form.model
    lags = {name: 0 for name in model.states}
    for value in forms.values():
        for name, offset in value:
            lags[name] = max(lags[name], -offset)
    slots = tuple((name, -j) for name in model.states for j in range(lags[name] + 1))
    index = {slot: i for i, slot in enumerate(slots)}
    matrix = sp.zeros(len(slots), len(slots))
    for name in model.states:
        for atom, coefficient in forms[name].items():
            matrix[index[(name, 0)], index[atom]] += coefficient
        for j in range(1, lags[name] + 1):
            matrix[index[(name, -j)], index[(name, 1 - j)]] = 1
    variables = tuple(test_variable(f) for f in model.functions)
    return StateSpace(slots, matrix, index[(model.output, 0)], points, variables)


def _resolve_next(point: Linear, forms: dict[str, Linear]) -> Linear:
    result: Linear = {}
    for (name, offset), coefficient in point.items():
        parts = forms[name] if offset == 1 and name in forms else {(name, offset): sp.Integer(1)}
        for atom, c in parts.items():
            result[atom] = result.get(atom, 0) + coefficient * c
    return {atom: sp.cancel(c) for atom, c in result.items()}


def _scale(form: Linear, factor: sp.Expr) -> Linear:
    return {atom: coefficient * factor for atom, coefficient in form.items()}


def _is_vector(expr: sp.Expr, vectors: set[str]) -> bool:
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Indexed) and str(node.base) in vectors:
            return True
        if is_block(node) or is_prox(node):
            return True
    return False


def output_recurrence(space: StateSpace) -> sp.Poly:
    """Pi(zeta, z): the monic polynomial in zeta, coefficients rational in z and the params, of least degree that
    annihilates the output sequence for every start (the minimal polynomial of the output row under M)."""
    size = len(space.slots)
    matrix = DomainMatrix.from_Matrix(space.matrix).to_field()
    domain = matrix.domain
    row = [[domain.zero] * size]
    row[0][space.output] = domain.one
    rows = [DomainMatrix(row, (1, size), domain)]
    while True:
        following = rows[-1] * matrix
        stacked = DomainMatrix.vstack(*rows)
        if DomainMatrix.vstack(stacked, following).rank() == len(rows):
            break
        rows.append(following)
        if len(rows) > size:  # pragma: no cover - the rank is at most the size
            break
    degree = len(rows)
    stacked = DomainMatrix.vstack(*rows)
    _, pivots = stacked.rref()
    square = stacked.extract(list(range(degree)), list(pivots))
    target = following.extract([0], list(pivots))
    weights = (target * square.inv()).to_Matrix()  # following = weights*rows
    coefficients = [sp.cancel(-weights[0, i]) for i in range(degree)]
    expr = ZETA**degree + sum(c * ZETA**i for i, c in enumerate(coefficients))
    return sp.Poly(expr, ZETA)
