"""Messages for the paging channels, built from plan entries: PagerDuty Events API v2, Slack Block
Kit, and email (a plain-text and an HTML part). Pure functions; sending lives in http_delivery.py and email_delivery.py.

Every text that came from the logs or the spec (service, operation, SLO names) is escaped for where
it lands: Slack mrkdwn (`&`, `<`, `>`, so a value cannot mention @channel or forge a link), HTML, and
email headers (control characters dropped, so no header can be injected).
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from slo_assets.remediation.models import Incident, PagerDutySeverities, PlanEntry

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SEVERITY = {"page": "critical", "ticket": "error", "none": "warning"}
PAGERDUTY_SUMMARY_CHARS = 1024
SLACK_HEADER_CHARS = 150
SLACK_TEXT_CHARS = 3000
SLACK_MAX_BLOCKS = 50
STATUS_ORDER = {"failed": 3, "at_risk": 2, "met": 1}
# What a message or a payload tells of each incident.
INCIDENT_FACTS = {"start", "end", "bad_events", "peak_burn_rate"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def breach_id(period: str, entry: PlanEntry) -> str:
    """The breach an entry describes: same period, SLO and fingerprint, same breach."""
    return f"remediation:{period}:{entry.slo}:{entry.fingerprint}"


def dedup_key(period: str, entry: PlanEntry) -> str:
    """PagerDuty's dedup_key: the breach, so a retried or repeated trigger updates one alert and resolve finds it."""
    return f"slo-assets/{period}/{entry.slo}/{entry.fingerprint}"[:255]


def _first_incident(entry: PlanEntry) -> Incident | None:
    return entry.incidents[0] if entry.incidents else None


def _top_operation(incident: Incident) -> str | None:
    return incident.top_operations[0].operation if incident.top_operations else None


def _remaining(entry: PlanEntry) -> int | float | None:
    ratios = [w.remaining_ratio for w in entry.windows if w.remaining_ratio is not None]
    return min(ratios) if ratios else None


def live_alert(entry: PlanEntry) -> dict[str, str | None]:
    """A live alert's entry names its alert and SLO window (an SLO judged over several windows pages
    once per window and alert); a month's breach names none: {}."""
    if not entry.live_alert:
        return {}
    return {"alert": entry.live_alert, "window": entry.windows[0].window if entry.windows else None}


def line(entry: PlanEntry) -> str:
    """One plain sentence on one breach."""
    incident = _first_incident(entry)
    remaining = _remaining(entry)
    parts = [f"{entry.slo} is {entry.status} (severity {entry.severity})"]
    if live := live_alert(entry):
        parts.append(f"live alert {live['alert']} over the {live['window']} window")
    if remaining is not None:
        parts.append(f"budget remaining {remaining:.0%}")
    if incident:
        parts.append(f"first incident {incident.start}..{incident.end}, {incident.bad_events} bad events, "
                     f"peak burn rate {incident.peak_burn_rate:g}")
        if top := _top_operation(incident):
            parts.append(f"top operation {top}")
    return "; ".join(parts)


def ack_hint(entry: PlanEntry) -> str:
    return f"slo-assets ack {entry.fingerprint} ({entry.slo})"


def worst_status(entries: list[PlanEntry]) -> str:
    return max((e.status for e in entries), key=lambda s: STATUS_ORDER.get(s, 0))


def title(entries: list[PlanEntry], period: str) -> str:
    service = entries[0].service
    slos = dict.fromkeys(e.slo for e in entries)
    count = f"{len(slos)} SLOs" if len(slos) > 1 else entries[0].slo
    if len(entries) > len(slos):  # live alerts: several windows or alerts of one SLO
        count += f" ({len(entries)} alerts)"
    return f"[{period}] {service}: {count} {worst_status(entries)}"


# PagerDuty Events API v2 -------------------------------------------------------------------------

def pagerduty_event(event_action: str, routing_key: str, period: str, entry: PlanEntry, severities: PagerDutySeverities | None = None,
                    source: str = "slo-assets") -> dict[str, Any]:
    """A trigger (with its payload), acknowledge or resolve event for one breach. `severities`: the
    runbook's plan severity -> PagerDuty severity, over PAGERDUTY_SEVERITY."""
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": event_action, "dedup_key": dedup_key(period, entry)}
    if event_action != "trigger":
        return event
    incident = _first_incident(entry)
    severity = {**PAGERDUTY_SEVERITY, **(severities.model_dump() if severities else {})}[entry.severity]
    event["payload"] = {
        "summary": f"[{period}] {line(entry)}"[:PAGERDUTY_SUMMARY_CHARS],
        "source": source,
        "severity": severity,
        "component": entry.slo,
        "group": entry.service,
        "class": entry.shape or "slo_breach",
        "custom_details": {"period": period, "status": entry.status, "fingerprint": entry.fingerprint, **live_alert(entry),
                           "budget_remaining_ratio": _remaining(entry),
                           "incidents": [i.model_dump(include=INCIDENT_FACTS) for i in entry.incidents]},
    }
    if incident:
        event["payload"]["timestamp"] = incident.start
    event["client"] = "slo-assets"
    return event


def pagerduty_follow_up(event_action: str, routing_key: str, dedup: str) -> dict[str, Any]:
    """An acknowledge or resolve event for the alert a trigger opened under `dedup` (its recorded dedup_key)."""
    return {"routing_key": routing_key, "event_action": event_action, "dedup_key": dedup}


# Slack Block Kit ---------------------------------------------------------------------------------

def slack_escape(text: str) -> str:
    """Slack's three control characters; a log value then shows as written and mentions nobody."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_section(entry: PlanEntry) -> dict[str, Any]:
    incident = _first_incident(entry)
    remaining = _remaining(entry)
    text = f"*{slack_escape(entry.slo)}* is *{entry.status}* (severity {entry.severity})"
    if live := live_alert(entry):
        text += f", live alert {slack_escape(live['alert'])} over the {slack_escape(live['window'])} window"
    if remaining is not None:
        text += f", budget remaining {remaining:.0%}"
    if incident:
        text += (f"\nfirst incident {incident.start} to {incident.end}: {incident.bad_events} bad events, "
                 f"peak burn rate {incident.peak_burn_rate:g}")
        if top := _top_operation(incident):
            text += f"\ntop operation: {slack_escape(top)}"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_TEXT_CHARS]}}


def slack_message(entries: list[PlanEntry], period: str) -> dict[str, Any]:
    """One Block Kit message for the breaches of one service: a header, a section per SLO (at most
    47, then one line counting the rest), a context line; `text` is the notification's fallback."""
    shown = entries[:SLACK_MAX_BLOCKS - 3]
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": title(entries, period)[:SLACK_HEADER_CHARS]}}]
    blocks += [_slack_section(e) for e in shown]
    if len(entries) > len(shown):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"and {len(entries) - len(shown)} more SLOs"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(
        f"slo-assets, period {period}; to stop an escalation: " + ", ".join(ack_hint(e) for e in entries))[:SLACK_TEXT_CHARS]}]})
    return {"text": slack_escape(title(entries, period)), "blocks": blocks}


# Email -------------------------------------------------------------------------------------------

def _header(text: str) -> str:
    return _CONTROL.sub(" ", text)


def email_message(entries: list[PlanEntry], period: str, sender: str, recipients: list[str], message_id: str,
                  moment_s: float) -> EmailMessage:
    """multipart/alternative: the plain text first, then the same facts as HTML (escaped)."""
    message = EmailMessage()
    message["Subject"] = _header(title(entries, period))
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(moment_s, usegmt=True)
    message["Message-ID"] = f"<{message_id}@slo-assets>"
    lines = [line(e) for e in entries]
    hints = "To stop an escalation: " + ", ".join(ack_hint(e) for e in entries)
    message.set_content(title(entries, period) + "\n\n" + "\n".join(f"- {t}" for t in lines) + f"\n\n{hints}\n")
    items = "".join(f"<li>{html.escape(t)}</li>" for t in lines)
    message.add_alternative(f"<html><body><h2>{html.escape(title(entries, period))}</h2><ul>{items}</ul><p>{html.escape(hints)}</p></body></html>\n",
                            subtype="html")
    return message
