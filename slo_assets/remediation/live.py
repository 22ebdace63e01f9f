"""A live alert as a remediation plan entry, so the runbooks match it and the channels send it as
they send a month's breach (actions.py, channels.py): one entry per firing episode."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from slo_assets.core.calendar import iso
from slo_assets.openslo.spec import Slo
from slo_assets.remediation.models import Incident, PlanEntry, PlanWindow, Shape
from slo_assets.remediation.runbooks import Runbook


@dataclass(frozen=True)
class LiveAlert:
    """What the live tick hands the run that notifies: one episode of one alert of one SLO window."""

    run_key: str
    slo: str
    objective: str
    window: str
    alert: str  # "page 1h/5m" or a budget-state alert name
    severity: str  # page or ticket
    status: str  # the window's status as its budget-state alerts say: failed, at_risk or met
    start_ms: int
    evaluated_until_ms: int
    value: float  # peak long-window burn rate, or the lowest remaining budget ratio
    bad_events: int  # that made it hold: in the tier's long window, or the window so far for a budget alert

    def to_config(self) -> dict:
        return asdict(self)

    @property
    def month(self) -> str:
        return iso(self.start_ms)[:7]


def live_plan_entry(alert: LiveAlert, slo: Slo, runbooks: list[Runbook], scores: dict[str, float] | None = None) -> PlanEntry:
    """The plan entry of a live alert: its fingerprint is the episode's, so each action runs once per
    episode (the idempotency key), and the runbooks match it by service, status, severity and shape."""
    scores = scores or {}
    budget_state = alert.alert.startswith(("budget_", "slo_violated"))
    burn = alert.value if not budget_state else 0.0
    shape: Shape = "latency" if slo.indicator.kind() == "latency" else "error_burst"
    facts = {"service": slo.service, "slo": slo.name, "status": alert.status, "severity": alert.severity, "shape": shape,
             "peak_burn_rate": burn}
    matched = sorted((r for r in runbooks if r.matches(facts)), key=lambda r: -scores.get(r.name, 0.5))
    actions = [a.planned(n, scores.get(a.runbook)) for n, a in enumerate((a for r in matched for a in r.actions), start=1)]
    return PlanEntry(
        slo=slo.name,
        service=slo.service,
        status=alert.status,
        severity=alert.severity,
        shape=shape,
        windows=[PlanWindow(objective=alert.objective, window=alert.window, status=alert.status,
                            remaining_ratio=alert.value if budget_state else None)],
        fingerprint=hashlib.sha256(alert.run_key.encode()).hexdigest()[:16],
        burning_at_end=True,
        evaluated_until=iso(alert.evaluated_until_ms),
        incidents=[Incident(service=slo.service, slo=slo.name, start=iso(alert.start_ms), end=iso(alert.evaluated_until_ms),
                            severity=alert.severity, bad_events=alert.bad_events, peak_burn_rate=round(burn, 3), alert=alert.alert,
                            window=alert.window)],
        live_alert=alert.alert,
        runbooks=[r.name for r in matched],
        actions=actions,
        note=None if actions else "no runbook matches this SLO: add one under the runbooks setting",
    )
