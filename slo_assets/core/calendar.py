"""Calendar and time, in one place: UTC months and days, epoch milliseconds, ISO-8601 instants.

Inside the project an instant is epoch milliseconds (UTC); documents show it as ISO-8601 with a 'Z'
to the second; a day is its partition key YYYY-MM-DD, a month YYYY-MM. Pure: no Dagster, no clock.
"""

from __future__ import annotations

import calendar as _gregorian
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MINUTE_MS = 60_000
DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _year_month(month: str) -> tuple[int, int]:
    year, mon = (int(p) for p in month.split("-"))
    return year, mon


def days_in_month(month: str) -> int:
    return _gregorian.monthrange(*_year_month(month))[1]


def month_range_ms(month: str) -> tuple[int, int]:
    """[start, end) of a YYYY-MM month in epoch milliseconds."""
    year, mon = _year_month(month)
    start_ms = (datetime(year, mon, 1, tzinfo=UTC) - _EPOCH) // _MS
    return start_ms, start_ms + days_in_month(month) * DAY_MS


def month_of(ms: int) -> str:
    """YYYY-MM of the UTC month holding epoch milliseconds `ms`."""
    return day_key(ms)[:7]


def day_key(ms: int) -> str:
    """YYYY-MM-DD of the UTC day holding epoch milliseconds `ms` (a daily partition key)."""
    return (_EPOCH + _MS * int(ms)).date().isoformat()


def day_start_ms(day: str) -> int:
    """Epoch milliseconds of the start of UTC day `YYYY-MM-DD` (the inverse of day_key)."""
    return (datetime.fromisoformat(day).replace(tzinfo=UTC) - _EPOCH) // _MS


def epoch_day(day: str) -> int:
    """Days since 1970-01-01 of a YYYY-MM-DD key."""
    return day_start_ms(day) // DAY_MS


def month_days(month: str) -> list[str]:
    """The daily partition keys of a YYYY-MM month."""
    start, end = month_range_ms(month)
    return [day_key(ms) for ms in range(start, end, DAY_MS)]


def previous_month(month: str) -> str:
    year, mon = _year_month(month)
    return f"{year - 1:04d}-12" if mon == 1 else f"{year:04d}-{mon - 1:02d}"


def next_month(month: str) -> str:
    year, mon = _year_month(month)
    return f"{year + 1:04d}-01" if mon == 12 else f"{year:04d}-{mon + 1:02d}"


def period_months(key: str) -> list[str]:
    """The months of a review period: a quarter's partition key is its first month (YYYY-01, -04, -07
    or -10), a year's is YYYY."""
    if len(key) == 4:
        return [f"{key}-{m:02d}" for m in range(1, 13)]
    year, mon = _year_month(key)
    if mon % 3 != 1:
        raise ValueError(f"{key}: a quarter starts in January, April, July or October")
    return [f"{year:04d}-{m:02d}" for m in range(mon, mon + 3)]


def period_label(key: str) -> str:
    """'2026' for a year, '2026 Q4' for the quarter whose key is 2026-10."""
    if len(key) == 4:
        return key
    year, mon = _year_month(key)
    return f"{year:04d} Q{(mon - 1) // 3 + 1}"


def iso(ms: int) -> str:
    """ISO-8601 UTC to the second ('2026-02-01T00:00:00Z'); sub-second parts are dropped (floor)."""
    return (_EPOCH + _MS * (int(ms) - int(ms) % 1000)).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def epoch_ms(text: str) -> int:
    """The inverse of iso(): epoch milliseconds of an ISO-8601 instant ('Z' or an offset; naive = UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MS


def iso_datetime(moment: datetime) -> str:
    """A timezone-aware datetime as ISO-8601 with 'Z' for UTC (sub-seconds kept when it has them)."""
    return moment.isoformat().replace("+00:00", "Z")


def now_iso() -> str:
    """The current instant as ISO-8601 to the second (a document's generated_at)."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Month:
    """A UTC calendar month: its key (YYYY-MM, the monthly partition key) and [start, end) in epoch
    milliseconds. Built once per asset run, from the partition's time window (`of_window`) or a key."""

    key: str
    start_ms: int
    end_ms: int

    @classmethod
    def parse(cls, key: str) -> Month:
        return cls(key, *month_range_ms(key))

    @classmethod
    def of_window(cls, start: datetime, end: datetime) -> Month:
        """The month whose [start, end) a monthly partition's time window is; anything else is a ValueError."""
        month = cls.parse(start.astimezone(UTC).strftime("%Y-%m"))
        if ((start - _EPOCH) // _MS, (end - _EPOCH) // _MS) != (month.start_ms, month.end_ms):
            raise ValueError(f"[{start.isoformat()}, {end.isoformat()}) is not one UTC calendar month")
        return month

    @property
    def previous(self) -> Month:
        return Month.parse(previous_month(self.key))

    def days(self) -> list[str]:
        """Its daily partition keys."""
        return [day_key(ms) for ms in range(self.start_ms, self.end_ms, DAY_MS)]

    def months_back(self, count: int) -> list[Month]:
        """The `count` months ending with this one, oldest first."""
        months = [self]
        while len(months) < count:
            months.insert(0, months[0].previous)
        return months

    def __str__(self) -> str:
        return self.key
