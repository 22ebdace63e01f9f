"""Coverage of a window whose logs begin inside it (slo_assets/slo/coverage.py, docs/concepts.md "Coverage"):
after the SLO's first request, a minute with no request where traffic was expected is unmeasured,
whether or not 4 earlier weeks exist."""

from __future__ import annotations

import numpy as np

from slo_assets.slo.coverage import judged_status, status_note, window_coverage

DAY = 1440
HISTORY = 28 * DAY  # the 4 weeks before the window the warehouse is asked for: nothing logged there


def seventh_only(seed: int = 7, lines: int = 1000) -> tuple[np.ndarray, set[int]]:
    """A closed 31-day month whose logs hold `lines` requests on its 7th day only; the hours of that day with one."""
    rng = np.random.default_rng(seed)
    minutes = rng.integers(0, DAY, size=lines)
    totals = np.zeros(HISTORY + 31 * DAY, dtype=np.int64)
    np.add.at(totals, HISTORY + 6 * DAY + minutes, 1)
    return totals, {int(m) // 60 for m in minutes}


def test_a_month_with_one_day_of_logs_is_unmeasured_after_that_day():
    totals, hours = seventh_only()
    coverage = window_coverage(totals, HISTORY)
    # every hour that had traffic on the 7th is expected on each of the 24 days after it; the 7th itself
    # and the 6 days before it have no known day before them
    assert coverage.unmeasured_minutes == len(hours) * 60 * 24
    assert coverage.minutes_without_history == 7 * DAY
    assert coverage.window_minutes == 31 * DAY and coverage.below_floor
    assert coverage.unmeasured_ratio == round(len(hours) * 60 * 24 / (31 * DAY), 9)
    assert judged_status("met", coverage) == "insufficient_coverage"
    assert judged_status("at_risk", coverage) == "insufficient_coverage"
    assert judged_status("failed", coverage) == "failed" and judged_status("insufficient_data", coverage) == "insufficient_data"
    ratio = f"{coverage.unmeasured_ratio * 100:.1f}"
    assert status_note("met", coverage) == f"insufficient coverage, {ratio} % of minutes unmeasured (met on the minutes measured)"
    assert status_note("failed", coverage) == f"failed, {ratio} % of minutes unmeasured"


def test_an_hour_quiet_on_the_only_known_day_is_quiet_not_unmeasured():
    totals = np.zeros(HISTORY + 31 * DAY, dtype=np.int64)
    first = HISTORY + 6 * DAY
    totals[first + 10 * 60: first + 12 * 60] = 30  # the 7th: 10:00-12:00 only, 30 requests a minute
    coverage = window_coverage(totals, HISTORY)
    assert coverage.unmeasured_minutes == 2 * 60 * 24  # 10:00-12:00 on each later day; the other hours are known quiet
    # no expectation before the first request (6 days and 10 hours) nor in the 24 hours from it (no known day before them)
    assert coverage.minutes_without_history == 6 * DAY + 10 * 60 + DAY
    assert coverage.gaps == 24


def test_known_weeks_win_over_days_and_a_gap_in_the_first_week_is_seen():
    totals = np.full(HISTORY + 14 * DAY, 20, dtype=np.int64)
    totals[:HISTORY] = 0  # the logs begin with the window
    totals[HISTORY + 3 * DAY + 600: HISTORY + 3 * DAY + 720] = 0  # a 2-hour gap on its 4th day
    coverage = window_coverage(totals, HISTORY)
    assert (coverage.unmeasured_minutes, coverage.gaps, coverage.minutes_without_history) == (120, 1, DAY)
