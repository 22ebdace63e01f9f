"""The evaluation of one SLO window as a typed contract (in the spirit of slo-generator's SLOReport).

`chain.evaluate` builds a `WindowEvaluation` once; every consumer (the compliance and error-budget
documents, the exposition, the report, the charts, the remediation plan, the asset metadata) reads
its fields. It is serialized in one place: `to_json()` gives the JSON object the documents have
always held (docs/outputs.md), `from_json()` reads it back, and the round trip is exact.

Figures keep the JSON's numbers (int when integral, else float: `budget.as_number`); instants are
epoch milliseconds, shown as ISO-8601 to the second.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import polars as pl

from slo_assets.core.calendar import epoch_ms, iso
from slo_assets.slo.confidence import Confidence
from slo_assets.slo.coverage import Coverage

Number = int | float
Status = Literal["met", "at_risk", "failed", "insufficient_data"]
STATUSES: tuple[Status, ...] = ("met", "at_risk", "failed", "insufficient_data")


def _ms(text: str | None) -> int | None:
    return None if text is None else epoch_ms(text)


# Alerts start and end on whole minutes of a few months: a month of 500 SLO windows formats the same
# instants hundreds of thousands of times, so each is formatted once.
_iso_once = lru_cache(maxsize=1 << 17)(iso)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else _iso_once(ms)


@dataclass(frozen=True)
class ErrorBudget:
    allowed: Number
    consumed: Number
    consumed_ratio: Number | None  # None when nothing is allowed (no unit in the window)
    remaining_ratio: Number | None

    def to_json(self) -> dict:
        return {"allowed": self.allowed, "consumed": self.consumed, "consumed_ratio": self.consumed_ratio,
                "remaining_ratio": self.remaining_ratio}

    @classmethod
    def from_json(cls, data: dict) -> ErrorBudget:
        return cls(data["allowed"], data["consumed"], data["consumed_ratio"], data["remaining_ratio"])


@dataclass(frozen=True)
class BurnRates:
    """Burn rate at the end of the data per burn window (5m ... 3d, in the windows' order), and over the period."""

    at_end: tuple[tuple[str, float], ...]
    period: float | None

    def rate(self, label: str) -> float | None:
        return self.period if label == "period" else dict(self.at_end)[label]

    def items(self) -> list[tuple[str, float | None]]:
        """(burn window, rate) pairs, 'period' last, as the documents list them."""
        return [*self.at_end, ("period", self.period)]

    def to_json(self) -> dict:
        return dict(self.items())

    @classmethod
    def from_json(cls, data: dict) -> BurnRates:
        return cls(tuple((k, v) for k, v in data.items() if k != "period"), data.get("period"))


@dataclass(frozen=True)
class Alert:
    """A replayed multiwindow burn-rate alert: a maximal run of minutes where both windows burned too fast."""

    severity: str
    long_window: str
    short_window: str
    burn_rate_threshold: Number
    start_ms: int
    end_ms: int  # exclusive: the first minute it no longer held
    minutes: int
    peak_burn_rate: float

    def to_json(self) -> dict:
        return {"severity": self.severity, "long_window": self.long_window, "short_window": self.short_window,
                "burn_rate_threshold": self.burn_rate_threshold, "start": _iso_once(self.start_ms), "end": _iso_once(self.end_ms),
                "minutes": self.minutes, "peak_burn_rate": self.peak_burn_rate}

    @classmethod
    def from_json(cls, data: dict) -> Alert:
        return cls(data["severity"], data["long_window"], data["short_window"], data["burn_rate_threshold"],
                   epoch_ms(data["start"]), epoch_ms(data["end"]), data["minutes"], data["peak_burn_rate"])


@dataclass(frozen=True)
class HeldBackAlert(Alert):
    """An alert the low-traffic gate held back: its long window had fewer bad units than the gate asks."""

    bad_in_long_window: Number = 0

    def to_json(self) -> dict:
        return {**super().to_json(), "bad_in_long_window": self.bad_in_long_window}

    @classmethod
    def from_json(cls, data: dict) -> HeldBackAlert:
        alert = Alert.from_json(data)
        return cls(**{f: getattr(alert, f) for f in Alert.__dataclass_fields__}, bad_in_long_window=data["bad_in_long_window"])


@dataclass(frozen=True)
class PolicyAlert:
    """A firing of an OpenSLO AlertPolicy condition (burn over its lookback, held for alert_after)."""

    policy: str
    condition: str
    severity: str
    threshold: Number
    lookback_window: str
    start_ms: int
    end_ms: int
    peak_burn_rate: float

    def to_json(self) -> dict:
        return {"policy": self.policy, "condition": self.condition, "severity": self.severity, "threshold": self.threshold,
                "lookback_window": self.lookback_window, "start": _iso_once(self.start_ms), "end": _iso_once(self.end_ms),
                "peak_burn_rate": self.peak_burn_rate}

    @classmethod
    def from_json(cls, data: dict) -> PolicyAlert:
        return cls(data["policy"], data["condition"], data["severity"], data["threshold"], data["lookback_window"],
                   epoch_ms(data["start"]), epoch_ms(data["end"]), data["peak_burn_rate"])


@dataclass(frozen=True)
class BudgetAlert:
    """A replayed budget-state alert (budget_critical, budget_warning, slo_violated, high_burn_rate,
    latency_threshold_violated): a run of minutes it held; `value` its worst figure then (the lowest
    remaining budget ratio, or the highest burn rate)."""

    alert: str
    severity: str
    start_ms: int
    end_ms: int  # exclusive: the first minute it no longer held
    value: float

    @property
    def minutes(self) -> int:
        return (self.end_ms - self.start_ms) // 60_000

    def to_json(self) -> dict:
        return {"alert": self.alert, "severity": self.severity, "start": _iso_once(self.start_ms), "end": _iso_once(self.end_ms),
                "minutes": self.minutes, "value": self.value}

    @classmethod
    def from_json(cls, data: dict) -> BudgetAlert:
        return cls(data["alert"], data["severity"], epoch_ms(data["start"]), epoch_ms(data["end"]), data["value"])


@dataclass(frozen=True)
class Throughput:
    """A throughput objective: a slice is good when its requests per second `op` `value`."""

    op: str
    value: Number  # requests per second
    slice_minutes: int
    mean_rate: float | None  # the window's events / its seconds

    def to_json(self) -> dict:
        return {"op": self.op, "value": self.value, "slice_minutes": self.slice_minutes, "mean_requests_per_second": self.mean_rate}

    @classmethod
    def from_json(cls, data: dict | None) -> Throughput | None:
        return None if data is None else cls(data["op"], data["value"], data["slice_minutes"], data["mean_requests_per_second"])


@dataclass(frozen=True)
class ThresholdCrossing:
    percent: int  # of the window's allowed budget consumed
    crossed_at_ms: int | None

    def to_json(self) -> dict:
        return {"percent": self.percent, "crossed_at": _iso(self.crossed_at_ms)}

    @classmethod
    def from_json(cls, data: dict) -> ThresholdCrossing:
        return cls(data["percent"], _ms(data["crossed_at"]))


@dataclass(frozen=True)
class Forecast:
    recent_daily_burn: float
    days_to_exhaustion: float | None
    projected_exhaustion_ms: int | None  # to the second, as shown
    exhausted: bool
    probability_exhausted_by_period_end: float
    projected_consumed_ratio_at_period_end: float | None
    method: str

    def to_json(self) -> dict:
        return {"recent_daily_burn": self.recent_daily_burn, "days_to_exhaustion": self.days_to_exhaustion,
                "projected_exhaustion": _iso(self.projected_exhaustion_ms), "exhausted": self.exhausted,
                "probability_exhausted_by_period_end": self.probability_exhausted_by_period_end,
                "projected_consumed_ratio_at_period_end": self.projected_consumed_ratio_at_period_end, "method": self.method}

    @classmethod
    def from_json(cls, data: dict) -> Forecast:
        return cls(data["recent_daily_burn"], data["days_to_exhaustion"], _ms(data["projected_exhaustion"]), data["exhausted"],
                   data["probability_exhausted_by_period_end"], data["projected_consumed_ratio_at_period_end"], data["method"])


@dataclass(frozen=True)
class LowTrafficGate:
    min_bad_events: int
    min_events: int
    held_back: int  # alerts it held back in this window

    def to_json(self) -> dict:
        return {"min_bad_events": self.min_bad_events, "min_events": self.min_events, "held_back": self.held_back}

    @classmethod
    def from_json(cls, data: dict) -> LowTrafficGate:
        return cls(data["min_bad_events"], data["min_events"], data["held_back"])


@dataclass(frozen=True)
class Slices:
    """Timeslices and RatioTimeslices: the window's own slices, and the empty ones counted good."""

    total: int
    empty_counted_good: int

    def to_json(self) -> dict:
        return {"total": self.total, "empty_counted_good": self.empty_counted_good}

    @classmethod
    def from_json(cls, data: dict | None) -> Slices | None:
        return None if data is None else cls(data["total"], data["empty_counted_good"])


@dataclass(frozen=True)
class Deficit:
    """How far a failed window is below its target."""

    sli_points: Number
    events_over_budget: Number

    def to_json(self) -> dict:
        return {"sli_points": self.sli_points, "events_over_budget": self.events_over_budget}

    @classmethod
    def from_json(cls, data: dict | None) -> Deficit | None:
        return None if data is None else cls(data["sli_points"], data["events_over_budget"])


@dataclass(frozen=True)
class AdjustmentAudit:
    """What one budget adjustment did in one SLO window: its events there, the minutes and requests
    they cover, and the budget it returned. Adjustments apply in order, Exclude ones first (they win
    a shared minute), then CountAsGood ones, each in declaration order; an adjustment returned the
    budget units consumed with those before it minus those consumed once it applies too. So the
    returns add up to what all of them returned, and a minute two share is credited to the first."""

    adjustment: str
    effect: str  # Exclude or CountAsGood
    events: int  # the adjustment's events overlapping the window
    minutes: int  # the window's minutes they cover
    requests: int  # requests in those minutes (the SLO's total events)
    bad_requests: int  # of them, those the SLI counts bad
    slices: int | None  # the window's slices holding one of those minutes (timeslice methods)
    budget_returned: Number  # budget units (events or slices)

    def to_json(self) -> dict:
        return {"adjustment": self.adjustment, "effect": self.effect, "events": self.events, "minutes": self.minutes,
                "requests": self.requests, "bad_requests": self.bad_requests, "slices": self.slices,
                "budget_returned": self.budget_returned}

    @classmethod
    def from_json(cls, data: dict) -> AdjustmentAudit:
        return cls(data["adjustment"], data["effect"], data["events"], data["minutes"], data["requests"], data["bad_requests"],
                   data["slices"], data["budget_returned"])


@dataclass(frozen=True)
class AdjustedBudget:
    """A window's budget without any adjustment beside what each adjustment returned."""

    unadjusted: ErrorBudget  # the window's budget had no adjustment been declared
    adjustments: tuple[AdjustmentAudit, ...]  # those with an event in the window, in the order they apply

    def to_json(self) -> dict:
        return {"unadjusted_error_budget": self.unadjusted.to_json(), "adjustments": [a.to_json() for a in self.adjustments]}

    @classmethod
    def from_json(cls, data: dict | None) -> AdjustedBudget | None:
        if data is None:
            return None
        return cls(ErrorBudget.from_json(data["unadjusted_error_budget"]), tuple(AdjustmentAudit.from_json(a) for a in data["adjustments"]))


@dataclass(frozen=True)
class ComponentWeight:
    """A composite SLO's component: the SLO and its compositeWeight."""

    slo: str
    weight: Number

    def to_json(self) -> dict:
        return {"slo": self.slo, "weight": self.weight}

    @classmethod
    def from_json(cls, data: dict) -> ComponentWeight:
        return cls(data["slo"], data["weight"])


@dataclass(frozen=True)
class WindowEvaluation:
    """Everything about one (SLO, objective, window) for one period."""

    slo: str
    display_name: str | None
    service: str
    objective: str
    objective_name: str | None
    window: str
    label: str  # what people read: SLO · objective · window
    window_start_ms: int
    window_end_ms: int  # the end of the data; alerts, thresholds and policy alerts cover [start, end)
    target: Number
    budgeting_method: str
    events: int  # raw events in the window (budget units may be slices)
    good: Number
    total: Number
    sli: Number | None  # None: no event in the window
    error_budget: ErrorBudget
    status: Status
    deficit: Deficit | None
    slices: Slices | None
    maintenance_excluded_events: int
    burn_rates: BurnRates
    alerts: tuple[Alert, ...]
    low_traffic_gate: LowTrafficGate
    alerts_held_back: tuple[HeldBackAlert, ...]
    policy_alerts: tuple[PolicyAlert, ...]
    thresholds: tuple[ThresholdCrossing, ...]
    forecast: Forecast
    confidence: Confidence | None = None  # the SLI's interval; None without a unit
    coverage: Coverage | None = None  # unmeasured minutes and quarantined lines of the window
    status_note: str | None = None  # "met, 6.2 % of minutes unmeasured" when coverage is under its floor
    budget_adjustments: AdjustedBudget | None = None  # None: no adjustment has an event in the window
    budget_alerts: tuple[BudgetAlert, ...] = ()  # the replayed budget-state alerts
    throughput: Throughput | None = None  # a throughput objective's threshold and mean rate
    components: tuple[ComponentWeight, ...] = ()  # a composite SLO's; empty for a measured SLO

    @property
    def key(self) -> tuple[str, str, str]:
        return self.slo, self.objective, self.window

    def alert_count(self, severity: str) -> int:
        return sum(a.severity == severity for a in self.alerts)

    def held_back_count(self, severity: str) -> int:
        return sum(a.severity == severity for a in self.alerts_held_back)

    def to_json(self, keys: Collection[str] | None = None) -> dict:
        """The JSON object; with `keys`, only those (the lists of alerts are not built for nobody)."""
        start, end = _iso_once(self.window_start_ms), _iso_once(self.window_end_ms)
        lists = {
            "alerts": lambda: [a.to_json() for a in self.alerts],
            "alerts_held_back": lambda: [h.to_json() for h in self.alerts_held_back],
            "policy_alerts": lambda: [p.to_json() for p in self.policy_alerts],
            "budget_alerts": lambda: [b.to_json() for b in self.budget_alerts],
            "thresholds": lambda: [t.to_json() for t in self.thresholds],
            "budget_adjustments": lambda: None if self.budget_adjustments is None else self.budget_adjustments.to_json(),
        }
        whole = {
            "slo": self.slo, "display_name": self.display_name, "service": self.service, "objective": self.objective,
            "objective_name": self.objective_name, "window": self.window, "label": self.label,
            "window_start": start, "window_end": end, "lists_period": {"start": start, "end": end},
            "target": self.target, "budgeting_method": self.budgeting_method,
            "components": [c.to_json() for c in self.components], "events": self.events, "good": self.good,
            "total": self.total, "sli": self.sli,
            "confidence": None if self.confidence is None else self.confidence.to_json(),
            "coverage": None if self.coverage is None else self.coverage.to_json(),
            "error_budget": self.error_budget.to_json(), "status": self.status, "status_note": self.status_note,
            "deficit": None if self.deficit is None else self.deficit.to_json(),
            "slices": None if self.slices is None else self.slices.to_json(),
            "maintenance_excluded_events": self.maintenance_excluded_events,
            "budget_adjustments": None,
            "burn_rates": self.burn_rates.to_json(),
            "alerts": None,
            "low_traffic_gate": self.low_traffic_gate.to_json(),
            "alerts_held_back": None,
            "policy_alerts": None,
            "budget_alerts": None,
            "thresholds": None,
            "forecast": self.forecast.to_json(),
            "throughput": None if self.throughput is None else self.throughput.to_json(),
        }
        for key, build in lists.items():
            if keys is None or key in keys:
                whole[key] = build()
        return whole if keys is None else {k: whole[k] for k in keys}

    @classmethod
    def from_json(cls, data: dict) -> WindowEvaluation:
        """From to_json()'s object, or from a compliance entry merged with its error-budget entry."""
        if data.get("status") not in STATUSES:
            raise ValueError(f"window {data.get('label') or data.get('slo')!r}: status {data.get('status')!r} is not one of {STATUSES}")
        return cls(
            slo=data["slo"], display_name=data["display_name"], service=data["service"], objective=data["objective"],
            objective_name=data["objective_name"], window=data["window"], label=data["label"],
            window_start_ms=epoch_ms(data["window_start"]), window_end_ms=epoch_ms(data["window_end"]),
            target=data["target"], budgeting_method=data["budgeting_method"], events=data["events"], good=data["good"],
            total=data["total"], sli=data["sli"], error_budget=ErrorBudget.from_json(data["error_budget"]), status=data["status"],
            deficit=Deficit.from_json(data["deficit"]), slices=Slices.from_json(data["slices"]),
            maintenance_excluded_events=data["maintenance_excluded_events"], burn_rates=BurnRates.from_json(data["burn_rates"]),
            alerts=tuple(Alert.from_json(a) for a in data["alerts"]), low_traffic_gate=LowTrafficGate.from_json(data["low_traffic_gate"]),
            alerts_held_back=tuple(HeldBackAlert.from_json(h) for h in data["alerts_held_back"]),
            policy_alerts=tuple(PolicyAlert.from_json(p) for p in data["policy_alerts"]),
            thresholds=tuple(ThresholdCrossing.from_json(t) for t in data["thresholds"]),
            forecast=Forecast.from_json(data["forecast"]),
            confidence=Confidence.from_json(data.get("confidence")), coverage=Coverage.from_json(data.get("coverage")),
            status_note=data.get("status_note"),
            budget_adjustments=AdjustedBudget.from_json(data.get("budget_adjustments")),
            budget_alerts=tuple(BudgetAlert.from_json(b) for b in data.get("budget_alerts") or ()),
            throughput=Throughput.from_json(data.get("throughput")),
            components=tuple(ComponentWeight.from_json(c) for c in data.get("components") or ()),
        )


def dump_evaluations(evaluations: list[WindowEvaluation]) -> bytes:
    """The window_evaluations file of a month (compact JSON list)."""
    return json.dumps([e.to_json() for e in evaluations]).encode()


def load_evaluations(payload: bytes, source: str = "window_evaluations") -> list[WindowEvaluation]:
    """The inverse of dump_evaluations; a damaged file ends as a ValueError naming `source` and the entry."""
    try:
        items = json.loads(payload)
    except ValueError as error:
        raise ValueError(f"{source}: not JSON ({error})") from error
    if not isinstance(items, list):
        raise ValueError(f"{source}: expected a list of window evaluations")
    evaluations = []
    for number, item in enumerate(items):
        try:
            evaluations.append(WindowEvaluation.from_json(item))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{source}: entry {number}: {type(error).__name__}: {error}") from error
    return evaluations


BUDGET_ROW_SCHEMA = {"sli": pl.Float64, "consumed_ratio": pl.Float64, "remaining_ratio": pl.Float64, "burn_period": pl.Float64}


def budget_rows(evaluations: list[WindowEvaluation]) -> pl.DataFrame:
    """The error-budget table of a month: one row per SLO window (the asset's table and its metadata)."""
    return pl.DataFrame([{
        "slo": e.slo, "objective": e.objective, "window": e.window, "target": float(e.target),
        "good": float(e.good), "total": float(e.total), "sli": e.sli,
        "allowed": float(e.error_budget.allowed), "consumed": float(e.error_budget.consumed),
        "consumed_ratio": e.error_budget.consumed_ratio, "remaining_ratio": e.error_budget.remaining_ratio,
        "burn_1h": e.burn_rates.rate("1h"), "burn_1d": e.burn_rates.rate("1d"), "burn_period": e.burn_rates.period,
        "page_alerts": e.alert_count("page"), "ticket_alerts": e.alert_count("ticket"),
        "alerts_held_back": e.low_traffic_gate.held_back,
        "p_exhaust": e.forecast.probability_exhausted_by_period_end, "status": e.status,
    } for e in evaluations], schema_overrides=BUDGET_ROW_SCHEMA)


@dataclass(frozen=True)
class BudgetInconsistency:
    slo: str
    window: str
    problem: str  # the consumed ratio that disagrees with the SLI, or "good > total"

    def as_row(self) -> list[str]:
        return [self.slo, self.window, self.problem]


def budget_inconsistencies(evaluations: list[WindowEvaluation]) -> list[BudgetInconsistency]:
    """Windows whose consumed ratio is not (1 - SLI) / (1 - target), or whose good exceeds total."""
    found = []
    for e in evaluations:
        ratio, value = e.error_budget.consumed_ratio, e.sli
        if ratio is not None and value is not None and abs(ratio - (1 - value) / (1 - e.target)) > 1e-9 * max(1, abs(ratio)):
            found.append(BudgetInconsistency(e.slo, e.window, str(ratio)))
        if e.good > e.total:
            found.append(BudgetInconsistency(e.slo, e.window, "good > total"))
    return found


@dataclass(frozen=True)
class ServiceHealth:
    service: str
    health_score: float | None  # 0-100 from the mean remaining budget; None when no window has a budget
    slo_windows: int
    failed: int


@dataclass(frozen=True)
class MonthEvaluations:
    """A month's compliance and error-budget documents read back as types: what the report and the
    Prometheus exposition show. `windows` are in the compliance document's order."""

    period: str
    as_of_ms: int
    period_complete: bool
    generated_at: str
    spec_hash: str
    code_version: str
    input_data_versions: dict[str, str]
    status_counts: dict[str, int]
    compliance_percent: float | None  # None: no window could be judged
    services: tuple[ServiceHealth, ...]
    data_quality: dict
    windows: tuple[WindowEvaluation, ...]

    @classmethod
    def from_documents(cls, compliance: dict, budgets: dict, source: str = "compliance / error_budgets") -> MonthEvaluations:
        """Each window from its compliance entry and its error-budget entry (together: the whole evaluation)."""
        try:
            by_key = {(b["slo"], b["objective"], b["window"]): b for b in budgets["slos"]}
            windows = []
            for number, entry in enumerate(compliance["slos"]):
                budget = by_key.get((entry["slo"], entry["objective"], entry["window"]))
                if budget is None:
                    raise ValueError(f"slos[{number}] ({entry['slo']}, {entry['objective']}, {entry['window']}) has no error-budget entry")
                windows.append(WindowEvaluation.from_json({**budget, **entry}))
            summary = compliance["summary"]
            return cls(
                period=compliance["period"], as_of_ms=epoch_ms(compliance["as_of"]), period_complete=compliance["period_complete"],
                generated_at=compliance["generated_at"], spec_hash=compliance["spec_hash"], code_version=compliance["code_version"],
                input_data_versions=dict(compliance.get("input_data_versions", {})),
                status_counts={s: summary[s] for s in STATUSES}, compliance_percent=summary["compliance_percent"],
                services=tuple(ServiceHealth(s["service"], s["health_score"], s["slo_windows"], s["failed"]) for s in compliance["services"]),
                data_quality=compliance["data_quality"], windows=tuple(windows))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{source}: {type(error).__name__}: {error}") from error


def most_consumed_first(windows: Sequence[WindowEvaluation]) -> list[int]:
    """Indices of `windows`, the one that consumed the most error budget first; windows without a
    budget figure (no units) last; ties keep the given order. What the charts and the report rank by."""
    ratio = [w.error_budget.consumed_ratio for w in windows]
    return sorted(range(len(windows)), key=lambda i: (ratio[i] is None, -(ratio[i] or 0), i))
