"""Cron where a fixed time is the point: yesterday's logs, the month to date, the month close. All start
stopped; turn them on in the UI (Automation) with the daemon running (`dg dev` runs one)."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from slo_assets.defs.outputs.rules_proof import PROVE_TAG


def _day(moment: datetime, days_back: int = 0) -> str:
    return (moment - timedelta(days=days_back)).strftime("%Y-%m-%d")


@dg.schedule(cron_schedule="15 0 * * *", job_name="daily_job", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="yesterday's logs: index, parse, SLI inputs")
def daily_ingest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = _day(context.scheduled_execution_time.astimezone(UTC), 1)
    return dg.RunRequest(run_key=f"daily:{day}", partition_key=day)


@dg.schedule(cron_schedule="45 0 * * *", job_name="monthly_chain_job", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="month-to-date refresh of the monthly chain")
def month_to_date_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    yesterday = context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)
    month = yesterday.strftime("%Y-%m")
    return dg.RunRequest(run_key=f"mtd:{month}:{_day(yesterday)}", partition_key=month)


@dg.schedule(cron_schedule="30 2 1 * *", job_name="monthly_chain_job", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="close the previous month, proving its alert rules with promtool")
def month_close_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    previous = (context.scheduled_execution_time.astimezone(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    return dg.RunRequest(run_key=f"close:{previous}", partition_key=previous, tags={PROVE_TAG: "1"})


SCHEDULES = [daily_ingest_schedule, month_to_date_schedule, month_close_schedule]
