"""`alg2net check`: is the network a consistent, zero-stable multistep discretization of x' = -sum c_F*T_F(x)?

Assumes a `LearnableForm`. The stages, each a sibling module: `params` decides which params are substituted and
which are kept as symbols, `reduce` brings the layer on the linear test to the output recurrence Pi(zeta, z),
`multistep` reads rho, the c_F and the order from it, `limits` decides coefficients that vary with k at every layer
k >= 0 and in the limit k -> oo (`every_layer`) and lists the layers of a network of depth `depth`, `points` finds
where the blocks are evaluated, `conditions` makes the conditions and the verdict, `text` writes the expressions.
Guarantees `CheckFacts` (check.md; its `to_json()` is `check --json`), from which `report` renders the text report.
Where the coefficients have no limit, the facts shown for the whole network (rho's value, roots, order, the rows
marked informative) are those of the last listed layer, and say so. `max_depth_guaranteed` is the largest depth whose
layers are all proven to pass, None where every depth's are (and for constant coefficients that pass).

Names. Every text names a param as the algorithm does, except the rho strings (`rho`, `rho_factored`,
`rho_value`), which stay SymPy syntax in `zeta`: there a param whose name the analysis takes or that is a Python
keyword is written with a trailing underscore (`zeta_`), and a recurrence t[k], t[k+1] as `t_k`, `t_k1`; the key
`rho_names` says what each such name stands for.

`limit_ode` is null (printed "none (...)") when the method is not consistent (rho(1) != 0, or zeta = 1 a multiple
root, so some c_F is infinite), for the params kept symbolic and at their values alike: there is no limit ODE; and
when the output is not the integrated state (`points`), whose sequence the linear test's ODE does not describe.
"""

from __future__ import annotations

import sympy as sp

from alg2net.analysis import conditions, multistep, points
from alg2net.analysis.facts import CheckFacts, LayerFacts, RootFact, ScaleTexts, StepTexts
from alg2net.analysis.limits import Network, Where, network, pi_at
from alg2net.analysis.params import collect, with_regions
from alg2net.analysis.reduce import ZETA, StateSpace, output_recurrence, state_space
from alg2net.analysis.reversal import reversal
from alg2net.analysis.roots import render_root
from alg2net.analysis.text import Text, factored, limit_ode, names_in, poly_text, step_text, writer
from alg2net.derive import LearnableForm
from alg2net.printing import learnable_lines


def check(form: LearnableForm, depth: int = 100) -> CheckFacts:
    """The facts of check.md for `form`, with the frozen layers of a network of depth `depth`."""
    params = collect(form)
    space = state_space(form, params.substitution)
    pi = output_recurrence(space)
    rho, steps = multistep.rho(pi, space.variables), multistep.effective_steps(pi, space.variables)
    net = network(params, space, rho, steps, depth)
    text = writer(params.display)
    model, main = form.model, net.main
    symbolic_ode, steps_value, ode_value = _limit_odes(form, rho, steps, space, net, text)
    consistent, zero_stable, strongly_stable = _at_every_layer(net)
    order, error_constant, classical, order_note, order_of = _order(form, space, pi, net, consistent, text)
    param_facts = with_regions(params, rho, steps, net.schedule.values_at(0) if params.learnable else {})
    rows = conditions.conditions(net, model.output, model.functions, param_facts, text)
    reasons, verdict = conditions.verdict(rows)
    rho_text, rho_factored = poly_text(rho), _factored(rho)
    return CheckFacts(
        algorithm=model.name,
        explicit=not any(step.implicit for step in form.steps),
        output=model.output,
        functions=tuple(model.functions),
        learnable_form=tuple(learnable_lines(form, expand_prox=True)),
        rho=rho_text,
        rho_factored=rho_factored,
        rho_names=tuple(names_in(params.rho_names, f"{rho_text} {rho_factored}").items()),
        effective_steps=tuple((f, step_text(c, text)) for f, c in zip(model.functions, steps)),
        limit_ode=symbolic_ode,
        varying=net.varying,
        rho_value=poly_text(main.rho),
        roots=tuple(RootFact(render_root(r), float(r.modulus), r.multiplicity) for r in main.roots.roots),
        roots_of=net.where.text or ("at the initial values" if params.learnable else ""),
        evaluation_scales=_scale_texts(net.scales, text),
        consistent=consistent,
        zero_stable=zero_stable,
        strongly_stable=strongly_stable,
        effective_steps_value=steps_value,
        limit_ode_value=ode_value,
        order=order,
        error_constant=error_constant,
        classical_lmm=classical,
        order_of=order_of,
        order_note=order_note,
        params=param_facts,
        conditions=tuple(rows),
        reasons=reasons,
        verdict=verdict,
        **_every_depth(net, model, text),
        layers=_layer_facts(net),
        reversal=reversal(form, depth),
    )


def _limit_odes(form: LearnableForm, rho: sp.Poly, steps, space: StateSpace, net: Network, text: Text):
    """The limit ODE with the params kept symbolic (or, where that has none, at the values shown), and the c_F and
    the limit ODE at the values shown (None where some c_F is infinite there). No limit ODE where the output is not
    the integrated state: the linear test's x' = -c*T(x) does not hold for it."""
    output, functions = form.model.output, form.model.functions
    at_one = sp.cancel(rho.as_expr().subs(ZETA, 1))
    slope = sp.cancel(sp.diff(rho.as_expr(), ZETA).subs(ZETA, 1))
    seen = net.generic if net.varying and not net.schedule.initial else points.seen(space)  # the same space
    integrated = not isinstance(seen, points.Unseen) and not isinstance(net.scales, points.Unseen)
    symbolic = None  # none where rho(1) != 0 or a c_F is infinite
    if integrated and at_one == 0 and slope != 0 and all(step_text(c, text) is not None for c in steps):
        symbolic = limit_ode(output, functions, steps, _scales(seen), text)
    main = net.main
    if not main.steps_finite:
        return symbolic, None, None
    steps_value: StepTexts = tuple((f, step_text(c, text)) for f, c in zip(functions, main.steps))
    value = limit_ode(output, functions, main.steps, _scales(net.scales), text) if integrated else None
    return (value if symbolic is None else symbolic), steps_value, value


def _order(form: LearnableForm, space: StateSpace, pi: sp.Poly, net: Network, consistent: bool, text: Text):
    """The order on the linear test, the error constant, whether the method is a classical LMM, and a note where
    there is no order, at the values shown (at the last listed layer where Pi has no limit); no order where some
    layer is not consistent."""
    main, where = net.main, net.where
    order, constant, classical, note = None, None, False, None
    pi_values = pi_at(pi, where, net.limit_of)
    if pi_values is None and main.steps_finite and net.layers:  # Pi's limit unknown: the last listed layer's order
        layer, facts = max(((k, n) for k, n in net.layers if n is not None), default=(None, None), key=lambda e: e[0])
        if facts is not None:
            where = Where(f"at the last layer, k = {layer}", net.schedule.values_at(layer))
            main, pi_values = facts, pi_at(pi, where, None)
    if not main.consistent:
        note = "not consistent"
    elif not main.steps_finite:
        note = "some c_F is infinite"
    elif pi_values is None:
        note = "not computed: Pi(zeta, z) has no finite limit as k -> oo"
    else:
        classical = multistep.classical(form)
        order, value = multistep.order_and_error_constant(pi_values, space.variables, main.steps, classical)
        constant = text(value) if value is not None else None
        if order is None:
            note = "every c_F is 0"
    note = None if note is None else f"{note} {where.text}".strip()
    if not consistent and order is not None:
        return None, None, classical, "not consistent at every layer", where.text
    return order, constant, classical, note, where.text


def _at_every_layer(net: Network) -> tuple[bool, bool, bool]:
    """Consistent, zero-stable, strongly zero-stable: at the values shown and at every layer with finite values."""
    facts = [net.main, *(n for _, n in net.layers if n is not None)]
    consistent = all(n.consistent for n in facts)
    return bool(consistent), all(n.roots.zero_stable for n in facts), all(n.roots.strongly_stable for n in facts)


def _factored(rho: sp.Poly) -> str:
    """rho factored; as it is where SymPy cannot factor its coefficients (powers such as 2**(-k))."""
    try:
        return factored(rho)
    except sp.PolynomialError:
        return poly_text(rho)


def _scales(found) -> dict | None:
    """The evaluation scales where every block sees the output (`points.seen` gave a dict), else None."""
    return found if isinstance(found, dict) else None


def _scale_texts(scales, text: Text) -> ScaleTexts | None:
    scales = _scales(scales)
    return None if scales is None else tuple((f, tuple(text(s) for s in v)) for f, v in scales.items())


def _every_depth(net: Network, model, text: Text) -> dict:
    """`max_depth_guaranteed`: the largest depth whose layers are all proven to pass, None for every depth (constant
    coefficients: None when the layer passes, else 0); `second_order_limit`: the ODE where rho'(1) -> 0 like r/k."""
    depth = net.max_depth if net.varying else (None if net.main.guaranteed else 0)
    second = None if net.every is None else net.every.second_order
    ode = None if second is None else conditions.second_order_text(second, model.output, model.functions, text)
    return {"max_depth_guaranteed": depth, "second_order_limit": ode}


def _layer_facts(net: Network) -> tuple[LayerFacts, ...]:
    facts = []
    for k, n in net.layers:
        if n is None:
            facts.append(LayerFacts(k, False, False, False, False, False))
        else:
            stable, strongly = bool(n.roots.zero_stable), bool(n.roots.strongly_stable)
            facts.append(LayerFacts(k, True, bool(n.consistent), stable, strongly, bool(n.guaranteed)))
    return tuple(facts)
