"""How much of an SLO window was measured: unmeasured minutes and quarantined lines.

Unmeasured minutes. A minute without any request the SLO selects is unmeasured when traffic was
expected then, judged from the SLO's own history. The history is known from the SLO's first
request in the series on (the window and the 4 weeks before it, as far as the warehouse holds
them): an hour before it is unknown, an hour after it without a request is a known quiet hour,
unless traffic was expected in it (a gap is not evidence of quiet: it is unknown too).

- Tier 1, the same hour of the week in the previous 4 weeks: when at least one of those weeks is
  known, the expected rate is the mean request count of the known weeks whose hour had traffic (a
  week with its own gap there does not lower the expectation), divided by 60; when every known week
  was quiet in that hour, the expectation is 0 (quiet, never unmeasured);
- Tier 2, when none of the 4 weeks is known (the first week after the first request): the same
  hour of the day over the previous 28 days, the known ones only, likewise (mean over the days whose
  hour had traffic; 0 when every known day was quiet then);
- a minute with neither (before the SLO's first request, or on its first day) has no expectation:
  it is counted in `minutes_without_history`, never as unmeasured. So a month whose logs hold one
  day has that day and the days before it without history, and every hour that had traffic that day
  is unmeasured on each day after it;
- an hour's expectation is spread over its minutes by the series' minute-of-hour profile (the share
  of requests each minute of the hour holds, smoothed by one request per minute): even for traffic
  spread over the hour, nothing expected in minutes a sampled log never fills;
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
makes the window `below_floor`. Its status then says so itself (`judged_status`): a window whose
measured SLI meets the target is `insufficient_coverage`, never met (nor at risk, which counts as
compliant): the target is over the window's minutes and a quarter of them may hold what the logs
lost. A failed window stays failed, since the bad events it did see are real; every status under
the floor carries a note ("insufficient coverage, 6.2 % of minutes unmeasured").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slo_assets.slo.evaluation_parts import Status
from slo_assets.slo.values import BoolArray, FloatArray, IntArray, JsonObject

HISTORY_WEEKS = 4
HISTORY_DAYS = 28  # tier 2: the same hour of the day over these days, when no earlier week is known
WEEK_HOURS = 7 * 24
PROFILE_PRIOR = 1.0  # requests added to each minute of the hour before the profile is taken (minute_profile)
DEFAULT_FLOOR = 0.95
DEFAULT_MIN_MISSING_EVENTS = 10.0


@dataclass(frozen=True)
class Coverage:
    window_minutes: int
    minutes_with_data: int
    minutes_without_history: int  # no known week nor day before it: before the SLO's first request, or its first day
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


def _tier(hourly: FloatArray, known: BoolArray, hours: IntArray, step: int, count: int) -> FloatArray:
    """For each of `hours`, the mean of the `count` hours `step` apart before it that are known and had
    traffic; 0 when the known ones were all quiet; NaN when none is known."""
    sources = hours[None, :] - step * np.arange(1, count + 1)[:, None]
    clipped = np.maximum(sources, 0)
    valid = (sources >= 0) & known[clipped]
    past = np.where(valid, hourly[clipped], 0.0)
    with_traffic = past > 0
    mean = np.divide(past.sum(axis=0), with_traffic.sum(axis=0), out=np.zeros(len(hours)), where=with_traffic.any(axis=0))
    result: FloatArray = np.where(valid.any(axis=0), mean, np.nan)
    return result


def expected_per_hour(hourly: FloatArray) -> FloatArray:
    """Expected requests of each hour of the series (tiers 1 and 2 of the module's rules), NaN without history.

    An hour is known from the series' first request on, unless it was a gap itself (empty where
    traffic was expected): a lost day must not read as a quiet one the week after. Hours are judged a
    day at a time, so each one only reads hours judged before it."""
    expected = np.full(len(hourly), np.nan)
    known = np.zeros(len(hourly), dtype=bool)
    seen = np.flatnonzero(hourly > 0)
    for block in range(int(seen[0]) if len(seen) else len(hourly), len(hourly), 24):
        hours = np.arange(block, min(block + 24, len(hourly)))
        weekly = _tier(hourly, known, hours, WEEK_HOURS, HISTORY_WEEKS)
        tier = np.where(np.isnan(weekly), _tier(hourly, known, hours, 24, HISTORY_DAYS), weekly)
        expected[hours] = tier
        known[hours] = (hourly[hours] > 0) | ~(np.nan_to_num(tier) > 0)
    return expected


def expected_per_minute(totals: IntArray, offset: int) -> FloatArray:
    """Expected requests per minute of the window (minutes `offset`.. of `totals`), NaN without
    history. `totals` starts on a whole hour."""
    padded = np.concatenate([totals, np.zeros(-len(totals) % 60, dtype=totals.dtype)])
    by_hour = padded.reshape(-1, 60)
    mean = expected_per_hour(by_hour.sum(axis=1).astype(float))
    minutes = offset + np.arange(len(totals) - offset)
    expected: FloatArray = mean[minutes // 60] * minute_profile(by_hour)[minutes % 60]
    return expected


def minute_profile(by_hour: IntArray) -> FloatArray:
    """The share of an hour's requests each minute of the hour holds, over the whole series, smoothed
    by one request per minute (PROFILE_PRIOR): 1/60 each for traffic spread over the hour. Logs that
    hold each hour's requests in its first minutes (a sampled log: the real Apache log of
    tests/data/real keeps ~5 minutes an hour) expect nothing in the rest of the hour, so its empty
    minutes are not gaps; a lost hour or day still expects the whole hour's mean."""
    counts = by_hour.sum(axis=0).astype(float) + PROFILE_PRIOR
    profile: FloatArray = counts / counts.sum()
    return profile


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


def judged_status(status: Status, coverage: Coverage | None) -> Status:
    """The window's status with its coverage: a window under the floor whose measured minutes meet the
    target (met, at risk) is `insufficient_coverage`; failed and insufficient_data stay."""
    if coverage is not None and coverage.below_floor and status in ("met", "at_risk"):
        return "insufficient_coverage"
    return status


def status_note(status: Status, coverage: Coverage | None) -> str | None:
    """`status` as the measured minutes give it; when the window is under the floor, what its status
    says and why: 'failed, 6.2 % of minutes unmeasured', 'insufficient coverage, 77.4 % of minutes
    unmeasured (met on the minutes measured)'."""
    if coverage is None or not coverage.below_floor:
        return None
    unmeasured = f"{coverage.unmeasured_ratio * 100:.1f} % of minutes unmeasured"
    judged = judged_status(status, coverage)
    if judged == status:
        return f"{status.replace('_', ' ')}, {unmeasured}"
    return f"{judged.replace('_', ' ')}, {unmeasured} ({status.replace('_', ' ')} on the minutes measured)"
