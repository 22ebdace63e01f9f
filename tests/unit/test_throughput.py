"""Throughput SLOs (a thresholdMetric over logs, budgeted in Timeslices) and the budget-state alerts,
hand-computed: the slice at the threshold, empty slices, an all-empty window, a mixed month, and the
10 % / 30 % / 0 % budget boundaries."""

from __future__ import annotations

import textwrap
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from slo_assets.openslo.spec import Filter, Indicator, Objective, Slo, SpecError, TimeWindow, load_specs
from slo_assets.slo import budget as B
from slo_assets.slo import chain as C
from slo_assets.slo.sli import MINUTE_SCHEMA

MONTH = "2026-09"  # 30 days
START, END = C.month_range_ms(MONTH)
FAST = C.Settings(simulations=200)

SPEC = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: api-throughput}
spec:
  service: api
  budgetingMethod: METHOD
  indicator:
    metadata: {name: api-requests}
    spec:
      thresholdMetric:
        metricSource: {type: logs, spec: {filter: {service: api, method: GET}}}
  objectives:
    - {displayName: 100 rps, op: OP, value: 100, target: 0.99, timeSliceTarget: 1, timeSliceWindow: 1m}
"""


def _load(tmp_path, method: str = "Timeslices", op: str = "gte", text: str = SPEC):
    path = tmp_path / "slos.yaml"
    path.write_text(text.replace("METHOD", method).replace("OP", op))
    return load_specs([path]), path


def test_a_threshold_metric_over_logs_is_a_throughput_sli(tmp_path):
    specs, _ = _load(tmp_path)
    (slo,) = specs.slos
    assert specs.warnings == [] and slo.indicator.kind() == "throughput"
    (objective,) = slo.objectives
    assert (objective.op, objective.value, objective.time_slice_minutes) == ("gte", Decimal(100), 1)
    rows = pl.DataFrame({"service": ["api", "api", "web"], "method": ["GET", "POST", "GET"], "duration_ms": [1.0, None, 2.0]})
    # every request the filter selects counts, and none is bad: the slices are judged by their rate
    assert rows.select(slo.indicator.total_expr().sum().alias("t"), slo.indicator.good_expr().sum().alias("g")).row(0) == (1, 1)


@pytest.mark.parametrize("method", ["Occurrences", "RatioTimeslices"])
def test_a_throughput_sli_is_budgeted_in_timeslices_only(tmp_path, method):
    with pytest.raises(SpecError) as error:
        _load(tmp_path, method)
    (problem,) = error.value.problems
    assert problem.startswith(f"{tmp_path / 'slos.yaml'}: document 1 (SLO api-throughput): spec.budgetingMethod: {method}: "
                              "a throughput SLI (thresholdMetric) is budgeted in Timeslices only")


def test_a_throughput_objective_needs_op_and_value(tmp_path):
    with pytest.raises(SpecError) as error:
        _load(tmp_path, op="ge")
    assert error.value.problems == [(f"{tmp_path / 'slos.yaml'}: document 1 (SLO api-throughput): spec.objectives[0].op: "
                                     "'ge' is not one of gte, gt, lte, lt; did you mean gte?")]
    with pytest.raises(SpecError) as error:
        _load(tmp_path, text=SPEC.replace("op: OP, value: 100, ", ""))
    assert [p.split(": ", 2)[2] for p in error.value.problems] == ["spec.objectives[0].op: is required",
                                                                   "spec.objectives[0].value: is required"]
    with pytest.raises(SpecError) as error:
        _load(tmp_path, text=SPEC.replace("value: 100", "value: -1"))
    assert "spec.objectives[0].value: -1 requests per second cannot be negative" in error.value.problems[0]


def test_op_and_value_on_a_ratio_objective_are_still_a_warning(tmp_path):
    text = textwrap.dedent("""\
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: api}
        spec:
          service: api
          budgetingMethod: Occurrences
          indicator:
            metadata: {name: api}
            spec:
              ratioMetric:
                counter: true
                good: {metricSource: {type: logs, spec: {filter: {status: {lt: 500}}}}}
                total: {metricSource: {type: logs, spec: {}}}
          objectives: [{target: 0.99, op: gte, value: 1}]
        """)
    specs, _ = _load(tmp_path, text=text)
    assert [w.split(": ", 2)[2] for w in specs.warnings] == [
        "spec.objectives[0].op: applies to thresholdMetric (throughput) SLIs, not ratioMetric; ignored",
        "spec.objectives[0].value: applies to thresholdMetric (throughput) SLIs, not ratioMetric; ignored"]


def _objective(op: str, value: str, slice_minutes: int = 1, target: str = "0.99") -> Objective:
    return Objective("o", "o", Decimal(target), Decimal(1), slice_minutes, op, Decimal(value))


def _units(objective: Objective, total: list[int], excluded: list[bool] | None = None) -> C.Units:
    counts = np.array(total, dtype=np.int64)
    mask = np.zeros(len(counts), dtype=bool) if excluded is None else np.array(excluded)
    return C.units("Timeslices", objective, counts, counts, mask)


def test_a_slice_exactly_at_the_threshold_is_good_under_gte_and_bad_under_gt():
    # 1 rps over 1-minute slices: 60 requests is exactly 1 rps, 59 is under, 61 over
    slices = [60, 59, 61]
    assert _units(_objective("gte", "1"), slices).good.tolist() == [1, 0, 1]
    assert _units(_objective("gt", "1"), slices).good.tolist() == [0, 0, 1]
    assert _units(_objective("lte", "1"), slices).good.tolist() == [1, 1, 0]
    assert _units(_objective("lt", "1"), slices).good.tolist() == [0, 1, 0]
    # a fractional threshold is exact too: 0.1 rps over a 5-minute slice is 30 requests
    assert _units(_objective("gte", "0.1", 5), [6, 6, 6, 6, 6, 6, 6, 6, 6, 5]).good.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]


def test_an_empty_slice_has_rate_zero():
    units = _units(_objective("gte", "1"), [60, 0, 0])
    assert (units.good.tolist(), units.slices, units.empty_counted_good) == ([1, 0, 0], 3, 0)
    ceiling = _units(_objective("lte", "1"), [60, 0, 0])
    assert (ceiling.good.tolist(), ceiling.empty_counted_good) == ([1, 1, 1], 2)


def test_a_partly_excluded_slice_is_judged_over_its_live_minutes():
    # a 2-minute slice at 1 rps with one minute in maintenance: 60 requests in 60 live seconds is 1 rps
    units = _units(_objective("gte", "1", 2), [0, 60, 0, 0], [True, False, True, True])
    assert (units.good.tolist(), units.total.tolist()) == ([0, 1, 0, 0], [0, 1, 0, 0])  # the second slice is no unit


def _slo(objective: Objective) -> Slo:
    return Slo("t", "T", "api", "", "Timeslices", Indicator("t", Filter(()), throughput=True), (objective,),
               (TimeWindow("1M", False, 30),), (), (), "t:0")


def _evaluate(per_minute: np.ndarray, objective: Objective, settings: C.Settings = FAST):
    index = np.flatnonzero(per_minute)
    minutes = pl.DataFrame({"slo": "t", "minute": pl.Series(START + index * C.MINUTE_MS).cast(pl.Datetime("ms", "UTC")),
                            "good": per_minute[index], "total": per_minute[index], "server_errors": 0}, schema=MINUTE_SCHEMA)
    slo = _slo(objective)
    return C.evaluate(slo, objective, slo.windows[0], minutes, C.Period(MONTH, START, END, END), settings)


def test_an_all_empty_window_is_not_measured():
    objective = _objective("gte", "0.01", 60)
    result = _evaluate(np.zeros(30 * 1440, dtype=np.int64), objective)
    # no request at all: no SLI, as for every SLO; and no slice, since a throughput is measured from its first request
    assert (result.sli, result.status, result.events, result.good, result.total) == (None, "insufficient_data", 0, 0, 0)
    assert (result.slices.total, result.slices.empty_counted_good, result.alerts, result.budget_alerts) == (0, 0, (), ())
    assert result.throughput.to_json() == {"op": "gte", "value": 0.01, "slice_minutes": 60, "mean_requests_per_second": 0.0}


def test_slices_before_the_first_request_are_no_units_and_empty_ones_after_it_are_bad():
    # 1 rps over 1-minute slices: nothing, then 60, then nothing: the first two slices are not measured,
    # the last one is an empty slice of a service seen before: rate 0, bad
    units = _units(_objective("gte", "1"), [0, 0, 60, 0])
    assert (units.good.tolist(), units.total.tolist(), units.slices) == ([0, 0, 1, 0], [0, 0, 1, 1], 2)
    # the month after a month of traffic: its empty lookback-free window is judged from the earlier request
    per_minute = np.zeros(30 * 1440, dtype=np.int64)
    per_minute[0] = 3600  # one burst in the first minute, then silence
    result = _evaluate(per_minute, objective := _objective("gte", "0.01", 60))
    assert (result.good, result.total, result.status) == (1, 720, "failed") and result.alerts
    assert objective.slice_good(36, 60) and not objective.slice_good(35, 60)


def test_a_mixed_month():
    # 1h slices at >= 0.01 rps (36 requests an hour), 99 % of the month's 720 hours
    per_hour = np.full(720, 60, dtype=np.int64)
    per_hour[48:58] = 0  # day 3, 00:00-10:00: 10 empty hours, bad
    per_hour[100:105] = 35  # 5 hours one request short, bad
    per_hour[200] = 36  # exactly 0.01 rps: good
    per_minute = np.zeros(30 * 1440, dtype=np.int64)
    per_minute[np.arange(720) * 60] = per_hour  # each hour's requests in its first minute
    result = _evaluate(per_minute, _objective("gte", "0.01", 60))
    assert (result.good, result.total, result.slices.total, result.slices.empty_counted_good) == (705, 720, 720, 0)
    assert result.sli == pytest.approx(705 / 720)
    assert result.error_budget.allowed == pytest.approx(7.2) and result.error_budget.consumed == 15
    assert result.error_budget.remaining_ratio == pytest.approx(1 - 15 / 7.2)
    assert result.status == "failed" and result.events == int(per_hour.sum())
    assert result.throughput.mean_rate == round(int(per_hour.sum()) / (30 * 86400), 6)
    # a slice is a unit at its last minute: hour 48's end has 1 bad of 49 slices so far > 1 %, and the 15 bad
    # slices never fall back under 1 % of the slices so far (that would take 1,500): violated to the end
    violated = [(a.start_ms, a.end_ms) for a in result.budget_alerts if a.alert == "slo_violated"]
    assert violated == [(START + (48 * 60 + 59) * C.MINUTE_MS, END)]


def _budget_alerts(bad: list[int], per_minute: int = 100, target: str = "0.9", **options) -> list[tuple[str, int, int]]:
    total = np.full(len(bad), per_minute, dtype=np.int64)
    good = total - np.array(bad, dtype=np.int64)
    found = B.budget_state_alerts(good, total, total, None, 0, 0, Decimal(target), **options)
    return [(a.name, a.start_ms // C.MINUTE_MS, a.end_ms // C.MINUTE_MS) for a in found if a.name != "high_burn_rate"]


def test_budget_alerts_at_their_boundaries():
    # target 0.9, 100 events a minute: allowed = 10 per 100 events; remaining = 1 - bad so far / allowed so far
    # minute 0: 9/10 used -> exactly 10 % left: warning, not critical (critical is < 10 %)
    # minute 1: 19/20 -> 5 %: critical; minute 2: 30/30 -> 0 %: critical, not violated (violated is < 0 %)
    # minute 3: 41/40 -> -2.5 %: violated and critical; minute 4: 41/50 -> 18 %: warning; minute 5: 41/60 -> 31.7 %: none
    assert _budget_alerts([9, 10, 11, 11, 0, 0]) == [
        ("budget_warning", 0, 1), ("budget_critical", 1, 4), ("slo_violated", 3, 4), ("budget_warning", 4, 5)]
    assert _budget_alerts([7]) == []  # exactly 30 % left: no warning (warning is < 30 %)
    assert _budget_alerts([8]) == [("budget_warning", 0, 1)]
    # the budget alerts wait for the window to hold min_events events
    assert _budget_alerts([9, 10, 11, 11, 0, 0], min_events=300) == [
        ("budget_critical", 2, 4), ("slo_violated", 3, 4), ("budget_warning", 4, 5)]


def test_high_burn_rate_is_sustained_over_an_hour_and_current_over_five_minutes():
    # target 0.9: a burn of 4 (40 bad of 100) from minute 60 to 89, after a clean hour (the lookback)
    total = np.full(120, 100, dtype=np.int64)
    bad = np.zeros(120, dtype=np.int64)
    bad[60:90] = 40
    found = B.budget_state_alerts(total - bad, total, total, None, 0, 60, Decimal("0.9"))
    high = [(a.start_ms // C.MINUTE_MS, a.end_ms // C.MINUTE_MS, a.value) for a in found if a.name == "high_burn_rate"]
    # 1h burn at minute 60 + k: 40 (k + 1) / 6000 / 0.1 > 1.5 from k = 22; the 5m burn (minutes 89-93 hold
    # 1 bad minute at 93: 40 / 500 / 0.1 = 0.8) drops under 1.5 at minute 93
    assert high == [(82, 93, pytest.approx(2.0))]
    gated = B.budget_state_alerts(total - bad, total, total, None, 0, 60, Decimal("0.9"), min_bad_events=10_000)
    assert not [a for a in gated if a.name == "high_burn_rate"]  # the low-traffic gate: too few bad in the hour


def test_latency_threshold_violated_over_five_minutes():
    # a latency SLO at 99 %, 100 requests a minute, 6 slow at minute 10: every 5-minute window holding
    # minute 10 (those ending at minutes 10-14) has 6/500 = 1.2 % slow > 1 %. The budget units here are
    # slices, all good: only the requests show it.
    events = np.full(20, 100, dtype=np.int64)
    fast = events.copy()
    fast[10] = 94
    units = np.ones(20, dtype=np.int64)
    found = B.budget_state_alerts(units, units, events, fast, 0, 0, Decimal("0.99"))
    assert [(a.name, a.start_ms // C.MINUTE_MS, a.end_ms // C.MINUTE_MS, a.value) for a in found] == [
        ("latency_threshold_violated", 10, 15, pytest.approx(1.2))]
    assert not B.budget_state_alerts(units, units, events, fast, 0, 0, Decimal("0.99"), min_bad_events=7)


def test_the_documents_the_exposition_and_the_report_show_a_throughput_window():
    from slo_assets.outputs import report
    from slo_assets.outputs.prometheus import exposition
    from slo_assets.slo.evaluation import MonthEvaluations, WindowEvaluation

    per_minute = np.full(30 * 1440, 2, dtype=np.int64)  # 2 requests a minute: 120 an hour, good against 36
    per_minute[100 * 60: 103 * 60] = 0  # hours 100-102 empty: 3 bad slices of 720, 3 of 7.2 allowed
    result = _evaluate(per_minute, _objective("gte", "0.01", 60))
    period = C.Period(MONTH, START, END, END)
    quality = {"lines_read": 0, "rows": 0, "quarantined_lines": 0, "quarantine_ratio": 0.0, **C.day_coverage(C.month_days(MONTH), {})}
    provenance = {"spec_hash": "x", "code_version": "c"}
    compliance = C.compliance([result], {}, period, quality, provenance, [])
    budgets = C.error_budgets_document([result], period, provenance)
    entry = budgets["slos"][0]
    assert entry["throughput"] == {"op": "gte", "value": 0.01, "slice_minutes": 60,
                                   "mean_requests_per_second": round(2 * (30 * 1440 - 180) / (30 * 86400), 6)}
    # A slice is a unit at its last minute; the budget so far after n slices with b bad is 1 - b / (0.01 n).
    # Hour 100's end: b = 1, n = 101: 1 - 1/1.01 < 10 % left, critical; hour 101's end: 2 of 102, violated.
    # With b = 3: violated while n < 300 (to hour 299's end), critical while 3 > 0.009 n (n <= 333),
    # then warning while 3 > 0.007 n (n <= 428).
    def at(minute: int) -> str:
        return C.iso(START + minute * C.MINUTE_MS)

    assert [(a["alert"], a["start"], a["end"]) for a in entry["budget_alerts"]] == [
        ("budget_critical", at(100 * 60 + 59), at(333 * 60 + 59)), ("slo_violated", at(101 * 60 + 59), at(299 * 60 + 59)),
        ("budget_warning", at(333 * 60 + 59), at(428 * 60 + 59))]
    assert result.error_budget.remaining_ratio == pytest.approx(1 - 3 / 7.2)  # the month ends with 58 % left
    month = MonthEvaluations.from_documents(compliance, budgets)
    (window,) = month.windows
    assert window == WindowEvaluation.from_json(result.to_json()) and window.throughput == result.throughput
    text = exposition(month).decode()
    def series(name: str, **extra: str) -> str:  # labels sorted, as prometheus_client writes them
        pairs = {"objective": "o", "service": "api", "slo": "t", "window": "1M-calendar", **extra}
        return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(pairs.items())) + "}"

    assert f"{series('slo_throughput_requests_per_second')} {entry['throughput']['mean_requests_per_second']}" in text
    assert f"{series('slo_throughput_threshold_requests_per_second', op='gte')} 0.01" in text
    assert f"{series('slo_budget_alert_firings_total', alert='slo_violated', severity='page')} 1.0" in text
    assert f"{series('slo_budget_alert_firings_total', alert='high_burn_rate', severity='ticket')} 0.0" in text
    assert "latency_threshold_violated" not in text  # not a latency SLO
    assert "a 60-minute slice is good at at least 0.01 requests/second" in report._budget_text(window)
    assert report._budget_alerts_text(window) == (
        f"Budget-state alerts: error budget critical (under 10% left) 1 time, first at {at(100 * 60 + 59)}; error budget "
        f"warning (10-30% left) 1 time, first at {at(333 * 60 + 59)}; SLO violated (SLI below target so far) 1 time, "
        f"first at {at(101 * 60 + 59)}.")


def test_the_report_lists_when_each_budget_alert_would_have_fired():
    from slo_assets.outputs import report

    per_minute = np.full(30 * 1440, 2, dtype=np.int64)
    per_minute[10 * 60: 20 * 60] = 0  # hours 10-19 empty: 10 bad slices, more than the 7.2 allowed
    result = _evaluate(per_minute, _objective("gte", "0.01", 60))
    first = {a.alert: a for a in reversed(result.budget_alerts)}
    # hour 10's end: 1 bad of 11 slices so far; allowed 0.11: remaining 1 - 1/0.11 < 0, violated (and critical)
    assert first["slo_violated"].start_ms == START + (10 * 60 + 59) * C.MINUTE_MS
    assert first["budget_critical"].start_ms == first["slo_violated"].start_ms
    html = report._budget_alerts_table(result)
    assert "SLO violated (SLI below target so far)" in html and "error budget critical (under 10% left)" in html
    assert report._budget_alerts_text(result).startswith("Budget-state alerts: error budget critical (under 10% left) ")
