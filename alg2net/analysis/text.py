"""How the check writes expressions: SymPy's syntax, grouped and signed as a person writes them.

Assumes SymPy expressions in the analysis's symbols (params kept symbolic, k, a recurrence's t_k and t_k1, zeta).
A `Text` writes one expression. `sp.sstr` writes every symbol by its own name, as the rho strings must (they stay
SymPy syntax in `zeta`); `writer(names)` writes the symbols named in `names` as the algorithm writes them (`zeta`
for a param kept as `zeta_`, `t[k]` for `t_k`) and the functions min, max and abs by the language's names, and
keeps SymPy's order of terms, so the two texts differ only in those names. Every function that makes text from an
expression takes the `Text` to make it with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import sympy as sp
from sympy.printing.str import StrPrinter

from alg2net.analysis.reduce import ZETA

Text = Callable[[sp.Basic], str]


class _Named(StrPrinter):
    """SymPy's text with some symbols renamed; the order of terms is SymPy's, decided on the symbols themselves."""

    def __init__(self, names: Mapping[str, str]):
        super().__init__()
        self.names = dict(names)

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return self.names.get(expr.name, expr.name)

    def _print_Abs(self, expr: sp.Abs) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Min(self, expr: sp.Min) -> str:
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_Max(self, expr: sp.Max) -> str:
        return f"max({', '.join(self._print(a) for a in expr.args)})"


def writer(names: Mapping[str, str]) -> Text:
    """The `Text` that writes each symbol whose name is a key of `names` as its value there, and `min`, `max`,
    `abs` by the language's names (SymPy writes `Min`, `Max`, `Abs`)."""
    return _Named(names).doprint


def indexed_text(expr: sp.Expr) -> str:
    """SymPy's text with `t[k+1]` rather than `t[k + 1]` (and min, max, abs by the language's names)."""
    return re.sub(r"\[k ([+-]) (\d+)\]", r"[k\1\2]", _Named({}).doprint(expr))


def scaled(scale: sp.Expr, x: str, text: Text) -> str:
    """`2*x`, `(k + 2)/(k + 1)*x`: the state `x` seen with `scale`."""
    written = text(scale)
    return f"({written})*{x}" if isinstance(scale, sp.Add) else f"{written}*{x}"


def step_text(c: sp.Expr, text: Text) -> str | None:
    """A c_F as text; None when it is infinite."""
    if c.has(sp.zoo, sp.nan) or c in (sp.oo, -sp.oo):
        return None
    return text(tidy(c, text))


def limit_ode(output: str, functions, steps, scales: dict | None, text: Text) -> str | None:
    """x' = -sum c_F*T_F(s_F*x), with c_F divided by the scale s_F where a function's blocks see one scale; None
    when a c_F is infinite."""
    if len(steps) != len(functions) or any(step_text(c, text) is None for c in steps):
        return None
    terms = []
    for f, c in zip(functions, steps):
        if c == 0:
            continue
        point = output
        if scales and len(scales.get(f, [])) == 1 and scales[f][0] != 1:  # the linear test saw c*s
            point = scaled(scales[f][0], output, text)
            c = sp.cancel(c / scales[f][0])
        terms.append(_term(c, f"T_{f}({point})", text))
    if not terms:
        return f"{output}' = 0"
    head_sign, head = terms[0]
    written = f"{output}' = {'-' if head_sign == '-' else ''}{head}"
    for sign, term in terms[1:]:
        written += f" {sign} {term}"
    return written


def _term(c: sp.Expr, call: str, text: Text) -> tuple[str, str]:
    """-c*call as a sign and a term: ("-", "1/(1 - beta)*T_f(x)")."""
    if c == 1:
        return "-", call
    if c == -1:
        return "+", call
    tidied = tidy(c, text)
    negative = sp.fraction(tidied)[0].could_extract_minus_sign()
    magnitude = tidy(-c, text) if negative else tidied
    written = text(magnitude)
    if isinstance(magnitude, sp.Add):
        written = f"({written})"
    return "+" if negative else "-", f"{written}*{call}"


def tidy(expr: sp.Expr, text: Text) -> sp.Expr:
    """`1/(1 - beta)` rather than `-1/(beta - 1)`: denominator factors with positive constant terms, the sign in
    front. A fraction comes back as a symbol named by its text (made with `text`), to be written as is."""
    if expr.is_number:
        return expr
    numerator, denominator = sp.fraction(sp.factor(expr))
    negative = False
    factors = []
    for factor in sp.Mul.make_args(denominator):
        base, exponent = factor.as_base_exp()
        if isinstance(base, sp.Add) and base.as_coeff_Add()[0] < 0 and exponent.is_integer:
            base, negative = sp.expand(-base), negative != bool(exponent % 2)
        factors.append(sp.Pow(base, exponent))
    if numerator.could_extract_minus_sign():
        numerator, negative = -numerator, not negative
    if all(f == 1 for f in factors):
        return -numerator if negative else numerator
    numerator_text = f"({text(numerator)})" if isinstance(numerator, sp.Add) else text(numerator)
    denominator = sp.Mul(*factors, evaluate=False) if len(factors) > 1 else factors[0]
    single = isinstance(denominator, (sp.Symbol, sp.Integer)) or (
        isinstance(denominator, sp.Pow) and denominator.exp.is_positive
    )
    denominator_text = text(denominator) if single else f"({text(denominator)})"
    fraction = sp.Symbol(f"{numerator_text}/{denominator_text}")
    return -fraction if negative else fraction


def factored(poly: sp.Poly, text: Text = sp.sstr) -> str:
    """rho as a product of factors in zeta with positive leading coefficients: `(zeta - 1)*(zeta - beta)`."""
    try:
        constant, factors = sp.factor_list(poly.as_expr(), ZETA)
    except sp.PolynomialError:  # coefficients with powers such as 2**(-k): factored in the Poly's own domain
        constant, polys = poly.factor_list()
        factors = [(factor.as_expr(), multiplicity) for factor, multiplicity in polys]
    parts = []
    for factor, multiplicity in factors:
        factor_poly = sp.Poly(factor, ZETA)
        lead = factor_poly.LC()
        constant *= lead**multiplicity
        written = poly_text(factor_poly.monic() if lead != 0 else factor_poly, text)
        written = written if factor_poly.degree() == 1 and written == "zeta" else f"({written})"
        parts.append(written + (f"**{multiplicity}" if multiplicity > 1 else ""))
    constant = sp.cancel(constant)
    if constant != 1:
        parts.insert(0, f"({text(constant)})" if isinstance(constant, sp.Add) else text(constant))
    if len(parts) == 1 and parts[0].startswith("(") and parts[0].endswith(")") and "**" not in parts[0]:
        return parts[0][1:-1]  # one factor: rho itself
    return "*".join(parts) or "1"


def poly_text(poly: sp.Poly, text: Text = sp.sstr) -> str:
    """A polynomial in zeta with its coefficients grouped: `zeta**2 - (beta + 1)*zeta + beta`."""
    written = ""
    degree = poly.degree()
    for power, coefficient in zip(range(degree, -1, -1), poly.all_coeffs()):
        coefficient = sp.factor(coefficient)
        if coefficient == 0:
            continue
        negative = coefficient.could_extract_minus_sign()
        magnitude = tidy(-coefficient if negative else coefficient, text)
        monomial = "" if power == 0 else ("zeta" if power == 1 else f"zeta**{power}")
        if not monomial:  # a sum after a minus sign keeps its parentheses: `- (1 - sqrt(2))`
            term = f"({text(magnitude)})" if negative and written and isinstance(magnitude, sp.Add) else text(magnitude)
        elif magnitude == 1:
            term = monomial
        else:
            term = text(magnitude)
            term = f"({term})*{monomial}" if isinstance(magnitude, sp.Add) else f"{term}*{monomial}"
        if not written:
            written = f"-{term}" if negative else term
        else:
            written += f" - {term}" if negative else f" + {term}"
    return written or "0"


def names_in(names: Mapping[str, str], written: str) -> dict[str, str]:
    """The entries of `names` whose name occurs, as a whole word, in `written`."""
    return {name: meaning for name, meaning in names.items() if re.search(rf"\b{re.escape(name)}\b", written)}
