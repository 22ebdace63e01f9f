"""The evaluation of one SLO window as a typed contract (in the spirit of slo-generator's SLOReport).

`monthly.evaluate` (chain.evaluate) builds a `WindowEvaluation` once; every consumer (the compliance
and error-budget documents, the exposition, the report, the charts, the remediation plan, the asset
metadata) reads its fields. It is serialized in one place: `to_json()` gives the JSON object the documents have
always held (docs/outputs.md), `from_json()` reads it back, and the round trip is exact. Its parts
(budget, burn rates, alerts, forecast ...) are defined in evaluation_parts.py and importable from here.

Figures keep the JSON's numbers (int when integral, else float: `budget.as_number`); instants are
epoch milliseconds, shown as ISO-8601 to the second.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import polars as pl

from slo_assets.core.calendar import epoch_ms
from slo_assets.slo.confidence import Confidence
from slo_assets.slo.coverage import Coverage

# The parts of an evaluation are defined beside it; importers keep reading them from here.
from slo_assets.slo.evaluation_parts import (
    JUDGED,
    STATUSES,
    AdjustedBudget,
    AdjustmentAudit,
    Alert,
    BudgetAlert,
    BurnRates,
    ComponentWeight,
    Deficit,
    ErrorBudget,
    Forecast,
    HeldBackAlert,
    LowTrafficGate,
    Number,
    PolicyAlert,
    Slices,
    Status,
    ThresholdCrossing,
    Throughput,
    iso_once,
)
from slo_assets.slo.values import JsonObject

__all__ = [
    "BUDGET_ROW_SCHEMA", "JUDGED", "STATUSES", "AdjustedBudget", "AdjustmentAudit", "Alert", "BudgetAlert", "BudgetInconsistency", "BurnRates",
    "ComponentWeight", "Deficit", "ErrorBudget", "Forecast", "HeldBackAlert", "LowTrafficGate", "MonthEvaluations", "Number",
    "PolicyAlert", "ServiceHealth", "Slices", "Status", "ThresholdCrossing", "Throughput", "WindowEvaluation", "budget_inconsistencies",
    "budget_rows", "dump_evaluations", "load_evaluations", "most_consumed_first",
]


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
    status_note: str | None = None  # "failed, 6.2 % of minutes unmeasured" when coverage is under its floor
    budget_adjustments: AdjustedBudget | None = None  # None: no adjustment has an event in the window
    budget_alerts: tuple[BudgetAlert, ...] = ()  # the replayed budget-state alerts
    throughput: Throughput | None = None  # a throughput objective's threshold and mean rate
    components: tuple[ComponentWeight, ...] = ()  # a composite SLO's; empty for a measured SLO
    # requests a latency SLO selects that carry no request time: no event, neither fast nor slow (slo/untimed.py)
    untimed: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return self.slo, self.objective, self.window

    def alert_count(self, severity: str) -> int:
        return sum(a.severity == severity for a in self.alerts)

    def held_back_count(self, severity: str) -> int:
        return sum(a.severity == severity for a in self.alerts_held_back)

    def to_json(self, keys: Collection[str] | None = None) -> JsonObject:
        """The JSON object; with `keys`, only those (the lists of alerts are not built for nobody)."""
        start, end = iso_once(self.window_start_ms), iso_once(self.window_end_ms)
        lists: dict[str, Callable[[], object]] = {
            "alerts": lambda: [a.to_json() for a in self.alerts],
            "alerts_held_back": lambda: [h.to_json() for h in self.alerts_held_back],
            "policy_alerts": lambda: [p.to_json() for p in self.policy_alerts],
            "budget_alerts": lambda: [b.to_json() for b in self.budget_alerts],
            "thresholds": lambda: [t.to_json() for t in self.thresholds],
            "budget_adjustments": lambda: None if self.budget_adjustments is None else self.budget_adjustments.to_json(),
        }
        whole: JsonObject = {
            "slo": self.slo, "display_name": self.display_name, "service": self.service, "objective": self.objective,
            "objective_name": self.objective_name, "window": self.window, "label": self.label,
            "window_start": start, "window_end": end, "lists_period": {"start": start, "end": end},
            "target": self.target, "budgeting_method": self.budgeting_method,
            "components": [c.to_json() for c in self.components], "events": self.events, "untimed": self.untimed, "good": self.good,
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
    def from_json(cls, data: JsonObject) -> WindowEvaluation:
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
            untimed=data.get("untimed", 0),  # a document written before the field: none counted
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
    data_quality: JsonObject
    windows: tuple[WindowEvaluation, ...]

    @classmethod
    def from_documents(cls, compliance: JsonObject, budgets: JsonObject, source: str = "compliance / error_budgets") -> MonthEvaluations:
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
                status_counts={s: summary.get(s, 0) for s in STATUSES}, compliance_percent=summary["compliance_percent"],
                services=tuple(ServiceHealth(s["service"], s["health_score"], s["slo_windows"], s["failed"]) for s in compliance["services"]),
                data_quality=compliance["data_quality"], windows=tuple(windows))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{source}: {type(error).__name__}: {error}") from error


def most_consumed_first(windows: Sequence[WindowEvaluation]) -> list[int]:
    """Indices of `windows`, the one that consumed the most error budget first; windows without a
    budget figure (no units) last; ties keep the given order. What the charts and the report rank by."""
    ratio = [w.error_budget.consumed_ratio for w in windows]
    return sorted(range(len(windows)), key=lambda i: (ratio[i] is None, -(ratio[i] or 0), i))
