"""What each SLO window counts and lists: only its own slices, alerts and thresholds; low-traffic noise
held back (and reported); a label that tells two objectives of one SLO apart."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl

from slo_assets.core.calendar import iso
from slo_assets.openslo.spec import Filter, Indicator, Objective, Slo, TimeWindow
from slo_assets.slo import chain as C
from slo_assets.slo.evaluation import Slices, WindowEvaluation
from slo_assets.slo.sli import MINUTE_SCHEMA

MONTH = "2026-10"  # 31 days
START, END = C.month_range_ms(MONTH)
LOOKBACK_START = START - C.LOOKBACK_DAYS * C.DAY_MS
T999 = Decimal("0.999")
CALENDAR, ROLLING_7D = TimeWindow("1M", False, 30), TimeWindow("7d", True, 7)


def _frame(first_ms: int, good: np.ndarray, total: np.ndarray) -> pl.DataFrame:
    keep = total > 0
    minutes = first_ms + np.flatnonzero(keep) * C.MINUTE_MS
    return pl.DataFrame({"slo": "s", "minute": pl.Series(minutes).cast(pl.Datetime("ms", "UTC")), "good": good[keep],
                         "total": total[keep], "server_errors": (total - good)[keep]}, schema=MINUTE_SCHEMA)


def _slo(method: str = "Occurrences", windows=(CALENDAR,), objectives=None) -> Slo:
    objectives = objectives or (Objective("o", "o", T999, time_slice_target=Decimal("0.99") if method == "Timeslices" else None),)
    return Slo("s", "S", "svc", "", method, Indicator("s", Filter(())), tuple(objectives), tuple(windows), (), (), "t:0")


def _evaluate(slo: Slo, window: TimeWindow, minutes: pl.DataFrame, settings: C.Settings | None = None) -> WindowEvaluation:
    period = C.Period(MONTH, START, END, END)
    return C.evaluate(slo, slo.objectives[0], window, minutes, period, settings or C.Settings(simulations=200))


def test_timeslices_count_only_the_window_slices():
    month_minutes = 31 * 1440
    total = np.full(month_minutes, 10, dtype=np.int64)  # traffic all month, none in the 3 lookback days
    minutes = _frame(START, total.copy(), total)
    for method in ("Timeslices", "RatioTimeslices"):
        evaluation = _evaluate(_slo(method), CALENDAR, minutes)
        assert evaluation.slices == Slices(total=44_640, empty_counted_good=0), method  # was 48,960 and 4,320
        assert evaluation.total == 44_640 and evaluation.sli == 1
    idle_lookback = np.zeros((C.LOOKBACK_DAYS + 31) * 1440, dtype=np.int64)
    idle_lookback[C.LOOKBACK_DAYS * 1440:C.LOOKBACK_DAYS * 1440 + 1440] = 10  # one day of traffic, the 1st
    evaluation = _evaluate(_slo("Timeslices"), CALENDAR, _frame(LOOKBACK_START, idle_lookback.copy(), idle_lookback))
    assert evaluation.slices == Slices(total=44_640, empty_counted_good=30 * 1440)


def test_timeslices_of_a_rolling_window_start_at_the_window_start():
    objective = Objective("o", "o", T999, time_slice_target=Decimal("0.99"), time_slice_minutes=7)  # 7 does not divide a day
    slo = _slo("Timeslices", windows=(ROLLING_7D,), objectives=(objective,))
    total = np.full(31 * 1440, 10, dtype=np.int64)
    evaluation = _evaluate(slo, ROLLING_7D, _frame(START, total.copy(), total))
    assert evaluation.slices.total == 7 * 1440 // 7


def test_a_rolling_window_lists_only_its_own_alerts_and_says_which_period():
    month_minutes = 31 * 1440
    total = np.full(month_minutes, 100, dtype=np.int64)
    good = total.copy()
    good[3 * 1440:3 * 1440 + 120] = 50  # a two-hour outage on the 4th, three weeks before the 7d window
    minutes = _frame(START, good, total)
    slo = _slo(windows=(CALENDAR, ROLLING_7D))
    calendar, rolling = _evaluate(slo, CALENDAR, minutes), _evaluate(slo, ROLLING_7D, minutes)
    assert any(a.severity == "page" for a in calendar.alerts)
    assert rolling.alerts == () and rolling.status == "met"  # the outage is outside the last 7 days
    assert rolling.to_json()["lists_period"] == {"start": "2026-10-25T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    assert calendar.to_json()["lists_period"] == {"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    assert all(rolling.window_start_ms <= a.start_ms for a in rolling.alerts + rolling.policy_alerts)
    assert all(t.crossed_at_ms is None for t in rolling.thresholds)


def test_one_failed_request_at_night_is_held_back_and_reported():
    month_minutes = 31 * 1440
    total = np.zeros(month_minutes, dtype=np.int64)
    total[::20] = 1  # three requests an hour
    good = total.copy()
    night = 10 * 1440 + 3 * 60  # 03:00 on the 11th
    good[night] = 0
    minutes = _frame(START, good, total)
    slo = _slo()
    off = _evaluate(slo, CALENDAR, minutes, C.Settings(simulations=200, alert_min_bad_events=0))
    assert any(a.severity == "page" for a in off.alerts)  # the definition alone pages on one request
    assert off.low_traffic_gate.held_back == 0
    gated = _evaluate(slo, CALENDAR, minutes)  # the default gate
    assert C.Settings().alert_min_bad_events == C.DEFAULT_ALERT_MIN_BAD_EVENTS == 3
    assert gated.alerts == ()
    gate = gated.low_traffic_gate
    assert gate.min_bad_events == 3 and gate.held_back == len(gated.alerts_held_back) == len(off.alerts)
    held = gated.alerts_held_back[0]
    assert iso(held.start_ms) == "2026-10-11T03:00:00Z" and held.bad_in_long_window == 1


def test_a_real_burst_at_low_traffic_still_pages():
    total = np.zeros(31 * 1440, dtype=np.int64)
    total[::10] = 1
    good = total.copy()
    burst = 10 * 1440 + 3 * 60
    good[burst:burst + 60] = 0  # every request fails for an hour: 6 bad events
    evaluation = _evaluate(_slo(), CALENDAR, _frame(START, good, total))
    assert any(a.severity == "page" for a in evaluation.alerts)


def test_two_objectives_of_one_slo_have_distinct_labels():
    objectives = (Objective("fast", "99% within 150 ms", Decimal("0.99")), Objective("ok", "95% within 150 ms", Decimal("0.95")))
    slo = _slo(objectives=objectives)
    period = C.Period(MONTH, START, END, END)
    labels = [C.evaluate(slo, o, CALENDAR, None, period, C.Settings(simulations=10)).label for o in objectives]
    assert labels == ["S · 99% within 150 ms · 1M-calendar", "S · 95% within 150 ms · 1M-calendar"]
    assert C.window_label(slo, Objective("k", "", Decimal("0.999")), CALENDAR) == "S · 99.9% · 1M-calendar"


def test_data_quality_counts_days_with_data_and_lists_the_gaps():
    days = C.month_days("2026-02")[:10]
    rows = {d: 5 for d in days} | {"2026-02-03": 0, "2026-02-04": 0}  # partitions that exist but hold nothing
    del rows["2026-02-05"], rows["2026-02-09"]
    coverage = C.day_coverage(days, rows)
    assert coverage["days_with_data"] == coverage["days_present"] == 6 and coverage["partitions_present"] == 8
    assert coverage["missing_days"] == ["2026-02-03", "2026-02-04", "2026-02-05", "2026-02-09"]
    assert coverage["gaps"] == [{"start": "2026-02-03", "end": "2026-02-05", "days": 3},
                                {"start": "2026-02-09", "end": "2026-02-09", "days": 1}]


def test_learning_record_recovered_agrees_with_minutes_to_recover():
    """`recovered` and `minutes_to_recover` answer one question (burn rate below 1 within the horizon):
    never `recovered: false` beside a recovery time, and unknown (None) while the data is short."""
    from datetime import datetime

    from slo_assets.remediation.learning import HORIZON_MINUTES, WINDOW_MINUTES, learn

    start = int(datetime.fromisoformat("2026-10-10T09:00:00+00:00").timestamp() * 1000)
    from slo_assets.remediation.models import Outcome

    outcome = Outcome(status="ok", slo="s", started_at="2026-10-10T10:00:00Z", finished_at="2026-10-10T10:00:00Z", idempotency_key="k",
                      period=MONTH, runbook="rb", action="restart", kind="command", reason=None, attempts=1, run_key="k", dry_run=False)

    def record(outage_minutes: int, observed_minutes: int) -> dict:
        size = WINDOW_MINUTES + HORIZON_MINUTES + 60
        total = np.full(size, 100, dtype=np.int64)
        good = total.copy()
        good[30:30 + outage_minutes] = 50
        (result,) = learn([outcome], (), {"s": _frame(start, good, total)}, {"s": Decimal("0.99")},
                          start + observed_minutes * C.MINUTE_MS)
        return result

    late = record(outage_minutes=300, observed_minutes=WINDOW_MINUTES + HORIZON_MINUTES)  # recovers ~5 h later
    assert late["sli_after"] < 0.99 and late["recovered"] is True and 290 < late["minutes_to_recover"] < 330
    never = record(outage_minutes=WINDOW_MINUTES + HORIZON_MINUTES, observed_minutes=WINDOW_MINUTES + HORIZON_MINUTES)
    assert never["recovered"] is False and never["minutes_to_recover"] is None
    short = record(outage_minutes=WINDOW_MINUTES + HORIZON_MINUTES, observed_minutes=WINDOW_MINUTES + 120)
    assert short["recovered"] is None and short["minutes_to_recover"] is None
