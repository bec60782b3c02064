"""Short constructors for syntax trees built by hand in the stage tests (spans are left out of equality)."""

from __future__ import annotations

from alg2net import ir


def num(text: str | float) -> ir.Number:
    return ir.Number(str(text))


def name(id_: str) -> ir.Name:
    return ir.Name(id_)


def at(id_: str, offset: int = 0) -> ir.Indexed:
    """`id_[k + offset]`."""
    return ir.Indexed(id_, ir.Index(offset))


def add(left: ir.Expr, right: ir.Expr) -> ir.Binary:
    return ir.Binary(ir.Op.ADD, left, right)


def sub(left: ir.Expr, right: ir.Expr) -> ir.Binary:
    return ir.Binary(ir.Op.SUB, left, right)


def mul(left: ir.Expr, right: ir.Expr) -> ir.Binary:
    return ir.Binary(ir.Op.MUL, left, right)


def grad(function: str, arg: ir.Expr) -> ir.Grad:
    return ir.Grad(function, arg)


def update(target: str, value: ir.Expr) -> ir.Assign:
    """`target[k+1] = value`."""
    return ir.Assign(target, ir.Index(1), value)


def auxiliary(target: str, value: ir.Expr) -> ir.Assign:
    """`target[k] = value`."""
    return ir.Assign(target, ir.Index(0), value)


def param(name_: str, value: ir.Expr, learnable: bool = False, index: ir.Index | None = None) -> ir.Param:
    return ir.Param(name_, index, value, learnable)


def program(*statements: ir.Statement, name_: str = "a") -> ir.Program:
    return ir.Program((ir.Algorithm(name_), *statements))


def heavy_ball() -> ir.Program:
    """`x[k+1] = x[k] - h * grad f(x[k]) + beta * (x[k] - x[k-1])` with `h = 1` and a learnable `beta = 0.9`."""
    step = sub(at("x"), mul(name("h"), grad("f", at("x"))))
    momentum = mul(name("beta"), sub(at("x"), at("x", -1)))
    return program(
        param("h", num(1)),
        param("beta", num(0.9), learnable=True),
        update("x", add(step, momentum)),
        name_="heavy_ball",
    )
