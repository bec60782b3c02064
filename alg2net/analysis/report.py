"""Human text for `alg2net check` and `alg2net show`, made from the facts of `alg2net.analysis.check`."""

from __future__ import annotations

import re

import sympy as sp

from alg2net.derive import LearnableForm

_MARK = {True: "\N{CHECK MARK}", False: "\N{BALLOT X}"}


def render(facts: dict, filename: str) -> str:
    """The terminal report: learnable form, rho and roots, each condition with why, limit ODE, order, verdict."""
    lines = [f"{filename}: algorithm {facts['algorithm']} ({'explicit' if facts['explicit'] else 'implicit'})", ""]
    lines.append("learnable form (T_F is the block that replaces grad F)")
    lines += [f"  {line}" for line in facts["learnable_form"]]
    for entry in facts["params"]:
        kind = "learnable" if entry["learnable"] else "fixed"
        lines.append(f"  param {entry['name']} = {entry['value']}  ({entry['kind']}, {kind})")
    lines += ["", f"linear test on the output {facts['output']} (T_F(v) -> -z_F*v)"]
    lines.append(f"  rho(zeta) = {facts['rho']}")
    if facts["rho_factored"] != facts["rho"]:
        lines.append(f"            = {facts['rho_factored']}")
    if facts["rho_value"] != facts["rho"]:
        where = facts["roots_of"] or "the initial values"
        lines.append(f"  at {where}: rho(zeta) = {facts['rho_value']}")
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
    lines.append(f"  {facts['limit_ode']}" + ("   (frozen at layer k)" if facts["varying"] else ""))
    if facts.get("limit_ode_value") and facts["limit_ode_value"] != facts["limit_ode"] and not facts["varying"]:
        lines.append(f"  {facts['limit_ode_value']}   (at the initial values)")
    for entry in facts["params"]:
        if "region" in entry:
            if entry["region"] is None:
                lines.append(f"  region of {entry['name']}: {entry.get('region_note', 'not derived')}")
            else:
                inside = "inside" if entry["initial_inside"] else "OUTSIDE"
                note = f"; {entry['region_note']}" if entry.get("region_note") else ""
                lines.append(f"  region of {entry['name']}: {entry['region']} (initial value {inside}{note})")
    order = "none (not consistent)" if facts["order"] is None else f"{facts['order']} on the linear test"
    if facts["error_constant"] is not None:
        order += f", error constant C_(p+1)/sigma(1) = {facts['error_constant']}"
    lines += ["", f"order: {order}", ""]
    lines.append(f"verdict: {facts['verdict']}")
    lines += [f"  - {reason}" for reason in facts["reasons"]]
    return "\n".join(lines) + "\n"


def show(form: LearnableForm, latex: bool = False) -> str:
    """The learnable form of an algorithm, as text or as a LaTeX `aligned` block."""
    if not latex:
        lines = [f"algorithm {form.model.name}"]
        for param in form.params:
            lines.append(f"param {param.definition.name} = {_param_text(param)}")
        for step in form.steps:
            lines.append(f"{_text(step.lhs)} = {_text(step.value)}" + ("   (implicit)" if step.implicit else ""))
        return "\n".join(lines) + "\n"
    rows = [rf"{sp.latex(step.lhs)} &= {sp.latex(step.value)}" for step in form.steps]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}\n"


def _param_text(param) -> str:
    text = sp.sstr(param.value)
    if param.start is not None:
        text = f"{sp.sstr(param.start)} at k = 0, then {text} (recurrence)"
    return text + (" learnable" if param.definition.learnable else "")


def _text(expr: sp.Expr) -> str:
    return re.sub(r"\[k ([+-]) (\d+)\]", r"[k\1\2]", sp.sstr(expr))
