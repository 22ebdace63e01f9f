"""review.html and review.json: a quarter or a year of SLOs on one page an executive can read.

An executive summary first (compliance, the SLOs that got worse, incidents and time to recover,
anomalies), then one row per SLO window: its status month by month, budget consumed, incidents,
trend and daily SLI. Self-contained like report.html: inline CSS and SVG, no script, names escaped.
`render_html` and `to_json` are pure.
"""

from __future__ import annotations

import json
from html import escape

from slo_assets.outputs import sparklines
from slo_assets.outputs.report import CSS, STATUS_LABELS
from slo_assets.slo.review import K_MAD, PeriodReview, SloReview

REVIEW_CSS = """
td.m{width:1.6rem;text-align:center;color:#fff;font-size:.7rem} td.none{background:#eee;color:#999}
ul.exec{font-size:1.05rem;line-height:1.6} .down{color:#c62828;font-weight:600} .up{color:#2e7d32;font-weight:600}
"""


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _minutes(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


def _trend(review: SloReview) -> str:
    trend = review.trend
    if trend.slope_pp_per_month is None:
        return "n/a"
    css = {"improving": "up", "degrading": "down"}.get(trend.direction, "")
    return f'<span class="{css}">{escape(trend.direction)}</span> {trend.slope_pp_per_month:+.3f} pp/month'


def _summary(period: PeriodReview) -> str:
    lines = []
    if period.compliance_percent is None:
        lines.append("No SLO window was judged in the period: there was no traffic to judge.")
    else:
        lines.append(f"<b>{period.compliance_percent:g}%</b> compliance: {period.compliant} of {period.judged} judged "
                     "SLO window-months met their objective (at risk included: within it, forecast to miss).")
    missing = [m for m in period.months if m not in period.evaluated_months]
    if missing:
        lines.append(f"Months without evaluations: {escape(', '.join(missing))} (not run yet, or before the data).")
    overspent = sorted((r for r in period.slos if r.budget_consumed is not None and r.budget_consumed > 1),
                       key=lambda r: -r.budget_consumed)
    if overspent:
        lines.append("Overspent the period's error budget: " + ", ".join(
            f"{escape(r.slo)} ({_pct(r.budget_consumed, 0)})" for r in overspent) + ".")
    worse, better = period.degrading(), period.improving()
    lines.append(f"Trend of the SLO windows: <span class=\"down\">{len(worse)} degrading</span>"
                 + (f" ({escape(', '.join(sorted({r.slo for r in worse})))})" if worse else "")
                 + f", <span class=\"up\">{len(better)} improving</span>, {len(period.slos) - len(worse) - len(better)} flat or n/a.")
    lines.append(f"{period.incidents} incidents; median time to recover {_minutes(period.time_to_recover_minutes)}.")
    flagged = sorted({(r.slo, a.grain, a.key) for r in period.slos for a in r.anomalies if a.direction == "below"})
    if flagged:
        lines.append(f"Anomalies (SLI more than {K_MAD:g} robust deviations below its usual level): "
                     + escape(", ".join(f"{slo} on {key}" for slo, _, key in flagged[:8]))
                     + (f" and {len(flagged) - 8} more" if len(flagged) > 8 else "") + ".")
    return '<section id="summary"><h2>Executive summary</h2><ul class="exec">' + "".join(f"<li>{line}</li>" for line in lines) + "</ul></section>"


def _row(review: SloReview, daily: list[float | None], index: int) -> str:
    cells = "".join(
        f'<td class="m {escape(c.status or "none")}" title="{escape(c.month)}: {escape(STATUS_LABELS.get(c.status, "not evaluated"))}'
        f' {escape(_pct(c.sli, 3))}">{escape(c.month[5:])}</td>' for c in review.months)
    known = [v for v in daily if v is not None]
    chart = ""
    if known:
        low = min(min(known), review.target) - 0.001
        chart = sparklines.svg(daily, sparklines.colour(index), low, 1.0, review.target)
    below = [a for a in review.anomalies if a.direction == "below"]
    flags = escape(", ".join(a.key for a in below[:4]) + (f" +{len(below) - 4}" if len(below) > 4 else "")) or "none"
    return (f"<tr><td>{escape(review.slo)}<br><span class=\"meta\">{escape(review.objective)} · {escape(review.window)} · target "
            f"{review.target * 100:g}%</span></td><td><table><tr>{cells}</tr></table></td>"
            f"<td>{_pct(review.budget_consumed, 0) if review.budget_consumed is not None else 'rolling: n/a'}</td>"
            f"<td>{review.incidents}</td><td>{_minutes(review.time_to_recover_minutes)}</td><td>{_trend(review)}</td>"
            f"<td>{flags}</td><td>{chart}</td></tr>")


def render_html(period: PeriodReview, daily_sli: dict[str, dict[str, float]], days: list[str]) -> str:
    """The review page: pure, the same review gives the same bytes. `days`: the period's days, for the charts."""
    by_service: dict[str, list[SloReview]] = {}
    for review in period.slos:
        by_service.setdefault(review.service, []).append(review)
    sections = []
    index = 0
    for service in sorted(by_service):
        rows = []
        for review in by_service[service]:
            series = daily_sli.get(review.slo, {})
            rows.append(_row(review, [series.get(d) for d in days], index))
            index += 1
        sections.append(f"<section><h2>{escape(service)}</h2><table><tr><th>SLO</th><th>months</th><th>budget consumed</th>"
                        "<th>incidents</th><th>time to recover (median)</th><th>trend</th><th>low days / months</th>"
                        f"<th>daily SLI</th></tr>{''.join(rows)}</table></section>")
    evaluated = f"{len(period.evaluated_months)} of {len(period.months)} months evaluated"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>SLO review {escape(period.label)}</title><style>{CSS}{REVIEW_CSS}</style></head><body>"
        f"<h1>SLO review: {escape(period.label)}</h1><p class=\"meta\">{escape(period.months[0])} to {escape(period.months[-1])}"
        f" · {escape(evaluated)}</p>" + _summary(period) + "".join(sections)
        + "<footer class=\"meta\"><p>Compliance: met or at risk among judged window-months. Budget consumed: calendar-month "
        "windows, the period's consumed over allowed units. Trend: least-squares slope of the monthly SLI. Anomalies: "
        f"modified z-score beyond {K_MAD:g} of the period's own days or months (docs/reviews.md).</p></footer></body></html>\n")


def to_json(period: PeriodReview) -> bytes:
    document = {
        "schema_version": 1, "period": period.key, "label": period.label, "months": list(period.months),
        "evaluated_months": list(period.evaluated_months),
        "summary": {"compliance_percent": period.compliance_percent, "judged": period.judged, "compliant": period.compliant,
                    "incidents": period.incidents, "time_to_recover_minutes": period.time_to_recover_minutes,
                    "degrading": sorted({r.slo for r in period.degrading()}), "improving": sorted({r.slo for r in period.improving()})},
        "slos": [{
            "slo": r.slo, "service": r.service, "objective": r.objective, "window": r.window, "target": r.target,
            "months": [{"month": c.month, "status": c.status, "sli": c.sli} for c in r.months],
            "budget_consumed": r.budget_consumed, "incidents": r.incidents, "time_to_recover_minutes": r.time_to_recover_minutes,
            "trend": {"slope_pp_per_month": r.trend.slope_pp_per_month, "direction": r.trend.direction},
            "anomalies": [{"grain": a.grain, "key": a.key, "sli": a.sli, "median": a.median, "score": round(a.score, 3)}
                          for a in r.anomalies],
        } for r in period.slos],
    }
    return (json.dumps(document, indent=1) + "\n").encode()
