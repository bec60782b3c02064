"""Shared notation: SymPy expressions as Python with torch (the generated module) and in the language's own
notation (`show`, `check` and the generated module's docstring), and the learnable form's lines.

Both printers order terms as a person would write them: positive terms first and a bare name before products
(`y - h*g`, not `-h*g + y`), scalars before vectors in a product (`h*g`, not `g*h`).

`TorchPrinter` is strict: only the node kinds the language can produce are printed; anything else raises
`TypeError` rather than printing junk. Names come from a mapping prepared by the emitter (a symbol, an `x[k - 1]`
entry or a block call `T_f(y[k])` to the Python text holding its value). Scalars are plain Python numbers unless
they involve a name listed in `tensors`; the scalar functions pick `torch` or `math` accordingly (SymPy's own torch
printer prints Min/Max as torch.min/max, which reduce a tensor instead).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from alg2net.derive import K, LearnableForm, block, function_of, is_block, is_prox, vector
from alg2net.resolve import ParamKind

# The SymPy node kinds the torch printer prints; anything else raises (tests/test_layering.py checks that derive's
# translations of the language produce only these).
PRINTABLE = (
    sp.Add, sp.Mul, sp.Pow, sp.Rational, type(sp.E), sp.Symbol, sp.Indexed, sp.exp, sp.log, sp.Abs, sp.Min, sp.Max
)  # fmt: skip
_LONGEST_PLAIN_NUMBER = 24  # characters; a longer number prints in scientific notation


class _OrderedPrinter(StrPrinter):
    printmethod = "_alg2net_print"  # not StrPrinter's `_sympystr`, through which Indexed prints itself

    def __init__(self, vectors: frozenset[sp.Basic] | None = None):
        super().__init__({"order": "none"})
        self.vectors = vectors
        self.lead: sp.Basic | None = None  # a name to put first in a sum: the updated state's own value

    def doprint(self, expr, lead: sp.Basic | None = None) -> str:
        self.lead = lead
        return super().doprint(expr)

    def _is_vector(self, expr: sp.Basic) -> bool:
        if is_block(expr) or is_prox(expr) or (self.vectors is None and isinstance(expr, sp.Indexed)):
            return True  # a block call or prox; in the language's notation also any indexed name
        return (self.vectors is not None and expr in self.vectors) or any(self._is_vector(a) for a in expr.args)

    def _print_Add(self, expr, order=None) -> str:
        def key(term):
            return (term.could_extract_minus_sign(), term != self.lead, not _is_bare(term), sp.default_sort_key(term))

        terms = sorted(expr.args, key=key)
        text = ""
        for term in terms:
            negative = term.could_extract_minus_sign()
            body = self.parenthesize(-term if negative else term, PRECEDENCE["Add"])
            if not text:
                text = f"-{body}" if negative else body
            else:
                text += f" - {body}" if negative else f" + {body}"
        return text

    def _print_Mul(self, expr) -> str:
        factors = sorted(expr.args, key=self._is_vector)
        if factors != list(expr.args):
            expr = sp.Mul(*factors, evaluate=False)
        return super()._print_Mul(expr)

    def _print_Rational(self, expr) -> str:
        """A terminating decimal as a decimal (9/10 -> 0.9, 10**-30 -> 1e-30), any other fraction as p/q."""
        q = expr.q
        for prime in (2, 5):
            while q % prime == 0:
                q //= prime
        if q != 1:
            return f"{expr.p}/{expr.q}"
        text = str(expr.p) if expr.q == 1 else format(Decimal(expr.p) / Decimal(expr.q), "f")
        if len(text) > _LONGEST_PLAIN_NUMBER:
            text = str((Decimal(expr.p) / Decimal(expr.q)).normalize()).lower()
        return text

    _print_Integer = _print_Rational  # SymPy's own would take precedence for integers


class DslPrinter(_OrderedPrinter):
    """The learnable form in the language's notation: `x[k+1] = y[k] - h*T_f(y[k])`."""

    def _print_Exp1(self, expr) -> str:
        return "exp(1)"

    def _print_Indexed(self, expr) -> str:
        offset = sp.simplify(expr.indices[0] - K)
        if offset.is_Integer:
            index = "k" if offset == 0 else f"k{int(offset):+d}"
        else:
            index = str(expr.indices[0])
        return f"{expr.base}[{index}]"

    def _print_Abs(self, expr) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Min(self, expr) -> str:
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_Max(self, expr) -> str:
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Pow(self, expr, rational=False) -> str:
        base, exponent = expr.args
        if exponent in (sp.S.Half, -sp.S.Half, -1):
            return super()._print_Pow(expr, rational)
        base_text = self.parenthesize(base, PRECEDENCE["Pow"], strict=True)
        return f"{base_text}^{self.parenthesize(exponent, PRECEDENCE['Pow'], strict=True)}"


class TorchPrinter(_OrderedPrinter):
    """Print an expression of the learnable form as Python with torch."""

    def __init__(
        self,
        names: dict[sp.Basic, str],
        tensors: frozenset[sp.Basic] = frozenset(),
        vectors: frozenset[sp.Basic] = frozenset(),
        prox_call: Callable[[str, str, str], str] | None = None,
        zero: str = "0",
    ):
        super().__init__(vectors)
        self.names = names
        self.tensors = tensors | vectors
        self.prox_call = prox_call  # (function, point text, step text) -> the text of the prox
        self.inline: dict[sp.Basic, str] = {}
        self.modules: set[str] = set()  # "math" or "torch", when a function needs it
        self.zero = zero  # the text of a zero vector, where every term of one cancels (`x[k] - x[k]`)

    def doprint(self, expr, lead: sp.Basic | None = None, inline: dict[sp.Basic, str] | None = None) -> str:
        """`inline` maps block calls to print as calls, `{block text}({argument})`, instead of by name."""
        self.inline = inline or {}
        return super().doprint(expr, lead)

    def print_vector(self, expr, lead: sp.Basic | None = None) -> str:
        """`doprint` of a vector expression, which may have cancelled to the number 0."""
        return self.zero if expr == 0 else self.doprint(expr, lead)

    def _vector(self, expr) -> str:
        return self.zero if expr == 0 else self._print(expr)

    def _print(self, expr, **kwargs) -> str:
        if expr in self.names:
            return self.names[expr]
        if expr in self.inline:
            return f"{self.inline[expr]}({self._vector(expr.args[0])})"
        if is_prox(expr) and self.prox_call:
            point, step = expr.args
            return self.prox_call(function_of(expr), self._vector(point), self._print(step))
        if isinstance(expr, AppliedUndef) or not isinstance(expr, PRINTABLE):
            raise TypeError(f"cannot print {type(expr).__name__} `{expr}` as Python")
        return super()._print(expr, **kwargs)

    def _is_tensor(self, expr: sp.Basic) -> bool:
        return expr in self.tensors or any(self._is_tensor(arg) for arg in expr.args)

    def _call(self, function: str, arg: sp.Basic) -> str:
        module = "torch" if self._is_tensor(arg) else "math"
        self.modules.add(module)
        return f"{module}.{function}({self._print(arg)})"

    def _print_Pow(self, expr, rational=False) -> str:
        base, exponent = expr.args
        if exponent == sp.S.Half:
            return self._call("sqrt", base)
        if exponent == -sp.S.Half:
            return f"1/{self._call('sqrt', base)}"
        if exponent == -1:
            return f"1/{self.parenthesize(base, PRECEDENCE['Mul'], strict=False)}"
        base_text = self.parenthesize(base, PRECEDENCE["Pow"], strict=True)
        return f"{base_text}**{self.parenthesize(exponent, PRECEDENCE['Pow'], strict=True)}"

    def _print_exp(self, expr) -> str:
        return self._call("exp", expr.args[0])

    def _print_Exp1(self, expr) -> str:
        """SymPy turns `exp(1)` into the constant e."""
        self.modules.add("math")
        return "math.e"

    def _print_log(self, expr) -> str:
        return self._call("log", expr.args[0])

    def _print_Abs(self, expr) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Min(self, expr) -> str:
        return self._extremum(expr, "min", "minimum", "max")

    def _print_Max(self, expr) -> str:
        return self._extremum(expr, "max", "maximum", "min")

    def _extremum(self, expr, builtin: str, torch_name: str, clamp_side: str) -> str:
        """min/max of Python numbers, torch.minimum/maximum of tensors, torch.clamp of a tensor by a number."""
        tensors = [a for a in expr.args if self._is_tensor(a)]
        numbers = [a for a in expr.args if not self._is_tensor(a)]
        if not tensors:
            return f"{builtin}({', '.join(self._print(a) for a in numbers)})"
        self.modules.add("torch")
        text = self._print(tensors[0])
        for other in tensors[1:]:
            text = f"torch.{torch_name}({text}, {self._print(other)})"
        if numbers:
            bound = numbers[0] if len(numbers) == 1 else type(expr)(*numbers)
            text = f"torch.clamp({text}, {clamp_side}={self._print(bound)})"
        return text

    def _print_Symbol(self, expr) -> str:
        raise TypeError(f"no Python name for the symbol `{expr}`")

    def _print_Indexed(self, expr) -> str:
        raise TypeError(f"no Python name for `{expr}`")


def _is_bare(term: sp.Basic) -> bool:
    return isinstance(term, (sp.Symbol, sp.Indexed))


def learnable_lines(form: LearnableForm, expand_prox: bool = False) -> list[str]:
    """The updates of the learnable form, one a line, in the language's notation. With `expand_prox` a step
    `z = prox_F(v, t)` reads `z = v - t*T_F(z)`, the equation prox solves (check.md 1); a prox inside a larger
    expression stays, and a last line says what it is."""
    printer = DslPrinter()
    lines, kept = [], set()
    for step in form.steps:
        value = step.value
        if expand_prox and is_prox(value):
            point, size = value.args
            value = point - size * block(function_of(value))(step.lhs)
        kept |= {function_of(node) for node in sp.preorder_traversal(value) if is_prox(node)}
        lines.append(f"{printer.doprint(step.lhs)} = {printer.doprint(value, vector(step.target))}")
    if expand_prox and kept:
        lines += [f"where prox_{f}(v, t) is the z with z = v - t*T_{f}(z)" for f in sorted(kept)]
    return lines


def show_text(form: LearnableForm, latex: bool = False) -> str:
    """The learnable form of an algorithm, as text or as a LaTeX `aligned` block."""
    if not latex:
        lines = [f"algorithm {form.model.name}"]
        for param in form.params:
            lines += _param_lines(param)
        for step, line in zip(form.steps, learnable_lines(form)):
            lines.append(line + ("   (implicit)" if step.implicit else ""))
        return "\n".join(lines) + "\n"
    return latex_aligned([(step.lhs, step.value) for step in form.steps])


def latex_aligned(rows: list[tuple[sp.Expr, sp.Expr]]) -> str:
    """`left &= right` rows in a LaTeX `aligned` block, every name of the language valid LaTeX."""
    printer = _LatexPrinter()
    lines = [rf"{printer.doprint(left)} &= {printer.doprint(right)}" for left, right in rows]
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}\n"


def _param_lines(param) -> list[str]:
    """The param as the language declares it: `param mu = 0.9 learnable`, `param t[0] = 1` and `param t[k+1] = ...`."""
    printer, name = DslPrinter(), param.definition.name
    learnable = " learnable" if param.definition.learnable else ""
    if param.start is not None:
        return [
            f"param {name}[0] = {printer.doprint(param.start)}",
            f"param {name}[k+1] = {printer.doprint(param.value)}",
        ]
    index = "[k]" if param.definition.kind is ParamKind.SCHEDULE else ""
    return [f"param {name}{index} = {printer.doprint(param.value)}{learnable}"]


class _LatexPrinter(LatexPrinter):
    """SymPy's LaTeX with every name of the language valid: a name SymPy would misread (`__init__` as a double
    subscript, `a__b` as a superscript) is set upright-italic as written, `\\mathit{\\_\\_init\\_\\_}`."""

    def _print_Symbol(self, expr, style="plain") -> str:
        return super()._print_Symbol(expr, style) if _plain_latex_name(expr.name) else _mathit(expr.name)

    def _print_Function(self, expr, exp=None) -> str:
        if not (is_block(expr) or is_prox(expr)):
            return super()._print_Function(expr, exp)
        name = function_of(expr)
        subscript = name if _plain_latex_name(name) and "_" not in name else _mathit(name)
        head = rf"T_{{{subscript}}}" if is_block(expr) else rf"\operatorname{{prox}}_{{{subscript}}}"
        arguments = ", ".join(self._print(arg) for arg in expr.args)
        return rf"{head}{{\left({arguments} \right)}}"


def _plain_latex_name(name: str) -> bool:
    """Names SymPy typesets well: letters (a Greek name becomes its letter), then digits or one `_subscript`."""
    return re.fullmatch(r"[A-Za-z]+(\d+|_[A-Za-z0-9]+)?", name) is not None


def _mathit(name: str) -> str:
    return r"\mathit{" + name.replace("_", r"\_") + "}"
