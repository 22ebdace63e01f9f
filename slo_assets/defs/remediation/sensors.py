"""remediation_sensor: one remediation_job run per service with a new breach in a materialized compliance_report;
escalation_sensor: the runbooks' later escalation levels, and the resolve, as remediation_job runs."""

import hashlib
import json
import time

import dagster as dg

from slo_assets.defs.jobs import remediation_job
from slo_assets.defs.resources import Remediation, WarehouseResource
from slo_assets.remediation.channels import worst_status
from slo_assets.remediation.escalation import (
    Ack,
    Evaluation,
    Step,
    episodes_from_json,
    episodes_to_json,
    grouped,
    tick,
)
from slo_assets.remediation.models import PlanEntry, RemediationPlan
from slo_assets.remediation.plan import ReportSeen, triage_reports
from slo_assets.warehouse import layout

COMPLIANCE_REPORT = dg.AssetKey("compliance_report")


def breach_requests(plan: RemediationPlan, month: str) -> list[dg.RunRequest]:
    """One run per service with breaches in the evaluation, so its messages go out grouped: the run
    key is (period, service, its breaches' fingerprints), so Dagster never repeats one, and a new or
    worse breach of any of its SLOs launches a new run (actions already done for a breach are skipped)."""
    by_service: dict[str, list[PlanEntry]] = {}
    for entry in plan.entries:
        if entry.actions:
            by_service.setdefault(entry.service, []).append(entry)
    requests = []
    for service, entries in sorted(by_service.items()):
        breaches = sorted(f"{e.slo}:{e.fingerprint}" for e in entries)
        key = f"remediation:{month}:{service}:{hashlib.sha256('|'.join(breaches).encode()).hexdigest()[:16]}"
        slos = sorted(e.slo for e in entries)
        requests.append(dg.RunRequest(
            run_key=key, partition_key=month,
            run_config={"ops": {"remediation_runs": {"config": {"run_key": key, "slos": slos}}}},
            tags={"slo_assets/service": service, "slo_assets/status": worst_status(entries), "slo_assets/month": month,
                  "slo_assets/slos": str(len(slos))},
        ))
    return requests


def _plan_reader(store):
    """The plan of a month, read once per tick; unreadable (or not a plan) counts as missing (the sensor says so)."""
    plans: dict[str, RemediationPlan | None] = {}

    def read(month: str) -> RemediationPlan | None:
        if month not in plans:
            path = layout.REMEDIATION_PLAN.path(store, month)
            try:
                plans[month] = RemediationPlan.model_validate_json(path.read_bytes()) if path.exists() else None
            except (OSError, ValueError):  # a pydantic ValidationError is a ValueError
                plans[month] = None
        return plans[month]
    return read


# The storage id before every event: a cursor of 0 handles every report materialized after it.
BEFORE_ANY_EVENT = 0


def _start_here(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """The first tick: handle only reports materialized from now on.

    A report already in the instance when the sensor first runs was made before anyone turned
    remediation on, typically by `slo-assets run`, whose summary and remediation_plan.json already
    showed its breaches to the person who ran it: opening the UI must not act on them behind their
    back. A new or worse breach in a later report is handled as usual."""
    newest = context.instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=COMPLIANCE_REPORT), limit=1,
                                                     ascending=False).records
    if not newest:
        message = "first tick: no compliance_report yet; every report from now on is handled"
        cursor = BEFORE_ANY_EVENT
    else:
        latest = newest[0]
        message = (f"first tick: starting after the newest compliance_report ({latest.partition_key}, storage id "
                   f"{latest.storage_id}); reports before it launch nothing, later ones are handled")
        cursor = latest.storage_id
    context.log.info(message)
    return dg.SensorResult(run_requests=[], cursor=str(cursor), skip_reason=dg.SkipReason(message))


def _run_in_progress(instance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id) if run_id else None
    return run is not None and not run.is_finished


@dg.sensor(job=remediation_job, default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
           description="launches remediation_job once per service and breaches when compliance_report is materialized")
def remediation_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                       remediation: Remediation) -> dg.SensorResult:
    if not context.cursor:
        return _start_here(context)
    # A report waits for its run to finish (report.html is rendered without any remediation run beside
    # it); the plan is written right after the report in that run, and a report whose plan does not
    # match its data version waits up to remediation.plan_wait_minutes, then is skipped (triage_reports).
    cursor = int(context.cursor)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=COMPLIANCE_REPORT, after_storage_id=cursor), limit=100, ascending=True).records
    reports = [ReportSeen(r.storage_id, r.partition_key, (r.asset_materialization.tags or {}).get("dagster/data_version"), r.timestamp,
                          _run_in_progress(context.instance, r.run_id))
               for r in records]
    triage = triage_reports(reports, _plan_reader(warehouse.store()), cursor, time.time(), remediation.plan_wait_minutes * 60)
    for note in triage.notes:
        (context.log.warning if note in triage.skipped else context.log.info)(note)
    requests = [request for report, plan in triage.ready for request in breach_requests(plan, report.month)]
    return dg.SensorResult(run_requests=requests, cursor=None if triage.cursor is None else str(triage.cursor),
                           skip_reason=None if requests else dg.SkipReason("; ".join(triage.notes) or "no new breach"))


# Acknowledgements are observations of this asset, recorded by `slo-assets ack` in the instance.
BREACH_ACKS = dg.AssetKey("breach_acks")
breach_acks = dg.AssetSpec(BREACH_ACKS, group_name="remediation", kinds={"dagster"},
                           description="acknowledged breaches (slo-assets ack): an acknowledged escalation climbs no further")


def _acks(instance) -> list[Ack]:
    records = instance.fetch_observations(dg.AssetRecordsFilter(asset_key=BREACH_ACKS), limit=1000, ascending=True).records
    acks = []
    for record in records:
        metadata = record.asset_observation.metadata
        if "breach" in metadata:
            acks.append(Ack(str(metadata["breach"].value), record.timestamp, str(metadata["by"].value) if "by" in metadata else ""))
    return acks


def _newest_evaluations(instance, store) -> list[Evaluation]:
    """The newest compliance_report of each month that has the plan written from it."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=COMPLIANCE_REPORT), limit=200, ascending=False).records
    newest: dict[str, dg.EventLogRecord] = {}
    for record in records:
        newest.setdefault(record.partition_key, record)
    read_plan = _plan_reader(store)
    evaluations = []
    for month, record in newest.items():
        plan = read_plan(month)
        if plan is not None and plan.compliance_data_version == (record.asset_materialization.tags or {}).get("dagster/data_version"):
            evaluations.append(Evaluation(month, record.storage_id, record.timestamp, plan.entries))
    return evaluations


def escalation_requests(steps: list[Step]) -> list[dg.RunRequest]:
    """One run per group of steps (escalation.grouped): a level's actions for the SLOs of one service, or one episode's PagerDuty follow-up."""
    requests = []
    for run_key, members in grouped(steps):
        first = members[0]
        config = {"run_key": run_key, "slos": sorted({s.slo for s in members}),
                  "actions": sorted({a for s in members for a in s.actions}),
                  "pagerduty_event": "" if first.kind == "level" else first.kind}
        requests.append(dg.RunRequest(run_key=run_key, partition_key=first.period, run_config={"ops": {"remediation_runs": {"config": config}}},
                                      tags={"slo_assets/slos": str(len(config["slos"])), "slo_assets/month": first.period,
                                            "slo_assets/escalation": first.kind, "slo_assets/service": first.service}))
    return requests


@dg.sensor(job=remediation_job, default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60,
           description="walks the runbooks' escalation levels while an SLO keeps burning; resolves when it stops")
def escalation_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                      remediation: Remediation) -> dg.SensorResult:
    # The episodes live in the cursor; tick() is pure, and the run keys make a repeated step harmless.
    runbooks = remediation.runbooks()
    if not any(r.escalation for r in runbooks):
        return dg.SensorResult(skip_reason=dg.SkipReason("no runbook declares an escalation"), cursor=context.cursor)
    state = json.loads(context.cursor) if context.cursor else {}
    episodes, steps = tick(episodes_from_json(state.get("episodes", {})), _newest_evaluations(context.instance, warehouse.store()),
                           _acks(context.instance), runbooks)
    for step in steps:
        context.log.info(step.note)
    return dg.SensorResult(run_requests=escalation_requests(steps), cursor=json.dumps({"episodes": episodes_to_json(episodes)}),
                           skip_reason=None if steps else dg.SkipReason(
                               f"{sum(e.resolved_s is None for e in episodes.values())} open episode(s), nothing due"))
