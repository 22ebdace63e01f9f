"""The parts of a window's evaluation (slo_assets.slo.evaluation.WindowEvaluation): its error budget,
burn rates, alerts, thresholds, forecast, gate, slices, deficit, adjustments and components.

Each part is a frozen dataclass serialized in one place: `to_json()` gives the JSON object the
documents hold (docs/outputs.md), `from_json()` reads it back, and the round trip is exact. Figures
keep the JSON's numbers (int when integral, else float); instants are epoch milliseconds, shown as
ISO-8601 to the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from slo_assets.core.calendar import epoch_ms, iso
from slo_assets.slo.values import JsonObject

Number = int | float
# insufficient_coverage: the measured minutes meet the target, but the window is under its coverage
# floor (slo_assets/slo/coverage.py): not judged, like insufficient_data
Status = Literal["met", "at_risk", "failed", "insufficient_coverage", "insufficient_data"]
STATUSES: tuple[Status, ...] = ("met", "at_risk", "failed", "insufficient_coverage", "insufficient_data")
JUDGED: tuple[Status, ...] = ("met", "at_risk", "failed")  # the statuses compliance_percent counts


def ms_or_none(text: str | None) -> int | None:
    return None if text is None else epoch_ms(text)


# Alerts start and end on whole minutes of a few months: a month of 500 SLO windows formats the same
# instants hundreds of thousands of times, so each is formatted once.
iso_once = lru_cache(maxsize=1 << 17)(iso)


def iso_or_none(ms: int | None) -> str | None:
    return None if ms is None else iso_once(ms)


@dataclass(frozen=True)
class ErrorBudget:
    allowed: Number
    consumed: Number
    consumed_ratio: Number | None  # None when nothing is allowed (no unit in the window)
    remaining_ratio: Number | None

    def to_json(self) -> JsonObject:
        return {"allowed": self.allowed, "consumed": self.consumed, "consumed_ratio": self.consumed_ratio,
                "remaining_ratio": self.remaining_ratio}

    @classmethod
    def from_json(cls, data: JsonObject) -> ErrorBudget:
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

    def to_json(self) -> JsonObject:
        return dict(self.items())

    @classmethod
    def from_json(cls, data: JsonObject) -> BurnRates:
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

    def to_json(self) -> JsonObject:
        return {"severity": self.severity, "long_window": self.long_window, "short_window": self.short_window,
                "burn_rate_threshold": self.burn_rate_threshold, "start": iso_once(self.start_ms), "end": iso_once(self.end_ms),
                "minutes": self.minutes, "peak_burn_rate": self.peak_burn_rate}

    @classmethod
    def from_json(cls, data: JsonObject) -> Alert:
        return cls(data["severity"], data["long_window"], data["short_window"], data["burn_rate_threshold"],
                   epoch_ms(data["start"]), epoch_ms(data["end"]), data["minutes"], data["peak_burn_rate"])


@dataclass(frozen=True)
class HeldBackAlert(Alert):
    """An alert the low-traffic gate held back: its long window had fewer bad units than the gate asks."""

    bad_in_long_window: Number = 0

    def to_json(self) -> JsonObject:
        return {**super().to_json(), "bad_in_long_window": self.bad_in_long_window}

    @classmethod
    def from_json(cls, data: JsonObject) -> HeldBackAlert:
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

    def to_json(self) -> JsonObject:
        return {"policy": self.policy, "condition": self.condition, "severity": self.severity, "threshold": self.threshold,
                "lookback_window": self.lookback_window, "start": iso_once(self.start_ms), "end": iso_once(self.end_ms),
                "peak_burn_rate": self.peak_burn_rate}

    @classmethod
    def from_json(cls, data: JsonObject) -> PolicyAlert:
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

    def to_json(self) -> JsonObject:
        return {"alert": self.alert, "severity": self.severity, "start": iso_once(self.start_ms), "end": iso_once(self.end_ms),
                "minutes": self.minutes, "value": self.value}

    @classmethod
    def from_json(cls, data: JsonObject) -> BudgetAlert:
        return cls(data["alert"], data["severity"], epoch_ms(data["start"]), epoch_ms(data["end"]), data["value"])


@dataclass(frozen=True)
class Throughput:
    """A throughput objective: a slice is good when its requests per second `op` `value`."""

    op: str
    value: Number  # requests per second
    slice_minutes: int
    mean_rate: float | None  # the window's events / its seconds

    def to_json(self) -> JsonObject:
        return {"op": self.op, "value": self.value, "slice_minutes": self.slice_minutes, "mean_requests_per_second": self.mean_rate}

    @classmethod
    def from_json(cls, data: JsonObject | None) -> Throughput | None:
        return None if data is None else cls(data["op"], data["value"], data["slice_minutes"], data["mean_requests_per_second"])


@dataclass(frozen=True)
class ThresholdCrossing:
    percent: int  # of the window's allowed budget consumed
    crossed_at_ms: int | None

    def to_json(self) -> JsonObject:
        return {"percent": self.percent, "crossed_at": iso_or_none(self.crossed_at_ms)}

    @classmethod
    def from_json(cls, data: JsonObject) -> ThresholdCrossing:
        return cls(data["percent"], ms_or_none(data["crossed_at"]))


@dataclass(frozen=True)
class Forecast:
    recent_daily_burn: float
    days_to_exhaustion: float | None
    projected_exhaustion_ms: int | None  # to the second, as shown
    exhausted: bool
    probability_exhausted_by_period_end: float
    projected_consumed_ratio_at_period_end: float | None
    method: str

    def to_json(self) -> JsonObject:
        return {"recent_daily_burn": self.recent_daily_burn, "days_to_exhaustion": self.days_to_exhaustion,
                "projected_exhaustion": iso_or_none(self.projected_exhaustion_ms), "exhausted": self.exhausted,
                "probability_exhausted_by_period_end": self.probability_exhausted_by_period_end,
                "projected_consumed_ratio_at_period_end": self.projected_consumed_ratio_at_period_end, "method": self.method}

    @classmethod
    def from_json(cls, data: JsonObject) -> Forecast:
        return cls(data["recent_daily_burn"], data["days_to_exhaustion"], ms_or_none(data["projected_exhaustion"]), data["exhausted"],
                   data["probability_exhausted_by_period_end"], data["projected_consumed_ratio_at_period_end"], data["method"])


@dataclass(frozen=True)
class LowTrafficGate:
    min_bad_events: int
    min_events: int
    held_back: int  # alerts it held back in this window

    def to_json(self) -> JsonObject:
        return {"min_bad_events": self.min_bad_events, "min_events": self.min_events, "held_back": self.held_back}

    @classmethod
    def from_json(cls, data: JsonObject) -> LowTrafficGate:
        return cls(data["min_bad_events"], data["min_events"], data["held_back"])


@dataclass(frozen=True)
class Slices:
    """Timeslices and RatioTimeslices: the window's own slices, and the empty ones counted good."""

    total: int
    empty_counted_good: int

    def to_json(self) -> JsonObject:
        return {"total": self.total, "empty_counted_good": self.empty_counted_good}

    @classmethod
    def from_json(cls, data: JsonObject | None) -> Slices | None:
        return None if data is None else cls(data["total"], data["empty_counted_good"])


@dataclass(frozen=True)
class Deficit:
    """How far a failed window is below its target."""

    sli_points: Number
    events_over_budget: Number

    def to_json(self) -> JsonObject:
        return {"sli_points": self.sli_points, "events_over_budget": self.events_over_budget}

    @classmethod
    def from_json(cls, data: JsonObject | None) -> Deficit | None:
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

    def to_json(self) -> JsonObject:
        return {"adjustment": self.adjustment, "effect": self.effect, "events": self.events, "minutes": self.minutes,
                "requests": self.requests, "bad_requests": self.bad_requests, "slices": self.slices,
                "budget_returned": self.budget_returned}

    @classmethod
    def from_json(cls, data: JsonObject) -> AdjustmentAudit:
        return cls(data["adjustment"], data["effect"], data["events"], data["minutes"], data["requests"], data["bad_requests"],
                   data["slices"], data["budget_returned"])


@dataclass(frozen=True)
class AdjustedBudget:
    """A window's budget without any adjustment beside what each adjustment returned."""

    unadjusted: ErrorBudget  # the window's budget had no adjustment been declared
    adjustments: tuple[AdjustmentAudit, ...]  # those with an event in the window, in the order they apply

    def to_json(self) -> JsonObject:
        return {"unadjusted_error_budget": self.unadjusted.to_json(), "adjustments": [a.to_json() for a in self.adjustments]}

    @classmethod
    def from_json(cls, data: JsonObject | None) -> AdjustedBudget | None:
        if data is None:
            return None
        return cls(ErrorBudget.from_json(data["unadjusted_error_budget"]), tuple(AdjustmentAudit.from_json(a) for a in data["adjustments"]))


@dataclass(frozen=True)
class ComponentWeight:
    """A composite SLO's component: the SLO and its compositeWeight."""

    slo: str
    weight: Number

    def to_json(self) -> JsonObject:
        return {"slo": self.slo, "weight": self.weight}

    @classmethod
    def from_json(cls, data: JsonObject) -> ComponentWeight:
        return cls(data["slo"], data["weight"])
