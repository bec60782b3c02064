"""Stage 3, derive: resolved models (from trees built by hand) to the learnable form in SymPy, and the one encoding
of block and prox calls."""

from __future__ import annotations

import sympy as sp
from ir_builders import add, at, auxiliary, grad, heavy_ball, mul, num, param, program, sub, update

from alg2net import ir
from alg2net.derive import BlockCall, K, block, derive, function_of, is_block, is_prox, prox, vector
from alg2net.resolve import resolve
from alg2net.syntax import parse

H, BETA = sp.Symbol("h", real=True), sp.Symbol("beta", real=True)


def _form(tree: ir.Program):
    return derive(resolve(tree))


def test_heavy_ball_learnable_form():
    form = _form(heavy_ball())
    x, x_prev = vector("x"), vector("x", -1)
    (step,) = form.steps
    assert (step.target, step.offset, step.implicit) == ("x", 1, False)
    assert sp.expand(step.value - (x - H * block("f")(x) + BETA * (x - x_prev))) == 0
    assert step.calls == (BlockCall("f", x),)
    assert [(p.definition.name, p.value) for p in form.params] == [("h", 1), ("beta", sp.Rational(9, 10))]
    assert form.lags() == {"x": 1}


def test_a_repeated_call_is_made_once_and_a_cancelled_one_never():
    twice = add(grad("f", at("x")), grad("f", at("x")))
    cancelled = mul(num(0), grad("g", at("x")))
    (step,) = _form(program(update("x", add(at("x"), add(twice, cancelled))))).steps
    assert step.calls == (BlockCall("f", vector("x")),)


def test_calls_are_listed_once_per_layer_in_order_of_need():
    y = auxiliary("y", add(at("x"), grad("f", at("x"))))
    x = update("x", sub(at("y"), add(grad("f", at("x")), grad("f", at("y")))))
    first, second = _form(program(y, x)).steps
    assert first.calls == (BlockCall("f", vector("x")),)
    assert second.calls == (BlockCall("f", vector("y")),)  # f at x[k] is already made


def test_a_call_at_the_unknown_is_left_to_the_solve():
    (step,) = _form(program(update("x", sub(at("x"), grad("f", at("x", 1)))))).steps
    assert step.implicit and step.calls == ()
    assert step.value == vector("x") - block("f")(vector("x", 1))


def test_schedules_are_expressions_in_k():
    schedule = param("mu", ir.Binary(ir.Op.DIV, ir.Counter(), add(ir.Counter(), num(2))), index=ir.Index(0))
    form = _form(program(schedule, update("x", sub(at("x"), mul(at("mu"), grad("f", at("x")))))))
    assert form.params[0].value == K / (K + 2)
    assert form.steps[0].value.has(sp.IndexedBase("mu")[K])


def test_block_and_prox_encoding():
    x = vector("x")
    call, step = block("f")(x), prox("g")(x, H)
    assert is_block(call) and not is_prox(call) and function_of(call) == "f"
    assert is_prox(step) and not is_block(step) and function_of(step) == "g"
    assert str(call) == "T_f(x[k])" and str(step) == "prox_g(x[k], h)"
    # A DSL function whose name looks like the encoding is still told apart by kind, not by name.
    odd = block("prox_g")(x)
    assert is_block(odd) and not is_prox(odd) and function_of(odd) == "prox_g"
    assert not is_block(sp.Function("T_f")(x)) and not is_block(sp.sin(x.base[K]))


def test_grad_of_a_function_named_like_a_block_is_a_block():
    (step,) = _form(program(update("x", sub(at("x"), grad("T_f", at("x")))))).steps
    (call,) = step.calls
    assert call.function == "T_f" and is_block(call.expr) and function_of(call.expr) == "T_f"


def test_functions_and_params_whose_every_use_cancels_are_left_out_with_a_warning():
    text = (
        "algorithm a\nparam beta = 0.5 learnable\nparam c = 2\nparam d = c*3\n"
        "x[k+1] = x[k] - grad f(x[k]) - 0*grad g(x[k]) + beta*(x[k] - x[k]) + d*0*x[k]\n"
    )
    form = derive(resolve(parse(text)))
    assert form.model.functions == ("f",) and form.params == () and form.model.params == ()
    assert [(w.code, w.span.line) for w in form.model.warnings] == [
        ("dead-code", 5),
        *(("dead-code", n) for n in (2, 3, 4)),
    ]
    assert "grad g" in form.model.warnings[0].message and "'beta'" in form.model.warnings[1].message


def test_a_param_read_only_by_a_used_param_is_kept():
    text = "algorithm a\nparam c = 2\nparam d = c*3\nx[k+1] = x[k] - d*grad f(x[k])\n"
    form = derive(resolve(parse(text)))
    assert [p.definition.name for p in form.params] == ["c", "d"] and form.model.warnings == ()
