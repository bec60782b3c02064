"""Human text for `alg2net check`, made from the facts of `alg2net.analysis.check`."""

from __future__ import annotations

_MARK = {True: "\N{CHECK MARK}", False: "\N{BALLOT X}"}


def render(facts: dict, filename: str) -> str:
    """The terminal report: learnable form, rho and roots, each condition with why, limit ODE, order, verdict."""
    lines = [f"{filename}: algorithm {facts['algorithm']} ({'explicit' if facts['explicit'] else 'implicit'})", ""]
    lines.append("learnable form (T_F is the block that replaces grad F)")
    lines += [f"  {line}" for line in facts["learnable_form"]]
    for entry in facts["params"]:
        kind = "learnable" if entry["learnable"] else "fixed"
        definition = entry["value"] if entry["kind"] == "recurrence" else f"{entry['name']} = {entry['value']}"
        lines.append(f"  param {definition}  ({entry['kind']}, {kind})")
    lines += ["", f"linear test on the output {facts['output']} (T_F(v) -> -z_F*v)"]
    lines.append(f"  rho(zeta) = {facts['rho']}")
    if facts["rho_factored"] != facts["rho"]:
        lines.append(f"            = {facts['rho_factored']}")
    if facts["rho_names"]:
        names = ", ".join(f"{name} is {meaning}" for name, meaning in facts["rho_names"].items())
        lines.append(f"            where {names}")
    if facts["rho_value"] != facts["rho"]:
        lines.append(f"  {facts['roots_of']}: rho(zeta) = {facts['rho_value']}")
    roots = ", ".join(
        f"{r['value']} (|zeta| = {r['abs']:.6g}{', x' + str(r['multiplicity']) if r['multiplicity'] > 1 else ''})"
        for r in facts["roots"]
    )
    lines.append(f"  roots: {roots or 'none'}")
    lines += ["", "conditions"]
    for condition in facts["conditions"]:
        note = "" if condition["required"] else "  (informative)"
        lines.append(f"  {_MARK[condition['ok']]} {condition['name']}: {condition['why']}{note}")
    lines += ["", "limit ODE"]
    value = facts.get("limit_ode_value")
    if facts["limit_ode"] is None:
        lines.append("  none (not consistent: some c_F is infinite or rho(1) != 0)")
    else:
        frozen = "   (frozen at layer k)" if facts["varying"] and value != facts["limit_ode"] else ""
        lines.append(f"  {facts['limit_ode']}{frozen}")
    if value and value != facts["limit_ode"]:
        lines.append(f"  {value}   ({facts['roots_of'] or 'at the initial values'})")
    for entry in facts["params"]:
        if "region" in entry:
            if entry["region"] is None:
                lines.append(f"  region of {entry['name']}: {entry.get('region_note', 'not derived')}")
            else:
                inside = "inside" if entry["initial_inside"] else "OUTSIDE"
                note = f"; {entry['region_note']}" if entry.get("region_note") else ""
                lines.append(f"  region of {entry['name']}: {entry['region']} (initial value {inside}{note})")
    if facts["order"] is None:
        order = f"none ({facts['order_note']})"
    else:
        order = f"{facts['order']} on the linear test" + (f" ({facts['order_of']})" if facts["order_of"] else "")
    if facts["error_constant"] is not None:
        order += f", error constant C_(p+1)/sigma(1) = {facts['error_constant']}"
    lines += ["", f"order: {order}", ""]
    lines.append(f"verdict: {facts['verdict']}")
    lines += [f"  - {reason}" for reason in facts["reasons"]]
    return "\n".join(lines) + "\n"
