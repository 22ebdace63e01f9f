"""Quarterly and yearly reviews: what a period of months says about each SLO, for people who read one page.

Pure: the months' evaluations (compliance.json + error_budgets.json), their remediation plans and
the daily SLIs in; a PeriodReview out. Definitions (docs/reviews.md says the same):

- compliance: SLO window-months met or at risk among those judged (insufficient data is not judged),
  the month's own rule (compliance.json's compliance_percent) over every month of the period;
- budget consumed: for a calendar-month window, the period's consumed budget units over its allowed
  ones, Σ consumed / Σ allowed over the months, exact because calendar months tile the period. A
  rolling window's months overlap, so it has none: its months' statuses still count;
- incidents: the remediation plans' incidents (first bad minute to recovery) that began in the period;
  time to recover: their median duration in minutes;
- trend: the least-squares slope of the monthly SLI against the month's index, in percentage points
  per month; "improving" or "degrading" when |slope| ≥ TREND_FLAT_PP, else "flat"; "n/a" under two
  months with an SLI;
- anomalies: days and months whose SLI is beyond K_MAD robust deviations of the period's own days or
  months: the modified z-score 0.6745·(x − median)/MAD (Iglewicz and Hoaglin, who suggest 3.5); when
  MAD is 0 (most days at the same SLI) the mean absolute deviation stands in, as
  (x − median)/(1.253314·MeanAD); the scale is at least SCALE_FLOOR (0.01 percentage point), so a
  day at 99.99 % among perfect days is not news; flags need at least MIN_HISTORY values, and none
  when every value is equal.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slo_assets.core.calendar import epoch_ms, month_range_ms, period_label, period_months
from slo_assets.slo.evaluation import MonthEvaluations, WindowEvaluation
from slo_assets.slo.values import JsonObject

K_MAD = 3.5
MIN_HISTORY = 5
TREND_FLAT_PP = 0.01  # percentage points per month
SCALE_FLOOR = 0.0001  # SLI ratio: the least spread an anomaly is measured against
CALENDAR_MONTH = "1M-calendar"
JUDGED = ("met", "at_risk", "failed")


@dataclass(frozen=True)
class Incident:
    slo: str
    start_ms: int
    end_ms: int
    bad_events: int

    @property
    def minutes(self) -> float:
        return (self.end_ms - self.start_ms) / 60_000


@dataclass(frozen=True)
class Trend:
    slope_pp_per_month: float | None
    direction: str  # improving, degrading, flat, n/a


@dataclass(frozen=True)
class Anomaly:
    grain: str  # day or month
    key: str
    sli: float
    median: float
    score: float  # robust deviations from the median; negative: below it

    @property
    def direction(self) -> str:
        return "below" if self.score < 0 else "above"


@dataclass(frozen=True)
class MonthCell:
    month: str
    status: str | None  # None: the month was not evaluated
    sli: float | None


@dataclass(frozen=True)
class SloReview:
    slo: str
    service: str
    objective: str
    window: str
    target: float
    months: tuple[MonthCell, ...]
    budget_consumed: float | None  # calendar-month windows only
    incidents: int
    time_to_recover_minutes: float | None
    trend: Trend
    anomalies: tuple[Anomaly, ...]

    def count(self, status: str) -> int:
        return sum(cell.status == status for cell in self.months)


@dataclass(frozen=True)
class PeriodReview:
    key: str
    label: str
    months: tuple[str, ...]
    evaluated_months: tuple[str, ...]
    compliance_percent: float | None
    judged: int
    compliant: int
    slos: tuple[SloReview, ...]
    incidents: int
    time_to_recover_minutes: float | None

    def degrading(self) -> list[SloReview]:
        return [s for s in self.slos if s.trend.direction == "degrading"]

    def improving(self) -> list[SloReview]:
        return [s for s in self.slos if s.trend.direction == "improving"]


def trend(values: Sequence[float | None]) -> Trend:
    """Least-squares slope of `values` (SLI ratios, one per month in order; None skipped) per month, in points."""
    points = [(i, v * 100) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return Trend(None, "n/a")
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    if abs(slope) < TREND_FLAT_PP:
        return Trend(slope, "flat")
    return Trend(slope, "improving" if slope > 0 else "degrading")


def anomalies(grain: str, values: Mapping[str, float], k: float = K_MAD) -> list[Anomaly]:
    """The keys whose value lies beyond k robust deviations of all the values' median (module docstring)."""
    if len(values) < MIN_HISTORY:
        return []
    series = list(values.values())
    median = statistics.median(series)
    mad = statistics.median(abs(v - median) for v in series)
    if mad > 0:
        scale = mad / 0.6745
    else:
        mean_ad = statistics.fmean(abs(v - median) for v in series)
        if mean_ad == 0:
            return []
        scale = 1.253314 * mean_ad
    scale = max(scale, SCALE_FLOOR)
    found = [Anomaly(grain, key, value, median, (value - median) / scale) for key, value in values.items()]
    return [a for a in found if abs(a.score) > k]


def incidents_of(plans: Mapping[str, JsonObject | None]) -> list[Incident]:
    """Every incident of the months' remediation plans (month -> plan document, None without one)."""
    found = []
    for plan in plans.values():
        for entry in (plan or {}).get("entries", []):
            for incident in entry.get("incidents", []):
                found.append(Incident(entry["slo"], epoch_ms(incident["start"]), epoch_ms(incident["end"]),
                                      int(incident.get("bad_events", 0))))
    return found


def _month_cell(month: str, window: WindowEvaluation | None) -> MonthCell:
    """The window's status and SLI in one month of the period (None: not evaluated that month)."""
    if window is None:
        return MonthCell(month, None, None)
    return MonthCell(month, window.status, None if window.sli is None else float(window.sli))


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def review(key: str, months: Mapping[str, MonthEvaluations], plans: Mapping[str, JsonObject | None],
           daily_sli: Mapping[str, Mapping[str, float]]) -> PeriodReview:
    """The review of period `key` (a quarter's first month YYYY-MM, or a year YYYY). `months`: the evaluated
    months of the period (a month without evaluations is left out); `daily_sli`: SLO -> day -> SLI."""
    period = period_months(key)
    start_ms, end_ms = month_range_ms(period[0])[0], month_range_ms(period[-1])[1]
    windows: dict[tuple[str, str, str], dict[str, WindowEvaluation]] = {}
    for month in period:
        if month in months:
            for window in months[month].windows:
                windows.setdefault(window.key, {})[month] = window
    incidents = [i for i in incidents_of({m: plans.get(m) for m in period}) if start_ms <= i.start_ms < end_ms]
    reviews = []
    for (slo, objective, window_name), by_month in windows.items():
        first = next(iter(by_month.values()))
        cells = tuple(_month_cell(m, by_month.get(m)) for m in period)
        consumed = None
        if window_name == CALENDAR_MONTH:
            allowed = sum(float(w.error_budget.allowed) for w in by_month.values())
            spent = sum(float(w.error_budget.consumed) for w in by_month.values())
            consumed = spent / allowed if allowed > 0 else None
        mine = [i for i in incidents if i.slo == slo]
        monthly = {c.month: c.sli for c in cells if c.sli is not None}
        flagged = anomalies("month", monthly) + anomalies("day", daily_sli.get(slo, {}))
        reviews.append(SloReview(slo, first.service, objective, window_name, float(first.target), cells, consumed, len(mine),
                                 _median([i.minutes for i in mine]), trend([c.sli for c in cells]), tuple(flagged)))
    reviews.sort(key=lambda r: (r.service, r.slo, r.objective, r.window))
    judged = sum(r.count(s) for r in reviews for s in JUDGED)
    compliant = sum(r.count("met") + r.count("at_risk") for r in reviews)
    return PeriodReview(key, period_label(key), tuple(period), tuple(m for m in period if m in months),
                        None if judged == 0 else round(100 * compliant / judged, 2), judged, compliant, tuple(reviews),
                        len(incidents), _median([i.minutes for i in incidents]))
