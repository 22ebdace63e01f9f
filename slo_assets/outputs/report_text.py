"""The words and numbers report.html shows of a month and its windows, as plain text (the template
escapes it): figures rounded for people, periods, coverage, forecast, thresholds and what each
budget-state alert means. The JSON documents keep the exact numbers."""

from __future__ import annotations

from slo_assets.core.calendar import iso
from slo_assets.slo import budget as B
from slo_assets.slo.evaluation import WindowEvaluation
from slo_assets.slo.untimed import untimed_note


def pct(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def num(value, digits: int = 3) -> str:
    """A figure for people: at most `digits` decimals (7/30 reads 0.233); the JSON keeps the exact number."""
    if value is None:
        return "n/a"
    return f"{round(float(value), digits):,.{digits}f}".rstrip("0").rstrip(".")


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def period_text(window: WindowEvaluation) -> str:
    """The period the window's alerts, thresholds and policy alerts cover."""
    return f"{iso(window.window_start_ms)} → {iso(window.window_end_ms)}"


def quality_text(q: dict) -> str:
    with_data = q.get("days_with_data", q["days_present"])
    text = (f"{q['rows']:,} requests from {plural(q['lines_read'], 'line')}; {q['quarantined_lines']:,} quarantined "
            f"({q['quarantine_ratio'] * 100:.3f}%); {with_data} of {plural(q['days_expected'], 'day')} with data")
    gaps = q.get("gaps")
    if gaps:
        text += "; no data: " + ", ".join(g["start"] if g["days"] == 1 else f"{g['start']} → {g['end']} ({g['days']} days)" for g in gaps)
    elif q.get("missing_days"):
        text += f"; missing: {', '.join(q['missing_days'])}"
    return text


def interval_text(window: WindowEvaluation) -> str:
    """The SLI's 95 % interval, marked when it holds the target (the status could go either way)."""
    c = window.confidence
    if c is None:
        return "n/a"
    return f"{pct(c.low)} – {pct(c.high)}" + ("" if c.significant else " (not significant)")


def unmeasured_text(window: WindowEvaluation) -> str:
    c = window.coverage
    if c is None:
        return "n/a"
    return f"{c.unmeasured_minutes:,} min ({c.unmeasured_ratio * 100:.1f}%)"


def coverage_text(window: WindowEvaluation) -> str:
    c, interval = window.coverage, window.confidence
    parts = []
    if interval is not None:
        parts.append(f"95% interval of the SLI {pct(interval.low)} – {pct(interval.high)} over {num(interval.trials)} "
                     f"{'events' if interval.method == 'wilson' else 'slices'}"
                     + ("" if interval.significant else ": it holds the target, the status is not significant"))
    if c is not None:
        text = (f"{plural(c.unmeasured_minutes, 'minute')} of {c.window_minutes:,} unmeasured ({c.unmeasured_ratio * 100:.1f}%, "
                f"{plural(c.gaps, 'gap')}), {c.minutes_without_history:,} without 4 weeks of history")
        if c.quarantine_ratio is not None:
            text += f"; {c.quarantined_lines:,} of {plural(c.lines, 'line')} quarantined ({c.quarantine_ratio * 100:.3f}%)"
        parts.append(text)
    return ". ".join(parts) + "." if parts else ""


BUDGET_ALERT_LABELS = {  # what each budget-state alert means (docs/concepts.md, "Budget-state alerts")
    "budget_critical": f"error budget critical (under {float(B.BUDGET_CRITICAL_BELOW) * 100:g}% left)",
    "budget_warning": f"error budget warning ({float(B.BUDGET_CRITICAL_BELOW) * 100:g}-{float(B.BUDGET_WARNING_BELOW) * 100:g}% left)",
    "slo_violated": "SLO violated (SLI below target so far)",
    "high_burn_rate": f"high burn rate (over {float(B.HIGH_BURN_RATE):g}x for {B.HIGH_BURN_LONG}, still over it for {B.HIGH_BURN_SHORT})",
    "latency_threshold_violated": f"latency threshold violated (over {B.LATENCY_WINDOW})",
}


def budget_alert_value(alert) -> str:
    if alert.alert in ("high_burn_rate", "latency_threshold_violated"):
        return f"peak burn rate {num(alert.value, 2)}"
    return f"lowest budget left {pct(alert.value, 1)}"


def throughput_text(window: WindowEvaluation) -> str:
    t = window.throughput
    if t is None:
        return ""
    ops = {"gte": "at least", "gt": "more than", "lte": "at most", "lt": "less than"}
    mean = "n/a" if t.mean_rate is None else f"{num(t.mean_rate, 4)}"
    return (f" Throughput: a {t.slice_minutes}-minute slice is good at {ops[t.op]} {num(t.value, 6)} requests/second; "
            f"the window's mean rate was {mean} requests/second.")


def thresholds_text(window: WindowEvaluation) -> str:
    parts = [f"{t.percent}% {'crossed at ' + iso(t.crossed_at_ms) if t.crossed_at_ms is not None else 'not crossed'}"
             for t in window.thresholds]
    return f"Budget thresholds, {period_text(window)}: " + ("; ".join(parts) if parts else "none") + "."


def forecast_text(window: WindowEvaluation) -> str:
    f = window.forecast
    exhaustion = None if f.projected_exhaustion_ms is None else iso(f.projected_exhaustion_ms)
    if f.exhausted:
        return f"The budget is exhausted (since {exhaustion})."
    parts = [f"Probability the budget runs out by the period end: {f.probability_exhausted_by_period_end:.0%}"]
    if f.projected_consumed_ratio_at_period_end is not None:
        parts.append(f"projected consumption at the period end: {f.projected_consumed_ratio_at_period_end * 100:.0f}%")
    if exhaustion:
        parts.append(f"projected exhaustion: {exhaustion}")
    return "; ".join(parts) + (f". Method: {f.method}." if f.method else ".")


def composite_text(window: WindowEvaluation) -> str:
    """What a composite SLO window is made of; empty for a measured SLO."""
    if not window.components:
        return ""
    parts = ", ".join(f"{c.slo} (weight {num(c.weight)})" for c in window.components)
    how = ("good and total are weight x events" if window.budgeting_method == "Occurrences"
           else "a slice is bad when it is bad in any component")
    return f"Composite of {parts}: {how}. "


def ms_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"


NO_EVENT = "No event in this window: no SLI and no budget figure."


def no_event_text(window: WindowEvaluation) -> str:
    """What a window without an event says: NO_EVENT, or, when the requests it selects carry no request
    time, that and how to log one (there were requests: "no event" read as if none came)."""
    note = untimed_note(window.events, window.untimed)
    return NO_EVENT if note is None else f"{note[0].upper()}{note[1:]}. No SLI and no budget figure."
