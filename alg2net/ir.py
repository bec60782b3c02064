"""The syntax tree of an `.alg` file: frozen dataclasses, one per grammar rule.

Imports only the standard library. Every node carries a `span` that is left out of equality, so tests can build
the expected tree by hand. Names and indices are kept as written; meaning is given by `alg2net.resolve`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A region of source text: 1-based line and column of its first and last character."""

    line: int
    column: int
    end_line: int
    end_column: int


NOWHERE = Span(0, 0, 0, 0)


class Op(enum.Enum):
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    POW = "^"


@dataclass(frozen=True, slots=True)
class Index:
    """`k + offset` when `relative`, else the absolute integer `offset` (as in `param t[0]`)."""

    offset: int
    relative: bool = True
    span: Span = field(default=NOWHERE, compare=False, repr=False)

    def __str__(self) -> str:
        if not self.relative:
            return str(self.offset)
        if self.offset == 0:
            return "k"
        return f"k{self.offset:+d}"


# Expressions -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    text: str
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Counter:
    """The layer counter `k`."""

    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Indexed:
    id: str
    index: Index
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A built-in scalar function: sqrt, exp, log, abs, min, max."""

    func: str
    args: tuple[Expr, ...]
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Grad:
    function: str
    arg: Expr
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Prox:
    function: str
    arg: Expr
    step: Expr
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Binary:
    op: Op
    left: Expr
    right: Expr
    span: Span = field(default=NOWHERE, compare=False, repr=False)


Expr = Number | Name | Counter | Indexed | Call | Grad | Prox | Neg | Binary
EXPR_KINDS: tuple[type, ...] = (Number, Name, Counter, Indexed, Call, Grad, Prox, Neg, Binary)


def children(expr: Expr) -> tuple[Expr, ...]:
    """The subexpressions of `expr`, left to right."""
    if isinstance(expr, Binary):
        return (expr.left, expr.right)
    if isinstance(expr, Neg):
        return (expr.operand,)
    if isinstance(expr, Call):
        return expr.args
    if isinstance(expr, Grad):
        return (expr.arg,)
    if isinstance(expr, Prox):
        return (expr.arg, expr.step)
    return ()


def walk(expr: Expr):
    """Every node of an expression, parents before children, left to right (without recursion)."""
    pending = [expr]
    while pending:
        node = pending.pop()
        yield node
        pending.extend(reversed(children(node)))


def depth(expr: Expr) -> int:
    """The number of nodes on the longest path from `expr` down to a leaf (without recursion)."""
    deepest, pending = 0, [(expr, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children(node))
    return deepest


# Statements ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Algorithm:
    name: str
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Param:
    """`param NAME = EXPR`, `param NAME[k] = EXPR`, `param NAME[0] = EXPR` or `param NAME[k+1] = EXPR`."""

    name: str
    index: Index | None
    value: Expr
    learnable: bool = False
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Output:
    name: str
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Init:
    """`init NAME = 0` (zero=True) or `init NAME = input`."""

    name: str
    zero: bool
    span: Span = field(default=NOWHERE, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Assign:
    """`NAME[k+1] = EXPR` (a state update) or `NAME[k] = EXPR` (an auxiliary)."""

    target: str
    index: Index
    value: Expr
    span: Span = field(default=NOWHERE, compare=False, repr=False)


Statement = Algorithm | Param | Output | Init | Assign
STATEMENT_KINDS: tuple[type, ...] = (Algorithm, Param, Output, Init, Assign)


@dataclass(frozen=True, slots=True)
class Program:
    statements: tuple[Statement, ...]
    source_lines: tuple[str, ...] = field(default=(), compare=False, repr=False)
