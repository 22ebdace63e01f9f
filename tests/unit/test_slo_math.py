"""The SLO math, hand-computed, plus properties that must hold for any input."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_assets.openslo.spec import Objective
from slo_assets.slo import budget as B
from slo_assets.slo import chain as C
from slo_assets.slo.sli import exact_quantiles

T999 = Decimal("0.999")
MONTH_START, MONTH_END = C.month_range_ms("2026-09")  # 30 days
MINUTES = 30 * 1440


def test_budget_is_exact_decimal():
    budget = B.error_budget(999_000, 1_000_000, T999)
    assert budget.allowed == Decimal("1000.000")
    assert (budget.consumed, budget.consumed_ratio, budget.remaining_ratio) == (1000, 1, 0)
    assert B.error_budget(1, 1, T999).to_json()["allowed"] == 0.001  # not 0.0009999999999999432
    half = B.error_budget(9995, 10_000, T999)
    assert (half.allowed, half.consumed, half.consumed_ratio, half.remaining_ratio) == (Decimal("10.000"), 5, Decimal("0.5"), Decimal("0.5"))
    overspent = B.error_budget(9970, 10_000, T999)
    assert overspent.remaining_ratio == Decimal("-2")
    assert B.error_budget(0, 0, T999).consumed_ratio is None


def test_sli_is_good_over_total():
    assert B.sli(999, 1000) == Decimal("0.999")
    assert B.sli(0, 0) is None


def test_burn_rate_windows_end_at_and_include_the_minute():
    good = np.array([10, 10, 9, 10, 10])
    total = np.array([10, 10, 10, 10, 10])
    rate = B.burn_rate_series(good, total, Decimal("0.9"), 2)
    # minute 2: window = minutes 1..2 -> 1 bad of 20 = 5 % -> 0.05 / 0.1 = 0.5
    assert rate.tolist() == pytest.approx([0.0, 0.0, 0.5, 0.5, 0.0])
    assert B.window_sums(np.array([1, 2, 3, 4]), 3).tolist() == [1, 3, 6, 9]


def test_burn_rate_one_spends_the_budget_exactly_at_period_end():
    # 1 bad in every 1000 events, evenly, for a 30-day month at 99.9 %: burn rate 1 all along.
    total = np.full(MINUTES, 1000, dtype=np.int64)
    good = total - 1
    assert B.burn_rate_series(good, total, T999, 60)[-1] == pytest.approx(1.0)
    budget = B.error_budget(int(good.sum()), int(total.sum()), T999)
    assert budget.consumed_ratio == 1 and budget.remaining_ratio == 0
    crossings = B.threshold_crossings(total - good, MONTH_START, budget.allowed)
    assert crossings[100] == MONTH_END - C.MINUTE_MS  # the last minute of the period
    assert crossings[50] == MONTH_START + (MINUTES // 2 - 1) * C.MINUTE_MS
    assert B.replay_alerts(good, total, MONTH_START, 0, T999, 30) == []  # burn 1 is not > 1: no ticket


def _spike(rate_bad_per_1000: int, minutes: int = 60, at: int = 10_000):
    total = np.full(MINUTES, 1000, dtype=np.int64)
    good = total.copy()
    good[at:at + minutes] -= rate_bad_per_1000
    return good, total


def test_page_fires_above_14_4_over_1h_and_5m():
    good, total = _spike(15)  # 1.5 % errors = burn 15 for one hour
    firings = B.replay_alerts(good, total, MONTH_START, 0, T999, 30)
    pages = [f for f in firings if f.severity == "page" and f.long_window == "1h"]
    assert len(pages) == 1
    page = pages[0]
    assert page.factor == Decimal("14.4")
    # The 1h window exceeds 14.4 once 58 spike minutes are in it (58*15/60000 > 0.0144); 5m from the first minute.
    assert page.start_ms == MONTH_START + (10_000 + 57) * C.MINUTE_MS
    assert page.peak_burn_rate == pytest.approx(15.0)
    assert page.end_ms == MONTH_START + (10_000 + 60) * C.MINUTE_MS  # the 5m window clears right after


def test_burn_of_exactly_14_4_does_not_page_and_10x_neither():
    for bad in (10, 14):  # 14 per 1000 = burn 14
        good, total = _spike(bad, minutes=120)
        assert not [f for f in B.replay_alerts(good, total, MONTH_START, 0, T999, 30) if f.long_window == "1h"]
    total = np.full(MINUTES, 10_000, dtype=np.int64)
    good = total.copy()
    good[5000:5120] -= 144  # exactly 14.4x: 1.44 % errors
    assert not [f for f in B.replay_alerts(good, total, MONTH_START, 0, T999, 30) if f.long_window == "1h"]


def test_factors_scale_with_the_period():
    tiers = {(t.long, t.short): t for t in B.alert_tiers()}
    expected = [Decimal("14.4"), Decimal(6), Decimal(3), Decimal(1)]
    assert [tiers[k].factor(30) for k in (("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h"))] == expected
    assert tiers[("1h", "5m")].factor(28) == Decimal("13.44")


def test_replay_is_the_definition_without_gates_and_the_chain_gates_low_traffic_by_default():
    total = np.zeros(MINUTES, dtype=np.int64)
    total[20_000] = 2
    good = total.copy()
    good[20_000] = 1  # one failure out of two requests in the month's quietest hour
    assert any(f.severity == "page" for f in B.replay_alerts(good, total, MONTH_START, 0, T999, 30))
    assert B.replay_alerts(good, total, MONTH_START, 0, T999, 30, min_events=100) == []
    replay = B.replay_with_gate(good, total, MONTH_START, 0, T999, 30, min_bad_events=C.Settings().alert_min_bad_events)
    assert replay.firings == [] and replay.held_back  # the chain's default gate holds the single failure back


def test_timeslices_count_empty_slices_as_good():
    objective = Objective("o", "o", Decimal("0.9"), time_slice_target=Decimal("0.99"), time_slice_minutes=5)
    total = np.array([100, 100, 0, 0, 0] + [0] * 5 + [50, 50, 50, 50, 50], dtype=np.int64)
    good = np.array([100, 98, 0, 0, 0] + [0] * 5 + [50, 50, 50, 50, 49], dtype=np.int64)
    units = C.units("Timeslices", objective, good, total, np.zeros(15, dtype=bool))
    # slice 1: 198/200 = 0.99 -> good; slice 2 empty -> good (reported); slice 3: 249/250 = 0.996 -> good
    assert (units.slices, units.empty_counted_good, int(units.good.sum()), int(units.total.sum())) == (3, 1, 3, 3)
    strict = Objective("o", "o", Decimal("0.9"), time_slice_target=Decimal("0.999"), time_slice_minutes=5)
    units = C.units("Timeslices", strict, good, total, np.zeros(15, dtype=bool))
    assert int(units.good.sum()) == 1  # only the empty slice
    ratio = C.units("RatioTimeslices", objective, good, total, np.zeros(15, dtype=bool))
    assert float(ratio.good.sum()) == pytest.approx(0.99 + 1 + 0.996)


def test_maintenance_minutes_are_excluded():
    from slo_assets.openslo.adjustments import event_mask

    mask = event_mask([(MONTH_START + 2 * C.MINUTE_MS, MONTH_START + 4 * C.MINUTE_MS)], MONTH_START, 10)
    assert mask.tolist() == [False, False, True, True] + [False] * 6
    # a minute an event touches is adjusted whole: 02:30 to 04:00:01 covers minutes 2, 3 and 4
    touched = event_mask([(MONTH_START + 150_000, MONTH_START + 4 * C.MINUTE_MS + 1_000)], MONTH_START, 10)
    assert touched.tolist() == [False, False, True, True, True] + [False] * 5


def test_exact_quantiles_match_numpy_linear():
    rng = np.random.default_rng(1)
    data = np.round(rng.lognormal(3, 1, 5001), 1)
    values, counts = np.unique(data, return_counts=True)
    assert exact_quantiles(values, counts, (0.5, 0.95, 0.99)) == pytest.approx(np.percentile(data, [50, 95, 99]), rel=0, abs=1e-9)
    assert exact_quantiles(np.array([10.0, 20.0]), np.array([1, 1]), (0.5,)) == [15.0]
    assert exact_quantiles(np.array([]), np.array([]), (0.5,)) == [None]


def test_forecast_days_to_exhaustion_and_reproducible_probability():
    daily_total = np.full(10, 10_000.0)
    daily_bad = np.full(10, 5.0)  # 5 of 10 allowed per day (99.9 %)
    as_of = MONTH_START + 10 * C.DAY_MS
    outlook = B.forecast(daily_bad, daily_total, as_of, MONTH_END, T999)
    # projected period budget 0.001 * 300,000 = 300; used 50; 250 left at 5 a day = 50 days
    assert outlook.days_to_exhaustion == pytest.approx(50.0)
    assert outlook.probability_exhausted_by_period_end == 0.0
    burning = B.forecast(np.full(10, 15.0), daily_total, as_of, MONTH_END, T999)
    assert burning.days_to_exhaustion == pytest.approx((300 - 150) / 15)
    assert burning.probability_exhausted_by_period_end == 1.0
    noisy = np.array([0, 0, 30, 0, 0, 0, 25, 0, 0, 20], dtype=float)
    first = B.forecast(noisy, daily_total, as_of, MONTH_END, T999, seed=7)
    again = B.forecast(noisy, daily_total, as_of, MONTH_END, T999, seed=7)
    assert first == again and 0 < first.probability_exhausted_by_period_end < 1


def _evaluate_one(good: np.ndarray, total: np.ndarray, objective_target: Decimal, method: str = "Occurrences",
                  settings: C.Settings | None = None):
    from slo_assets.openslo.spec import Filter, Indicator, Slo, TimeWindow

    minutes = pl.DataFrame({
        "slo": ["s"] * len(total),
        "minute": pl.Series([MONTH_START + i * C.MINUTE_MS for i in range(len(total))]).cast(pl.Datetime("ms", "UTC")),
        "good": good, "total": total, "server_errors": total - good,
    })
    objective = Objective("o", "o", objective_target)
    slo = Slo("s", "s", "svc", "", method, Indicator("s", Filter(())), (objective,), (TimeWindow("1M", False, 30),), (), (), "t:0")
    period = C.Period("2026-09", MONTH_START, MONTH_END, MONTH_END)
    return C.evaluate(slo, objective, slo.windows[0], minutes, period, settings or C.Settings())


def test_low_traffic_month_is_insufficient_data_and_status_rules():
    assert _evaluate_one(np.array([5]), np.array([5]), T999).status == "insufficient_data"
    total = np.full(MINUTES, 10, dtype=np.int64)
    good = total.copy()
    good[:200] -= 1  # 200 bad of 432,000 = 46 % of 432 allowed
    assert _evaluate_one(good, total, T999).status == "met"
    good[:400] = total[:400] - 1  # 400 bad = 93 % consumed
    assert _evaluate_one(good, total, T999).status == "at_risk"
    good[:500] = total[:500] - 1  # 500 bad > 432 allowed
    result = _evaluate_one(good, total, T999)
    assert result.status == "failed"
    assert result.deficit.events_over_budget == 68


@settings(max_examples=200, deadline=None)
@given(
    good=st.integers(0, 10**9),
    extra=st.integers(0, 10**9),
    target=st.decimals(min_value=Decimal("0.5"), max_value=Decimal("0.99999"), places=5),
)
def test_consumed_ratio_is_one_minus_sli_over_one_minus_target(good, extra, target):
    total = good + extra
    budget = B.error_budget(good, total, target)
    if total == 0:
        assert budget.consumed_ratio is None
        return
    value = B.sli(good, total)
    assert Decimal(0) <= value <= Decimal(1)
    expected = (1 - Decimal(good) / Decimal(total)) / (1 - target)
    assert abs(budget.consumed_ratio - expected) <= Decimal("1e-20") * max(1, expected)
    assert budget.remaining_ratio == 1 - budget.consumed_ratio


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000)), min_size=1, max_size=31),
       st.sampled_from([Decimal("0.99"), Decimal("0.999"), Decimal("0.9995")]))
def test_budgets_are_additive_over_days(days, target):
    days = [(min(g, t), t) for g, t in days]
    per_day = [B.error_budget(g, t, target) for g, t in days]
    month = B.error_budget(sum(g for g, _ in days), sum(t for _, t in days), target)
    assert month.allowed == sum(b.allowed for b in per_day)
    assert month.consumed == sum(b.consumed for b in per_day)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=10, max_size=200), st.integers(1, 120), st.integers(0, 10**6))
def test_window_burn_rate_matches_a_direct_sum(bads, width, seed):
    rng = np.random.default_rng(seed)
    bad = np.array(bads, dtype=np.int64)
    total = bad + rng.integers(0, 100, len(bad))
    rate = B.burn_rate_series(total - bad, total, Decimal("0.99"), width)
    for i in range(len(bad)):
        lo = max(0, i - width + 1)
        t = total[lo:i + 1].sum()
        assert rate[i] == pytest.approx(0 if t == 0 else bad[lo:i + 1].sum() / t / 0.01)


def test_maintenance_window_is_excluded_from_the_budget_and_reported():
    total = np.full(MINUTES, 10, dtype=np.int64)
    good = total.copy()
    good[1000:1060] = 0  # a full outage of one hour: 600 bad > 432 allowed
    assert _evaluate_one(good, total, T999).status == "failed"
    window = (MONTH_START + 1000 * C.MINUTE_MS, MONTH_START + 1060 * C.MINUTE_MS)
    result = _evaluate_one(good, total, T999, settings=C.Settings(maintenance=(window,)))
    assert result.status == "met"
    assert result.maintenance_excluded_events == 600
    assert result.total == 10 * MINUTES - 600 and result.error_budget.consumed == 0
    assert result.alerts == ()


def test_chart_series_agree_with_the_evaluation():
    from slo_assets.openslo.spec import Filter, Indicator, Slo, TimeWindow

    total = np.full(MINUTES, 10, dtype=np.int64)
    good = total.copy()
    good[1000:1030] = 0  # 300 bad in 30 minutes, from minute 1000
    minutes = pl.DataFrame({
        "slo": "s", "minute": pl.Series(MONTH_START + np.arange(MINUTES) * C.MINUTE_MS).cast(pl.Datetime("ms", "UTC")),
        "good": good, "total": total, "server_errors": total - good,
    })
    objective = Objective("o", "o", T999)
    slo = Slo("s", "s", "svc", "", "Occurrences", Indicator("s", Filter(())), (objective,), (TimeWindow("1M", False, 30),), (), (), "t:0")
    period = C.Period("2026-09", MONTH_START, MONTH_END, MONTH_END)
    data = C.window_data(slo, objective, slo.windows[0], minutes, period, C.Settings())
    evaluation = C.evaluate(slo, objective, slo.windows[0], None, period, C.Settings(), data=data)
    series = C.window_series(data, T999)
    assert series.height == MINUTES // 5 and series["ts"][0] == MONTH_START
    assert series["total"].sum() == evaluation.total and series["good"].sum() == evaluation.good
    # remaining ratio: 1 before the outage, 1 - 300/432 after it, = the document's remaining ratio at the end
    assert series["remaining_ratio"][199] == 1.0
    assert series["remaining_ratio"][-1] == pytest.approx(evaluation.error_budget.remaining_ratio)
    assert series["remaining_ratio"][206] == pytest.approx(1 - 300 / 432)
    # the 1h burn rate at the end of the outage's last bucket: 300 bad of 600 events over 0.001 allowed
    assert series["burn_1h"][205] == pytest.approx((300 / 600) / 0.001)
    assert series["burn_1h"][-1] == pytest.approx(evaluation.burn_rates.rate("1h"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=300), st.integers(1, 400),
       st.sampled_from(["0.99", "0.999", "0.95", "0.5"]), st.booleans())
def test_shared_window_sums_are_exactly_the_per_call_ones(pairs, minutes, target, fractional):
    """Sums (one cumulative sum per series) == window_sums per call, and the last burn rate alone == the series' last."""
    total = np.array([max(a, b) for a, b in pairs], dtype=np.int64)
    good = np.array([min(a, b) for a, b in pairs], dtype=np.int64)
    if fractional:
        total, good = total.astype(float), good / 3.0
    target = Decimal(target)
    sums = B.Sums(good, total)
    bad_w, total_w = sums.window(minutes)

    def per_call(values):  # the definition: one cumulative sum and one fancy-indexed difference per call
        cumulative, ends = np.concatenate([[0], np.cumsum(values)]), np.arange(1, len(values) + 1)
        return cumulative[ends] - cumulative[np.maximum(ends - minutes, 0)]

    assert np.array_equal(bad_w, per_call(total - good)) and np.array_equal(total_w, per_call(total))
    assert np.array_equal(B.window_sums(total, minutes), per_call(total))
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(total_w > 0, bad_w / np.where(total_w > 0, total_w, 1), 0.0) / float(1 - target)
    assert np.array_equal(sums.burn_rate(target, minutes), expected)
    assert B.Sums(good, total).burn_rate_at_end(target, minutes) == float(expected[-1])


# ---------------------------------------------------------------- month quantiles from day files


def _numpy_month_quantiles(days: list[list[float]], qs: tuple[float, ...]) -> list[float | None]:
    """The careful path: every day's values concatenated, np.percentile 'linear' (today's definition)."""
    flat = np.array([v for day in days for v in day], dtype=float)
    return [None] * len(qs) if flat.size == 0 else [float(v) for v in np.percentile(flat, [q * 100 for q in qs], method="linear")]


def _day_sources(days: list[list[float]], slo: str = "s", other_rows: bool = True):
    """Each day as one value-count frame (unique values per day, like sli_latency), another SLO's rows beside."""
    from slo_assets.slo.quantiles import frame_chunks

    sources = []
    for i, day in enumerate(days):
        values, counts = np.unique(np.array(day, dtype=float), return_counts=True)
        frame = pl.DataFrame({"slo": [slo] * len(values), "duration_ms": values, "count": counts.astype(np.int64)},
                             schema={"slo": pl.String, "duration_ms": pl.Float64, "count": pl.Int64})
        if other_rows:
            frame = pl.concat([frame, pl.DataFrame({"slo": ["other"], "duration_ms": [1e9 + i], "count": [7]})])
        sources.append(frame_chunks(frame))
    return sources


MONTH_QS = (0.0, 0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0)
durations = st.one_of(
    st.floats(min_value=-1e6, max_value=1e7, allow_nan=False, width=64),
    st.sampled_from([0.0, -0.0, 1.0, 1.5, 150.0, 1e-300, 5e-324]),  # duplicates, signed zeros, subnormals
    st.integers(0, 40).map(lambda i: i / 8),  # many duplicates
)


@settings(max_examples=300, deadline=None)
@given(days=st.lists(st.lists(durations, max_size=40), max_size=8), gather_rows=st.sampled_from([1, 2, 5, 1_000_000]))
def test_month_quantiles_equal_numpy_over_the_concatenated_days(days, gather_rows):
    """Random daily splits, duplicates within and across days, empty days, a single value: the
    streamed quantiles are the very floats np.percentile gives over all values at once; a tiny
    gather limit forces every split pass down to single keys."""
    from slo_assets.slo.quantiles import quantiles_by_slo

    result = quantiles_by_slo(_day_sources(days), {"s": MONTH_QS}, gather_rows=gather_rows)["s"]
    expected = _numpy_month_quantiles(days, MONTH_QS)
    assert result.samples == sum(len(d) for d in days)
    assert list(result.values) == expected


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 3000), q=st.floats(0, 1), seed=st.integers(0, 2**32 - 1))
def test_rank_plan_and_lerp_reproduce_numpy_percentile(n, q, seed):
    from slo_assets.slo.quantiles import numpy_lerp, numpy_rank_plan

    values = np.sort(np.random.default_rng(seed).lognormal(3, 2, n))
    lo, hi, t = numpy_rank_plan(n, q)
    assert numpy_lerp(float(values[lo]), float(values[hi]), t) == float(np.percentile(values, q * 100))


def test_month_quantiles_edge_cases():
    from slo_assets.slo.quantiles import frame_chunks, quantiles_by_slo

    assert quantiles_by_slo([], {"s": (0.5,)})["s"].values == (None,)
    assert quantiles_by_slo(_day_sources([[], [], []]), {"s": (0.5, 0.99)})["s"].values == (None, None)
    assert quantiles_by_slo(_day_sources([[], [42.0], []]), {"s": (0.0, 0.5, 1.0)})["s"].values == (42.0, 42.0, 42.0)
    assert quantiles_by_slo(_day_sources([[10.0], [20.0]]), {"s": (0.5,)})["s"].values == (15.0,)
    nan = pl.DataFrame({"slo": ["s", "s"], "duration_ms": [1.0, float("nan")], "count": [3, 1]})
    assert all(np.isnan(v) for v in quantiles_by_slo([frame_chunks(nan)], {"s": (0.5, 0.9)})["s"].values)  # as numpy


def test_month_quantiles_from_parquet_day_files_skip_other_slos(tmp_path):
    """Day files read a row group at a time with the slo statistics as a row filter: same floats."""
    from slo_assets.slo.quantiles import parquet_chunks, quantiles_by_slo
    from slo_assets.warehouse.storage import Warehouse

    store = Warehouse(tmp_path)
    rng = np.random.default_rng(7)
    days, sources = [], []
    for day in range(3):
        parts, values_of_day = [], {}
        for slo in ("a-availability", "b-latency", "c-other"):
            values, counts = np.unique(np.round(rng.lognormal(3, 1, 4000), 2), return_counts=True)
            values_of_day[slo] = np.repeat(values, counts)
            parts.append(pl.DataFrame({"slo": slo, "duration_ms": values, "count": counts.astype(np.int64)}))
        target = store.path("sli_latency", f"2026-10-0{day + 1}.parquet")
        store.write_table(target, pl.concat(parts).to_arrow(), row_group_size=500)
        days.append(values_of_day)
        sources.append(parquet_chunks(store, target, ["b-latency"]))
    result = quantiles_by_slo(sources, {"b-latency": (0.5, 0.95, 0.99)}, gather_rows=100)["b-latency"]
    flat = np.concatenate([d["b-latency"] for d in days])
    assert result.samples == flat.size
    assert list(result.values) == [float(v) for v in np.percentile(flat, [50, 95, 99])]


def test_month_metrics_and_targets_from_day_files_equal_the_whole_frame(tmp_path):
    """sli_metrics and recommend_targets given the day files to stream give the rows they give for
    the month's value counts loaded whole (the path the assets took before)."""
    from pathlib import Path

    from slo_assets.openslo.spec import load_specs
    from slo_assets.slo.quantiles import day_sources
    from slo_assets.slo.sli import LATENCY_SCHEMA, MINUTE_SCHEMA, OPERATION_SCHEMA
    from slo_assets.warehouse.storage import Warehouse

    specs = load_specs([Path(__file__).resolve().parents[2] / "examples" / "slos.yaml"])
    store, rng = Warehouse(tmp_path), np.random.default_rng(11)
    days, files = [], []
    for day in range(1, 8):
        parts = []
        for slo in specs.slos:
            values, counts = np.unique(np.round(rng.lognormal(4, 1, int(rng.integers(0, 3000))), 1), return_counts=True)
            parts.append(pl.DataFrame({"slo": slo.name, "duration_ms": values, "count": counts}, schema=LATENCY_SCHEMA))
        days.append(pl.concat(parts))
        files.append(store.path("sli_latency", f"2026-10-0{day}.parquet"))
        store.write_table(files[-1], days[-1].to_arrow(), row_group_size=1000)
    whole = pl.concat(days)
    start, end = C.month_range_ms("2026-10")
    period = C.Period("2026-10", start, end, start + 7 * C.DAY_MS)
    minutes, operations = pl.DataFrame(schema=MINUTE_SCHEMA), pl.DataFrame(schema=OPERATION_SCHEMA)
    loaded = C.sli_metrics(specs, minutes, whole, operations, period, C.Settings())[0]
    streamed = C.sli_metrics(specs, minutes, day_sources(store, files), operations, period, C.Settings())[0]
    assert streamed.equals(loaded)
    assert loaded["latency_samples"].to_list() == [int(whole.filter(pl.col("slo") == s.name)["count"].sum()) for s in specs.slos]
    history = loaded.select("slo", "good", "total").with_columns(month=pl.lit("2026-10"))
    assert C.recommend_targets(specs, history, day_sources(store, files)).equals(C.recommend_targets(specs, history, whole))


def test_the_running_month_is_judged_up_to_now_not_to_the_end_of_today():
    start, end = C.month_range_ms("2026-11")
    ten = start + 9 * C.DAY_MS + 10 * 3_600_000  # 2026-11-10T10:00Z, the pinned now
    days = [f"2026-11-{d:02d}" for d in range(1, 11)]
    assert C.data_period("2026-11", days).as_of_ms == start + 10 * C.DAY_MS  # without a clock: the last day's end
    assert C.data_period("2026-11", days, ten + 59_999).as_of_ms == ten  # floored to the minute
    assert C.data_period("2026-11", days, end + C.DAY_MS).as_of_ms == start + 10 * C.DAY_MS  # a closed month: its data
    assert C.data_period("2026-11", days, start - 1).as_of_ms == start  # a clock before the month: nothing elapsed
