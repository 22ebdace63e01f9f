"""Remediation plan: diagnose each SLO that failed, is at risk or paged, and match runbook actions.

Incidents are the SLO's replayed alert firings merged into windows; each gets its bad events (from
the minute series), top operations and status codes among its bad requests, and sample log lines as
file:line with the raw text. The fingerprint changes when a breach is new or worse, never otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from slo_assets.core.calendar import MINUTE_MS, iso
from slo_assets.ingest.files import iter_content
from slo_assets.openslo.spec import Slo
from slo_assets.remediation.models import (
    ClientCount,
    Clients,
    Incident,
    OperationCount,
    PlanEntry,
    PlanSummary,
    PlanWindow,
    RemediationPlan,
    SampleLine,
    Shape,
    StatusCount,
)
from slo_assets.remediation.runbooks import Runbook
from slo_assets.slo.evaluation import WindowEvaluation

SCHEMA_VERSION = 1
STATUS_RANK = {"failed": 3, "at_risk": 2, "met": 1, "insufficient_coverage": 0, "insufficient_data": 0}
SAMPLE_LINES = 5
TOP_CLIENTS = 3
RAW_BYTES = 512
MERGE_GAP_MS = 5 * MINUTE_MS
NEWLINE = ord("\n")


@dataclass
class IncidentWindow:
    """An incident before its diagnosis: [start, end) in epoch ms, its worst severity, its peak burn rate."""
    start_ms: int
    end_ms: int
    severity: str
    peak_burn_rate: float


def incident_windows(evaluations: list[WindowEvaluation]) -> list[IncidentWindow]:
    """Alert firings of one SLO (all its windows) merged into incidents: start, end, severity, peak."""
    firings = sorted((a.start_ms, a.end_ms, a.severity, a.peak_burn_rate) for e in evaluations for a in e.alerts)
    incidents: list[IncidentWindow] = []
    for start, end, severity, peak in firings:
        if incidents and start <= incidents[-1].end_ms + MERGE_GAP_MS:
            last = incidents[-1]
            last.end_ms = max(last.end_ms, end)
            last.peak_burn_rate = max(last.peak_burn_rate, peak)
            if severity == "page":
                last.severity = "page"
        else:
            incidents.append(IncidentWindow(start, end, severity, peak))
    return incidents


def read_source_lines(root: Path, wanted: dict[str, set[int]]) -> dict[tuple[str, int], str]:
    """Raw text (first 512 bytes, escaped if not UTF-8) of the given file:line pairs, gzip or not."""
    found = {}
    for name, lines in wanted.items():
        path = Path(root) / name
        if not path.is_file() or not lines:
            continue
        with closing(iter_content(path)) as blocks:  # closed at once when the last line asked for is read
            for number, raw in lines_at(blocks, sorted(lines)):
                found[(name, number)] = raw.rstrip(b"\r\n")[:RAW_BYTES].decode("utf-8", "backslashreplace")
    return found


def lines_at(blocks: Iterable[bytes], numbers: list[int]) -> Iterator[tuple[int, bytes]]:
    """(number, line without its newline) of the 1-based line `numbers` (ascending) of the content in
    `blocks`, the last line counting without a newline; reads no further than the last one asked for.
    Newlines are found per block by numpy, not per line in Python (a month's files are large)."""
    wanted = iter(numbers)
    target = next(wanted, None)
    number, carry = 1, b""  # carry: the start of line `number`, not ended in the blocks read so far
    if target is None:
        return
    for block in blocks:
        content = carry + block
        ends = np.flatnonzero(np.frombuffer(content, dtype=np.uint8) == NEWLINE)
        while target is not None and target < number + len(ends):
            index = target - number
            yield target, content[int(ends[index - 1]) + 1 if index else 0:int(ends[index])]
            target = next(wanted, None)
        if target is None:
            return
        if len(ends):
            number += len(ends)
            carry = content[int(ends[-1]) + 1:]
        else:
            carry = content
    if target == number and carry:
        yield target, carry


def diagnose(slo: Slo, incident: IncidentWindow, minutes: pl.DataFrame | None, bad_rows: Callable[[Slo, int, int], pl.DataFrame],
             log_root: Path) -> Incident:
    """Bad events, top operations and status codes, and sample lines of one incident."""
    start, end = incident.start_ms, incident.end_ms
    bad_events = 0
    if minutes is not None and minutes.height:
        epoch = minutes["minute"].dt.epoch("ms")
        window = minutes.filter((epoch >= start) & (epoch < end))
        bad_events = int((window["total"] - window["good"]).sum())
    rows = bad_rows(slo, start, end)
    top_operations = rows.group_by("operation").len().sort(["len", "operation"], descending=[True, False]).head(5)
    top_status = rows.group_by("status").len().sort(["len", "status"], descending=[True, False]).head(5)
    samples = rows.sort("ts", "source_file", "source_line").head(SAMPLE_LINES)
    clients = rows["client"].drop_nulls() if "client" in rows.columns else pl.Series("client", [], dtype=pl.String)
    top_clients = clients.value_counts(name="len").sort(["len", "client"], descending=[True, False]).head(TOP_CLIENTS)
    wanted: dict[str, set[int]] = {}
    for r in samples.iter_rows(named=True):
        wanted.setdefault(r["source_file"], set()).add(r["source_line"])
    raw = read_source_lines(log_root, wanted)
    return Incident(
        service=slo.service,
        slo=slo.name,
        start=iso(start),
        end=iso(end),
        severity=incident.severity,
        bad_events=bad_events,
        peak_burn_rate=round(incident.peak_burn_rate, 3),
        top_operations=[OperationCount(operation=o, bad_events=n) for o, n in top_operations.iter_rows()],
        top_status_codes=[StatusCount(status=s, bad_events=n) for s, n in top_status.iter_rows()],
        clients=Clients(distinct=clients.n_unique() if clients.len() else None, bad_requests_without_client=rows.height - clients.len(),
                        top=[ClientCount(client=c, bad_events=n) for c, n in top_clients.iter_rows()]),
        sample_lines=[SampleLine(source=f"{r['source_file']}:{r['source_line']}", raw=raw.get((r["source_file"], r["source_line"])))
                      for r in samples.iter_rows(named=True)],
    )


def fingerprint(period: str, slo: str, status: str, incidents: Sequence[Incident]) -> str:
    """Same breach, same fingerprint; a new incident or a worse status changes it."""
    text = "|".join([period, slo, status, *sorted(i.start for i in incidents)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_document(period: str, entries: Sequence[PlanEntry]) -> RemediationPlan:
    """The plan of a period made of these entries, with its summary."""
    return RemediationPlan(schema_version=SCHEMA_VERSION, period=period, entries=tuple(entries),
                           summary=PlanSummary(entries=len(entries), with_actions=sum(bool(e.actions) for e in entries),
                                               incidents=sum(len(e.incidents) for e in entries)))


def build_plan(period: str, slos: list[Slo], evaluations: list[WindowEvaluation], minutes_by_slo: dict[str, pl.DataFrame],
               bad_rows: Callable[[Slo, int, int], pl.DataFrame], runbooks: list[Runbook], log_root: Path,
               scores: dict[str, float] | None = None) -> RemediationPlan:
    """`scores`: recovered share per runbook from the learning record; better runbooks come first."""
    scores = scores or {}
    entries = []
    for slo in slos:
        mine = [e for e in evaluations if e.slo == slo.name]
        if not mine:
            continue
        worst = max(mine, key=lambda e: STATUS_RANK[e.status]).status
        paged = any(e.alert_count("page") for e in mine)
        if worst not in ("failed", "at_risk") and not paged:
            continue
        incidents = [diagnose(slo, i, minutes_by_slo.get(slo.name), bad_rows, log_root) for i in incident_windows(mine)]
        severity = "page" if paged else ("ticket" if any(e.alerts for e in mine) else "none")
        shape: Shape = "latency" if slo.indicator.kind() == "latency" else "error_burst"
        facts = {"service": slo.service, "slo": slo.name, "status": worst, "severity": severity, "shape": shape,
                 "peak_burn_rate": max((i.peak_burn_rate for i in incidents), default=0.0)}
        # Proven runbooks first, untried ones (neutral 0.5) before those that did not help.
        matched = sorted((r for r in runbooks if r.matches(facts)), key=lambda r: -scores.get(r.name, 0.5))
        actions = [a.planned(n, scores.get(a.runbook)) for n, a in enumerate((a for r in matched for a in r.actions), start=1)]
        entries.append(PlanEntry(
            slo=slo.name,
            service=slo.service,
            status=worst,
            severity=severity,
            shape=shape,
            windows=[PlanWindow(objective=e.objective, window=e.window, status=e.status, sli=e.sli, target=e.target,
                                remaining_ratio=e.error_budget.remaining_ratio) for e in mine],
            fingerprint=fingerprint(period, slo.name, worst, incidents),
            # An alert still firing at the last minute evaluated: escalation climbs only while this holds.
            burning_at_end=any(a.end_ms >= e.window_end_ms for e in mine for a in e.alerts),
            evaluated_until=iso(max(e.window_end_ms for e in mine)),
            incidents=incidents,
            runbooks=[r.name for r in matched],
            actions=actions,
            note=None if actions else "no runbook matches this SLO: add one under the runbooks setting",
        ))
    return plan_document(period, entries)


@dataclass(frozen=True)
class ReportSeen:
    """One compliance_report materialization as the remediation sensor sees it."""
    storage_id: int
    month: str
    data_version: str | None
    materialized_at: float  # epoch seconds
    # The run that materialized it is still going: the month's outputs (report.html among them) are
    # still being written from it, and remediation must not write runs beside them (they would show).
    run_in_progress: bool = False


@dataclass
class SensorTriage:
    ready: list[tuple[ReportSeen, RemediationPlan]] = field(default_factory=list)  # report and the plan written from it
    notes: list[str] = field(default_factory=list)  # why a report waits or was skipped
    skipped: list[str] = field(default_factory=list)  # the notes of reports given up on (for a warning)
    cursor: int | None = None


def triage_reports(reports: list[ReportSeen], read_plan: Callable[[str], RemediationPlan | None], cursor: int | None,
                   now_s: float, wait_s: float) -> SensorTriage:
    """Which reports have their plan (same data version), which wait, which are given up on.

    A report whose plan is missing waits at most `wait_s` after it was materialized, then is skipped
    with a note; one superseded by a newer report of the same month is skipped at once (its plan will
    never match). The cursor passes every report handled or skipped up to the first that still
    waits; reports after a waiting one are handled anyway (their run keys make repeats harmless).
    A report whose run is still in progress waits for it, however long: remediation acts on a month
    whose outputs are all written, so report.html never depends on which of the two came first."""
    triage = SensorTriage(cursor=cursor)
    newest = {}
    for report in reports:
        newest[report.month] = max(newest.get(report.month, report.storage_id), report.storage_id)
    blocked = False
    for report in sorted(reports, key=lambda r: r.storage_id):
        plan = read_plan(report.month)
        age_min = max(0.0, now_s - report.materialized_at) / 60
        if report.run_in_progress and report.storage_id == newest[report.month]:
            triage.notes.append(f"{report.month}: waiting for the run that materialized report {report.storage_id} to finish "
                                "(the month's outputs are still being written)")
            blocked = True
            continue
        if plan is not None and plan.compliance_data_version == report.data_version:
            triage.ready.append((report, plan))
        elif report.storage_id < newest[report.month]:
            triage.notes.append(f"{report.month}: report {report.storage_id} superseded by a newer report of the month; skipped")
        elif age_min * 60 >= wait_s:
            why = "no remediation_plan" if plan is None else f"remediation_plan is of another report ({plan.compliance_data_version})"
            note = (f"{report.month}: {why} for report {report.storage_id} (data version {report.data_version}) "
                    f"{age_min:.0f} min after it; skipped (plan_wait_minutes = {wait_s / 60:g})")
            triage.notes.append(note)
            triage.skipped.append(note)
        else:
            triage.notes.append(f"{report.month}: waiting for its remediation_plan ({age_min:.0f} of {wait_s / 60:g} min)")
            blocked = True
            continue
        if not blocked:
            triage.cursor = report.storage_id
    return triage
