"""matplotlib charts of one month's SLOs, as inline SVG (the HTML report) or PNG (Dagster metadata).

Figures are built with the object API (no pyplot global state), and SVG output is made reproducible
(fixed hash salt, no date), so the same month renders the same bytes.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
from matplotlib import rcParams  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from slo_assets.calendar import day_start_ms  # noqa: E402
from slo_assets.slo.chain import by_window  # noqa: E402
from slo_assets.slo.evaluation import WindowEvaluation, most_consumed_first  # noqa: E402

rcParams["svg.hashsalt"] = "slo-assets"
rcParams["svg.fonttype"] = "none"  # text as <text>, drawn by the browser: no glyph outlines in every chart
rcParams["font.size"] = 9

STATUS_COLORS = {"met": "#2e7d32", "at_risk": "#f9a825", "failed": "#c62828", "insufficient_data": "#9e9e9e"}
SEVERITY_COLORS = {"page": "#c62828", "ticket": "#ef6c00"}
THRESHOLDS = ((50, "#f9a825"), (80, "#ef6c00"), (100, "#c62828"))  # percent of the budget consumed


def _dt(ms) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


OVERSPENT_FLOOR = -150  # budget left below this (%) would flatten the rest of a burn-down chart


def _floor_overspent(ax, lowest: float) -> bool:
    """Cut the y axis at OVERSPENT_FLOOR when the budget went lower; whether it did."""
    if lowest >= OVERSPENT_FLOOR:
        return False
    ax.set_ylim(OVERSPENT_FLOOR - 10, 105)
    return True


def window_labels(windows: list[WindowEvaluation]) -> list[str]:
    """'slo (window)' per SLO window, with the objective's name when the SLO has several for that window."""
    pairs = [(w.slo, w.window) for w in windows]
    return [f"{w.slo} ({w.window}" + (f", {w.objective_name or w.objective})" if pairs.count(pair) > 1 else ")")
            for w, pair in zip(windows, pairs, strict=True)]


def _window_span(ax, window: WindowEvaluation | None, drawn: bool) -> None:
    """Pin the x axis to the window: with nothing drawn matplotlib would show 1970."""
    if window is None:
        return
    start, end = _dt(window.window_start_ms), _dt(window.window_end_ms)
    if end > start:
        ax.set_xlim(start, end)
    if not drawn:
        ax.text(0.5, 0.5, "no data in this window", transform=ax.transAxes, ha="center", va="center", color="#777")


def _time_axis(ax) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=8, tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.grid(True, alpha=0.3)


def to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: inline in HTML


def to_png_markdown(fig: Figure, alt: str, dpi: int = 72) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def sli_by_day(days: list[str], values: list[float | None], target: float, title: str,
               window: WindowEvaluation | None = None) -> Figure:
    """Daily SLI against the target: bars under the target are red. `window` pins the x axis to its span."""
    fig = Figure(figsize=(7.5, 2.4))
    ax = fig.add_subplot()
    points = [(_dt(day_start_ms(d)), v * 100) for d, v in zip(days, values, strict=True) if v is not None]
    if points:
        x, y = zip(*points, strict=True)
        colors = [STATUS_COLORS["failed"] if v < target * 100 else STATUS_COLORS["met"] for v in y]
        ax.bar(x, y, width=0.8, color=colors, align="edge")
        low = min(min(y), target * 100)
        ax.set_ylim(max(0.0, low - (100 - low) * 0.5 - 0.01), 100.0)
    ax.axhline(target * 100, color="#333", linestyle="--", linewidth=1, label=f"target {target * 100:g}%")
    ax.set_ylabel("SLI %")
    ax.set_title(title, loc="left")
    ax.legend(loc="lower left", fontsize=8)
    _time_axis(ax)
    _window_span(ax, window, bool(points))
    return fig


def burn_down(ts_ms: list[int], remaining: list[float], window: WindowEvaluation, period_end: datetime, title: str) -> Figure:
    """Remaining error budget over the window against the ideal (linear) spend, with the 50/80/100%
    consumption thresholds and the forecast to the period end."""
    fig = Figure(figsize=(7.5, 2.8))
    ax = fig.add_subplot()
    start, end = _dt(window.window_start_ms), _dt(window.window_end_ms)
    forecast = window.forecast
    if ts_ms:
        ax.plot([_dt(t) for t in ts_ms], [r * 100 for r in remaining], color="#1565c0", linewidth=1.4, label="remaining")
    horizon = max(end, period_end)
    ax.plot([start, horizon], [100, 0], color="#777", linestyle=":", linewidth=1, label="ideal")
    for percent, color in THRESHOLDS:
        ax.axhline(100 - percent, color=color, linewidth=0.8, linestyle="--")
        ax.annotate(f"{percent}% spent", (horizon, 100 - percent), fontsize=7, color=color, ha="right", va="bottom")
    projected = forecast.projected_consumed_ratio_at_period_end
    current = window.error_budget.remaining_ratio
    if projected is not None and current is not None and period_end > end:
        p = forecast.probability_exhausted_by_period_end
        ax.plot([end, period_end], [current * 100, (1 - projected) * 100], color="#6a1b9a", linestyle="--", linewidth=1.2,
                label=f"forecast (P exhausted {p:.0%})")
    lowest = min([r * 100 for r in remaining if r == r] or [0.0])
    if _floor_overspent(ax, lowest):
        ax.annotate(f"overspent: {lowest:.0f}% at the lowest", (horizon, OVERSPENT_FLOOR), fontsize=7,
                    color=THRESHOLDS[-1][1], ha="right", va="bottom")
    ax.set_ylabel("budget left %")
    ax.set_title(title, loc="left", fontsize=9)
    ax.legend(loc="lower left", fontsize=7)
    _time_axis(ax)
    return fig


def burn_rates(ts_ms: list[int], burn_1h: list[float], burn_6h: list[float], window: WindowEvaluation, title: str) -> Figure:
    """1h and 6h burn rates with every replayed alert firing shaded by severity."""
    fig = Figure(figsize=(7.5, 2.6))
    ax = fig.add_subplot()
    x = [_dt(t) for t in ts_ms]
    ax.plot(x, burn_1h, color="#1565c0", linewidth=0.9, label="1h burn rate")
    ax.plot(x, burn_6h, color="#00838f", linewidth=1.2, label="6h burn rate")
    seen = set()
    for alert in window.alerts:
        severity = alert.severity
        ax.axvspan(_dt(alert.start_ms), _dt(alert.end_ms), color=SEVERITY_COLORS.get(severity, "#999"), alpha=0.25,
                   label=None if severity in seen else f"{severity} alert firing")
        seen.add(severity)
    for threshold in sorted({a.burn_rate_threshold for a in window.alerts}):  # thresholds that fired
        ax.axhline(threshold, color="#999", linewidth=0.6, linestyle="--")
    ax.axhline(1, color="#333", linewidth=0.8, linestyle=":", label="burn rate 1 (budget lasts the period)")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("burn rate")
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", fontsize=7, ncols=2)
    _time_axis(ax)
    _window_span(ax, window, bool(ts_ms) and window.events != 0)
    return fig


def summary(windows: list[WindowEvaluation]) -> Figure:
    """Budget consumed per SLO window, coloured by status (bars beyond 100% are cut at 150%)."""
    fig = Figure(figsize=(7.5, 0.45 * max(3, len(windows)) + 0.8))
    ax = fig.add_subplot()
    labels = window_labels(windows)
    consumed = [min(150.0, (w.error_budget.consumed_ratio or 0) * 100) for w in windows]
    ax.barh(range(len(windows)), consumed, color=[STATUS_COLORS.get(w.status, "#999") for w in windows])
    ax.set_yticks(range(len(windows)), labels)
    for y, w in enumerate(windows):
        ratio = w.error_budget.consumed_ratio
        ax.annotate("n/a" if ratio is None else f"{ratio * 100:.0f}%", (min(150.0, (ratio or 0) * 100), y),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    for percent, color in THRESHOLDS:
        ax.axvline(percent, color=color, linewidth=0.8, linestyle="--")
    ax.invert_yaxis()
    ax.set_xlim(0, 165)
    ax.set_xlabel("error budget consumed %")
    ax.grid(True, axis="x", alpha=0.3)
    return fig


# One colour per SLO window (tab10, then tab20's light shades): distinct, and the status stays in the legend text.
WINDOW_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                 "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")
STATUS_TEXT = {"met": "met", "at_risk": "at risk", "failed": "failed", "insufficient_data": "insufficient data"}


def burn_down_overview(panels: list[tuple[list[int], list[float], WindowEvaluation]], period_end: datetime,
                       every: int = 12) -> Figure:
    """Every window's remaining budget on one chart (Dagster metadata: small and quick to draw), one
    point per `every` series points (hourly for 5-minute series). Each window has its own colour and
    a legend entry with its label and status, below the chart so long labels never squeeze it."""
    fig = Figure(figsize=(8, 3.2 + 0.22 * -(-len(panels) // 2)))
    ax = fig.add_subplot()
    lowest = 0.0
    for number, (ts, remaining, window) in enumerate(panels):
        points = [(_dt(t), r * 100) for t, r in list(zip(ts, remaining, strict=True))[::every] if r == r]
        if ts and remaining[-1] == remaining[-1]:
            points.append((_dt(ts[-1]), remaining[-1] * 100))
        color = WINDOW_COLORS[number % len(WINDOW_COLORS)]
        text = f"{window.label}: {STATUS_TEXT.get(window.status, window.status)}"
        if points:
            x, y = zip(*points, strict=True)
            lowest = min(lowest, *y)
            ax.plot(x, y, linewidth=1.6, color=color, label=text)
        else:  # still named in the legend: a window without data is news too
            ax.plot([], [], linewidth=1.4, color=color, linestyle=":", label=f"{text} (no data)")
    for percent, color in THRESHOLDS:
        ax.axhline(100 - percent, color=color, linewidth=0.8, linestyle="--")
    _floor_overspent(ax, lowest)
    ax.set_ylabel("budget left %")
    ax.set_title("Error budget left per SLO window (dashed: 50 / 80 / 100 % spent)", loc="left", fontsize=9)
    ax.set_xlim(right=period_end)
    _time_axis(ax)
    if panels:
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.14), ncols=2, fontsize=7.5, frameon=False)
    return fig


MAX_CHARTED = 12  # Dagster metadata charts draw the windows that consumed the most budget; report.html lists all


def worst_windows(windows: list[WindowEvaluation], limit: int = MAX_CHARTED) -> list[WindowEvaluation]:
    """The `limit` windows that consumed the most budget (ties and windows without a budget: spec order)."""
    return [windows[i] for i in most_consumed_first(windows)[:limit]]


def _of(shown: int, total: int) -> str:
    return "" if shown == total else f" ({shown} of {total} SLO windows: those that consumed the most budget)"


def burn_down_markdown(evaluations: list[WindowEvaluation], series, period_end_ms: int) -> str:
    """The burn-down overview of the month's worst windows as Markdown with an embedded PNG. `series`:
    the polars frame of chain.evaluate_with_series."""
    parts = by_window(series)
    panels = []
    shown = worst_windows(evaluations)
    for e in shown:
        part = parts.get(e.key)
        ts, remaining = ([], []) if part is None else (part["ts"].to_list(), part["remaining_ratio"].to_list())
        panels.append((ts, remaining, e))
    return to_png_markdown(burn_down_overview(panels, _dt(period_end_ms)), "error budget burn-down per SLO window") + _of(
        len(shown), len(evaluations))


def summary_markdown(windows: list[WindowEvaluation]) -> str:
    shown = worst_windows(windows, 3 * MAX_CHARTED)
    return to_png_markdown(summary(shown), "error budget consumed per SLO window, by status") + _of(len(shown), len(windows))
