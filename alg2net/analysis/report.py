"""The text report of `alg2net check`, rendered from `CheckFacts`.

Assumes final texts in the facts (`alg2net.analysis.facts`): this module only lays them out. Guarantees the report
of check.md: the learnable form, rho and its roots with moduli, each condition with a check mark or a cross and
one line of why, the limit ODE (and the second-order limit where rho'(1) -> 0 like r/k), the order, for varying
coefficients the depth up to which every layer passes, and the verdict with its reasons; no SymPy internals.
"""

from __future__ import annotations

from alg2net.analysis.facts import CheckFacts

_MARK = {True: "\N{CHECK MARK}", False: "\N{BALLOT X}"}


def render(facts: CheckFacts, filename: str) -> str:
    """The terminal report: learnable form, rho and roots, each condition with why, limit ODE, order, verdict."""
    kind = "explicit" if facts.explicit else "implicit"
    lines = [f"{filename}: algorithm {facts.algorithm} ({kind})", ""]
    if facts.weights is not None:
        lines += [_trained_header(facts), ""]
    lines += _learnable_form(facts)
    lines += ["", f"linear test on the output {facts.output} (T_F(v) -> -z_F*v)"]
    lines += _linear_test(facts)
    lines += ["", "conditions"]
    for condition in facts.conditions:
        note = "" if condition.required else "  (informative)"
        lines.append(f"  {_MARK[condition.ok]} {condition.name}: {condition.why}{note}")
    lines += ["", "limit ODE"]
    lines += _limit_ode(facts)
    lines += ["", f"order: {_order(facts)}"]
    lines += _depth(facts)
    if facts.reversal is not None:
        lines += ["", "reversal (run backwards, memory.md)", *facts.reversal.lines()]
    lines.append("")
    lines.append(f"verdict: {facts.verdict}")
    lines += [f"  - {reason}" for reason in facts.reasons]
    return "\n".join(lines) + "\n"


def _learnable_form(facts: CheckFacts) -> list[str]:
    lines = ["learnable form (T_F is the block that replaces grad F)"]
    lines += [f"  {line}" for line in facts.learnable_form]
    for param in facts.params:
        kind = "learnable" if param.learnable else "fixed"
        definition = param.value if param.kind == "recurrence" else f"{param.name} = {param.value}"
        trained = f"; trained: {param.trained_summary}" if param.trained_summary is not None else ""
        lines.append(f"  param {definition}  ({param.kind}, {kind}{trained})")
    return lines


def _trained_header(facts: CheckFacts) -> str:
    """`check --weights`: whose values the facts below are taken at."""
    where = f"checked at the trained values in {facts.weights}"
    if facts.fixed_depth is None:
        return f"{where} (learnable constants only: the verdict covers every depth)"
    return (
        f"{where}: its learnable schedules fix the depth {facts.fixed_depth}, and each layer"
        f" 0-{facts.fixed_depth - 1} is judged frozen at its values"
    )


def _linear_test(facts: CheckFacts) -> list[str]:
    lines = [f"  rho(zeta) = {facts.rho}"]
    if facts.rho_factored != facts.rho:
        lines.append(f"            = {facts.rho_factored}")
    if facts.rho_names:
        names = ", ".join(f"{name} is {meaning}" for name, meaning in facts.rho_names)
        lines.append(f"            where {names}")
    if facts.rho_value != facts.rho:
        lines.append(f"  {facts.roots_of}: rho(zeta) = {facts.rho_value}")
    roots = ", ".join(
        f"{r.value} (|zeta| = {r.modulus_text or f'{r.modulus:.6g}'}{', x' + str(r.multiplicity) if r.multiplicity > 1 else ''})"
        for r in facts.roots
    )
    lines.append(f"  roots: {roots or 'none'}")
    return lines


def _limit_ode(facts: CheckFacts) -> list[str]:
    """The limit ODE (frozen at layer k where it varies), at the values shown, and the params' regions."""
    lines = []
    value = facts.limit_ode_value
    if facts.limit_ode is None and facts.consistent and facts.effective_steps_value is not None:
        lines.append(f"  none ({facts.output} is not the integrated state: see the evaluation points)")
    elif facts.limit_ode is None:
        lines.append("  none (not consistent: some c_F is infinite or rho(1) != 0)")
    else:
        frozen = "   (frozen at layer k)" if facts.varying and value != facts.limit_ode else ""
        lines.append(f"  {facts.limit_ode}{frozen}")
    if value and value != facts.limit_ode:
        lines.append(f"  {value}   ({facts.roots_of or 'at the initial values'})")
    if facts.second_order_limit is not None:
        lines.append(f"  second order, as rho'(1) -> 0: {facts.second_order_limit}")
    for param in facts.params:
        region = param.region
        if region is None:
            continue
        if region.text is None:
            lines.append(f"  region of {param.name}: {region.note if region.note is not None else 'not derived'}")
        else:
            inside = "inside" if region.initial_inside else "OUTSIDE"
            if region.of == "trained" and region.initial_inside is None:
                inside = "not judged"
            note = f"; {region.note}" if region.note else ""
            value = f"{region.of} value{'s' if param.kind == 'schedule' and region.of == 'trained' else ''}"
            lines.append(f"  region of {param.name}: {region.text} ({value} {inside}{note})")
    return lines + _joint_region(facts)


def _joint_region(facts: CheckFacts) -> list[str]:
    """`joint region of (a, b): |b| < 1 and |a| < 1 - b (every root of rho but 1 ...; initial values inside)`."""
    joint = facts.joint_region
    if joint is None:
        return []
    inside = "inside" if joint.initial_inside else "OUTSIDE"
    return [
        f"  joint region of ({', '.join(joint.params)}): {joint.text} ({joint.MEANING}; {joint.of} values {inside})"
    ]


def _depth(facts: CheckFacts) -> list[str]:
    """For coefficients that vary with k: up to which depth every layer is proven to pass."""
    if not facts.varying:
        return []
    depth = facts.max_depth_guaranteed
    if facts.fixed_depth is not None:
        passed = "every layer passes" if depth == facts.fixed_depth else _passed(depth)
        return [f"depth: {facts.fixed_depth}, fixed by the checkpoint; {passed} at its trained values"]
    if depth is None:
        return ["depth: every layer k >= 0 passes on its own, at every depth"]
    if depth == 0:
        return ["depth: layer 0 already fails"]
    return [f"depth: layers 0-{depth - 1} pass on their own (max_depth_guaranteed = {depth})"]


def _passed(depth: int) -> str:
    return "layer 0 already fails" if depth == 0 else f"layers 0-{depth - 1} pass, layer {depth} fails"


def _order(facts: CheckFacts) -> str:
    if facts.order is None:
        order = f"none ({facts.order_note})"
    else:
        order = f"{facts.order} on the linear test" + (f" ({facts.order_of})" if facts.order_of else "")
    if facts.error_constant is not None:
        order += f", error constant C_(p+1)/sigma(1) = {facts.error_constant}"
    return order
