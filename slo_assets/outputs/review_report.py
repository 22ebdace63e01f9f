"""review.html and review.json: a quarter or a year of SLOs on one page an executive can read.

An executive summary first (compliance, the SLOs that got worse, incidents and time to recover,
anomalies), then one row per SLO window: its status month by month, budget consumed, incidents,
trend and daily SLI. Self-contained like report.html: inline CSS and SVG, no script, names escaped.
`render_html` and `to_json` are pure: this module prepares the page's view data (the dataclasses
below), templates/review.html.j2 lays it out and escapes every text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from markupsafe import Markup

from slo_assets.outputs import sparklines, templates
from slo_assets.outputs.report import STATUS_LABELS
from slo_assets.slo.review import K_MAD, PeriodReview, SloReview


@dataclass(frozen=True)
class Summary:
    """The executive summary's figures, as the page words them."""

    compliance_percent: str | None  # None: no window was judged
    compliant: int
    judged: int
    missing_months: str | None
    overspent: tuple[tuple[str, str], ...]  # (SLO, budget consumed)
    degrading: int
    degrading_slos: str | None
    improving: int
    flat: int
    incidents: int
    time_to_recover: str
    anomalies: str | None  # the first few SLOs and days or months below their usual level
    more_anomalies: int


@dataclass(frozen=True)
class MonthCell:
    css: str  # the status, or "none" for a month not evaluated
    month: str
    label: str
    sli: str


@dataclass(frozen=True)
class Trend:
    css: str  # "up", "down" or empty
    direction: str
    slope: str


@dataclass(frozen=True)
class Row:
    """An SLO window over the period."""

    slo: str
    objective: str
    window: str
    target: str
    months: tuple[MonthCell, ...]
    budget_consumed: str
    incidents: int
    time_to_recover: str
    trend: Trend | None  # None: no slope (fewer than two months with an SLI)
    low: str  # the days and months below the usual level
    chart: Markup | None  # the daily SLI (sparklines.svg); None without a day of data


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _minutes(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


def _trend(review: SloReview) -> Trend | None:
    trend = review.trend
    if trend.slope_pp_per_month is None:
        return None
    return Trend({"improving": "up", "degrading": "down"}.get(trend.direction, ""), trend.direction, f"{trend.slope_pp_per_month:+.3f}")


def _summary(period: PeriodReview) -> Summary:
    missing = [m for m in period.months if m not in period.evaluated_months]
    overspent = sorted((r for r in period.slos if r.budget_consumed is not None and r.budget_consumed > 1),
                       key=lambda r: -r.budget_consumed)
    worse, better = period.degrading(), period.improving()
    flagged = sorted({(r.slo, a.grain, a.key) for r in period.slos for a in r.anomalies if a.direction == "below"})
    return Summary(
        None if period.compliance_percent is None else f"{period.compliance_percent:g}", period.compliant, period.judged,
        ", ".join(missing) if missing else None, tuple((r.slo, _pct(r.budget_consumed, 0)) for r in overspent),
        len(worse), ", ".join(sorted({r.slo for r in worse})) if worse else None, len(better), len(period.slos) - len(worse) - len(better),
        period.incidents, _minutes(period.time_to_recover_minutes),
        ", ".join(f"{slo} on {key}" for slo, _, key in flagged[:8]) if flagged else None, max(0, len(flagged) - 8))


def _row(review: SloReview, daily: list[float | None], index: int) -> Row:
    months = tuple(MonthCell(c.status or "none", c.month, STATUS_LABELS.get(c.status, "not evaluated"), _pct(c.sli, 3))
                   for c in review.months)
    known = [v for v in daily if v is not None]
    chart = None
    if known:
        low = min(min(known), review.target) - 0.001
        chart = Markup(sparklines.svg(daily, sparklines.colour(index), low, 1.0, review.target))
    below = [a for a in review.anomalies if a.direction == "below"]
    low_days = ", ".join(a.key for a in below[:4]) + (f" +{len(below) - 4}" if len(below) > 4 else "")
    return Row(review.slo, review.objective, review.window, f"{review.target * 100:g}", months,
               _pct(review.budget_consumed, 0) if review.budget_consumed is not None else "rolling: n/a", review.incidents,
               _minutes(review.time_to_recover_minutes), _trend(review), low_days or "none", chart)


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
        sections.append((service, tuple(rows)))
    return templates.render("review.html.j2", period=period, summary=_summary(period), sections=sections,
                            evaluated=f"{len(period.evaluated_months)} of {len(period.months)} months evaluated", k_mad=f"{K_MAD:g}")


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
