"""The month's published JSON documents from its window evaluations: compliance.json (per window
status and trend, per service health, the summary, maintenance and budget adjustments, data quality)
and error_budgets.json (budgets, burn rates, alerts, thresholds and forecasts). docs/outputs.md
describes every field; the keys listed here fix their order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import numpy as np

from slo_assets.core.calendar import iso, month_range_ms, now_iso
from slo_assets.openslo import adjustments as A
from slo_assets.openslo.spec import CompositeSlo, Slo
from slo_assets.slo import budget as B
from slo_assets.slo import evaluation as E
from slo_assets.slo.evaluation import WindowEvaluation
from slo_assets.slo.period import Period
from slo_assets.slo.series import WindowKey
from slo_assets.slo.values import JsonObject
from slo_assets.slo.windows import Settings

SCHEMA_VERSION = 1
COMPLIANCE_KEYS = ("slo", "display_name", "service", "objective", "objective_name", "window", "label", "target",
                   "budgeting_method", "components", "good", "total", "events", "untimed", "sli", "confidence", "coverage",
                   "error_budget", "status", "status_note", "deficit", "slices", "maintenance_excluded_events", "budget_adjustments", "throughput")
ERROR_BUDGETS_KEYS = ("slo", "service", "objective", "objective_name", "window", "label", "window_start", "window_end",
                      "lists_period", "target", "budgeting_method", "good", "total", "sli", "error_budget", "burn_rates", "alerts",
                      "low_traffic_gate", "alerts_held_back", "policy_alerts", "budget_alerts", "thresholds", "forecast", "status",
                      "throughput")


class MaintenanceWindow(TypedDict):
    """A maintenance window of the compliance document: the settings' (scope 'all SLOs') or an SLO's adjustment event."""

    start: str
    end: str
    scope: str
    adjustment: NotRequired[str]


def _window_entries(evaluations: list[WindowEvaluation], previous: Mapping[WindowKey, float | None]) -> list[JsonObject]:
    """Each window's compliance entry, with its SLI in percent and its trend from the previous month's SLI."""
    slos = []
    for item in evaluations:
        before = previous.get(item.key)
        now = item.sli
        delta = None if before is None or now is None else round(now - before, 9)
        direction = None if delta is None else ("improving" if delta > 0 else "worsening" if delta < 0 else "stable")
        entry = item.to_json(COMPLIANCE_KEYS)
        entry["sli_percent"] = None if now is None else round(now * 100, 6)
        entry["trend"] = {"previous_sli": before, "delta": delta, "direction": direction}
        slos.append(entry)
    return slos


def _service_health(evaluations: list[WindowEvaluation]) -> list[JsonObject]:
    """Per service (by name): the health score from its windows' mean remaining budget, its windows and failures."""
    services: dict[str, list[WindowEvaluation]] = {}
    for item in evaluations:
        services.setdefault(item.service, []).append(item)
    health = []
    for service, items in sorted(services.items()):
        remaining = [e.error_budget.remaining_ratio for e in items if e.error_budget.remaining_ratio is not None]
        mean_remaining = float(np.mean(remaining)) if remaining else None
        score = None if mean_remaining is None else round(min(100.0, max(0.0, 100 * mean_remaining)), 2)
        health.append({"service": service, "health_score": score, "slo_windows": len(items),
                       "failed": sum(e.status == "failed" for e in items)})
    return health


def compliance(evaluations: list[WindowEvaluation], previous: Mapping[WindowKey, float | None], period: Period, data_quality: JsonObject,
               provenance: JsonObject, maintenance: list[MaintenanceWindow], adjustments: list[JsonObject] | None = None) -> JsonObject:
    """The compliance document: per SLO window status and trend, per service health, summary."""
    slos = _window_entries(evaluations, previous)
    counts = {status: sum(e.status == status for e in evaluations) for status in E.STATUSES}
    judged = sum(counts[s] for s in E.JUDGED)
    return {
        "schema_version": SCHEMA_VERSION,
        "period": period.month,
        "generated_at": now_iso(),
        "as_of": iso(period.as_of_ms),
        "period_complete": period.complete,
        **provenance,
        "slos": slos,
        "services": _service_health(evaluations),
        "summary": {**counts, "slo_windows": len(slos),
                    "compliance_percent": None if judged == 0 else round(100 * (counts["met"] + counts["at_risk"]) / judged, 2)},
        "maintenance_windows": maintenance,
        "budget_adjustments": adjustments or [],
        "data_quality": data_quality,
    }


def previous_slis(document: JsonObject) -> dict[WindowKey, float | None]:
    """Each window's SLI in an earlier month's compliance document (the trend's starting point)."""
    return {(e["slo"], e["objective"], e["window"]): e["sli"] for e in document["slos"]}


def error_budgets_document(evaluations: list[WindowEvaluation], period: Period, provenance: JsonObject) -> JsonObject:
    return {
        "schema_version": SCHEMA_VERSION,
        "period": period.month,
        "as_of": iso(period.as_of_ms),
        "period_complete": period.complete,
        **provenance,
        "alert_windows": [{"severity": t.severity, "long_window": t.long, "short_window": t.short,
                           "budget_fraction": float(t.budget_fraction)} for t in B.alert_tiers()],
        "slos": [e.to_json(ERROR_BUDGETS_KEYS) for e in evaluations],
    }


def data_as_of(evaluations: list[WindowEvaluation], month: str) -> int:
    """The end of the data the month's evaluations describe (the month end when there is none)."""
    return max((e.window_end_ms for e in evaluations), default=month_range_ms(month)[1])


def maintenance_windows(settings: Settings, slos: Sequence[Slo | CompositeSlo], period: Period) -> list[MaintenanceWindow]:
    """The compliance document's maintenance windows: the settings' (all SLOs), then the events of
    each SLO's Exclude adjustments in the period (its maintenance annotation's and its BudgetAdjustments')."""
    shared: list[MaintenanceWindow] = [{"start": iso(a), "end": iso(b), "scope": "all SLOs"} for a, b in settings.maintenance]
    return shared + [{"start": iso(a), "end": iso(b), "scope": s.name, "adjustment": adjustment.name}
                     for s in slos for adjustment in s.adjustments if adjustment.effect == A.EXCLUDE
                     for a, b in adjustment.events(period.start_ms, period.end_ms)]


def budget_adjustments(slos: Sequence[Slo], period: Period) -> list[JsonObject]:
    """The compliance document's budget adjustments: each one (settings' aside), the SLOs it applies
    to and its events in the period."""
    found: dict[tuple[str, str], tuple[A.BudgetAdjustment, list[str]]] = {}
    for slo in slos:
        for adjustment in slo.adjustments:
            found.setdefault((adjustment.name, adjustment.source), (adjustment, []))[1].append(slo.name)
    return [{**adjustment.to_json(), "slos": names,
             "events": [{"start": iso(a), "end": iso(b)} for a, b in adjustment.events(period.start_ms, period.end_ms)]}
            for adjustment, names in found.values()]
