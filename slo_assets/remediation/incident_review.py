"""Post-incident review drafts: the facts of each incident of the remediation plan, for people to review.

An incident is the plan's (the SLO's alert firings merged, plan.incident_windows). Its review adds:

- when it began: the **first bad minute**, the first minute of the run of minutes over the
  allowance (bad events above 1 - target of the minute's events) that led into the first alert.
  Runs are chained across fewer than QUIET_MINUTES minutes within the allowance, and looked for no
  further back than the longest long window of the incident's alerts;
- when it ended: **recovery**, the minute after the last minute over the allowance of those runs,
  from which the ratio stays within the allowance (QUIET_MINUTES at least, by the chaining); None
  when the data ends first;
- the impact from the first bad minute to recovery (or the end of the data): bad requests, their
  share of the month's budget, distinct clients, top operations and status codes, sample lines;
- the actions of remediation_runs and what learning_record says of them; and open questions
  asked of exactly these facts.

The allowance is that of the SLO's strictest objective (its alerts fire first). Everything here is
pure: the shell (defs/remediation/incident_reviews.py) reads the warehouse and writes the Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl

from slo_assets.core.calendar import MINUTE_MS, epoch_ms, iso
from slo_assets.core.durations import duration_minutes
from slo_assets.openslo.spec import Slo
from slo_assets.remediation.models import Incident, Outcome, PlanEntry, RemediationPlan
from slo_assets.remediation.plan import IncidentWindow, diagnose
from slo_assets.slo.chain import dense
from slo_assets.slo.evaluation import WindowEvaluation

QUIET_MINUTES = 15  # this many minutes within the allowance end a run of bad minutes
DETECTION_QUESTION_MINUTES = 5  # a slower detection is asked about
LATE_CLEAR_MINUTES = 60  # an alert still firing this long after recovery is asked about
CONCENTRATION = 0.8  # one operation with this share of the bad requests is asked about
ONE_CALLER = 0.5  # one client with this share of the bad requests is asked about
BUDGET_QUESTION = 0.5  # an incident spending this share of the month's budget is asked about
NO_CLIENT = "unknown (the logs carry no client field)"


def incident_id(slo: str, start: str) -> str:
    """The draft's file name: the SLO and the incident's first alert, e.g. checkout-availability-20261012T1405Z."""
    stamp = start.replace("-", "").replace(":", "")[:13] + "Z"  # 2026-10-12T14:05:00Z -> 20261012T1405Z
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{slo}-{stamp}").lstrip("._-") or "incident"


@dataclass(frozen=True)
class Firing:
    """One alert firing of the incident: a tier over one span, with the SLO windows (and objectives) it
    fired in; their thresholds differ with the window's length (14.4x of a 30-day budget, 13.44x of 28 days)."""
    severity: str
    long_window: str
    short_window: str
    thresholds: tuple[float, ...]
    start_ms: int
    end_ms: int
    peak_burn_rate: float
    windows: tuple[str, ...]
    bad_minutes: int  # minutes over the allowance while it fired


@dataclass(frozen=True)
class ActionTaken:
    runbook: str
    action: str
    kind: str
    status: str
    reason: str | None
    finished_ms: int
    after_data: bool  # finished after the data ends (a replayed month): placed at the first incident
    learned: str  # what the learning record says, in words


@dataclass(frozen=True)
class Counted:
    name: str
    bad_events: int


@dataclass(frozen=True)
class IncidentReview:
    incident_id: str
    period: str
    slo: str
    service: str
    severity: str
    status: str
    target: Decimal
    first_bad_ms: int
    detected_ms: int  # the first alert
    recovered_ms: int | None
    data_end_ms: int
    impact_end_ms: int  # recovery, or the end of the data
    bad_events: int
    budget_allowed: float | None
    budget_share: float | None  # bad events over the month's allowed bad events; None for a time-slice budget
    budget_note: str | None
    distinct_clients: int | None
    bad_requests_without_client: int
    top_clients: tuple[Counted, ...]
    top_operations: tuple[Counted, ...]
    top_status_codes: tuple[Counted, ...]
    sample_lines: tuple[tuple[str, str | None], ...]  # (file:line, raw text)
    firings: tuple[Firing, ...]
    thresholds: tuple[tuple[int, int], ...]  # (percent of the budget, crossed at) within the impact
    actions: tuple[ActionTaken, ...]
    runbooks_matched: tuple[str, ...]
    questions: tuple[str, ...]

    @property
    def detection_minutes(self) -> int:
        return (self.detected_ms - self.first_bad_ms) // MINUTE_MS

    @property
    def clients_text(self) -> str:
        if self.distinct_clients is None:
            return NO_CLIENT
        text = f"{self.distinct_clients:,}"
        if self.bad_requests_without_client:
            text += f" (and {self.bad_requests_without_client:,} bad requests without a client)"
        return text


def over_allowance(good: np.ndarray, total: np.ndarray, target: Decimal) -> np.ndarray:
    """Minutes whose bad events exceed (1 - target) of their events, in exact integer arithmetic."""
    num, den = Fraction(target).as_integer_ratio()
    return (total > 0) & ((total - good) * den > (den - num) * total)


def bad_runs(bad: np.ndarray) -> list[tuple[int, int]]:
    """[first, last] index of each run of bad minutes, runs chained across fewer than QUIET_MINUTES good ones."""
    runs: list[list[int]] = []
    for index in np.flatnonzero(bad).tolist():
        if runs and index - runs[-1][1] <= QUIET_MINUTES:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return [(first, last) for first, last in runs]


def impact_span(good: np.ndarray, total: np.ndarray, target: Decimal, origin_ms: int, start_ms: int, end_ms: int,
                data_end_ms: int) -> tuple[int, int | None]:
    """(first bad minute, recovery or None) of the incident whose alerts span [start, end); the arrays
    are per minute from `origin_ms` (the lookback's start) to the end of the data or beyond."""
    bad = over_allowance(good, total, target)
    start, end = (start_ms - origin_ms) // MINUTE_MS, (end_ms - origin_ms) // MINUTE_MS
    mine = [(first, last) for first, last in bad_runs(bad) if last >= start - QUIET_MINUTES and first < end]
    if not mine:
        return start_ms, None if end_ms >= data_end_ms else end_ms
    first_bad = origin_ms + min(f for f, _ in mine) * MINUTE_MS
    recovered = origin_ms + (max(last for _, last in mine) + 1) * MINUTE_MS
    # recovered only once the data shows the quiet minutes after it
    return min(first_bad, start_ms), recovered if recovered + QUIET_MINUTES * MINUTE_MS <= data_end_ms else None


def _firings(evaluations: list[WindowEvaluation], start_ms: int, end_ms: int) -> list[tuple]:
    """The alert firings in [start, end] as (start, severity, long, short, end), thresholds, peak, windows:
    one per tier and span whatever the windows and objectives that replayed it."""
    found: dict[tuple, tuple[set, list, list]] = {}
    for e in evaluations:
        for a in e.alerts:
            if a.start_ms <= end_ms and a.end_ms >= start_ms:
                thresholds, peaks, windows = found.setdefault((a.start_ms, a.severity, a.long_window, a.short_window, a.end_ms),
                                                              (set(), [], []))
                thresholds.add(float(a.burn_rate_threshold))
                peaks.append(a.peak_burn_rate)
                windows.append(e.window)
    return [(key, tuple(sorted(t)), max(p), tuple(dict.fromkeys(w))) for key, (t, p, w) in sorted(found.items())]


def _budget_window(slo: Slo, evaluations: list[WindowEvaluation]) -> WindowEvaluation | None:
    """The strictest objective's evaluation over the SLO's own period (its first time window)."""
    strictest = max(slo.objectives, key=lambda o: o.target)
    mine = [e for e in evaluations if e.objective == strictest.key]
    period = slo.windows[0].label if slo.windows else None
    return next((e for e in mine if e.window == period), mine[0] if mine else None)


def _learned(record: dict | None) -> str:
    if record is None:
        return "no learning record (only actions that ran, or ran dry, are learned from)"
    dry = " (dry run: what the SLO did anyway)" if record.get("dry_run") else ""
    if record.get("recovered") is True:
        return f"recovered: the 1h burn rate fell below 1 {record['minutes_to_recover']} min after {record['reference']}{dry}"
    if record.get("recovered") is False:
        return f"not recovered: the 1h burn rate stayed at or above 1 for 24 h after {record['reference']}{dry}"
    return f"unknown yet: the data ends before 24 h after {record['reference']}{dry}"


def _place_actions(incidents: Sequence[Incident], runs: Sequence[Outcome], learning: dict[str, dict],
                   data_end_ms: int) -> list[list[ActionTaken]]:
    """Each outcome goes to the incident last started at or before it finished (the first when none
    had, or when it finished after the data ends: a replayed month, as the learning record places it)."""
    placed: list[list[ActionTaken]] = [[] for _ in incidents]
    starts = [epoch_ms(i.start) for i in incidents]
    for run in sorted(runs, key=lambda r: (r.finished_at, r.runbook, r.action)):
        finished = epoch_ms(run.finished_at)
        after = finished >= data_end_ms
        index = 0 if after else max([n for n, s in enumerate(starts) if s <= finished], default=0)
        placed[index].append(ActionTaken(run.runbook, run.action, run.kind, run.status, run.reason, finished, after,
                                         _learned(learning.get(run.idempotency_key)) if run.status in ("ok", "dry_run")
                                         else "not learned from: the action did not run"))
    return placed


def _questions(review: dict, firings: list[Firing], actions: list[ActionTaken], entry: PlanEntry) -> list[str]:
    """What the data leaves open, each asked of a figure in it."""
    out = []
    delay = (review["detected_ms"] - review["first_bad_ms"]) // MINUTE_MS
    first = firings[0] if firings else None
    if first is not None and delay >= DETECTION_QUESTION_MINUTES:
        out.append(f"Why did detection take {delay} minutes? The first minute over the allowance was {iso(review['first_bad_ms'])}; "
                   f"the first alert ({first.severity}, {first.long_window}/{first.short_window}) fired at {iso(first.start_ms)}.")
    for f in firings:
        if f.bad_minutes == 0:
            out.append(f"Was the {f.severity} alert at {iso(f.start_ms)} noise? None of its {(f.end_ms - f.start_ms) // MINUTE_MS} "
                       f"minutes of firing was over the allowance.")
    recovered = review["recovered_ms"]
    if recovered is None:
        out.append(f"Is it still going? The data ends at {iso(review['data_end_ms'])} without {QUIET_MINUTES} minutes within the allowance.")
    else:
        last_clear = max((f.end_ms for f in firings), default=recovered)
        late = (last_clear - recovered) // MINUTE_MS
        if late >= LATE_CLEAR_MINUTES:
            out.append(f"The alerts kept firing {late} minutes after recovery ({iso(recovered)} to {iso(last_clear)}): "
                       "would a shorter window have cleared sooner?")
    if not entry.actions:
        out.append(f"No runbook matches {entry.slo}: who responded, and should a runbook cover this?")
    elif not actions:
        out.append("The plan names actions, but none was carried out for this incident: was the remediation job run?")
    for a in actions:
        if a.status == "failed":
            out.append(f"Why did {a.runbook}/{a.action} fail ({a.reason or 'no reason recorded'})?")
        elif a.status.startswith("skipped") and a.status != "skipped_already_done":
            out.append(f"{a.runbook}/{a.action} was {a.status.replace('_', ' ')} ({a.reason or 'no reason recorded'}): was anyone told?")
        elif a.learned.startswith("not recovered"):
            out.append(f"{a.runbook}/{a.action} ran, yet the SLO did not recover within 24 h: does it belong in the runbook?")
    bad_rows = sum(o.bad_events for o in review["top_operations_all"])
    top_op = review["top_operations"][0] if review["top_operations"] else None
    if top_op is not None and bad_rows and top_op.bad_events / bad_rows >= CONCENTRATION and len(review["top_operations_all"]) > 1:
        out.append(f"Why did {top_op.name} take {top_op.bad_events / bad_rows:.0%} of the bad requests?")
    clients = review["distinct_clients"]
    top_client = review["top_clients"][0] if review["top_clients"] else None
    known = bad_rows - review["bad_requests_without_client"]
    if top_client is not None and known and clients and clients > 1 and top_client.bad_events / known >= ONE_CALLER:
        out.append(f"Was one caller behind it? {top_client.name} sent {top_client.bad_events / known:.0%} of the bad requests "
                   f"({clients} clients in all).")
    elif clients == 1 and top_client is not None:
        out.append(f"Was a single client ({top_client.name}) the whole incident?")
    share = review["budget_share"]
    if share is not None and share >= BUDGET_QUESTION:
        out.append(f"This incident alone spent {share:.0%} of the month's error budget: what does the error-budget policy ask for now?")
    return out


@dataclass(frozen=True)
class _SloData:
    """What the reviews of one SLO's incidents read: its evaluations, its strictest target, the
    evaluation its budget is taken from, its minutes and bad rows, where the minute series ends."""
    slo: Slo
    evaluations: list[WindowEvaluation]
    target: Decimal
    budget: WindowEvaluation | None
    minutes: pl.DataFrame | None
    bad_rows: Callable[[Slo, int, int], pl.DataFrame]
    log_root: Path
    data_end_ms: int


@dataclass(frozen=True)
class _Impact:
    """An incident in minutes: its alerts' span [start, end), the first bad minute, recovery (None when
    the data ends first), the end of the impact, and its firings with their minutes over the allowance."""
    start_ms: int
    end_ms: int
    first_bad_ms: int
    recovered_ms: int | None
    impact_end_ms: int
    firings: list[Firing]


def _impact(incident: Incident, data: _SloData) -> _Impact:
    """The incident's impact, looked for as far back as the longest long window of its alerts."""
    start, end = epoch_ms(incident.start), epoch_ms(incident.end)
    raw = _firings(data.evaluations, start, end)
    lookback = max((duration_minutes(key[2]) for key, *_ in raw), default=60) * MINUTE_MS
    origin = start - lookback
    limit = max(end, data.data_end_ms) + QUIET_MINUTES * MINUTE_MS
    good, total, _ = dense(data.minutes, origin, limit)
    first_bad, recovered = impact_span(good, total, data.target, origin, start, end, data.data_end_ms)
    impact_end = recovered if recovered is not None else max(end, min(data.data_end_ms, limit))
    over = over_allowance(good, total, data.target)

    def minutes_over(a_ms: int, b_ms: int) -> int:
        return int(over[max(0, (a_ms - origin) // MINUTE_MS):max(0, (b_ms - origin) // MINUTE_MS)].sum())

    firings = [Firing(sev, long, short, thresholds, s, e, peak, windows, minutes_over(s, e))
               for (s, sev, long, short, e), thresholds, peak, windows in raw]
    return _Impact(start, end, first_bad, recovered, impact_end, firings)


def _budget_facts(budget: WindowEvaluation | None, bad_events: int) -> tuple[float | None, float | None, str | None]:
    """(the month's allowed bad events, the incident's share of them, why there is no share or None)."""
    allowed = None if budget is None else float(budget.error_budget.allowed)
    occurrences = budget is not None and budget.budgeting_method == "Occurrences"
    share = bad_events / allowed if occurrences and allowed else None
    note = None
    if budget is None:
        note = "no evaluation of the SLO's period"
    elif not occurrences:
        note = f"the budget counts time slices ({budget.budgeting_method}), not requests"
    elif not allowed:
        note = "the month allows no bad event (no event in the window)"
    return allowed, share, note


def _review(period: str, entry: PlanEntry, incident: Incident, taken: list[ActionTaken], data: _SloData) -> IncidentReview:
    """One incident's review: its impact, what the logs say of it, its budget, actions and questions."""
    slo, budget, data_end_ms = data.slo, data.budget, data.data_end_ms
    impact = _impact(incident, data)
    start, first_bad, recovered, impact_end, firings = impact.start_ms, impact.first_bad_ms, impact.recovered_ms, impact.impact_end_ms, impact.firings
    facts = diagnose(slo, IncidentWindow(first_bad, impact_end, incident.severity, incident.peak_burn_rate), data.minutes,
                     data.bad_rows, data.log_root)
    clients = facts.clients
    allowed, share, note = _budget_facts(budget, facts.bad_events)
    all_ops = data.bad_rows(slo, first_bad, impact_end).group_by("operation").len()
    review = {
        "detected_ms": start, "first_bad_ms": first_bad, "recovered_ms": recovered, "data_end_ms": data_end_ms,
        "top_operations": tuple(Counted(o.operation, o.bad_events) for o in facts.top_operations),
        "top_operations_all": tuple(Counted(o, n) for o, n in all_ops.iter_rows()),
        "top_clients": tuple(Counted(c.client, c.bad_events) for c in (clients.top if clients else ())),
        "distinct_clients": clients.distinct if clients else None,
        "bad_requests_without_client": clients.bad_requests_without_client if clients else 0,
        "budget_share": share,
    }
    thresholds = tuple((t.percent, t.crossed_at_ms) for t in (budget.thresholds if budget else ())
                       if t.crossed_at_ms is not None and first_bad <= t.crossed_at_ms < impact_end)
    return IncidentReview(
        incident_id=incident_id(slo.name, incident.start), period=period, slo=slo.name, service=slo.service,
        severity=incident.severity, status=entry.status, target=data.target, first_bad_ms=first_bad, detected_ms=start,
        recovered_ms=recovered, data_end_ms=data_end_ms, impact_end_ms=impact_end, bad_events=facts.bad_events,
        budget_allowed=allowed, budget_share=share, budget_note=note, distinct_clients=review["distinct_clients"],
        bad_requests_without_client=review["bad_requests_without_client"], top_clients=review["top_clients"],
        top_operations=review["top_operations"],
        top_status_codes=tuple(Counted(str(c.status), c.bad_events) for c in facts.top_status_codes),
        sample_lines=tuple((line.source, line.raw) for line in facts.sample_lines),
        firings=tuple(firings), thresholds=thresholds, actions=tuple(taken), runbooks_matched=entry.runbooks,
        questions=tuple(_questions(review, firings, taken, entry)),
    )


def build_reviews(period: str, slos: list[Slo], evaluations: list[WindowEvaluation], plan: RemediationPlan,
                  minutes_by_slo: dict[str, pl.DataFrame], bad_rows: Callable[[Slo, int, int], pl.DataFrame], log_root: Path,
                  runs: Sequence[Outcome], learning: list[dict], data_end_ms: int) -> list[IncidentReview]:
    """One review per incident of the plan, in the plan's order. `data_end_ms`: where the minute
    series ends (recovery is not claimed past it); `runs` and `learning`: the month's rows."""
    by_name = {s.name: s for s in slos}
    learned = {}
    for record in learning:
        learned.setdefault(record["idempotency_key"], record)
    reviews = []
    for entry in plan.entries:
        slo = by_name.get(entry.slo)
        incidents = entry.incidents
        if slo is None or not incidents:
            continue
        mine = [e for e in evaluations if e.slo == slo.name]
        data = _SloData(slo, mine, max(o.target for o in slo.objectives), _budget_window(slo, mine), minutes_by_slo.get(slo.name),
                        bad_rows, log_root, data_end_ms)
        actions = _place_actions(incidents, [r for r in runs if r.slo == slo.name], learned, data_end_ms)
        reviews += [_review(period, entry, incident, taken, data) for incident, taken in zip(incidents, actions, strict=True)]
    return reviews
