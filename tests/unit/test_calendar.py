"""slo_assets.core.calendar: months, days, epoch milliseconds and ISO instants agree with each other."""

from __future__ import annotations

import calendar as gregorian
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_assets.core import calendar as K

MONTHS = [f"{year:04d}-{month:02d}" for year in range(1990, 2101) for month in range(1, 13)]


def test_every_month_from_1990_to_2100_agrees_with_its_days():
    for month in MONTHS:
        start, end = K.month_range_ms(month)
        days = K.month_days(month)
        year, mon = int(month[:4]), int(month[5:])
        assert len(days) == K.days_in_month(month) == gregorian.monthrange(year, mon)[1], month
        assert start == int(datetime(year, mon, 1, tzinfo=UTC).timestamp() * 1000)
        assert sum(K.DAY_MS for _ in days) == end - start  # the days add up to the month
        assert [K.day_start_ms(d) for d in days] == list(range(start, end, K.DAY_MS))
        assert all(K.day_key(K.day_start_ms(d)) == d and d.startswith(month) for d in days)
        assert K.day_key(end - 1) == days[-1] and K.day_key(end) == K.month_days(K.next_month(month))[0]
        assert K.month_of(start) == K.month_of(end - 1) == month
        assert K.next_month(K.previous_month(month)) == month == K.previous_month(K.next_month(month))
        assert K.month_range_ms(K.next_month(month))[0] == end
    february = {m: len(K.month_days(m)) for m in ("1996-02", "1900-02", "2000-02", "2100-02", "2023-02", "2024-02")}
    assert february == {"1996-02": 29, "1900-02": 28, "2000-02": 29, "2100-02": 28, "2023-02": 28, "2024-02": 29}


@given(st.integers(0, 4_102_444_800_000 - 1))  # 1970 .. 2100
def test_iso_and_epoch_ms_are_inverse_to_the_second(ms):
    text = K.iso(ms)
    assert text.endswith("Z") and len(text) == 20
    assert K.epoch_ms(text) == ms - ms % 1000
    assert K.day_key(ms) == text[:10] and K.day_start_ms(text[:10]) <= ms < K.day_start_ms(text[:10]) + K.DAY_MS
    assert K.epoch_day(text[:10]) == ms // K.DAY_MS


def test_epoch_ms_reads_offsets_and_naive_text_as_utc():
    assert K.epoch_ms("2026-02-01T02:00:00+02:00") == K.epoch_ms("2026-02-01T00:00:00Z") == K.epoch_ms("2026-02-01T00:00:00")
    assert K.iso_datetime(datetime(2026, 2, 1, 3, tzinfo=UTC)) == "2026-02-01T03:00:00Z"
    assert K.MINUTE_MS * 60 * 24 == K.DAY_MS


@pytest.mark.parametrize("month, before, after", [("2026-01", "2025-12", "2026-02"), ("2026-12", "2026-11", "2027-01"),
                                                  ("1990-01", "1989-12", "1990-02")])
def test_previous_and_next_month_cross_the_year(month, before, after):
    assert (K.previous_month(month), K.next_month(month)) == (before, after)


def test_a_month_from_its_partition_window_and_its_neighbours():
    from datetime import UTC, datetime

    from slo_assets.core.calendar import Month, month_days, month_range_ms

    march = Month.of_window(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    assert (march.key, (march.start_ms, march.end_ms)) == ("2024-03", month_range_ms("2024-03"))
    assert march.days() == month_days("2024-03") and str(march) == "2024-03"
    assert [m.key for m in Month.parse("2024-02").months_back(3)] == ["2023-12", "2024-01", "2024-02"]
    with pytest.raises(ValueError, match="is not one UTC calendar month"):
        Month.of_window(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))  # a day's window
