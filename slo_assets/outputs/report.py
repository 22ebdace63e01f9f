"""report.html: one month of SLOs in one self-contained file (inline SVG charts, inline CSS, no script,
no network at view time). Everything shown comes from the warehouse documents; log lines and names
are escaped, never interpreted.

Its cost grows with what needs attention, not with every window drawn: a summary page (cards, the
windows that failed or are at risk, the budget consumed by the worst windows, service health), then
one section per service with a row per window; only failed and at-risk windows get charts and alert
tables (tables capped, the JSON documents list everything).

`render(MonthDocuments) -> str` is pure: typed inputs in, HTML out. `load_month` reads the inputs. This
module prepares the page's view data (the types of report_page.py; its words and figures come
from report_text.py, the SVG charts from svg_charts as Markup); templates/report.html.j2 and its
macros (templates/_report.html.j2) lay it out and escape every text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from markupsafe import Markup

from slo_assets.core.calendar import DAY_MS, iso, month_range_ms
from slo_assets.outputs import svg_charts, templates
from slo_assets.outputs.report_page import (
    Alerts,
    Anchor,
    Backtest,
    BudgetAlerts,
    CappedSection,
    Details,
    Figure,
    HeldBack,
    Incident,
    Incidents,
    Link,
    More,
    Page,
    ServiceSection,
    SloTables,
    Status,
    Summary,
    Table,
    WindowSection,
)
from slo_assets.outputs.report_text import (
    BUDGET_ALERT_LABELS,
    budget_alert_value,
    composite_text,
    coverage_text,
    forecast_text,
    interval_text,
    ms_text,
    no_event_text,
    num,
    pct,
    period_text,
    plural,
    quality_text,
    thresholds_text,
    throughput_text,
    unmeasured_text,
)
from slo_assets.remediation.incident_review import incident_id
from slo_assets.remediation.models import Incident as PlanIncident
from slo_assets.remediation.models import PlanEntry, RemediationPlan
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

STATUS_LABELS = {"met": "met", "at_risk": "at risk", "failed": "failed", "insufficient_coverage": "insufficient coverage",
                 "insufficient_data": "insufficient data"}
NOT_JUDGED = ("insufficient_coverage", "insufficient_data")


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


def _status(window: WindowEvaluation) -> Status:
    return Status(window.status, STATUS_LABELS.get(window.status, window.status), window.status_note)


def _anchor(window: WindowEvaluation) -> str:
    return "slo-" + "-".join(window.key).replace(" ", "_")


def _figure(svg: str, caption: str) -> Figure:
    """A chart drawn by svg_charts (our own markup, its text escaped there) and its caption."""
    return Figure(Markup(svg), caption)


def _daily_sli(series: pl.DataFrame) -> tuple[list[int], list[float | None]]:
    """Each day's start (epoch ms) and SLI in a window's series (None on a day without units)."""
    if series.is_empty():
        return [], []
    daily = (series.group_by((pl.col("ts") // DAY_MS).alias("day")).agg(pl.col("good").sum(), pl.col("total").sum())
             .sort("day"))
    return [d * DAY_MS for d in daily["day"]], [g / t if t else None for g, t in zip(daily["good"], daily["total"], strict=True)]


DRAWN_POINTS = 120  # points per drawn line: a month's 5-minute series is drawn every ~6 hours, spikes kept
DRAWN_BUCKETS = 3
ATTENTION = ("failed", "at_risk", "insufficient_coverage")  # the windows drawn and detailed
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


def _more(shown: int, total: int, what: str, where: str) -> More | None:
    return None if total <= shown else More(f"{shown:,}", plural(total, what), where)


def _summary(docs: MonthDocuments) -> Summary:
    month = docs.evaluations
    windows = list(month.windows)
    cards = tuple((k, month.status_counts[k], STATUS_LABELS[k]) for k in STATUS_LABELS)
    attention = _worst_first([w for w in windows if w.status in ATTENTION])
    rows = [[Link(f"#{_anchor(w)}", w.label), w.service, _status(w), pct(w.sli), interval_text(w), unmeasured_text(w),
             pct(w.target, 2), pct(w.error_budget.remaining_ratio, 1), w.alert_count("page"), w.alert_count("ticket")]
            for w in attention[:MAX_ATTENTION_ROWS]]
    by_status = {v.service: {s: 0 for s in STATUS_LABELS} for v in month.services}
    for w in windows:
        by_status.setdefault(w.service, {s: 0 for s in STATUS_LABELS})[w.status] += 1
    services = [[Link(f"#{_service_anchor(v.service)}", v.service), "n/a" if v.health_score is None else f"{v.health_score:.0f}",
                 v.slo_windows, by_status[v.service]["met"], by_status[v.service]["at_risk"], v.failed,
                 by_status[v.service]["insufficient_coverage"], by_status[v.service]["insufficient_data"]]
                for v in month.services]
    drawn = [w for w in _worst_first(windows) if w.error_budget.consumed_ratio is not None][:MAX_SUMMARY_BARS]
    caption = (f"Error budget consumed by the {len(drawn)} SLO windows that spent the most (of {len(windows)}; "
               "dashed: 50 / 80 / 100%)")
    return Summary(
        cards, None if month.compliance_percent is None else f"{month.compliance_percent:g}", *_judged_text(month.status_counts),
        quality_text(month.data_quality),
        Table(["service", "health score (0-100)", "SLO windows", "met", "at risk", "failed", "insufficient coverage",
               "insufficient data"], services),
        plural(len(attention), "SLO window"),
        Table(["SLO window", "service", "status", "SLI", "95% interval", "unmeasured", "target", "budget left", "page alerts",
               "ticket alerts"], rows) if attention else None,
        _more(len(rows), len(attention), "window needing attention", "each service's section"),
        _figure(svg_charts.consumed_bars([(w.label, w.status, w.error_budget.consumed_ratio) for w in drawn]), caption))


def _judged_text(counts: Mapping[str, int]) -> tuple[str, str | None]:
    """What the compliance tile counts ('1 judged SLO window': met, at risk or failed), and how many
    windows could not be judged and why ('2 of 3 SLO windows could not be judged: 2 insufficient data')."""
    judged = sum(n for status, n in counts.items() if status not in NOT_JUDGED)
    missing = [(counts.get(status, 0), STATUS_LABELS[status]) for status in NOT_JUDGED if counts.get(status, 0)]
    if not missing:
        return f"{plural(judged, 'judged SLO window')}", None
    unjudged = sum(n for n, _ in missing)
    return (f"{plural(judged, 'judged SLO window')}",
            f"{unjudged:,} of {plural(judged + unjudged, 'SLO window')} could not be judged: "
            + ", ".join(f"{n:,} {label}" for n, label in missing))


def _alerts(window: WindowEvaluation) -> Alerts:
    """This window's alerts (and what the low-traffic gate held back), over the window's own period."""
    # (start, severity, windows, threshold, end, peak): burn-rate alerts and policy alerts in one table
    alerts = [(a.start_ms, a.severity, f"{a.long_window}/{a.short_window}", a.burn_rate_threshold, a.end_ms, a.peak_burn_rate)
              for a in window.alerts]
    alerts += [(p.start_ms, f"{p.severity} ({p.policy})", p.lookback_window, p.threshold, p.end_ms, p.peak_burn_rate)
               for p in window.policy_alerts]
    rows = [[severity, windows, num(threshold), iso(start), iso(end), num(peak, 2)]
            for start, severity, windows, threshold, end, peak in sorted(alerts, key=lambda a: a[0])[:MAX_ALERT_ROWS]]
    gate, held = window.low_traffic_gate, window.alerts_held_back
    held_back = None if not held else HeldBack(
        plural(gate.min_bad_events, "bad event"), plural(len(held), "alert"),
        Table(["severity", "windows", "threshold", "start", "end", "peak burn rate", "bad events in the long window"],
              [[h.severity, f"{h.long_window}/{h.short_window}", num(h.burn_rate_threshold), iso(h.start_ms), iso(h.end_ms),
                num(h.peak_burn_rate, 2), num(h.bad_in_long_window)] for h in held[:MAX_ALERT_ROWS]]),
        _more(min(len(held), MAX_ALERT_ROWS), len(held), "held-back alert", "error_budgets.json"))
    table = Table(["severity", "windows", "threshold", "start", "end", "peak burn rate"], rows) if alerts else None
    return Alerts(period_text(window), table, _more(len(rows), len(alerts), "alert", "error_budgets.json"), held_back)


def _budget_alerts(window: WindowEvaluation) -> BudgetAlerts:
    """When each budget-state alert would have fired, over the window's own period."""
    alerts = window.budget_alerts
    rows = [[BUDGET_ALERT_LABELS.get(a.alert, a.alert), a.severity, iso(a.start_ms), iso(a.end_ms), a.minutes, budget_alert_value(a)]
            for a in alerts[:MAX_ALERT_ROWS]]
    return BudgetAlerts(period_text(window), Table(["alert", "severity", "start", "end", "minutes", "worst"], rows) if alerts else None,
                        _more(len(rows), len(alerts), "budget-state alert", "error_budgets.json"))


def _budget_alerts_table(window: WindowEvaluation) -> str:
    """The budget-state alerts of one window, as the window's section in report.html shows them."""
    return str(templates.macro("_report.html.j2", "budget_alerts")(_budget_alerts(window)))


def _budget_alerts_text(window: WindowEvaluation) -> str:
    """The budget-state alerts in one line: each kind, how often and when it first fired."""
    if not window.budget_alerts:
        return "Budget-state alerts: none would have fired."
    parts = []
    for name in B.BUDGET_ALERTS:
        runs = [a for a in window.budget_alerts if a.alert == name]
        if runs:
            parts.append(f"{BUDGET_ALERT_LABELS[name]} {plural(len(runs), 'time')}, first at {iso(runs[0].start_ms)}")
    return "Budget-state alerts: " + "; ".join(parts) + "."


def _window_incidents(entry: PlanEntry | None, window: WindowEvaluation) -> list[PlanIncident]:
    """The plan's incidents (merged over all the SLO's windows) that overlap one of this window's own alerts."""
    if entry is None:
        return []
    spans = [(iso(a.start_ms), iso(a.end_ms)) for a in window.alerts]
    return [i for i in entry.incidents if any(start < i.end and end > i.start for start, end in spans)]


def _review_link(slo: str, incident: PlanIncident) -> Link:
    """The incident's review draft, beside the report (incident_reviews writes one per plan incident)."""
    return Link(layout.file_name(layout.INCIDENT_REVIEWS, incident_id(slo, incident.start)), "review draft", "review")


def _incidents(incidents: list[PlanIncident], window: WindowEvaluation) -> Incidents:
    shown = []
    for incident in incidents[:MAX_ALERT_ROWS]:
        codes = ", ".join(f"{c.status}×{c.bad_events}" for c in incident.top_status_codes)
        ops = ", ".join(f"{o.operation} ×{o.bad_events}" for o in incident.top_operations)
        lines = "\n".join(f"{line.source}  {line.raw}" for line in incident.sample_lines)
        distinct = incident.clients.distinct if incident.clients else None
        clients = "unknown (the logs carry no client field)" if distinct is None else f"{distinct:,}"
        shown.append(Incident(incident.severity, incident.start, incident.end, plural(incident.bad_events, "bad event"),
                              num(incident.peak_burn_rate, 2), _review_link(window.slo, incident), codes or "n/a", ops or "n/a",
                              clients, lines))
    return Incidents(period_text(window), len(incidents), tuple(shown),
                     _more(min(len(incidents), MAX_ALERT_ROWS), len(incidents), "incident", "remediation_plan.json"))


def _review_drafts(entry: PlanEntry | None) -> Table | None:
    """Every incident of the SLO with its review draft, whatever its windows' status (a met SLO may have paged)."""
    if not entry or not entry.incidents:
        return None
    rows = [[i.severity, i.start, i.end, i.bad_events, _review_link(entry.slo, i)] for i in entry.incidents]
    return Table(["severity", "start", "end", "bad events", "draft"], rows)


def _plan_actions(entry: PlanEntry | None) -> Table | None:
    if not entry or not entry.actions:
        return None
    return Table(["order", "runbook", "action", "kind"], [[a.order, a.runbook, a.action.name, a.action.kind] for a in entry.actions])


def _frame_table(frame: pl.DataFrame | None, slo: str, columns: list[str]) -> Table | None:
    """The SLO's rows of a frame (remediation runs, learning record) under the columns it has; None without a row."""
    if frame is None or frame.is_empty() or "slo" not in frame.columns:
        return None
    present = [c for c in columns if c in frame.columns]
    rows = [list(r) for r in frame.filter(pl.col("slo") == slo).select(present).iter_rows()]
    return Table(present, rows) if rows else None


RUN_COLUMNS = ["runbook", "action", "kind", "status", "reason", "attempts", "started_at", "finished_at"]
LEARNING_COLUMNS = ["runbook", "action", "reference", "sli_before", "sli_after", "burn_rate_before", "burn_rate_after",
                    "recovered", "minutes_to_recover"]


def _budget_text(window: WindowEvaluation) -> str:
    budget = window.error_budget
    return composite_text(window) + (f"{window.service}: SLI {pct(window.sli)} against {pct(window.target, 2)} ({window.budgeting_method}), "
            f"{num(window.good)} good of {num(window.total)}; budget allowed {num(budget.allowed)}, consumed "
            f"{num(budget.consumed)} ({pct(budget.consumed_ratio, 1)}). Window {iso(window.window_start_ms)} → "
            f"{iso(window.window_end_ms)}." + throughput_text(window) + " " + coverage_text(window)).rstrip()


def _window_section(window: WindowEvaluation, part: pl.DataFrame, period_end_ms: int, plan_by_slo: dict) -> WindowSection:
    """A failed, at-risk or under-covered SLO window in full: figures, three charts, forecast, thresholds, alerts, incidents.
    `part`: its chart series."""
    days, daily = _daily_sli(part)
    drawn = _coarsen(part, -(-part.height // DRAWN_POINTS))
    ts = drawn["ts"].to_list()
    start, end = window.window_start_ms, window.window_end_ms
    forecast = window.forecast
    alerts = [(a.severity, a.start_ms, a.end_ms) for a in window.alerts]
    figures = (
        _figure(svg_charts.burn_down(ts, drawn["remaining_ratio"].to_list(), start, end, period_end_ms, window.error_budget.remaining_ratio,
                                     forecast.projected_consumed_ratio_at_period_end, forecast.probability_exhausted_by_period_end),
                "Remaining budget against the ideal linear spend; dashed lines at 50 / 80 / 100% spent; forecast to the period end"),
        _figure(svg_charts.burn_rates(ts, drawn["burn_1h"].to_list(), drawn["burn_6h"].to_list(), start, end, alerts),
                "1h and 6h burn rates (log scale above 1); shaded: replayed alert firings"),
        _figure(svg_charts.daily_sli(days, daily, float(window.target), start, end), "Daily SLI against the target"))
    entry = plan_by_slo.get(window.slo)
    return WindowSection(_anchor(window), window.label, _status(window), _budget_text(window), no_event_text(window) if window.events == 0 else None,
                         figures, forecast_text(window), thresholds_text(window), _alerts(window), _budget_alerts(window),
                         None if entry is None else _incidents(_window_incidents(entry, window), window))


def _window_row(window: WindowEvaluation) -> list:
    """A window's row in its service's table: attention windows link to their section, the others
    carry their anchor and their figures in the row and its details."""
    if window.status in ATTENTION:
        name: Link | Anchor = Link(f"#{_anchor(window)}", window.label)
        note: Link | Details = Link(f"#{_anchor(window)}", "details below")
    else:
        name = Anchor(_anchor(window), window.label)
        lines = [_budget_text(window), forecast_text(window), thresholds_text(window), _budget_alerts_text(window)]
        if window.events == 0:
            lines.insert(0, no_event_text(window))
        note = Details(("no request time" if window.untimed else "no events") if window.events == 0 else "figures", tuple(lines))
    return [name, _status(window), pct(window.sli), interval_text(window), unmeasured_text(window), pct(window.target, 2),
            pct(window.error_budget.remaining_ratio, 1),
            window.alert_count("page"), window.alert_count("ticket"), window.low_traffic_gate.held_back, note]


def _latency_table(latency: Mapping[str, LatencyPercentiles], windows: list[WindowEvaluation]) -> Table | None:
    """The service's latency SLOs: exact p50, p95 and p99 of their requests over the month."""
    shown = [latency[slo] for slo in dict.fromkeys(w.slo for w in windows) if slo in latency]
    if not shown:
        return None
    return Table(["SLO", "p50", "p95", "p99", "requests timed"],
                 [(p.slo, ms_text(p.p50_ms), ms_text(p.p95_ms), ms_text(p.p99_ms), f"{p.samples:,}") for p in shown])


def _service_section(docs: MonthDocuments, service: str, windows: list[WindowEvaluation], parts: dict, period_end_ms: int,
                     plan_by_slo: dict) -> ServiceSection:
    attention = [w for w in windows if w.status in ATTENTION]
    empty = docs.series.clear()
    table = Table(["SLO window", "status", "SLI", "95% interval", "unmeasured", "target", "budget left", "page alerts", "ticket alerts",
                   "held back (low traffic)", ""], [_window_row(w) for w in windows], "windows")
    slos = tuple(SloTables(slo, _review_drafts(plan_by_slo.get(slo)), _plan_actions(plan_by_slo.get(slo)),  # shown once per SLO
                           _frame_table(docs.runs, slo, RUN_COLUMNS), _frame_table(docs.learning, slo, LEARNING_COLUMNS))
                 for slo in dict.fromkeys(w.slo for w in windows))
    return ServiceSection(service, _service_anchor(service), plural(len(windows), "SLO window"), len(attention), table,
                          _latency_table(docs.latency or {}, windows),
                          tuple(_window_section(w, parts.get(w.key, empty), period_end_ms, plan_by_slo) for w in attention), slos)


MAX_TARGET_ROWS = 100


def _targets(docs: MonthDocuments) -> CappedSection | None:
    """Each SLO objective's ladder: the probability of meeting each rung next month and the budget it allows."""
    risks = risks_from_targets(docs.targets) if docs.targets is not None else []
    if not risks:
        return None
    rows = risk_rows(risks[:MAX_TARGET_ROWS])
    return CappedSection(Table(risk_headers(LADDER), rows), _more(len(rows), len(risks), "SLO objective", "slo_targets in the warehouse"))


MAX_ADJUSTMENT_ROWS = 100
ADJUSTMENT_EFFECTS = {"Exclude": "excluded", "CountAsGood": "counted as good"}


def _adjustments(docs: MonthDocuments) -> CappedSection | None:
    """What each budget adjustment returned in each SLO window it has an event in."""
    rows = []
    for w in docs.evaluations.windows:
        adjusted = w.budget_adjustments
        unit = "events" if w.budgeting_method == "Occurrences" else "slices"
        for a in adjusted.adjustments if adjusted is not None else ():
            rows.append([Link(f"#{_anchor(w)}", w.label), a.adjustment,
                         ADJUSTMENT_EFFECTS.get(a.effect, a.effect), a.events, f"{a.minutes:,}", f"{a.requests:,}",
                         f"{a.bad_requests:,}", "n/a" if a.slices is None else f"{a.slices:,}", f"{num(a.budget_returned)} {unit}",
                         f"{pct(adjusted.unadjusted.consumed_ratio, 1)} → {pct(w.error_budget.consumed_ratio, 1)}"])
    if not rows:
        return None
    return CappedSection(Table(["SLO window", "adjustment", "effect", "events", "minutes", "requests", "bad requests", "slices",
                                "budget returned", "budget consumed: unadjusted → adjusted"], rows[:MAX_ADJUSTMENT_ROWS]),
                         _more(min(len(rows), MAX_ADJUSTMENT_ROWS), len(rows), "adjustment row", "compliance.json"))


def _backtest(docs: MonthDocuments) -> Backtest | None:
    """The month's alert-policy backtest (alert_backtest), when it was run: one row per policy."""
    if not docs.backtest:
        return None
    return Backtest(f"{T.NOISE_BELOW:.0%}", f"{T.MISS_ABOVE:.0%}", Table(list(T.HEADERS), [list(row) for row in T.table_rows(docs.backtest)]))


def render(docs: MonthDocuments) -> str:
    """The report of a month: pure, the same documents give the same bytes."""
    month = docs.evaluations
    period_end_ms = month_range_ms(docs.month)[1]
    plan_by_slo = {e.slo: e for e in RemediationPlan.model_validate(docs.plan).entries} if docs.plan else {}
    parts = by_window(docs.series)
    services: dict[str, list[WindowEvaluation]] = {}
    for window in month.windows:
        services.setdefault(window.service, []).append(window)
    ordered = sorted(services)
    adjusted = any(w.budget_adjustments is not None for w in month.windows)
    nav = (Link("#summary", "Summary"), *([Link("#adjustments", "Budget adjustments")] if adjusted else []),
           *(Link(f"#{_service_anchor(s)}", s) for s in ordered), *([Link("#backtest", "Alert-policy backtest")] if docs.backtest else []))
    page = Page(
        docs.month, "closed month" if month.period_complete else f"month to date, as of {iso(month.as_of_ms)}", month.generated_at,
        month.spec_hash, month.code_version, nav, _summary(docs), _targets(docs), _adjustments(docs),
        tuple(_service_section(docs, s, services[s], parts, period_end_ms, plan_by_slo) for s in ordered), _backtest(docs),
        ", ".join(f"{k}={v}" for k, v in sorted(month.input_data_versions.items())), Markup(svg_charts.SVG_CSS))
    return templates.render("report.html.j2", page=page)


def write_report(store: Warehouse, month: str, target: Path) -> int:
    """Render the month and write it atomically to `target`; returns its size in bytes."""
    payload = render(load_month(store, month)).encode()
    out = Warehouse(target.parent)
    out.write_bytes_atomic(out.path(target.name), payload)
    return len(payload)
