"""live_outputs_sensor: the running month's chain and outputs (report.html, slo_metrics.prom, the
Dagster metadata) refreshed while its days change, at most once every live_outputs.refresh_minutes.

Stopped by default: turn it on in the UI (Automation). Two requests, each decided in outputs/refresh.py:
- today's day: when a log file changed after the last run of today's day began, daily_job for today
  (the incremental ingestion reads only the appended bytes), run key (day, N-minute slot), unless a
  run of the day is queued or running;
- the month: a materialization of one of the month's days newer than the last refresh requests
  monthly_chain_job for the month (what `slo-assets run` runs for it), with a run key of (month,
  N-minute slot), unless a run of that job for the month is still queued or running.
"""

import json
import os
from pathlib import Path

import dagster as dg

from slo_assets.core import clock
from slo_assets.core.calendar import month_days
from slo_assets.defs.jobs import daily_job, monthly_chain_job
from slo_assets.defs.resources import LiveOutputs, LogSource
from slo_assets.ingest.files import LogDiscoveryError, discover_files
from slo_assets.outputs.refresh import Refreshed, decide, decide_day

EXPOSITION = dg.AssetKey("prometheus_exposition")
NOT_FINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
LIVE_TAG = "slo_assets/live_outputs"


# The day's tables whose newest materialization says when a day was last ingested.
DAY_TABLES = ("parsed_logs", "sli_minutely")


def _newest(instance, key: dg.AssetKey, partitions: list[str]) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions), limit=1,
                                              ascending=False).records
    return records[0] if records else None


def _newest_day(instance, month: str, today: str) -> dg.EventLogRecord | None:
    """The newest materialization of any daily asset of the month's days so far."""
    days = [day for day in month_days(month) if day <= today]
    found = [record for key in DAY_TABLES if (record := _newest(instance, dg.AssetKey(key), days)) is not None]
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


def _newest_file_s(log_source: LogSource) -> float | None:
    """The newest modification time of the log files the ingestion reads (None: none there)."""
    found = discover_files(Path(log_source.root), tuple(log_source.include), tuple(log_source.exclude), log_source.follow_symlinks)
    times = []
    for path in found.files:
        try:
            times.append(os.stat(path).st_mtime)
        except OSError:  # removed since the walk: the next tick sees the folder as it is then
            continue
    return max(times, default=None)


def _day_run_started_s(instance, today: str) -> float | None:
    """When the run that last materialized today's parsed_logs began: lines appended after it may be unread."""
    record = _newest(instance, dg.AssetKey("parsed_logs"), [today])
    if record is None:
        return None
    run = instance.get_run_record_by_id(record.run_id) if record.run_id else None
    return run.start_time if run is not None and run.start_time is not None else record.timestamp


def _day_running(instance, today: str) -> bool:
    return bool(instance.get_runs(filters=dg.RunsFilter(statuses=NOT_FINISHED, tags={"dagster/partition": today}), limit=1))


def today_request(instance, log_source: LogSource, today: str, now_s: float, minutes: int) -> tuple[dg.RunRequest | None, str]:
    try:
        newest_file = _newest_file_s(log_source)
    except LogDiscoveryError as error:
        return None, f"{today}: {error}"
    decision = decide_day(today, now_s, minutes, newest_file, _day_run_started_s(instance, today), _day_running(instance, today))
    if decision.run_key is None:
        return None, decision.reason
    return dg.RunRequest(run_key=decision.run_key, job_name=daily_job.name, partition_key=today,
                         tags={LIVE_TAG: decision.run_key}), decision.reason


@dg.sensor(jobs=[daily_job, monthly_chain_job], default_status=dg.DefaultSensorStatus.STOPPED, minimum_interval_seconds=30,
           description="keeps the running month's chain and outputs following its logs: today's day ingested again when its "
                       "files change, the month refreshed after its days change, each at most once every "
                       "live_outputs.refresh_minutes (SLO_ASSETS_LIVE_REFRESH_MINUTES, default 5); turn on in Automation")
def live_outputs_sensor(context: dg.SensorEvaluationContext, live_outputs: LiveOutputs, log_source: LogSource) -> dg.SensorResult:
    now = clock.now()
    month, today = now.strftime("%Y-%m"), now.date().isoformat()
    day_request, day_reason = today_request(context.instance, log_source, today, now.timestamp(), live_outputs.refresh_minutes)
    newest = _newest_day(context.instance, month, today)
    decision = decide(month, now.timestamp(), live_outputs.refresh_minutes,
                      None if newest is None else newest.storage_id,
                      newest is not None and _settled(context.instance, newest),
                      _refresh_running(context.instance, month),
                      _last_refresh(context.instance, context.cursor, month))
    cursor = None if decision.last is None else json.dumps(decision.last.to_json())
    requests = [] if day_request is None else [day_request]
    if decision.run_key is not None:
        requests.append(dg.RunRequest(run_key=decision.run_key, job_name=monthly_chain_job.name, partition_key=month,
                                      tags={"slo_assets/month": month, LIVE_TAG: decision.run_key}))
    for reason in (day_reason, decision.reason):
        context.log.info(reason)
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"{day_reason}; {decision.reason}"), cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
