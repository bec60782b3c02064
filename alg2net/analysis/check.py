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

Trained values (`check --weights`, guarantee.md): with `trained`, the learnable params take the values of a
checkpoint (`params.at_trained`). Learnable constants replace their initial values, and everything above applies
unchanged (every depth). Learnable schedules fix the depth L: `fixed_depth` judges each layer 0 .. L - 1 frozen at
its values, and the reasons name the layers that fail. Trained values that leave a coefficient without a finite real
value are an input error. `layers` then holds every layer's facts, in the JSON under `layers` with `weights`.

`limit_ode` is null (printed "none (...)") when the method is not consistent (rho(1) != 0, or zeta = 1 a multiple
root, so some c_F is infinite), for the params kept symbolic and at their values alike: there is no limit ODE; and
when the output is not the integrated state (`points`), whose sequence the linear test's ODE does not describe.
"""

from __future__ import annotations

import dataclasses
import math

import sympy as sp

from alg2net.analysis import conditions, multistep, points
from alg2net.analysis.facts import CheckFacts, Condition, LayerFacts, RootFact, ScaleTexts, StepTexts
from alg2net.analysis.fixed_depth import fixed_network, undefined, zero_scale
from alg2net.analysis.limits import Network, Where, network, pi_at
from alg2net.analysis.params import Params, as_stored, at_trained, collect, joint_region, with_regions
from alg2net.analysis.reduce import ZETA, StateSpace, output_recurrence, state_space
from alg2net.analysis.reversal import reversal
from alg2net.analysis.roots import decimal_modulus, render_root, root_facts
from alg2net.analysis.text import Text, factored, limit_ode, names_in, poly_text, step_text, writer
from alg2net.analysis.trained import Trained
from alg2net.derive import LearnableForm
from alg2net.errors import Alg2NetError, fail
from alg2net.printing import learnable_lines


def check(form: LearnableForm, depth: int = 100, trained: Trained | None = None) -> CheckFacts:
    """The facts of check.md for `form`, with the frozen layers of a network of depth `depth`; with `trained`, at
    the learnable params' trained values (guarantee.md). A `guaranteed` at the params' exact values is decided again
    at the float32 values a module stores for its constants (`stored-values`)."""
    params = collect(form) if trained is None else at_trained(collect(form), trained)
    facts = _check(form, params, depth, trained)
    if trained is not None or facts.verdict != conditions.GUARANTEED:
        return facts  # a trained checkpoint's values are the stored ones
    return _at_stored(form, params, depth, facts)


def _at_stored(form: LearnableForm, params: Params, depth: int, facts: CheckFacts) -> CheckFacts:
    """`facts`, whose verdict is `guaranteed`, with the failing condition `stored-values` where the network is not
    guaranteed at the float32 values of its constants (a module's default dtype): a value past float32's range is
    inf there; a rounded one can land on a boundary (beta = 0.99999999999 is stored as 1, a double root)."""
    stored, values = as_stored(params, form)
    if not values:
        return facts
    shown = ", ".join(f"{name} = {value:.9g}" for name, value in values.items())
    infinite = [fact for fact in params.facts if math.isinf(values.get(fact.name, 0.0))]
    found: int | None = 0
    if infinite:
        why = "; ".join(f"{p.name} = {p.value} is past float32's range, where a module stores inf" for p in infinite)
    else:
        try:
            reasons, found = _verdict(form, stored, depth)
        except Alg2NetError as error:
            why = f"at the float32 values a module stores ({shown}): {error.message}"
        else:
            if not reasons:
                return facts
            why = f"at the float32 values a module stores ({shown}): {'; '.join(reasons)}"
    rows = (*facts.conditions, Condition("stored-values", "float32 values", False, why))
    reasons, verdict = conditions.verdict(list(rows))
    depths = [d for d in (facts.max_depth_guaranteed, found) if d is not None]
    return dataclasses.replace(
        facts, conditions=rows, reasons=reasons, verdict=verdict, max_depth_guaranteed=min(depths, default=0)
    )


def _verdict(form: LearnableForm, params: Params, depth: int) -> tuple[tuple[str, ...], int | None]:
    """The reasons against the verdict at `params`' values (none: guaranteed) and `max_depth_guaranteed`: what
    `_check` decides, without the facts that do not decide it."""
    _, _, _, _, net = _reduced(form, params, depth)
    text = _writer(params)
    reasons, _ = conditions.verdict(
        conditions.conditions(net, form.model.output, form.model.functions, params.facts, text)
    )
    return reasons, _every_depth(net, form.model, text)["max_depth_guaranteed"]


def _reduced(form: LearnableForm, params: Params, depth: int) -> tuple[StateSpace, sp.Poly, sp.Poly, tuple, Network]:
    """The layer's state space at `params`' values, Pi(zeta, z), rho, the effective steps and the network's facts."""
    space = state_space(form, params.substitution)
    pi = output_recurrence(space)
    rho, steps = multistep.rho(pi, space.variables), multistep.effective_steps(pi, space.variables)
    return space, pi, rho, steps, _network(form, params, space, pi, rho, steps, depth)


def _check(form: LearnableForm, params: Params, depth: int, trained: Trained | None) -> CheckFacts:
    """The facts at `params`' values."""
    space, pi, rho, steps, net = _reduced(form, params, depth)
    text, model, main = _writer(params), form.model, net.main
    symbolic_ode, steps_value, ode_value = _limit_odes(form, rho, steps, space, net, text)
    consistent, zero_stable, strongly_stable = _at_every_layer(net)
    order, error_constant, classical, order_note, order_of = _order(form, space, pi, net, consistent, text)
    param_facts = with_regions(params, rho, steps, net.schedule.values_at(0) if params.learnable else {})
    rows = conditions.conditions(net, model.output, model.functions, param_facts, text)
    (reasons, verdict), rho_text, rho_factored = conditions.verdict(rows), poly_text(rho), _factored(rho)
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
        roots=_roots(main.roots.roots),
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
        reversal=reversal(form, depth),
        **_layers(net, param_facts, model.functions, text, trained),
        joint_region=joint_region(params, rho, steps),
    )


def _network(
    form: LearnableForm, params: Params, space: StateSpace, pi: sp.Poly, rho: sp.Poly, steps, depth: int
) -> Network:
    """The network at the params' values: initial, or trained (`params.of`), where trained per-layer values fix the
    depth (`fixed_depth`); facts shown for a network of constant coefficients say they are at the trained values.
    Trained values that leave a coefficient without a finite real value are an error, as initial ones are."""
    if params.of == "trained":
        _defined(form, params, depth)
    if params.trained:
        return fixed_network(params, space, rho, steps)
    try:
        net = network(params, space, pi, rho, steps, depth)
    except Alg2NetError as error:
        if params.of != "trained" or error.code != "undefined-value":
            raise
        values = ", ".join(f"{p.name} = {p.trained_texts[0]}" for p in params.facts if p.trained is not None)
        raise fail(
            "undefined-value",
            f"at the trained values ({values}) the coefficients have no finite value (a division by zero): the"
            " trained network computes inf or nan",
            hint="retrain, or compile with --constrain to hold the params in their regions",
        ) from None
    if params.of == "trained" and not net.where.text:
        return dataclasses.replace(net, where=Where("at the trained values", net.where.values))
    return net


def _defined(form: LearnableForm, params: Params, depth: int) -> None:
    """An error where the trained values leave a part of a coefficient without a finite real value."""
    found = undefined(form, params, depth)
    if found is None:
        return
    layer, part, value = found
    values = ", ".join(
        f"{p.name} = {p.trained_texts[0 if p.kind != 'schedule' or layer is None else layer]}"
        for p in params.facts
        if p.trained is not None
    )
    where = "" if layer is None else f"at layer {layer}, "
    raise fail(
        "undefined-value",
        f"{where}at the trained values ({values}), {sp.sstr(part)} = {sp.sstr(value)} is not a finite real number:"
        " the trained network computes inf or nan",
        hint="retrain, or compile with --constrain to hold the params in their regions",
    )


def _writer(params: Params) -> Text:
    """The texts' writer; at trained values it writes the long exact fractions of trained floats (5033165/4194304)
    as decimals with 6 significant digits (1.2): the decisions stay exact."""
    text = writer(params.display)
    if params.of != "trained":
        return text

    def write(expr) -> str:
        atoms = expr.atoms(sp.Rational) if isinstance(expr, sp.Basic) else set()
        long = {r: _decimal(r) for r in atoms if not r.is_Integer and len(str(r.q)) > 4}
        return text(expr.xreplace(long) if long else expr)

    return write


def _decimal(r: sp.Rational) -> sp.Expr:
    """A symbol named by the decimal of |r|, with r's sign in front: printed as the decimal."""
    return (-1 if r < 0 else 1) * sp.Symbol(f"{abs(float(r)):.6g}", positive=True)


def _roots(roots) -> tuple[RootFact, ...]:
    return tuple(
        RootFact(render_root(r), float(r.modulus), r.multiplicity, complex(sp.N(r.value, 20)), decimal_modulus(r))
        for r in roots
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
        try:
            order, value = multistep.order_and_error_constant(pi_values, space.variables, main.steps, classical)
        except (ValueError, sp.polys.polyerrors.BasePolynomialError):  # numbers SymPy's fields cannot hold together
            order, value, note = None, None, "not computed: SymPy has no exact arithmetic for these coefficients"
        constant = text(value) if value is not None else None
        if order is None and note is None:
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


def _layers(net: Network, params, functions, text: Text, trained: Trained | None) -> dict:
    """The listed layers; with `trained`, the checkpoint and its layers' facts (both in the JSON then)."""
    if trained is None:
        return {"layers": _layer_facts(net)}
    layers = _trained_layer_facts(net, params, functions, text)
    return {"layers": layers, "weights": trained.path, "fixed_depth": net.fixed_depth}


def _trained_layer_facts(net: Network, params, functions, text: Text) -> tuple[LayerFacts, ...]:
    """`check --weights`: each layer's trained values, conditions, roots and why it fails; one entry (k None) where
    every layer is the same."""
    listed = net.layers if net.varying else [(None, net.main)]
    failing = set(net.failing) if net.fixed_depth is not None else None
    facts = []
    for k, n in listed:
        values = tuple((p.name, p.trained[k if p.kind == "schedule" else 0]) for p in params if p.trained is not None)
        if n is None:
            why = conditions.layer_why(k, n, params, functions, text)
            facts.append(LayerFacts(k, False, False, False, False, False, values, (), why))
            continue
        roots = root_facts(n.rho)
        passes = n.guaranteed if failing is None else k not in failing
        unseen = None if failing is None else zero_scale(net.generic, net.schedule.values_at(k))
        why = None if passes else conditions.layer_why(k, n, params, functions, text, unseen)
        stable, strongly = bool(roots.zero_stable), bool(roots.strongly_stable)
        facts.append(
            LayerFacts(k, True, bool(n.consistent), stable, strongly, passes, values, _roots(roots.roots), why)
        )
    return tuple(facts)


def _layer_facts(net: Network) -> tuple[LayerFacts, ...]:
    facts = []
    for k, n in net.layers:
        if n is None:
            facts.append(LayerFacts(k, False, False, False, False, False))
        else:
            stable, strongly = bool(n.roots.zero_stable), bool(n.roots.strongly_stable)
            facts.append(LayerFacts(k, True, bool(n.consistent), stable, strongly, bool(n.guaranteed)))
    return tuple(facts)
