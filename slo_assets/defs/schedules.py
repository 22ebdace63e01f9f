"""Cron where a fixed time is the point: yesterday's logs, the month to date, the month close. All start
stopped; turn them on in the UI (Automation) with the daemon running (`dg dev` runs one)."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from slo_assets.defs.outputs.rules_proof import PROVE_TAG


def _request(context: dg.ScheduleEvaluationContext, job: str, run_key: str, key: str,
             tags: dict[str, str] | None = None) -> dg.RunRequest | dg.SkipReason:
    """The run for partition `key`, or a skip naming why when the loaded partitions end before it (logs no
    longer active: partitions.py), rather than a failed tick."""
    partitions = context.repository_def.get_job(job).partitions_def if context.repository_def else None
    if partitions is not None and not partitions.has_partition_key(key):
        return dg.SkipReason(f"{key} is not a partition: the logs' partitions end at {partitions.get_last_partition_key()} "
                             "(their newest line is older than SLO_ASSETS_ACTIVE_DAYS); reload the code location once "
                             "new logs arrive, or set SLO_ASSETS_START_DATE for a range that runs to today")
    return dg.RunRequest(run_key=run_key, partition_key=key, tags=tags or {})


def _day(moment: datetime, days_back: int = 0) -> str:
    return (moment - timedelta(days=days_back)).strftime("%Y-%m-%d")


@dg.schedule(cron_schedule="15 0 * * *", job_name="daily_job", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="yesterday's logs: index, parse, SLI inputs")
def daily_ingest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    day = _day(context.scheduled_execution_time.astimezone(UTC), 1)
    return _request(context, "daily_job", f"daily:{day}", day)


@dg.schedule(cron_schedule="45 0 * * *", job_name="monthly_chain_job", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="month-to-date refresh of the monthly chain")
def month_to_date_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    yesterday = context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)
    month = yesterday.strftime("%Y-%m")
    return _request(context, "monthly_chain_job", f"mtd:{month}:{_day(yesterday)}", month)


@dg.schedule(cron_schedule="30 2 1 * *", job_name="monthly_chain_job", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="close the previous month, proving its alert rules with promtool")
def month_close_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    previous = (context.scheduled_execution_time.astimezone(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    return _request(context, "monthly_chain_job", f"close:{previous}", previous, {PROVE_TAG: "1"})


SCHEDULES = [daily_ingest_schedule, month_to_date_schedule, month_close_schedule]
