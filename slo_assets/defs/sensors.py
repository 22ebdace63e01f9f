"""remediation_sensor: one remediation_job run per service with a new breach in a materialized compliance_report."""

import hashlib
import json
import time

import dagster as dg

from slo_assets import layout
from slo_assets.defs.jobs import remediation_job
from slo_assets.defs.resources import Remediation, WarehouseResource
from slo_assets.remediation.channels import worst_status
from slo_assets.remediation.plan import ReportSeen, triage_reports

COMPLIANCE_REPORT = dg.AssetKey("compliance_report")


def breach_requests(plan: dict, month: str) -> list[dg.RunRequest]:
    """One run per service with breaches in the evaluation, so its messages go out grouped: the run
    key is (period, service, its breaches' fingerprints), so Dagster never repeats one, and a new or
    worse breach of any of its SLOs launches a new run (actions already done for a breach are skipped)."""
    by_service: dict[str, list[dict]] = {}
    for entry in plan["entries"]:
        if entry["actions"]:
            by_service.setdefault(entry["service"], []).append(entry)
    requests = []
    for service, entries in sorted(by_service.items()):
        breaches = sorted(f"{e['slo']}:{e['fingerprint']}" for e in entries)
        key = f"remediation:{month}:{service}:{hashlib.sha256('|'.join(breaches).encode()).hexdigest()[:16]}"
        slos = sorted(e["slo"] for e in entries)
        requests.append(dg.RunRequest(
            run_key=key, partition_key=month,
            run_config={"ops": {"remediation_runs": {"config": {"run_key": key, "slos": slos}}}},
            tags={"slo_assets/service": service, "slo_assets/status": worst_status(entries), "slo_assets/month": month,
                  "slo_assets/slos": str(len(slos))},
        ))
    return requests


def _plan_reader(store):
    """The plan of a month, read once per tick; unreadable counts as missing (the sensor says so)."""
    plans: dict[str, dict | None] = {}

    def read(month: str) -> dict | None:
        if month not in plans:
            path = layout.REMEDIATION_PLAN.path(store, month)
            try:
                plans[month] = json.loads(path.read_bytes()) if path.exists() else None
            except (OSError, ValueError):
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


@dg.sensor(job=remediation_job, default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
           description="launches remediation_job once per service and breaches when compliance_report is materialized")
def remediation_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                       remediation: Remediation) -> dg.SensorResult:
    if not context.cursor:
        return _start_here(context)
    # The plan is written right after the report in the same run; a report whose plan does not match
    # its data version waits up to remediation.plan_wait_minutes, then is skipped (triage_reports).
    cursor = int(context.cursor)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=COMPLIANCE_REPORT, after_storage_id=cursor), limit=100, ascending=True).records
    reports = [ReportSeen(r.storage_id, r.partition_key, (r.asset_materialization.tags or {}).get("dagster/data_version"), r.timestamp)
               for r in records]
    triage = triage_reports(reports, _plan_reader(warehouse.store()), cursor, time.time(), remediation.plan_wait_minutes * 60)
    for note in triage.notes:
        (context.log.warning if note in triage.skipped else context.log.info)(note)
    requests = [request for report, plan in triage.ready for request in breach_requests(plan, report.month)]
    return dg.SensorResult(run_requests=requests, cursor=None if triage.cursor is None else str(triage.cursor),
                           skip_reason=None if requests else dg.SkipReason("; ".join(triage.notes) or "no new breach"))
