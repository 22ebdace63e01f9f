"""The charts of the Dagster metadata: the error-budget burn-down of the month's worst windows, and the
budget consumed per window, as standalone SVG in Markdown (a data URI the asset page shows inline).

Drawn with the report's own SVG primitives (svg_charts) and their stylesheet embedded, so each chart is
a few kilobytes drawn in milliseconds: matplotlib took about a second to import and another to draw the
two PNGs of every monthly run.
"""

from __future__ import annotations

from slo_assets.outputs import sparklines, svg_charts
from slo_assets.slo.chain import by_window
from slo_assets.slo.evaluation import WindowEvaluation, most_consumed_first

MAX_CHARTED = 12  # Dagster metadata charts draw the windows that consumed the most budget; report.html lists all


def worst_windows(windows: list[WindowEvaluation], limit: int = MAX_CHARTED) -> list[WindowEvaluation]:
    """The `limit` windows that consumed the most budget (ties and windows without a budget: spec order)."""
    return [windows[i] for i in most_consumed_first(windows)[:limit]]


def _of(shown: int, total: int) -> str:
    return "" if shown == total else f" ({shown} of {total} SLO windows: those that consumed the most budget)"


def burn_down_markdown(evaluations: list[WindowEvaluation], series, period_end_ms: int) -> str:
    """The burn-down overview of the month's worst windows as Markdown with an embedded SVG. `series`:
    the polars frame of chain.evaluate_with_series."""
    parts = by_window(series)
    shown = worst_windows(evaluations)
    panels = []
    for e in shown:
        part = parts.get(e.key)
        ts, remaining = ([], []) if part is None else (part["ts"].to_list(), part["remaining_ratio"].to_list())
        panels.append((ts, remaining, e))
    start = min((e.window_start_ms for e in shown), default=period_end_ms - 1)
    image = svg_charts.standalone(svg_charts.burn_down_overview(panels, start, period_end_ms))
    return sparklines.markdown(image, "error budget burn-down per SLO window" + _of(len(shown), len(evaluations)))


def summary_markdown(windows: list[WindowEvaluation]) -> str:
    """Budget consumed per window (the worst 36), by status, as Markdown with an embedded SVG."""
    shown = worst_windows(windows, 3 * MAX_CHARTED)
    image = svg_charts.standalone(svg_charts.consumed_bars([(w.label, w.status, w.error_budget.consumed_ratio) for w in shown]))
    return sparklines.markdown(image, "error budget consumed per SLO window, by status" + _of(len(shown), len(windows)))
