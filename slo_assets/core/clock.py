"""The current time, in one place so it can be pinned: SLO_ASSETS_NOW (an ISO-8601 instant) fixes
"now" for tests and for replaying a month as it looked on a given day. Unset, it is the real UTC time."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

NOW_SETTING = "SLO_ASSETS_NOW"


class SettingError(ValueError):
    """An environment setting of the calendar (SLO_ASSETS_NOW, SLO_ASSETS_START_DATE, ...) cannot be
    used; the message names it."""


class ClockError(SettingError):
    """SLO_ASSETS_NOW is set but is not an ISO-8601 instant in the past."""


def pinned() -> datetime | None:
    """The instant SLO_ASSETS_NOW pins, or None when the clock is real."""
    text = os.environ.get(NOW_SETTING, "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ClockError(f"{NOW_SETTING}={text!r} is not an ISO-8601 instant (e.g. 2026-12-15T12:00:00Z)") from error
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment > datetime.now(UTC):  # Dagster bounds partitions by the real clock: a future day would be ignored
        raise ClockError(f"{NOW_SETTING}={text!r} is in the future; it pins a day that has passed")
    return moment


def now() -> datetime:
    return pinned() or datetime.now(UTC)


def now_ms() -> int:
    """Now in epoch milliseconds, as the minute series counts time."""
    return int(now().timestamp() * 1000)


def today() -> date:
    """Today's UTC date."""
    return now().date()
