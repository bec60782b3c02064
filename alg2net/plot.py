"""`alg2net check --plot ROOTS.png`: the roots of rho on the unit circle and each learnable param's region.

Assumes the facts of `check` (`CheckFacts`), at the initial values and, with `--weights`, at the trained ones too.
Guarantees a PNG at the path: on the left the unit circle with the roots of rho at the initial values (circles)
and, with trained facts, at the trained values, one marker per layer (crosses, coloured by layer); on the right, for
each learnable param whose region `check` derives, a strip with the region shaded and the initial (and trained)
values marked, those outside in red. Needs matplotlib (`pip install 'alg2net[plot]'`), imported here alone, on first
use, with the Agg backend: nothing is displayed.
"""

from __future__ import annotations

import math

from alg2net.analysis.facts import CheckFacts, ParamFacts
from alg2net.errors import fail

_INSIDE, _OUTSIDE, _INITIAL, _REGION = "tab:blue", "tab:red", "black", "tab:green"


def plot(facts: CheckFacts, path: str, trained: CheckFacts | None = None) -> None:
    """Draw `facts` (and `trained`, the same algorithm at a checkpoint's values) into the PNG at `path`."""
    pyplot = _pyplot()
    strips = [p for p in (trained or facts).params if p.region is not None and p.region.spans]
    figure = pyplot.figure(figsize=(9 if strips else 5, 5), layout="constrained")
    grid = figure.add_gridspec(max(len(strips), 1), 2 if strips else 1, width_ratios=[1, 1] if strips else [1])
    _circle(figure.add_subplot(grid[:, 0]), facts, trained)
    initial = {p.name: p for p in facts.params}
    for row, param in enumerate(strips):
        _strip(figure.add_subplot(grid[row, 1]), initial.get(param.name, param), param if trained else None)
    title = f"{facts.algorithm}: {(trained or facts).verdict}"
    figure.suptitle(title + (f" at the trained values in {trained.weights}" if trained else ""), fontsize=10)
    try:
        figure.savefig(path, format="png", dpi=100)
    except OSError as error:
        raise fail("bad-option", f"cannot write the plot to {path}: {error.strerror or error}") from None
    finally:
        pyplot.close(figure)


def _pyplot():
    """matplotlib's pyplot on the Agg backend; a clear error (exit 2) where matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        raise fail(
            "missing-dependency", "--plot needs matplotlib, which is not installed", hint="pip install 'alg2net[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def _circle(axes, facts: CheckFacts, trained: CheckFacts | None) -> None:
    """The unit circle, the roots at the initial values, and at the trained values one marker per layer."""
    angles = [2 * math.pi * i / 256 for i in range(257)]
    axes.plot([math.cos(a) for a in angles], [math.sin(a) for a in angles], color="0.6", linewidth=1)
    points = [r.point for r in facts.roots if r.point is not None]
    label = f"roots of rho {facts.roots_of or 'at the values'}"
    axes.scatter(
        [p.real for p in points],
        [p.imag for p in points],
        s=60,
        facecolors="none",
        edgecolors=_INITIAL,
        label=label,
        zorder=3,
    )
    extent = max([1.0, *(abs(p) for p in points)])
    if trained is not None:
        extent = max(extent, _trained_roots(axes, trained))
    axes.axhline(0, color="0.85", linewidth=0.5)
    axes.axvline(0, color="0.85", linewidth=0.5)
    axes.set_xlim(-1.15 * extent, 1.15 * extent)
    axes.set_ylim(-1.15 * extent, 1.15 * extent)
    axes.set_aspect("equal")
    axes.set_xlabel("Re zeta")
    axes.set_ylabel("Im zeta")
    axes.legend(loc="lower left", fontsize=7)


def _trained_roots(axes, trained: CheckFacts) -> float:
    """One cross per root per layer at the trained values, coloured by the layer; returns the largest modulus."""
    layers = [layer for layer in trained.layers if layer.roots] or []
    xs, ys, colours = [], [], []
    for layer in layers:
        for root in layer.roots:
            if root.point is not None:
                xs.append(root.point.real)
                ys.append(root.point.imag)
                colours.append(layer.k or 0)
    many = len(layers) > 1
    label = "at the trained values, one per layer" if many else "at the trained values"
    marks = axes.scatter(
        xs,
        ys,
        c=colours if many else _OUTSIDE if trained.verdict != "guaranteed" else _INSIDE,
        cmap="viridis" if many else None,
        marker="x",
        s=30,
        label=label,
        zorder=4,
    )
    if many:
        axes.figure.colorbar(marks, ax=axes, shrink=0.6, label="layer k")
    return max([1.0, *(math.hypot(x, y) for x, y in zip(xs, ys))])


def _strip(axes, initial: ParamFacts, trained: ParamFacts | None) -> None:
    """The region of one param shaded on its axis, the initial values (circles) and trained values (crosses)."""
    region = (trained or initial).region
    values = list(initial.initial) + list(trained.trained if trained and trained.trained else ())
    low, high = _window(region.spans, values)
    for a, b, a_closed, b_closed in region.spans:
        axes.axvspan(max(a, low), min(b, high), color=_REGION, alpha=0.25, linewidth=0)
        for end, closed in ((a, a_closed), (b, b_closed)):  # a closed end solid, an open one dashed
            if math.isfinite(end) and low <= end <= high:
                axes.axvline(end, color=_REGION, linewidth=1, linestyle="-" if closed else "--")
    axes.scatter(
        initial.initial,
        [0.5] * len(initial.initial),
        s=60,
        facecolors="none",
        edgecolors=_INITIAL,
        label="initial",
        zorder=3,
    )
    if trained is not None and trained.trained:
        inside = [_inside(region.spans, v) for v in trained.trained]
        colours = [_INSIDE if ok else _OUTSIDE for ok in inside]
        axes.scatter(
            trained.trained, [0.5] * len(trained.trained), c=colours, marker="x", s=40, label="trained", zorder=4
        )
    axes.set_xlim(low, high)
    axes.set_ylim(0, 1)
    axes.set_yticks([])
    axes.set_title(f"{initial.name}: {region.text}", fontsize=9)
    axes.legend(loc="upper right", fontsize=7)


def _window(spans, values: list[float]) -> tuple[float, float]:
    """The strip's x range: the region's finite ends and the values, with a margin."""
    points = [e for a, b, _, _ in spans for e in (a, b) if math.isfinite(e)] + [v for v in values if math.isfinite(v)]
    if not points:
        return -1.0, 1.0
    low, high = min(points), max(points)
    pad = max(0.25 * (high - low), 0.5)
    return low - pad, high + pad


def _inside(spans, value: float) -> bool:
    for a, b, low_closed, high_closed in spans:
        above = value >= a if low_closed else value > a
        below = value <= b if high_closed else value < b
        if above and below:
            return True
    return False
