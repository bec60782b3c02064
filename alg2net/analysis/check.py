"""`alg2net check`: is the network a consistent, zero-stable multistep discretization of x' = -sum c_F*T_F(x)?

Assumes a `LearnableForm`. Params are handled as check.md says: fixed constants are substituted, learnable ones kept
as symbols (their region is derived) and evaluated at their initial values for the verdict; per-layer values
(schedules, recurrences, k itself) give frozen conditions at every layer of a network of depth `depth` and in the
limit k -> oo. Returns the JSON-ready facts of check.md; the text report is rendered from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from alg2net.analysis import linear_test, region
from alg2net.analysis.linear_test import Numeric
from alg2net.analysis.reduce import ZETA, output_recurrence, state_space
from alg2net.analysis.roots import render_root
from alg2net.derive import K, LearnableForm
from alg2net.resolve import ParamKind

_DIGITS = 30  # recurrences such as FISTA's t_k are evaluated with this many digits


@dataclass
class _Params:
    substitution: dict = field(default_factory=dict)  # param atoms -> fixed values or kept symbols
    learnable: dict = field(default_factory=dict)  # kept symbol -> initial value (an expression in k)
    recurrences: list = field(default_factory=list)  # (name, symbol t_k, symbol t_{k+1}, start, step in t_k)
    facts: list = field(default_factory=list)  # the JSON `params` entries


def check(form: LearnableForm, depth: int = 100) -> dict:
    """The facts of check.md for `form`, as a JSON-ready dict."""
    params = _params(form)
    space = state_space(form, params.substitution)
    variables = space.variables
    functions = form.model.functions
    pi = output_recurrence(space)
    rho = linear_test.rho(pi, variables)
    steps = linear_test.effective_steps(pi, variables)

    frozen = {K} | {symbol for _, tk, tk1, _, _ in params.recurrences for symbol in (tk, tk1)}
    initial = {symbol: value for symbol, value in params.learnable.items()}
    at_initial = [c.xreplace(initial) for c in rho.all_coeffs()] + [c.xreplace(initial) for c in steps]
    varying = any(expr.free_symbols & frozen for expr in at_initial)
    recurrence_values = _recurrence_values(params.recurrences, depth + 1) if varying else {}

    def values_at(layer: int) -> dict:
        values = {symbol: sp.sympify(value).xreplace({K: layer}) for symbol, value in initial.items()}
        values[K] = sp.Integer(layer)
        for _, tk, tk1, _, _ in params.recurrences:
            values[tk], values[tk1] = recurrence_values[tk][layer], recurrence_values[tk][layer + 1]
        return values

    facts: dict = {
        "algorithm": form.model.name,
        "explicit": not any(step.implicit for step in form.steps),
        "output": form.model.output,
        "functions": list(functions),
        "learnable_form": [f"{_text(step.lhs)} = {_text(step.value)}" for step in form.steps],
        "rho": poly_text(rho),
        "rho_factored": _factored(rho),
        "effective_steps": {f: sp.sstr(_tidy(c)) for f, c in zip(functions, steps)},
        "limit_ode": _limit_ode(form.model.output, functions, steps, None),
        "varying": varying,
    }
    layers: list[tuple[int, Numeric]] = []
    limit = None
    if varying:
        for layer in range(depth):
            layers.append((layer, linear_test.numeric(rho, steps, values_at(layer), full=False)))
        limit = _limit(rho, steps, initial, params.recurrences, recurrence_values)
        main = limit if limit is not None else layers[-1][1]
        main_values = None
    else:
        main_values = values_at(0)
        main = linear_test.numeric(rho, steps, main_values)
    facts["rho_value"] = poly_text(main.rho)
    facts["roots"] = [
        {"value": render_root(r), "abs": float(r.modulus), "multiplicity": r.multiplicity} for r in main.roots.roots
    ]
    facts["roots_of"] = "the limit k -> oo" if varying and limit is not None else ("the last layer" if varying else "")
    order_values = main_values if not varying or limit is not None else values_at(depth - 1)
    _order(facts, form, space, pi, main, order_values)
    facts["evaluation_scales"] = _scales(space, main_values if main_values is not None else values_at(0))
    consistent = main.consistent and all(n.consistent for _, n in layers)
    zero_stable = main.roots.zero_stable and all(n.roots.zero_stable for _, n in layers)
    strongly = main.roots.strongly_stable and all(n.roots.strongly_stable for _, n in layers)
    facts.update(consistent=consistent, zero_stable=zero_stable, strongly_stable=strongly)
    if not consistent:
        facts["order"], facts["error_constant"] = None, None
    if main.consistent:
        facts["effective_steps_value"] = {f: sp.sstr(_tidy(c)) for f, c in zip(functions, main.steps)}
        facts["limit_ode_value"] = _limit_ode(form.model.output, functions, main.steps, facts["evaluation_scales"])

    conditions = _conditions(main, functions, facts["evaluation_scales"], bool(layers))
    if varying:  # the layers and the limit decide; the rows above describe the limit
        conditions = [dict(c, required=False) for c in conditions]
        conditions += _layer_conditions(layers, limit, rho, steps, initial, depth)
    facts["params"] = params.facts
    _regions(facts, params, rho, steps, values_at(0) if params.learnable else {}, layers, depth)
    for entry in facts["params"]:
        if entry.get("region") is not None:
            inside = entry["initial_inside"]
            why = f"{entry['name']} in region: {entry['region']}; initial value {entry['value']}"
            conditions.append(_condition(f"{entry['name']} in its region", inside, why, required=False))
    facts["conditions"] = conditions
    facts["reasons"] = [c["why"] for c in conditions if c["required"] and not c["ok"]]
    facts["verdict"] = "not_guaranteed" if facts["reasons"] else "guaranteed"
    return facts


# Params ------------------------------------------------------------------------------------------------------------


def _params(form: LearnableForm) -> _Params:
    params = _Params()
    taken = {p.definition.name for p in form.params} | set(form.model.states) | set(form.model.auxiliaries)
    for p in form.params:
        name, definition = p.definition.name, p.definition
        value = p.value.xreplace(params.substitution)
        entry = {"name": name, "kind": definition.kind.value, "learnable": definition.learnable}
        if definition.kind is ParamKind.CONSTANT:
            atom = sp.Symbol(name, real=True)
            if definition.learnable:
                params.substitution[atom] = atom
                params.learnable[atom] = value.xreplace(params.learnable)
                entry["value"] = sp.sstr(params.learnable[atom])
            else:
                params.substitution[atom] = value
                entry["value"] = sp.sstr(value)
        elif definition.kind is ParamKind.SCHEDULE:
            atom = sp.IndexedBase(name)[K]
            if definition.learnable:
                symbol = sp.Symbol(name, real=True)  # no constant param has this name
                params.substitution[atom] = symbol
                params.learnable[symbol] = value.xreplace(params.learnable)
                entry["value"] = sp.sstr(params.learnable[symbol])
            else:
                params.substitution[atom] = value
                entry["value"] = sp.sstr(value)
        else:
            base = sp.IndexedBase(name)
            tk = sp.Symbol(_fresh(f"{name}_k", taken), real=True)
            tk1 = sp.Symbol(_fresh(f"{name}_k1", taken), real=True)
            params.substitution[base[K]], params.substitution[base[K + 1]] = tk, tk1
            step = p.value.xreplace({base[K]: tk}).xreplace(params.substitution)
            start = p.start.xreplace(params.substitution)
            params.recurrences.append((name, tk, tk1, start, step))
            entry["value"] = f"{name}[0] = {sp.sstr(start)}, {name}[k+1] = {sp.sstr(step.xreplace({tk: base[K]}))}"
        params.facts.append(entry)
    return params


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _recurrence_values(recurrences: list, count: int) -> dict:
    """t_0 .. t_count of every recurrence, as rationals from `_DIGITS`-digit arithmetic."""
    values: dict = {}
    for _, tk, _, start, step in recurrences:
        sequence = [sp.Float(start.evalf(_DIGITS), _DIGITS)]
        for layer in range(count):
            sequence.append(sp.Float(step.xreplace({tk: sequence[-1], K: layer}).evalf(_DIGITS), _DIGITS))
        values[tk] = [sp.Rational(str(v)) if v != int(v) else sp.Integer(int(v)) for v in sequence]
    return values


# Varying coefficients ----------------------------------------------------------------------------------------------


def _limit(rho, steps, initial, recurrences, recurrence_values) -> Numeric | None:
    """The frozen facts in the limit k -> oo, or None where the coefficients have no limit."""
    exprs = [c.xreplace(initial) for c in rho.all_coeffs()], [c.xreplace(initial) for c in steps]
    for _, tk, tk1, _, step in recurrences:
        last = _far(step, tk, recurrence_values[tk][-1])
        target = sp.oo if last is None else _fixed_point(step, tk, last)
        if target is None:
            return None
        exprs = tuple([_limit_of(e.xreplace({tk1: step}), tk, target) for e in group] for group in exprs)
    try:
        coefficients = [_limit_of(e, K, sp.oo) for e in exprs[0]]
        limits = [_limit_of(e, K, sp.oo) for e in exprs[1]]
    except (NotImplementedError, ValueError):  # pragma: no cover - SymPy could not decide
        return None
    if any(c is None or not c.is_finite for c in coefficients):
        return None
    poly = sp.Poly(coefficients, ZETA)
    numeric = linear_test.numeric(poly, tuple(sp.Integer(0) for _ in limits), {})
    steps_limit = tuple(sp.zoo if c is None else c for c in limits)
    return Numeric(
        numeric.rho, numeric.roots, steps_limit if numeric.consistent else (), numeric.rho_at_one, numeric.slope_at_one
    )


def _limit_of(expr: sp.Expr | None, symbol: sp.Symbol, point: sp.Expr) -> sp.Expr | None:
    if expr is None or not expr.has(symbol):
        return expr
    if point is not sp.oo:
        return sp.cancel(expr.xreplace({symbol: point}))
    if expr.is_rational_function(symbol):  # compare degrees: fast and exact
        numerator, denominator = (sp.Poly(part, symbol) for part in sp.fraction(sp.cancel(sp.together(expr))))
        if numerator.degree() > denominator.degree():
            return sp.oo * sp.sign(numerator.LC() / denominator.LC())
        if numerator.degree() < denominator.degree():
            return sp.Integer(0)
        return sp.cancel(numerator.LC() / denominator.LC())
    small = sp.Symbol("epsilon", positive=True)  # k = 1/epsilon: much faster than a limit at oo
    value = sp.limit(expr.xreplace({symbol: 1 / small}), small, 0, "+")
    return value if value.is_finite or value in (sp.oo, -sp.oo) else None


def _far(step: sp.Expr, symbol: sp.Symbol, value: sp.Expr) -> float | None:
    """Where the recurrence is after 10^4 more steps (floats); None when it grows past 10^6."""
    if step.has(K):
        return float(value)
    function = sp.lambdify(symbol, step, "math")
    current, checkpoints = float(value), []
    try:
        for _ in range(2):
            for _ in range(10**4):
                current = function(current)
            checkpoints.append(current)
    except (OverflowError, ValueError):
        return None
    first, second = checkpoints
    if abs(second - first) <= 1e-9 * (1 + abs(second)):
        return second
    return None if abs(second) > abs(first) else second


def _fixed_point(step: sp.Expr, symbol: sp.Symbol, near: sp.Expr) -> sp.Expr | None:
    if step.has(K):
        return None
    candidates = [r for r in sp.solve(sp.Eq(step, symbol), symbol) if r.is_real]
    return min(candidates, key=lambda r: abs(float(r) - float(near)), default=None)


def _layer_conditions(layers, limit, rho, steps, initial, depth) -> list[dict]:
    conditions = []
    failing = [(layer, n) for layer, n in layers if not n.guaranteed]
    if failing:
        where = _ranges([layer for layer, _ in failing])
        first = linear_test.numeric(failing[0][1].rho, (), {})
        why = f"at layer{'s' if len(failing) > 1 else ''} {where} of {depth}: {_first_failure(first)}"
        conditions.append(_condition("frozen layers", False, why))
    else:
        conditions.append(_condition("frozen layers", True, f"each of the {depth} layers passes on its own"))
    if limit is None:
        conditions.append(_condition("limit k -> oo", True, "the coefficients have no limit: only layers count"))
        return conditions
    if limit.guaranteed:
        conditions.append(_condition("limit k -> oo", True, f"rho tends to {sp.sstr(sp.factor(limit.rho.as_expr()))}"))
        return conditions
    all_consistent = all(n.consistent for _, n in layers)
    if all_consistent and limit.rho_at_one == 0 and limit.slope_at_one == 0:
        slope = sp.factor(sp.cancel(sp.diff(rho.as_expr(), ZETA).subs(ZETA, 1).xreplace(initial)))
        why = (
            f"rho'(1) = {sp.sstr(slope)} tends to 0 as k -> oo, so zeta = 1 becomes a double root and the effective"
            " step grows without bound: the layers approximate a second-order ODE (x'' + a(t)*x' = -c*T(x), as"
            " Nesterov's momentum does), not x' = -c*T(x)"
        )
    else:
        why = f"as k -> oo: {_first_failure(limit)}"
    conditions.append(_condition("limit k -> oo", False, why))
    return conditions


def _ranges(layers: list[int]) -> str:
    parts, start = [], None
    for i, layer in enumerate(layers):
        if start is None:
            start = layer
        if i + 1 == len(layers) or layers[i + 1] != layer + 1:
            parts.append(str(start) if start == layer else f"{start}-{layer}")
            start = None
    return ", ".join(parts)


# Conditions --------------------------------------------------------------------------------------------------------


def _condition(name: str, ok: bool, why: str, required: bool = True) -> dict:
    return {"name": name, "ok": bool(ok), "why": why, "required": required}


def _first_failure(n: Numeric) -> str:
    if not n.consistent:
        return _consistency_why(n)
    if not n.roots.zero_stable:
        return _stability_why(n)
    return "every c_F is 0: no gradient term reaches the limit"


def _consistency_why(n: Numeric) -> str:
    if n.rho_at_one != 0:
        return (
            f"rho(1) = {sp.sstr(n.rho_at_one)} != 0: zeta = 1 is not a root of rho, so a constant state is not kept"
            " and the layers approximate no ODE (inconsistent)"
        )
    if n.slope_at_one == 0:
        return (
            "zeta = 1 is a multiple root of rho (rho'(1) = 0): the principal root has no first-order term, so the"
            " effective step c_F is infinite"
        )
    return f"zeta = 1 is a simple root of rho (rho'(1) = {sp.sstr(n.slope_at_one)})"


def _stability_why(n: Numeric) -> str:
    bad = n.roots.offending
    if not bad:
        return "every root has |zeta| <= 1 and the roots on the unit circle are simple"
    root = bad[0]
    if root.outside:
        modulus = sp.nsimplify(root.modulus) if root.modulus.is_rational else f"{float(root.modulus):.6g}"
        return f"the root zeta = {render_root(root)} has |zeta| = {modulus} > 1: errors grow like |zeta|^k"
    return (
        f"the root zeta = {render_root(root)} on the unit circle has multiplicity {root.multiplicity}: errors grow"
        " like k^" + str(root.multiplicity - 1)
    )


def _conditions(n: Numeric, functions, scales, varying: bool) -> list[dict]:
    prefix = "in the limit: " if varying else ""
    conditions = [
        _condition("consistent", n.consistent, prefix + _consistency_why(n)),
        _condition("zero-stable", n.roots.zero_stable, prefix + _stability_why(n)),
    ]
    on_circle = [render_root(r) for r in n.roots.roots if r.on_circle and r.value != 1]
    strong_why = (
        "zeta = 1 is the only root on the unit circle"
        if n.roots.strongly_stable
        else (f"other roots on the unit circle: {', '.join(on_circle)}" if on_circle else "not zero-stable")
    )
    conditions.append(_condition("strongly zero-stable", n.roots.strongly_stable, prefix + strong_why, False))
    if n.consistent:
        finite = all(c.is_finite for c in n.steps)
        vanished = [f for f, c in zip(functions, n.steps) if c == 0]
        if not finite:
            why = "some c_F is infinite"
        elif not functions:
            why = "the algorithm has no gradient term: the limit is x' = 0, nothing is learned"
        elif len(vanished) == len(functions):
            why = "every c_F is 0: no gradient term reaches the limit, which is x' = 0"
        else:
            why = ", ".join(f"c_{f} = {sp.sstr(c)}" for f, c in zip(functions, n.steps))
            if vanished:
                why += f" ({', '.join('T_' + f for f in vanished)} vanish{'es' if len(vanished) == 1 else ''} from the limit)"
        conditions.append(_condition("gradient term in the limit", finite and n.some_step, prefix + why))
    if scales is not None:
        odd = {f: s for f, s in scales.items() if s != ["1"]}
        why = (
            "every block sees the state itself in the limit"
            if not odd
            else "; ".join(f"T_{f} sees {', '.join(v + '*x' for v in s)} in the limit" for f, s in odd.items())
        )
        conditions.append(_condition("evaluation points", not odd, why, False))
    return conditions


# Order, scales, regions --------------------------------------------------------------------------------------------


def _order(facts: dict, form: LearnableForm, space, pi, main: Numeric, values: dict | None) -> None:
    facts["order"], facts["error_constant"], facts["classical_lmm"] = None, None, False
    if not main.consistent or not all(c.is_finite for c in main.steps):
        return
    if values is None:
        pi_values = _limit_pi(pi)
        if pi_values is None:
            return
    else:
        pi_values = sp.Poly([sp.cancel(c.xreplace(values)) for c in pi.all_coeffs()], ZETA)
    classical = _classical(form)
    facts["classical_lmm"] = classical
    order, constant = linear_test.order_and_error_constant(pi_values, space.variables, main.steps, classical)
    facts["order"] = order
    facts["error_constant"] = sp.sstr(constant) if constant is not None else None


def _limit_pi(pi: sp.Poly) -> sp.Poly | None:
    """Pi with k -> oo, when its coefficients are rational in k (else None: the order is not reported)."""
    coefficients = []
    for c in pi.all_coeffs():
        if c.free_symbols - {v for v in c.free_symbols if v.name.startswith("z_")} - {K}:
            return None
        if c.has(K) and not c.is_rational_function(K):
            return None
        numerator, denominator = sp.fraction(sp.cancel(sp.together(c)))
        coefficients.append((numerator, denominator))
    top = max((sp.degree(n, K) - sp.degree(d, K) for n, d in coefficients), default=0)
    limits = [_limit_of(sp.cancel(n / d / K**top), K, sp.oo) for n, d in coefficients]
    if any(v is None or v.has(sp.oo, -sp.oo, sp.zoo) for v in limits):
        return None
    return sp.Poly([sp.cancel(v / limits[0]) for v in limits], ZETA)


def _classical(form: LearnableForm) -> bool:
    """One state, one function, no auxiliary, every block at a lag of the state itself: a classical LMM."""
    model = form.model
    if len(model.states) != 1 or model.auxiliaries or len(model.functions) != 1:
        return False
    for step in form.steps:
        for node in sp.preorder_traversal(step.value):
            if isinstance(node, sp.core.function.AppliedUndef):
                arg = node.args[0]
                if node.func.__name__.startswith("prox_") and node != step.value:
                    return False
                if node.func.__name__.startswith("T_") and not isinstance(arg, sp.Indexed):
                    return False
                if node.func.__name__.startswith("prox_") and not isinstance(arg, sp.Indexed):
                    return False
    return True


def _scales(space, values: dict) -> dict | None:
    scales = linear_test.evaluation_scales(space.at(values))
    return None if scales is None else {f: [sp.sstr(s) for s in v] for f, v in scales.items()}


def _regions(facts, params: _Params, rho, steps, values0, layers, depth) -> None:
    by_symbol = {}
    for entry, symbol in _learnable_entries(params):
        by_symbol[symbol] = entry
    for symbol, entry in by_symbol.items():
        others = {s: v for s, v in values0.items() if s != symbol}
        rho_p = sp.Poly([sp.cancel(c.xreplace(others)) for c in rho.all_coeffs()], ZETA)
        steps_p = tuple(sp.cancel(c.xreplace(others)) for c in steps)
        if not any(e.has(symbol) for e in (*rho_p.all_coeffs(), *steps_p)):
            entry["region"], entry["initial_inside"] = None, None
            entry["region_note"] = "does not enter rho or the limit ODE"
            continue
        intervals = region.region(rho_p, steps_p, symbol)
        if intervals is None:
            entry["region"], entry["initial_inside"] = None, None
            entry["region_note"] = "not derived exactly: the param enters other than rationally"
            continue
        entry["region"] = region.describe(intervals, str(symbol))
        initial = params.learnable[symbol]
        points = [initial.xreplace({K: layer}) for layer in range(depth)] if initial.has(K) else [initial]
        entry["initial_inside"] = all(region.contains(intervals, p) for p in points)
        if len(params.learnable) > 1:
            entry["region_note"] = "with the other learnable params at their initial values"


def _learnable_entries(params: _Params):
    names = {str(s).rstrip("_"): s for s in params.learnable}
    for entry in params.facts:
        if entry["learnable"] and entry["name"] in names:
            yield entry, names[entry["name"]]


# Text --------------------------------------------------------------------------------------------------------------


def _text(expr: sp.Expr) -> str:
    return re.sub(r"\[k ([+-]) (\d+)\]", r"[k\1\2]", sp.sstr(expr))


def _limit_ode(output: str, functions, steps, scales) -> str:
    terms = []
    for f, c in zip(functions, steps):
        if c == 0:
            continue
        point = output
        if scales and len(scales.get(f, [])) == 1 and scales[f][0] != "1":  # the linear test saw c*s
            point = f"{scales[f][0]}*{output}"
            c = sp.cancel(c / sp.sympify(scales[f][0]))
        call = f"T_{f}({point})"
        if c == 1:
            terms.append(("-", call))
        elif c == -1:
            terms.append(("+", call))
        else:
            tidy = _tidy(c)
            negative = sp.fraction(tidy)[0].could_extract_minus_sign()
            magnitude = _tidy(-c) if negative else tidy
            text = sp.sstr(magnitude)
            if isinstance(magnitude, sp.Add):
                text = f"({text})"
            terms.append(("+" if negative else "-", f"{text}*{call}"))
    if not terms:
        return f"{output}' = 0"
    head_sign, head = terms[0]
    text = f"{output}' = {'-' if head_sign == '-' else ''}{head}"
    for sign, term in terms[1:]:
        text += f" {sign} {term}"
    return text


def _tidy(expr: sp.Expr) -> sp.Expr:
    """`1/(1 - beta)` rather than `-1/(beta - 1)`: a denominator with a positive constant term."""
    if expr.is_number:
        return expr
    numerator, denominator = sp.fraction(sp.factor(expr))
    constant = denominator.as_coeff_Add()[0] if isinstance(denominator, sp.Add) else None
    if constant is not None and constant < 0:
        numerator, denominator = sp.expand(-numerator), sp.expand(-denominator)
    if denominator == 1:
        return numerator
    if denominator.is_number and isinstance(numerator, sp.Add):
        return sp.Symbol(f"({sp.sstr(numerator)})/{sp.sstr(denominator)}")  # printed as is: (k + 2)/3
    return sp.Mul(numerator, sp.Pow(denominator, -1), evaluate=False)


def _factored(poly: sp.Poly) -> str:
    """rho as a product of factors in zeta with positive leading coefficients: `(zeta - 1)*(zeta - beta)`."""
    constant, factors = sp.factor_list(poly.as_expr(), ZETA)
    parts = []
    for factor, multiplicity in factors:
        factor_poly = sp.Poly(factor, ZETA)
        lead = factor_poly.LC()
        constant *= lead**multiplicity
        text = poly_text(factor_poly.monic() if lead != 0 else factor_poly)
        text = text if factor_poly.degree() == 1 and text == "zeta" else f"({text})"
        parts.append(text + (f"**{multiplicity}" if multiplicity > 1 else ""))
    constant = sp.cancel(constant)
    if constant != 1:
        parts.insert(0, f"({sp.sstr(constant)})" if isinstance(constant, sp.Add) else sp.sstr(constant))
    return "*".join(parts) or "1"


def poly_text(poly: sp.Poly) -> str:
    """A polynomial in zeta with its coefficients grouped: `zeta**2 - (beta + 1)*zeta + beta`."""
    text = ""
    degree = poly.degree()
    for power, coefficient in zip(range(degree, -1, -1), poly.all_coeffs()):
        coefficient = sp.factor(coefficient)
        if coefficient == 0:
            continue
        negative = coefficient.could_extract_minus_sign()
        magnitude = _tidy(-coefficient if negative else coefficient)
        monomial = "" if power == 0 else ("zeta" if power == 1 else f"zeta**{power}")
        if not monomial:
            term = sp.sstr(magnitude)
        elif magnitude == 1:
            term = monomial
        else:
            term = sp.sstr(magnitude)
            term = f"({term})*{monomial}" if isinstance(magnitude, sp.Add) else f"{term}*{monomial}"
        if not text:
            text = f"-{term}" if negative else term
        else:
            text += f" - {term}" if negative else f" + {term}"
    return text or "0"
