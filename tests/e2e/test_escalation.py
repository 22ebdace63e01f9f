"""Escalation policies (issue 15, part 3): levels with delays walked on each sensor tick, idempotent,
stopped by `slo-assets ack` and by a resolved breach. The pure tick with the clock injected (the
evaluations' times), then the sensor and remediation_job against local Slack and PagerDuty servers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg
import pytest

from slo_assets.cli import main
from slo_assets.definitions import build_definitions
from slo_assets.defs.remediation.sensors import escalation_sensor
from slo_assets.defs.resources import Remediation, WarehouseResource
from slo_assets.remediation.escalation import Ack, Evaluation, tick
from slo_assets.remediation.plan import plan_document
from slo_assets.remediation.runbooks import RunbookError, load_runbooks
from slo_assets.warehouse import layout
from tests.channel_servers import HttpChannel
from tests.e2e.test_channels import ROUTING_KEY, _entry

T0 = 1_770_000_000.0  # an evaluation's time, epoch seconds
POLICY = """apiVersion: slo-assets/v1
kind: Runbook
metadata: {name: escalate}
spec:
  match: {status: failed}
  escalation:
    - {actions: [chat]}
    - {after: AFTER1, actions: [page]}
    - {after: 2h, actions: [mail]}
  actions:
    - {kind: slack, name: chat, url_env: T_SLACK_URL}
    - {kind: pagerduty, name: page, routing_key_env: T_PD_KEY, url_env: T_PD_URL}
    - {kind: email, name: mail, server_env: T_SMTP, from: slo@example.org, to: [owners@example.org]}
"""


def _runbooks(tmp_path: Path, after: str = "30m") -> list:
    path = tmp_path / "escalate.yaml"
    path.write_text(POLICY.replace("AFTER1", after))
    return load_runbooks([path])


def _evaluation(storage_id: int, minutes: float, burning: bool = True, fingerprint: str = "f1") -> Evaluation:
    entry = _entry(fingerprint=fingerprint, runbooks=("escalate",), burning_at_end=burning)
    return Evaluation("2026-02", storage_id, T0 + minutes * 60, (entry,))


def _walk(runbooks, evaluations, acks=()):
    """Tick once per evaluation as it arrives (the sensor sees the newest of the month); the steps of each tick."""
    episodes, seen = {}, []
    for evaluation in evaluations:
        episodes, steps = tick(episodes, [evaluation], list(acks), runbooks)
        seen.append([(s.kind, s.actions) for s in steps])
    return episodes, seen


def test_levels_climb_at_the_first_evaluation_after_their_delay_while_the_slo_burns(tmp_path):
    runbooks = _runbooks(tmp_path)
    episodes, seen = _walk(runbooks, [_evaluation(1, 0), _evaluation(2, 20), _evaluation(3, 31), _evaluation(4, 90),
                                      _evaluation(5, 121, fingerprint="f2"), _evaluation(6, 150), _evaluation(7, 180, burning=False)])
    assert seen == [[], [], [("level", ("escalate/page",))], [], [("level", ("escalate/mail",))], [], [("resolve", ())]]
    (episode,) = episodes.values()
    assert episode.fired == ["escalate#1", "escalate#2"] and episode.fingerprints == ["f1", "f2"]  # a worse breach: the same episode
    assert episode.resolved_s == T0 + 180 * 60


def test_a_tick_repeated_on_the_same_evaluations_asks_for_nothing_more(tmp_path):
    runbooks = _runbooks(tmp_path)
    episodes, _ = tick({}, [_evaluation(1, 0)], [], runbooks)
    episodes, first = tick(episodes, [_evaluation(2, 45)], [], runbooks)
    again, second = tick(episodes, [_evaluation(2, 45)], [], runbooks)
    assert [s.run_key for s in first] == ["escalation:2026-02/checkout-availability:1:escalate#1"] and second == []
    assert again == episodes


def test_levels_due_together_for_one_service_are_one_run(tmp_path):
    from slo_assets.defs.remediation.sensors import escalation_requests

    runbooks = _runbooks(tmp_path)
    entries = [_entry(slo, fingerprint=fp, service=service, runbooks=("escalate",), burning_at_end=True)
               for slo, fp, service in (("pay", "f1", "checkout"), ("pay-latency", "f2", "checkout"), ("find", "f3", "search"))]
    episodes, _ = tick({}, [Evaluation("2026-02", 1, T0, tuple(entries))], [], runbooks)
    _, steps = tick(episodes, [Evaluation("2026-02", 2, T0 + 31 * 60, tuple(entries))], [], runbooks)
    assert len(steps) == 3
    checkout, search = escalation_requests(steps)
    config = checkout.run_config["ops"]["remediation_runs"]["config"]
    assert (config["slos"], config["actions"], config["pagerduty_event"]) == (["pay", "pay-latency"], ["escalate/page"], "")
    assert checkout.run_key.startswith("escalation:2026-02:checkout:escalate#1:") and checkout.tags["slo_assets/service"] == "checkout"
    assert search.run_key == "escalation:2026-02/find:1:escalate#1"  # alone: its own step's key
    assert [r.run_key for r in escalation_requests(steps)] == [checkout.run_key, search.run_key]  # the same steps, the same keys


def test_a_breach_that_stops_burning_resolves_before_paging(tmp_path):
    _, seen = _walk(_runbooks(tmp_path), [_evaluation(1, 0), _evaluation(2, 35, burning=False), _evaluation(3, 70)])
    # resolved at 35 min: no page; burning again at 70 min is a new episode, whose clock starts there
    assert seen == [[], [("resolve", ())], []]


def test_an_ack_stops_the_climb_and_the_resolve_still_comes(tmp_path):
    runbooks = _runbooks(tmp_path)
    ack = Ack("f1", T0 + 10 * 60, "alice")
    episodes, seen = _walk(runbooks, [_evaluation(1, 0), _evaluation(2, 40), _evaluation(3, 130), _evaluation(4, 140, burning=False)], [ack])
    assert seen == [[("acknowledge", ())], [], [], [("resolve", ())]]  # acknowledged once, at the first tick that sees the ack
    assert next(iter(episodes.values())).acked_by == "alice"
    stale = Ack("2026-02/checkout-availability", T0 - 60, "bob")  # before the episode opened: not for it
    _, seen = _walk(runbooks, [_evaluation(1, 0), _evaluation(2, 40)], [stale])
    assert seen == [[], [("level", ("escalate/page",))]]


def test_a_past_breach_that_does_not_burn_at_the_end_never_escalates(tmp_path):
    _, seen = _walk(_runbooks(tmp_path), [_evaluation(1, 0, burning=False), _evaluation(2, 300, burning=False)])
    assert seen == [[], []]


@pytest.mark.parametrize(("levels", "problem"), [
    ("    - {actions: [chat]}\n    - {after: 1h, actions: [nope]}\n", "spec.escalation.1.actions: 'nope' is not an action of this runbook"),
    ("    - {after: 1h, actions: [chat]}\n    - {after: 30m, actions: [page]}\n", "spec.escalation.1.after: each level must come after"),
    ("    - {actions: [chat]}\n    - {after: 1h, actions: [chat]}\n", "spec.escalation.1.actions: 'chat' is in an earlier level"),
    ("    - {after: 0m, actions: [chat]}\n", "spec.escalation.0.after"),
])
def test_bad_escalations_name_the_field(tmp_path, levels, problem):
    path = tmp_path / "rb.yaml"
    path.write_text("apiVersion: slo-assets/v1\nkind: Runbook\nmetadata: {name: rb}\nspec:\n  match: {status: failed}\n"
                    f"  escalation:\n{levels}  actions:\n    - {{kind: slack, name: chat, url_env: U}}\n"
                    "    - {kind: pagerduty, name: page, routing_key_env: K}\n")
    with pytest.raises(RunbookError) as error:
        load_runbooks([path])
    assert f"{path}: document 1 (rb): {problem}" in str(error.value)


# Through the sensor and the job ------------------------------------------------------------------

def _evaluate(instance, warehouse: Path, version: str, burning: bool, runbooks) -> None:
    """A compliance_report materialization and the plan written from it (same data version)."""
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="compliance_report", partition="2026-02",
                                                                tags={"dagster/data_version": version}))
    entry = _entry(runbooks=("escalate",), burning_at_end=burning,
                   actions=tuple(a.planned(n) for n, a in enumerate(runbooks[0].actions, start=1)))
    path = warehouse / layout.REMEDIATION_PLAN.relative("2026-02")
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = plan_document("2026-02", [entry] if burning else []).model_copy(update={"compliance_data_version": version})
    path.write_text(plan.model_dump_json())


def test_sensor_and_job_escalate_to_pagerduty_stop_on_ack_and_resolve(tmp_path, monkeypatch, capsys):
    slack, pagerduty = HttpChannel("slack"), HttpChannel("pagerduty")
    for name, value in {"T_SLACK_URL": slack.url, "T_PD_URL": pagerduty.url, "T_PD_KEY": ROUTING_KEY, "T_SMTP": "127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    runbooks = _runbooks(tmp_path, after="1s")
    warehouse = tmp_path / "wh"
    resources = {"warehouse": WarehouseResource(base=str(warehouse)),
                 "remediation": Remediation(runbook_paths=[str(tmp_path / "escalate.yaml")], execute=True)}
    job = build_definitions(resources).resolve_job_def("remediation_job")
    try:
        with dg.instance_for_test() as instance:
            def sensor_tick(cursor):
                with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
                    return escalation_sensor(context)

            def launch(request):
                # the actions alone: this warehouse holds a plan and no evaluated month, which the review drafts need
                actions = [dg.AssetKey("remediation_runs"), dg.AssetKey("learning_record")]
                assert job.execute_in_process(instance=instance, partition_key=request.partition_key, run_config=request.run_config,
                                              asset_selection=actions).success

            _evaluate(instance, warehouse, "v1", True, runbooks)
            launch(dg.RunRequest(partition_key="2026-02", run_config={"ops": {"remediation_runs": {"config": {"run_key": "first"}}}}))
            assert len(slack.received) == 1 and pagerduty.received == []  # level 0 at once; the page waits for its level
            opened = sensor_tick(None)
            assert opened.run_requests == [] and "1 open episode" in opened.skip_reason.skip_message

            time.sleep(1.1)
            _evaluate(instance, warehouse, "v2", True, runbooks)  # still burning, more than 1 s later
            climbed = sensor_tick(opened.cursor)
            (request,) = climbed.run_requests
            assert request.run_key == "escalation:2026-02/checkout-availability:1:escalate#1"
            launch(request)
            assert [e["event_action"] for e in pagerduty.received] == ["trigger"]
            assert sensor_tick(climbed.cursor).run_requests == []  # the same evaluation again: nothing new

            assert main(["ack", "2026-02/checkout-availability", "--by", "alice", "--warehouse", str(warehouse)]) == 0
            acked = json.loads(capsys.readouterr().out)
            assert (acked["period"], acked["slo"], acked["by"]) == ("2026-02", "checkout-availability", "alice")
            _evaluate(instance, warehouse, "v3", True, runbooks)  # the 2 h level is not due yet; after the ack it never is
            after_ack = sensor_tick(climbed.cursor)
            (request,) = after_ack.run_requests  # the page is acknowledged in PagerDuty; no level climbs any more
            assert request.run_key == "escalation:2026-02/checkout-availability:1:acknowledge"
            assert json.loads(after_ack.cursor)["episodes"]["2026-02/checkout-availability"]["acked_by"] == "alice"
            launch(request)
            assert [e["event_action"] for e in pagerduty.received] == ["trigger", "acknowledge"]
            assert sensor_tick(after_ack.cursor).run_requests == []

            _evaluate(instance, warehouse, "v4", False, runbooks)  # recovered: no plan entry any more
            resolved = sensor_tick(after_ack.cursor)
            (request,) = resolved.run_requests
            assert request.run_key == "escalation:2026-02/checkout-availability:1:resolve"
            launch(request)
            launch(request)  # a second resolve run sends nothing more
    finally:
        slack.close()
        pagerduty.close()
    assert [e["event_action"] for e in pagerduty.received] == ["trigger", "acknowledge", "resolve"]
    assert len({e["dedup_key"] for e in pagerduty.received}) == 1 and pagerduty.open_alerts() == set()


def test_ack_names_a_breach_no_plan_has(tmp_path, capsys):
    (tmp_path / "wh").mkdir()
    assert main(["ack", "0123456789abcdef", "--warehouse", str(tmp_path / "wh")]) == 2
    assert "no remediation plan under --warehouse" in capsys.readouterr().err
    assert main(["ack", "not a breach", "--warehouse", str(tmp_path / "wh")]) == 2
    assert "give a plan entry's fingerprint" in capsys.readouterr().err
