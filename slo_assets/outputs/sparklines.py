"""Small inline SVG charts for the Dagster UI's asset page.

The UI shows a Markdown metadata entry in place only while it is short (under about 1,000
characters); longer ones, such as our PNG charts, hide behind "Show Markdown". A sparkline of a
few dozen points as an SVG data URI fits, so each SLO window gets its own entry: the entry's name
is the legend, the line's colour is the window's, the same in every chart of the month.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import quote

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
