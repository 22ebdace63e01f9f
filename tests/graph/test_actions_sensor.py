"""The remediation sensor never waits forever (issue 11, D24): a report whose plan is missing is
skipped after plan_wait_minutes, saying why, and does not block the reports after it. It starts from
its own start: reports materialized before its first tick (by `slo-assets run`) launch nothing."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from slo_assets.defs.remediation.sensors import remediation_sensor
from slo_assets.defs.resources import Remediation, WarehouseResource
from slo_assets.remediation.models import AnnotateAction, PlanEntry, PlannedAction, RemediationPlan
from slo_assets.remediation.plan import ReportSeen, plan_document, triage_reports
from slo_assets.warehouse import layout


def _key(month: str) -> str:
    """The run key of the one breach of these tests: its service, and the hash of its SLO and fingerprint."""
    return f"remediation:{month}:checkout:{hashlib.sha256(b'checkout-availability:fp').hexdigest()[:16]}"


def _report(instance, month: str, version: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="compliance_report", partition=month,
                                                                tags={"dagster/data_version": version}))


def _plan_of(month: str, version: str, entries: list[PlanEntry] | None = None) -> RemediationPlan:
    return plan_document(month, entries or []).model_copy(update={"compliance_data_version": version})


def _plan(warehouse, month: str, version: str) -> None:
    entry = PlanEntry(slo="checkout-availability", service="checkout", status="failed", severity="page", shape="error_burst", windows=(),
                      fingerprint="fp", incidents=(), runbooks=("rb",), note=None,
                      actions=(PlannedAction(runbook="rb", action=AnnotateAction(name="note"), order=1, recovered_share=None),))
    (warehouse / layout.REMEDIATION_PLAN.relative(month)).parent.mkdir(parents=True, exist_ok=True)
    (warehouse / layout.REMEDIATION_PLAN.relative(month)).write_text(json.dumps(_plan_of(month, version, [entry]).model_dump(mode="json")))


def _tick(instance, warehouse, wait_minutes: float, cursor: str | None = None) -> dg.SensorResult:
    resources = {"warehouse": WarehouseResource(base=str(warehouse)), "remediation": Remediation(plan_wait_minutes=wait_minutes)}
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        return remediation_sensor(context)


def test_a_sensor_started_after_a_handled_breach_launches_nothing_for_it(tmp_path):
    warehouse = tmp_path / "wh"
    with dg.instance_for_test() as instance:
        _report(instance, "2026-01", "v-jan")  # `slo-assets run` materialized a breach and its plan
        _plan(warehouse, "2026-01", "v-jan")
        handled = instance.fetch_materializations(dg.AssetKey("compliance_report"), limit=1).records[0].storage_id
        resources = {"warehouse": WarehouseResource(base=str(warehouse)), "remediation": Remediation()}
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            first = remediation_sensor.evaluate_tick(context)
        assert first.run_requests == [] and first.cursor == str(handled)
        assert "first tick" in first.skip_message and "2026-01" in first.skip_message
        assert _tick(instance, warehouse, 15, cursor=first.cursor).run_requests == []

        _report(instance, "2026-02", "v-feb")  # a breach after the sensor's start is handled
        _plan(warehouse, "2026-02", "v-feb")
        later = _tick(instance, warehouse, 15, cursor=first.cursor)
        assert [r.run_key for r in later.run_requests] == [_key("2026-02")]


def test_a_first_tick_on_an_empty_instance_starts_before_every_report(tmp_path):
    with dg.instance_for_test() as instance:
        started = _tick(instance, tmp_path / "wh", 15)
        assert started.run_requests == [] and started.cursor == "0" and "no compliance_report yet" in started.skip_reason.skip_message
        _report(instance, "2026-01", "v-jan")
        _plan(tmp_path / "wh", "2026-01", "v-jan")
        assert len(_tick(instance, tmp_path / "wh", 15, cursor=started.cursor).run_requests) == 1


def test_a_report_without_its_plan_waits_within_the_bound_without_blocking_later_reports(tmp_path):
    warehouse = tmp_path / "wh"
    with dg.instance_for_test() as instance:
        start = _tick(instance, warehouse, wait_minutes=60).cursor  # the sensor runs before the reports
        _report(instance, "2026-01", "v-jan")  # its run failed before the plan: no plan ever comes
        _report(instance, "2026-02", "v-feb")
        _plan(warehouse, "2026-02", "v-feb")
        waiting = _tick(instance, warehouse, wait_minutes=60, cursor=start)
        assert [r.run_key for r in waiting.run_requests] == [_key("2026-02")]
        assert waiting.cursor == start  # January still waits: the cursor stays before it

        given_up = _tick(instance, warehouse, wait_minutes=0, cursor=waiting.cursor)
        assert [r.run_key for r in given_up.run_requests] == [_key("2026-02")]
        last = instance.fetch_materializations(dg.AssetKey("compliance_report"), limit=1).records[0].storage_id
        assert given_up.cursor == str(last)  # past both reports

        _report(instance, "2026-03", "v-mar")
        _plan(warehouse, "2026-03", "v-mar")
        later = _tick(instance, warehouse, wait_minutes=0, cursor=given_up.cursor)
        assert [r.run_key for r in later.run_requests] == [_key("2026-03")]


def test_the_skip_reason_names_the_report_given_up_on(tmp_path):
    warehouse = tmp_path / "wh"
    with dg.instance_for_test() as instance:
        start = _tick(instance, warehouse, wait_minutes=0).cursor
        _report(instance, "2026-01", "v-jan")
        skipped = _tick(instance, warehouse, wait_minutes=0, cursor=start)
        assert skipped.run_requests == [] and skipped.cursor != start
        reason = skipped.skip_reason.skip_message
        assert "2026-01" in reason and "no remediation_plan" in reason and "skipped" in reason and "plan_wait_minutes" in reason
        waiting = _tick(instance, warehouse, wait_minutes=60, cursor=start)
        assert "waiting for its remediation_plan" in waiting.skip_reason.skip_message and waiting.cursor == start


def test_triage_skips_a_superseded_report_at_once_and_a_stale_plan_after_the_bound():
    reports = [ReportSeen(1, "2026-01", "old", 1000.0), ReportSeen(2, "2026-01", "new", 1000.0), ReportSeen(3, "2026-02", "feb", 1000.0)]
    plans = {"2026-01": _plan_of("2026-01", "new"), "2026-02": _plan_of("2026-02", "jan-was-rerun")}
    soon = triage_reports(reports, plans.get, None, now_s=1000.0 + 60, wait_s=600)
    assert [r.storage_id for r, _ in soon.ready] == [2] and soon.cursor == 2  # 1 superseded, 3 waits
    assert "superseded" in soon.notes[0] and "waiting" in soon.notes[1]
    late = triage_reports(reports, plans.get, None, now_s=1000.0 + 601, wait_s=600)
    assert late.cursor == 3 and "remediation_plan is of another report (jan-was-rerun)" in late.skipped[0]


def test_a_report_waits_for_its_run_to_finish_so_the_outputs_are_written_before_any_remediation(tmp_path):
    """The month run materializes compliance_report, then its plan and the outputs (report.html reads
    remediation runs): the sensor launches nothing while that run is going, whatever the plan says."""
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    warehouse = tmp_path / "wh"
    with dg.instance_for_test() as instance:
        start = _tick(instance, warehouse, wait_minutes=60).cursor
        run = instance.add_run(DagsterRun(job_name="monthly_chain_job", run_id="month-run", status=DagsterRunStatus.STARTED))
        materialization = dg.AssetMaterialization(asset_key="compliance_report", partition="2026-01", tags={"dagster/data_version": "v-jan"})
        instance.report_dagster_event(DagsterEvent(DagsterEventType.ASSET_MATERIALIZATION.value, job_name="monthly_chain_job",
                                                   event_specific_data=StepMaterializationData(materialization)), run_id=run.run_id)
        _plan(warehouse, "2026-01", "v-jan")  # the plan is already written; report.html is not yet
        waiting = _tick(instance, warehouse, wait_minutes=0, cursor=start)
        assert waiting.run_requests == [] and waiting.cursor == start
        assert "waiting for the run that materialized report" in waiting.skip_reason.skip_message

        instance.report_run_failed(run)  # finished, well or not: its outputs are what they will be
        launched = _tick(instance, warehouse, wait_minutes=0, cursor=start)
        assert [r.run_key for r in launched.run_requests] == [_key("2026-01")]


def test_triage_waits_for_a_report_whose_run_is_in_progress_unless_a_newer_one_supersedes_it():
    plans = {"2026-01": _plan_of("2026-01", "b")}
    running = triage_reports([ReportSeen(1, "2026-01", "b", 1000.0, run_in_progress=True)], plans.get, None, now_s=99999.0, wait_s=0)
    assert running.ready == [] and running.cursor is None and "still being written" in running.notes[0]
    superseded = triage_reports([ReportSeen(1, "2026-01", "a", 1000.0, run_in_progress=True), ReportSeen(2, "2026-01", "b", 1000.0)],
                                plans.get, None, now_s=1060.0, wait_s=600)
    assert [r.storage_id for r, _ in superseded.ready] == [2] and superseded.cursor == 2
