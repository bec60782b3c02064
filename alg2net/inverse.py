"""The derived inverse (memory.md): can one iteration be run backwards in closed form, and by which formulas?

Assumes a `LearnableForm` from `alg2net.derive`. Guarantees an `Inverse`: for an invertible algorithm, one
`InverseStep` per state update in reverse Gauss-Seidel order, each giving the value the update overwrote (the
oldest lag of its state that the iteration reads; with no lag, `x[k]`) as an expression of values known at that
point of the backward pass, with blocks evaluated only at known values; and the conditions on the params under
which the formulas hold (`beta != 0`). Otherwise the statement and the term that block the inverse. Auxiliaries are
substituted by their definitions, so the inverse reads only states. Implicit algorithms are not invertible here.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

import mpmath
import sympy as sp

from alg2net.aberth import aberth
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
    """The round-off amplification of the backward iteration of `form` (memory.md): the exact characteristic
    polynomial of the layer at z = 0, its roots numerically at the initial values, and symbolically where SymPy
    finds them all in closed form."""
    matrix = _layer_at_zero(form)
    poly = matrix.charpoly(sp.Dummy("zeta"))
    factor = _numeric_factor(poly, initial_values(form))
    if factor is None:  # a value SymPy could not reduce to a number: no estimate, so anchor every layer
        return Amplification(None, math.inf)
    return Amplification(_symbolic_growth(poly, factor), max(factor, 1.0))


def _numeric_factor(poly: sp.Poly, values: dict[sp.Basic, sp.Expr]) -> float | None:
    """max |1/zeta| over the roots zeta of `poly` at `values` (inf with a zero root); None where a coefficient is
    not a number there."""
    try:
        coefficients = [mpmath.mpc(complex(sp.N(c.xreplace(values), 30))) for c in poly.all_coeffs()]
    except TypeError:
        return None
    while len(coefficients) > 1 and coefficients[0] == 0:
        coefficients.pop(0)
    if len(coefficients) < 2:
        return 1.0
    if coefficients[-1] == 0:
        return math.inf
    monic = [complex(c / coefficients[0]) for c in coefficients]
    radius, degree = 1 + max(abs(c) for c in monic[1:]), len(monic) - 1  # every root lies within the radius
    starts = [radius * cmath.exp(1j * (2 * math.pi * j / degree + 0.4)) for j in range(degree)]
    numeric = aberth(monic, starts, 1e-14, iterations=400)
    if not numeric:  # no convergence in floats: the companion matrix's eigenvalues
        numeric = mpmath.eig(_companion(coefficients), left=False, right=False)
    return max((1 / abs(complex(root)) if abs(root) > 1e-12 else math.inf for root in numeric), default=1.0)


def _companion(coefficients: list) -> mpmath.matrix:
    degree = len(coefficients) - 1
    companion = mpmath.matrix(degree, degree)
    for i in range(degree):
        companion[0, i] = -coefficients[i + 1] / coefficients[0]
        if i:
            companion[i, i - 1] = 1
    return companion


def _symbolic_growth(poly: sp.Poly, factor: float) -> sp.Expr | None:
    """max |1/zeta| over the roots of `poly` off the unit circle (1 when there are none), from SymPy's closed forms
    of the roots of each irreducible factor; None with a zero root, or where a factor beyond degree 2 is neither a
    binomial nor cyclotomic and holds params (the moduli of a cubic's closed form in params can take SymPy hours to
    compare with 1). Of a numeric `poly` with such a factor, `factor` as a decimal."""
    try:
        factors = [f for f, _ in sp.factor_list(poly)[1]]
        hard = [f for f in factors if f.degree() > 2 and f.length() > 2 and not f.is_cyclotomic]
        if hard:  # numeric: the decimal; in params: none
            if any(c.free_symbols for c in poly.all_coeffs()):
                return None
            return sp.Integer(1) if factor <= 1 else sp.Float(factor, 6)
        if all(f.degree() <= 4 for f in factors):  # the closed forms of the whole polynomial
            found = [(poly, [root for root in sp.roots(poly, multiple=True) if root != 0])]
        else:  # factor by factor: a cyclotomic factor's roots are on the unit circle, and one root of a binomial
            # a*zeta^d + b stands for all (they share one modulus)
            found = [(f, [r for r in sp.roots(f, multiple=True) if r != 0]) for f in factors if not f.is_cyclotomic]
    except (NotImplementedError, sp.PolynomialError):
        return None
    if any(len(roots) < f.degree() for f, roots in found):
        return None
    return _growth([root for f, roots in found for root in (roots[:1] if f.length() <= 2 else roots)])


def _growth(roots: list[sp.Expr]) -> sp.Expr:
    """max |1/zeta| over the roots off the unit circle, 1 when there are none; each distinct modulus is decided
    once."""
    on_circle: dict[sp.Expr, bool] = {}
    growing = set()
    for root in dict.fromkeys(roots):
        modulus = sp.Abs(root)
        if modulus not in on_circle:
            on_circle[modulus] = _is_one(modulus)
        if not on_circle[modulus]:
            growing.add(sp.Abs(1 / root))
    return sp.Max(*growing) if growing else sp.Integer(1)


def _is_one(modulus: sp.Expr) -> bool:
    """Whether `modulus` is 1: a numeric one 10^-20 away or more is not (SymPy's simplify of a cubic's closed form
    can take minutes), otherwise simplify decides."""
    if not modulus.free_symbols and abs(sp.N(modulus - 1, 30)) > sp.Float("1e-20"):
        return False
    return sp.simplify(modulus - 1) == 0


def _layer_at_zero(form: LearnableForm) -> sp.Matrix:
    """The layer as a linear map of the stacked states and lags, with every block dropped (z = 0); each auxiliary
    and each update is reduced once, in the order of the steps."""
    lags = form.lags()
    slots = [vector(state, -j) for state in form.model.states for j in range(lags[state] + 1)]
    reduced: dict[sp.Basic, sp.Expr] = {}  # auxiliaries and x[k+1], at z = 0
    for step in form.steps:
        reduced[step.lhs if step.offset == 1 else vector(step.target)] = sp.expand(_at_zero(step.value, reduced))
    rows = []
    for state, j in ((s, j) for s in form.model.states for j in range(lags[s] + 1)):
        value = reduced[vector(state, 1)] if j == 0 else vector(state, 1 - j)
        rows.append([value.coeff(slot) for slot in slots])
    return sp.Matrix(rows)


def _at_zero(expr: sp.Basic, reduced: dict[sp.Basic, sp.Expr]) -> sp.Basic:
    """`expr` with blocks 0, prox calls their argument and the values in `reduced` substituted."""
    if is_block(expr):
        return sp.Integer(0)
    if is_prox(expr):
        return _at_zero(expr.args[0], reduced)
    if expr in reduced:
        return reduced[expr]
    if not expr.args or isinstance(expr, sp.Indexed):
        return expr
    return expr.func(*(_at_zero(arg, reduced) for arg in expr.args))


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
    auxiliaries = _Auxiliaries({vector(step.target): step.value for step in form.steps if step.offset == 0})
    unknown = set(oldest.values())  # the values before the iteration that the backward pass must recover
    steps, conditions = [], []
    for step in reversed([s for s in form.steps if s.offset == 1]):
        target = oldest[step.target]
        blocked = _blocking(step, auxiliaries, target, unknown)
        if blocked is not None:
            return _blocked(blocked)
        value = auxiliaries.expand(step.value)
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
    written with a positive divisor. `rest` is `value` at target = 0 (it is linear in target): subtracting
    coefficient*target would leave target in terms that cancel only once fractions are combined."""
    numerator = after - sp.expand(value.xreplace({target: 0}))
    if coefficient.could_extract_minus_sign():
        numerator, coefficient = -numerator, -coefficient
    return numerator if coefficient == 1 else sp.Mul(numerator, 1 / coefficient)


def _blocked(reason: str) -> Inverse:
    return Inverse((), (), reason)


class _Auxiliaries:
    """The auxiliaries' definitions (each reads only earlier ones), with what each reads once expanded, followed
    through the definitions with memoization rather than by expanding them (a chain of auxiliaries that each read
    the previous one twice doubles the expanded tree at every link)."""

    def __init__(self, definitions: dict[sp.Indexed, sp.Expr]):
        self.definitions = definitions
        self._expanded: dict[sp.Indexed, sp.Expr] = {}
        self._reads: dict[sp.Indexed, frozenset] = {}

    def reads(self, value: sp.Expr) -> frozenset:
        """The values other than auxiliaries that `value` reads, directly or through auxiliaries."""
        found: set = set()
        for atom in value.atoms(sp.Indexed):
            if atom not in self.definitions:
                found.add(atom)
                continue
            if atom not in self._reads:
                self._reads[atom] = self.reads(self.definitions[atom])
            found |= self._reads[atom]
        return frozenset(found)

    def expand(self, value: sp.Expr) -> sp.Expr:
        """`value` with every auxiliary replaced by its definition, recursively; each definition expanded once."""
        replacements = {}
        for atom in value.atoms(sp.Indexed):
            if atom in self.definitions:
                if atom not in self._expanded:
                    self._expanded[atom] = self.expand(self.definitions[atom])
                replacements[atom] = self._expanded[atom]
        return value.xreplace(replacements) if replacements else value

    def calls(self, value: sp.Basic, inside: sp.Indexed | None = None, seen: set | None = None):
        """(call, auxiliary it is written in or None) for each block or prox call `value` evaluates, in preorder,
        entering each auxiliary's definition where it is first read."""
        seen = set() if seen is None else seen
        if is_block(value) or is_prox(value):
            yield value, inside
        elif value in self.definitions:
            if value not in seen:
                seen.add(value)
                yield from self.calls(self.definitions[value], value, seen)
        elif not isinstance(value, sp.Indexed):
            for arg in value.args:
                yield from self.calls(arg, inside, seen)


def _blocking(step: Step, auxiliaries: _Auxiliaries, target: sp.Indexed, unknown: set[sp.Indexed]) -> str | None:
    """Why `target` cannot be solved for in `step`, or None; the blocking term is named as the algorithm writes it,
    with the auxiliary it is written in. A block anywhere in the update, auxiliaries included, whose argument reads a
    value not yet recovered blocks the inverse."""
    for node, inside in auxiliaries.calls(step.value):
        if auxiliaries.reads(node.args[0]) & unknown:
            kind = "grad" if is_block(node) else "prox"
            where = "in" if inside is None else f"in {_dsl(inside)}, read by"
            return (
                f"{kind} {function_of(node)}({_dsl(node.args[0])}) {where} the update of {_dsl(step.lhs)}:"
                f" recovering {_dsl(target)} would need the inverse of a block"
            )
    reads = auxiliaries.reads(step.value)
    others = sorted((u for u in unknown - {target} if u in reads), key=sp.default_sort_key)
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
