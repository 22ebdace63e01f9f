"""The partition range: it starts at the first month with data (the logs indexed, a month asked for),
else the running month, ends on the running day while the logs are active (else with their last month),
and says why a month is outside it; the clock can be pinned."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl
import pytest

from slo_assets.core import clock
from slo_assets.defs import partitions as P
from slo_assets.defs.settings import LocationSettings
from slo_assets.warehouse import layout


@pytest.fixture
def settings(monkeypatch):
    monkeypatch.setenv(clock.NOW_SETTING, "2026-11-15T08:00:00Z")
    return monkeypatch


def _range(tmp_path, **settings: str) -> P.PartitionRange:
    return P.resolve_range(LocationSettings(warehouse=str(tmp_path), **settings))


def _index(path, epoch_days: list[int]) -> None:
    pl.DataFrame({"days": [epoch_days]}, schema={"days": pl.List(pl.Int32)}).write_parquet(path / layout.LOG_FILE_INDEX.relative())


def test_without_data_the_range_is_the_running_month(settings, tmp_path):
    found = _range(tmp_path)
    assert (found.first_day, found.last_day, found.configured) == (date(2026, 11, 1), date(2026, 11, 15), "")
    assert found.days_of(["2026-11-14", "2026-11-15", "2026-11-16"]) == ["2026-11-14", "2026-11-15"]
    assert found.why_not("2026-11") is None and "has not begun" in found.why_not("2026-12")


def test_range_covers_the_indexed_logs_but_not_clock_errors(settings, tmp_path):
    may_17_2015, jan_2_1971 = (date(2015, 5, 17) - date(1970, 1, 1)).days, 366
    _index(tmp_path, [jan_2_1971, may_17_2015, 20_000])
    assert _range(tmp_path).first_day == date(2015, 5, 1)  # 1971 is a clock error, not a log


def test_range_starts_at_the_first_month_with_data_not_years_before(settings, tmp_path):
    _index(tmp_path, [(date(2026, 9, 17) - date(1970, 1, 1)).days])
    found = _range(tmp_path)
    assert found.first_day == date(2026, 9, 1)
    days = dg.DailyPartitionsDefinition(start_date=found.first_day.isoformat(), end_date="2026-11-16", timezone="UTC")
    assert days.get_num_partitions() == 30 + 31 + 15  # September to the 15th of November, not 2,527 days since 2020
    assert _range(tmp_path, earliest_month="2026-10").first_day == date(2026, 9, 1)  # the earlier of the index and the month asked


def test_logs_dated_after_today_do_not_empty_the_range(settings, tmp_path):
    _index(tmp_path, [(date(2030, 1, 5) - date(1970, 1, 1)).days])
    assert _range(tmp_path).first_day == date(2026, 11, 1)


def test_range_covers_the_month_asked_for(settings, tmp_path):
    assert _range(tmp_path, earliest_month="2012-03").first_day == date(2012, 3, 1)


def test_a_configured_start_is_kept_and_named(settings, tmp_path):
    found = _range(tmp_path, start_date="2021-06-01", earliest_month="2015-05")
    assert found.first_day == date(2021, 6, 1) and found.configured
    _index(tmp_path, [_epoch(date(2015, 5, 17))])  # a deployment runs to today whatever its logs hold
    assert _range(tmp_path, start_date="2015-05-01").last_day == date(2026, 11, 15)
    reason = found.why_not("2015-05")
    assert "SLO_ASSETS_START_DATE=2021-06-01" in reason and "SLO_ASSETS_START_DATE=2015-05-01" in reason


def test_bad_settings_name_themselves(settings, tmp_path):
    with pytest.raises(P.PartitionSettingError, match="SLO_ASSETS_START_DATE"):
        _range(tmp_path, start_date="May 2015")
    settings.setenv(clock.NOW_SETTING, "yesterday")
    with pytest.raises(clock.ClockError, match="SLO_ASSETS_NOW"):
        clock.now()


def test_an_unreadable_index_does_not_stop_the_code_location(settings, tmp_path):
    (tmp_path / layout.LOG_FILE_INDEX.relative()).write_bytes(b"not parquet")
    assert _range(tmp_path).first_day == date(2026, 11, 1)


def test_the_loaded_assets_carry_the_range_of_the_load(settings, tmp_path):
    """Declared on the calendars at import, the assets carry this load's partitions: they follow the data."""
    from slo_assets.definitions import build_definitions

    _index(tmp_path, [(date(2026, 9, 17) - date(1970, 1, 1)).days, (date(2026, 11, 14) - date(1970, 1, 1)).days])
    graph = build_definitions(settings=LocationSettings(warehouse=str(tmp_path))).resolve_asset_graph()
    days = graph.get(dg.AssetKey("parsed_logs")).partitions_def
    assert graph.get(dg.AssetKey("log_file_index")).partitions_def == days
    assert (days.get_first_partition_key(), days.get_last_partition_key()) == ("2026-09-01", "2026-11-15")
    months = graph.get(dg.AssetKey("compliance_report")).partitions_def
    assert months.get_partition_keys() == ["2026-09", "2026-10", "2026-11"]
    assert graph.get(dg.AssetKey("quarterly_review")).partitions_def.get_partition_keys() == ["2026-07", "2026-10"]
    calendars = {P.DAILY, P.MONTHLY, P.QUARTERLY, P.YEARLY}
    assert not [key for key in graph.get_all_asset_keys() if graph.get(key).partitions_def in calendars]


def _epoch(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def test_an_old_sample_shows_its_own_month_not_a_decade(settings, tmp_path):
    """A May 2015 log read in November 2026: 31 daily and 1 monthly partition, not 4,239 and 140."""
    from slo_assets.definitions import build_definitions

    _index(tmp_path, [_epoch(date(2015, 5, 17)), _epoch(date(2015, 5, 20))])
    found = _range(tmp_path)
    assert (found.first_day, found.last_day, found.active, found.newest_line) == (date(2015, 5, 1), date(2015, 5, 31), False,
                                                                                  date(2015, 5, 20))
    assert found.why_not("2015-05") is None
    assert "after the logs: their newest line is of 2015-05-20" in found.why_not("2015-06")
    graph = build_definitions(settings=LocationSettings(warehouse=str(tmp_path))).resolve_asset_graph()
    assert graph.get(dg.AssetKey("parsed_logs")).partitions_def.get_num_partitions() == 31
    assert graph.get(dg.AssetKey("compliance_report")).partitions_def.get_partition_keys() == ["2015-05"]
    assert graph.get(dg.AssetKey("yearly_review")).partitions_def.get_partition_keys() == ["2015"]


def test_the_range_covers_a_month_asked_for_after_old_logs(settings, tmp_path):
    _index(tmp_path, [_epoch(date(2015, 5, 17))])
    found = _range(tmp_path, earliest_month="2015-07")
    assert (found.first_day, found.last_day) == (date(2015, 5, 1), date(2015, 7, 31))


def test_active_logs_run_to_today_and_the_window_is_a_setting(settings, tmp_path):
    _index(tmp_path, [_epoch(date(2026, 9, 2)), _epoch(date(2026, 11, 13))])  # the newest line two days old
    assert _range(tmp_path).last_day == date(2026, 11, 15)
    _index(tmp_path, [_epoch(date(2026, 9, 2)), _epoch(date(2026, 10, 31))])  # fifteen days old
    assert _range(tmp_path).last_day == date(2026, 10, 31)
    assert _range(tmp_path, active_days=15).last_day == date(2026, 11, 15)
    settings.setenv("SLO_ASSETS_ACTIVE_DAYS", "two")
    with pytest.raises(clock.SettingError, match="SLO_ASSETS_ACTIVE_DAYS"):
        LocationSettings.from_environ()
