"""The deploy gate: may a service deploy, by the error-budget policy its SLOs declare?

A service freezes when one of its SLOs with a policy (spec annotations, `DeployGate`) has, in any of
its windows, a remaining budget ratio below the policy's floor, or a page alert firing at the last
minute evaluated (when the policy freezes on pages). A service none of whose SLOs declares a policy
may always deploy, and its gate says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TypedDict

from slo_assets.core.calendar import iso
from slo_assets.openslo.spec import Slo
from slo_assets.slo.evaluation import WindowEvaluation
from slo_assets.slo.values import JsonObject

SCHEMA_VERSION = 1
GO, FREEZE = "go", "freeze"
# The month to date is refreshed daily: older than this, the published outputs (and so the gate) are
# stale. The outputs' freshness policy (defs/automation.py) fails after the same.
STALE_AFTER = timedelta(hours=26)


@dataclass(frozen=True)
class Reason:
    slo: str
    window: str
    kind: str  # "budget_below_floor" or "page_firing"
    message: str
    remaining_ratio: float | None = None
    budget_floor: float | None = None
    page_since: str | None = None


class GatePolicy(TypedDict):
    """An SLO's deploy policy as the gate shows it."""

    budget_floor: float | None
    freeze_on_page: bool


@dataclass
class SloGate:
    slo: str
    policy: GatePolicy | None  # None when the SLO declares none
    decision: str
    reasons: list[Reason] = field(default_factory=list)
    remaining_ratio: float | None = None  # the lowest over its windows


@dataclass
class ServiceGate:
    service: str
    decision: str
    reasons: list[Reason]
    slos: list[SloGate]
    evaluated_until: str | None

    def for_slo(self, slo: str) -> ServiceGate:
        """The same gate with only this SLO (its reasons decide)."""
        mine = [s for s in self.slos if s.slo == slo]
        reasons = [r for r in self.reasons if r.slo == slo]
        return ServiceGate(self.service, FREEZE if reasons else GO, reasons, mine, self.evaluated_until)

    def to_json(self) -> JsonObject:
        return asdict(self)

    @classmethod
    def from_json(cls, data: JsonObject) -> ServiceGate:
        slos = [SloGate(**{**s, "reasons": [Reason(**r) for r in s["reasons"]]}) for s in data["slos"]]
        return cls(data["service"], data["decision"], [Reason(**r) for r in data["reasons"]], slos, data["evaluated_until"])


def _slo_gate(slo: Slo, windows: list[WindowEvaluation]) -> SloGate:
    ratios = [float(w.error_budget.remaining_ratio) for w in windows if w.error_budget.remaining_ratio is not None]
    lowest = min(ratios) if ratios else None
    policy = slo.deploy_gate
    if policy is None:
        return SloGate(slo.name, None, GO, [], lowest)
    reasons = []
    for window in windows:
        left = window.error_budget.remaining_ratio
        if policy.budget_floor is not None and left is not None and float(left) < policy.budget_floor:
            reasons.append(Reason(slo.name, window.window, "budget_below_floor",
                                  f"{slo.name} ({window.window}): {float(left):.1%} of the error budget left, below the policy's "
                                  f"floor of {policy.budget_floor:.1%}", float(left), policy.budget_floor))
        firing = [a for a in window.alerts if a.severity == "page" and a.end_ms >= window.window_end_ms]
        if policy.freeze_on_page and firing:
            since = iso(min(a.start_ms for a in firing))
            reasons.append(Reason(slo.name, window.window, "page_firing",
                                  f"{slo.name} ({window.window}): a page alert fires since {since}", page_since=since))
    return SloGate(slo.name, {"budget_floor": policy.budget_floor, "freeze_on_page": policy.freeze_on_page},
                   FREEZE if reasons else GO, reasons, lowest)


def service_gates(slos: list[Slo], evaluations: list[WindowEvaluation]) -> list[ServiceGate]:
    """One gate per service of the specs, from a month's window evaluations."""
    gates = []
    for service in sorted({s.service for s in slos}):
        mine = [s for s in slos if s.service == service]
        windows = [e for e in evaluations if e.service == service]
        per_slo = [_slo_gate(s, [e for e in windows if e.slo == s.name]) for s in mine]
        reasons = [r for g in per_slo for r in g.reasons]
        until = iso(max(e.window_end_ms for e in windows)) if windows else None
        gates.append(ServiceGate(service, FREEZE if reasons else GO, reasons, per_slo, until))
    return gates


def gate_document(period: str, gates: list[ServiceGate]) -> JsonObject:
    return {"schema_version": SCHEMA_VERSION, "period": period, "services": [g.to_json() for g in gates]}


def staleness(evaluated_until: str | None, now: datetime) -> str | None:
    """A sentence when the gate judged data older than STALE_AFTER (the month was not run again)."""
    if evaluated_until is None:
        return None
    age = now - datetime.fromisoformat(evaluated_until.replace("Z", "+00:00"))
    if age <= STALE_AFTER:
        return None
    return (f"the gate judges data until {evaluated_until}, {age.total_seconds() / 3600:.0f} h before now: run the "
            "current month again (slo-assets run, or the monthly schedule) for a decision on recent traffic")


def verdict(gate: ServiceGate, period: str, now: datetime | None = None) -> JsonObject:
    """What `slo-assets gate` prints: the decision and why, in one JSON object; `stale` says when the
    data judged is older than STALE_AFTER at `now`."""
    declared = [s for s in gate.slos if s.policy is not None]
    if not declared:
        note = "no SLO of this service declares a deploy policy (slo-assets.dev/deploy-freeze-below)"
    elif gate.decision == GO and all(s.remaining_ratio is None for s in declared):
        # a go that rests on no traffic at all: the policy had nothing to judge, and the caller should know
        note = "no event in any window of the service's SLOs with a policy: nothing was judged"
    else:
        note = None
    return {"service": gate.service, "period": period, "decision": gate.decision, "deploy": gate.decision == GO,
            "reasons": [asdict(r) for r in gate.reasons],
            "note": note,
            "slos": [{"slo": s.slo, "decision": s.decision, "remaining_ratio": s.remaining_ratio, "policy": s.policy} for s in gate.slos],
            "evaluated_until": gate.evaluated_until,
            "stale": None if now is None else staleness(gate.evaluated_until, now)}
