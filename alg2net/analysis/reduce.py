"""Reduce a learnable form, on the linear test, to the recurrence of its output sequence.

Assumes a `LearnableForm` from `alg2net.derive`. Every block call `T_F(v)` is replaced by `-z_F*v` (the test
equation x' = lambda*x with z_F absorbing the step) and every `prox_F(v, t)` by its exact solution `v/(1 - t*z_F)`.
A layer is then linear: auxiliaries and states updated earlier in the layer (Gauss-Seidel) are substituted as the
layer is read, an implicit step is solved for its unknown, and the states with their lags are stacked into one
vector xi_k with xi_{k+1} = M(z)*xi_k (M is sparse: a lag only shifts). The output sequence obeys the recurrence
given by the minimal polynomial of the output row under M (a Krylov sequence), which is the characteristic polynomial
with the modes the output never sees removed.

Coefficients live in one field (`Scalars`): rational functions over QQ in the symbols they contain, or SymPy's EX
domain where they contain other atoms (sqrt(2), min(k, 3)). SymPy expressions are made from them only when asked
for (`StateSpace.matrix`, `.points`, `Poly.all_coeffs`), in the form `sp.cancel` gives. Guarantees exact results;
coefficients keep whatever symbols the caller left in the substitution (learnable params, k, frozen per-layer
values). Cost: one pass over the layer's expressions, and for an output recurrence of degree d, d sparse
row-times-M products and O(d^2) sparse row reductions; no rank, inverse or determinant of a symbolic matrix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.polys.constructor import construct_domain
from sympy.polys.fields import FracElement
from sympy.polys.matrices import DomainMatrix

from alg2net.derive import LearnableForm, function_of, is_block, is_prox, offset_of

ZETA = sp.Symbol("zeta")

Atom = tuple[str, int]  # (state, j): state[k + j]
Linear = dict[Atom, Any]  # coefficients are elements of the layer's `Scalars`
Row = tuple[tuple[int, Any], ...]  # the nonzero entries (column, coefficient) of one row of M


def test_variable(function: str) -> sp.Symbol:
    """z_F of the linear test: T_F(v) becomes -z_F*v."""
    return sp.Symbol(f"z_{function}")


class Scalars:
    """The field of a layer's coefficients: QQ(symbols) where every coefficient is a rational function of plain
    symbols (substitution and derivatives then stay in the field), SymPy's EX domain otherwise."""

    def __init__(self, domain):
        self.domain = domain
        self.rational = domain.is_FractionField

    @staticmethod
    def of(exprs: Iterable[sp.Expr], variables: Iterable[sp.Symbol]) -> Scalars:
        """The field of `exprs`, with `variables` among its generators."""
        domain, _ = construct_domain([*exprs, *variables], field=True)
        symbols = domain.symbols if domain.is_FractionField and domain.domain in (sp.ZZ, sp.QQ) else (None,)
        if all(isinstance(s, sp.Symbol) for s in symbols):
            return Scalars(sp.QQ.frac_field(*symbols))
        return Scalars(sp.EX)

    @staticmethod
    def of_poly(poly: sp.Poly, variables: tuple[sp.Symbol, ...]) -> tuple[Scalars, list]:
        """The field of the coefficients of `poly` and the coefficients there, highest degree first."""
        domain = poly.domain
        plain = all(isinstance(s, sp.Symbol) for s in getattr(domain, "symbols", ()))  # not exp(r): see `substitution`
        if domain.is_FractionField and domain.domain == sp.QQ and plain and set(variables) <= set(domain.symbols):
            return Scalars(domain), poly.rep.to_list()
        symbols = domain.symbols if domain.is_PolynomialRing or domain.is_FractionField else ()
        over_q = domain.is_ZZ or domain.is_QQ or (bool(symbols) and domain.domain in (sp.ZZ, sp.QQ))
        if over_q and all(isinstance(s, sp.Symbol) for s in symbols):  # converted within the domains
            scalars = Scalars.of(symbols, variables)
            return scalars, [scalars.domain.convert_from(c, domain) for c in poly.rep.to_list()]
        coefficients = poly.all_coeffs()
        scalars = Scalars.of(coefficients, variables)
        return scalars, [scalars.element(c) for c in coefficients]

    def element(self, expr: sp.Expr):
        return self.domain.from_sympy(expr)

    def expr(self, element) -> sp.Expr:
        """The coefficient as an expression (`sp.cancel`'s form in QQ(symbols))."""
        return self.domain.to_sympy(element)

    def substitution(self, values: dict) -> Callable | None:
        """The map of a coefficient to its value at `values`, within the field; None where that needs expressions
        (EX, or a value that is not a rational number)."""
        if not self.rational or not all(isinstance(s, sp.Symbol) for s in self.domain.symbols):
            return None  # a generator such as exp(r) would keep r in it
        pairs = [(g, sp.sympify(values[s])) for s, g in zip(self.domain.symbols, self.domain.gens) if s in values]
        if not pairs:
            return lambda element: element
        if not all(v.is_Rational for _, v in pairs):
            return None
        pairs = [(g, sp.QQ.from_sympy(v)) for g, v in pairs]
        return lambda element: element.subs(pairs)

    def at_zero(self, variables: tuple[sp.Symbol, ...]) -> Callable:
        """The map of a coefficient to its value where every variable is 0."""
        values = {v: sp.Integer(0) for v in variables}
        substitute = self.substitution(values)
        if substitute is not None:
            return substitute
        return lambda element: self.element(sp.cancel(self.expr(element).xreplace(values)))

    def derivative(self, element, variable: sp.Symbol):
        if self.rational:
            return element.diff(self.domain.gens[self.domain.symbols.index(variable)])
        return self.element(sp.diff(self.expr(element), variable))


@dataclass(frozen=True, slots=True)
class BlockPoint:
    """Where a block is evaluated: `function` at the linear combination `point` of states (z kept)."""

    function: str
    point: tuple[tuple[Atom, sp.Expr], ...]


@dataclass(frozen=True)
class StateSpace:
    """xi_{k+1} = M*xi_k with xi_k = (state[k - j] for each state and lag), and the layer's block points; the
    coefficients are elements of `scalars`, their expressions the properties `matrix` and `points`."""

    slots: tuple[Atom, ...]
    rows: tuple[Row, ...]  # the nonzero entries of M, row by row
    output: int
    forms: tuple[tuple[str, tuple[tuple[Atom, Any], ...]], ...]  # the block points, coefficients in the field
    variables: tuple[sp.Symbol, ...]
    scalars: Scalars

    @functools.cached_property
    def matrix(self) -> sp.Matrix:
        matrix = sp.zeros(len(self.slots), len(self.slots))
        for i, row in enumerate(self.rows):
            for j, coefficient in row:
                matrix[i, j] = self.scalars.expr(coefficient)
        return matrix

    @functools.cached_property
    def points(self) -> tuple[BlockPoint, ...]:
        expr = self.scalars.expr
        return tuple(BlockPoint(f, tuple((atom, expr(c)) for atom, c in point)) for f, point in self.forms)

    def at(self, values: dict) -> StateSpace:
        """The same layer with `values` substituted in every coefficient."""
        if not values:
            return self
        substitute = self.scalars.substitution(values)
        if substitute is not None:
            try:
                return self._mapped(substitute, self.scalars)
            except ZeroDivisionError:  # a pole at these values: as expressions, like any other
                pass
        return self.map(lambda c: sp.cancel(c.xreplace(values)))

    def map(self, function: Callable[[sp.Expr], sp.Expr]) -> StateSpace:
        """The same layer with `function` applied to every coefficient (as an expression)."""
        old = self.scalars
        entries = [function(old.expr(c)) for row in self.rows for _, c in row]
        entries += [function(old.expr(c)) for _, point in self.forms for _, c in point]
        scalars = Scalars.of(entries, self.variables)
        values = iter(scalars.element(e) for e in entries)
        return self._mapped(lambda _: next(values), scalars)

    def _mapped(self, function: Callable, scalars: Scalars) -> StateSpace:
        rows = tuple(tuple((j, function(c)) for j, c in row) for row in self.rows)
        forms = tuple((f, tuple((atom, function(c)) for atom, c in point)) for f, point in self.forms)
        rows = tuple(tuple((j, c) for j, c in row if c) for row in rows)
        return StateSpace(self.slots, rows, self.output, forms, self.variables, scalars)


def state_space(form: LearnableForm, substitution: dict) -> StateSpace:
    """The layer of `form` on the linear test; `substitution` maps param atoms (Symbols, Indexed) to expressions."""
    variables = tuple(test_variable(f) for f in form.model.functions)
    layer = _Layer(form, substitution, Scalars.of(_scalar_exprs(form, substitution), variables))
    one = layer.scalars.domain.one
    forms: dict[str, Linear] = {}  # each state's update, as a form over state[k - j]
    for step in form.steps:
        target = step.target if step.offset == 1 else None
        value = layer.linear(step.value, target)
        if target is not None and (target, 1) in value:  # implicit: target[k+1] = a*target[k+1] + rest
            own = value.pop((target, 1))
            value = _scale(value, one / (one - own))
        value = {atom: c for atom, c in value.items() if c}
        layer.defined[step.target] = value
        if target is not None:
            forms[target] = value
    # A point that mentions target[k+1] of an implicit step: substitute the solved update.
    points = tuple((f, tuple(_resolve_next(dict(point), forms, one).items())) for f, point in layer.points)
    return _stacked(form, forms, points, variables, layer.scalars)


class _Layer:
    """The expressions of one layer as linear forms over state[k - j], in the order the steps define them."""

    def __init__(self, form: LearnableForm, substitution: dict, scalars: Scalars):
        self.states, self.auxiliaries = set(form.model.states), set(form.model.auxiliaries)
        self.substitution = substitution
        self.scalars = scalars
        self.defined: dict[str, Linear] = {}  # auxiliaries at [k], states at [k+1], as forms over state[k - j]
        self.points: list[tuple[str, tuple[tuple[Atom, Any], ...]]] = []

    def linear(self, expr: sp.Expr, target: str | None) -> Linear:
        """`expr` as a linear form; `target` is the state that the step being read updates (if any)."""
        vectors = self.states | self.auxiliaries
        one = self.scalars.domain.one
        if isinstance(expr, sp.Indexed) and str(expr.base) in vectors:
            name, offset = str(expr.base), offset_of(expr)
            if name in self.auxiliaries or (offset == 1 and name != target):
                return dict(self.defined[name])
            return {(name, offset): one}
        if is_block(expr):
            function = function_of(expr)
            arg = self.linear(expr.args[0], target)
            self.points.append((function, tuple(arg.items())))
            return _scale(arg, -self.scalars.element(test_variable(function)))
        if is_prox(expr):
            function = function_of(expr)
            step = self.scalars.element(expr.args[1].xreplace(self.substitution))
            z = self.scalars.element(test_variable(function))
            result = _scale(self.linear(expr.args[0], target), one / (one - step * z))
            self.points.append((function, tuple(result.items())))
            return result
        if expr == 0:  # a block's argument that cancels (`grad g(0*x[k])`): the block is a constant
            return {}
        if isinstance(expr, sp.Add):
            total: Linear = {}
            for term in expr.args:
                for atom, coefficient in self.linear(term, target).items():
                    total[atom] = _add(total[atom], coefficient) if atom in total else coefficient
            return total
        if isinstance(expr, sp.Mul):
            factors = [a for a in expr.args if _is_vector(a, vectors)]
            (vector,) = factors  # resolve guarantees updates are linear in vectors
            return _scale(self.linear(vector, target), self.scalars.element(_scalar(expr, factors, self.substitution)))
        raise ValueError(f"not a vector expression: {expr}")  # pragma: no cover - resolve rules this out


def _scalar_exprs(form: LearnableForm, substitution: dict) -> list[sp.Expr]:
    """Every scalar that `_Layer.linear` multiplies by: the field must hold them all."""
    vectors = set(form.model.states) | set(form.model.auxiliaries)
    scalars = []
    for step in form.steps:
        for node in sp.preorder_traversal(step.value):
            if is_prox(node):
                scalars.append(node.args[1].xreplace(substitution))
            elif isinstance(node, sp.Mul):
                factors = [a for a in node.args if _is_vector(a, vectors)]
                if factors:
                    scalars.append(_scalar(node, factors, substitution))
    return scalars


def _scalar(product: sp.Mul, factors: list, substitution: dict) -> sp.Expr:
    return sp.Mul(*(a for a in product.args if a not in factors)).xreplace(substitution)


def _stacked(form: LearnableForm, forms: dict[str, Linear], points, variables, scalars: Scalars) -> StateSpace:
    """The states and their lags stacked into xi_k, with xi_{k+1} = M*xi_k."""
    model = form.model
    lags = {name: 0 for name in model.states}
    for value in forms.values():
        for name, offset in value:
            lags[name] = max(lags[name], -offset)
    slots = tuple((name, -j) for name in model.states for j in range(lags[name] + 1))
    index = {slot: i for i, slot in enumerate(slots)}
    rows: list[dict[int, Any]] = [{} for _ in slots]
    for name in model.states:
        rows[index[(name, 0)]] = {index[atom]: c for atom, c in forms[name].items()}
        for j in range(1, lags[name] + 1):
            rows[index[(name, -j)]] = {index[(name, 1 - j)]: scalars.domain.one}
    sparse = tuple(tuple(sorted(row.items())) for row in rows)
    return StateSpace(slots, sparse, index[(model.output, 0)], points, variables, scalars)


def _resolve_next(point: Linear, forms: dict[str, Linear], one) -> Linear:
    result: Linear = {}
    for (name, offset), coefficient in point.items():
        parts = forms[name] if offset == 1 and name in forms else {(name, offset): one}
        for atom, c in parts.items():
            result[atom] = _add(result[atom], _mul(coefficient, c)) if atom in result else _mul(coefficient, c)
    return result


def _scale(form: Linear, factor) -> Linear:
    return {atom: _mul(coefficient, factor) for atom, coefficient in form.items()}


def _mul(a, b):
    """a*b. Two polynomials of QQ(symbols) (constant denominators) multiply as polynomials: the field's product
    would compute a gcd with the denominator, which costs more than the product itself. The result is p*q over 1,
    not the field's canonical form (an integer numerator over its content): equal in value, and the reduction only
    tests coefficients for zero, never two of them for equality; any division (`Pi`'s monic form) makes it canonical."""
    p, q = _polynomial(a), _polynomial(b)
    if p is None or q is None:
        return a * b
    if p.is_one or q.is_one:
        return b if p.is_one else a
    return a.field.raw_new(p * q, p.ring.one)


def _add(a, b):
    """a + b, for two polynomials of QQ(symbols) as polynomials (see `_mul`)."""
    p, q = _polynomial(a), _polynomial(b)
    return a + b if p is None or q is None else a.field.raw_new(p + q, p.ring.one)


def _polynomial(element):
    """The element as a polynomial over QQ where it is one (a constant denominator), else None."""
    if not isinstance(element, FracElement) or not element.denom.is_ground:
        return None
    denominator = element.denom.LC
    return element.numer if denominator == 1 else element.numer.quo_ground(denominator)


def _is_vector(expr: sp.Expr, vectors: set[str]) -> bool:
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Indexed) and str(node.base) in vectors:
            return True
        if is_block(node) or is_prox(node):
            return True
    return False


def output_recurrence(space: StateSpace) -> sp.Poly:
    """Pi(zeta, z): the monic polynomial in zeta, coefficients rational in z and the params, of least degree that
    annihilates the output sequence for every start (the minimal polynomial of the output row under M).

    The rows e*M^j are reduced, as they come, against the earlier ones (each kept with its pivot and the
    polynomial P with row = e*P(M)); the first to reduce to zero gives Pi."""
    domain, rows = _field_rows(space)
    basis: list[tuple[int, dict, list]] = []  # (pivot, row with 1 at the pivot, P low degree first)
    row, poly = {space.output: domain.one}, [domain.one]
    while True:
        for pivot, earlier, earlier_poly in basis:
            factor = row.get(pivot)
            if factor:
                row = _subtract(row, earlier, factor)
                poly = [_add(c, _mul(-factor, p)) for c, p in zip(poly, earlier_poly)] + poly[len(earlier_poly) :]
        if not row:
            break
        pivot = max(row)  # the deepest lag: for a lag's shift the pivot is 1 and the row stays short
        inverse = domain.one / row[pivot]
        basis.append((pivot, {j: _mul(c, inverse) for j, c in row.items()}, [_mul(c, inverse) for c in poly]))
        row, poly = _times(basis[-1][1], rows), [domain.zero, *basis[-1][2]]
    lead = poly[-1]
    return sp.Poly.from_list([c / lead for c in reversed(poly)], ZETA, domain=domain)


def _field_rows(space: StateSpace) -> tuple[Any, tuple[Row, ...]]:
    """M's rows in the field the Krylov iteration runs in: the layer's own, or for coefficients with atoms other
    than symbols the field that has those atoms as generators (the one `DomainMatrix.from_Matrix` makes)."""
    if space.scalars.rational:
        return space.scalars.domain, space.rows
    matrix = DomainMatrix.from_Matrix(space.matrix).to_field()
    rows: list[list] = [[] for _ in space.slots]
    for (i, j), c in sorted(matrix.to_dok().items()):
        if c:
            rows[i].append((j, c))
    return matrix.domain, tuple(tuple(row) for row in rows)


def _subtract(row: dict, other: dict, factor) -> dict:
    result = dict(row)
    for j, c in other.items():
        value = _add(result[j], _mul(-factor, c)) if j in result else _mul(-factor, c)
        if value:
            result[j] = value
        else:
            result.pop(j, None)
    return result


def _times(row: dict, rows: tuple[Row, ...]) -> dict:
    """row*M for the sparse M given by its rows."""
    result: dict = {}
    for i, c in row.items():
        for j, m in rows[i]:
            result[j] = _add(result[j], _mul(c, m)) if j in result else _mul(c, m)
    return {j: c for j, c in result.items() if c}


def substituted(pi: sp.Poly, values: dict) -> sp.Poly:
    """Pi with `values` substituted in its coefficients: `sp.Poly([sp.cancel(c.xreplace(values)) for c in
    pi.all_coeffs()], ZETA)`, computed in Pi's field where it can be."""
    scalars, coefficients = Scalars.of_poly(pi, ())
    substitute = scalars.substitution(values) if values else (lambda c: c)
    if substitute is not None:
        try:
            return sp.Poly.from_list([substitute(c) for c in coefficients], ZETA, domain=scalars.domain)
        except ZeroDivisionError:  # a pole at these values: as expressions, like any other
            pass
    return sp.Poly([sp.cancel(c.xreplace(values)) for c in pi.all_coeffs()], ZETA)
