"""WindowEvaluation: the typed evaluation of one SLO window, serialized once and read back exactly."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_assets.core.calendar import DAY_MS, MINUTE_MS, month_range_ms
from slo_assets.openslo.spec import load_specs
from slo_assets.slo import chain as C
from slo_assets.slo.evaluation import (
    ErrorBudget,
    MonthEvaluations,
    WindowEvaluation,
    budget_inconsistencies,
    budget_rows,
    dump_evaluations,
    load_evaluations,
)

ROOT = Path(__file__).resolve().parents[2]
# Every window kind and budgeting method the test specs declare: calendar month, rolling 7d and 28d;
# Occurrences, Timeslices, RatioTimeslices; an alert policy (valid.yaml's page-on-fast-burn).
SPECS = load_specs([ROOT / "tests" / "data" / "specs" / "valid.yaml", ROOT / "tests" / "data" / "matrix" / "slos.yaml"])
MONTH = "2026-11"
START, END = month_range_ms(MONTH)
LOOKBACK_START = START - C.LOOKBACK_DAYS * DAY_MS
FAST = C.Settings(simulations=200, min_events=10)


def _minutes(rate: int, outages: list[tuple[int, int, float]], seed: int) -> pl.DataFrame:
    """Every SLO's minute rows from the lookback start to the month end: `rate` requests a minute
    (Poisson), good except in the outages (start minute, length, failed share)."""
    rng = np.random.default_rng(seed)
    size = (END - LOOKBACK_START) // MINUTE_MS
    frames = []
    for slo in SPECS.slos:
        total = rng.poisson(rate, size).astype(np.int64)
        bad = np.zeros(size, dtype=np.int64)
        for begin, length, share in outages:
            cut = slice(begin, min(size, begin + length))
            bad[cut] = np.round(total[cut] * share).astype(np.int64)
        frames.append(pl.DataFrame({
            "slo": [slo.name] * size,
            "minute": pl.Series(LOOKBACK_START + np.arange(size, dtype=np.int64) * MINUTE_MS).cast(pl.Datetime("ms", "UTC")),
            "good": total - bad, "total": total, "server_errors": bad,
        }))
    return pl.concat(frames)


def _evaluate(minutes: pl.DataFrame, as_of_day: int = 30) -> list[WindowEvaluation]:
    period = C.Period(MONTH, START, END, min(END, START + as_of_day * DAY_MS))
    return C.evaluate_all(SPECS, minutes, period, FAST)


def _same(a, b, where: str = "") -> None:
    """Equal and of the same type all the way down (1 == 1.0 would hide an int turned float)."""
    assert type(a) is type(b), (where, a, b)
    if is_dataclass(a):
        for f in fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, tuple | list):
        assert len(a) == len(b), where
        for number, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{number}]")
    else:
        assert a == b, (where, a, b)


def _assert_exact_round_trip(evaluations: list[WindowEvaluation]) -> None:
    for evaluation in evaluations:
        text = json.dumps(evaluation.to_json())
        back = WindowEvaluation.from_json(json.loads(text))
        _same(back, evaluation, evaluation.label)
        assert json.dumps(back.to_json()) == text  # ints stay ints, floats floats: the same bytes
    payload = dump_evaluations(evaluations)
    assert load_evaluations(payload) == evaluations and dump_evaluations(load_evaluations(payload)) == payload


def test_every_part_of_an_incident_month_round_trips_exactly():
    # Two outages: a two-hour total failure (pages, crosses every threshold, fails the month) and
    # a single failed minute at night with little traffic (held back by the low-traffic gate).
    minutes = _minutes(20, [(C.LOOKBACK_DAYS * 1440 + 9 * 1440 + 600, 120, 1.0)], seed=3)
    evaluations = _evaluate(minutes, as_of_day=20)
    assert {e.budgeting_method for e in evaluations} == {"Occurrences", "Timeslices", "RatioTimeslices"}
    assert {e.window for e in evaluations} >= {"1M-calendar", "7d-rolling", "28d-rolling"}
    assert any(e.alerts for e in evaluations) and any(e.policy_alerts for e in evaluations)
    assert any(e.deficit for e in evaluations) and any(e.slices for e in evaluations)
    assert any(t.crossed_at_ms is not None for e in evaluations for t in e.thresholds)
    assert any(e.forecast.projected_exhaustion_ms is not None for e in evaluations)
    _assert_exact_round_trip(evaluations)
    quiet = _minutes(1, [(C.LOOKBACK_DAYS * 1440 + 12 * 1440 + 180, 1, 1.0)], seed=4)
    held = [e for e in _evaluate(quiet) if e.alerts_held_back]
    assert held
    _assert_exact_round_trip(held)


@settings(max_examples=12, deadline=None)
@given(rate=st.integers(0, 30), seed=st.integers(0, 2**16), as_of_day=st.integers(1, 30),
       outages=st.lists(st.tuples(st.integers(0, (C.LOOKBACK_DAYS + 30) * 1440 - 1), st.integers(1, 600),
                                  st.sampled_from([0.01, 0.2, 1.0])), max_size=3))
def test_any_month_round_trips_exactly(rate, seed, as_of_day, outages):
    _assert_exact_round_trip(_evaluate(_minutes(rate, outages, seed), as_of_day))


def test_the_documents_keep_their_fields():
    """The dataclass changes the code, not the contract: the documents' entries hold the same fields in the same order."""
    evaluations = _evaluate(_minutes(5, [], seed=1))
    period = C.Period(MONTH, START, END, END)
    compliance = C.compliance(evaluations, {}, period, {}, {"spec_hash": "h", "code_version": "c"}, [])
    budgets = C.error_budgets_document(evaluations, period, {"spec_hash": "h", "code_version": "c"})
    assert list(compliance["slos"][0]) == [*C.COMPLIANCE_KEYS, "sli_percent", "trend"]
    assert list(budgets["slos"][0]) == list(C.ERROR_BUDGETS_KEYS)
    assert list(evaluations[0].to_json()) == [
        "slo", "display_name", "service", "objective", "objective_name", "window", "label", "window_start", "window_end",
        "lists_period", "target", "budgeting_method", "components", "events", "untimed", "good", "total", "sli", "confidence", "coverage",
            "error_budget", "status", "status_note", "deficit",
        "slices", "maintenance_excluded_events", "budget_adjustments", "burn_rates", "alerts", "low_traffic_gate", "alerts_held_back",
        "policy_alerts", "budget_alerts", "thresholds", "forecast", "throughput"]
    # the report and the exposition read a month back from the two documents: the same evaluations
    month = MonthEvaluations.from_documents({**compliance, "generated_at": "g", "data_quality": {}}, budgets)
    assert list(month.windows) == evaluations


def test_budget_rows_and_inconsistencies_read_the_fields():
    evaluations = _evaluate(_minutes(20, [(C.LOOKBACK_DAYS * 1440 + 1440, 60, 1.0)], seed=2))
    rows = budget_rows(evaluations)
    assert rows.height == len(evaluations) and rows["status"].to_list() == [e.status for e in evaluations]
    assert rows["burn_1h"].to_list() == [e.burn_rates.rate("1h") for e in evaluations]
    assert rows["page_alerts"].to_list() == [e.alert_count("page") for e in evaluations]
    assert rows.schema["consumed_ratio"] == pl.Float64 and rows.schema["burn_period"] == pl.Float64
    assert budget_inconsistencies(evaluations) == []
    first = evaluations[0]
    wrong = replace(first, error_budget=replace(first.error_budget, consumed_ratio=first.error_budget.consumed_ratio + 0.5))
    over = replace(first, good=first.total + 1)
    found = budget_inconsistencies([wrong, over])
    assert [i.problem for i in found][-1] == "good > total" and found[0].slo == first.slo
    assert found[0].as_row() == [first.slo, first.window, str(wrong.error_budget.consumed_ratio)]
    empty = budget_rows([])
    assert empty.height == 0


def test_a_damaged_evaluations_file_names_the_file_and_the_entry():
    good = _evaluate(_minutes(5, [], seed=1))[:2]
    items = [e.to_json() for e in good]
    del items[1]["forecast"]
    with pytest.raises(ValueError, match=r"wh/window_evaluations/2026-11.json: entry 1: KeyError: 'forecast'"):
        load_evaluations(json.dumps(items).encode(), "wh/window_evaluations/2026-11.json")
    with pytest.raises(ValueError, match="not JSON"):
        load_evaluations(b"{", "x.json")
    items = [{**good[0].to_json(), "status": "great"}]
    with pytest.raises(ValueError, match="entry 0: ValueError: .*status 'great'"):
        load_evaluations(json.dumps(items).encode())
    with pytest.raises(ValueError, match="has no error-budget entry"):
        MonthEvaluations.from_documents({"slos": [{"slo": "a", "objective": "o", "window": "w"}]}, {"slos": []}, "c.json / b.json")


def test_error_budget_keeps_json_numbers():
    budget = ErrorBudget(10, 15, 1.5, -0.5)
    assert ErrorBudget.from_json(json.loads(json.dumps(budget.to_json()))) == budget


def test_the_month_series_is_each_window_series_and_splits_back_into_them():
    """evaluate_with_series assembles the windows' arrays into one frame; by_window's slices give each
    window's window_series back, and shuffled rows (not contiguous) still split right."""
    from decimal import Decimal

    import numpy as np
    import polars as pl

    from slo_assets.openslo.spec import Filter, Indicator, Objective, Slo, SpecSet, TimeWindow
    from slo_assets.slo import chain as C

    start, end = C.month_range_ms("2026-03")
    minute = np.arange(start - 2 * C.DAY_MS, end, 7 * C.MINUTE_MS)
    rows = []
    for name in ("a", "b"):
        total = (minute // C.MINUTE_MS) % 5 + 1
        rows.append(pl.DataFrame({"slo": name, "minute": pl.Series(minute).cast(pl.Datetime("ms", "UTC")), "good": total - (total == 5),
                                  "total": total, "server_errors": total * 0}))
    minutes = pl.concat(rows).with_columns(pl.col("good").cast(pl.Int64), pl.col("total").cast(pl.Int64), pl.col("server_errors").cast(pl.Int64))
    windows = (TimeWindow("1M", False, 31), TimeWindow("7d", True, 7))
    two = (Objective("x", "90%", Decimal("0.9")), Objective("y", "99%", Decimal("0.99")))
    specs = SpecSet(slos=[Slo(n, n, "svc", "", "Occurrences", Indicator("i", Filter(())), two, windows, (), (), f"t:{i}")
                          for i, n in enumerate(("a", "b", "idle"))])
    period = C.Period("2026-03", start, end, end - 5 * C.DAY_MS)
    settings = C.Settings(simulations=50)
    evaluations, series = C.evaluate_with_series(specs, minutes, period, settings)
    parts = C.by_window(series)
    shuffled = C.by_window(series.sample(fraction=1.0, shuffle=True, seed=1).sort("ts"))
    parted = C.by_slo(minutes)
    for e, slo in zip(evaluations, [s for s in specs.slos for _ in range(4)], strict=True):
        objective = next(o for o in slo.objectives if o.key == e.objective)
        window = next(w for w in slo.windows if w.label == e.window)
        expected = C.window_series(C.window_data(slo, objective, window, parted.get(slo.name), period, settings), objective.target)
        assert parts[e.key].drop("slo", "objective", "window").equals(expected)
        assert shuffled[e.key].drop("slo", "objective", "window").equals(expected)
