"""Human text for `alg2net check` and `alg2net show`, made from the facts of `alg2net.analysis.check`.

The learnable form is printed in the language's notation by the printer of the generated module's docstring
(`alg2net.codegen.printer.DslPrinter`, which needs SymPy only): `x[k+1] = x[k] - h*T_f(x[k]) + beta*(x[k] - x[k-1])`.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef

from alg2net.codegen.printer import DslPrinter
from alg2net.derive import LearnableForm, block, vector
from alg2net.resolve import ParamKind

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


def learnable_lines(form: LearnableForm, expand_prox: bool = False) -> list[str]:
    """The updates of the learnable form, one a line, in the language's notation. With `expand_prox` a step
    `z = prox_F(v, t)` reads `z = v - t*T_F(z)`, the equation prox solves (check.md 1); a prox inside a larger
    expression stays, and a last line says what it is."""
    printer = DslPrinter()
    lines, kept = [], set()
    for step in form.steps:
        value = step.value
        if expand_prox and _is_prox(value):
            point, size = value.args
            value = point - size * block(value.func.__name__[len("prox_") :])(step.lhs)
        kept |= {node.func.__name__[len("prox_") :] for node in sp.preorder_traversal(value) if _is_prox(node)}
        lines.append(f"{printer.doprint(step.lhs)} = {printer.doprint(value, vector(step.target))}")
    if expand_prox and kept:
        lines += [f"where prox_{f}(v, t) is the z with z = v - t*T_{f}(z)" for f in sorted(kept)]
    return lines


def _is_prox(expr: sp.Basic) -> bool:
    return isinstance(expr, AppliedUndef) and expr.func.__name__.startswith("prox_")


def show(form: LearnableForm, latex: bool = False) -> str:
    """The learnable form of an algorithm, as text or as a LaTeX `aligned` block."""
    if not latex:
        lines = [f"algorithm {form.model.name}"]
        for param in form.params:
            lines += _param_lines(param)
        for step, line in zip(form.steps, learnable_lines(form)):
            lines.append(line + ("   (implicit)" if step.implicit else ""))
        return "\n".join(lines) + "\n"
    rows = [rf"{sp.latex(step.lhs)} &= {sp.latex(step.value)}" for step in form.steps]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}\n"


def _param_lines(param) -> list[str]:
    """The param as the language declares it: `param mu = 0.9 learnable`, `param t[0] = 1` and `param t[k+1] = ...`."""
    printer, name = DslPrinter(), param.definition.name
    learnable = " learnable" if param.definition.learnable else ""
    if param.start is not None:
        return [
            f"param {name}[0] = {printer.doprint(param.start)}",
            f"param {name}[k+1] = {printer.doprint(param.value)}",
        ]
    index = "[k]" if param.definition.kind is ParamKind.SCHEDULE else ""
    return [f"param {name}{index} = {printer.doprint(param.value)}{learnable}"]
