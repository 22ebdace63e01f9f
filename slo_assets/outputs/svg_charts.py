"""Small hand-built SVG charts for report.html: a few kilobytes each, drawn in microseconds.

matplotlib took about a second and 50 KB per chart, which made a report of 500 SLO windows take
minutes and tens of megabytes. These charts keep what the report needs to show (the remaining
budget against the ideal spend and the thresholds, the 1h/6h burn rates with the alert firings,
the daily SLI against the target) at a fixed, small number of points. Styles are CSS classes the
report's one stylesheet defines (SVG_CSS), not attributes repeated on every element.

Pure functions: plain lists of numbers in, SVG text out. Text is escaped; nothing is interpreted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from slo_assets.core.calendar import DAY_MS, day_key

if TYPE_CHECKING:
    from slo_assets.slo.evaluation import WindowEvaluation

WIDTH, HEIGHT = 720, 130
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 16, 18
OVERSPENT_FLOOR = -150.0  # budget left (%) below this is drawn at the floor, said in a label

SVG_CSS = """
svg.c{display:block;max-width:100%;height:auto;font-size:10px;font-family:system-ui,sans-serif;background:#fff}
svg.c .ax{stroke:#bbb;stroke-width:1;fill:none} svg.c .gd{stroke:#eee;stroke-width:1}
svg.c .t{fill:#555} svg.c .ttl{fill:#222;font-weight:600}
svg.c .rem{fill:none;stroke:#1565c0;stroke-width:1.5} svg.c .ideal{stroke:#777;stroke-dasharray:2 3;fill:none}
svg.c .fc{stroke:#6a1b9a;stroke-dasharray:5 3;fill:none;stroke-width:1.2}
svg.c .b1{fill:none;stroke:#1565c0;stroke-width:1} svg.c .b6{fill:none;stroke:#00838f;stroke-width:1.4}
svg.c .one{stroke:#333;stroke-dasharray:1 2} svg.c .th50{stroke:#f9a825;stroke-dasharray:4 3}
svg.c .th80{stroke:#ef6c00;stroke-dasharray:4 3} svg.c .th100{stroke:#c62828;stroke-dasharray:4 3}
svg.c .tgt{stroke:#333;stroke-dasharray:4 3} svg.c .ok{fill:#2e7d32} svg.c .bad{fill:#c62828}
svg.c .page{fill:#c62828;opacity:.25} svg.c .ticket{fill:#ef6c00;opacity:.25}
svg.c .pw{fill:#1565c0} svg.c .met{fill:#2e7d32} svg.c .at_risk{fill:#f9a825} svg.c .failed{fill:#c62828} svg.c .insufficient_data{fill:#9e9e9e}
svg.c .insufficient_coverage{fill:#6a1b9a}
"""


class Frame:
    """Maps data coordinates to the plot area: x in epoch ms over [x0, x1], y over [y0, y1] (y1 at the top)."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float, height: int = HEIGHT) -> None:
        self.x0, self.x1, self.y0, self.y1, self.height = x0, max(x1, x0 + 1), y0, y1 if y1 != y0 else y0 + 1, height

    def x(self, value: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (value - self.x0) / (self.x1 - self.x0)

    def y(self, value: float) -> float:
        clipped = min(self.y1, max(self.y0, value))
        return TOP + (self.height - TOP - BOTTOM) * (self.y1 - clipped) / (self.y1 - self.y0)


def missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def _n(value: float) -> str:
    """A coordinate in whole pixels: the charts are 720 wide, finer adds bytes, not picture."""
    return f"{value:.0f}"


def _line(css: str, x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line class="{css}" x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"/>'


def _text(x: float, y: float, text: str, css: str = "t", anchor: str = "start") -> str:
    return f'<text class="{css}" x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}">{escape(text)}</text>'


def polylines(frame: Frame, ts: Sequence[int], values: Sequence[float | None], css: str) -> str:
    """One polyline per run of values (None and NaN break the line)."""
    runs, current = [], []
    for t, v in zip(ts, values, strict=True):
        if missing(v):
            if current:
                runs.append(current)
            current = []
        else:
            current.append(f"{_n(frame.x(t))},{_n(frame.y(v))}")
    if current:
        runs.append(current)
    return "".join(f'<polyline class="{css}" points="{" ".join(run)}"/>' for run in runs if len(run) > 1) + "".join(
        f'<circle class="{css}" r="1.5" cx="{run[0].split(",")[0]}" cy="{run[0].split(",")[1]}"/>' for run in runs if len(run) == 1)


def _time_axis(frame: Frame) -> str:
    """Day ticks at the start, the end and up to four days between."""
    first, last = int(frame.x0), int(frame.x1)
    days = max(1, (last - first) // DAY_MS)
    every = max(1, -(-days // 5))
    ticks = []
    for day in range(0, days + 1, every):
        ms = first - first % DAY_MS + day * DAY_MS
        if first <= ms <= last:
            x = frame.x(ms)
            ticks.append(_line("gd", x, TOP, x, frame.height - BOTTOM)
                         + _text(x, frame.height - 5, day_key(ms)[5:], anchor="middle"))
    return "".join(ticks) + f'<rect class="ax" x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{frame.height - TOP - BOTTOM}"/>'


def _svg(body: str, title: str, label: str, height: int = HEIGHT) -> str:
    return (f'<svg class="c" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
            f'role="img" aria-label="{escape(label)}">{_text(LEFT, 11, title, "ttl")}{body}</svg>')


def burn_down(ts: Sequence[int], remaining: Sequence[float | None], window_start_ms: int, window_end_ms: int,
              period_end_ms: int, remaining_now: float | None, projected_consumed: float | None, probability: float) -> str:
    """Budget left (%) over the window against the ideal linear spend, the 50/80/100 % spent lines and
    the forecast to the period end."""
    horizon = max(window_end_ms, period_end_ms)
    percent = [None if missing(r) else r * 100 for r in remaining]
    lowest = min([p for p in percent if p is not None] or [0.0])
    floor = max(OVERSPENT_FLOOR, min(-10.0, lowest - 5))
    frame = Frame(window_start_ms, horizon, floor, 105)
    parts = [_time_axis(frame)]
    for spent, css in ((50, "th50"), (80, "th80"), (100, "th100")):
        y = frame.y(100 - spent)
        parts.append(_line(css, LEFT, y, WIDTH - RIGHT, y) + _text(WIDTH - RIGHT - 2, y - 2, f"{spent}% spent", anchor="end"))
    parts.append(_line("ideal", frame.x(window_start_ms), frame.y(100), frame.x(horizon), frame.y(0)))
    parts.append(polylines(frame, ts, percent, "rem"))
    if projected_consumed is not None and remaining_now is not None and period_end_ms > window_end_ms:
        parts.append(_line("fc", frame.x(window_end_ms), frame.y(remaining_now * 100), frame.x(period_end_ms),
                           frame.y((1 - projected_consumed) * 100)))
        parts.append(_text(frame.x(period_end_ms) - 2, frame.y((1 - projected_consumed) * 100) - 3,
                           f"forecast (P exhausted {probability:.0%})", anchor="end"))
    if lowest < OVERSPENT_FLOOR:
        parts.append(_text(WIDTH - RIGHT - 2, frame.height - BOTTOM - 3, f"overspent: {lowest:.0f}% at the lowest", anchor="end"))
    if not ts:
        parts.append(_text(WIDTH / 2, HEIGHT / 2, "no data in this window", anchor="middle"))
    for value in (100, 0, floor):
        parts.append(_text(LEFT - 3, frame.y(value) + 3, f"{value:.0f}%", anchor="end"))
    return _svg("".join(parts), "Error budget left (%)", "error budget burn-down")


def _symlog(value: float) -> float:
    """Linear up to 1, logarithmic above (as the old charts' symlog scale)."""
    return value if value <= 1 else 1 + math.log10(value)


def merged_spans(spans: Sequence[tuple[int, int]], gap_ms: int) -> list[tuple[int, int]]:
    """Sorted [start, end) spans with those closer than `gap_ms` joined: what a chart this wide can tell apart."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] <= gap_ms:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def burn_rates(ts: Sequence[int], burn_1h: Sequence[float | None], burn_6h: Sequence[float | None], window_start_ms: int,
               window_end_ms: int, alerts: Sequence[tuple[str, int, int]]) -> str:
    """The 1h and 6h burn rates (linear to 1, log above), the alert firings shaded by severity."""
    highest = max([v for v in (*burn_1h, *burn_6h) if not missing(v)] or [1.0])
    frame = Frame(window_start_ms, window_end_ms, 0, _symlog(max(highest, 2.0)))
    parts = [_time_axis(frame)]
    gap = 3 * (window_end_ms - window_start_ms) // (WIDTH - LEFT - RIGHT)  # three pixels
    for severity in ("ticket", "page"):
        for start, end in merged_spans([(a, b) for s, a, b in alerts if s == severity], gap):
            x0, x1 = frame.x(max(start, window_start_ms)), frame.x(min(end, window_end_ms))
            parts.append(f'<rect class="{severity}" x="{_n(x0)}" y="{TOP}" width="{_n(max(1.0, x1 - x0))}" '
                         f'height="{HEIGHT - TOP - BOTTOM}"/>')
    y1 = frame.y(1)
    parts.append(_line("one", LEFT, y1, WIDTH - RIGHT, y1))
    for values, css in ((burn_1h, "b1"), (burn_6h, "b6")):
        parts.append(polylines(frame, ts, [None if missing(v) else _symlog(v) for v in values], css))
    for value in (0, 1, 10, 100, 1000):
        if _symlog(value) <= frame.y1:
            parts.append(_text(LEFT - 3, frame.y(_symlog(value)) + 3, f"{value:g}", anchor="end"))
    if not ts:
        parts.append(_text(WIDTH / 2, HEIGHT / 2, "no data in this window", anchor="middle"))
    legend = "Burn rate: 1h (blue), 6h (teal); shaded: page / ticket alerts firing"
    return _svg("".join(parts), legend, "burn rates")


def daily_sli(days_ms: Sequence[int], values: Sequence[float | None], target: float, window_start_ms: int,
              window_end_ms: int) -> str:
    """One bar per day: the day's SLI (%), red under the target, against the dashed target line."""
    height = 100
    present = [v * 100 for v in values if v is not None]
    low = min([*present, target * 100])
    bottom = max(0.0, low - (100 - low) * 0.5 - 0.01)
    frame = Frame(window_start_ms, window_end_ms, bottom, 100, height)
    parts = [_time_axis(frame)]
    width = _n(max(1.0, frame.x(DAY_MS) - frame.x(0) - 1))
    bars: dict[str, list[str]] = {"ok": [], "bad": []}  # one path per colour: a bar is "M x y h w V bottom h -w z"
    for day, value in zip(days_ms, values, strict=True):
        if value is not None:
            bars["bad" if value < target else "ok"].append(
                f"M{_n(frame.x(day))} {_n(frame.y(value * 100))}h{width}V{height - BOTTOM}h-{width}z")
    parts += [f'<path class="{css}" d="{"".join(d)}"/>' for css, d in bars.items() if d]
    yt = frame.y(target * 100)
    parts.append(_line("tgt", LEFT, yt, WIDTH - RIGHT, yt) + _text(LEFT - 3, yt + 3, f"{target * 100:g}%", anchor="end"))
    parts.append(_text(LEFT - 3, frame.y(bottom) + 3, f"{bottom:.4g}%", anchor="end"))
    if not present:
        parts.append(_text(WIDTH / 2, height / 2, "no data in this window", anchor="middle"))
    return _svg("".join(parts), "SLI by day (%), dashed: the target", "daily SLI", height)


def consumed_bars(rows: Sequence[tuple[str, str, float | None]]) -> str:
    """Budget consumed (%) per window as horizontal bars, cut at 150 %: (label, status, consumed ratio) rows."""
    bar, left = 14, 300
    height = TOP + bar * max(1, len(rows)) + BOTTOM
    scale = (WIDTH - left - 60) / 150
    parts = []
    for spent, css in ((50, "th50"), (80, "th80"), (100, "th100")):
        x = left + spent * scale
        parts.append(_line(css, x, TOP, x, height - BOTTOM) + _text(x, height - 5, f"{spent}%", anchor="middle"))
    for index, (label, status, ratio) in enumerate(rows):
        y = TOP + index * bar
        value = min(150.0, max(0.0, (ratio or 0) * 100))
        shown = label if len(label) <= 52 else label[:51] + "…"
        parts.append(_text(left - 4, y + bar - 4, shown, anchor="end")
                     + f'<rect class="{escape(status)}" x="{left}" y="{y + 2}" width="{_n(max(0.5, value * scale))}" height="{bar - 4}"/>'
                     + _text(left + value * scale + 3, y + bar - 4, "n/a" if ratio is None else f"{ratio * 100:.0f}%"))
    if not rows:
        parts.append(_text(WIDTH / 2, TOP + 10, "no SLO window", anchor="middle"))
    return _svg("".join(parts), "Error budget consumed (%), dashed: 50 / 80 / 100 %", "error budget consumed per SLO window", height)


def policy_bars(rows: Sequence[tuple[str, float | None, int, int]]) -> str:
    """Pages per week per alert policy as horizontal bars, each with its noise pages and misses:
    (policy, pages per week, noise pages, misses) rows (the backtest, side by side)."""
    bar, left = 16, 220
    height = TOP + bar * max(1, len(rows)) + BOTTOM
    most = max((r[1] or 0 for r in rows), default=0) or 1
    scale = (WIDTH - left - 200) / most
    parts = []
    for index, (policy, per_week, noise, misses) in enumerate(rows):
        y = TOP + index * bar
        value = per_week or 0
        shown = policy if len(policy) <= 36 else policy[:35] + "…"
        parts.append(_text(left - 4, y + bar - 4, shown, anchor="end")
                     + f'<rect class="pw" x="{left}" y="{y + 2}" width="{_n(max(0.5, value * scale))}" height="{bar - 4}"/>'
                     + _text(left + value * scale + 3, y + bar - 4,
                             f"{'n/a' if per_week is None else f'{per_week:g}'} pages/week, {noise} noise, {misses} missed"))
    if not rows:
        parts.append(_text(WIDTH / 2, TOP + 10, "no policy", anchor="middle"))
    return _svg("".join(parts), "Pages per week by alert policy, with noise pages and missed episodes",
                "pages per week by alert policy", height)


STATUS_TEXT = {"met": "met", "at_risk": "at risk", "failed": "failed", "insufficient_coverage": "insufficient coverage",
               "insufficient_data": "insufficient data"}
# One colour per SLO window (tab10, then tab20's light shades): distinct, and the status stays in the legend text.
WINDOW_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                 "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")
OVERVIEW_POINTS = 240  # per window: a month's 5-minute series drawn every 3 hours
LEGEND_ROW = 13


def standalone(svg: str) -> str:
    """A chart with the stylesheet inside, to stand alone as an image (a data URI in Dagster's Markdown)."""
    opening = svg.index(">") + 1
    return f"{svg[:opening]}<style>{SVG_CSS}</style>{svg[opening:]}"


def burn_down_overview(panels: Sequence[tuple[Sequence[int], Sequence[float | None], WindowEvaluation]],
                       start_ms: int, end_ms: int) -> str:
    """Every window's budget left (%) on one chart, a colour and a legend entry (label and status) each,
    with the 50/80/100 % spent lines. `panels`: (ts, remaining ratio, window)."""
    thinned = []
    for ts, remaining, window in panels:
        step = max(1, -(-len(ts) // OVERVIEW_POINTS))
        keep = list(range(0, len(ts), step))
        if ts and keep[-1] != len(ts) - 1:
            keep.append(len(ts) - 1)  # the level at the end of the data
        thinned.append(([ts[i] for i in keep], [None if missing(remaining[i]) else remaining[i] * 100 for i in keep],
                        window))
    lowest = min([v for _, values, _ in thinned for v in values if v is not None] or [0.0])
    floor = max(OVERSPENT_FLOOR, min(-10.0, lowest - 5))
    plot_height = 170
    height = plot_height + LEGEND_ROW * len(panels) + 6  # the legend below, a row per window: labels are long
    frame = Frame(start_ms, end_ms, floor, 105, height=plot_height)
    parts = [_time_axis(frame)]
    for spent, css in ((50, "th50"), (80, "th80"), (100, "th100")):
        y = frame.y(100 - spent)
        parts.append(_line(css, LEFT, y, WIDTH - RIGHT, y)
                     + _text(WIDTH - RIGHT - 2, y - 2, f"{spent}% spent", anchor="end"))
    for value in (100, 0, floor):
        parts.append(_text(LEFT - 3, frame.y(value) + 3, f"{value:.0f}%", anchor="end"))
    styles = []
    for number, (ts, values, window) in enumerate(thinned):
        css = f"w{number}"
        styles.append(f"svg.c .{css}{{fill:none;stroke:{WINDOW_COLORS[number % len(WINDOW_COLORS)]};stroke-width:1.6}}")
        drawn = any(v is not None for v in values)
        if drawn:
            parts.append(polylines(frame, ts, values, css))
        x, y = LEFT, plot_height + 4 + number * LEGEND_ROW
        text = f"{window.label}: {STATUS_TEXT.get(window.status, window.status)}" + ("" if drawn else " (no data)")
        dash = "" if drawn else ' stroke-dasharray="2 2"'
        parts.append(f'<line class="{css}" x1="{x:.0f}" y1="{y + 4:.0f}" x2="{x + 16:.0f}" y2="{y + 4:.0f}"{dash}/>'
                     + _text(x + 20, y + 8, text if len(text) <= 110 else text[:109] + "…"))
    # each window's colour as a class of its own: the chart stands alone in Dagster's metadata (standalone())
    return _svg(f"<style>{''.join(styles)}</style>" + "".join(parts),
                "Error budget left per SLO window (dashed: 50 / 80 / 100 % spent)", "error budget burn-down per SLO window", height)
