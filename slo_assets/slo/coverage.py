"""How much of an SLO window was measured: unmeasured minutes and quarantined lines.

Unmeasured minutes. A minute without any request the SLO selects is unmeasured when traffic was
expected then, judged from the SLO's own history:

- the expected rate of a minute is the mean request count of the same hour of the week in the
  previous 4 weeks, over the weeks whose hour had traffic (a week with its own gap there does not
  lower the expectation), divided by 60; a minute whose 4 previous weeks had no traffic in that
  hour has no expectation (counted as `minutes_without_history`, never as unmeasured);
- consecutive empty minutes with an expectation form a run; the run is unmeasured, every minute
  of it, when the requests expected over it add up to at least `min_missing_events` (default 10:
  a Poisson count with mean 10 is zero with probability e^-10 ≈ 0.005 %, so quiet is not mistaken
  for a gap). A busy service loses its first minute of logs to this rule; a service with one
  request an hour needs a gap of ten hours;
- maintenance minutes are never unmeasured.

Quarantined lines: the lines of the window's days that were rejected, as a share of all lines read
on those days (rows + quarantined). A quarantined line has no trustworthy service or timestamp, so
the share is the whole log's, the same for every SLO.

Floor: the measured share of the window's minutes (1 - unmeasured / window minutes) below `floor`
makes the status carry a note ("met, 6.2 % of minutes unmeasured").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slo_assets.slo.values import BoolArray, FloatArray, IntArray, JsonObject

HISTORY_WEEKS = 4
WEEK_HOURS = 7 * 24
DEFAULT_FLOOR = 0.95
DEFAULT_MIN_MISSING_EVENTS = 10.0


@dataclass(frozen=True)
class Coverage:
    window_minutes: int
    minutes_with_data: int
    minutes_without_history: int  # no traffic in that hour of the week in any of the 4 weeks before
    unmeasured_minutes: int
    unmeasured_ratio: float  # of window_minutes
    gaps: int  # runs of unmeasured minutes
    lines: int | None  # lines read on the window's days (None: not known to the evaluation)
    quarantined_lines: int | None
    quarantine_ratio: float | None
    floor: float
    below_floor: bool

    @property
    def measured_ratio(self) -> float:
        return 1 - self.unmeasured_ratio

    def to_json(self) -> JsonObject:
        return {"window_minutes": self.window_minutes, "minutes_with_data": self.minutes_with_data,
                "minutes_without_history": self.minutes_without_history, "unmeasured_minutes": self.unmeasured_minutes,
                "unmeasured_ratio": self.unmeasured_ratio, "gaps": self.gaps, "lines": self.lines,
                "quarantined_lines": self.quarantined_lines, "quarantine_ratio": self.quarantine_ratio,
                "floor": self.floor, "below_floor": self.below_floor}

    @classmethod
    def from_json(cls, data: JsonObject | None) -> Coverage | None:
        return None if data is None else cls(**{name: data[name] for name in cls.__dataclass_fields__})


def expected_per_minute(totals: IntArray, offset: int) -> FloatArray:
    """Expected requests per minute of the window (minutes `offset`.. of `totals`), NaN without
    history. `totals` starts on a whole hour."""
    padded = np.concatenate([totals, np.zeros(-len(totals) % 60, dtype=totals.dtype)])
    hourly = padded.reshape(-1, 60).sum(axis=1).astype(float)
    hours = np.arange(len(hourly))
    past = np.stack([np.where(hours >= WEEK_HOURS * k, hourly[np.maximum(hours - WEEK_HOURS * k, 0)], 0.0)
                     for k in range(1, HISTORY_WEEKS + 1)])
    with_traffic = past > 0
    weeks = with_traffic.sum(axis=0)
    mean = np.divide(np.where(with_traffic, past, 0).sum(axis=0), weeks, out=np.full(len(hours), np.nan), where=weeks > 0)
    expected: FloatArray = mean[(offset + np.arange(len(totals) - offset)) // 60] / 60
    return expected


def unmeasured_mask(totals: IntArray, offset: int, excluded: BoolArray | None = None,
                    min_missing_events: float = DEFAULT_MIN_MISSING_EVENTS) -> tuple[BoolArray, BoolArray]:
    """(unmeasured, without_history) per window minute: see the module's rules."""
    window = totals[offset:]
    expected = expected_per_minute(totals, offset)
    excluded = np.zeros(len(window), dtype=bool) if excluded is None else excluded
    without_history = np.isnan(expected) & ~excluded
    candidate = (window == 0) & ~excluded & ~np.isnan(expected) & (np.nan_to_num(expected) > 0)
    unmeasured = np.zeros(len(window), dtype=bool)
    if candidate.any():
        edges = np.diff(np.concatenate([[0], candidate.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        cumulative = np.concatenate([[0.0], np.cumsum(np.where(candidate, np.nan_to_num(expected), 0.0))])
        for start, end in zip(starts, ends, strict=True):
            if cumulative[end] - cumulative[start] >= min_missing_events:
                unmeasured[start:end] = True
    return unmeasured, without_history


def window_coverage(totals: IntArray, offset: int, excluded: BoolArray | None = None,
                    lines: tuple[int, int] | None = None, floor: float = DEFAULT_FLOOR,
                    min_missing_events: float = DEFAULT_MIN_MISSING_EVENTS) -> Coverage:
    """Coverage of the window `totals[offset:]` (requests per minute; the 4 weeks before it in
    `totals[:offset]`, as far as known); `lines` = (rows, quarantined lines) of the window's days."""
    unmeasured, without_history = unmeasured_mask(totals, offset, excluded, min_missing_events)
    size = len(totals) - offset
    count = int(unmeasured.sum())
    ratio = round(count / size, 9) if size else 0.0
    read = quarantined = quarantine_ratio = None
    if lines is not None:
        rows, quarantined = lines
        read = rows + quarantined
        quarantine_ratio = None if not read else round(quarantined / read, 9)
    gaps = int(np.count_nonzero(np.diff(np.concatenate([[0], unmeasured.astype(np.int8)])) == 1))
    return Coverage(size, int((totals[offset:] > 0).sum()), int(without_history.sum()), count, ratio, gaps,
                    read, quarantined, quarantine_ratio, floor, (1 - ratio) < floor)


def status_note(status: str, coverage: Coverage | None) -> str | None:
    """'met, 6.2 % of minutes unmeasured' when the window's measured share is under the floor."""
    if coverage is None or not coverage.below_floor:
        return None
    return f"{status.replace('_', ' ')}, {coverage.unmeasured_ratio * 100:.1f} % of minutes unmeasured"
