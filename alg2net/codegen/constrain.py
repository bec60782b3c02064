"""Code generation of `--constrain` (guarantee.md): raw parameters, the maps that hold params in their regions.

Assumes the `alg2net.constraints` objects the pipeline derived (plain data: code generation never asks the
analysis), and the names `describe` gave each param. Guarantees the constructor's statements that store each raw
parameter (initialised by the inverse map of the constructor's value), the properties that read the mapped values,
the method of each joint map, the statements that map every value once (`mapped`), the module-level helpers the
constructor calls, and the module docstring's section. Each map prints exactly the formula, in the same order,
that `alg2net.constraints` computes in float64.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from alg2net.codegen.names import Namespace, docstring_text
from alg2net.constraints import MARGIN, Bounded, Constraint, Reflection


@dataclass(frozen=True, slots=True)
class Property:
    """`@property def name(self) -> torch.Tensor: return value`: a held param's mapped value."""

    name: str
    doc: str
    value: str


@dataclass(frozen=True, slots=True)
class JointMethod:
    """`def name(self) -> annotation`: the params of a joint map from their raw parameters."""

    name: str
    annotation: str
    doc: str
    body: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HeldSpec:
    """What `--constrain` adds to the generated module; empty without it."""

    names: frozenset[str] = frozenset()  # the DSL names of the held params
    init: tuple[str, ...] = ()  # constructor statements, after every param's value is known
    properties: tuple[Property, ...] = ()
    methods: tuple[JointMethod, ...] = ()
    mapped: tuple[str, ...] = ()  # `beta = self.beta`: each held param's mapped value as a local
    locals: tuple[str, ...] = ()  # the locals `mapped` assigns, in its order
    mapped_inverse: tuple[str, ...] = ()  # those of `mapped` that the inverse step reads
    helpers: tuple[str, ...] = ()  # the module-level functions the constructor calls (templates/constrain.py.jinja)
    doc: str = ""  # the module docstring's section


HELPERS = ("interval_raw", "above_raw", "below_raw", "reflection_raws")  # in the order the template defines them


def held_names(constraints: tuple[Constraint, ...]) -> frozenset[str]:
    return frozenset(name for c in constraints for name in _names(c))


def describe_held(
    constraints: tuple[Constraint, ...],
    arguments: dict[str, str],
    attributes: dict[str, str],
    locals_: dict[str, str],
    scope: Namespace,
    inverse_reads: frozenset[str] = frozenset(),
) -> HeldSpec:
    """The held params' code: `arguments` and `attributes` are each param's constructor keyword and attribute,
    `locals_` the forward pass's local of each held param, `scope` the class's attribute names (raw parameters and
    joint methods are claimed there), `inverse_reads` the params the inverse step reads."""
    if not constraints:
        return HeldSpec()
    writer = _Writer(arguments, attributes, locals_, scope)
    for constraint in constraints:
        if isinstance(constraint, Bounded):
            writer.bounded(constraint)
        else:
            writer.reflection(constraint)
    inverse = tuple(
        line for line, c in zip(writer.mapped, constraints) if any(name in inverse_reads for name in _names(c))
    )
    lines = [*textwrap.wrap(f"Constrained (compiled with --constrain): {_MARGIN_TEXT}", 116), "", *writer.doc]
    return HeldSpec(
        names=held_names(constraints),
        init=tuple(writer.init),
        properties=tuple(writer.properties),
        methods=tuple(writer.methods),
        mapped=tuple(writer.mapped),
        locals=tuple(locals_[name] for c in constraints for name in _names(c)),
        mapped_inverse=inverse,
        helpers=tuple(h for h in HELPERS if h in writer.helpers),
        doc=docstring_text("\n".join(lines) + "\n"),
    )


_MARGIN_TEXT = (
    "each learnable param that `alg2net check` derives a region for is stored as a raw parameter `<name>_raw` "
    "(any real number) and read through a smooth map into its region, which keeps it at least "
    f"{MARGIN!r} * max(1, |ends|) inside the region's ends (reflection coefficients kappa: |kappa| <= 1 - margin, "
    "margin**n = n * 2**n * 1e-6 for n of them, about 16 times the rounding of their map in float32), "
    "so that every finite raw value, in float32 and float64, gives a network that check guarantees. The "
    "constructor's values are mapped back to the raw parameters, so an untrained network computes what it computes "
    "without --constrain."
)


def _names(constraint: Constraint) -> tuple[str, ...]:
    return (constraint.name,) if isinstance(constraint, Bounded) else constraint.names


class _Writer:
    """The pieces of `HeldSpec`, one constraint at a time."""

    def __init__(self, arguments: dict, attributes: dict, locals_: dict, scope: Namespace):
        self.arguments, self.attributes, self.locals, self.scope = arguments, attributes, locals_, scope
        self.init: list[str] = []
        self.properties: list[Property] = []
        self.methods: list[JointMethod] = []
        self.mapped: list[str] = []
        self.helpers: set[str] = set()
        self.doc: list[str] = []

    def bounded(self, held: Bounded) -> None:
        name, argument, attribute = held.name, self.arguments[held.name], self.attributes[held.name]
        raw = self.scope.claim(f"{attribute}_raw")
        if held.width is not None:
            helper, ends = "interval_raw", (held.lower, held.upper)
            value = f"{held.lower!r} + {held.width!r} * torch.sigmoid(self.{raw})"
        elif held.lower is not None:
            helper, ends = "above_raw", (held.lower,)
            value = f"{held.lower!r} + nn.functional.softplus(self.{raw})"
        else:
            helper, ends = "below_raw", (held.upper,)
            value = f"{held.upper!r} - nn.functional.softplus(self.{raw})"
        self.helpers.add(helper)
        bounds = ", ".join(repr(e) for e in ends)
        if held.per_layer:
            initial = f'[{helper}("{argument}", value, {bounds}) for value in {argument}]'
        else:
            initial = f'{helper}("{argument}", float({argument}), {bounds})'
        self.init.append(f"self.{raw} = nn.Parameter(torch.tensor({initial}, **factory_kwargs))")
        region = _region_text(held)
        layers = " (one value per layer)" if held.per_layer else ""
        doc = f"`{name}`{layers}, held in {held.describe()} (its region's interval {region}) through `{raw}`."
        self.properties.append(Property(attribute, docstring_text(_wrap_doc(doc)), value))
        self.mapped.append(f"{self.locals[name]} = self.{attribute}")
        self.doc += _wrapped(
            f"{name}{layers}, in its region's interval {region}: {name} = {value.replace('self.', '')}."
        )

    def reflection(self, joint: Reflection) -> None:
        names = joint.names
        raws = [self.scope.claim(f"{self.attributes[name]}_raw") for name in names]
        method = self.scope.claim("_" + "_".join(self.attributes[name] for name in names))
        n = len(names)
        body = [f"kappa{i + 1} = {joint.scale!r} * torch.tanh(self.{raw})" for i, raw in enumerate(raws)]
        for m in range(1, n + 1):
            targets = [f"c{j}" for j in range(1, m + 1)]
            values = [f"c{j} + kappa{m} * c{m - j}" for j in range(1, m)] + [f"kappa{m}"]
            body.append(f"{', '.join(targets)} = {', '.join(values)}")
        results = [
            _affine(row, shift, [f"c{j}" for j in range(1, n + 1)]) for row, shift in zip(joint.inverse, joint.shift)
        ]
        body.append(f"return {', '.join(results)}" + ("," if n == 1 else ""))
        q = " + ".join(
            [
                "zeta**" + str(n),
                *(
                    f"c{j}*zeta**{n - j}" if n - j > 1 else (f"c{j}*zeta" if n - j else f"c{j}")
                    for j in range(1, n + 1)
                ),
            ]
        )
        thetas = ", ".join(f"theta_{i + 1} = {raw}" for i, raw in enumerate(raws))
        doc = (
            f"{', '.join(names)} from the reflection coefficients kappa_i = {joint.scale!r} * tanh(theta_i) ({thetas}) "
            f"of q(zeta) = rho(zeta)/(zeta - 1) = {q}, by the step-up recursion: every root of q strictly inside the "
            "unit disk."
        )
        annotation = f"tuple[{', '.join(['torch.Tensor'] * n)}]"
        self.methods.append(JointMethod(method, annotation, docstring_text(_wrap_doc(doc)), tuple(body)))
        for i, name in enumerate(names):
            doc = f"`{name}`, held with {', '.join(n_ for n_ in names if n_ != name)} by `{method}`."
            self.properties.append(
                Property(self.attributes[name], docstring_text(_wrap_doc(doc)), f"self.{method}()[{i}]")
            )
        self.mapped.append(f"{', '.join(self.locals[name] for name in names)}{',' if n == 1 else ''} = self.{method}()")
        self.init.append(self._reflection_init(joint, raws))
        self.helpers.add("reflection_raws")
        self.doc += _wrapped(
            f"{', '.join(names)}: every root of q(zeta) = rho(zeta)/(zeta - 1) = {q} strictly inside the unit disk. "
            f"{thetas} give kappa_i = {joint.scale!r} * tanh(theta_i), the step-up recursion the monic coefficients "
            f"c_j, and {', '.join(f'{name} = {r}' for name, r in zip(names, results))} (see {method})."
        )

    def _reflection_init(self, joint: Reflection, raws: list[str]) -> str:
        """`self.a_raw, self.b_raw = (...)`: the step-down recursion from the constructor's values (per layer)."""
        arguments = [self.arguments[name] + ("[k]" if joint.per_layer else "") for name in joint.names]
        if not joint.per_layer:
            arguments = [f"float({a})" for a in arguments]
        coefficients = [_affine(row, offset, arguments) for row, offset in zip(joint.forward, joint.offset)]
        call = f'reflection_raws("{", ".join(joint.names)}", [{", ".join(coefficients)}], {joint.scale!r})'
        source = f"zip(*({call} for k in range(depth)))" if joint.per_layer else call
        targets = ", ".join(f"self.{raw}" for raw in raws) + ("," if len(raws) == 1 else "")
        return f"{targets} = (nn.Parameter(torch.tensor(raw, **factory_kwargs)) for raw in {source})"


def _affine(row: tuple[float, ...], constant: float, names: list[str]) -> str:
    """`sum(row[j] * names[j]) + constant`, left to right as `alg2net.constraints` sums it, without zero terms."""
    terms = []
    for m, name in zip(row, names):
        if m == 0:
            continue
        terms.append(name if m == 1 else f"-{name}" if m == -1 else f"{m!r} * {name}")
    if constant != 0 or not terms:
        terms.append(repr(constant))
    text = " + ".join(terms)
    return text.replace("+ -", "- ")


def _region_text(held: Bounded) -> str:
    """The interval of the region the param is held in: `between -1.0 and 1.0`, `above 0.333...`, `below -1.0`."""
    if held.low is not None and held.high is not None:
        return f"between {held.low!r} and {held.high!r}"
    return f"above {held.low!r}" if held.low is not None else f"below {held.high!r}"


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, 112, initial_indent="    ", subsequent_indent="        ", break_on_hyphens=False)


def _wrap_doc(text: str) -> str:
    """A method docstring's text, wrapped for the class body (8 spaces of indent and both triple quotes within 120 columns)."""
    return "\n        ".join(textwrap.wrap(text, 105, break_on_hyphens=False))
