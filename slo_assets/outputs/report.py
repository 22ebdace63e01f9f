"""report.html: one month of SLOs in one self-contained file (inline SVG charts, inline CSS, no script,
no network at view time). Everything shown comes from the warehouse documents; log lines and names
are escaped, never interpreted.

Its cost grows with what needs attention, not with every window drawn: a summary page (cards, the
windows that failed or are at risk, the budget consumed by the worst windows, service health), then
one section per service with a row per window; only failed and at-risk windows get charts and alert
tables (tables capped, the JSON documents list everything).

`render(MonthDocuments) -> str` is pure: typed inputs in, HTML out. `load_month` reads the inputs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

import polars as pl

from slo_assets.core.calendar import DAY_MS, iso, month_range_ms
from slo_assets.outputs import svg_charts
from slo_assets.remediation.incident_review import incident_id
from slo_assets.slo import backtest as T
from slo_assets.slo import budget as B
from slo_assets.slo.chain import LADDER, by_window, risks_from_targets
from slo_assets.slo.evaluation import (
    MonthEvaluations,
    WindowEvaluation,
    most_consumed_first,
)
from slo_assets.slo.quantiles import LatencyPercentiles, latency_percentiles
from slo_assets.slo.risk import risk_headers, risk_rows
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse

STATUS_LABELS = {"met": "met", "at_risk": "at risk", "failed": "failed", "insufficient_data": "insufficient data"}


@dataclass(frozen=True)
class MonthDocuments:
    """What the report shows of a month: its evaluations (compliance + error budgets), the chart series
    (chain.evaluate_with_series), and the remediation plan, runs and learning record when there are any."""

    month: str
    evaluations: MonthEvaluations
    series: pl.DataFrame
    plan: dict | None = None
    runs: pl.DataFrame | None = None
    learning: pl.DataFrame | None = None
    targets: pl.DataFrame | None = None  # slo_targets: recommendations and each rung's risk
    latency: Mapping[str, LatencyPercentiles] | None = None  # the latency SLOs' p50/p95/p99 (sli_metrics)
    backtest: tuple[T.PolicyScore, ...] | None = None  # alert_backtest: each alert policy's row


class ReportError(ValueError):
    pass


def load_month(store: Warehouse, month: str) -> MonthDocuments:
    """The month's documents from the warehouse; compliance, budgets and series are required. A
    damaged document ends as a ReportError naming the file."""
    def document(dataset: layout.Dataset) -> tuple[dict | None, str]:
        path = dataset.path(store, month)
        if not path.exists():
            return None, str(path)
        try:
            return json.loads(path.read_bytes()), str(path)
        except ValueError as error:
            raise ReportError(f"{path}: not JSON ({error})") from error

    def frame(dataset: layout.Dataset, partition: str) -> pl.DataFrame | None:
        path = dataset.path(store, partition)
        return pl.from_arrow(store.read_table(path)) if path.exists() else None

    (compliance, compliance_path), (budgets, budgets_path) = document(layout.COMPLIANCE_REPORT), document(layout.ERROR_BUDGETS)
    series = frame(layout.BUDGET_SERIES, month)
    if compliance is None or budgets is None or series is None:
        raise ReportError(f"no compliance_report / error_budgets for {month} in {store.path()}: run the month first")
    try:
        evaluations = MonthEvaluations.from_documents(compliance, budgets, f"{compliance_path} / {budgets_path}")
    except ValueError as error:
        raise ReportError(str(error)) from error
    backtest, backtest_path = document(layout.ALERT_BACKTEST)
    try:
        scores = None if backtest is None else tuple(T.PolicyScore.from_json(row) for row in backtest["rows"])
    except (KeyError, TypeError) as error:
        raise ReportError(f"{backtest_path}: rows: not an alert_backtest document (missing {error})") from None
    return MonthDocuments(month, evaluations, series, document(layout.REMEDIATION_PLAN)[0], frame(layout.REMEDIATION_RUNS, month),
                          frame(layout.LEARNING_RECORD, month), frame(layout.SLO_TARGETS, month),
                          latency_percentiles(frame(layout.SLI_METRICS, month)), scores)


def _pct(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _num(value, digits: int = 3) -> str:
    """A figure for people: at most `digits` decimals (7/30 reads 0.233); the JSON keeps the exact number."""
    if value is None:
        return "n/a"
    return f"{round(float(value), digits):,.{digits}f}".rstrip("0").rstrip(".")


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _period_text(window: WindowEvaluation) -> str:
    """The period the window's alerts, thresholds and policy alerts cover."""
    return f"{iso(window.window_start_ms)} → {iso(window.window_end_ms)}"


def _quality_text(q: dict) -> str:
    with_data = q.get("days_with_data", q["days_present"])
    text = (f"{q['rows']:,} requests from {_plural(q['lines_read'], 'line')}; {q['quarantined_lines']:,} quarantined "
            f"({q['quarantine_ratio'] * 100:.3f}%); {with_data} of {_plural(q['days_expected'], 'day')} with data")
    gaps = q.get("gaps")
    if gaps:
        text += "; no data: " + ", ".join(g["start"] if g["days"] == 1 else f"{g['start']} → {g['end']} ({g['days']} days)" for g in gaps)
    elif q.get("missing_days"):
        text += f"; missing: {', '.join(q['missing_days'])}"
    return text


class Markup(str):
    """HTML we built ourselves (badges, links): not escaped again."""


def _table(headers: list[str], rows: list[list], css: str = "") -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell if isinstance(cell, Markup) else escape(str(cell))}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _badge(status: str) -> Markup:
    return Markup(f'<span class="badge {escape(status)}">{escape(STATUS_LABELS.get(status, status))}</span>')


def _status_cell(window: WindowEvaluation) -> Markup:
    """The badge, and the coverage note when the window is under its coverage floor."""
    if window.status_note is None:
        return _badge(window.status)
    return Markup(f'{_badge(window.status)} <span class="note">{escape(window.status_note)}</span>')


def _interval_text(window: WindowEvaluation) -> str:
    """The SLI's 95 % interval, marked when it holds the target (the status could go either way)."""
    c = window.confidence
    if c is None:
        return "n/a"
    return f"{_pct(c.low)} – {_pct(c.high)}" + ("" if c.significant else " (not significant)")


def _unmeasured_text(window: WindowEvaluation) -> str:
    c = window.coverage
    if c is None:
        return "n/a"
    return f"{c.unmeasured_minutes:,} min ({c.unmeasured_ratio * 100:.1f}%)"


def _coverage_text(window: WindowEvaluation) -> str:
    c, interval = window.coverage, window.confidence
    parts = []
    if interval is not None:
        parts.append(f"95% interval of the SLI {_pct(interval.low)} – {_pct(interval.high)} over {_num(interval.trials)} "
                     f"{'events' if interval.method == 'wilson' else 'slices'}"
                     + ("" if interval.significant else ": it holds the target, the status is not significant"))
    if c is not None:
        text = (f"{_plural(c.unmeasured_minutes, 'minute')} of {c.window_minutes:,} unmeasured ({c.unmeasured_ratio * 100:.1f}%, "
                f"{_plural(c.gaps, 'gap')}), {c.minutes_without_history:,} without 4 weeks of history")
        if c.quarantine_ratio is not None:
            text += f"; {c.quarantined_lines:,} of {_plural(c.lines, 'line')} quarantined ({c.quarantine_ratio * 100:.3f}%)"
        parts.append(text)
    return ". ".join(parts) + "." if parts else ""


def _anchor(window: WindowEvaluation) -> str:
    return "slo-" + "-".join(window.key).replace(" ", "_")


def _figure(svg: str, caption: str) -> str:
    return f'<figure class="chart">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def _daily_sli(series: pl.DataFrame) -> tuple[list[int], list[float | None]]:
    """Each day's start (epoch ms) and SLI in a window's series (None on a day without units)."""
    if series.is_empty():
        return [], []
    daily = (series.group_by((pl.col("ts") // DAY_MS).alias("day")).agg(pl.col("good").sum(), pl.col("total").sum())
             .sort("day"))
    return [d * DAY_MS for d in daily["day"]], [g / t if t else None for g, t in zip(daily["good"], daily["total"], strict=True)]


DRAWN_POINTS = 120  # points per drawn line: a month's 5-minute series is drawn every ~6 hours, spikes kept
DRAWN_BUCKETS = 3
ATTENTION = ("failed", "at_risk")  # the windows drawn and detailed
MAX_ALERT_ROWS = 10  # per window and table; the rest are counted, error_budgets.json lists them all
MAX_SUMMARY_BARS = 40  # the summary chart draws the windows that consumed the most budget
MAX_ATTENTION_ROWS = 100


def _coarsen(part: pl.DataFrame, every: int = DRAWN_BUCKETS) -> pl.DataFrame:
    """Fewer points to draw: each group of `every` buckets keeps its start, its last remaining budget
    and its highest burn rates (a spike is never smoothed away)."""
    every = max(1, every)
    return (part.with_row_index("i").group_by(pl.col("i") // every, maintain_order=True)
            .agg(pl.col("ts").first(), pl.col("remaining_ratio").last(), pl.col("burn_1h").max(), pl.col("burn_6h").max()))


def _service_anchor(service: str) -> str:
    return "service-" + service.replace(" ", "_")


def _worst_first(windows: list[WindowEvaluation]) -> list[WindowEvaluation]:
    return [windows[i] for i in most_consumed_first(windows)]


def _more(shown: int, total: int, what: str, where: str) -> str:
    return "" if total <= shown else f'<p class="more">{shown:,} of {_plural(total, what)} shown; {escape(where)} lists all.</p>'


def _summary_section(docs: MonthDocuments) -> str:
    month = docs.evaluations
    windows = list(month.windows)
    cards = "".join(f'<div class="card {k}"><div class="n">{month.status_counts[k]}</div><div>{STATUS_LABELS[k]}</div></div>'
                    for k in ("met", "at_risk", "failed", "insufficient_data"))
    attention = _worst_first([w for w in windows if w.status in ATTENTION])
    rows = [[Markup(f'<a href="#{_anchor(w)}">{escape(w.label)}</a>'), w.service, _status_cell(w), _pct(w.sli), _interval_text(w),
             _unmeasured_text(w), _pct(w.target, 2), _pct(w.error_budget.remaining_ratio, 1), w.alert_count("page"), w.alert_count("ticket")]
            for w in attention[:MAX_ATTENTION_ROWS]]
    by_status = {v.service: {s: 0 for s in STATUS_LABELS} for v in month.services}
    for w in windows:
        by_status.setdefault(w.service, {s: 0 for s in STATUS_LABELS})[w.status] += 1
    services = [[Markup(f'<a href="#{_service_anchor(v.service)}">{escape(v.service)}</a>'),
                 "n/a" if v.health_score is None else f"{v.health_score:.0f}", v.slo_windows,
                 by_status[v.service]["met"], by_status[v.service]["at_risk"], v.failed, by_status[v.service]["insufficient_data"]]
                for v in month.services]
    quality = _quality_text(month.data_quality)
    if month.compliance_percent is None:  # no window could be judged: say why instead of a figure
        figure = '<div class="card insufficient_data"><div class="n">n/a</div><div>SLO windows met</div></div></div>'
        why = ('<p class="no-figure">No compliance figure this month: every SLO window has insufficient data '
               '(too few events in the window to judge it; see the data line below).</p>')
    else:
        figure = f'<div class="card"><div class="n">{month.compliance_percent:g}%</div><div>SLO windows met</div></div></div>'
        why = ""
    drawn = [w for w in _worst_first(windows) if w.error_budget.consumed_ratio is not None][:MAX_SUMMARY_BARS]
    caption = (f"Error budget consumed by the {len(drawn)} SLO windows that spent the most (of {len(windows)}; "
               "dashed: 50 / 80 / 100%)")
    attention_html = ("<p>No SLO window failed or is at risk.</p>" if not attention else
                      _table(["SLO window", "service", "status", "SLI", "95% interval", "unmeasured", "target", "budget left",
                              "page alerts", "ticket alerts"], rows)
                      + _more(len(rows), len(attention), "window needing attention", "each service's section"))
    return (
        f'<section id="summary"><h2>Summary</h2><div class="cards">{cards}{figure}{why}'
        + f"<p class=\"quality\">Data: {escape(quality)}.</p>"
        + "<h3>Service health</h3>"
        + _table(["service", "health score (0-100)", "SLO windows", "met", "at risk", "failed", "insufficient data"], services)
        + f"<h3>Needs attention: {_plural(len(attention), 'SLO window')} failed or at risk</h3>" + attention_html
        + _figure(svg_charts.consumed_bars([(w.label, w.status, w.error_budget.consumed_ratio) for w in drawn]), caption)
        + "</section>"
    )


def _alerts_table(window: WindowEvaluation) -> str:
    """This window's alerts (and what the low-traffic gate held back), over the window's own period."""
    # (start, severity, windows, threshold, end, peak): burn-rate alerts and policy alerts in one table
    alerts = [(a.start_ms, a.severity, f"{a.long_window}/{a.short_window}", a.burn_rate_threshold, a.end_ms, a.peak_burn_rate)
              for a in window.alerts]
    alerts += [(p.start_ms, f"{p.severity} ({p.policy})", p.lookback_window, p.threshold, p.end_ms, p.peak_burn_rate)
               for p in window.policy_alerts]
    period = escape(_period_text(window))
    out = [f"<h4>Alerts, {period}</h4>"]
    if not alerts:
        out.append(f"<p>No burn-rate alert fired in this window ({period}).</p>")
    else:
        rows = [[severity, windows, _num(threshold), iso(start), iso(end), _num(peak, 2)]
                for start, severity, windows, threshold, end, peak in sorted(alerts, key=lambda a: a[0])[:MAX_ALERT_ROWS]]
        out.append(_table(["severity", "windows", "threshold", "start", "end", "peak burn rate"], rows)
                   + _more(len(rows), len(alerts), "alert", "error_budgets.json"))
    gate, held = window.low_traffic_gate, window.alerts_held_back
    if held:
        out.append(f"<p>The low-traffic gate (an alert needs at least {_plural(gate.min_bad_events, 'bad event')} in its "
                   f"long window) held back {_plural(len(held), 'alert')}:</p>")
        out.append(_table(["severity", "windows", "threshold", "start", "end", "peak burn rate", "bad events in the long window"],
                          [[h.severity, f"{h.long_window}/{h.short_window}", _num(h.burn_rate_threshold), iso(h.start_ms),
                            iso(h.end_ms), _num(h.peak_burn_rate, 2), _num(h.bad_in_long_window)] for h in held[:MAX_ALERT_ROWS]])
                   + _more(min(len(held), MAX_ALERT_ROWS), len(held), "held-back alert", "error_budgets.json"))
    return "".join(out)


BUDGET_ALERT_LABELS = {  # what each budget-state alert means (docs/concepts.md, "Budget-state alerts")
    "budget_critical": f"error budget critical (under {float(B.BUDGET_CRITICAL_BELOW) * 100:g}% left)",
    "budget_warning": f"error budget warning ({float(B.BUDGET_CRITICAL_BELOW) * 100:g}-{float(B.BUDGET_WARNING_BELOW) * 100:g}% left)",
    "slo_violated": "SLO violated (SLI below target so far)",
    "high_burn_rate": f"high burn rate (over {float(B.HIGH_BURN_RATE):g}x for {B.HIGH_BURN_LONG}, still over it for {B.HIGH_BURN_SHORT})",
    "latency_threshold_violated": f"latency threshold violated (over {B.LATENCY_WINDOW})",
}


def _budget_alert_value(alert) -> str:
    if alert.alert in ("high_burn_rate", "latency_threshold_violated"):
        return f"peak burn rate {_num(alert.value, 2)}"
    return f"lowest budget left {_pct(alert.value, 1)}"


def _budget_alerts_table(window: WindowEvaluation) -> str:
    """When each budget-state alert would have fired, over the window's own period."""
    period = escape(_period_text(window))
    alerts = window.budget_alerts
    if not alerts:
        return f"<h4>Budget-state alerts, {period}</h4><p>None would have fired.</p>"
    rows = [[BUDGET_ALERT_LABELS.get(a.alert, a.alert), a.severity, iso(a.start_ms), iso(a.end_ms), a.minutes, _budget_alert_value(a)]
            for a in alerts[:MAX_ALERT_ROWS]]
    return (f"<h4>Budget-state alerts, {period}</h4>"
            + _table(["alert", "severity", "start", "end", "minutes", "worst"], rows)
            + _more(len(rows), len(alerts), "budget-state alert", "error_budgets.json"))


def _budget_alerts_text(window: WindowEvaluation) -> str:
    """The budget-state alerts in one line: each kind, how often and when it first fired."""
    if not window.budget_alerts:
        return "Budget-state alerts: none would have fired."
    parts = []
    for name in B.BUDGET_ALERTS:
        runs = [a for a in window.budget_alerts if a.alert == name]
        if runs:
            parts.append(f"{BUDGET_ALERT_LABELS[name]} {_plural(len(runs), 'time')}, first at {iso(runs[0].start_ms)}")
    return "Budget-state alerts: " + "; ".join(parts) + "."


def _throughput_text(window: WindowEvaluation) -> str:
    t = window.throughput
    if t is None:
        return ""
    ops = {"gte": "at least", "gt": "more than", "lte": "at most", "lt": "less than"}
    mean = "n/a" if t.mean_rate is None else f"{_num(t.mean_rate, 4)}"
    return (f" Throughput: a {t.slice_minutes}-minute slice is good at {ops[t.op]} {_num(t.value, 6)} requests/second; "
            f"the window's mean rate was {mean} requests/second.")


def _thresholds_text(window: WindowEvaluation) -> str:
    parts = [f"{t.percent}% {'crossed at ' + iso(t.crossed_at_ms) if t.crossed_at_ms is not None else 'not crossed'}"
             for t in window.thresholds]
    return f"Budget thresholds, {_period_text(window)}: " + ("; ".join(parts) if parts else "none") + "."


def _forecast_text(window: WindowEvaluation) -> str:
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


def _window_incidents(entry: dict | None, window: WindowEvaluation) -> list[dict]:
    """The plan's incidents (merged over all the SLO's windows) that overlap one of this window's own alerts."""
    if entry is None:
        return []
    spans = [(iso(a.start_ms), iso(a.end_ms)) for a in window.alerts]
    return [i for i in entry["incidents"] if any(start < i["end"] and end > i["start"] for start, end in spans)]


def _review_link(slo: str, incident: dict) -> Markup:
    """The incident's review draft, beside the report (incident_reviews writes one per plan incident)."""
    name = layout.file_name(layout.INCIDENT_REVIEWS, incident_id(slo, incident["start"]))
    return Markup(f'<a class="review" href="{escape(name)}">review draft</a>')


def _incidents(incidents: list[dict], window: WindowEvaluation) -> str:
    out = [f"<h4>Incidents in this window, {escape(_period_text(window))} ({len(incidents)})</h4>"]
    if not incidents:
        out.append("<p>None: no alert of this window is part of an incident.</p>")
    for incident in incidents[:MAX_ALERT_ROWS]:
        codes = ", ".join(f"{c['status']}×{c['bad_events']}" for c in incident.get("top_status_codes", []))
        ops = ", ".join(f"{o['operation']} ×{o['bad_events']}" for o in incident.get("top_operations", []))
        lines = "\n".join(f"{line['source']}  {line['raw']}" for line in incident.get("sample_lines", []))
        clients = (incident.get("clients") or {}).get("distinct")
        clients = "unknown (the logs carry no client field)" if clients is None else f"{clients:,}"
        out.append(
            f'<details><summary>{escape(incident["severity"])}: {escape(incident["start"])} → {escape(incident["end"])}, '
            f'{_plural(incident["bad_events"], "bad event")}, peak burn {_num(incident.get("peak_burn_rate"), 2)} · '
            f'{_review_link(window.slo, incident)}</summary>'
            f"<p>Status codes: {escape(codes) or 'n/a'}. Operations: {escape(ops) or 'n/a'}. Distinct clients: {escape(clients)}.</p>"
            f"<pre>{escape(lines)}</pre></details>")
    out.append(_more(min(len(incidents), MAX_ALERT_ROWS), len(incidents), "incident", "remediation_plan.json"))
    return "".join(out)


def _review_drafts(entry: dict | None) -> str:
    """Every incident of the SLO with its review draft, whatever its windows' status (a met SLO may have paged)."""
    if not entry or not entry.get("incidents"):
        return ""
    rows = [[i["severity"], i["start"], i["end"], i["bad_events"], _review_link(entry["slo"], i)] for i in entry["incidents"]]
    return (f"<h4>Incidents of {escape(entry['slo'])} and their review drafts</h4>"
            + _table(["severity", "start", "end", "bad events", "draft"], rows))


def _plan_actions(entry: dict | None) -> str:
    if not entry or not entry.get("actions"):
        return ""
    return (f"<h4>Remediation plan for {escape(entry['slo'])} (all its windows, the whole month)</h4>"
            + _table(["order", "runbook", "action", "kind"], [[a.get("order"), a["runbook"], a["name"], a["kind"]] for a in entry["actions"]]))


def _frame_rows(frame: pl.DataFrame | None, slo: str, columns: list[str]) -> list[list]:
    if frame is None or frame.is_empty() or "slo" not in frame.columns:
        return []
    present = [c for c in columns if c in frame.columns]
    return [list(r) for r in frame.filter(pl.col("slo") == slo).select(present).iter_rows()]


RUN_COLUMNS = ["runbook", "action", "kind", "status", "reason", "attempts", "started_at", "finished_at"]
LEARNING_COLUMNS = ["runbook", "action", "reference", "sli_before", "sli_after", "burn_rate_before", "burn_rate_after",
                    "recovered", "minutes_to_recover"]


def _composite_text(window: WindowEvaluation) -> str:
    """What a composite SLO window is made of; empty for a measured SLO."""
    if not window.components:
        return ""
    parts = ", ".join(f"{c.slo} (weight {_num(c.weight)})" for c in window.components)
    how = ("good and total are weight x events" if window.budgeting_method == "Occurrences"
           else "a slice is bad when it is bad in any component")
    return f"Composite of {parts}: {how}. "


def _budget_text(window: WindowEvaluation) -> str:
    budget = window.error_budget
    return _composite_text(window) + (f"{window.service}: SLI {_pct(window.sli)} against {_pct(window.target, 2)} ({window.budgeting_method}), "
            f"{_num(window.good)} good of {_num(window.total)}; budget allowed {_num(budget.allowed)}, consumed "
            f"{_num(budget.consumed)} ({_pct(budget.consumed_ratio, 1)}). Window {iso(window.window_start_ms)} → "
            f"{iso(window.window_end_ms)}." + _throughput_text(window) + " " + _coverage_text(window)).rstrip()


NO_EVENT = "No event in this window: no SLI and no budget figure."


def _window_section(window: WindowEvaluation, part: pl.DataFrame, period_end_ms: int, plan_by_slo: dict) -> str:
    """A failed or at-risk SLO window in full: figures, three charts, forecast, thresholds, alerts, incidents.
    `part`: its chart series."""
    days, daily = _daily_sli(part)
    drawn = _coarsen(part, -(-part.height // DRAWN_POINTS))
    ts = drawn["ts"].to_list()
    start, end = window.window_start_ms, window.window_end_ms
    forecast = window.forecast
    alerts = [(a.severity, a.start_ms, a.end_ms) for a in window.alerts]
    html = [f'<section class="slo" id="{escape(_anchor(window))}"><h3>{escape(window.label)} {_status_cell(window)}</h3>',
            f"<p>{escape(_budget_text(window))}</p>",
            f'<p class="no-figure">{NO_EVENT}</p>' if window.events == 0 else "",
            _figure(svg_charts.burn_down(ts, drawn["remaining_ratio"].to_list(), start, end, period_end_ms,
                                         window.error_budget.remaining_ratio, forecast.projected_consumed_ratio_at_period_end,
                                         forecast.probability_exhausted_by_period_end),
                    "Remaining budget against the ideal linear spend; dashed lines at 50 / 80 / 100% spent; forecast to the period end"),
            _figure(svg_charts.burn_rates(ts, drawn["burn_1h"].to_list(), drawn["burn_6h"].to_list(), start, end, alerts),
                    "1h and 6h burn rates (log scale above 1); shaded: replayed alert firings"),
            _figure(svg_charts.daily_sli(days, daily, float(window.target), start, end), "Daily SLI against the target"),
            f"<p class=\"forecast\">{escape(_forecast_text(window))}</p>",
            f"<p class=\"thresholds\">{escape(_thresholds_text(window))}</p>",
            _alerts_table(window), _budget_alerts_table(window)]
    entry = plan_by_slo.get(window.slo)
    if entry is not None:
        html.append(_incidents(_window_incidents(entry, window), window))
    html.append("</section>")
    return "".join(html)


def _window_row(window: WindowEvaluation) -> list:
    """A window's row in its service's table: attention windows link to their section, the others
    carry their anchor and their figures in the row and its details."""
    if window.status in ATTENTION:
        name = Markup(f'<a href="#{escape(_anchor(window))}">{escape(window.label)}</a>')
        note = Markup("<a href=\"#" + escape(_anchor(window)) + "\">details below</a>")
    else:
        name = Markup(f'<span id="{escape(_anchor(window))}">{escape(window.label)}</span>')
        lines = [_budget_text(window), _forecast_text(window), _thresholds_text(window), _budget_alerts_text(window)]
        if window.events == 0:
            lines.insert(0, NO_EVENT)
        note = Markup("<details><summary>" + ("no events" if window.events == 0 else "figures") + "</summary>"
                      + "".join(f"<p>{escape(line)}</p>" for line in lines) + "</details>")
    return [name, _status_cell(window), _pct(window.sli), _interval_text(window), _unmeasured_text(window), _pct(window.target, 2),
            _pct(window.error_budget.remaining_ratio, 1),
            window.alert_count("page"), window.alert_count("ticket"), window.low_traffic_gate.held_back, note]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"


def _latency_table(latency: Mapping[str, LatencyPercentiles], windows: list[WindowEvaluation]) -> str:
    """The service's latency SLOs: exact p50, p95 and p99 of their requests over the month."""
    shown = [latency[slo] for slo in dict.fromkeys(w.slo for w in windows) if slo in latency]
    if not shown:
        return ""
    rows = [(p.slo, _ms(p.p50_ms), _ms(p.p95_ms), _ms(p.p99_ms), f"{p.samples:,}") for p in shown]
    return ("<h3>Latency percentiles</h3><p class=\"meta\">Exact, over the month's requests with a duration that the SLO counts.</p>"
            + _table(["SLO", "p50", "p95", "p99", "requests timed"], rows))


def _service_section(docs: MonthDocuments, service: str, windows: list[WindowEvaluation], parts: dict, period_end_ms: int,
                     plan_by_slo: dict) -> str:
    attention = [w for w in windows if w.status in ATTENTION]
    html = [f'<section class="service" id="{escape(_service_anchor(service))}"><h2>{escape(service)}</h2>',
            f"<p>{_plural(len(windows), 'SLO window')}, {len(attention)} failed or at risk.</p>",
            _table(["SLO window", "status", "SLI", "95% interval", "unmeasured", "target", "budget left", "page alerts", "ticket alerts",
                    "held back (low traffic)", ""], [_window_row(w) for w in windows], "windows")]
    html.append(_latency_table(docs.latency or {}, windows))
    empty = docs.series.clear()
    html += [_window_section(w, parts.get(w.key, empty), period_end_ms, plan_by_slo) for w in attention]
    for slo in dict.fromkeys(w.slo for w in windows):  # the plan, runs and learning belong to the SLO: shown once
        html.append(_review_drafts(plan_by_slo.get(slo)))
        html.append(_plan_actions(plan_by_slo.get(slo)))
        runs = _frame_rows(docs.runs, slo, RUN_COLUMNS)
        if runs:
            html.append(f"<h4>Remediation runs of {escape(slo)}</h4>" + _table([c for c in RUN_COLUMNS if c in docs.runs.columns], runs))
        learned = _frame_rows(docs.learning, slo, LEARNING_COLUMNS)
        if learned:
            html.append(f"<h4>Learning record of {escape(slo)}</h4>"
                        + _table([c for c in LEARNING_COLUMNS if c in docs.learning.columns], learned))
    html.append("</section>")
    return "".join(html)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 2rem;color:#222}
h1{margin-bottom:.2rem} .meta{color:#666;font-size:.85rem} h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem} th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
th{background:#f5f5f5} .note{color:#8a5a00;font-size:.8rem} .badge{border-radius:.6rem;padding:.05rem .5rem;color:#fff;font-size:.8rem;vertical-align:middle}
.cards{display:flex;gap:.8rem;flex-wrap:wrap;margin:.5rem 0}.card{color:#fff;background:#455a64;border-radius:.4rem;padding:.5rem 1rem;min-width:7rem}
.met{background:#2e7d32}.at_risk{background:#f9a825}.failed{background:#c62828}.insufficient_data{background:#9e9e9e}
.card .n{font-size:1.6rem;font-weight:600} figure.chart{margin:.6rem 0} figure.chart svg{max-width:100%;height:auto}
figcaption{color:#666;font-size:.8rem} pre{background:#f7f7f7;padding:.5rem;overflow-x:auto;font-size:.75rem;white-space:pre}
nav a{margin-right:.8rem} details{margin:.3rem 0} .more{color:#666;font-size:.8rem;font-style:italic}
table.windows details p{margin:.2rem 0;max-width:60rem} section.slo{border-left:3px solid #eee;padding-left:.8rem}
"""


MAX_TARGET_ROWS = 100


def _targets_section(docs: MonthDocuments) -> str:
    """Each SLO objective's ladder: the probability of meeting each rung next month and the budget it allows."""
    risks = risks_from_targets(docs.targets) if docs.targets is not None else []
    if not risks:
        return ""
    rows = risk_rows(risks[:MAX_TARGET_ROWS])
    return ('<section id="targets"><h2>Targets with a stated risk</h2><p>Probability of meeting each target next month, '
            "simulated as months of 30 days drawn with replacement from the history's days (column days; fixed seed), "
            "and the bad events or minutes the target allows in the mean simulated month.</p>"
            + _table(risk_headers(LADDER), rows)
            + _more(len(rows), len(risks), "SLO objective", "slo_targets in the warehouse") + "</section>")


MAX_ADJUSTMENT_ROWS = 100
ADJUSTMENT_EFFECTS = {"Exclude": "excluded", "CountAsGood": "counted as good"}


def _adjustments_section(docs: MonthDocuments) -> str:
    """What each budget adjustment returned in each SLO window it has an event in."""
    rows = []
    for w in docs.evaluations.windows:
        adjusted = w.budget_adjustments
        unit = "events" if w.budgeting_method == "Occurrences" else "slices"
        for a in adjusted.adjustments if adjusted is not None else ():
            rows.append([Markup(f'<a href="#{escape(_anchor(w))}">{escape(w.label)}</a>'), a.adjustment,
                         ADJUSTMENT_EFFECTS.get(a.effect, a.effect), a.events, f"{a.minutes:,}", f"{a.requests:,}",
                         f"{a.bad_requests:,}", "n/a" if a.slices is None else f"{a.slices:,}", f"{_num(a.budget_returned)} {unit}",
                         f"{_pct(adjusted.unadjusted.consumed_ratio, 1)} → {_pct(w.error_budget.consumed_ratio, 1)}"])
    if not rows:
        return ""
    return ('<section id="adjustments"><h2>Budget adjustments</h2><p>Known, accepted unreliability declared in the spec: '
            "its minutes are excluded from the budget, or their requests counted as good. Per SLO window, the budget each "
            "adjustment returned (the bad units it took out; Exclude adjustments apply first, so a minute two share is "
            "credited once), and the window's budget consumed without any adjustment and with them.</p>"
            + _table(["SLO window", "adjustment", "effect", "events", "minutes", "requests", "bad requests", "slices",
                      "budget returned", "budget consumed: unadjusted → adjusted"], rows[:MAX_ADJUSTMENT_ROWS])
            + _more(min(len(rows), MAX_ADJUSTMENT_ROWS), len(rows), "adjustment row", "compliance.json") + "</section>")


def _backtest_section(docs: MonthDocuments) -> str:
    """The month's alert-policy backtest (alert_backtest), when it was run: one row per policy."""
    if not docs.backtest:
        return ""
    return ('<section id="backtest"><h2>Alert-policy backtest</h2><p>Each alert policy (the burn-rate tiers with the '
            "low-traffic gate on and off, the budget-state alerts) replayed over the month and scored against its burn "
            "episodes: a page detects an episode when it fires during it; noise pages fire on episodes that spent under "
            f"{T.NOISE_BELOW:.0%} of the budget, misses are episodes that spent over {T.MISS_ABOVE:.0%} and never paged "
            "(docs/backtest.md).</p>" + _table(list(T.HEADERS), [list(row) for row in T.table_rows(docs.backtest)]) + "</section>")


def render(docs: MonthDocuments) -> str:
    """The report of a month: pure, the same documents give the same bytes."""
    month = docs.evaluations
    period_end_ms = month_range_ms(docs.month)[1]
    plan_by_slo = {e["slo"]: e for e in (docs.plan or {}).get("entries", [])}
    parts = by_window(docs.series)
    services: dict[str, list[WindowEvaluation]] = {}
    for window in month.windows:
        services.setdefault(window.service, []).append(window)
    ordered = sorted(services)
    sections = "".join(_service_section(docs, s, services[s], parts, period_end_ms, plan_by_slo) for s in ordered)
    adjusted = any(w.budget_adjustments is not None for w in month.windows)
    nav = ('<a href="#summary">Summary</a>' + ('<a href="#adjustments">Budget adjustments</a>' if adjusted else "")
           + "".join(f'<a href="#{escape(_service_anchor(s))}">{escape(s)}</a>' for s in ordered)
           + ('<a href="#backtest">Alert-policy backtest</a>' if docs.backtest else ""))
    state = "closed month" if month.period_complete else f"month to date, as of {iso(month.as_of_ms)}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>SLO report {escape(docs.month)}</title><style>{CSS}{svg_charts.SVG_CSS}</style></head><body>"
        f"<h1>SLO report: {escape(docs.month)}</h1>"
        f"<p class=\"meta\">{escape(state)} · generated {escape(month.generated_at)} · spec {escape(month.spec_hash)} · "
        f"code {escape(month.code_version)}</p><nav>{nav}</nav>"
        + _summary_section(docs) + _targets_section(docs) + _adjustments_section(docs) + sections + _backtest_section(docs)
        + "<footer class=\"meta\"><p>Input data versions: "
        + escape(", ".join(f"{k}={v}" for k, v in sorted(month.input_data_versions.items())))
        + "</p></footer></body></html>\n"
    )


def write_report(store: Warehouse, month: str, target: Path) -> int:
    """Render the month and write it atomically to `target`; returns its size in bytes."""
    payload = render(load_month(store, month)).encode()
    out = Warehouse(target.parent)
    out.write_bytes_atomic(out.path(target.name), payload)
    return len(payload)
