"""live_outputs_sensor: the running month's chain and outputs (report.html, slo_metrics.prom, the
Dagster metadata) refreshed while its days change, at most once every live_outputs.refresh_minutes.

Stopped by default: turn it on in the UI (Automation). It reads the instance's asset records, never the
files: a materialization of one of the month's days newer than the last refresh requests
monthly_chain_job for the month (what `slo-assets run` runs for it), with a run key of (month,
N-minute slot), unless a run of that job for the month is still queued or running.
"""

import json

import dagster as dg

from slo_assets import clock
from slo_assets.calendar import month_days
from slo_assets.defs.jobs import DAILY_KEYS, monthly_chain_job
from slo_assets.defs.resources import LiveOutputs
from slo_assets.outputs.refresh import Refreshed, decide

EXPOSITION = dg.AssetKey("prometheus_exposition")
NOT_FINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
LIVE_TAG = "slo_assets/live_outputs"


def _newest(instance, key: dg.AssetKey, partitions: list[str]) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions), limit=1,
                                              ascending=False).records
    return records[0] if records else None


def _newest_day(instance, month: str, today: str) -> dg.EventLogRecord | None:
    """The newest materialization of any daily asset of the month's days so far."""
    days = [day for day in month_days(month) if day <= today]
    found = [record for key in DAILY_KEYS if (record := _newest(instance, dg.AssetKey(key), days)) is not None]
    return max(found, key=lambda record: record.storage_id, default=None)


def _settled(instance, record: dg.EventLogRecord) -> bool:
    run = instance.get_run_by_id(record.run_id) if record.run_id else None
    return run is None or run.is_finished


def _refresh_running(instance, month: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=monthly_chain_job.name, statuses=NOT_FINISHED,
                                                   tags={"dagster/partition": month}), limit=1)
    return bool(runs)


def _last_refresh(instance, cursor: str | None, month: str) -> Refreshed | None:
    """The cursor's refresh of the month; without one, the month's newest exposition (from `run`, a schedule
    or the UI) stands for it: the days it read are older than it."""
    if cursor:
        last = Refreshed.from_json(json.loads(cursor))
        if last.month == month:
            return last
    record = _newest(instance, EXPOSITION, [month])
    return None if record is None else Refreshed(month, record.storage_id, record.timestamp)


@dg.sensor(job=monthly_chain_job, default_status=dg.DefaultSensorStatus.STOPPED, minimum_interval_seconds=30,
           description="refreshes the running month's chain and outputs after its days change, at most once every "
                       "live_outputs.refresh_minutes (SLO_ASSETS_LIVE_REFRESH_MINUTES, default 5); turn on in Automation")
def live_outputs_sensor(context: dg.SensorEvaluationContext, live_outputs: LiveOutputs) -> dg.SensorResult:
    now = clock.now()
    month, today = now.strftime("%Y-%m"), now.date().isoformat()
    newest = _newest_day(context.instance, month, today)
    decision = decide(month, now.timestamp(), live_outputs.refresh_minutes,
                      None if newest is None else newest.storage_id,
                      newest is not None and _settled(context.instance, newest),
                      _refresh_running(context.instance, month),
                      _last_refresh(context.instance, context.cursor, month))
    cursor = None if decision.last is None else json.dumps(decision.last.to_json())
    if decision.run_key is None:
        return dg.SensorResult(skip_reason=dg.SkipReason(decision.reason), cursor=cursor)
    context.log.info(decision.reason)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=decision.run_key, partition_key=month,
                                                       tags={"slo_assets/month": month, LIVE_TAG: decision.run_key})],
                           cursor=cursor)
