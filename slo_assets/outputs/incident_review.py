"""An incident's review draft as Markdown: pure, the same review gives the same bytes.

Built like report.html: small functions returning text, no template engine. Names, operations,
clients and log lines come from the logs: they are escaped (text) or fenced (sample lines), so a
value such as `<script>` or `[x](javascript:...)` stays text in any Markdown viewer.
"""

from __future__ import annotations

import re

from slo_assets.core.calendar import MINUTE_MS, iso
from slo_assets.remediation.incident_review import (
    QUIET_MINUTES,
    Counted,
    IncidentReview,
)

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")


def md(value) -> str:
    """Text from the data, shown as text: Markdown and HTML characters escaped, on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table whose cells are already escaped."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _fenced(text: str) -> str:
    """A code block no line of `text` can close: its fence is longer than any backtick run in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _minutes(ms: int) -> str:
    minutes = ms // MINUTE_MS
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


def _counted(items: tuple[Counted, ...], total: int, label: str) -> str:
    if not items:
        return f"_No bad request in the logs for this span, so no {label}._"
    return _table([label, "bad requests", "share"],
                  [[md(c.name), f"{c.bad_events:,}", f"{c.bad_events / total:.0%}" if total else "n/a"] for c in items])


def _timeline(review: IncidentReview) -> str:
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
    return "\n".join(f"- `{iso(at)}` {text}" for at, _, text in sorted(events, key=lambda e: (e[0], e[1])))


def _impact(review: IncidentReview) -> str:
    if review.budget_share is not None:
        budget = f"{review.budget_share:.1%} of the month's error budget ({review.budget_allowed:,.0f} bad requests allowed)"
    else:
        budget = f"n/a ({md(review.budget_note)})"
    span = f"{iso(review.first_bad_ms)} → {iso(review.impact_end_ms)}"
    return "\n".join([
        f"From the first bad minute to {'recovery' if review.recovered_ms is not None else 'the end of the data'} ({span}):",
        "",
        f"- bad requests: {review.bad_events:,}",
        f"- share of the budget: {budget}",
        f"- clients: {review.clients_text}",
        f"- detection: {_minutes(review.detected_ms - review.first_bad_ms)} after the first bad minute",
        f"- duration: {_minutes(review.impact_end_ms - review.first_bad_ms)}" + ("" if review.recovered_ms is not None else " so far"),
    ])


def _actions(review: IncidentReview) -> str:
    if not review.actions:
        matched = ", ".join(md(r) for r in review.runbooks_matched)
        return ("_No action was carried out for this incident_" + (f" (runbooks matched: {matched})." if matched else
                " (no runbook matches the SLO)."))
    return _table(["finished", "runbook / action", "kind", "status", "what the learning record says"],
                  [[iso(a.finished_ms), f"{md(a.runbook)}/{md(a.action)}", md(a.kind),
                    md(a.status) + (f": {md(a.reason)}" if a.reason else ""), md(a.learned)] for a in review.actions])


def render(review: IncidentReview) -> str:
    total = sum(c.bad_events for c in review.top_status_codes) or review.bad_events
    samples = "\n".join(f"{source}  {raw if raw is not None else '(line not readable now)'}" for source, raw in review.sample_lines)
    questions = ("\n".join(f"- [ ] {md(q)}" for q in review.questions)
                 or "- [ ] None from the data: detection, recovery and actions show nothing unusual.")
    parts = [
        f"# Incident review (draft): {md(review.slo)}, {iso(review.detected_ms)}",
        "",
        (f"Service {md(review.service)} · period {md(review.period)} · {md(review.severity)} · SLO status {md(review.status)} · "
         f"target {float(review.target * 100):g}% · incident `{review.incident_id}`"),
        "",
        ("_A draft from the warehouse data (remediation plan, minute series, parsed logs, remediation runs, learning record). "
         "Complete it in the review; a re-run of the month rewrites it._"),
        "",
        "## Timeline (UTC)", "", _timeline(review), "",
        "## Impact", "", _impact(review), "",
        "## Where it failed", "",
        "Top operations among the bad requests:", "", _counted(review.top_operations, total, "operation"), "",
        "Top status codes:", "", _counted(review.top_status_codes, total, "status"), "",
    ]
    if review.top_clients:
        parts += ["Top clients:", "", _counted(review.top_clients, total - review.bad_requests_without_client, "client"), ""]
    parts += ["Sample lines (file:line, as logged):", "", _fenced(samples) if samples else "_none_", "",
              "## Actions taken", "", _actions(review), "",
              "## Open questions", "", questions, ""]
    return "\n".join(parts)
