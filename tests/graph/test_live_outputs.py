"""live_outputs_sensor on a real (SQLite) instance, the clock pinned with SLO_ASSETS_NOW: nothing without
new day data, one refresh when a day changes, none again within N minutes, another after them, none
beside a refresh still running; today's day ingested again when its log files change; and the
interval setting."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.dagster_run import DagsterRun

from slo_assets.core.clock import SettingError
from slo_assets.definitions import build_definitions
from slo_assets.defs.jobs import daily_job, monthly_chain_job
from slo_assets.defs.live.outputs import LIVE_TAG, live_outputs_sensor
from slo_assets.defs.resources import LiveOutputs, LogSource
from slo_assets.defs.settings import LIVE_REFRESH_SETTING, live_refresh_minutes
from slo_assets.outputs.refresh import Refreshed, decide, decide_day, run_key

MONTH = "2026-10"


class Sensor:
    """Successive ticks over one instance at pinned instants, each continuing from the previous cursor."""

    def __init__(self, instance, monkeypatch, logs, minutes: int = 5):
        self.instance, self.monkeypatch, self.cursor = instance, monkeypatch, None
        self.resources = {"live_outputs": LiveOutputs(refresh_minutes=minutes), "log_source": LogSource(root=str(logs))}

    def tick(self, at: str) -> dg.SensorResult:
        self.monkeypatch.setenv("SLO_ASSETS_NOW", f"2026-10-{at}Z")
        with dg.build_sensor_context(instance=self.instance, resources=self.resources, cursor=self.cursor) as context:
            result = live_outputs_sensor(context)
        self.cursor = result.cursor if result.cursor is not None else self.cursor
        return result


def _day(instance, key: str, day: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=day))


def _in_run(instance, run_id: str, key: str, partition: str, at: float | None = None) -> None:
    """A materialization by a run (runless events have the run id ""), at a chosen time."""
    materialization = dg.AssetMaterialization(asset_key=key, partition=partition)
    instance.store_event(EventLogEntry(
        error_info=None, level="INFO", user_message="", run_id=run_id, timestamp=time.time() if at is None else at,
        dagster_event=DagsterEvent(DagsterEventType.ASSET_MATERIALIZATION.value, "ingest_job",
                                   event_specific_data=StepMaterializationData(materialization))))


def _keys(result: dg.SensorResult, job: str = monthly_chain_job.name) -> list[str]:
    return [request.run_key for request in result.run_requests or [] if request.job_name == job]


def _at(text: str) -> float:
    return datetime.fromisoformat(f"2026-10-{text}+00:00").timestamp()


@pytest.fixture
def logs(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder


@pytest.fixture
def sensor(monkeypatch, logs):
    with dg.instance_for_test() as instance:
        yield Sensor(instance, monkeypatch, logs), instance


def test_a_changed_day_refreshes_once_per_interval_and_nothing_changed_refreshes_nothing(sensor):
    live, instance = sensor
    assert _keys(live.tick("14T12:00:00")) == []  # no day of October yet
    assert "no day materialized yet" in live.tick("14T12:00:10").skip_reason.skip_message
    _day(instance, "sli_minutely", "2026-09-30")  # September's last day: not the running month
    assert _keys(live.tick("14T12:00:20")) == []

    _day(instance, "parsed_logs", "2026-10-14")
    first = live.tick("14T12:01:00")
    (request,) = first.run_requests
    # 12:01 is in the 5-minute slot 12:00-12:05 of the epoch: 1791979260 s // 300 = 5973264
    assert request.run_key == f"live-outputs:{MONTH}:5m:5973264"
    assert request.partition_key == MONTH and request.tags[LIVE_TAG] == request.run_key
    assert request.job_name == monthly_chain_job.name and {j.name for j in live_outputs_sensor.jobs} == {monthly_chain_job.name, daily_job.name}
    job = build_definitions().resolve_job_def(request.job_name)  # the month is a partition of the job
    assert job.partitions_def.has_partition_key(request.partition_key)
    assert "no new day data" in live.tick("14T12:01:30").skip_reason.skip_message  # handled, nothing new

    _day(instance, "sli_minutely", "2026-10-14")  # the live day again, within the interval
    waiting = live.tick("14T12:05:59")
    assert _keys(waiting) == [] and "next refresh from 2026-10-14T12:06:00Z" in waiting.skip_reason.skip_message
    later = live.tick("14T12:06:00")  # five minutes after the first request
    assert _keys(later) == [f"live-outputs:{MONTH}:5m:5973265"]
    assert _keys(live.tick("14T12:30:00")) == []  # nothing new since, however long


def test_a_refresh_still_running_holds_the_next_one_and_an_unfinished_day_run_waits(sensor):
    live, instance = sensor
    _day(instance, "sli_minutely", "2026-10-02")
    assert len(live.tick("14T08:00:00").run_requests) == 1
    running = instance.add_run(DagsterRun(job_name=monthly_chain_job.name, run_id="refresh-run", status=dg.DagsterRunStatus.STARTED,
                                          tags={"dagster/partition": MONTH}))
    _day(instance, "sli_minutely", "2026-10-03")
    held = live.tick("14T08:10:00")
    assert _keys(held) == [] and "queued or running" in held.skip_reason.skip_message
    instance.report_run_canceled(running)  # finished
    assert len(live.tick("14T08:10:30").run_requests) == 1

    ingest = instance.add_run(DagsterRun(job_name="ingest_job", run_id="ingest-run", status=dg.DagsterRunStatus.STARTED))
    _in_run(instance, ingest.run_id, "parsed_logs", "2026-10-04")  # its sli_minutely is still to come
    writing = live.tick("14T08:20:00")
    assert _keys(writing) == [] and "still being written" in writing.skip_reason.skip_message
    instance.report_run_canceled(ingest)
    assert len(live.tick("14T08:20:30").run_requests) == 1


def test_the_first_tick_takes_the_newest_exposition_for_the_last_refresh(sensor):
    live, instance = sensor
    _day(instance, "sli_minutely", "2026-10-13")
    # `slo-assets run` wrote the month's exposition after that day, at 08:58
    _in_run(instance, "", "prometheus_exposition", MONTH, at=datetime(2026, 10, 14, 8, 58, tzinfo=UTC).timestamp())
    assert "no new day data" in live.tick("14T09:00:00").skip_reason.skip_message
    _day(instance, "sli_minutely", "2026-10-14")
    assert "next refresh from 2026-10-14T09:03:00Z" in live.tick("14T09:00:30").skip_reason.skip_message
    assert len(live.tick("14T09:03:00").run_requests) == 1


def test_todays_day_is_ingested_again_when_its_files_changed_after_its_last_run_began(sensor, logs):
    live, instance = sensor
    quiet = live.tick("14T12:00:00")
    assert _keys(quiet, daily_job.name) == [] and "2026-10-14: no log file to ingest" in quiet.skip_reason.skip_message
    log = logs / "access.log"
    log.write_text("")
    os.utime(log, (_at("14T11:59:00"), _at("14T11:59:00")))  # written before any run of the day
    (request,) = live.tick("14T12:00:30").run_requests
    assert request.job_name == daily_job.name and request.partition_key == "2026-10-14"
    assert request.run_key == "live-day:2026-10-14:5m:5973264" and request.tags[LIVE_TAG] == request.run_key
    assert build_definitions().resolve_job_def(daily_job.name).partitions_def.has_partition_key("2026-10-14")
    # the same slot asks the same key (Dagster launches it once): at most one day run every 5 minutes
    assert _keys(live.tick("14T12:04:59"), daily_job.name) == [request.run_key]
    running = instance.add_run(DagsterRun(job_name=daily_job.name, run_id="day-run", status=dg.DagsterRunStatus.STARTED,
                                          tags={"dagster/partition": "2026-10-14"}))
    held = live.tick("14T12:05:00")
    assert _keys(held, daily_job.name) == [] and "a run of the day is queued or running" in held.skip_reason.skip_message
    instance.report_run_canceled(running)
    _in_run(instance, "", "parsed_logs", "2026-10-14", at=_at("14T12:05:10"))  # the day's run read the file after 11:59
    after = live.tick("14T12:05:30")  # the day is as new as its file; the month follows the day's new data
    assert _keys(after, daily_job.name) == [] and _keys(after) == [f"live-outputs:{MONTH}:5m:5973265"]
    settled = live.tick("14T12:06:00").skip_reason.skip_message
    assert "2026-10-14: no log file changed since its day run of 2026-10-14T12:05:10Z" in settled and "no new day data" in settled
    os.utime(log, (_at("14T12:07:00"), _at("14T12:07:00")))  # lines appended since
    assert _keys(live.tick("14T12:07:30"), daily_job.name) == ["live-day:2026-10-14:5m:5973265"]


def test_decide_day_orders_its_reasons():
    assert decide_day("2026-10-14", 1000.0, 5, None, None, False).reason == "2026-10-14: no log file to ingest"
    assert decide_day("2026-10-14", 1000.0, 5, 900.0, 950.0, True).run_key is None  # nothing changed: not even a wait
    assert "queued or running" in decide_day("2026-10-14", 1000.0, 5, 960.0, 950.0, True).reason
    assert decide_day("2026-10-14", 1000.0, 5, 960.0, 950.0, False).run_key == "live-day:2026-10-14:5m:3"
    assert decide_day("2026-10-14", 1000.0, 5, 960.0, None, False).run_key == "live-day:2026-10-14:5m:3"  # never run


def test_decide_orders_its_reasons():
    last = Refreshed(MONTH, data_id=10, at_s=1000.0)
    assert decide(MONTH, 1100.0, 5, None, True, False, last).run_key is None
    assert decide(MONTH, 5000.0, 5, 10, True, False, last).reason.endswith("no new day data since the refresh of 1970-01-01T00:16:40Z")
    assert "queued or running" in decide(MONTH, 5000.0, 5, 11, True, True, last).reason
    assert "still being written" in decide(MONTH, 5000.0, 5, 11, False, False, last).reason
    assert decide(MONTH, 1299.0, 5, 11, True, False, last).run_key is None
    due = decide(MONTH, 1300.0, 5, 11, True, False, last)
    assert due.run_key == run_key(MONTH, 5, 1300.0) == f"live-outputs:{MONTH}:5m:4" and due.last == Refreshed(MONTH, 11, 1300.0)
    # the refresh of another month is none of this month's: no wait
    assert decide("2026-11", 1100.0, 5, 3, True, False, last).run_key == "live-outputs:2026-11:5m:3"


@pytest.mark.parametrize("text", ["0", "61", "5.5", "five", "-1"])
def test_the_interval_setting_is_whole_minutes_from_1_to_60(text, monkeypatch):
    monkeypatch.setenv(LIVE_REFRESH_SETTING, text)
    with pytest.raises(SettingError, match=f"{LIVE_REFRESH_SETTING}='{text}': expected whole minutes from 1 to 60"):
        live_refresh_minutes()


def test_the_interval_defaults_to_5_and_the_sensor_starts_stopped(monkeypatch):
    monkeypatch.delenv(LIVE_REFRESH_SETTING, raising=False)
    assert live_refresh_minutes() == 5
    monkeypatch.setenv(LIVE_REFRESH_SETTING, "15")
    assert live_refresh_minutes() == 15
    with pytest.raises(Exception, match="less than or equal to 60"):
        LiveOutputs(refresh_minutes=61)
    assert live_outputs_sensor.default_status == dg.DefaultSensorStatus.STOPPED
