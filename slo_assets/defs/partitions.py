"""Daily, monthly, quarterly and yearly partitions, UTC: their calendars, declared at import, and
their range, resolved when the code location loads.

The assets are declared with the calendars below (DAILY, MONTHLY, ...), which read nothing. When
the definitions load, `build_partitions(resolve_range(settings))` makes the definitions of this
load and `with_partitions` puts them on every asset and check, so the range follows the data
without any read at import.

The range follows the data, in whole months: it starts on the first of the earliest month with
data (of the rows in the warehouse's file index, or a month the CLI was asked to run: its --month)
and ends on the last day of the latest such month, or on today (UTC; SLO_ASSETS_NOW pins the clock)
while the logs are active: their newest line is at most SLO_ASSETS_ACTIVE_DAYS days old (default 2),
so the live access.log is ingested before midnight and a running month runs on any day. Without
data, it is the running month. So an old sample shows its own months, not every day since.

Why the newest line and not the newest file's mtime: a copy, an rsync or a git clone gives a 2015
log a file changed today. Why whole months: a closed month is judged over all its days, and the
days after the last line are days without data (unmeasured where traffic was expected), not days
outside the month. SLO_ASSETS_START_DATE fixes the start instead, and then the range always runs to
today: a deployment's schedules and daemon keep a code location loaded for weeks, and its range is
resolved when it loads, so logs that pause for a few days must not end its partitions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
import pyarrow.parquet as pq

from slo_assets.core import clock
from slo_assets.defs.settings import ACTIVE_DAYS_SETTING, EARLIEST_MONTH_SETTING, START_SETTING, LocationSettings
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
    last_day: date  # today (UTC) while the logs are active, else the last day of the latest month with data
    configured: str = ""  # SLO_ASSETS_START_DATE as set, when the first day comes from it
    newest_line: date | None = None  # the newest plausible day in the file index, when it holds one
    active_days: int = 2

    @property
    def active(self) -> bool:
        """Whether the range runs to today, moving with the clock."""
        return self.last_day >= clock.today()

    def why_not(self, month: str) -> str | None:
        """None when the month has partitions, else one line saying why not and what to set."""
        first_month, last_month = self.first_day.strftime("%Y-%m"), self.last_day.strftime("%Y-%m")
        today = clock.today()
        if month > today.strftime("%Y-%m"):
            return f"month {month} has not begun: today is {today.isoformat()} (UTC)"
        if month > last_month:
            return (f"month {month} is after the logs: their newest line is of {self.newest_line}, more than "
                    f"{self.active_days} day(s) ago ({ACTIVE_DAYS_SETTING}), so the partitions end on {self.last_day}")
        if month < first_month:
            source = f"set by {START_SETTING}={self.configured}" if self.configured else "(the default)"
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


def indexed_span(warehouse: str) -> tuple[date, date] | None:
    """The first and last plausible UTC days holding rows in the warehouse's file index (never after
    today: a day ahead is a clock error too), if it holds any."""
    try:
        store = Warehouse(warehouse)
        target = layout.LOG_FILE_INDEX.path(store)
        if not target.exists():
            return None
        with target.open("rb") as handle:
            days = pq.read_table(handle, columns=["days"]).column("days").combine_chunks().flatten()
    except Exception:  # an unreadable or foreign index must not stop the code location from loading
        return None
    origin = date(1970, 1, 1)
    floor, ceiling = (EARLIEST_PLAUSIBLE - origin).days, (clock.today() - origin).days
    plausible = [d for d in days.to_pylist() if d is not None and floor <= d <= ceiling]
    return (origin + timedelta(days=min(plausible)), origin + timedelta(days=max(plausible))) if plausible else None


def earliest_indexed_day(warehouse: str) -> date | None:
    """The first plausible UTC day holding rows in the warehouse's file index, if there is one."""
    span = indexed_span(warehouse)
    return span[0] if span else None


def _month_end(day: date) -> date:
    return _next_month(day) - timedelta(days=1)


def resolve_range(settings: LocationSettings) -> PartitionRange:
    """The range of this load: from SLO_ASSETS_START_DATE if set, else the earliest month of the file index
    and of the month asked for, else the running month; through today while the logs are active (or have
    none), else through the end of the latest month of the index and of the month asked for."""
    today = clock.today()
    span = indexed_span(settings.warehouse)
    asked = _parse_day(EARLIEST_MONTH_SETTING, settings.earliest_month).replace(day=1) if settings.earliest_month else None
    months = [day.replace(day=1) for day in ([span[0], span[1]] if span else []) + ([asked] if asked else []) if day <= today]
    active = span is None or (today - span[1]).days <= settings.active_days
    last = today if active or not months else min(today, _month_end(max(months)))
    newest = span[1] if span else None
    if settings.start_date:  # a deployment: its schedules and daemon need today's partitions whatever the logs hold
        return PartitionRange(_parse_day(START_SETTING, settings.start_date), today, configured=settings.start_date,
                              newest_line=newest, active_days=settings.active_days)
    # The running month closes the list when active: it is the start without data.
    first = min([*months, today.replace(day=1)] if active else months)
    return PartitionRange(first, last, newest_line=newest, active_days=settings.active_days)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _quarter_start(day: date) -> date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


QUARTER_CRON, YEAR_CRON = "0 0 1 1,4,7,10 *", "0 0 1 1 *"
# The calendars the assets are declared with. Their start is only the calendar's origin: the loaded
# definitions replace them with the range of the load (with_partitions), before anything lists a key.
CALENDAR_ORIGIN = date(1970, 1, 1)
DAILY = dg.DailyPartitionsDefinition(start_date=CALENDAR_ORIGIN.isoformat(), timezone="UTC", end_offset=1)
MONTHLY = dg.MonthlyPartitionsDefinition(start_date=CALENDAR_ORIGIN.strftime("%Y-%m"), fmt="%Y-%m", timezone="UTC", end_offset=1)
# Review periods: a quarter's key is its first month (2026-10 is 2026 Q4), a year's YYYY.
QUARTERLY = dg.TimeWindowPartitionsDefinition(cron_schedule=QUARTER_CRON, start=CALENDAR_ORIGIN.strftime("%Y-%m"), fmt="%Y-%m",
                                              timezone="UTC", end_offset=1)
YEARLY = dg.TimeWindowPartitionsDefinition(cron_schedule=YEAR_CRON, start=str(CALENDAR_ORIGIN.year), fmt="%Y", timezone="UTC",
                                           end_offset=1)


@dataclass(frozen=True)
class Partitions:
    """The partitions definitions of one load of the code location, and the range they cover."""

    range: PartitionRange
    daily: dg.TimeWindowPartitionsDefinition
    monthly: dg.TimeWindowPartitionsDefinition
    quarterly: dg.TimeWindowPartitionsDefinition
    yearly: dg.TimeWindowPartitionsDefinition

    def for_calendar(self, declared: dg.PartitionsDefinition | None) -> dg.PartitionsDefinition | None:
        """The definition of this load for an asset declared with one of the calendars; others as they are."""
        loaded = ((DAILY, self.daily), (MONTHLY, self.monthly), (QUARTERLY, self.quarterly), (YEARLY, self.yearly))
        return next((mine for calendar, mine in loaded if declared == calendar), declared)


def build_partitions(found: PartitionRange) -> Partitions:
    """The range's definitions, the running day, month, quarter and year included."""
    start = found.first_day.isoformat()
    last_quarter = _quarter_start(found.last_day)
    if clock.pinned() is None and found.active:
        # end_offset=1 includes the running day (and month), moving with the real clock.
        ends: dict[str, str | None] = {"day": None, "month": None, "quarter": None, "year": None}
    else:
        # Logs no longer active, or a pinned clock, end the partitions on the range's last day (end dates
        # are exclusive); Dagster still bounds them by the real clock too, so only a day in the past can be pinned.
        ends = {"day": (found.last_day + timedelta(days=1)).isoformat(), "month": _next_month(found.last_day).strftime("%Y-%m"),
                "quarter": (last_quarter.replace(year=last_quarter.year + 1, month=1) if last_quarter.month == 10
                            else last_quarter.replace(month=last_quarter.month + 3)).strftime("%Y-%m"),
                "year": str(found.last_day.year + 1)}
    return Partitions(
        range=found,
        daily=dg.DailyPartitionsDefinition(start_date=start, timezone="UTC", end_offset=1, end_date=ends["day"]),
        monthly=dg.MonthlyPartitionsDefinition(start_date=start[:7], fmt="%Y-%m", timezone="UTC", end_offset=1, end_date=ends["month"]),
        quarterly=dg.TimeWindowPartitionsDefinition(cron_schedule=QUARTER_CRON, start=_quarter_start(found.first_day).strftime("%Y-%m"),
                                                    fmt="%Y-%m", timezone="UTC", end_offset=1, end=ends["quarter"]),
        yearly=dg.TimeWindowPartitionsDefinition(cron_schedule=YEAR_CRON, start=str(found.first_day.year), fmt="%Y", timezone="UTC",
                                                 end_offset=1, end=ends["year"]),
    )


def with_partitions(assets: Sequence, partitions: Partitions) -> list:
    """The assets with each spec's calendar replaced by this load's definition of it (keys never change).
    A source asset (slo_specs, log_file_index) keeps its own: a partitioned one is built per load."""

    def load(spec):
        if not isinstance(spec, dg.AssetSpec):
            if partitions.for_calendar(spec.partitions_def) is not spec.partitions_def:
                raise TypeError(f"{spec.key.to_user_string()}: a source asset on a calendar is built per load, with its partitions")
            return spec
        return spec.replace_attributes(partitions_def=partitions.for_calendar(spec.partitions_def))

    return list(dg.map_asset_specs(load, assets))
