"""The partition range: it starts at the first month with data (the logs indexed, a month asked for),
else the running month, ends on the running day, and says why a month is outside it; the clock can be pinned."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl
import pytest

from slo_assets.core import clock
from slo_assets.defs import partitions as P
from slo_assets.warehouse import layout


@pytest.fixture
def settings(monkeypatch):
    for name in (P.START_SETTING, P.EARLIEST_MONTH_SETTING, clock.NOW_SETTING):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(clock.NOW_SETTING, "2026-11-15T08:00:00Z")
    return monkeypatch


def _index(path, epoch_days: list[int]) -> None:
    pl.DataFrame({"days": [epoch_days]}, schema={"days": pl.List(pl.Int32)}).write_parquet(path / layout.LOG_FILE_INDEX.relative())


def test_without_data_the_range_is_the_running_month(settings, tmp_path):
    found = P.resolve_range(str(tmp_path))
    assert (found.first_day, found.last_day, found.configured) == (date(2026, 11, 1), date(2026, 11, 15), False)
    assert found.days_of(["2026-11-14", "2026-11-15", "2026-11-16"]) == ["2026-11-14", "2026-11-15"]
    assert found.why_not("2026-11") is None and "has not begun" in found.why_not("2026-12")


def test_range_covers_the_indexed_logs_but_not_clock_errors(settings, tmp_path):
    may_17_2015, jan_2_1971 = (date(2015, 5, 17) - date(1970, 1, 1)).days, 366
    _index(tmp_path, [jan_2_1971, may_17_2015, 20_000])
    assert P.resolve_range(str(tmp_path)).first_day == date(2015, 5, 1)  # 1971 is a clock error, not a log


def test_range_starts_at_the_first_month_with_data_not_years_before(settings, tmp_path):
    _index(tmp_path, [(date(2026, 9, 17) - date(1970, 1, 1)).days])
    found = P.resolve_range(str(tmp_path))
    assert found.first_day == date(2026, 9, 1)
    days = dg.DailyPartitionsDefinition(start_date=found.first_day.isoformat(), end_date="2026-11-16", timezone="UTC")
    assert days.get_num_partitions() == 30 + 31 + 15  # September to the 15th of November, not 2,527 days since 2020
    settings.setenv(P.EARLIEST_MONTH_SETTING, "2026-10")
    assert P.resolve_range(str(tmp_path)).first_day == date(2026, 9, 1)  # the earlier of the index and the month asked


def test_logs_dated_after_today_do_not_empty_the_range(settings, tmp_path):
    _index(tmp_path, [(date(2030, 1, 5) - date(1970, 1, 1)).days])
    assert P.resolve_range(str(tmp_path)).first_day == date(2026, 11, 1)


def test_range_covers_the_month_asked_for(settings, tmp_path):
    settings.setenv(P.EARLIEST_MONTH_SETTING, "2012-03")
    assert P.resolve_range(str(tmp_path)).first_day == date(2012, 3, 1)


def test_a_configured_start_is_kept_and_named(settings, tmp_path):
    settings.setenv(P.START_SETTING, "2021-06-01")
    settings.setenv(P.EARLIEST_MONTH_SETTING, "2015-05")
    found = P.resolve_range(str(tmp_path))
    assert found.first_day == date(2021, 6, 1) and found.configured
    reason = found.why_not("2015-05")
    assert "SLO_ASSETS_START_DATE=2021-06-01" in reason and "SLO_ASSETS_START_DATE=2015-05-01" in reason


def test_bad_settings_name_themselves(settings, tmp_path):
    settings.setenv(P.START_SETTING, "May 2015")
    with pytest.raises(P.PartitionSettingError, match="SLO_ASSETS_START_DATE"):
        P.resolve_range(str(tmp_path))
    settings.setenv(clock.NOW_SETTING, "yesterday")
    with pytest.raises(clock.ClockError, match="SLO_ASSETS_NOW"):
        clock.now()


def test_an_unreadable_index_does_not_stop_the_code_location(settings, tmp_path):
    (tmp_path / layout.LOG_FILE_INDEX.relative()).write_bytes(b"not parquet")
    assert P.resolve_range(str(tmp_path)).first_day == date(2026, 11, 1)
