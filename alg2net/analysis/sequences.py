"""Schedules as sequences: every layer k >= 0 cut into branches on which the coefficients are rational functions of
one strictly monotone generator u = a(m).

Assumes expressions in k (`alg2net.derive.K`) built from numbers, rational operations, powers, exp, log, abs, min
and max (fixed params, learnable initial values and closed forms of recurrences already substituted). Guarantees:

- `branches`: the layers k = period*m + residue, m a whole number in [low, high] (high may be oo), covering every
  k >= 0 exactly once; on each, min, max and abs take one argument (they switch only at the real roots of the
  differences of their arguments, found exactly), and powers c^k with c < 0 are split by the parity of k;
- `generator`: the generator a(m) of a branch (m itself, c^m with c > 1, or the one other term in m), its direction
  (proven by SymPy) and its range, with the coefficients as rational functions of u;
- `preimage`: the whole m whose a(m) lies in an interval (a run, as a is monotone), by exact comparisons and an
  exponential then binary search (`first_where`).

Anything that cannot be decided exactly gives None: the caller then has no proof and says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
from sympy.calculus.util import continuous_domain

from alg2net.derive import K

M = sp.Symbol("m", integer=True, nonnegative=True)  # the index within a branch
U = sp.Symbol("u", real=True)  # the generator's value
_REAL = sp.Symbol("m_real", real=True)
_MAX_BRANCHES = 64
_MAX_SEARCH = 2**200  # an exponential search for a layer stops here (undecided)


class Undecided(ValueError):
    """A step of the decision that SymPy cannot take exactly."""


@dataclass(frozen=True)
class Branch:
    """The layers k = period*m + residue for whole m in [low, high]; `exprs` in M with min/max/abs resolved."""

    period: int
    residue: int
    low: int
    high: sp.Expr  # an Integer, or oo
    exprs: tuple[sp.Expr, ...]
    choices: tuple[tuple[sp.Expr, sp.Expr], ...] = ()  # a min/max/abs atom (in M) -> the argument it takes here

    def layer(self, m: int) -> int:
        return self.period * m + self.residue

    def in_m(self, expr: sp.Expr) -> sp.Expr:
        """`expr` (in k) as this branch reads it: in M, with its min/max/abs resolved."""
        value = _normal(sp.sympify(expr).xreplace({K: self.period * M + self.residue}))
        for _ in range(len(self.choices) + 1):
            resolved = value.xreplace(dict(self.choices))
            if resolved == value:
                break
            value = resolved
        return value


def branches(exprs: tuple[sp.Expr, ...]) -> list[Branch] | None:
    """Every layer k >= 0, as branches (see the module); None where min/max/abs cannot be resolved exactly."""
    try:
        period = 2 if any(_odd_power(e.xreplace({K: M})) for e in exprs) else 1
        found: list[Branch] = []
        for residue in range(period):
            start = tuple(_normal(e.xreplace({K: period * M + residue})) for e in exprs)
            found += _resolved(Branch(period, residue, 0, sp.oo, start))
            if len(found) > _MAX_BRANCHES:
                return None
        return found
    except (Undecided, NotImplementedError, TypeError, ValueError, sp.PolynomialError):
        return None


def _odd_power(expr: sp.Expr) -> bool:
    try:
        _normal(expr)
    except _Parity:
        return True
    return False


class _Parity(Undecided):
    """c^(odd*m) with c < 0: the branch must be split by parity."""


def _normal(expr: sp.Expr) -> sp.Expr:
    """Powers c^(a*m + b) with a number c > 0 as c^b*(c^a)^m, and exp(a*m + b) likewise: one atom per base."""

    def rewrite(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        if not exponent.is_polynomial(M) or sp.degree(exponent, M) != 1:
            return base**exponent  # not a geometric sequence: left to the generator
        a, b = (sp.sympify(c) for c in sp.Poly(exponent, M).all_coeffs())
        factor = base**a
        if factor.is_negative:
            raise _Parity(str(base))
        if not factor.is_positive:
            raise Undecided(f"the base {base}")
        if factor == 1:
            return base**b
        return base**b * (sp.Pow(factor, M) if factor > 1 else 1 / sp.Pow(1 / factor, M))

    expr = expr.replace(lambda e: isinstance(e, sp.exp) and e.args[0].has(M), lambda e: rewrite(sp.E, e.args[0]))
    return expr.replace(
        lambda e: isinstance(e, sp.Pow) and e.base.is_number and e.exp.has(M), lambda e: rewrite(e.base, e.exp)
    )


# Min, max and abs ---------------------------------------------------------------------------------------------------


def _resolved(branch: Branch) -> list[Branch]:
    """`branch` split where its innermost min/max/abs switches argument, recursively."""
    atom = next((a for e in branch.exprs for a in _switching(e)), None)
    if atom is None:
        return [branch]
    args = (atom.args[0], -atom.args[0]) if isinstance(atom, sp.Abs) else atom.args
    pick = min if isinstance(atom, sp.Min) else max
    cuts = _switch_points(args, branch.low, branch.high)
    found = []
    for i, left in enumerate([sp.Integer(branch.low), *cuts]):
        right = cuts[i] if i < len(cuts) else None
        first = int(sp.ceiling(left))
        last = branch.high if right is None else sp.Integer(int(sp.ceiling(right)) - 1)
        if last < first:
            continue
        end = right if right is not None else (left + 2 if branch.high is sp.oo else branch.high)
        values = [a.xreplace({M: (left + end) / 2}) for a in args]
        chosen = args[_index_of(values, pick)]
        exprs = tuple(e.xreplace({atom: chosen}) for e in branch.exprs)
        choices = (*branch.choices, (atom, chosen))
        found += _resolved(dataclasses.replace(branch, low=first, high=last, exprs=exprs, choices=choices))
    return found


def _switching(expr: sp.Expr):
    """The min/max/abs atoms in M whose arguments hold no other."""
    switches = (sp.Min, sp.Max, sp.Abs)
    for node in sp.preorder_traversal(expr):
        inner = (n for a in node.args for n in sp.preorder_traversal(a))
        if isinstance(node, switches) and node.has(M) and not any(isinstance(n, switches) for n in inner):
            yield node


def _switch_points(args, low: int, high: sp.Expr) -> list[sp.Expr]:
    """The real points in (low, high) where two arguments meet or one has a pole, sorted; exact."""
    points: set[sp.Expr] = set()
    window = sp.Interval.open(low, high)
    for i, a in enumerate(args):
        for b in args[i + 1 :]:
            difference = sp.together((a - b).xreplace({M: _REAL}))
            for part in sp.fraction(difference):
                points |= _real_zeros(part, window)
    return sorted(points, key=lambda p: float(p.evalf(30)))


def _real_zeros(expr: sp.Expr, window: sp.Interval) -> set[sp.Expr]:
    if not expr.has(_REAL):
        return set()
    if expr.is_polynomial(_REAL):
        return {r for r in sp.Poly(expr, _REAL).real_roots() if window.contains(r) is sp.true}
    if continuous_domain(expr, _REAL, window) != window:
        raise Undecided(f"not continuous: {expr}")
    zeros = sp.solveset(expr, _REAL, window)
    if not isinstance(zeros, sp.FiniteSet):
        raise Undecided(f"zeros of {expr}")
    return set(zeros)


def _index_of(values: list[sp.Expr], pick) -> int:
    best = 0
    for i in range(1, len(values)):
        s = sign(values[i] - values[best])
        if s is None:
            raise Undecided("cannot compare the arguments of a min or max")
        if (s < 0) if pick is min else (s > 0):
            best = i
    return best


def sign(value: sp.Expr) -> int | None:
    """The sign of an exact real number; None where SymPy cannot tell."""
    value = sp.sympify(value)
    if value.is_zero:
        return 0
    if value.is_positive:
        return 1
    if value.is_negative:
        return -1
    if sp.simplify(value) == 0:
        return 0
    return None


# The generator ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generator:
    """u = atom(m) on a branch (`atom` in a real variable): strictly monotone (direction +1 or -1) from `start` (at
    m = low) towards `end` (at m = high, or the limit m -> oo, never reached there); `exprs` are the branch's
    coefficients in U."""

    atom: sp.Expr
    exprs: tuple[sp.Expr, ...]
    direction: int
    start: sp.Expr
    end: sp.Expr

    def at(self, m: int) -> sp.Expr:
        return self.atom.xreplace({_REAL: m})

    @property
    def rational_at_layers(self) -> bool:
        """Whether the atom is rational at every whole m: m itself, or c^m with c rational."""
        return self.atom == _REAL or (
            isinstance(self.atom, sp.Pow) and self.atom.exp == _REAL and self.atom.base.is_Rational
        )

    def of(self, expr: sp.Expr) -> sp.Expr | None:
        """`expr` (in M, as the branch reads it) in U; None where it is not a function of the generator."""
        for form in (expr, sp.expand(expr)):  # expanding joins exp(a)*exp(-a)
            value = _substitute(_combined(form.xreplace({M: _REAL})), self.atom)
            if not value.has(_REAL):
                return value
        return None


def generator(branch: Branch) -> Generator | None:
    """The generator of a branch; None where there is no single one, it is not proven monotone, or the
    coefficients are not rational in it."""
    for expand in (False, True):  # expanding joins exp(a)*exp(-a)
        exprs = tuple(_combined((sp.expand(e) if expand else e).xreplace({M: _REAL})) for e in branch.exprs)
        candidates: set[sp.Expr] = set().union(*(_nonrational(e) for e in exprs))
        if len(candidates) <= 1:
            break
    else:
        return None
    atom = candidates.pop() if candidates else _REAL
    exprs = tuple(_substitute(e, atom) for e in exprs)
    if any(e.has(_REAL) or not e.is_rational_function(U) for e in exprs):
        return None
    direction = _direction(atom, branch.low, branch.high)
    if direction is None:
        return None
    try:
        start = atom.xreplace({_REAL: branch.low})
        end = sp.limit(atom, _REAL, sp.oo) if branch.high is sp.oo else atom.xreplace({_REAL: branch.high})
    except (NotImplementedError, ValueError, TypeError):
        return None
    if end.has(sp.nan, sp.zoo) or isinstance(end, sp.AccumBounds):
        return None
    return Generator(atom, exprs, direction, start, end)


def _combined(expr: sp.Expr) -> sp.Expr:
    """sqrt(m + 1)/sqrt(m + 2) as sqrt((m + 1)/(m + 2)): roots of positive bases with one denominator in one."""

    def combine(product: sp.Mul) -> sp.Expr:
        roots: dict = {}
        rest = []
        for factor in product.args:
            base, exponent = factor.as_base_exp()
            positive = base.has(_REAL) and base.xreplace({_REAL: M}).is_positive
            if positive and exponent.is_Rational and not exponent.is_Integer:
                roots.setdefault(exponent.q, []).append(base**exponent.p)
            else:
                rest.append(factor)
        if not any(len(bases) > 1 for bases in roots.values()):
            return product
        return sp.Mul(*rest, *(sp.Pow(sp.Mul(*bases), sp.Rational(1, q)) for q, bases in roots.items()))

    return expr.replace(lambda e: isinstance(e, sp.Mul), combine)


def _nonrational(expr: sp.Expr) -> set[sp.Expr]:
    if not expr.has(_REAL) or expr == _REAL:
        return set()
    if isinstance(expr, (sp.Add, sp.Mul)):
        return set().union(*(_nonrational(a) for a in expr.args))
    if isinstance(expr, sp.Pow):
        if expr.base.is_number and (expr.exp / _REAL).is_Integer:
            return {sp.Pow(expr.base, _REAL)}
        if expr.exp.is_Integer:
            return _nonrational(expr.base)
    return {expr}


def _substitute(expr: sp.Expr, atom: sp.Expr) -> sp.Expr:
    if atom == _REAL:
        return expr.xreplace({_REAL: U})
    if isinstance(atom, sp.Pow) and atom.exp == _REAL:
        return expr.replace(
            lambda e: isinstance(e, sp.Pow) and e.base == atom.base and (e.exp / _REAL).is_Integer,
            lambda e: U ** (e.exp / _REAL),
        )
    return expr.xreplace({atom: U})


def _direction(atom: sp.Expr, low: int, high: sp.Expr) -> int | None:
    if atom == _REAL or (isinstance(atom, sp.Pow) and atom.exp == _REAL and atom.base > 1):
        return 1
    window = sp.Interval(low, high)
    try:
        if sp.is_strictly_increasing(atom, window, _REAL):
            return 1
        if sp.is_strictly_decreasing(atom, window, _REAL):
            return -1
    except (NotImplementedError, ValueError, TypeError):
        return None
    return None


def first_where(gen: Generator, test: Callable[[int], bool], low: int, high: sp.Expr) -> int | None:
    """The least whole m in [low, high] with `test(sign(a(m) - c))`-style predicate true, for a predicate that is
    false and then true as m grows; None if it is never true there. The caller has made sure that, with high = oo,
    it becomes true at some m."""
    if high is not sp.oo and not test(int(high)):
        return None
    step, bad = 1, low - 1  # test(bad) is false (or bad is below the range)
    good = low
    while not test(good):
        bad, good = good, good + step
        step *= 2
        if high is not sp.oo and good > high:
            good = int(high)
        if good > _MAX_SEARCH:
            raise Undecided("the layer where a schedule crosses a bound is too far")
    while good - bad > 1:
        middle = (good + bad) // 2
        if test(middle):
            good = middle
        else:
            bad = middle
    return good


def preimage(gen: Generator, low: sp.Expr, high: sp.Expr, branch: Branch) -> tuple[int, int | None] | None:
    """The whole m of the branch with a(m) in the open interval (low, high), or equal to low where low == high: a
    run, as a is strictly monotone, (first, last) with last None for on and on; None if there are none."""
    d = gen.direction

    def past(c: sp.Expr, strict: bool) -> Callable[[int], bool]:
        if not c.is_finite:
            return lambda m: d * c < 0  # past -oo going up: always; past +oo: never

        def test(m: int) -> bool:
            s = sign(gen.at(m) - c)
            if s is None:
                raise Undecided("cannot compare a value of the generator with a bound exactly")
            return d * s > 0 if strict else d * s >= 0

        return test

    def reaches(c: sp.Expr, strict: bool) -> bool:
        if not c.is_finite:
            return d * c < 0
        s = sign(gen.end - c) if gen.end.is_finite else (1 if gen.end > 0 else -1)
        return d * s > 0 or (s == 0 and not strict and branch.high is not sp.oo)

    if low == high:
        c = low
        if not reaches(c, False):
            return None
        m = first_where(gen, past(c, False), branch.low, branch.high)
        return (m, m) if m is not None and sign(gen.at(m) - c) == 0 else None
    enter, leave = (low, high) if d > 0 else (high, low)
    if not reaches(enter, True):
        return None
    first = first_where(gen, past(enter, True), branch.low, branch.high)
    if first is None:
        return None
    if not reaches(leave, False):
        return first, None if branch.high is sp.oo else int(branch.high)
    gone = first_where(gen, past(leave, False), first, branch.high)
    final = (None if branch.high is sp.oo else int(branch.high)) if gone is None else gone - 1
    return (first, final) if final is None or final >= first else None
