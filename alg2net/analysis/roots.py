"""The roots of a polynomial with exact (numeric) coefficients: values, moduli, multiplicities, the root condition.

Multiplicities are exact (square-free factorization over the coefficients' field). For rational coefficients, which
roots lie on the unit circle is decided exactly: an irreducible factor of degree 3 or more has roots there only if
it is self-reciprocal, and then as many as w = zeta + 1/zeta has real roots in (-2, 2), twice (Sturm); those roots
get the modulus 1. A root's modulus is exact for rational roots and complex pairs of quadratic factors; otherwise it
is a Float with 50 significant digits (more where a root off the circle lies closer to it than 10^-40: digits are
added until the side is certain), from roots found in double precision (Aberth, started on the circles of the
Newton polygon, so that roots of sizes 1e-100 and 1e100 are both found) and refined by Newton's method in mpmath, or
by Aberth's method in mpmath where that does not give distinct roots or the floats overflow (taken once a run at
twice the working digits agrees: a cluster of roots needs the digits that cancel near it).

`root_condition` decides the root condition without the roots, exactly, for rational coefficients: the part of each
square-free factor with roots on the unit circle is its gcd with its reciprocal, whose roots are all on the circle
exactly when w = zeta + 1/zeta has only real roots in (-2, 2) (Sturm); the rest must have every root inside the
disk (Schur-Cohn). It is what the layers of a network and the samples of a region use.

`render_root` and `modulus_text` write a root and its modulus with as many digits as it takes for the text to agree
with the decision: a root off the circle never shows |zeta| = 1.
"""

from __future__ import annotations

import cmath
import functools
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy as sp

from alg2net.aberth import aberth, horner
from alg2net.analysis.reduce import ZETA

_DIGITS = 50
_MAX_DIGITS = 800
_TOLERANCE = sp.Rational(1, 10**40)  # for coefficients outside QQ: a root this close to the circle is on it


@dataclass(frozen=True, slots=True)
class Root:
    value: sp.Expr
    modulus: sp.Expr  # exact where cheap (1 on the circle), else a Float with 50 digits or more
    multiplicity: int
    on_circle: bool
    outside: bool


@dataclass(frozen=True, slots=True)
class RootFacts:
    roots: tuple[Root, ...]
    one_multiplicity: int  # of the root zeta = 1 (0 when it is no root)

    @property
    def zero_stable(self) -> bool:
        """The root condition: every root in the closed unit disk, those on the circle simple."""
        return all(not r.outside and (not r.on_circle or r.multiplicity == 1) for r in self.roots)

    @property
    def strongly_stable(self) -> bool:
        """Zero-stable, and zeta = 1 the only root on the unit circle."""
        return self.zero_stable and all(not r.on_circle or r.value == 1 for r in self.roots)

    @property
    def offending(self) -> tuple[Root, ...]:
        """The roots that break the root condition."""
        return tuple(r for r in self.roots if r.outside or (r.on_circle and r.multiplicity > 1))


@dataclass(frozen=True, slots=True)
class RootCondition:
    """The root condition decided without the roots (`RootFacts` without `roots`)."""

    zero_stable: bool
    strongly_stable: bool
    roots: tuple = ()
    offending: tuple = ()


def root_condition(poly: sp.Poly) -> RootCondition | None:
    """The root condition of `poly` (in ZETA), exactly and without its roots; None unless the coefficients are
    rational."""
    coefficients = poly.all_coeffs()
    if not all(c.is_Rational for c in coefficients):
        return None
    exact = [Fraction(int(c.p), int(c.q)) for c in coefficients]
    if sum(exact) == 0 and _schur_stable(_without_one(exact)):  # the common case, decided in a few operations
        return RootCondition(True, True)
    poly = sp.Poly(coefficients, ZETA, domain=sp.QQ)
    if poly.degree() <= 0:
        return RootCondition(True, True)
    strongly = True
    for factor, multiplicity in poly.sqf_list()[1]:
        circle = factor.gcd(_reciprocal(factor))
        if not _schur_stable(
            [Fraction(int(c.numerator), int(c.denominator)) for c in factor.exquo(circle).rep.to_list()]
        ):
            return RootCondition(False, False)
        if circle.degree() > 0:
            if multiplicity > 1 or _circle_count(circle) != circle.degree():
                return RootCondition(False, False)
            strongly = strongly and circle.monic() == sp.Poly(ZETA - 1, ZETA, domain=sp.QQ)
    return RootCondition(True, strongly)


def _reciprocal(poly: sp.Poly) -> sp.Poly:
    """zeta^n*poly(1/zeta): its roots are the inverses of poly's (for real coefficients, the mirror images in the
    unit circle)."""
    return sp.Poly(list(reversed(poly.all_coeffs())), ZETA, domain=poly.domain)


def _without_one(coefficients: list[Fraction]) -> list[Fraction]:
    """The coefficients (highest first) of p/(zeta - 1), for p(1) = 0 (synthetic division)."""
    quotient = [coefficients[0]]
    for c in coefficients[1:-1]:
        quotient.append(c + quotient[-1])
    return quotient


def _schur_stable(coefficients: list[Fraction]) -> bool:
    """Every root of the polynomial with these coefficients (highest first) strictly inside the unit disk
    (Schur-Cohn: |a_0| < |a_n|, then the same for (a_n*p - a_0*p^*)/zeta, of one degree less). Each step is made
    monic, which keeps the numbers small (without it their size doubles with every step)."""
    while len(coefficients) > 1:
        lead, constant = coefficients[0], coefficients[-1]
        if abs(constant) >= abs(lead):
            return False
        ratio = constant / lead
        coefficients = [a / lead - ratio * b / lead for a, b in zip(coefficients[:-1], reversed(coefficients[1:]))]
    return True


def _circle_count(poly: sp.Poly) -> int:
    """How many roots the square-free, self-reciprocal `poly` has on the unit circle: zeta = +-1 directly, the others
    as twice the real roots in (-2, 2) of its polynomial in w = zeta + 1/zeta (Sturm)."""
    count = 0
    for edge in (1, -1):  # zeta = +-1: w = +-2
        if poly.eval(edge) == 0:
            poly, count = poly.exquo(sp.Poly(ZETA - edge, ZETA, domain=poly.domain)), count + 1
    if poly.degree() <= 0:
        return count
    coefficients = list(reversed(poly.all_coeffs()))  # c_0 .. c_2d, palindromic
    half = len(coefficients) // 2
    w = sp.Symbol("w")
    dickson = [sp.Integer(2), w]  # zeta^j + zeta^-j as a polynomial in w = zeta + 1/zeta
    while len(dickson) <= half:
        dickson.append(sp.expand(w * dickson[-1] - dickson[-2]))
    in_w = coefficients[half] + sum(coefficients[half + j] * dickson[j] for j in range(1, half + 1))
    return count + 2 * sp.Poly(in_w, w).count_roots(-2, 2)


def root_facts(poly: sp.Poly) -> RootFacts:
    """The roots of `poly` (in ZETA, numeric coefficients), largest modulus first."""
    return _root_facts(tuple(poly.all_coeffs()))


@functools.lru_cache(maxsize=4096)
def _root_facts(coefficients: tuple[sp.Expr, ...]) -> RootFacts:
    poly = sp.Poly(coefficients, ZETA)
    if poly.degree() <= 0:
        return RootFacts((), 0)
    _, factors = poly.factor_list()
    roots: list[Root] = []
    for factor, multiplicity in factors:
        roots += _factor_roots(factor, multiplicity)
    roots.sort(key=lambda r: (-float(r.modulus), -float(sp.re(r.value).evalf()), float(sp.im(r.value).evalf())))
    one = next((r.multiplicity for r in roots if r.value == 1), 0)
    return RootFacts(tuple(roots), one)


def _factor_roots(factor: sp.Poly, multiplicity: int) -> list[Root]:
    """The roots of an irreducible factor: in closed form up to degree 2, else numerically (see the module)."""
    if factor.degree() <= 2:
        found = sp.roots(factor, ZETA)
        if sum(found.values()) == factor.degree():
            return [_root(value, factor, multiplicity) for value in found]
    if factor.domain not in (sp.ZZ, sp.QQ):
        values = factor.nroots(n=_DIGITS, maxsteps=500)  # its roots are simple
        return [_root(value, factor, multiplicity) for value in values]
    coefficients = [Fraction(int(c.p), int(c.q)) for c in factor.all_coeffs()]
    on_circle, real = _circle_count(factor) if coefficients == coefficients[::-1] else 0, factor.count_roots()
    digits = _DIGITS
    while True:
        values = _approximate(coefficients, digits, real)
        with mpmath.workdps(digits):
            distances = sorted((abs(abs(v) - 1), i) for i, v in enumerate(values))
        tolerance = mpmath.mpf(10) ** (10 - digits)
        if all((d < tolerance) == (n < on_circle) for n, (d, _) in enumerate(distances)) or digits >= _MAX_DIGITS:
            break
        digits *= 2  # a root off the circle within 10^(10 - digits) of it, or one on it not found that close
    circle = {i for _, i in distances[:on_circle]}
    return [_numeric_root(v, digits, multiplicity, i in circle) for i, v in enumerate(values)]


def _numeric_root(value: mpmath.mpc, digits: int, multiplicity: int, on_circle: bool) -> Root:
    with mpmath.workdps(digits):
        modulus = sp.Integer(1) if on_circle else sp.Float(abs(value), digits)
        expr = (
            sp.Float(value.real, digits)
            if value.imag == 0
            else sp.Float(value.real, digits) + sp.I * sp.Float(value.imag, digits)
        )
    return Root(expr, modulus, multiplicity, on_circle, not on_circle and bool(modulus > 1))


def _approximate(coefficients: list[Fraction], digits: int, real: int) -> list:
    """The roots (mpc, `digits` digits, `real` of them real) of the square-free polynomial with these rational
    coefficients (highest first, the last not 0): Aberth in floats, then Newton in mpmath; Aberth in mpmath where
    those are not distinct (roots closer than floats tell apart) or the floats overflow."""
    scale = math.lcm(*(c.denominator for c in coefficients))
    integers = [int(c * scale) for c in coefficients]
    circles = _start_circles(integers)
    try:  # monic in floats: coefficients far below the leading one underflow, harmlessly, for the start
        starts = [cmath.rect(math.exp(log_radius), angle) for log_radius, angle in circles]
        starts = aberth([complex(Fraction(c, integers[0])) for c in integers], starts, 1e-14) if all(starts) else []
    except OverflowError:  # roots beyond the float range
        starts = []
    with mpmath.workdps(digits + 10):
        refined = [_newton(integers, mpmath.mpc(z), digits + 5) for z in starts]
    if not starts or any(z is None for z in refined) or not _distinct(refined):
        refined = _aberth_digits(integers, circles, digits)
    with mpmath.workdps(digits + 10):
        by_imag = sorted(range(len(refined)), key=lambda i: abs(refined[i].imag) / (abs(refined[i]) or 1))
        for i in by_imag[:real]:  # Sturm counts the real roots; they are the nearest to the real axis (relative)
            refined[i] = mpmath.mpc(refined[i].real, 0)
        return refined


def _aberth_digits(integers: list[int], circles: list[tuple[float, float]], digits: int) -> list:
    """Aberth in mpmath to `digits` digits. Clustered roots need the digits that cancel in p near them, and at too
    few Aberth settles on noise: the roots are taken once a run with twice the working digits, started from them,
    moves none by more than 10^-digits of its modulus."""
    found, working = None, digits + 10
    while working <= 40 * digits:
        with mpmath.workdps(working):
            monic = [mpmath.mpf(c) / integers[0] for c in integers]
            starts = found or [mpmath.exp(log_radius) * mpmath.expj(angle) for log_radius, angle in circles]
            roots = aberth(monic, starts, mpmath.mpf(10) ** (-digits - 5))
            bound = mpmath.mpf(10) ** -digits
            if roots and found and all(abs(r - f) <= bound * abs(r) for r, f in zip(roots, found)):
                return roots
        found, working = roots or None, 2 * working
    raise ArithmeticError("the roots of a factor of rho could not be found")  # pragma: no cover - never met


def _start_circles(integers: list[int]) -> list[tuple[float, float]]:
    """Starting points for Aberth as (log of the modulus, angle), as many as the degree: on each edge of the upper
    convex hull of the points (i, log|a_i|), a_i the coefficient of zeta^i, as many as the edge spans, on the circle
    whose radius balances its two ends (the Newton polygon: roots of moduli 1e-100 and 1e100 start near both)."""
    points = [(i, math.log(abs(c))) for i, c in enumerate(reversed(integers)) if c != 0]
    hull: list[tuple[int, float]] = []
    for point in points:
        while len(hull) >= 2 and _turn(hull[-2], hull[-1], point) >= 0:
            hull.pop()
        hull.append(point)
    degree, circles = len(integers) - 1, []
    for (i, low), (j, high) in itertools.pairwise(hull):
        circles += [((low - high) / (j - i), 2 * math.pi * (n / (j - i) + i / degree) + 0.4) for n in range(j - i)]
    return circles


def _turn(o: tuple[int, float], a: tuple[int, float], b: tuple[int, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _newton(coefficients: list[int], z, digits: int):
    """Newton's method from z in the current mpmath precision, until a step is below 10^-digits*|z| (relative: a
    root may be tiny); None where it does not get there in 100 steps."""
    bound = mpmath.mpf(10) ** (-digits)
    for _ in range(100):
        p, dp = horner(coefficients, z)
        if dp == 0:
            return None
        step = p / dp
        z -= step
        if abs(step) <= bound * abs(z) or step == 0:
            return z
    return None


def _distinct(values: list) -> bool:
    """No two of the values within 10^-10 of each other, relative to the larger: Newton found as many roots as it
    started."""
    points = [complex(v) for v in values]
    return all(abs(q - p) > 1e-10 * max(abs(p), abs(q)) for i, p in enumerate(points) for q in points[i + 1 :])


def _root(value: sp.Expr, factor: sp.Poly, multiplicity: int) -> Root:
    modulus_squared = _exact_modulus_squared(value, factor)
    if modulus_squared is not None:
        modulus = sp.sqrt(modulus_squared)
        on_circle, outside = modulus_squared == 1, bool(modulus_squared > 1)
    else:
        modulus = sp.Abs(value.evalf(_DIGITS))
        on_circle = abs(modulus - 1) < _TOLERANCE
        outside = not on_circle and bool(modulus > 1)
    return Root(value, modulus, multiplicity, on_circle, outside)


def _exact_modulus_squared(value: sp.Expr, factor: sp.Poly) -> sp.Expr | None:
    if value.is_rational:
        return value**2
    if factor.degree() == 2 and factor.discriminant().is_negative:  # a complex pair: |r|^2 = c/a
        a, _, c = factor.all_coeffs()
        return c / a
    if value.is_real and not value.has(sp.Float):
        squared = sp.expand(value**2)
        return squared if squared.is_number and squared.is_rational else None
    return None


def render_root(root: Root) -> str:
    """`9/10`, `-1/2 + sqrt(3)*I/2`, or a decimal for roots without a short closed form: 6 significant digits, more
    where a root off the unit circle would otherwise show a modulus of 1."""
    text = sp.sstr(root.value)
    if len(text) > 40 or "CRootOf" in text or root.value.has(sp.Float):
        text = _decimal(root.value, _digits(root))
    return text


def modulus_text(root: Root) -> str:
    """|zeta| as text: `1` exactly on the unit circle, `10000001/10000000`, or a decimal with 6 significant digits,
    more where that would round a modulus off the circle to 1 (`1.0000001`), and `1 + 3e-20` past 17 digits."""
    modulus = root.modulus
    if root.on_circle or modulus.is_Rational:
        return sp.sstr(modulus)
    digits = _digits(root)
    if digits <= 17:
        return f"{float(modulus):.{digits}g}"
    gap = sp.N(modulus - 1, 3)  # evalf keeps 3 digits of the difference, however close to 1
    return f"1 {'-' if gap < 0 else '+'} {abs(float(gap)):.3g}"


def decimal_modulus(root: Root) -> str:
    """|zeta| as a decimal: `1` on the unit circle, else 6 significant digits, more where that would round a modulus
    off the circle to 1 (the roots line of the report)."""
    if root.on_circle:
        return "1"
    digits = _digits(root)
    return f"{float(root.modulus):.{digits}g}" if digits <= 17 else modulus_text(root)


def _digits(root: Root) -> int:
    """The significant digits from 6 on at which the modulus of a root off the circle no longer rounds to 1 (at
    most 18: past 17 a float cannot show it)."""
    if root.on_circle:
        return 6
    modulus = float(root.modulus)
    digits = 6
    while digits <= 17 and float(f"{modulus:.{digits}g}") == 1:
        digits += 1
    return digits


def _decimal(value: sp.Expr, digits: int = 6) -> str:
    number = complex(value.evalf(max(15, digits)))
    digits = min(digits, 17)
    if abs(number.imag) < 1e-14:
        return f"{number.real:.{digits}g}"
    sign = "+" if number.imag >= 0 else "-"
    return f"{number.real:.{digits}g} {sign} {abs(number.imag):.{digits}g}*I"
