"""Stage 1, parse: text to the syntax tree, compared with trees built by hand (spans are left out of equality)."""

from __future__ import annotations

from ir_builders import add, at, auxiliary, grad, heavy_ball, mul, name, num, param, program, sub, update

from alg2net import ir
from alg2net.syntax import parse

HEAVY_BALL = """\
algorithm heavy_ball
param h = 1
param beta = 0.9 learnable
x[k+1] = x[k] - h * grad f(x[k]) + beta * (x[k] - x[k-1])
"""


def test_heavy_ball_lowers_to_the_tree_built_by_hand():
    assert parse(HEAVY_BALL) == heavy_ball()


def test_params_of_every_kind():
    text = "algorithm a\nparam mu[k] = k / 2 learnable\nparam t[0] = 1\nparam t[k+1] = t[k] ^ 2\n"
    schedule = param("mu", ir.Binary(ir.Op.DIV, ir.Counter(), num(2)), learnable=True, index=ir.Index(0))
    start = param("t", num(1), index=ir.Index(0, relative=False))
    step = param("t", ir.Binary(ir.Op.POW, at("t"), num(2)), index=ir.Index(1))
    assert parse(text) == program(schedule, start, step)


def test_statements_and_vector_terms():
    text = (
        "algorithm a\noutput x\ninit v = 0\ny[k] = -x[k] + 2 * x[k-2]\n"
        "x[k+1] = prox g(y[k], h) - grad f(x[k+1])\nv[k+1] = max(h, 1) * v[k]\n"
    )
    prox = ir.Prox("g", at("y"), name("h"))
    expected = program(
        ir.Output("x"),
        ir.Init("v", zero=True),
        auxiliary("y", add(ir.Neg(at("x")), mul(num(2), at("x", -2)))),
        update("x", sub(prox, grad("f", at("x", 1)))),
        update("v", mul(ir.Call("max", (name("h"), num(1))), at("v"))),
    )
    assert parse(text) == expected


def test_spans_locate_every_node():
    statement = parse(HEAVY_BALL).statements[3]
    assert (statement.span.line, statement.span.column) == (4, 1)
    call = statement.value.left.right.right  # grad f(x[k])
    assert isinstance(call, ir.Grad)
    assert (call.span.line, call.span.column) == (4, 21)
