"""Carry out runbook actions: notify, webhook, command, annotate, and the channels slack, pagerduty
and email (messages built in channels.py). Dry-run unless told to execute. Message actions of one
service and channel go out as one message (`carry_out_group`), after the checks against fatigue:
done before, cooldown, quiet hours, the channel's rate limit. Every outcome is recorded redacted.

How each kind goes out lives beside this module, and its names are importable from here too:
http_delivery.py (one POST per attempt within a total deadline, cutting the connection when it
passes; no redirect followed), email_delivery.py (SMTP), commands.py (argument lists without a
shell, in their own process group, environment from an allow-list; a value from the logs never
chooses the program and never becomes an option), redaction.py (the secrets named in the runbook,
redacted from every outcome by one function, `redact`) and attempts.py (statuses, retries).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from slo_assets.remediation.attempts import (
    COOLDOWN,
    DONE_BEFORE,
    DRY_RUN,
    FAILED,
    OK,
    QUIET_HOURS,
    RATE_LIMITED,
    TryAgain,
    with_retries,
)
from slo_assets.remediation.channels import (
    INCIDENT_FACTS,
    PAGERDUTY_EVENTS_URL,
    breach_id,
    email_message,
    live_alert,
    pagerduty_event,
    slack_message,
)
from slo_assets.remediation.commands import OUTPUT_CHARS, UnsafeValue, argv_for, run_command
from slo_assets.remediation.email_delivery import send_email
from slo_assets.remediation.http_delivery import (
    EXCERPT_KEPT_BYTES,
    MAX_BODY_BYTES,
    RETRY_STATUSES,
    THROTTLED_RETRY_STATUSES,
    pagerduty_url,
    post_action,
    send_pagerduty,
)
from slo_assets.remediation.models import (
    AnnotateAction,
    CommandAction,
    Delivery,
    EmailAction,
    HttpAction,
    NotifyAction,
    Outcome,
    PagerDutyAction,
    PlanEntry,
    PlannedAction,
    SlackAction,
)
from slo_assets.remediation.redaction import EXCERPT_CHARS, MIN_PIECE_CHARS, redact, secret_pieces, secret_values, stored_detail
from slo_assets.remediation.runbooks import Action
from slo_assets.slo.budget import epoch_ms

# What other modules and the tests import from here. `subprocess` is the module commands.py runs
# commands through: a test replaces its Popen to see every argv that would run.
__all__ = [
    "COOLDOWN", "DONE_BEFORE", "DRY_RUN", "EXCERPT_CHARS", "EXCERPT_KEPT_BYTES", "FAILED", "MAX_BODY_BYTES", "MIN_PIECE_CHARS", "OK",
    "OUTPUT_CHARS", "QUIET_HOURS", "RATE_LIMITED", "RETRY_STATUSES", "THROTTLED_RETRY_STATUSES",
    "Action", "Outcome", "TryAgain", "UnsafeValue",
    "argv_for", "carry_out", "carry_out_group", "follow_up_pagerduty", "groups_in_plan", "idempotency_key", "messages_sent",
    "missing_action", "now_iso", "pagerduty_url", "payload", "redact", "secret_pieces", "secret_values", "send_email", "send_pagerduty",
    "stored_detail", "subprocess", "with_retries",
]


def now_iso(moment: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if moment is None else moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def idempotency_key(breach: str, runbook: str, action: str) -> str:
    """Same breach (channels.breach_id: period, SLO, fingerprint), same runbook action: same key,
    whichever run carries it out."""
    return hashlib.sha256(f"{breach}|{runbook}|{action}".encode()).hexdigest()[:24]


def _summary(entry: PlanEntry, period: str) -> str:
    first = entry.incidents[0] if entry.incidents else None
    where = f", first incident {first.start}..{first.end} ({first.bad_events} bad events)" if first else ""
    live = live_alert(entry)
    alert = f": live alert {live['alert']} over the {live['window']} window" if live else ""
    return f"[{period}] SLO {entry.slo} ({entry.service}) is {entry.status}{alert}{where}"


def payload(action: Action, entry: PlanEntry, period: str) -> dict[str, Any]:
    """What notify and webhook send: facts about the breach, never secrets or raw log lines."""
    if isinstance(action.spec, NotifyAction) and action.spec.format == "slack":
        return {"text": _summary(entry, period)}
    return {
        "period": period, "slo": entry.slo, "service": entry.service, "status": entry.status,
        "severity": entry.severity, "fingerprint": entry.fingerprint, **live_alert(entry),
        "incidents": [i.model_dump(include=INCIDENT_FACTS) for i in entry.incidents],
        "summary": _summary(entry, period),
    }


def _in_cooldown(action: Action, slo: str, history: Sequence[Outcome], now: float, dry_run: bool) -> bool:
    if action.cooldown_s <= 0:
        return False
    counted = (OK, DRY_RUN) if dry_run else (OK,)
    for past in history:
        if (past.runbook, past.action, past.slo) == (action.runbook, action.name, slo) and past.status in counted:
            if now - epoch_ms(past.finished_at) / 1000 < action.cooldown_s:
                return True
    return False


def _done_before(key: str, history: Sequence[Outcome]) -> bool:
    return any(past.idempotency_key == key and past.status == OK for past in history)


def messages_sent(channel: str, history: Sequence[Outcome], since_s: float, dry_run: bool) -> int:
    """Distinct messages to `channel` finished at or after `since_s` (a grouped message counts once)."""
    counted = (OK, DRY_RUN) if dry_run else (OK,)
    ids = {p.detail.get("message_id") for p in history
           if p.status in counted and p.detail.get("channel") == channel and epoch_ms(p.finished_at) / 1000 >= since_s}
    return len(ids - {None})


def _recorded(period: str, slo: str, action: Action, delivery: Delivery, started: float, finished: float, key: str, run_key: str,
              execute: bool, secrets: Mapping[str, str]) -> Outcome:
    """The outcome as stored: its reason and detail redacted, the answer's excerpt cut after that."""
    return Outcome(period=period, slo=slo, runbook=action.runbook, action=action.name, kind=action.kind, status=delivery.status,
                   reason=redact(delivery.reason, secrets), attempts=delivery.attempts, started_at=now_iso(started),
                   finished_at=now_iso(finished), idempotency_key=key, run_key=run_key, dry_run=not execute,
                   detail=stored_detail(delivery.detail, secrets))


def _group_message(action: Action, entries: list[PlanEntry], period: str, message_id: str, moment_s: float):
    """What a message action sends for these entries (one service's breaches)."""
    spec = action.spec
    if isinstance(spec, SlackAction):
        return slack_message(entries, period)
    if isinstance(spec, EmailAction):
        return email_message(entries, period, spec.sender, list(spec.to), message_id, moment_s)
    if len(entries) == 1:  # notify
        return payload(action, entries[0], period)
    return {"text": "\n".join(_summary(e, period) for e in entries)}


def _dry_message(action: Action, message, entry: PlanEntry, period: str) -> dict[str, Any]:
    spec = action.spec
    if isinstance(spec, EmailAction):
        return {"would_send_via_env": spec.server_env, "to": list(spec.to), "subject": message["Subject"],
                "text": message.get_body(("plain",)).get_content()}
    if isinstance(spec, PagerDutyAction):
        event = pagerduty_event("trigger", f"[from {spec.routing_key_env}]", period, entry, spec.severity, spec.source)
        return {"would_post_to_env": spec.url_env or PAGERDUTY_EVENTS_URL, "event": event}
    return {"would_post_to_env": action.spec_as(HttpAction).url_env, "payload": message}


def carry_out_group(items: Sequence[tuple[Action, PlanEntry]], period: str, run_key: str, history: Sequence[Outcome], execute: bool,
                    env: Mapping[str, str] | None = None, clock=time.time, secret_names: Iterable[str] = ()) -> list[Outcome]:
    """Message actions of one channel for the breaches of one service in one evaluation.

    Each (action, entry) is checked on its own (done before, cooldown, quiet hours); those left go
    out as one message (PagerDuty: one event per breach, its dedup_key being the breach's) unless the
    channel's rate limit is reached. Every item gets its outcome; the message's detail names the
    channel, the message id and the SLOs it carried."""
    env = os.environ if env is None else env
    names = set(secret_names).union(*(a.secret_env_names() for a, _ in items))
    secrets = secret_values(names, env)
    started = clock()
    outcomes: list[Outcome | None] = [None] * len(items)

    def outcome(index: int, delivery: Delivery, about: Mapping[str, Any] | None = None) -> Outcome:
        """Item `index`'s outcome; `about`: what the message adds to the delivery's detail."""
        action, entry = items[index]
        if about:
            delivery = delivery.model_copy(update={"detail": {**delivery.detail, **about}})
        key = idempotency_key(breach_id(period, entry), action.runbook, action.name)
        return _recorded(period, entry.slo, action, delivery, started, clock(), key, run_key, execute, secrets)

    going: list[int] = []
    for index, (action, entry) in enumerate(items):
        key = idempotency_key(breach_id(period, entry), action.runbook, action.name)
        quiet_until = action.quiet_hours.quiet_until(started) if action.quiet_hours else None
        if _done_before(key, history):
            outcomes[index] = outcome(index, Delivery(status=DONE_BEFORE, reason="this action already ran for this breach"))
        elif _in_cooldown(action, entry.slo, history, started, not execute):
            outcomes[index] = outcome(index, Delivery(status=COOLDOWN, reason=f"ran for {entry.slo} less than {action.cooldown_s:g} s ago"))
        elif quiet_until is not None and action.quiet_hours is not None and entry.severity not in action.quiet_hours.allow_severity:
            outcomes[index] = outcome(index, Delivery(status=QUIET_HOURS, reason=f"quiet hours until {quiet_until.isoformat(timespec='minutes')} "
                                                                                 f"({action.quiet_hours.timezone}); severity {entry.severity} waits"))
        else:
            going.append(index)
    if going:
        lead = items[going[0]][0]
        channel = lead.channel()
        limits = [a.rate_limit for a, _ in (items[i] for i in going) if a.rate_limit]
        limit = min(limits, key=lambda r: r.messages / r.per_s) if limits else None
        already = messages_sent(channel, history, started - limit.per_s, not execute) if limit else 0
        if limit and already >= limit.messages:
            for index in going:
                outcomes[index] = outcome(index, Delivery(status=RATE_LIMITED, reason=f"channel {channel}: {already} messages in the last "
                                                                                      f"{limit.per_s:g} s (limit {limit.messages})",
                                                          detail={"channel": channel}))
        else:
            _deliver(lead, [items[i] for i in going], going, period, execute, env, started, channel, outcome, outcomes)
    return [o for o in outcomes if o is not None]


def _deliver(lead: Action, group: list[tuple[Action, PlanEntry]], indexes: list[int], period: str, execute: bool,
             env: Mapping[str, str], started: float, channel: str, outcome: Callable[..., Outcome], outcomes: list[Outcome | None]) -> None:
    """Send the group's message with the lead action's settings (timeout, retry); record each item."""
    # One line per breach (a month's SLO, or a live episode: several may share an SLO), however many
    # of the service's runbooks matched it.
    entries = list({breach_id(period, e): e for _, e in group}.values())
    slos = list(dict.fromkeys(e.slo for e in entries))
    if isinstance(lead.spec, PagerDutyAction):  # one event per breach: PagerDuty groups alerts by its dedup_key
        for entry in entries:
            mine = [i for i, (_, e) in zip(indexes, group, strict=True) if breach_id(period, e) == breach_id(period, entry)]
            message_id = idempotency_key(breach_id(period, entry), channel, "trigger")
            if execute:
                delivery = send_pagerduty(lead, "trigger", entry, period, env)
            else:
                delivery = Delivery(status=DRY_RUN, detail=_dry_message(lead, None, entry, period))
            for index in mine:
                outcomes[index] = outcome(index, delivery, {"channel": channel, "message_id": message_id, "group": [entry.slo]})
        return
    message_id = hashlib.sha256("|".join(sorted(breach_id(period, e) for e in entries) + [channel]).encode()).hexdigest()[:24]
    message = _group_message(lead, entries, period, message_id, started)
    if not execute:
        delivery = Delivery(status=DRY_RUN, detail=_dry_message(lead, message, entries[0], period))
    elif isinstance(lead.spec, EmailAction):
        delivery = send_email(lead, message, env)
    else:  # Slack answers 429 when it throttles a webhook: worth another attempt, as PagerDuty's
        delivery = post_action(lead, message, env, THROTTLED_RETRY_STATUSES if isinstance(lead.spec, SlackAction) else RETRY_STATUSES)
    for index in indexes:
        outcomes[index] = outcome(index, delivery, {"channel": channel, "message_id": message_id, "group": slos})


def carry_out(action: Action, entry: PlanEntry, period: str, run_key: str, history: Sequence[Outcome], execute: bool,
              env: Mapping[str, str] | None = None, clock=time.time, secret_names: Iterable[str] = ()) -> Outcome:
    """One action for one plan entry: done before (same idempotency key), cooldown, dry run, or for real.
    `secret_names`: further secret variables (e.g. of every runbook) to redact besides the action's own."""
    if action.grouped:
        return carry_out_group([(action, entry)], period, run_key, history, execute, env, clock, secret_names)[0]
    env = os.environ if env is None else env
    secrets = secret_values(action.secret_env_names() | set(secret_names), env)
    key = idempotency_key(breach_id(period, entry), action.runbook, action.name)
    started = clock()

    def outcome(delivery: Delivery) -> Outcome:
        return _recorded(period, entry.slo, action, delivery, started, clock(), key, run_key, execute, secrets)

    if _done_before(key, history):
        return outcome(Delivery(status=DONE_BEFORE, reason="this action already ran for this breach"))
    if _in_cooldown(action, entry.slo, history, started, not execute):
        return outcome(Delivery(status=COOLDOWN, reason=f"ran for {entry.slo} less than {action.cooldown_s:g} s ago"))
    spec = action.spec
    if isinstance(spec, CommandAction):
        try:
            argv = argv_for(spec, entry)
        except UnsafeValue as refused:
            return outcome(Delivery(status=FAILED, reason=str(refused), detail={"argv_template": list(spec.argv)}))
        return outcome(run_command(action, argv, env, secrets) if execute else Delivery(status=DRY_RUN, detail={"would_run": argv}))
    if isinstance(spec, AnnotateAction):
        return outcome(Delivery(status=OK if execute else DRY_RUN, attempts=1 if execute else 0, detail={"text": spec.text}))
    # notify in JSON format, webhook
    if not execute:
        return outcome(Delivery(status=DRY_RUN, detail={"would_post_to_env": action.spec_as(HttpAction).url_env,
                                                        "payload": payload(action, entry, period)}))
    return outcome(post_action(action, payload(action, entry, period), env))


def groups_in_plan(entries: Sequence[PlanEntry], actions: Mapping[tuple[str, str], Action]) -> list[tuple[str, list]]:
    """The plan's (action, entry) pairs in the order they run: each command, webhook and annotate
    alone, each message action with the others of its service and channel (placed at the first). A
    planned action the runbooks no longer define comes as ("missing", [(planned action, entry)])."""
    order: list[tuple[str, list]] = []
    grouped: dict[tuple[str, str], list] = {}
    for entry in entries:
        for planned in entry.actions:
            action = actions.get((planned.runbook, planned.action.name))
            if action is None:
                order.append(("missing", [(planned, entry)]))
            elif action.grouped:
                key = (entry.service, action.channel())
                if key not in grouped:
                    grouped[key] = []
                    order.append(("group", grouped[key]))
                grouped[key].append((action, entry))
            else:
                order.append(("single", [(action, entry)]))
    return order


def follow_up_pagerduty(action: Action, event_action: str, period: str, slo: str, run_key: str, history: Sequence[Outcome], execute: bool,
                        env: Mapping[str, str] | None = None, clock=time.time, secret_names: Iterable[str] = ()) -> list[Outcome]:
    """An acknowledge or resolve event for each alert this PagerDuty action triggered for the SLO in
    the period (its dedup_key as recorded), once each: an escalation episode was acknowledged or ended."""
    env = os.environ if env is None else env
    secrets = secret_values(action.secret_env_names() | set(secret_names), env)
    triggered = sorted({p.detail.get("dedup_key") for p in history
                        if (p.period, p.slo, p.runbook, p.action, p.status) == (period, slo, action.runbook, action.name, OK)
                        and p.detail.get("event_action") == "trigger"} - {None})
    outcomes = []
    for dedup in triggered:
        key = idempotency_key(dedup, action.runbook, f"{action.name}#{event_action}")
        started = clock()
        if _done_before(key, history):
            delivery = Delivery(status=DONE_BEFORE, reason=f"{event_action} already sent")
        elif not execute:
            delivery = Delivery(status=DRY_RUN, detail={f"would_{event_action}": dedup})
        else:
            delivery = send_pagerduty(action, event_action, None, period, env, dedup=dedup)
        delivery = delivery.model_copy(update={"detail": {**delivery.detail, "channel": action.channel(), "dedup_key": dedup,
                                                          "event_action": event_action}})
        outcomes.append(_recorded(period, slo, action, delivery, started, clock(), key, run_key, execute, secrets))
    return outcomes


def missing_action(planned: PlannedAction, entry: PlanEntry, period: str, run_key: str, dry_run: bool) -> Outcome:
    """The outcome of a planned action that the runbooks no longer define: failed, with the reason."""
    moment = now_iso()
    key = idempotency_key(breach_id(period, entry), planned.runbook, planned.action.name)
    return Outcome(period=period, slo=entry.slo, runbook=planned.runbook, action=planned.action.name, kind=planned.action.kind,
                   status=FAILED, reason="the action is no longer in the runbooks; re-materialize remediation_plan", attempts=0,
                   started_at=moment, finished_at=moment, idempotency_key=key, run_key=run_key, dry_run=dry_run)
