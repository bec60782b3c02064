"""The maps of `alg2net compile --constrain` (guarantee.md), as plain data and float64 Python arithmetic.

A leaf module (standard library only): the analysis derives these objects, code generation prints them as torch,
and `check --weights` applies them to a checkpoint's raw parameters. `effective` computes, in Python floats, the
same formula in the same order as the generated module; `raw` is its inverse, as the generated constructor computes
it.

- `Bounded`: one param held strictly inside one interval of its region by a raw parameter theta:
  `lower + (upper - lower) * sigmoid(theta)` (both ends), `lower + softplus(theta)` (a lower end only),
  `upper - softplus(theta)` (an upper end only). `lower` and `upper` are the region's ends moved inwards by the
  margin `MARGIN * max(1, |low|, |high|)` (the finite ends): then every finite theta gives a value strictly inside
  the region in float32 and float64 alike (float32's sigmoid is exactly 1 from theta ~ 17, its softplus exactly 0
  below theta ~ -104; the margin is ~80 float32 ulps of the largest end).
- `Reflection`: n params that enter the reduced polynomial q(zeta) = rho(zeta)/(zeta - 1) jointly, its monic
  coefficients c = (c_1, ..., c_n) (q = zeta**n + c_1*zeta**(n-1) + ... + c_n) an invertible affine function of the
  params. Raw theta_i gives the reflection coefficient kappa_i = (1 - margin) * tanh(theta_i); the Schur-Cohn
  (Levinson) step-up recursion turns kappa in (-1, 1)**n into c, with every root of q strictly inside the unit disk
  (and every such q arises); the params are then `inverse @ c + shift`. theta_i is stored under
  `names[i] + "_raw"`: the i-th raw belongs to kappa_(i+1), not to the param names[i]. On the unit circle
  |q| >= prod(1 - |kappa_i|) >= margin**n, while float32's rounding moves the computed coefficients by at most about
  n * 2**n * 6e-8 in sum: `reflection_margin(n)` makes margin**n = n * 2**n * 1e-6, about 16 times that (rounded up:
  0.0029 for n = 2, 0.029 for n = 3), so the roots stay strictly inside in float32 too.

Per-layer schedules (`per_layer`) have one raw value per layer, each mapped the same way: apply `effective` to each
layer's raw value(s).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MARGIN = 1e-5  # relative: how far inside its region a constrained param always stays (see the module docstring)


def reflection_margin(n: int) -> float:
    """The margin of n reflection coefficients: margin**n = n * 2**n * 1e-6 (see the module docstring), rounded up
    to two significant digits."""
    exact = (n * 2**n * 1e-6) ** (1 / n)
    unit = 10.0 ** (math.floor(math.log10(exact)) - 1)
    return max(MARGIN, round(math.ceil(exact / unit) * unit, 12))


def raw_key(name: str) -> str:
    """The state-dict key of a constrained param's raw parameter."""
    return f"{name}_raw"


def sigmoid(x: float) -> float:
    """1 / (1 + exp(-x)), without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


SOFTPLUS_THRESHOLD = 20.0  # torch's softplus returns x itself above this


def softplus(x: float) -> float:
    """log(1 + exp(x)) as torch computes it: x itself above the threshold."""
    return x if x > SOFTPLUS_THRESHOLD else math.log1p(math.exp(x))


def softplus_inverse(y: float) -> float:
    """The x > -oo with softplus(x) = y > 0."""
    return y if y > SOFTPLUS_THRESHOLD else math.log(math.expm1(y))


@dataclass(frozen=True, slots=True)
class Bounded:
    """A param held strictly inside low < p < high (None: no end there); its ends as `check` derived them."""

    name: str
    low: float | None
    high: float | None
    per_layer: bool = False
    margin: float = MARGIN

    @property
    def keys(self) -> tuple[str, ...]:
        return (raw_key(self.name),)

    @property
    def _delta(self) -> float:
        ends = [abs(e) for e in (self.low, self.high) if e is not None]
        return self.margin * max([1.0, *ends])

    @property
    def lower(self) -> float | None:
        """The lowest value the map approaches (the region's low end moved inwards by the margin)."""
        return None if self.low is None else self.low + self._delta

    @property
    def upper(self) -> float | None:
        return None if self.high is None else self.high - self._delta

    @property
    def width(self) -> float | None:
        """upper - lower, where both ends are finite."""
        return None if self.lower is None or self.upper is None else self.upper - self.lower

    def effective(self, raw: float) -> float:
        """The param's value for raw parameter `raw`."""
        if self.width is not None:
            return self.lower + self.width * sigmoid(raw)
        if self.lower is not None:
            return self.lower + softplus(raw)
        return self.upper - softplus(raw)

    def raw(self, value: float) -> float:
        """The raw parameter whose effective value is `value`; ValueError where no raw parameter gives it."""
        if not self.holds(value):
            raise ValueError(f"{self.name} = {value} is not strictly inside {self.describe()}")
        if self.width is not None:
            u = (value - self.lower) / self.width
            return math.log(u) - math.log1p(-u)
        return softplus_inverse(value - self.lower if self.lower is not None else self.upper - value)

    def holds(self, value: float) -> bool:
        """Whether `value` lies strictly between `lower` and `upper` (where the map can reach)."""
        above = self.lower is None or value > self.lower
        below = self.upper is None or value < self.upper
        return above and below and math.isfinite(value)

    def describe(self) -> str:
        """`-0.99999 < beta < 0.99999`: where the map holds the param."""
        low = "" if self.lower is None else f"{self.lower!r} < "
        high = "" if self.upper is None else f" < {self.upper!r}"
        return f"{low}{self.name}{high}"


@dataclass(frozen=True, slots=True)
class Reflection:
    """Params `names` = inverse @ c + shift, c the monic coefficients of q built from reflection coefficients; and
    c = forward @ params + offset, the affine map it inverts (what the constructor and `raws` use)."""

    names: tuple[str, ...]
    inverse: tuple[tuple[float, ...], ...]
    shift: tuple[float, ...]
    forward: tuple[tuple[float, ...], ...]
    offset: tuple[float, ...]
    per_layer: bool = False
    margin: float = MARGIN

    @property
    def keys(self) -> tuple[str, ...]:
        """The raw parameters' state-dict keys: theta_i (kappa_(i+1)) under names[i] + "_raw"."""
        return tuple(raw_key(name) for name in self.names)

    @property
    def scale(self) -> float:
        """kappa_i = scale * tanh(theta_i): |kappa_i| <= 1 - margin < 1."""
        return 1.0 - self.margin

    def effective(self, raws: Sequence[float]) -> tuple[float, ...]:
        """The params' values for the raw parameters `raws` (theta_1, ..., theta_n)."""
        coefficients = step_up([self.scale * math.tanh(theta) for theta in raws])
        return tuple(
            sum((m * c for m, c in zip(row, coefficients)), 0.0) + s for row, s in zip(self.inverse, self.shift)
        )

    def raws(self, values: Sequence[float]) -> tuple[float, ...]:
        """The raw parameters whose effective values are `values`; ValueError where q's roots at them are not
        strictly inside the unit disk (with the margin)."""
        coefficients = [sum((m * v for m, v in zip(row, values)), 0.0) + o for row, o in zip(self.forward, self.offset)]
        kappas = step_down(coefficients)
        if any(not abs(kappa) < self.scale for kappa in kappas):
            shown = ", ".join(f"{k:.6g}" for k in kappas)
            raise ValueError(
                f"{', '.join(self.names)}: a root of q is not strictly inside the unit disk (reflection coefficients "
                f"{shown}; each must have magnitude below {self.scale!r})"
            )
        return tuple(math.atanh(kappa / self.scale) for kappa in kappas)


def step_up(kappas: Sequence[float]) -> list[float]:
    """The monic coefficients c_1..c_n of the polynomial with reflection coefficients `kappas` (Levinson):
    c_j <- c_j + kappa_m * c_(m-j) for j < m, then c_m = kappa_m, for m = 1..n."""
    c: list[float] = []
    for kappa in kappas:
        c = [c[j] + kappa * c[len(c) - 1 - j] for j in range(len(c))] + [kappa]
    return c


def step_down(coefficients: Sequence[float]) -> list[float]:
    """The reflection coefficients kappa_1..kappa_n of monic coefficients c_1..c_n (step-up's inverse); a kappa of
    magnitude 1 or more (a root on or outside the unit circle) ends the recursion, which returns it as is."""
    c, kappas = list(coefficients), []
    while c:
        kappa = c[-1]
        kappas.append(kappa)
        if not abs(kappa) < 1:
            return [*([0.0] * (len(c) - 1)), *reversed(kappas)]
        c = [(c[j] - kappa * c[len(c) - 2 - j]) / (1 - kappa * kappa) for j in range(len(c) - 1)]
    return list(reversed(kappas))


Constraint = Bounded | Reflection
