"""Small inline SVG charts for the Dagster UI's asset page.

The UI shows a Markdown metadata entry in place only while it is short (under about 1,000
characters); longer ones, such as our PNG charts, hide behind "Show Markdown". A sparkline of a
few dozen points as an SVG data URI fits, so each SLO window gets its own entry: the entry's name
is the legend, the line's colour is the window's, the same in every chart of the month.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

import polars as pl

from slo_assets.core.calendar import DAY_MS
from slo_assets.slo.chain import by_window
from slo_assets.slo.evaluation import WindowEvaluation, most_consumed_first

# Colour-blind-safe (Okabe-Ito, then Tableau) and distinct on white; a window keeps its index.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#4E79A7", "#F28E2B", "#59A14F", "#B07AA1")
WIDTH, HEIGHT, PAD = 180, 36, 2
MAX_POINTS = 48
INLINE_LIMIT = 1000  # characters the UI shows in place


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _thin(values: Sequence[float | None], points: int) -> list[float | None]:
    """At most `points` values, each the last of its bucket (a burn-down's level at the bucket's end)."""
    if len(values) <= points:
        return list(values)
    step = len(values) / points
    return [values[min(len(values) - 1, math.ceil((i + 1) * step) - 1)] for i in range(points)]


def svg(values: Sequence[float | None], stroke: str, low: float, high: float, guide: float | None = None) -> str:
    """A polyline of `values` scaled into [low, high] (clipped), with an optional dashed guide line;
    gaps (None) break the line."""
    thinned = _thin(values, MAX_POINTS)
    span = (high - low) or 1.0

    def y(value: float) -> str:
        clipped = min(high, max(low, value))
        return f"{PAD + (HEIGHT - 2 * PAD) * (high - clipped) / span:.0f}"

    def x(i: int) -> str:
        return f"{PAD + (WIDTH - 2 * PAD) * i / max(1, len(thinned) - 1):.0f}"

    runs, current = [], []
    for i, value in enumerate(thinned):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if current:
                runs.append(current)
            current = []
        else:
            current.append(f"{x(i)},{y(value)}")
    if current:
        runs.append(current)
    lines = "".join(f"<polyline points='{' '.join(run)}' fill='none' stroke='{stroke}' stroke-width='2'/>" for run in runs)
    rule = f"<line x1='0' x2='{WIDTH}' y1='{y(guide)}' y2='{y(guide)}' stroke='#999' stroke-dasharray='3'/>" if guide is not None else ""
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}'>"
            f"<rect width='{WIDTH}' height='{HEIGHT}' fill='#fff' stroke='#ddd'/>{rule}{lines}</svg>")


def markdown(image: str, caption: str) -> str:
    """The SVG as a Markdown image (a data URI) followed by its caption."""
    encoded = quote(image, safe=" '=:/,.;-()")
    return f"![chart](<data:image/svg+xml;utf8,{encoded}>) {caption}"


def fits_inline(text: str) -> bool:
    return len(text) < INLINE_LIMIT


@dataclass(frozen=True)
class WindowChart:
    """One SLO window's inline chart: `name` is its metadata key (the legend), `markdown` the entry."""

    name: str
    markdown: str


MAX_WINDOWS = 24  # more than this and the asset page is a wall; report.html has them all


def _charted(evaluations: Sequence[WindowEvaluation]) -> list[tuple[int, WindowEvaluation]]:
    """(index, window) for the MAX_WINDOWS windows that consumed the most budget, in spec order; the
    index keeps a window's colour the same in every chart."""
    return [(i, evaluations[i]) for i in sorted(most_consumed_first(evaluations)[:MAX_WINDOWS])]


def _daily(part: pl.DataFrame) -> list[float | None]:
    """The SLI of each day of a window's 5-minute series (None on a day without events)."""
    daily = part.group_by(pl.col("ts") // DAY_MS).agg(pl.col("good").sum(), pl.col("total").sum()).sort("ts")
    return [g / t if t else None for g, t in zip(daily["good"], daily["total"], strict=True)]


def burn_down_charts(evaluations: Sequence[WindowEvaluation], series: pl.DataFrame) -> list[WindowChart]:
    """Budget left over the window, per SLO window: 100 % at the top, the dashed line at 0 (exhausted)."""
    parts = by_window(series)
    charts = []
    for index, window in _charted(evaluations):
        part = parts.get(window.key)
        values = [] if part is None else part["remaining_ratio"].to_list()
        left = window.error_budget.remaining_ratio
        text = "no budget (no events)" if left is None else f"{left:.1%} of the budget left"
        low = min([-0.25, *(v for v in values if v is not None)])
        charts.append(WindowChart(f"burn_down · {window.label}",
                                  markdown(svg(values, colour(index), max(low, -1.5), 1.0, guide=0.0), f"{window.status}, {text}")))
    return charts


def sli_charts(evaluations: Sequence[WindowEvaluation], series: pl.DataFrame) -> list[WindowChart]:
    """The SLI of each day per SLO window, the dashed line at the target."""
    parts = by_window(series)
    charts = []
    for index, window in _charted(evaluations):
        part = parts.get(window.key)
        values = [] if part is None or part.is_empty() else _daily(part)
        target = float(window.target)
        low = min([target - 4 * (1 - target), *(v for v in values if v is not None)])
        sli = "no SLI (no events)" if window.sli is None else f"SLI {window.sli:.4%}"
        charts.append(WindowChart(f"sli · {window.label}",
                                  markdown(svg(values, colour(index), low, 1.0, guide=target), f"{sli}, target {target:.4%}")))
    return charts
