"""Durations as specs, runbooks and the burn-rate windows write them ("30s", "5m", "1h", "28d", "1w"):
the one regex and the one parser. OpenSLO's shorthand, without its calendar units (the calendar
month "1M" is a window kind of its own, handled by the spec)."""

from __future__ import annotations

import re
from datetime import timedelta

# A positive whole number and a unit; a leading zero, a sign, a fraction or a space is no duration.
DURATION_PATTERN = r"([1-9][0-9]*)([smhdw])"
DURATION = re.compile(DURATION_PATTERN)
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Weeks are read, never written: 28d stays 28d, as windows are usually named in days.
RENDER_UNITS = ("d", "h", "m", "s")
EXAMPLES = "like 30s, 5m, 1h, 28d"


class DurationError(ValueError):
    """Text that is not a duration; the message quotes it and shows the form."""


def parse_duration(text: object) -> timedelta:
    """'90s' -> 0:01:30, '1w' -> 7 days. Raises DurationError for anything else."""
    match = DURATION.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise DurationError(f"{text!r} is not a duration {EXAMPLES}")
    try:
        return timedelta(seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2)])
    except OverflowError:
        raise DurationError(f"{text!r} is too long a duration (at most {timedelta.max.days}d)") from None


def render_duration(delta: timedelta) -> str:
    """The shortest text parse_duration reads back as exactly `delta`: 0:01:30 -> '90s', 1 day -> '1d'."""
    if delta <= timedelta(0) or delta % timedelta(seconds=1):
        raise DurationError(f"{delta} is not a positive whole number of seconds")
    whole = delta // timedelta(seconds=1)
    unit = next(u for u in RENDER_UNITS if whole % UNIT_SECONDS[u] == 0)
    return f"{whole // UNIT_SECONDS[unit]}{unit}"


def duration_minutes(text: object) -> int:
    """A duration that must be whole minutes (burn-rate windows, alert lookbacks, time slices)."""
    delta = parse_duration(text)
    if delta % timedelta(minutes=1):
        raise DurationError(f"{text!r} is not a whole number of minutes")
    return delta // timedelta(minutes=1)


def duration_seconds(text: object) -> float:
    """A duration in seconds (runbook timeouts, cooldowns, retry backoff)."""
    return parse_duration(text).total_seconds()


def duration_days(text: object) -> int:
    """A duration written in days ('28d'): rolling SLO windows are whole days, named so."""
    match = DURATION.fullmatch(text) if isinstance(text, str) else None
    if not match or match.group(2) != "d":
        raise DurationError(f"{text!r} is not a number of days like 7d, 28d")
    return parse_duration(text).days
