"""Schedules: yesterday's ingestion, the month-to-date refresh, the month close; the daily job runs as scheduled."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from slo_assets.definitions import build_definitions
from slo_assets.defs.outputs.rules_proof import PROVE_TAG
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from slo_assets.defs.schedules import daily_ingest_schedule, month_close_schedule, month_to_date_schedule
from slo_assets.defs.settings import LocationSettings
from slo_assets.ingest.generate import write_logs

DEPLOYMENT = LocationSettings(warehouse="/nonexistent/warehouse", start_date="2026-01-01")  # a range through today


def _tick(schedule, when: str, settings: LocationSettings = DEPLOYMENT):
    context = dg.build_schedule_context(scheduled_execution_time=datetime.fromisoformat(when).replace(tzinfo=UTC),
                                        repository_def=build_definitions(settings=settings).get_repository_def())
    return schedule.evaluate_tick(context)


def _request(schedule, when: str) -> dg.RunRequest:
    return _tick(schedule, when).run_requests[0]


def test_a_schedule_past_the_logs_partitions_skips_saying_why(tmp_path):
    """Logs no longer active end the partitions with their last month: the tick skips, naming the way out."""
    import polars as pl

    from slo_assets.warehouse import layout

    target = tmp_path / layout.LOG_FILE_INDEX.relative()
    target.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"days": [[(datetime(2026, 5, 20) - datetime(1970, 1, 1)).days]]},
                 schema={"days": pl.List(pl.Int32)}).write_parquet(target)
    settings = LocationSettings(warehouse=str(tmp_path))
    tick = _tick(daily_ingest_schedule, "2026-07-02T00:15:00", settings)
    assert not tick.run_requests and "2026-07-01 is not a partition: the logs' partitions end at 2026-05-31" in tick.skip_message
    assert _tick(month_close_schedule, "2026-06-01T02:30:00", settings).run_requests[0].partition_key == "2026-05"


def test_schedules_target_the_right_partitions():
    assert _request(daily_ingest_schedule, "2026-10-05T00:15:00").partition_key == "2026-10-04"
    assert _request(daily_ingest_schedule, "2026-11-01T00:15:00").partition_key == "2026-10-31"
    assert _request(month_to_date_schedule, "2026-10-05T00:45:00").partition_key == "2026-10"
    assert _request(month_to_date_schedule, "2026-11-01T00:45:00").partition_key == "2026-10"  # the last day of October
    assert _request(month_close_schedule, "2026-11-01T02:30:00").partition_key == "2026-10"
    assert _request(month_close_schedule, "2027-01-01T02:30:00").partition_key == "2026-12"
    assert _request(month_close_schedule, "2027-01-01T02:30:00").tags[PROVE_TAG] == "1"  # each closed month proven once
    assert PROVE_TAG not in _request(month_to_date_schedule, "2026-10-05T00:45:00").tags
    names = {s.name for s in build_definitions().schedules}
    assert names == {"daily_ingest_schedule", "month_to_date_schedule", "month_close_schedule"}
    assert {s.name for s in build_definitions().sensors} == {"remediation_sensor", "escalation_sensor", "live_tick_sensor", "live_outputs_sensor",
                                             "daily_automation_sensor", "monthly_automation_sensor"}


def test_daily_job_refreshes_the_index_then_one_day(tmp_path):
    write_logs(tmp_path / "logs", "2026-02", 5_000, "jsonl", seed=2)
    resources = {"log_source": LogSource(root=str(tmp_path / "logs")), "warehouse": WarehouseResource(base=str(tmp_path / "wh")),
                 "slo_settings": SloSettings()}
    result = build_definitions(resources).resolve_job_def("daily_job").execute_in_process(partition_key="2026-02-03")
    assert result.success
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert materialized == {"parsed_logs", "quarantine", "sli_minutely", "sli_latency", "sli_operations"}
    observed = {(e.asset_key.to_user_string(), e.partition) for e in result.get_asset_observation_events()}
    assert ("log_file_index", "2026-02-03") in observed  # every day with lines got its first data version
    assert (tmp_path / "wh" / "sli_minutely" / "2026-02-03.parquet").exists()
