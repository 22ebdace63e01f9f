"""Budget adjustments: known, accepted unreliability (a maintenance window, a migration, a provider's
outage) whose minutes are excluded from an SLO's budget or counted as good (OpenSLO v2alpha's
BudgetAdjustment kind, with an RFC 5545 recurrence).

An adjustment's first event starts at `start_ms`; an RRULE (python-dateutil) repeats it, in UTC; every
event lasts `duration_ms`. The SLIs are per minute, so a minute an event touches is adjusted whole.
Where an Exclude event and a CountAsGood event share a minute, Exclude wins: an excluded minute has no
event left to count. Pure: numpy and dateutil, no Dagster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from dateutil.rrule import rrule, rrulestr

from slo_assets.core.calendar import MINUTE_MS, iso
from slo_assets.core.durations import render_duration
from slo_assets.core.safe_yaml import shown

EXCLUDE = "Exclude"  # the minutes count neither as good nor as total
COUNT_AS_GOOD = "CountAsGood"  # every event of the minutes counts as good
EFFECTS = (EXCLUDE, COUNT_AS_GOOD)
RRULE_EXAMPLE = "FREQ=WEEKLY;BYDAY=SU"


@dataclass(frozen=True)
class BudgetAdjustment:
    name: str
    effect: str  # EXCLUDE or COUNT_AS_GOOD
    start_ms: int  # the first event's start
    duration_ms: int
    rrule: str | None = None  # the RRULE value (FREQ=...); None: the one event
    description: str = ""
    source: str = ""  # where it is declared: file:document, an annotation, a setting

    def events(self, begin_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """[start, end) of every event that overlaps [begin, end), in order."""
        if self.rrule is None:
            starts = [self.start_ms]
        else:
            starts = _starts(self.rrule, self.start_ms, begin_ms - self.duration_ms, end_ms)
        return [(s, s + self.duration_ms) for s in starts if s < end_ms and s + self.duration_ms > begin_ms]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "effect": self.effect, "start": iso(self.start_ms),
                "duration": render_duration(timedelta(milliseconds=self.duration_ms)), "rrule": self.rrule,
                "description": self.description, "source": self.source}


def parse_rrule(text: str, start: datetime) -> rrule:
    """The RRULE value `text` (an optional 'RRULE:' prefix allowed) with `start` as its first event.
    Raises ValueError naming what is wrong: the message is the spec's."""
    value = text.strip()
    value = value[len("RRULE:"):] if value.upper().startswith("RRULE:") else value
    if not value or "\n" in value or ":" in value:
        raise ValueError(f"{shown(text)}: one RRULE value like {RRULE_EXAMPLE} (the first event is startTime; no DTSTART, EXDATE or RDATE)")
    if "FREQ=" not in value.upper():
        raise ValueError(f"{shown(text)} has no FREQ: an RRULE value looks like {RRULE_EXAMPLE}")
    interval = next((part.split("=", 1)[1] for part in value.upper().split(";") if part.startswith("INTERVAL=")), "1")
    if not interval.isdigit() or int(interval) < 1:  # INTERVAL=0 never advances: every search for an event hangs
        raise ValueError(f"{shown(text)}: INTERVAL must be a whole number of at least 1, not {shown(interval)}")
    try:
        rule = rrulestr(value, dtstart=start)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{shown(text)} is not an RFC 5545 RRULE like {RRULE_EXAMPLE}: {exc}") from None
    if "FREQ=SECONDLY" in value.upper():
        raise ValueError(f"{shown(text)}: FREQ=SECONDLY repeats within a minute; the SLIs are per minute")
    first = rule.after(start, inc=True)
    if first != start:
        found = "no event" if first is None else f"its first event at {first.isoformat()}"
        raise ValueError(f"{shown(text)} does not repeat startTime {start.isoformat()} ({found}): "
                         "startTime must be the first event (e.g. on a BYDAY day)")
    return rule


def instant(text: str) -> datetime:
    """An ISO-8601 instant (UTC when it has no offset), as startTime and the maintenance windows give it."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@lru_cache(maxsize=256)
def _rule(text: str, start_ms: int) -> rrule:
    return parse_rrule(text, datetime.fromtimestamp(start_ms / 1000, UTC))


def _starts(text: str, start_ms: int, after_ms: int, before_ms: int) -> list[int]:
    """Event starts s of the rule with after < s < before (epoch ms)."""
    low = datetime.fromtimestamp(max(after_ms, start_ms - 1) / 1000, UTC)
    high = datetime.fromtimestamp(before_ms / 1000, UTC)
    if high <= low:
        return []
    return [round(d.timestamp() * 1000) for d in _rule(text, start_ms).between(low, high)]


def event_mask(events: list[tuple[int, int]], start_ms: int, size: int) -> np.ndarray:
    """The `size` minutes from `start_ms` that one of the events touches."""
    mask = np.zeros(size, dtype=bool)
    for begin, end in events:
        lo = max(0, (begin - start_ms) // MINUTE_MS)
        hi = min(size, -(-(end - start_ms) // MINUTE_MS))
        if hi > lo:
            mask[lo:hi] = True
    return mask


@dataclass(frozen=True)
class MinuteEffects:
    """What the adjustments do to each minute of a series."""

    excluded: np.ndarray  # bool: the minute's events count neither as good nor as total
    counted_good: np.ndarray  # bool: the minute's events all count as good (never where excluded)

    def good(self, good: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Good events once CountAsGood minutes hold only good ones (exclusion is the budget units' part)."""
        return np.where(self.counted_good, total, good) if self.counted_good.any() else good


def minute_effects(adjustments: Iterable[BudgetAdjustment], start_ms: int, size: int) -> MinuteEffects:
    """The adjustments' effects on the `size` minutes from `start_ms`."""
    excluded = np.zeros(size, dtype=bool)
    counted = np.zeros(size, dtype=bool)
    end_ms = start_ms + size * MINUTE_MS
    for adjustment in adjustments:
        mask = event_mask(adjustment.events(start_ms, end_ms), start_ms, size)
        if adjustment.effect == EXCLUDE:
            excluded |= mask
        else:
            counted |= mask
    return MinuteEffects(excluded, counted & ~excluded)


def adjusted(good: np.ndarray, total: np.ndarray, adjustments: Iterable[BudgetAdjustment],
             start_ms: int) -> tuple[np.ndarray, np.ndarray, MinuteEffects]:
    """good and total events per minute from `start_ms` with the adjustments applied (excluded
    minutes hold none), and the effects."""
    effects = minute_effects(adjustments, start_ms, len(total))
    good = effects.good(good, total)
    return np.where(effects.excluded, 0, good), np.where(effects.excluded, 0, total), effects
