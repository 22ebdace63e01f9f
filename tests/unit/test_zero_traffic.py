"""Idle services, filters matching nothing, months without logs: every budget and replay function
takes all-zero (and tiny) inputs for every window length and budgeting method without crashing,
and an empty window is insufficient_data with no SLI."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_assets.openslo.spec import Filter, Indicator, Objective, Slo, TimeWindow
from slo_assets.outputs.prometheus import exposition
from slo_assets.slo import budget as B
from slo_assets.slo import chain as C
from slo_assets.slo.evaluation import MonthEvaluations, WindowEvaluation
from slo_assets.slo.sli import MINUTE_SCHEMA

MONTH = "2026-10"  # 31 days
START, END = C.month_range_ms(MONTH)
WINDOWS = [TimeWindow("1M", False, 30), TimeWindow("1d", True, 1), TimeWindow("7d", True, 7), TimeWindow("28d", True, 28),
           TimeWindow("30d", True, 30), TimeWindow("31d", True, 31)]
METHODS = ["Occurrences", "Timeslices", "RatioTimeslices"]
TARGETS = [Decimal("0.999"), Decimal("0.99"), Decimal("0.9995"), Decimal("0.5")]
FAST = C.Settings(simulations=200)


def _slo(method: str, window: TimeWindow, target: Decimal, slice_minutes: int = 5) -> tuple[Slo, Objective]:
    objective = Objective("o", "o", target, time_slice_target=Decimal("0.95") if method == "Timeslices" else None,
                          time_slice_minutes=1 if method == "Occurrences" else slice_minutes)
    return Slo("s", "S", "svc", "", method, Indicator("s", Filter(())), (objective,), (window,), (), (), "t:0"), objective


def _minutes(events: list[tuple[int, int, int]]) -> pl.DataFrame:
    """Minute rows from (minute index from the replay start of a 31d window, good, total)."""
    if not events:
        return pl.DataFrame(schema=MINUTE_SCHEMA)
    first = START - (31 + C.LOOKBACK_DAYS) * C.DAY_MS
    return pl.DataFrame({
        "slo": ["s"] * len(events),
        "minute": pl.Series([first + i * C.MINUTE_MS for i, _, _ in events]).cast(pl.Datetime("ms", "UTC")),
        "good": [min(g, t) for _, g, t in events], "total": [t for _, _, t in events],
        "server_errors": [t - min(g, t) for _, g, t in events],
    }, schema=MINUTE_SCHEMA)


def _documents(evaluation: WindowEvaluation, period: C.Period) -> tuple[dict, dict]:
    quality = C.day_coverage(C.month_days(MONTH), {})
    compliance = C.compliance([evaluation], {}, period, {"lines_read": 0, "rows": 0, "quarantined_lines": 0,
                                                          "quarantine_ratio": 0.0, **quality}, PROVENANCE, [])
    return compliance, C.error_budgets_document([evaluation], period, PROVENANCE)


PROVENANCE = {"spec_hash": "x", "code_version": "c"}


def _exposition(compliance: dict, budgets: dict) -> bytes:
    return exposition(MonthEvaluations.from_documents(compliance, budgets))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: w.label)
def test_a_window_without_events_is_insufficient_data_without_an_sli(window, method):
    slo, objective = _slo(method, window, Decimal("0.999"))
    period = C.Period(MONTH, START, END, END)
    evaluation = C.evaluate(slo, objective, window, _minutes([]), period, FAST)
    assert evaluation.status == "insufficient_data"
    assert evaluation.sli is None  # not 1: empty timeslices alone do not make a 100 % month
    assert evaluation.error_budget.consumed_ratio is None and evaluation.burn_rates.period is None
    assert evaluation.alerts == () and evaluation.alerts_held_back == ()
    compliance, budgets = _documents(evaluation, period)
    assert compliance["summary"]["compliance_percent"] is None
    for document in (evaluation.to_json(), compliance, budgets):
        json.dumps(document, allow_nan=False)  # no NaN or infinity reaches a JSON document
    _exposition(compliance, budgets)


@settings(max_examples=120, deadline=None)
@given(
    window=st.sampled_from(WINDOWS), method=st.sampled_from(METHODS), target=st.sampled_from(TARGETS),
    slice_minutes=st.sampled_from([1, 5, 7]),
    events=st.lists(st.tuples(st.integers(0, (31 + 31 + C.LOOKBACK_DAYS) * 1440 - 1), st.integers(0, 3), st.integers(0, 3)),
                    max_size=6),
    as_of_day=st.integers(1, 31),
)
def test_tiny_and_zero_inputs_never_crash_any_window(window, method, target, slice_minutes, events, as_of_day):
    slo, objective = _slo(method, window, target, slice_minutes)
    period = C.Period(MONTH, START, END, START + as_of_day * C.DAY_MS)
    evaluation = C.evaluate(slo, objective, window, _minutes(events), period, FAST)
    assert evaluation.status == "insufficient_data"  # at most 18 events: below min_events
    if evaluation.events == 0:
        assert evaluation.sli is None
    elif evaluation.sli is not None:
        assert 0 <= evaluation.sli <= 1
    compliance, budgets = _documents(evaluation, period)
    json.dumps([evaluation.to_json(), compliance, budgets], allow_nan=False)
    _exposition(compliance, budgets)


@settings(max_examples=60, deadline=None)
@given(days=st.sampled_from([1, 7, 28, 30, 31]), target=st.sampled_from(TARGETS), size=st.integers(0, 5 * 1440),
       tiny=st.lists(st.tuples(st.integers(0, 5 * 1440 - 1), st.integers(0, 2)), max_size=4))
def test_budget_and_replay_functions_take_zero_and_tiny_series(days, target, size, tiny):
    total = np.zeros(size, dtype=np.int64)
    for index, count in tiny:
        if index < size:
            total[index] += count
    good = np.zeros(size, dtype=np.int64)  # every event bad: the worst a tiny input can be
    assert B.error_budget(0, 0, target).consumed_ratio is None and B.sli(0, 0) is None
    for width in B.BURN_WINDOWS_MINUTES.values():
        rate = B.burn_rate_series(good, total, target, width)
        assert np.isfinite(rate).all()
    for gate in (0, 3):
        replay = B.replay_with_gate(good, total, START, 0, target, days, min_bad_events=gate)
        assert all(f.peak_burn_rate >= 0 for f in replay.firings)
        if gate and int(total.sum()) < gate:
            assert replay.firings == []  # too few bad events to page at all
    B.replay_condition(good, total, START, 0, target, 14.4, "gt", 60, 5)
    assert B.threshold_crossings(total - good, START, Decimal(0)) == {50: None, 80: None, 100: None}
    outlook = B.forecast(np.zeros(days), np.zeros(days), START, START + 31 * C.DAY_MS, target, simulations=100)
    assert outlook.days_to_exhaustion is None and outlook.probability_exhausted_by_period_end == 0.0


def test_the_3_day_tier_of_a_7_day_window_compares_exactly():
    """7/30 is the 3d tier's factor for a 7-day window: its Decimal has a 10**28 denominator, which
    overflowed int64 even for zero counts; the exact fraction decides a burn of exactly 7/30."""
    (tier,) = [t for t in B.alert_tiers() if t.long == "3d"]
    assert tier.exact_factor(7) == pytest.approx(7 / 30) and tier.exact_factor(7).denominator == 30
    minutes = 4320
    total = np.full(minutes, 30_000, dtype=np.int64)
    good = total.copy()
    good[:] -= 7  # bad ratio 7/30000 = exactly 7/30 x (1 - 0.999): not above
    assert not B._above(good, total, Decimal("0.999"), 4320, tier.exact_factor(7), 0)[-1]
    good[-1] -= 1
    assert B._above(good, total, Decimal("0.999"), 4320, tier.exact_factor(7), 0)[-1]
    zeros = np.zeros(minutes, dtype=np.int64)
    assert not B._above(zeros, zeros, Decimal("0.999"), 4320, tier.factor(7), 0).any()  # the inexact Decimal no longer overflows
