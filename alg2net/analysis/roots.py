"""The roots of a polynomial with exact (numeric) coefficients: values, moduli, multiplicities, the root condition.

Multiplicities are exact (square-free factorization over the coefficients' field). A root's modulus is exact for
rational roots and complex pairs of quadratic factors, and decided with 50 significant digits otherwise; for
polynomials of small height no root of modulus other than 1 lies that close to the unit circle.

`root_condition` decides the root condition without the roots, exactly, for rational coefficients: the part of each
square-free factor with roots on the unit circle is its gcd with its reciprocal, whose roots are all on the circle
exactly when w = zeta + 1/zeta has only real roots in (-2, 2) (Sturm); the rest must have every root inside the
disk (Schur-Cohn). It is what the layers of a network and the samples of a region use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from alg2net.analysis.reduce import ZETA

_DIGITS = 50
_TOLERANCE = sp.Rational(1, 10**40)


@dataclass(frozen=True, slots=True)
class Root:
    value: sp.Expr
    modulus: sp.Expr  # exact where cheap, else a Float with 50 digits
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
            if multiplicity > 1 or not _all_on_circle(circle):
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
    (Schur-Cohn: |a_0| < |a_n|, then the same for (a_n*p - a_0*p^*)/zeta, of one degree less)."""
    while len(coefficients) > 1:
        lead, constant = coefficients[0], coefficients[-1]
        if abs(constant) >= abs(lead):
            return False
        reflected = [lead * a - constant * b for a, b in zip(coefficients, reversed(coefficients))]
        coefficients = reflected[:-1]  # the constant term is 0: divide by zeta
    return True


def _all_on_circle(poly: sp.Poly) -> bool:
    """Every root of the square-free, self-reciprocal `poly` on the unit circle."""
    for edge in (1, -1):  # zeta = +-1: w = +-2
        if poly.eval(edge) == 0:
            poly = poly.exquo(sp.Poly(ZETA - edge, ZETA, domain=poly.domain))
    if poly.degree() <= 0:
        return True
    coefficients = list(reversed(poly.all_coeffs()))  # c_0 .. c_2d, palindromic
    half = len(coefficients) // 2
    w = sp.Symbol("w")
    dickson = [sp.Integer(2), w]  # zeta^j + zeta^-j as a polynomial in w = zeta + 1/zeta
    while len(dickson) <= half:
        dickson.append(sp.expand(w * dickson[-1] - dickson[-2]))
    in_w = coefficients[half] + sum(coefficients[half + j] * dickson[j] for j in range(1, half + 1))
    return sp.Poly(in_w, w).count_roots(-2, 2) == half


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
        roots += [_root(value, factor, multiplicity) for value in _factor_roots(factor)]
    roots.sort(key=lambda r: (-float(r.modulus), -float(sp.re(r.value).evalf()), float(sp.im(r.value).evalf())))
    one = next((r.multiplicity for r in roots if r.value == 1), 0)
    return RootFacts(tuple(roots), one)


def _factor_roots(factor: sp.Poly) -> list[sp.Expr]:
    if factor.degree() <= 2:
        found = sp.roots(factor, ZETA)
        if sum(found.values()) == factor.degree():
            return list(found)
    return list(factor.nroots(n=_DIGITS, maxsteps=500))  # an irreducible factor: its roots are simple


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
    """`9/10`, `-1/2 + sqrt(3)*I/2`, or a 6-digit decimal for roots without a short closed form."""
    text = sp.sstr(root.value)
    if len(text) > 40 or "CRootOf" in text or root.value.has(sp.Float):
        text = _decimal(root.value)
    return text


def _decimal(value: sp.Expr) -> str:
    number = complex(value.evalf(15))
    if abs(number.imag) < 1e-14:
        return f"{number.real:.6g}"
    sign = "+" if number.imag >= 0 else "-"
    return f"{number.real:.6g} {sign} {abs(number.imag):.6g}*I"
