"""Stage 1, parse and lower: `.alg` text to the frozen syntax tree of `alg2net.ir`.

Assumes nothing of the text. Guarantees a `Program` whose every node has a span, or an `Alg2NetError` with a
located, human message (never a Lark exception).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterator

from lark import Lark, Token, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.visitors import Transformer_NonRecursive

from alg2net import ir, resources
from alg2net.errors import Alg2NetError, fail

KEYWORDS = ("algorithm", "param", "learnable", "output", "init", "input", "grad", "prox", "k")

# Malformed examples and the message each one teaches (lark's `match_examples`): the parser state at the error,
# not the text, decides which label fits.
SYNTAX_ERRORS: dict[tuple[str, str, str], tuple[str, ...]] = {
    (
        "missing-equals",
        "expected '=' after the left-hand side",
        "write an update as `x[k+1] = ...` and a param as `param h = ...`",
    ): ("x[k+1] x[k]", "param h 1", "y[k] + x[k]", "init x 0"),
    (
        "missing-index",
        "an update needs an index on its left-hand side",
        "write `x[k+1] = ...` for a state or `y[k] = ...` for an auxiliary",
    ): ("x = x[k]", "x + 1"),
    (
        "bad-index",
        "an index must be k, k+j or k-j with a whole number j",
        "for example `x[k-1]`",
    ): ("x[k+1] = x[k*2]", "x[k+1] = x[1+k]", "x[k+1] = x[k+j]", "x[j] = x[k]", "x[k+1] = x[(k)]"),
    (
        "missing-expression",
        "expected an expression",
        "write a number, a name or a bracketed sum here",
    ): ("x[k+1] =", "x[k+1] = x[k] +", "x[k+1] = x[k] * ", "param h =", "x[k+1] = -"),
    (
        "two-statements",
        "expected the end of the statement",
        "put one statement per line",
    ): ("x[k+1] = x[k] y[k+1] = x[k]", "algorithm a b", "x[k+1] = x[k] x", "param h = 1 2", "output x y"),
    (
        "bad-init",
        "an initial value is `0` or `input`",
        "write `init x = 0` or `init x = input`",
    ): ("init x = x", "init x = 1 + 1"),
    (
        "bad-statement",
        "a statement starts with `algorithm`, `param`, `output`, `init` or an update `x[k+1] = ...`",
        "check the spelling of the first word",
    ): ("= x[k]", "1 = x", "(x) = 1", "+ x[k]", "algorithm a\n= x[k]", "algorithm a\n\n= x[k]"),
    (
        "missing-name",
        "expected a name here",
        "names start with a letter or `_`",
    ): ("algorithm", "param = 1", "output", "init = 0", "x[k+1] = grad (x[k])", "algorithm 1"),
}


@functools.cache
def _parser() -> Lark:
    return Lark(
        resources.grammar_text(),
        parser="lalr",
        lexer="contextual",
        postlex=_JoinParenthesised(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,  # lark keeps the built tables in a temporary file keyed by the grammar: 0.15 s less per run
    )


class _JoinParenthesised:
    """Drop newlines while a parenthesis is open, so a statement may continue over several lines."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        for token in stream:
            if token.type == "LPAR":
                depth += 1
            elif token.type == "RPAR":
                depth = max(depth - 1, 0)
            elif token.type == "_NL" and depth:
                continue
            yield token


def _span(meta) -> ir.Span:
    return ir.Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _token_span(token: Token) -> ir.Span:
    return ir.Span(token.line, token.column, token.end_line or token.line, token.end_column or token.column + 1)


def _ident(token: Token) -> str:
    """A user's name; the contextual lexer lets keywords through where only a name fits, so refuse them here."""
    if token.value in KEYWORDS:
        raise fail(
            "keyword-as-name",
            f"'{token.value}' is a keyword and cannot be used as a name",
            _token_span(token),
            f"rename it, for example '{token.value}_'",
        )
    return token.value


def _integer(token: Token) -> int:
    text = token.value
    try:
        value = float(text)
    except ValueError:  # pragma: no cover - the grammar only lets numbers through
        value = float("nan")
    if not value.is_integer() or any(c in text for c in ".eE"):
        raise fail(
            "bad-index",
            f"an index offset must be a whole number, not '{text}'",
            _token_span(token),
            "for example `x[k-1]`",
        )
    return int(value)


@v_args(inline=True, meta=True)
class _Lower(Transformer_NonRecursive):
    """One small method per grammar rule; each returns the IR class of the same name. Not recursive, so a sum of
    thousands of terms lowers as well as a short one."""

    def start(self, meta, *statements):
        return tuple(statements)

    def algorithm(self, meta, name):
        return ir.Algorithm(_ident(name), _span(meta))

    def param(self, meta, name, index, value, learnable):
        return ir.Param(_ident(name), index, value, learnable is not None, _span(meta))

    def output(self, meta, name):
        return ir.Output(_ident(name), _span(meta))

    def init(self, meta, name, value):
        if value.type == "NUMBER" and float(value.value) != 0:
            raise fail("bad-init", "an initial value is `0` or `input`", _token_span(value), "write `init x = 0`")
        return ir.Init(_ident(name), value.type == "NUMBER", _span(meta))

    def assign(self, meta, target, index, value):
        return ir.Assign(_ident(target), index, value, _span(meta))

    def index(self, meta, base, sign=None, number=None):
        if base.type == "NUMBER":
            return ir.Index(_integer(base), relative=False, span=_span(meta))
        offset = 0 if number is None else _integer(number)
        return ir.Index(-offset if sign == "-" else offset, span=_span(meta))

    def number(self, meta, token):
        return ir.Number(token.value, _span(meta))

    def name(self, meta, token):
        return ir.Name(_ident(token), _span(meta))

    def counter(self, meta, token):
        return ir.Counter(_span(meta))

    def indexed(self, meta, name, index):
        return ir.Indexed(_ident(name), index, _span(meta))

    def call(self, meta, func, *args):
        return ir.Call(_ident(func), tuple(args), _span(meta))

    def grad(self, meta, function, arg):
        return ir.Grad(_ident(function), arg, _span(meta))

    def prox(self, meta, function, arg, step):
        return ir.Prox(_ident(function), arg, step, _span(meta))

    def neg(self, meta, operand):
        return ir.Neg(operand, _span(meta))

    def _binary(op):  # a factory used while the class body runs, then deleted
        def method(self, meta, left, right):
            return ir.Binary(op, left, right, _span(meta))

        return method

    add = _binary(ir.Op.ADD)
    sub = _binary(ir.Op.SUB)
    mul = _binary(ir.Op.MUL)
    div = _binary(ir.Op.DIV)
    pow = _binary(ir.Op.POW)
    del _binary


def decode(data: bytes, filename: str = "<input>") -> str:
    """The text of a UTF-8 file; bytes that are not UTF-8 are an error located at the first of them."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start].decode("utf-8")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise fail(
            "not-utf8",
            f"the file is not UTF-8 text: byte 0x{data[error.start]:02x} cannot start a character here",
            ir.Span(line, column, line, column + 1),
            "save the file as UTF-8",
        ).located(filename, data.decode("utf-8", errors="replace")) from None


def parse(text: str) -> ir.Program:
    """Parse `.alg` source text (a leading UTF-8 byte-order mark is ignored). Raises `Alg2NetError` on any syntax
    error."""
    text = text.removeprefix("\ufeff")
    if text and not text.endswith("\n"):
        text += "\n"
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(error, text) from None
    try:
        statements = _Lower().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, Alg2NetError):
            raise error.orig_exc from None
        raise
    return ir.Program(statements, tuple(text.splitlines()))


def _syntax_error(error: UnexpectedInput, text: str) -> Alg2NetError:
    line, column = error.line, error.column  # `parse` ends every input with a newline: even $END has a line
    span = ir.Span(line, column, line, column + 1)
    if isinstance(error, UnexpectedCharacters):
        char = text.splitlines()[line - 1][column - 1 : column] if line >= 1 else "?"
        return fail(
            "bad-character",
            f"unexpected character {char!r}",
            span,
            "the language uses names, numbers, + - * / ^ ( ) [ ] , = and # comments",
        )
    token = getattr(error, "token", None)
    unclosed, stray = _unmatched_parentheses(text)
    if isinstance(error, UnexpectedToken) and token is not None and token.type == "RPAR" and (line, column) in stray:
        return fail("unbalanced-parenthesis", "this ')' closes no '('", span, "remove it or add the matching '('")
    opened = [position for position in unclosed if position < (line, column)]
    at_end = token is None or token.type in ("$END", "<EOF>")
    if opened and (at_end or opened[-1][0] < line):  # the statement ran on to the error: its '(' is the cause
        return fail(
            "unbalanced-parenthesis",
            "a '(' is never closed",
            ir.Span(*opened[-1], *opened[-1]),
            "add the matching ')' where the expression ends",
        )
    keyword = None
    if isinstance(error, UnexpectedToken) and token is not None:
        shifted = error.state.value_stack
        if token.value in KEYWORDS and "NAME" in error.expected:
            keyword = token
        elif token.type == "LSQB" and shifted and isinstance(shifted[-1], Token) and shifted[-1].value in KEYWORDS:
            keyword = shifted[-1]  # `param[k+1] = ...`: the keyword was read as one, not as the vector's name
    if keyword is not None:
        return fail(
            "keyword-as-name",
            f"'{keyword.value}' is a keyword and cannot be used as a name",
            _token_span(keyword),
            f"rename it, for example '{keyword.value}_'",
        )
    misspelled = _misspelled_keyword(text, line, column)
    if misspelled is not None:
        return misspelled
    label = _match_label(error)
    if label is not None:
        code, message, hint = label
        return fail(code, message, span, hint)
    return fail("syntax", f"unexpected {_describe(token)}", span, f"expected {_expected(error)}")


def _misspelled_keyword(text: str, line: int, column: int) -> Alg2NetError | None:
    """`gard f(x[k])`, `parm h = 1`: the word just before the error is a near miss of a keyword."""
    before = text.splitlines()[line - 1][: column - 1]
    word = re.search(r"([A-Za-z_]\w*)[ \t]+$", before)
    if word is None or word.group(1) in KEYWORDS:
        return None
    close = difflib.get_close_matches(word.group(1), _SPELLED_KEYWORDS, n=1, cutoff=0.7)
    if not close:
        return None
    start = word.start(1) + 1
    span = ir.Span(line, start, line, start + len(word.group(1)))
    return fail("misspelled-keyword", f"unknown word '{word.group(1)}'", span, f"did you mean `{close[0]}`?")


_SPELLED_KEYWORDS = ("algorithm", "param", "learnable", "output", "init", "input", "grad", "prox")


@functools.cache
def _example_states() -> tuple[tuple[int, str, tuple[str, str, str]], ...]:
    """(LALR state, token type, label) of every example in SYNTAX_ERRORS."""
    states = []
    for label, examples in SYNTAX_ERRORS.items():
        for example in examples:
            try:
                _parser().parse(example + "\n")
            except UnexpectedToken as error:
                states.append((error.state.position, error.token.type, label))
    return tuple(states)


def _match_label(error: UnexpectedInput) -> tuple[str, str, str] | None:
    """The label of an example that failed in the same parser state (lark's match_examples compares whole stacks,
    which depend on the statements before; the state alone decides what was expected)."""
    if not isinstance(error, UnexpectedToken):
        return None
    position = error.state.position
    candidates = [(kind != error.token.type, label) for state, kind, label in _example_states() if state == position]
    return min(candidates)[1] if candidates else None


def _unmatched_parentheses(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(line, column) of every '(' that is never closed and of every ')' that closes none, outside comments."""
    unclosed: list[tuple[int, int]] = []
    stray: list[tuple[int, int]] = []
    for line, content in enumerate(text.splitlines(), start=1):
        for column, char in enumerate(content.split("#", 1)[0], start=1):
            if char == "(":
                unclosed.append((line, column))
            elif char == ")" and unclosed:
                unclosed.pop()
            elif char == ")":
                stray.append((line, column))
    return unclosed, stray


def _describe(token: Token | None) -> str:
    if token is None or token.type == "$END":
        return "end of input"
    if token.type == "_NL":
        return "end of line"
    return f"'{token.value}'"


_TERMINAL_WORDS = {"NAME": "a name", "NUMBER": "a number", "_NL": "the end of the line", "K": "`k`", "$END": "end"}


def _expected(error: UnexpectedInput) -> str:
    names = sorted(getattr(error, "expected", None) or getattr(error, "allowed", None) or ())
    words = []
    for name in names:
        if name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
            continue
        try:
            pattern = _parser().get_terminal(name).pattern
        except KeyError:
            continue
        words.append(f"'{pattern.value}'" if pattern.type == "str" else name.lower())
    return "one of " + ", ".join(sorted(set(words))) if len(words) > 1 else (words or ["something else"])[0]
