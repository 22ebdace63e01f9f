"""Against alert fatigue (issue 15, part 2): one message per service and channel per evaluation, a
rate limit per channel, quiet hours, and the cooldown kept. Through the remediation_runs asset and
the sensor's run requests, against the local channel servers; the clock is injected where time matters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from slo_assets.defs.remediation.assets import remediation_runs
from slo_assets.defs.remediation.sensors import breach_requests
from slo_assets.defs.resources import Remediation, WarehouseResource
from slo_assets.remediation import actions as A
from slo_assets.remediation.models import AnnotateAction, PlanEntry, PlannedAction, SlackAction
from slo_assets.remediation.plan import plan_document
from slo_assets.remediation.runbooks import load_runbooks
from slo_assets.warehouse import layout
from tests.channel_servers import HttpChannel, SmtpChannel
from tests.e2e.test_channels import ROUTING_KEY, _entry

RUNBOOKS = """apiVersion: slo-assets/v1
kind: Runbook
metadata: {name: page-owners}
spec:
  match: {status: failed}
  actions:
    - {kind: slack, name: chat, url_env: T_SLACK_URL}
    - {kind: pagerduty, name: page, routing_key_env: T_PD_KEY, url_env: T_PD_URL}
    - {kind: email, name: mail, server_env: T_SMTP, from: slo@example.org, to: [owners@example.org]}
---
apiVersion: slo-assets/v1
kind: Runbook
metadata: {name: sre-channel}
spec:
  match: {severity: page}
  actions:
    - {kind: slack, name: sre-chat, url_env: T_SLACK_URL}
"""


def _moment(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _plan(warehouse: Path, month: str, entries: list[PlanEntry], runbooks: list) -> None:
    described = {r.name: list(r.actions) for r in runbooks}
    planned = []
    for entry in entries:
        actions = described["page-owners"] + (described["sre-channel"] if entry.severity == "page" else [])
        planned.append(entry.model_copy(update={"actions": tuple(a.planned(n) for n, a in enumerate(actions, start=1))}))
    path = warehouse / layout.REMEDIATION_PLAN.relative(month)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plan_document(month, planned).model_dump_json())


@pytest.fixture
def servers(monkeypatch):
    slack, pagerduty, smtp = HttpChannel("slack"), HttpChannel("pagerduty"), SmtpChannel()
    for name, value in {"T_SLACK_URL": slack.url, "T_PD_URL": pagerduty.url, "T_PD_KEY": ROUTING_KEY, "T_SMTP": smtp.address}.items():
        monkeypatch.setenv(name, value)
    yield slack, pagerduty, smtp
    slack.close()
    pagerduty.close()
    smtp.close()


def test_one_message_per_service_and_channel_through_the_job_and_none_on_a_rerun(tmp_path, servers):
    slack, pagerduty, smtp = servers
    runbook_file = tmp_path / "runbooks.yaml"
    runbook_file.write_text(RUNBOOKS)
    runbooks = load_runbooks([runbook_file])
    entries = [_entry("checkout-availability"), _entry("checkout-latency", severity="ticket", fingerprint="f2"),
               _entry("search-availability", fingerprint="f3", service="search")]
    _plan(tmp_path / "wh", "2026-02", entries, runbooks)
    resources = {"warehouse": WarehouseResource(base=str(tmp_path / "wh")),
                 "remediation": Remediation(runbook_paths=[str(runbook_file)], execute=True)}
    assert dg.materialize([remediation_runs], partition_key="2026-02", resources=resources).success
    # Slack: checkout's two breaches and its page's sre-chat share one message; search gets its own.
    assert [m["blocks"][0]["text"]["text"] for m in slack.received] == ["[2026-02] checkout: 2 SLOs failed",
                                                                        "[2026-02] search: search-availability failed"]
    assert sorted(e["dedup_key"].split("/")[2] for e in pagerduty.received) == ["checkout-availability", "checkout-latency",
                                                                                "search-availability"]
    assert [m["Subject"] for _, _, m in smtp.messages] == ["[2026-02] checkout: 2 SLOs failed", "[2026-02] search: search-availability failed"]
    runs = pl.read_parquet(tmp_path / "wh" / layout.REMEDIATION_RUNS.relative("2026-02"))
    assert runs.height == 3 * 3 + 2 and set(runs["status"]) == {"ok"}  # every (entry, action) has its outcome
    chat = runs.filter(pl.col("runbook").is_in(["page-owners", "sre-channel"]) & pl.col("kind").eq("slack")
                       & pl.col("slo").str.starts_with("checkout"))
    assert chat.height == 3 and {json.loads(d)["message_id"] for d in chat["detail"]} == {json.loads(chat["detail"][0])["message_id"]}
    assert ROUTING_KEY not in runs.write_csv() and slack.url not in runs.write_csv()

    # The same evaluation again: every action is done for its breach, nothing is sent.
    assert dg.materialize([remediation_runs], partition_key="2026-02", resources=resources).success
    assert (len(slack.received), len(pagerduty.received), len(smtp.messages)) == (2, 3, 2)
    again = pl.read_parquet(tmp_path / "wh" / layout.REMEDIATION_RUNS.relative("2026-02")).tail(11)
    assert set(again["status"]) == {"skipped_already_done"}


def test_the_sensor_launches_one_run_per_service_naming_its_slos():
    some = (PlannedAction(runbook="rb", action=AnnotateAction(name="note"), order=1, recovered_share=None),)
    plan = plan_document("2026-02", [_entry("checkout-availability", actions=some), _entry("checkout-latency", status="at_risk", actions=some),
                                     _entry("search-availability", service="search", actions=some),
                                     _entry("auth-availability", service="auth", actions=())])
    requests = breach_requests(plan, "2026-02")
    assert [r.tags["slo_assets/service"] for r in requests] == ["checkout", "search"]  # auth has no action
    assert requests[0].run_config["ops"]["remediation_runs"]["config"]["slos"] == ["checkout-availability", "checkout-latency"]
    assert requests[0].tags["slo_assets/status"] == "failed"
    worse = plan_document("2026-02", [plan.entries[0].model_copy(update={"fingerprint": "f9"}), *plan.entries[1:]])
    assert breach_requests(worse, "2026-02")[0].run_key != requests[0].run_key  # a worse breach: a new run
    assert breach_requests(worse, "2026-02")[1].run_key == requests[1].run_key  # the other service: the same


def _slack_action(tmp_path: Path, extra: str):
    path = tmp_path / "rb.yaml"
    path.write_text("apiVersion: slo-assets/v1\nkind: Runbook\nmetadata: {name: rb}\nspec:\n  match: {status: failed}\n  actions:\n"
                    f"    - {{kind: slack, name: chat, url_env: T_SLACK_URL, {extra}}}\n")
    (runbook,) = load_runbooks([path])
    return runbook.actions[0]


def test_a_channel_rate_limit_counts_messages_in_its_window(tmp_path, servers):
    slack = servers[0]
    action = _slack_action(tmp_path, "rate_limit: {messages: 2, per: 1h}")
    history: list[A.Outcome] = []
    statuses = []
    for number, moment in enumerate(["2026-02-10T10:00:00", "2026-02-10T10:20:00", "2026-02-10T10:40:00", "2026-02-10T11:00:01"]):
        # Each evaluation a new breach, two SLOs grouped: a message counts once however many it carries.
        items = [(action, _entry("a", fingerprint=f"a{number}")), (action, _entry("b", fingerprint=f"b{number}"))]
        done = A.carry_out_group(items, "2026-02", "run", history, execute=True, clock=lambda m=moment: _moment(m))
        history += done
        statuses.append({o.status for o in done})
    assert statuses == [{"ok"}, {"ok"}, {"skipped_rate_limit"}, {"ok"}]  # 11:00:01: the 10:00 message left the hour
    assert len(slack.received) == 3
    limited = next(r for r in history if r.status == "skipped_rate_limit")
    assert limited.reason == "channel slack:T_SLACK_URL: 2 messages in the last 3600 s (limit 2)"


def test_a_rate_limit_is_shared_by_the_actions_of_one_channel(tmp_path, servers):
    limited = _slack_action(tmp_path, "rate_limit: {messages: 1, per: 1h}")
    other = A.Action(runbook="other", spec=SlackAction(name="chat2", url_env="T_SLACK_URL"))
    first = A.carry_out(other, _entry(), "2026-02", "run", [], execute=True, clock=lambda: _moment("2026-02-10T10:00:00"))
    second = A.carry_out(limited, _entry(fingerprint="f2"), "2026-02", "run", [first], execute=True,
                         clock=lambda: _moment("2026-02-10T10:30:00"))
    assert (first.status, second.status) == ("ok", "skipped_rate_limit")


def test_quiet_hours_hold_tickets_and_let_pages_through(tmp_path, servers):
    slack = servers[0]
    action = _slack_action(tmp_path, 'quiet_hours: {start: "22:00", end: "07:00", timezone: Europe/Paris}')
    def night():
        return _moment("2026-02-10T22:30:00")  # 23:30 in Paris (UTC+1 in February)

    ticket = A.carry_out(action, _entry(severity="ticket"), "2026-02", "run", [], execute=True, clock=night)
    page = A.carry_out(action, _entry(fingerprint="f2"), "2026-02", "run", [], execute=True, clock=night)
    morning = A.carry_out(action, _entry(severity="ticket", fingerprint="f3"), "2026-02", "run", [], execute=True,
                          clock=lambda: _moment("2026-02-11T06:00:00"))  # 07:00 in Paris: the quiet period is over
    assert (ticket.status, page.status, morning.status) == ("skipped_quiet_hours", "ok", "ok")
    assert ticket.reason == "quiet hours until 2026-02-11T07:00+01:00 (Europe/Paris); severity ticket waits"
    assert len(slack.received) == 2


def test_quiet_hours_inside_one_day_and_a_bad_time_zone(tmp_path):
    from slo_assets.remediation.runbooks import QuietHours, RunbookError

    lunch = QuietHours(12 * 60, 13 * 60)
    assert lunch.quiet_until(_moment("2026-02-10T12:59:00")).isoformat() == "2026-02-10T13:00:00+00:00"
    assert lunch.quiet_until(_moment("2026-02-10T13:00:00")) is None and lunch.quiet_until(_moment("2026-02-10T11:59:00")) is None
    with pytest.raises(RunbookError) as error:
        _slack_action(tmp_path, 'quiet_hours: {start: "22:00", end: "07:00", timezone: Mars/Olympus}')
    assert "spec.actions.0.quiet_hours.timezone: 'Mars/Olympus' is not an IANA time zone" in str(error.value)


def test_the_cooldown_still_holds_a_channel_back(tmp_path, servers):
    action = _slack_action(tmp_path, "cooldown: 1h")
    first = A.carry_out(action, _entry(), "2026-02", "run", [], execute=True, clock=lambda: _moment("2026-02-10T10:00:00"))
    worse = A.carry_out(action, _entry(fingerprint="f2"), "2026-02", "run", [first], execute=True,
                        clock=lambda: _moment("2026-02-10T10:30:00"))
    assert (first.status, worse.status) == ("ok", "skipped_cooldown")
