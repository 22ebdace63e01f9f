"""The period a month's evaluation covers, and which of its days hold data.

A `Period` is a calendar month (epoch milliseconds, UTC) with the end of the data it holds:
`Period.of(month, as_of_ms)` builds it; `data_period` finds the as_of from the days present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from slo_assets.core.calendar import DAY_MS, MINUTE_MS, day_start_ms, month_days, month_range_ms, previous_month


class DayGap(TypedDict):
    """Consecutive days without data: the first, the last and how many."""

    start: str
    end: str
    days: int


class DayCoverage(TypedDict):
    """Which of the expected days hold requests (the compliance document's data quality)."""

    days_expected: int
    days_with_data: int
    days_present: int
    partitions_present: int
    missing_days: list[str]
    gaps: list[DayGap]


def day_gaps(days: list[str]) -> list[DayGap]:
    """Consecutive runs of the given (sorted) days as {start, end, days}: '2026-02-03'..'2026-02-05' is one gap."""
    gaps: list[DayGap] = []
    for day in days:
        if gaps and day_start_ms(day) - day_start_ms(gaps[-1]["end"]) == DAY_MS:
            gaps[-1]["end"], gaps[-1]["days"] = day, gaps[-1]["days"] + 1
        else:
            gaps.append({"start": day, "end": day, "days": 1})
    return gaps


def day_coverage(expected: list[str], rows_per_day: dict[str, int]) -> DayCoverage:
    """Which expected days hold requests: a partition that exists but holds no row is a day without
    data, not a day present (an idle service, a month without logs)."""
    with_data = [d for d in expected if rows_per_day.get(d, 0) > 0]
    without = [d for d in expected if rows_per_day.get(d, 0) == 0]
    return {"days_expected": len(expected), "days_with_data": len(with_data), "days_present": len(with_data),
            "partitions_present": sum(d in rows_per_day for d in expected),
            "missing_days": without, "gaps": day_gaps(without)}


@dataclass(frozen=True)
class Period:
    month: str
    start_ms: int
    end_ms: int
    as_of_ms: int  # data up to here (month end once closed)

    @classmethod
    def of(cls, month: str, as_of_ms: int) -> Period:
        """The calendar month `month` (YYYY-MM) with data up to `as_of_ms`."""
        start_ms, end_ms = month_range_ms(month)
        return cls(month, start_ms, end_ms, as_of_ms)

    @property
    def complete(self) -> bool:
        return self.as_of_ms >= self.end_ms

    def elapsed(self, day: str) -> bool:
        """Whether the day (YYYY-MM-DD) has begun by as_of: the running day counts once it has."""
        return day_start_ms(day) < self.as_of_ms


def lookback_days(month: str) -> list[str]:
    """The days a month's evaluation reads: the previous month (the replay's and rolling windows' lookback) and its own."""
    return month_days(previous_month(month)) + month_days(month)


def data_period(month: str, present_days: Sequence[str], now_ms: int | None = None) -> Period | None:
    """The month as far as its minute aggregates go: through the last day present (the month end once
    all are there), and never past `now_ms`, floored to its minute. The running day's partition ends at
    midnight, but the hours after now have not happened: counted, they were empty minutes judged good
    (Timeslices) or hours of rate 0 judged bad (throughput). None when no day of the month is present."""
    start, end = month_range_ms(month)
    days = [d for d in present_days if d.startswith(month)]
    if not days:
        return None
    as_of = min(end, day_start_ms(max(days)) + DAY_MS)
    if now_ms is not None:
        as_of = max(start, min(as_of, now_ms - now_ms % MINUTE_MS))
    return Period.of(month, as_of)
