"""`alg2net check`: is the network a consistent, zero-stable multistep discretization of x' = -sum c_F*T_F(x)?

Assumes a `LearnableForm`. Params are handled as check.md says: fixed constants are substituted, learnable ones kept
as symbols (their region is derived) and evaluated at their initial values for the verdict; per-layer values
(schedules, recurrences, k itself) give frozen conditions at every layer of a network of depth `depth` and in the
limit k -> oo. Where that limit does not exist, the facts shown for the whole network (rho's value, roots, order,
the rows marked informative) are those of the last layer, and say so. Returns the JSON-ready facts of check.md;
the text report is rendered from them.

Names. Every text names a param as the algorithm does, with two exceptions, both in the rho strings only (`rho`,
`rho_factored`), which must stay SymPy syntax in the variable `zeta`: a param whose name is taken by the analysis
(`zeta`, a linear-test variable `z_F`) or is a Python keyword is written with a trailing underscore (`zeta_`), and
a recurrence t[k], t[k+1] is written `t_k`, `t_k1` (made unique the same way). The key `rho_names` maps each such
name to what it stands for. Elsewhere a recurrence reads `t[k]`.

`limit_ode` is null (printed "none (...)") when the method is not consistent (rho(1) != 0, or zeta = 1 a multiple
root, so some c_F is infinite), for the params kept symbolic and at their values alike: there is no limit ODE.
"""

from __future__ import annotations

import dataclasses
import keyword
import math
import re
from dataclasses import dataclass, field

import mpmath
import sympy as sp

from alg2net.analysis import linear_test, region
from alg2net.analysis.linear_test import Numeric
from alg2net.analysis.reduce import ZETA, output_recurrence, state_space, test_variable
from alg2net.analysis.roots import render_root, root_facts
from alg2net.derive import K, LearnableForm, is_block, is_prox
from alg2net.printing import learnable_lines
from alg2net.resolve import ParamKind

_DIGITS = 30  # recurrences such as FISTA's t_k are evaluated with this many digits
_LIMIT = "in the limit k -> oo"
_FLOAT_MAX = 1.7976931348623157e308


@dataclass
class _Params:
    substitution: dict = field(default_factory=dict)  # param atoms -> fixed values or kept symbols
    learnable: dict = field(default_factory=dict)  # kept symbol -> initial value (an expression in k)
    symbols: dict = field(default_factory=dict)  # a learnable param's name -> its kept symbol
    recurrences: list = field(default_factory=list)  # (name, symbol t_k, symbol t_{k+1}, start, step in t_k)
    display: dict = field(default_factory=dict)  # an internal symbol name -> how the texts write it
    rho_names: dict = field(default_factory=dict)  # a name in the rho strings that is no DSL name -> its meaning
    facts: list = field(default_factory=list)  # the JSON `params` entries


@dataclass(frozen=True)
class _Where:
    """Which values the facts shown for the whole network are taken at."""

    text: str  # "" (the only values), "in the limit k -> oo", "at the last layer, k = 99"
    values: dict | None  # the values, when they are values (not a limit)

    @property
    def prefix(self) -> str:
        return f"{self.text}: " if self.text else ""


def check(form: LearnableForm, depth: int = 100) -> dict:
    """The facts of check.md for `form`, as a JSON-ready dict."""
    params = _params(form)
    space = state_space(form, params.substitution)
    variables = space.variables
    functions = form.model.functions
    pi = output_recurrence(space)
    rho = linear_test.rho(pi, variables)
    steps = linear_test.effective_steps(pi, variables)

    recurrence_symbols = tuple(symbol for _, tk, tk1, _, _ in params.recurrences for symbol in (tk, tk1))
    initial = dict(params.learnable)
    rho_initial = sp.Poly([c.xreplace(initial) for c in rho.all_coeffs()], ZETA)
    steps_initial = tuple(c.xreplace(initial) for c in steps)
    per_layer = {K, *recurrence_symbols}
    varying = any(expr.free_symbols & per_layer for expr in (*rho_initial.all_coeffs(), *steps_initial))
    recurrence_values = _recurrence_values(params.recurrences, depth + 1 if varying else 1)

    def values_at(layer: int) -> dict:
        values = {symbol: sp.sympify(value).xreplace({K: layer}) for symbol, value in initial.items()}
        values[K] = sp.Integer(layer)
        for _, tk, tk1, _, _ in params.recurrences:
            sequence = recurrence_values[tk]  # shorter where the values overflow: the last finite ones stand in
            values[tk], values[tk1] = (
                sequence[min(layer, len(sequence) - 2)],
                sequence[min(layer + 1, len(sequence) - 1)],
            )
        return values

    layers: list[tuple[int, Numeric]] = []
    limit = limit_of = None
    computed = min((len(v) - 1 for v in recurrence_values.values()), default=depth)  # layers with finite values
    if varying:
        frozen = linear_test.Frozen(rho_initial, steps_initial, (K, *recurrence_symbols))
        layers = [(layer, _at(frozen, values_at(layer))) for layer in range(min(depth, computed))]
        limit_of = _limit_map(initial, params.recurrences, recurrence_values)
        limit = None if limit_of is None else _limit(rho, steps, limit_of)
    if limit is not None:
        where, main = _Where(_LIMIT, None), limit
        scales = _limit_scales(space, limit_of)
    else:
        layer = max((layer for layer, n in layers if n is not None), default=0)
        where = _Where(f"at the last layer, k = {layer}" if varying else "", values_at(layer))
        main = linear_test.numeric(rho, steps, where.values)
        scales = linear_test.evaluation_scales(space.at(where.values))

    facts: dict = {
        "algorithm": form.model.name,
        "explicit": not any(step.implicit for step in form.steps),
        "output": form.model.output,
        "functions": list(functions),
        "learnable_form": learnable_lines(form, expand_prox=True),
        "rho": poly_text(rho),
        "rho_factored": _factored(rho),
        "rho_names": _names_in(params.rho_names, poly_text(rho) + " " + _factored(rho)),
        "effective_steps": {f: _step_text(c) for f, c in zip(functions, steps)},
        "limit_ode": _symbolic_limit_ode(form.model.output, functions, rho, steps, space),
        "varying": varying,
        "rho_value": poly_text(main.rho),
        "roots": [
            {"value": render_root(r), "abs": float(r.modulus), "multiplicity": r.multiplicity} for r in main.roots.roots
        ],
        "roots_of": where.text or ("at the initial values" if params.learnable else ""),
        "evaluation_scales": _scale_texts(scales),
    }
    finite = [n for _, n in layers if n is not None]
    consistent = bool(main.consistent and all(n.consistent for n in finite))
    zero_stable = bool(main.roots.zero_stable and all(n.roots.zero_stable for n in finite))
    strongly = bool(main.roots.strongly_stable and all(n.roots.strongly_stable for n in finite))
    facts.update(consistent=consistent, zero_stable=zero_stable, strongly_stable=strongly)
    if main.steps_finite:
        facts["effective_steps_value"] = {f: _step_text(c) for f, c in zip(functions, main.steps)}
        facts["limit_ode_value"] = _limit_ode(form.model.output, functions, main.steps, scales)
        if facts["limit_ode"] is None:
            facts["limit_ode"] = facts["limit_ode_value"]
    _order(facts, form, space, pi, main, where, limit_of)
    if not consistent and facts["order"] is not None:
        facts["order"], facts["error_constant"] = None, None
        facts["order_note"] = "not consistent at every layer"

    conditions = _conditions(main, form.model.output, functions, steps_initial, scales, where)
    if varying:  # the layers and the limit decide; the rows above describe the limit or the last layer
        conditions = [dict(c, required=False) for c in conditions]
        conditions += _layer_conditions(layers, limit, rho_initial, steps_initial, functions, depth)
        if computed < depth:
            names = ", ".join(
                f"{name}[{computed + 1}]"
                for name, tk, *_ in params.recurrences
                if len(recurrence_values[tk]) == computed + 1
            )
            why = f"{names} exceeds the float64 range: layers {computed}-{depth - 1} of {depth} overflow"
            conditions.append(_condition("finite coefficients", False, why))
    facts["params"] = params.facts
    _regions(facts, params, rho, steps, values_at(0) if params.learnable else {}, depth)
    for entry in facts["params"]:
        if entry.get("region") is not None:
            inside = entry["initial_inside"]
            why = f"initial value {entry['value']} {'in' if inside else 'outside'} the region {entry['region']}"
            conditions.append(_condition(f"{entry['name']} in its region", inside, why, required=False))
    facts["conditions"] = conditions
    facts["reasons"] = [c["why"] for c in conditions if c["required"] and not c["ok"]]
    facts["verdict"] = "not_guaranteed" if facts["reasons"] else "guaranteed"
    return _renamed(facts, params.display)


# Params ------------------------------------------------------------------------------------------------------------


def _params(form: LearnableForm) -> _Params:
    params = _Params()
    reserved = {ZETA.name} | {test_variable(f).name for f in form.model.functions}
    taken = {p.definition.name for p in form.params} | set(form.model.states) | set(form.model.auxiliaries)
    taken |= reserved | set(form.model.functions)

    def kept(name: str) -> sp.Symbol:
        """The symbol of a param kept symbolic: its own name unless the analysis or SymPy's syntax needs it."""
        if name not in reserved and not keyword.iskeyword(name):
            return sp.Symbol(name, real=True)
        symbol = sp.Symbol(_fresh(name + "_", taken), real=True)
        params.display[symbol.name] = name
        params.rho_names[symbol.name] = f"the param {name}"
        return symbol

    for p in form.params:
        name, definition = p.definition.name, p.definition
        value = p.value.xreplace(params.substitution)
        entry = {"name": name, "kind": definition.kind.value, "learnable": definition.learnable}
        if definition.kind is ParamKind.RECURRENCE:
            base = sp.IndexedBase(name)
            tk = sp.Symbol(_fresh(f"{name}_k", taken), real=True)
            tk1 = sp.Symbol(_fresh(f"{name}_k1", taken), real=True)
            params.substitution[base[K]], params.substitution[base[K + 1]] = tk, tk1
            params.display[tk.name], params.display[tk1.name] = f"{name}[k]", f"{name}[k+1]"
            params.rho_names[tk.name], params.rho_names[tk1.name] = f"{name}[k]", f"{name}[k+1]"
            step = p.value.xreplace({base[K]: tk}).xreplace(params.substitution)
            start = p.start.xreplace(params.substitution)
            params.recurrences.append((name, tk, tk1, start, step))
            entry["value"] = f"{name}[0] = {sp.sstr(start)}, {name}[k+1] = {_text(step.xreplace({tk: base[K]}))}"
        else:
            atom = sp.Symbol(name, real=True) if definition.kind is ParamKind.CONSTANT else sp.IndexedBase(name)[K]
            if definition.learnable:
                symbol = kept(name)
                params.substitution[atom] = symbol
                params.learnable[symbol] = value.xreplace(params.learnable)
                params.symbols[name] = symbol
                entry["value"] = sp.sstr(params.learnable[symbol])
            else:
                params.substitution[atom] = value
                entry["value"] = sp.sstr(value)
        params.facts.append(entry)
    return params


def _names_in(names: dict, text: str) -> dict:
    return {name: meaning for name, meaning in names.items() if re.search(rf"\b{re.escape(name)}\b", text)}


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _recurrence_values(recurrences: list, count: int) -> dict:
    """t_0 .. t_count of every recurrence, as rationals from `_DIGITS`-digit arithmetic."""
    values: dict = {}
    for _, tk, _, start, step in recurrences:
        with mpmath.workdps(_DIGITS):
            function = sp.lambdify((tk, K), step, "mpmath")
            sequence = [mpmath.mpf(sp.Float(start, _DIGITS))]
            for layer in range(count):
                value = mpmath.mpf(function(sequence[-1], layer))
                if not mpmath.isfinite(value) or abs(value) > _FLOAT_MAX:  # the network overflows from here on
                    break
                sequence.append(value)
            values[tk] = [sp.Rational(mpmath.nstr(v, _DIGITS)) for v in sequence]
    return values


def _renamed(facts: dict, display: dict) -> dict:
    """`facts` with internal names (zeta_, t_k) written as the algorithm writes them, outside the rho strings."""
    if not display:
        return facts
    pattern = re.compile(r"\b(" + "|".join(re.escape(name) for name in display) + r")\b")

    def rename(value):
        if isinstance(value, str):
            return pattern.sub(lambda match: display[match.group(1)], value)
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        return value

    kept = {"algorithm", "output", "functions", "learnable_form", "rho", "rho_factored", "rho_value", "rho_names"}
    renamed = {key: value if key in kept else rename(value) for key, value in facts.items() if key != "params"}
    renamed["params"] = [{k: rename(v) if k in ("region", "region_note") else v for k, v in entry.items()}
                         for entry in facts["params"]]  # fmt: skip
    return renamed


# Varying coefficients ----------------------------------------------------------------------------------------------


def _limit_map(initial: dict, recurrences: list, recurrence_values: dict):
    """The map of an expression (in k, the recurrences and the learnable params) to its limit as k -> oo, None
    where it has none; None instead of a map when some recurrence has no limit."""
    targets = []
    for _, tk, tk1, _, step in recurrences:
        last = _far(step, tk, recurrence_values[tk][-1])
        target = sp.oo if last is None else _fixed_point(step, tk, last)
        if target is None:
            return None
        targets.append((tk, tk1, step, target))

    def limit_of(expr: sp.Expr) -> sp.Expr | None:
        expr = expr.xreplace(initial)
        for tk, tk1, step, target in targets:
            expr = _limit_of(expr.xreplace({tk1: step}), tk, target)
            if expr is None:
                return None
        return _limit_of(expr, K, sp.oo)

    return limit_of


def _limit(rho: sp.Poly, steps: tuple[sp.Expr, ...], limit_of) -> Numeric | None:
    """The frozen facts in the limit k -> oo, or None where rho or a c_F has no limit (a c_F may tend to +-oo)."""
    coefficients = [limit_of(c) for c in rho.all_coeffs()]
    limits = [limit_of(c) for c in steps]
    if any(c is None or not c.is_finite for c in coefficients) or any(c is None for c in limits):
        return None
    numeric = linear_test.numeric(sp.Poly(coefficients, ZETA), (), {})
    return Numeric(
        numeric.rho,
        numeric.roots,
        tuple(limits) if numeric.consistent else (),
        numeric.rho_at_one,
        numeric.slope_at_one,
    )


def _limit_of(expr: sp.Expr | None, symbol: sp.Symbol, point: sp.Expr) -> sp.Expr | None:
    """The limit of `expr` as `symbol` -> `point`: a finite number, +-oo, or None (no limit, or undecided)."""
    if expr is None or not expr.has(symbol):
        return expr
    if point is not sp.oo:
        value = sp.cancel(expr.xreplace({symbol: point}))
        return None if value.has(sp.nan, sp.zoo) else value
    if expr.is_rational_function(symbol):  # compare degrees: fast and exact
        numerator, denominator = (sp.Poly(part, symbol) for part in sp.fraction(sp.cancel(sp.together(expr))))
        if numerator.degree() > denominator.degree():
            return sp.oo * sp.sign(numerator.LC() / denominator.LC())
        if numerator.degree() < denominator.degree():
            return sp.Integer(0)
        return sp.cancel(numerator.LC() / denominator.LC())
    small = sp.Symbol("epsilon", positive=True)  # k = 1/epsilon: much faster than a limit at oo
    try:
        value = sp.limit(expr.xreplace({symbol: 1 / small}), small, 0, "+")
    except (NotImplementedError, ValueError, TypeError, sp.PoleError):  # SymPy cannot decide: no limit claimed
        return None
    if value in (sp.oo, -sp.oo) or (value.is_finite and value.is_extended_real):
        return value
    return None


def _far(step: sp.Expr, symbol: sp.Symbol, value: sp.Expr) -> float | None:
    """Where the recurrence is after 2*10^4 more steps (floats); None when it diverges (grows, or overflows)."""
    if step.has(K):
        return float(value)
    function = sp.lambdify(symbol, step, "math")
    current, checkpoints = float(value), []
    try:
        for _ in range(2):
            for _ in range(10**4):
                current = function(current)
            checkpoints.append(current)
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    first, second = checkpoints
    if not (math.isfinite(first) and math.isfinite(second)):  # float products overflow to inf without raising
        return None
    if abs(second - first) <= 1e-9 * (1 + abs(second)):
        return second
    return None if abs(second) > abs(first) else second


def _fixed_point(step: sp.Expr, symbol: sp.Symbol, near: float) -> sp.Expr | None:
    if step.has(K):
        return None
    candidates = [r for r in sp.solve(sp.Eq(step, symbol), symbol) if r.is_real]
    return min(candidates, key=lambda r: abs(float(r) - near), default=None)


def _limit_scales(space, limit_of) -> dict | None:
    """The evaluation scales of the layer with every coefficient at its limit k -> oo (None: some has none)."""
    at_zero = space.at({v: 0 for v in space.variables})
    limits: dict = {}

    def limit(expr: sp.Expr) -> sp.Expr:
        if expr not in limits:
            limits[expr] = limit_of(expr)
        value = limits[expr]
        if value is None or not value.is_finite:
            raise ValueError(expr)
        return value

    try:
        return linear_test.evaluation_scales(at_zero.map(limit))
    except ValueError:
        return None


def _at(frozen: linear_test.Frozen, values: dict) -> Numeric | None:
    """The facts of one layer; None where its coefficients are not finite."""
    try:
        return frozen.at(values)
    except linear_test.NotFinite:
        return None


def _layer_conditions(layers, limit, rho, steps, functions, depth) -> list[dict]:
    conditions = []
    failing = [(layer, n) for layer, n in layers if n is None or not n.guaranteed]
    if failing:
        where = _ranges([layer for layer, _ in failing])
        first = failing[0][1]
        if first is None:
            failure = "a coefficient has no finite value (division by zero)"
        else:
            failure = _first_failure(dataclasses.replace(first, roots=root_facts(first.rho)), functions, ())
        why = f"at layer{'s' if len(failing) > 1 else ''} {where} of {depth}: {failure}"
        conditions.append(_condition("frozen layers", False, why))
    else:
        finite = "" if len(layers) == depth else " with finite coefficients"
        conditions.append(
            _condition("frozen layers", True, f"each of the {len(layers)} layers{finite} passes on its own")
        )
    if limit is None:
        conditions.append(_condition("limit k -> oo", True, "the coefficients have no limit: only the layers count"))
        return conditions
    if limit.guaranteed:
        conditions.append(_condition("limit k -> oo", True, f"rho tends to {_factored(limit.rho)}"))
        return conditions
    all_consistent = all(n is not None and n.consistent for _, n in layers)
    if all_consistent and limit.rho_at_one == 0 and limit.slope_at_one == 0:
        slope = sp.factor(sp.cancel(sp.diff(rho.as_expr(), ZETA).subs(ZETA, 1)))
        why = (
            f"rho'(1) = {sp.sstr(slope)} tends to 0 as k -> oo, so zeta = 1 becomes a double root and the effective"
            " step grows without bound: the layers approximate a second-order ODE (x'' + a(t)*x' = -c*T(x), as"
            " Nesterov's momentum does), not x' = -c*T(x)"
        )
    else:
        why = f"as k -> oo: {_first_failure(limit, functions, steps)}"
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


def _first_failure(n: Numeric, functions, symbolic_steps) -> str:
    """Why `n` (the facts at some values, or in the limit) is not guaranteed, in one line."""
    if not n.consistent:
        return _consistency_why(n)
    if not n.roots.zero_stable:
        return _stability_why(n)
    if not n.steps_finite:
        return _infinite_why(n, functions, symbolic_steps)
    return "every c_F is 0: no gradient term reaches the limit, which is x' = 0"


def _infinite_why(n: Numeric, functions, symbolic_steps) -> str:
    """Which c_F are infinite; with `symbolic_steps`, in the limit k -> oo, how they grow."""
    infinite = [(f, c, s) for f, c, s in zip(functions, n.steps, symbolic_steps or n.steps) if not c.is_finite]
    if not symbolic_steps:
        return ", ".join(f"c_{f} is infinite" for f, _, _ in infinite) + " (division by zero)"
    growing = ", ".join(
        f"c_{f} = {sp.sstr(_tidy(s))} -> {sp.sstr(c) if c in (sp.oo, -sp.oo) else 'oo'}" for f, c, s in infinite
    )
    return f"{growing}: the effective step grows without bound, so the layers approximate no x' = -c*T(x)"


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
    if n.roots.zero_stable or not bad:
        return "every root has |zeta| <= 1 and the roots on the unit circle are simple"
    root = bad[0]
    if root.outside:
        modulus = sp.nsimplify(root.modulus) if root.modulus.is_rational else f"{float(root.modulus):.6g}"
        return f"the root zeta = {render_root(root)} has |zeta| = {modulus} > 1: errors grow like |zeta|^k"
    return (
        f"the root zeta = {render_root(root)} on the unit circle has multiplicity {root.multiplicity}: errors grow"
        " like k^" + str(root.multiplicity - 1)
    )


def _conditions(n: Numeric, x: str, functions, symbolic_steps, scales, where: _Where) -> list[dict]:
    prefix = where.prefix
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
        vanished = [f for f, c in zip(functions, n.steps) if c == 0]
        if not n.steps_finite:
            why = _infinite_why(n, functions, symbolic_steps if where.text == _LIMIT else ())
        elif not functions:
            why = "the algorithm has no gradient term: the limit is x' = 0, nothing is learned"
        elif len(vanished) == len(functions):
            why = "every c_F is 0: no gradient term reaches the limit, which is x' = 0"
        else:
            why = ", ".join(f"c_{f} = {_step_text(c)}" for f, c in zip(functions, n.steps))
            if vanished:
                why += f" ({', '.join('T_' + f for f in vanished)} vanish{'es' if len(vanished) == 1 else ''} from the limit)"
        conditions.append(_condition("gradient term in the limit", n.some_step, prefix + why))
    if scales is not None:
        odd = {f: s for f, s in scales.items() if s != [1]}
        seen = [f"T_{f} sees {', '.join(_scaled(v, x) for v in s)}, not {x}" for f, s in odd.items()]
        why = "; ".join(seen) if odd else f"every block sees the state {x} itself"
        conditions.append(_condition("evaluation points", not odd, prefix + why, False))
    return conditions


# Order, scales, regions --------------------------------------------------------------------------------------------


def _order(facts: dict, form: LearnableForm, space, pi, main: Numeric, where: _Where, limit_of) -> None:
    facts["order"], facts["error_constant"], facts["classical_lmm"] = None, None, False
    facts["order_of"] = where.text
    note = None
    if not main.consistent:
        note = "not consistent"
    elif not main.steps_finite:
        note = "some c_F is infinite"
    else:
        pi_values = _pi_at(pi, where, limit_of)
        if pi_values is None:
            note = "not computed: Pi(zeta, z) has no finite limit as k -> oo"
        else:
            classical = _classical(form)
            facts["classical_lmm"] = classical
            order, constant = linear_test.order_and_error_constant(pi_values, space.variables, main.steps, classical)
            facts["order"] = order
            facts["error_constant"] = sp.sstr(constant) if constant is not None else None
            if order is None:
                note = "every c_F is 0"
    facts["order_note"] = None if note is None else f"{note} {where.text}".strip()


def _pi_at(pi: sp.Poly, where: _Where, limit_of) -> sp.Poly | None:
    """Pi with the values of `where` (or its coefficientwise limit k -> oo); None when a limit is not finite."""
    if where.values is not None:
        return sp.Poly([sp.cancel(c.xreplace(where.values)) for c in pi.all_coeffs()], ZETA)
    coefficients = [limit_of(c) for c in pi.all_coeffs()]
    if any(c is None or c.has(sp.oo, -sp.oo, sp.zoo, sp.nan) for c in coefficients):
        return None
    return sp.Poly([sp.cancel(c) for c in coefficients], ZETA)


def _classical(form: LearnableForm) -> bool:
    """One state, one function, no auxiliary, every block at a lag of the state itself: a classical LMM."""
    model = form.model
    if len(model.states) != 1 or model.auxiliaries or len(model.functions) != 1:
        return False
    for step in form.steps:
        for node in sp.preorder_traversal(step.value):
            call = is_block(node) or is_prox(node)
            if call and (not isinstance(node.args[0], sp.Indexed) or (is_prox(node) and node != step.value)):
                return False
    return True


def _scale_texts(scales: dict | None) -> dict | None:
    return None if scales is None else {f: [sp.sstr(s) for s in v] for f, v in scales.items()}


def _regions(facts, params: _Params, rho, steps, values0, depth) -> None:
    for entry in facts["params"]:
        if not entry["learnable"]:
            continue
        symbol = params.symbols.get(entry["name"])
        if symbol is None:  # pragma: no cover - resolve makes only constants and schedules learnable
            continue
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
        entry["region"] = region.describe(intervals, symbol.name)
        initial = params.learnable[symbol]
        points = [initial.xreplace({K: layer}) for layer in range(depth)] if initial.has(K) else [initial]
        entry["initial_inside"] = all(region.contains(intervals, p) for p in points)
        if len(params.learnable) > 1:
            entry["region_note"] = "with the other learnable params at their initial values"


# Text --------------------------------------------------------------------------------------------------------------


def _text(expr: sp.Expr) -> str:
    """SymPy's text with `t[k+1]` rather than `t[k + 1]`."""
    return re.sub(r"\[k ([+-]) (\d+)\]", r"[k\1\2]", sp.sstr(expr))


def _scaled(scale: sp.Expr, x: str) -> str:
    text = sp.sstr(scale)
    return f"({text})*{x}" if isinstance(scale, sp.Add) else f"{text}*{x}"


def _step_text(c: sp.Expr) -> str | None:
    """A c_F as text; None when it is infinite."""
    if c.has(sp.zoo, sp.nan) or c in (sp.oo, -sp.oo):
        return None
    return sp.sstr(_tidy(c))


def _symbolic_limit_ode(output: str, functions, rho: sp.Poly, steps, space) -> str | None:
    """The limit ODE with the params kept symbolic; None when rho(1) != 0 or a c_F is infinite."""
    at_one = sp.cancel(rho.as_expr().subs(ZETA, 1))
    slope = sp.cancel(sp.diff(rho.as_expr(), ZETA).subs(ZETA, 1))
    if at_one != 0 or slope == 0 or any(_step_text(c) is None for c in steps):
        return None
    return _limit_ode(output, functions, steps, linear_test.evaluation_scales(space))


def _limit_ode(output: str, functions, steps, scales: dict | None) -> str | None:
    """x' = -sum c_F*T_F(s_F*x), with c_F divided by the scale s_F where a function's blocks see one scale."""
    if len(steps) != len(functions) or any(_step_text(c) is None for c in steps):
        return None
    terms = []
    for f, c in zip(functions, steps):
        if c == 0:
            continue
        point = output
        if scales and len(scales.get(f, [])) == 1 and scales[f][0] != 1:  # the linear test saw c*s
            point = _scaled(scales[f][0], output)
            c = sp.cancel(c / scales[f][0])
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
    """`1/(1 - beta)` rather than `-1/(beta - 1)`: denominator factors with positive constant terms, the sign in
    front. A fraction comes back as a symbol named by its text, to be printed as is."""
    if expr.is_number:
        return expr
    numerator, denominator = sp.fraction(sp.factor(expr))
    negative = False
    factors = []
    for factor in sp.Mul.make_args(denominator):
        base, exponent = factor.as_base_exp()
        if isinstance(base, sp.Add) and base.as_coeff_Add()[0] < 0 and exponent.is_integer:
            base, negative = sp.expand(-base), negative != bool(exponent % 2)
        factors.append(sp.Pow(base, exponent))
    if numerator.could_extract_minus_sign():
        numerator, negative = -numerator, not negative
    if all(f == 1 for f in factors):
        return -numerator if negative else numerator
    numerator_text = f"({sp.sstr(numerator)})" if isinstance(numerator, sp.Add) else sp.sstr(numerator)
    denominator = sp.Mul(*factors, evaluate=False) if len(factors) > 1 else factors[0]
    single = isinstance(denominator, (sp.Symbol, sp.Integer)) or (
        isinstance(denominator, sp.Pow) and denominator.exp.is_positive
    )
    denominator_text = sp.sstr(denominator) if single else f"({sp.sstr(denominator)})"
    fraction = sp.Symbol(f"{numerator_text}/{denominator_text}")
    return -fraction if negative else fraction


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
    if len(parts) == 1 and parts[0].startswith("(") and parts[0].endswith(")") and "**" not in parts[0]:
        return parts[0][1:-1]  # one factor: rho itself
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
