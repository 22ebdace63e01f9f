"""An incident's review draft as Markdown: pure, the same review gives the same bytes.

This module prepares the draft's view data (IncidentDraft) and templates/incident_review.md.j2 lays it
out. Markdown is not HTML, so the template does not autoescape: everything in the view data is Markdown
already. Names, operations, clients and log lines come from the logs: they are escaped here (md, text)
or fenced (sample lines), so a value such as `<script>` or `[x](javascript:...)` stays text in any
Markdown viewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slo_assets.core.calendar import MINUTE_MS, iso
from slo_assets.outputs import templates
from slo_assets.remediation.incident_review import (
    QUIET_MINUTES,
    Counted,
    IncidentReview,
)

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")


def md(value) -> str:
    """Text from the data, shown as text: Markdown and HTML characters escaped, on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


@dataclass(frozen=True)
class CountedTable:
    """The bad requests by operation, status code or client: a table, or a sentence when there is none."""

    label: str
    rows: tuple[tuple[str, str, str], ...]  # (name, bad requests, share)


@dataclass(frozen=True)
class IncidentDraft:
    """The draft's view data, every text Markdown already (escaped with md, or fenced)."""

    slo: str
    detected: str
    service: str
    period: str
    severity: str
    status: str
    target: str
    incident_id: str
    timeline: tuple[tuple[str, str], ...]  # (time, what happened)
    recovered: bool
    span: str
    bad_events: str
    budget: str
    clients: str
    detection: str
    duration: str
    operations: CountedTable
    status_codes: CountedTable
    top_clients: CountedTable | None  # None: the logs carry no client field
    sample_lines: str  # a fenced block, or "_none_"
    actions: tuple[tuple[str, str, str, str, str], ...]
    runbooks_matched: str | None
    questions: tuple[str, ...]


def _fenced(text: str) -> str:
    """A code block no line of `text` can close: its fence is longer than any backtick run in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _minutes(ms: int) -> str:
    minutes = ms // MINUTE_MS
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


def _counted(items: tuple[Counted, ...], total: int, label: str) -> CountedTable:
    return CountedTable(label, tuple((md(c.name), f"{c.bad_events:,}", f"{c.bad_events / total:.0%}" if total else "n/a") for c in items))


def _timeline(review: IncidentReview) -> tuple[tuple[str, str], ...]:
    allowance = float((1 - review.target) * 100)
    events = [(review.first_bad_ms, 0, (f"**First bad minute**: more than {allowance:g}% of the SLO's requests were bad "
                                        f"({review.detection_minutes} min before the first alert)."))]
    for f in review.firings:
        windows = ", ".join(md(w) for w in f.windows)
        events.append((f.start_ms, 1, (f"**{md(f.severity)} alert fires**: {md(f.long_window)}/{md(f.short_window)} burn rate above "
                                       f"{' / '.join(f'{t:.4g}×' for t in f.thresholds)} (SLO windows {windows}; peak {f.peak_burn_rate:.2f}×).")))
        events.append((f.end_ms, 3, (f"{md(f.severity)} alert {md(f.long_window)}/{md(f.short_window)} clears "
                                     f"(fired {_minutes(f.end_ms - f.start_ms)}, {f.bad_minutes} of those minutes over the allowance).")))
    for percent, at in review.thresholds:
        events.append((at, 2, f"{percent}% of the month's error budget spent."))
    for a in review.actions:
        when = " (finished after the data ends: a replayed month)" if a.after_data else ""
        reason = f": {md(a.reason)}" if a.reason else ""
        events.append((a.finished_ms, 2, f"**Action** {md(a.runbook)}/{md(a.action)} ({md(a.kind)}): {md(a.status)}{reason}{when}."))
    if review.recovered_ms is not None:
        events.append((review.recovered_ms, 4, (f"**Recovery**: the error ratio stays within the allowance from here "
                                                f"({_minutes(review.recovered_ms - review.first_bad_ms)} after the first bad minute).")))
    else:
        events.append((review.data_end_ms, 4, f"**No recovery yet**: the data ends here without {QUIET_MINUTES} minutes within the allowance."))
    return tuple((iso(at), text) for at, _, text in sorted(events, key=lambda e: (e[0], e[1])))


def _budget(review: IncidentReview) -> str:
    if review.budget_share is not None:
        return f"{review.budget_share:.1%} of the month's error budget ({review.budget_allowed:,.0f} bad requests allowed)"
    return f"n/a ({md(review.budget_note)})"


def draft(review: IncidentReview) -> IncidentDraft:
    """The draft's view data of an incident review."""
    total = sum(c.bad_events for c in review.top_status_codes) or review.bad_events
    samples = "\n".join(f"{source}  {raw if raw is not None else '(line not readable now)'}" for source, raw in review.sample_lines)
    recovered = review.recovered_ms is not None
    return IncidentDraft(
        md(review.slo), iso(review.detected_ms), md(review.service), md(review.period), md(review.severity), md(review.status),
        f"{float(review.target * 100):g}", review.incident_id, _timeline(review), recovered,
        f"{iso(review.first_bad_ms)} → {iso(review.impact_end_ms)}", f"{review.bad_events:,}", _budget(review), review.clients_text,
        _minutes(review.detected_ms - review.first_bad_ms), _minutes(review.impact_end_ms - review.first_bad_ms),
        _counted(review.top_operations, total, "operation"), _counted(review.top_status_codes, total, "status"),
        _counted(review.top_clients, total - review.bad_requests_without_client, "client") if review.top_clients else None,
        _fenced(samples) if samples else "_none_",
        tuple((iso(a.finished_ms), f"{md(a.runbook)}/{md(a.action)}", md(a.kind), md(a.status) + (f": {md(a.reason)}" if a.reason else ""),
               md(a.learned)) for a in review.actions),
        ", ".join(md(r) for r in review.runbooks_matched) or None, tuple(md(q) for q in review.questions))


def render(review: IncidentReview) -> str:
    return templates.render("incident_review.md.j2", draft=draft(review))
