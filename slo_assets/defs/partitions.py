"""Daily and monthly partitions, UTC, covering the logs found and the running month.

The first day is the first of the earliest month with data: of the rows in the warehouse's file
index, or a month the CLI was asked to run (SLO_ASSETS_EARLIEST_MONTH, set by `slo-assets run`);
with neither, the running month. So the catalogue lists no years of empty days before the logs.
SLO_ASSETS_START_DATE fixes it instead. The last day is today (UTC; SLO_ASSETS_NOW pins the clock),
so the live access.log can be ingested before midnight and a running month runs on any day.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import pyarrow.parquet as pq

from slo_assets.core import clock
from slo_assets.defs.resources import (
    EARLIEST_MONTH_SETTING,
    START_SETTING,
    default_warehouse,
)
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse

# Timestamps before this in a file index are taken for clock errors (an epoch of 0 reads 1970),
# not for logs: such rows stay outside the partitions and are counted there.
EARLIEST_PLAUSIBLE = date(1990, 1, 1)


class PartitionSettingError(clock.SettingError):
    """SLO_ASSETS_START_DATE or SLO_ASSETS_EARLIEST_MONTH cannot be read; the message names it."""


@dataclass(frozen=True)
class PartitionRange:
    first_day: date
    last_day: date  # today, UTC
    configured: bool  # the first day comes from SLO_ASSETS_START_DATE

    def why_not(self, month: str) -> str | None:
        """None when the month has partitions, else one line saying why not and what to set."""
        first_month, last_month = self.first_day.strftime("%Y-%m"), self.last_day.strftime("%Y-%m")
        if month > last_month:
            return f"month {month} has not begun: today is {self.last_day.isoformat()} (UTC)"
        if month < first_month:
            source = f"set by {START_SETTING}={os.environ.get(START_SETTING)}" if self.configured else "(the default)"
            return (f"month {month} is before the first partition {self.first_day.isoformat()} {source}; "
                    f"set {START_SETTING}={month}-01 (or earlier) to run it")
        return None

    def days_of(self, days: list[str]) -> list[str]:
        """The days among `days` (YYYY-MM-DD) that are partitions: never after today."""
        first, last = self.first_day.isoformat(), self.last_day.isoformat()
        return [d for d in days if first <= d <= last]


def _parse_day(setting: str, text: str) -> date:
    if re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise PartitionSettingError(f"{setting}={text!r}: expected YYYY-MM-DD (or YYYY-MM)") from error


def earliest_indexed_day(warehouse: str) -> date | None:
    """The first plausible UTC day holding rows in the warehouse's file index, if there is one."""
    try:
        store = Warehouse(warehouse)
        target = layout.LOG_FILE_INDEX.path(store)
        if not target.exists():
            return None
        with target.open("rb") as handle:
            days = pq.read_table(handle, columns=["days"]).column("days").combine_chunks().flatten()
    except Exception:  # an unreadable or foreign index must not stop the code location from loading
        return None
    floor = (EARLIEST_PLAUSIBLE - date(1970, 1, 1)).days
    plausible = [d for d in days.to_pylist() if d is not None and d >= floor]
    return date(1970, 1, 1) + timedelta(days=min(plausible)) if plausible else None


def resolve_range(warehouse: str | None = None) -> PartitionRange:
    today = clock.today()
    explicit = os.environ.get(START_SETTING, "").strip()
    if explicit:
        return PartitionRange(_parse_day(START_SETTING, explicit), today, configured=True)
    candidates = []
    indexed = earliest_indexed_day(warehouse or default_warehouse())
    if indexed:
        candidates.append(indexed.replace(day=1))
    asked = os.environ.get(EARLIEST_MONTH_SETTING, "").strip()
    if asked:
        candidates.append(_parse_day(EARLIEST_MONTH_SETTING, asked).replace(day=1))
    # The running month closes the list: it is the start without data, and a start after today
    # (logs from a clock ahead) would leave no partition at all.
    return PartitionRange(min([*candidates, today.replace(day=1)]), today, configured=False)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _quarter_start(day: date) -> date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


RANGE = resolve_range()
PARTITION_START = RANGE.first_day.isoformat()

if clock.pinned() is None:
    # end_offset=1 includes the running day (and month), moving with the real clock.
    daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC", end_offset=1)
    monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=PARTITION_START[:7], fmt="%Y-%m", timezone="UTC",
                                                        end_offset=1)
else:
    # A pinned clock ends the partitions on its day (end dates are exclusive); Dagster still bounds
    # them by the real clock too, so only a day in the past can be pinned.
    daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC", end_offset=1,
                                                    end_date=(RANGE.last_day + timedelta(days=1)).isoformat())
    monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=PARTITION_START[:7], fmt="%Y-%m", timezone="UTC",
                                                        end_offset=1, end_date=_next_month(RANGE.last_day).strftime("%Y-%m"))

# Review periods, the running one included: a quarter's key is its first month (2026-10 is 2026 Q4), a year's YYYY.
_last_quarter = _quarter_start(RANGE.last_day)
_pinned_end = {} if clock.pinned() is None else {
    "quarter": (_last_quarter.replace(year=_last_quarter.year + 1, month=1) if _last_quarter.month == 10
                else _last_quarter.replace(month=_last_quarter.month + 3)).strftime("%Y-%m"),
    "year": str(RANGE.last_day.year + 1)}
quarterly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1,4,7,10 *", start=_quarter_start(RANGE.first_day).strftime("%Y-%m"), fmt="%Y-%m", timezone="UTC",
    end_offset=1, end=_pinned_end.get("quarter"))
yearly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", start=str(RANGE.first_day.year), fmt="%Y", timezone="UTC", end_offset=1, end=_pinned_end.get("year"))
