"""The roots of a polynomial with exact (numeric) coefficients: values, moduli, multiplicities, the root condition.

Multiplicities are exact (square-free factorization over the coefficients' field). A root's modulus is exact for
rational roots and complex pairs of quadratic factors, and decided with 50 significant digits otherwise; for
polynomials of small height no root of modulus other than 1 lies that close to the unit circle.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

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
