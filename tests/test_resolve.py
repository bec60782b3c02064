"""Stage 2, resolve: syntax trees built by hand to the resolved `Model`, and the rules it enforces, by code."""

from __future__ import annotations

import pytest
from ir_builders import add, at, auxiliary, grad, heavy_ball, mul, name, num, param, program, sub, update

from alg2net import Alg2NetError, ir
from alg2net.resolve import Model, ParamDef, ParamKind, Update, resolve
from alg2net.syntax import parse

NOWHERE = ir.NOWHERE


def test_heavy_ball_resolves_to_its_model():
    tree = heavy_ball()
    value = tree.statements[3].value
    expected = Model(
        name="heavy_ball",
        params=(
            ParamDef("h", ParamKind.CONSTANT, num(1), False, NOWHERE),
            ParamDef("beta", ParamKind.CONSTANT, num(0.9), True, NOWHERE),
        ),
        updates=(Update("x", True, value, NOWHERE),),
        output="x",
        zero_init=frozenset(),
        functions=("f",),
    )
    assert resolve(tree) == expected
    assert expected.states == ("x",) and expected.auxiliaries == ()


def test_auxiliaries_states_output_and_zero_init():
    tree = program(
        ir.Output("x"),
        ir.Init("v", zero=True),
        auxiliary("y", add(at("x"), at("v"))),
        update("v", sub(at("v"), grad("g", at("y")))),
        update("x", add(at("x"), at("v", 1))),
    )
    model = resolve(tree)
    assert (model.states, model.auxiliaries) == (("v", "x"), ("y",))
    assert (model.output, model.zero_init, model.functions) == ("x", frozenset({"v"}), ("g",))
    assert [u.implicit for u in model.updates] == [False, False, False]


def test_a_recurrence_keeps_its_start_and_step():
    step = add(at("t"), num(1))
    tree = program(
        param("t", num(2), index=ir.Index(0, relative=False)),
        param("t", step, index=ir.Index(1)),
        update("x", sub(at("x"), mul(at("t"), grad("f", at("x"))))),
    )
    (t,) = resolve(tree).params
    assert t == ParamDef("t", ParamKind.RECURRENCE, step, False, NOWHERE, start=num(2))


@pytest.mark.parametrize(
    "value, implicit",
    [
        (sub(at("x"), grad("f", at("x", 1))), True),  # backward Euler
        (ir.Prox("g", at("x"), num(1)), True),
        (sub(at("x"), grad("f", at("x"))), False),
    ],
)
def test_implicit_updates_are_marked(value, implicit):
    (resolved,) = resolve(program(update("x", value))).updates
    assert resolved.implicit is implicit


@pytest.mark.parametrize(
    "tree, code",
    [
        (program(update("x", add(at("x"), at("y")))), "undefined-name"),
        (program(update("x", add(at("x"), at("x", 1)))), "self-reference"),
        (program(update("x", mul(at("x"), at("x")))), "vector-product"),
        (program(update("x", add(at("x"), num(1)))), "scalar-plus-vector"),
        (program(update("x", at("x", 2))), "index-beyond-next"),
        (program(auxiliary("y", at("x")), update("x", at("y", -1))), "auxiliary-lag"),
        (program(update("x", at("z", 1)), update("z", at("z"))), "used-before-update"),
        (program(param("h", name("g")), update("x", at("x"))), "undefined-name"),
        (program(update("x", at("x")), update("z", at("z"))), "missing-output"),
    ],
)
def test_rules_are_enforced_on_hand_built_trees(tree, code):
    with pytest.raises(Alg2NetError) as caught:
        resolve(tree)
    assert caught.value.code == code


def test_what_never_reaches_the_output_is_left_out_with_a_warning():
    text = (
        "algorithm a\noutput x\nparam c = 2\nparam h = 1\ny[k] = grad g(x[k])\n"
        "v[k+1] = v[k] + c*x[k]\nx[k+1] = x[k] - h*grad f(x[k])\n"
    )
    model = resolve(parse(text))
    assert [p.name for p in model.params] == ["h"]
    assert [u.target for u in model.updates] == ["x"] and model.functions == ("f",)
    assert [(w.code, w.severity, w.span.line) for w in model.warnings] == [
        ("dead-code", "warning", 3),
        ("dead-code", "warning", 5),
        ("dead-code", "warning", 6),
    ]
    assert "'y' never reaches the output 'x'" in model.warnings[1].message


def test_params_that_only_define_live_params_are_kept():
    text = "algorithm a\nparam a = 2\nparam b = a/2\nparam s[k] = b*k\nx[k+1] = x[k] - s[k]*grad f(x[k])\n"
    model = resolve(parse(text))
    assert [p.name for p in model.params] == ["a", "b", "s"] and model.warnings == ()


def test_a_learnable_param_that_only_initialises_others_is_refused():
    text = "algorithm a\nparam a = 0.5 learnable\nparam s[k] = a*k learnable\nx[k+1] = x[k] - s[k]*grad f(x[k])\n"
    with pytest.raises(Alg2NetError) as caught:
        resolve(parse(text))
    assert (caught.value.code, caught.value.line) == ("learnable-only-initialises", 2)
