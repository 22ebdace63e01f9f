"""The paging channels (issue 15, part 1), each against its local server on 127.0.0.1 that checks the
payload: PagerDuty Events API v2, Slack Block Kit, email over SMTP (aiosmtpd). Retries, idempotence,
and keys and URLs from the environment that never reach a stored outcome."""

from __future__ import annotations

import json
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest

from slo_assets.remediation import actions as A
from slo_assets.remediation.models import Incident, OperationCount, PlanEntry, PlanWindow
from slo_assets.remediation.runbooks import RunbookError, load_runbooks
from tests.channel_servers import HttpChannel, SmtpChannel, self_signed

ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey32"  # 32 characters, as the Events API wants
PASSWORD = "smtp-pa55word-planted-7f3a"


def _entry(slo: str = "checkout-availability", severity: str = "page", fingerprint: str = "f1", operation: str = "POST /orders",
           status: str = "failed", service: str = "checkout", **fields) -> PlanEntry:
    """A plan entry of one breach; `fields`: further PlanEntry fields (runbooks, actions, burning_at_end...)."""
    incident = Incident(service=service, slo=slo, start="2026-02-10T10:00:00Z", end="2026-02-10T11:00:00Z", severity=severity, bad_events=42,
                        peak_burn_rate=30.0, top_operations=[OperationCount(operation=operation, bad_events=40)])
    return PlanEntry(**{"slo": slo, "service": service, "status": status, "severity": severity, "fingerprint": fingerprint, "shape": "error_burst",
                        "windows": [PlanWindow(objective="0", window="1M", status=status, sli=0.99, target=0.999, remaining_ratio=-0.25)],
                        "evaluated_until": "2026-02-28T00:00:00Z", "incidents": [incident], "runbooks": (), "actions": (), "note": None,
                        **fields})


def _action(tmp_path: Path, text: str, name: str = "rb"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"apiVersion: slo-assets/v1\nkind: Runbook\nmetadata: {{name: {name}}}\nspec:\n  match: {{status: failed}}\n"
                    f"  actions:\n    - {text}\n")
    (runbook,) = load_runbooks([path])
    return runbook.actions[0]


@pytest.fixture
def pagerduty():
    server = HttpChannel("pagerduty")
    yield server
    server.close()


@pytest.fixture
def slack():
    server = HttpChannel("slack")
    yield server
    server.close()


# PagerDuty Events API v2 -------------------------------------------------------------------------

def test_pagerduty_trigger_is_a_valid_v2_event_with_the_breach_as_dedup_key(tmp_path, pagerduty):
    action = _action(tmp_path, "{kind: pagerduty, name: page, routing_key_env: PD_KEY, url_env: PD_URL, severity: {ticket: warning}}")
    env = {"PD_KEY": ROUTING_KEY, "PD_URL": pagerduty.url}
    paged = A.carry_out(action, _entry(), "2026-02", "run", [], execute=True, env=env)
    ticket = A.carry_out(action, _entry("checkout-latency", severity="ticket", fingerprint="f2"), "2026-02", "run", [], execute=True, env=env)
    assert (paged.status, ticket.status) == ("ok", "ok") and pagerduty.rejected == []
    first, second = pagerduty.received
    assert first["routing_key"] == ROUTING_KEY and first["event_action"] == "trigger"
    assert first["dedup_key"] == "slo-assets/2026-02/checkout-availability/f1"
    assert first["payload"]["severity"] == "critical" and second["payload"]["severity"] == "warning"  # default map, then the runbook's
    assert (first["payload"]["component"], first["payload"]["group"], first["payload"]["timestamp"]) == \
        ("checkout-availability", "checkout", "2026-02-10T10:00:00Z")
    assert first["payload"]["custom_details"]["budget_remaining_ratio"] == -0.25
    assert paged.detail["http_status"] == 202 and paged.detail["dedup_key"] == first["dedup_key"]
    assert ROUTING_KEY not in paged.model_dump_json() and pagerduty.url not in paged.model_dump_json()


def test_pagerduty_retries_429_and_5xx_and_not_400(tmp_path, pagerduty):
    action = _action(tmp_path, "{kind: pagerduty, name: page, routing_key_env: PD_KEY, url_env: PD_URL, retry: {attempts: 3, backoff: 1s}}")
    action = replace(action, backoff_s=0.01)
    env = {"PD_KEY": ROUTING_KEY, "PD_URL": pagerduty.url}
    pagerduty.fail_with = [500, 429]
    retried = A.carry_out(action, _entry(), "2026-02", "run", [], execute=True, env=env)
    assert (retried.status, retried.attempts, len(pagerduty.received)) == ("ok", 3, 1)
    pagerduty.fail_with = [400]
    refused = A.carry_out(action, _entry(fingerprint="f9"), "2026-02", "run", [], execute=True, env=env)
    assert (refused.status, refused.reason, refused.attempts) == ("failed", "HTTP 400", 1)


def test_pagerduty_an_answer_echoing_the_key_is_redacted(tmp_path):
    server = HttpChannel("pagerduty", echo=True)
    try:
        action = _action(tmp_path, "{kind: pagerduty, name: page, routing_key_env: PD_KEY, url_env: PD_URL}")
        outcome = A.carry_out(action, _entry(), "2026-02", "run", [], execute=True, env={"PD_KEY": ROUTING_KEY, "PD_URL": server.url})
    finally:
        server.close()
    assert outcome.status == "failed" and "[redacted:PD_KEY]" in outcome.detail["response_excerpt"]
    assert ROUTING_KEY not in outcome.model_dump_json()


def test_pagerduty_same_breach_is_triggered_once_and_resolve_closes_it(tmp_path, pagerduty):
    action = _action(tmp_path, "{kind: pagerduty, name: page, routing_key_env: PD_KEY, url_env: PD_URL}")
    env = {"PD_KEY": ROUTING_KEY, "PD_URL": pagerduty.url}
    first = A.carry_out(action, _entry(), "2026-02", "run-1", [], execute=True, env=env)
    again = A.carry_out(action, _entry(), "2026-02", "run-2", [first], execute=True, env=env)
    assert (first.status, again.status, len(pagerduty.received)) == ("ok", "skipped_already_done", 1)
    assert pagerduty.open_alerts() == {"slo-assets/2026-02/checkout-availability/f1"}
    resolved = A.send_pagerduty(action, "resolve", _entry(), "2026-02", env)
    assert (resolved.status, resolved.attempts, resolved.detail["event_action"]) == ("ok", 1, "resolve")
    assert pagerduty.received[-1] == {"routing_key": ROUTING_KEY, "event_action": "resolve",
                                      "dedup_key": "slo-assets/2026-02/checkout-availability/f1"}
    assert pagerduty.open_alerts() == set()


def test_pagerduty_without_its_key_fails_and_a_dry_run_shows_no_key(tmp_path):
    action = _action(tmp_path, "{kind: pagerduty, name: page, routing_key_env: PD_KEY}")
    missing = A.carry_out(action, _entry(), "2026-02", "run", [], execute=True, env={})
    assert missing.status == "failed" and missing.reason == "environment variable PD_KEY is not set" and missing.attempts == 0
    dry = A.carry_out(action, _entry(), "2026-02", "run", [], execute=False, env={"PD_KEY": ROUTING_KEY})
    assert dry.status == "dry_run" and dry.detail["event"]["routing_key"] == "[from PD_KEY]"
    assert dry.detail["would_post_to_env"] == "https://events.pagerduty.com/v2/enqueue"  # the default endpoint, never reached here


# Slack Block Kit ---------------------------------------------------------------------------------

def test_slack_block_kit_message_escapes_log_values_and_keeps_the_url_secret(tmp_path, slack):
    action = _action(tmp_path, "{kind: slack, name: chat, url_env: SLACK_URL}")
    hostile = _entry(operation="GET /x <!channel> & <http://evil|click>")
    outcome = A.carry_out(action, hostile, "2026-02", "run", [], execute=True, env={"SLACK_URL": slack.url})
    assert outcome.status == "ok" and slack.rejected == []
    (message,) = slack.received
    header, section, context = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "[2026-02] checkout: checkout-availability failed"}}
    assert "*checkout-availability* is *failed* (severity page), budget remaining -25%" in section["text"]["text"]
    assert "top operation: GET /x &lt;!channel&gt; &amp; &lt;http://evil|click&gt;" in section["text"]["text"]
    assert "<!channel>" not in json.dumps(message) and context["type"] == "context"
    assert slack.url not in outcome.model_dump_json() and outcome.detail["url_env"] == "SLACK_URL"


def test_slack_retries_a_throttled_or_failing_webhook(tmp_path, slack):
    action = _action(tmp_path, "{kind: slack, name: chat, url_env: SLACK_URL, retry: {attempts: 3, backoff: 1s}}")
    action = replace(action, backoff_s=0.01)
    slack.fail_with = [429, 503]
    outcome = A.carry_out(action, _entry(), "2026-02", "run", [], execute=True, env={"SLACK_URL": slack.url})
    assert (outcome.status, outcome.attempts, len(slack.received)) == ("ok", 3, 1)


# Email over SMTP ---------------------------------------------------------------------------------

def test_email_has_a_plain_and_an_html_part_and_a_stable_message_id(tmp_path):
    server = SmtpChannel()
    try:
        action = _action(tmp_path, "{kind: email, name: mail, server_env: SMTP, from: slo@example.org, to: [oncall@example.org, lead@example.org]}")
        entries = [_entry(operation="GET /<b>bold</b>"), _entry("checkout-latency", severity="ticket", fingerprint="f2")]
        outcomes = A.carry_out_group([(action, e) for e in entries], "2026-02", "run", [], execute=True, env={"SMTP": server.address})
    finally:
        server.close()
    assert [o.status for o in outcomes] == ["ok", "ok"]
    (sender, recipients, message), = server.messages  # one message for the service's two breaches
    assert sender == "slo@example.org" and recipients == ["oncall@example.org", "lead@example.org"]
    assert message["Subject"] == "[2026-02] checkout: 2 SLOs failed" and message.get_content_type() == "multipart/alternative"
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert "- checkout-availability is failed (severity page)" in plain.get_content()
    assert "checkout-latency is failed (severity ticket)" in plain.get_content()
    assert "GET /&lt;b&gt;bold&lt;/b&gt;" in rich.get_content() and "<b>bold" not in rich.get_content()
    assert message["Message-ID"] == f"<{outcomes[0].detail['message_id']}@slo-assets>"
    assert outcomes[0].detail["group"] == ["checkout-availability", "checkout-latency"]


def test_email_starttls_and_login_with_the_password_redacted(tmp_path):
    cert, key = self_signed(tmp_path)
    server = SmtpChannel(tls=(cert, key), login=("alerts", PASSWORD))
    try:
        action = _action(tmp_path, "{kind: email, name: mail, server_env: SMTP, from: slo@example.org, to: [oncall@example.org], "
                                   "starttls: true, ca_file_env: SMTP_CA, username_env: SMTP_USER, password_env: SMTP_PASSWORD}")
        env = {"SMTP": server.address, "SMTP_CA": str(cert), "SMTP_USER": "alerts", "SMTP_PASSWORD": PASSWORD}
        sent = A.carry_out(action, _entry(), "2026-02", "run", [], execute=True, env=env)
        wrong = A.carry_out(action, _entry(fingerprint="f3"), "2026-02", "run", [], execute=True, env={**env, "SMTP_PASSWORD": "nope"})
    finally:
        server.close()
    assert sent.status == "ok" and sent.detail["starttls"] is True and len(server.messages) == 1
    assert set(server.logins) == {"alerts"} and wrong.status == "failed" and wrong.reason.startswith("SMTP 535")
    assert PASSWORD not in sent.model_dump_json() + wrong.model_dump_json()


def test_email_never_goes_in_clear_when_starttls_is_asked_and_not_offered(tmp_path):
    server = SmtpChannel()  # no TLS offered
    try:
        action = _action(tmp_path, "{kind: email, name: mail, server_env: SMTP, from: a@example.org, to: [b@example.org], starttls: true}")
        outcome = A.carry_out(action, _entry(), "2026-02", "run", [], execute=True, env={"SMTP": server.address})
    finally:
        server.close()
    assert outcome.status == "failed" and "STARTTLS" in outcome.reason and server.messages == []


def test_email_retries_a_4xx_answer_and_not_a_5xx(tmp_path):
    server = SmtpChannel(fail_with=["451 4.3.0 try again later", "550 5.7.1 rejected"])
    try:
        action = _action(tmp_path, "{kind: email, name: mail, server_env: SMTP, from: a@example.org, to: [b@example.org], "
                                   "retry: {attempts: 3, backoff: 1s}}")
        action = replace(action, backoff_s=0.01)
        rejected = A.carry_out(action, _entry(), "2026-02", "run", [], execute=True, env={"SMTP": server.address})
        sent = A.carry_out(action, _entry(fingerprint="f4"), "2026-02", "run", [], execute=True, env={"SMTP": server.address})
    finally:
        server.close()
    assert (rejected.status, rejected.attempts, rejected.reason) == ("failed", 2, "SMTP 550 after 2 attempt(s)")
    assert (sent.status, sent.attempts, len(server.messages)) == ("ok", 1, 1)


def test_email_runbook_errors_name_the_field(tmp_path):
    for text, field in (("{kind: email, name: m, server_env: S, from: a@example.org, to: [b@example.org], username_env: U, password_env: P}",
                         "spec.actions.0"),
                        ("{kind: email, name: m, server_env: S, from: 'a@example.org\\nBcc: x@evil', to: [b@example.org]}", "spec.actions.0.from")):
        with pytest.raises(RunbookError) as error:
            _action(tmp_path, text)
        assert f"document 1 (rb): {field}" in str(error.value)


def test_email_headers_carry_no_injected_line():
    from slo_assets.remediation.channels import email_message

    message: EmailMessage = email_message([_entry(service="checkout\r\nBcc: x@evil.example")], "2026-02", "a@example.org",
                                          ["b@example.org"], "id1", 0.0)
    assert "Bcc" not in message and "\n" not in message["Subject"]
