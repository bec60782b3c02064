"""The facts `alg2net check` establishes, as frozen values; `CheckFacts.to_json()` is the JSON object of check.md.

Imports only the standard library. The other analysis modules fill these in, the text report and the command line
read them. Every text here is final: params and recurrences are written as the algorithm writes them (`beta`,
`t[k]`), except in the rho strings (`rho`, `rho_factored`, `rho_value`), which stay SymPy syntax in `zeta` with the
names that `rho_names` explains. Mappings are tuples of (key, value) pairs, in the order the JSON lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alg2net.analysis.reversal import ReversalFacts

# Ordered mappings that stay frozen: (key, value) pairs.
Meanings = tuple[tuple[str, str], ...]  # a name -> what it stands for
StepTexts = tuple[tuple[str, str | None], ...]  # a function F -> c_F as text, None where infinite
ScaleTexts = tuple[tuple[str, tuple[str, ...]], ...]  # a function F -> the scales its blocks see the state with
Span = tuple[float, float, bool, bool]  # an interval of a region as floats: low, high (+-inf), low and high closed


@dataclass(frozen=True, slots=True)
class RootFact:
    """One root of rho, as shown: its value as text, its modulus, its multiplicity."""

    value: str
    modulus: float
    multiplicity: int
    point: complex | None = None  # where it lies in the plane, for the plot; not in the JSON
    modulus_text: str = ""  # |zeta| as the text report writes it (never `1` off the circle); not in the JSON

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "abs": self.modulus, "multiplicity": self.multiplicity}


@dataclass(frozen=True, slots=True)
class Region:
    """The values of a learnable param where the conditions hold (with the other params at their values)."""

    text: str | None  # `-1 <= beta < 1`; None where it is not derived (then `note` says why)
    initial_inside: bool | None  # the initial value (at every layer, for a schedule) lies in it; None: not derived
    note: str | None = None
    of: str = "initial"  # whose values `initial_inside` is about: "initial", or "trained" (`check --weights`)
    spans: tuple[Span, ...] = ()  # the region as floats, for the plot; not in the JSON
    outside_layers: tuple[int, ...] = ()  # trained per-layer values: the layers whose value lies outside


@dataclass(frozen=True, slots=True)
class JointRegion:
    """The values of several learnable params (jointly) where every root of rho but zeta = 1 lies strictly inside
    the unit circle: the Schur-Cohn conditions on q(zeta) = rho(zeta)/(zeta - 1), the interior of their zero-stable
    region, where the scheme is consistent with every c_F finite and some nonzero."""

    params: tuple[str, ...]
    text: str  # `|b| < 1 and |a| < 1 - b`
    initial_inside: bool  # the params' values (initial, or trained: `of`) lie in it, decided exactly
    of: str = "initial"  # whose values `initial_inside` is about: "initial", or "trained" (`check --weights`)

    MEANING = "every root of rho but zeta = 1 strictly inside the unit circle"

    def to_json(self) -> dict[str, Any]:
        return {
            "params": list(self.params),
            "region": self.text,
            "meaning": self.MEANING,
            f"{self.of}_inside": self.initial_inside,
        }


@dataclass(frozen=True, slots=True)
class ParamFacts:
    """A param as the report lists it: its kind, whether it is learned, its value, and for a learnable one its
    region."""

    name: str
    kind: str  # "constant", "schedule" or "recurrence"
    learnable: bool
    value: str  # the value as text; for a recurrence both lines, `t[0] = 1, t[k+1] = 2*t[k]`
    region: Region | None = None  # None for fixed params
    initial: tuple[float, ...] = ()  # a learnable param's initial value (at each listed layer), for the plot
    trained: tuple[float, ...] | None = None  # `check --weights`: the trained value (one per layer for a schedule)
    trained_texts: tuple[str, ...] = ()  # each trained value as the shortest decimal that reads back as it

    @property
    def trained_summary(self) -> str | None:
        """`1.2`; for a schedule `0.05 at every layer` or `100 values from -0.07 to 1.24`; None: not trained."""
        texts = self.trained_texts
        if not texts:
            return None
        if len(texts) == 1 and self.kind != "schedule":
            return texts[0]
        if len(set(texts)) == 1:
            return f"{texts[0]} at every layer"
        floats = [float(t) for t in texts]
        low, high = texts[floats.index(min(floats))], texts[floats.index(max(floats))]
        return f"{len(texts)} values from {low} to {high}"

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "kind": self.kind, "learnable": self.learnable, "value": self.value}
        if self.trained is not None:
            entry["trained"] = list(self.trained) if self.kind == "schedule" else self.trained[0]
        if self.region is not None:
            entry["region"], entry[f"{self.region.of}_inside"] = self.region.text, self.region.initial_inside
            if self.region.note is not None:
                entry["region_note"] = self.region.note
        return entry


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition of the verdict, with ✓/✗ and one line of why. `code` is stable (see
    `alg2net.analysis.conditions.CODES`); `name` and `why` are for people. A condition that is not `required` is
    informative: it never fails the verdict."""

    code: str
    name: str
    ok: bool
    why: str
    required: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "why": self.why, "required": self.required}


@dataclass(frozen=True, slots=True)
class LayerFacts:
    """The frozen conditions of layer k of a network whose coefficients vary with k."""

    k: int | None  # None: every layer (constant coefficients)
    finite: bool  # every coefficient has a finite value at this layer; if not, the rest is False
    consistent: bool
    zero_stable: bool
    strongly_stable: bool
    guaranteed: bool  # consistent, zero-stable, every c_F finite and some c_F nonzero
    values: tuple[tuple[str, float], ...] = ()  # `check --weights`: each learnable param's trained value here
    roots: tuple[RootFact, ...] = ()  # `check --weights`: the roots of rho at this layer
    why: str | None = None  # `check --weights`: why the layer fails (None where it passes)

    def to_json(self) -> dict[str, Any]:
        """The layer's entry of `check --weights --json`'s `layers`."""
        return {
            "k": self.k,
            "values": dict(self.values),
            "finite": self.finite,
            "consistent": self.consistent,
            "zero_stable": self.zero_stable,
            "strongly_stable": self.strongly_stable,
            "guaranteed": self.guaranteed,
            "roots": [root.to_json() for root in self.roots],
            "why": self.why,
        }


@dataclass(frozen=True, slots=True)
class CheckFacts:
    """Everything `alg2net check` says about an algorithm; the fields are the keys of check.md's JSON."""

    algorithm: str
    explicit: bool
    output: str
    functions: tuple[str, ...]
    learnable_form: tuple[str, ...]
    rho: str  # rho(zeta) with the params kept symbolic, SymPy syntax
    rho_factored: str
    rho_names: Meanings  # a name in the rho strings that is no DSL name
    effective_steps: StepTexts  # with the params kept symbolic
    limit_ode: str | None  # None: not consistent
    varying: bool  # some coefficient varies with k
    rho_value: str  # rho at the values the facts below are taken at (`roots_of`)
    roots: tuple[RootFact, ...]
    roots_of: str  # "", "at the initial values", "in the limit k -> oo" or "at the last layer, k = 99"
    evaluation_scales: ScaleTexts | None  # None where the slow mode is not unique
    consistent: bool
    zero_stable: bool
    strongly_stable: bool
    effective_steps_value: StepTexts | None  # the c_F at `roots_of`; None (and no key) where some c_F is infinite there
    limit_ode_value: str | None  # present exactly when `effective_steps_value` is
    order: int | None
    error_constant: str | None
    classical_lmm: bool
    order_of: str
    order_note: str | None
    params: tuple[ParamFacts, ...]
    conditions: tuple[Condition, ...]
    reasons: tuple[str, ...]  # the why of each required condition that fails; empty when guaranteed
    verdict: str  # "guaranteed" or "not_guaranteed"
    max_depth_guaranteed: int | None = None  # the largest depth whose layers all pass (proven); None: every depth
    second_order_limit: str | None = None  # rho'(1) -> 0 like r/k: the second-order ODE the layers approximate
    layers: tuple[LayerFacts, ...] = ()  # layers 0 .. depth - 1 when `varying`; in the JSON with `weights` only
    reversal: ReversalFacts | None = None  # memory.md: can the network run backwards, and at what round-off
    weights: str | None = None  # `check --weights`: the checkpoint whose trained values the facts are taken at
    fixed_depth: int | None = None  # `check --weights`: the depth its trained per-layer values fix (None: every depth)
    joint_region: JointRegion | None = None  # several learnable params in rho jointly (in the JSON only when present)

    def to_json(self) -> dict[str, Any]:
        """check.md's JSON object, its keys in a fixed order."""
        facts: dict[str, Any] = {
            "algorithm": self.algorithm,
            "explicit": self.explicit,
            "output": self.output,
            "functions": list(self.functions),
            "learnable_form": list(self.learnable_form),
            "rho": self.rho,
            "rho_factored": self.rho_factored,
            "rho_names": dict(self.rho_names),
            "effective_steps": dict(self.effective_steps),
            "limit_ode": self.limit_ode,
            "varying": self.varying,
            "rho_value": self.rho_value,
            "roots": [root.to_json() for root in self.roots],
            "roots_of": self.roots_of,
            "evaluation_scales": _scales_json(self.evaluation_scales),
            "consistent": self.consistent,
            "zero_stable": self.zero_stable,
            "strongly_stable": self.strongly_stable,
        }
        if self.effective_steps_value is not None:
            facts["effective_steps_value"] = dict(self.effective_steps_value)
            facts["limit_ode_value"] = self.limit_ode_value
        facts.update(
            order=self.order,
            error_constant=self.error_constant,
            classical_lmm=self.classical_lmm,
            order_of=self.order_of,
            order_note=self.order_note,
            params=[param.to_json() for param in self.params],
        )
        if self.joint_region is not None:
            facts["joint_region"] = self.joint_region.to_json()
        facts.update(
            conditions=[condition.to_json() for condition in self.conditions],
            reasons=list(self.reasons),
            verdict=self.verdict,
            max_depth_guaranteed=self.max_depth_guaranteed,
            second_order_limit=self.second_order_limit,
        )
        if self.reversal is not None:
            facts["reversal"] = self.reversal.to_json()
        if self.weights is not None:
            facts["weights"] = self.weights
            facts["fixed_depth"] = self.fixed_depth
            facts["layers"] = [layer.to_json() for layer in self.layers]
        return facts


def _scales_json(scales: ScaleTexts | None) -> dict[str, list[str]] | None:
    return None if scales is None else {function: list(texts) for function, texts in scales}
