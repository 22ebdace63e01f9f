"""Budget adjustments (kind BudgetAdjustment, and the maintenance annotation as its sugar), hand-computed:
an RRULE event split by a month end, Exclude against CountAsGood on the same minutes, label selectors,
and the loader's messages."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_assets.core.calendar import epoch_ms, iso
from slo_assets.openslo import adjustments as A
from slo_assets.openslo.spec import (
    Filter,
    Indicator,
    Objective,
    Slo,
    SpecError,
    TimeWindow,
    load_specs,
)
from slo_assets.slo import chain as C

ROOT = Path(__file__).resolve().parents[2]
SLO = """apiVersion: openslo/v1
kind: SLO
metadata: {name: api-availability, labels: {team: [payments, core]}}
spec:
  service: api
  budgetingMethod: Occurrences
  indicator:
    metadata: {name: api}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: logs, spec: {filter: {service: api, status: {lt: 500}}}}}
        total: {metricSource: {type: logs, spec: {filter: {service: api}}}}
  objectives: [{displayName: ok, target: 0.999}]
"""
OTHER = SLO.replace("api-availability", "web-availability").replace("[payments, core]", "search")
WEEKLY = """---
apiVersion: openslo.com/v2alpha
kind: BudgetAdjustment
metadata: {name: weekly-migration}
spec:
  description: Saturday night schema migration
  startTime: "2026-01-31T23:00:00Z"
  duration: 2h
  rrule: FREQ=WEEKLY;BYDAY=SA
  effect: Exclude
  slos: [api-availability]
"""


def _load(tmp_path, text: str):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return load_specs([path])


def _problems(tmp_path, text: str) -> list[str]:
    with pytest.raises(SpecError) as error:
        _load(tmp_path, text)
    return error.value.problems


def _minutes(slo: str, start_ms: int, good: np.ndarray, total: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"slo": slo, "minute": pl.Series(start_ms + np.arange(len(total)) * C.MINUTE_MS).cast(pl.Datetime("ms", "UTC")),
                         "good": good, "total": total, "server_errors": total - good})


def _month(month: str) -> C.Period:
    start, end = C.month_range_ms(month)
    return C.Period(month, start, end, end)


def _index(instant: str, origin: int) -> int:
    return (epoch_ms(instant) - origin) // C.MINUTE_MS


def test_a_weekly_event_across_a_month_end_is_split_between_the_months(tmp_path):
    """Saturdays 23:00 for 2 h from 2026-01-31: January holds that event's first hour, February its
    second hour, three whole events and the first hour of the one on 2026-02-28 (March has the rest).
    10 requests a minute; all fail from 2026-01-31 23:30 to 2026-02-01 00:30 (300 bad each side of
    midnight), and 5 of 10 fail for 10 minutes on 2026-02-10 (50 bad, no adjustment)."""
    specs = _load(tmp_path, SLO + WEEKLY)
    slo = specs.slos[0]
    origin = C.month_range_ms("2026-01")[0]
    size = (C.month_range_ms("2026-03")[0] - origin) // C.MINUTE_MS
    total = np.full(size, 10, dtype=np.int64)
    good = total.copy()
    good[_index("2026-01-31T23:30:00Z", origin):_index("2026-02-01T00:30:00Z", origin)] = 0
    good[_index("2026-02-10T12:00:00Z", origin):_index("2026-02-10T12:10:00Z", origin)] = 5
    minutes = _minutes(slo.name, origin, good, total)
    settings = C.Settings(simulations=100)
    (adjustment,) = slo.adjustments
    assert [e for e in adjustment.events(*C.month_range_ms("2026-03"))] == [
        (epoch_ms("2026-02-28T23:00:00Z"), epoch_ms("2026-03-01T01:00:00Z")), (epoch_ms("2026-03-07T23:00:00Z"), epoch_ms("2026-03-08T01:00:00Z")),
        (epoch_ms("2026-03-14T23:00:00Z"), epoch_ms("2026-03-15T01:00:00Z")), (epoch_ms("2026-03-21T23:00:00Z"), epoch_ms("2026-03-22T01:00:00Z")),
        (epoch_ms("2026-03-28T23:00:00Z"), epoch_ms("2026-03-29T01:00:00Z"))]

    january, february = (C.evaluate_all(specs, minutes, _month(m), settings)[0] for m in ("2026-01", "2026-02"))
    # January: 31 x 1440 minutes x 10 = 446,400 requests; 60 minutes (600 requests, 300 bad) excluded
    assert (january.total, january.good, january.error_budget.consumed) == (445_800, 445_800, 0)
    assert january.maintenance_excluded_events == 600 and january.status == "met" and january.alerts == ()
    (audit,) = january.budget_adjustments.adjustments
    assert (audit.adjustment, audit.effect, audit.events, audit.minutes, audit.requests, audit.bad_requests, audit.slices,
            audit.budget_returned) == ("weekly-migration", "Exclude", 1, 60, 600, 300, None, 300)
    unadjusted = january.budget_adjustments.unadjusted
    assert (unadjusted.allowed, unadjusted.consumed) == (446.4, 300)
    assert unadjusted.consumed_ratio == float(Decimal(300) / Decimal("446.4"))
    # February: 28 x 1440 x 10 = 403,200; 5 events over it: 60 + 3 x 120 + 60 = 480 minutes, 4,800 requests, 300 bad
    assert (february.total, february.good, february.error_budget.consumed) == (398_400, 398_350, 50)
    (audit,) = february.budget_adjustments.adjustments
    assert (audit.events, audit.minutes, audit.requests, audit.bad_requests, audit.budget_returned) == (5, 480, 4_800, 300, 300)
    assert february.budget_adjustments.unadjusted.consumed == 350
    # the replay and the burn rates see the adjusted minutes: the outage pages only without the adjustment
    # (the 10 unadjusted minutes of 2026-02-10 page either way)
    assert {iso(a.start_ms)[:10] for a in february.alerts} == {"2026-02-10"}
    bare = _load(tmp_path, SLO)
    unadjusted_february = C.evaluate_all(bare, minutes, _month("2026-02"), settings)[0]
    assert {iso(a.start_ms)[:10] for a in unadjusted_february.alerts if a.severity == "page"} == {"2026-02-01", "2026-02-10"}
    assert unadjusted_february.budget_adjustments is None
    # the chart series and the month's SLI metrics agree
    data = C.window_data(slo, slo.objectives[0], slo.windows[0], minutes, _month("2026-02"), settings)
    series = C.window_series(data, slo.objectives[0].target)
    assert (series["total"].sum(), series["good"].sum()) == (398_400, 398_350)
    empty = pl.DataFrame(schema={"slo": pl.String, "duration_ms": pl.Float64, "count": pl.Int64})
    operations = pl.DataFrame(schema={"slo": pl.String, "operation": pl.String, "status": pl.Int32, "good": pl.Int64, "total": pl.Int64})
    metrics = C.sli_metrics(specs, minutes, empty, operations, _month("2026-02"), settings)[0].row(0, named=True)
    assert (metrics["total"], metrics["good"], metrics["adjusted_events"]) == (398_400, 398_350, 4_800)
    assert metrics["availability"] == (403_200 - 350) / 403_200  # a property of every request, unadjusted
    # the compliance document lists the adjustment, the SLOs it applies to and its events in the period
    (listed,) = C.budget_adjustments(specs.slos, _month("2026-02"))
    assert (listed["name"], listed["slos"], listed["rrule"], listed["duration"], listed["source"]) == (
        "weekly-migration", ["api-availability"], "FREQ=WEEKLY;BYDAY=SA", "2h", "spec.yaml:2")
    assert [e["start"] for e in listed["events"]] == ["2026-01-31T23:00:00Z", "2026-02-07T23:00:00Z", "2026-02-14T23:00:00Z",
                                                       "2026-02-21T23:00:00Z", "2026-02-28T23:00:00Z"]


MONTH_START, MONTH_END = C.month_range_ms("2026-09")  # 30 days
MINUTES = 30 * 1440


def _evaluate(method: str, adjustments: tuple[A.BudgetAdjustment, ...]):
    """Minutes 1000..1029 of September hold 4 bad of 10 requests (120 bad); every other minute 10 good."""
    total = np.full(MINUTES, 10, dtype=np.int64)
    good = total.copy()
    good[1000:1030] = 6
    if method == "Occurrences":
        objective = Objective("o", "o", Decimal("0.999"))
    else:  # a 1-minute slice is good at 90 % or more: those 30 minutes are bad slices
        objective = Objective("o", "o", Decimal("0.99"), time_slice_target=Decimal("0.9"))
    slo = Slo("s", "s", "svc", "", method, Indicator("s", Filter(())), (objective,), (TimeWindow("1M", False, 30),), (), adjustments, "t:0")
    return C.evaluate(slo, objective, slo.windows[0], _minutes("s", MONTH_START, good, total), _month("2026-09"), C.Settings(simulations=100))


def _adjustment(name: str, effect: str) -> A.BudgetAdjustment:
    return A.BudgetAdjustment(name, effect, MONTH_START + 1000 * C.MINUTE_MS, 30 * C.MINUTE_MS)


@pytest.mark.parametrize("method", ["Occurrences", "Timeslices"])
def test_exclude_and_count_as_good_on_the_same_minutes(method):
    plain = _evaluate(method, ())
    excluded = _evaluate(method, (_adjustment("migration", A.EXCLUDE),))
    counted = _evaluate(method, (_adjustment("migration", A.COUNT_AS_GOOD),))
    if method == "Occurrences":  # 432,000 requests, 120 bad; the 30 minutes hold 300 requests
        assert (plain.total, plain.good, plain.error_budget.consumed) == (432_000, 431_880, 120)
        assert (excluded.total, excluded.good, excluded.error_budget.consumed) == (431_700, 431_700, 0)
        assert (counted.total, counted.good, counted.error_budget.consumed) == (432_000, 432_000, 0)
        returned, unit_total = 120, 432_000
    else:  # 43,200 one-minute slices, 30 bad
        assert (plain.total, plain.good, plain.error_budget.consumed) == (43_200, 43_170, 30)
        assert (excluded.total, excluded.good, excluded.error_budget.consumed) == (43_170, 43_170, 0)
        assert (counted.total, counted.good, counted.error_budget.consumed) == (43_200, 43_200, 0)
        returned, unit_total = 30, 43_200
    assert (excluded.maintenance_excluded_events, counted.maintenance_excluded_events) == (300, 0)
    assert excluded.events == counted.events == plain.events == 432_000  # raw requests stay raw
    slices = None if method == "Occurrences" else 30
    for result, effect in ((excluded, "Exclude"), (counted, "CountAsGood")):
        (audit,) = result.budget_adjustments.adjustments
        assert (audit.effect, audit.events, audit.minutes, audit.requests, audit.bad_requests, audit.slices, audit.budget_returned) == (
            effect, 1, 30, 300, 120, slices, returned)
        assert result.budget_adjustments.unadjusted.consumed == returned
        assert result.budget_adjustments.unadjusted.allowed == pytest.approx(unit_total * (0.001 if method == "Occurrences" else 0.01))
    # both on the same minutes (CountAsGood declared first): Exclude wins the minutes and is credited with the return
    both = _evaluate(method, (_adjustment("count", A.COUNT_AS_GOOD), _adjustment("drop", A.EXCLUDE)))
    assert (both.total, both.good) == (excluded.total, excluded.good)
    assert [(a.adjustment, a.budget_returned) for a in both.budget_adjustments.adjustments] == [("drop", returned), ("count", 0)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(950, 1080), st.integers(1, 60), st.sampled_from(A.EFFECTS)), min_size=1, max_size=4),
       st.sampled_from(["Occurrences", "Timeslices"]))
def test_the_returns_add_up_to_what_the_adjustments_returned_together(events, method):
    """However adjustments overlap, their returns sum to the unadjusted minus the adjusted consumption."""
    adjustments = tuple(A.BudgetAdjustment(f"a{i}", effect, MONTH_START + start * C.MINUTE_MS, length * C.MINUTE_MS)
                        for i, (start, length, effect) in enumerate(events))
    result = _evaluate(method, adjustments)
    audit = result.budget_adjustments
    assert sum(a.budget_returned for a in audit.adjustments) == pytest.approx(audit.unadjusted.consumed - result.error_budget.consumed)
    assert all(a.budget_returned >= 0 for a in audit.adjustments)
    assert [a.effect for a in audit.adjustments] == sorted((a.effect for a in audit.adjustments), key=lambda e: e != A.EXCLUDE)


def test_the_maintenance_annotation_is_an_exclude_adjustment(tmp_path):
    annotated = SLO.replace("labels: {team: [payments, core]}}", "annotations: {slo-assets.dev/maintenance: "
                            "\"2026-01-31T23:00:00Z/2026-02-01T01:00:00Z\"}}")
    single = WEEKLY.replace("  rrule: FREQ=WEEKLY;BYDAY=SA\n", "")
    origin = C.month_range_ms("2026-01")[0]
    total = np.full(31 * 1440, 10, dtype=np.int64)
    good = total.copy()
    good[-30:] = 0
    minutes = _minutes("api-availability", origin, good, total)
    one, other = (C.evaluate_all(_load(tmp_path, text), minutes, _month("2026-01"), C.Settings(simulations=100))[0]
                  for text in (annotated, SLO + single))
    assert (one.total, one.good, one.maintenance_excluded_events) == (other.total, other.good, other.maintenance_excluded_events) == (
        445_800, 445_800, 600)
    assert [(a.adjustment, a.minutes, a.budget_returned) for a in one.budget_adjustments.adjustments] == [
        ("slo-assets.dev/maintenance[0]", 60, 300)]


def test_a_label_selector_picks_slos_by_their_labels(tmp_path):
    selector = WEEKLY.replace("  slos: [api-availability]\n", "  sloSelector: {matchLabels: {team: core}}\n")
    specs = _load(tmp_path, SLO + "---\n" + OTHER + selector)
    assert {s.name: [a.name for a in s.adjustments] for s in specs.slos} == {"api-availability": ["weekly-migration"],
                                                                             "web-availability": []}
    # names and a selector together: the union
    both = selector.replace("  sloSelector:", "  slos: [web-availability]\n  sloSelector:")
    specs = _load(tmp_path, SLO + "---\n" + OTHER + both)
    assert all(len(s.adjustments) == 1 for s in specs.slos)
    nobody = _load(tmp_path, SLO + selector.replace("team: core", "team: storage"))
    assert nobody.slos[0].adjustments == ()
    assert nobody.warnings == [(f"{tmp_path / 'spec.yaml'}: document 2 (BudgetAdjustment weekly-migration): spec.sloSelector: "
                                "selects no SLO: no SLO has the labels {'team': 'storage'}")]


@pytest.mark.parametrize(("change", "field", "message"), [
    (("FREQ=WEEKLY;BYDAY=SA", "FREQ=WEEKLY;BYDAY=XX"), "spec.rrule", "is not an RFC 5545 RRULE like FREQ=WEEKLY;BYDAY=SU: invalid 'BYDAY': XX"),
    (("FREQ=WEEKLY;BYDAY=SA", "BYDAY=SA"), "spec.rrule", "has no FREQ"),
    (("FREQ=WEEKLY;BYDAY=SA", "FREQ=WEEKLY;BYDAY=SU"), "spec.rrule",
     "does not repeat startTime 2026-01-31T23:00:00+00:00 (its first event at 2026-02-01T23:00:00+00:00)"),
    (("FREQ=WEEKLY;BYDAY=SA", "FREQ=WEEKLY;UNTIL=20260301"), "spec.rrule", "UNTIL values must be specified in UTC"),
    (("FREQ=WEEKLY;BYDAY=SA", "FREQ=SECONDLY"), "spec.rrule", "repeats within a minute"),
    (("FREQ=WEEKLY;BYDAY=SA", "FREQ=DAILY;INTERVAL=0"), "spec.rrule", "INTERVAL must be a whole number of at least 1, not '0'"),
    (("duration: 2h", "duration: 999999999d"), "spec.duration", "'999999999d' from startTime 2026-01-31T23:00:00Z ends after 9999-12-31"),
    (("FREQ=WEEKLY;BYDAY=SA", "'DTSTART:20260131T230000Z\\nRRULE:FREQ=WEEKLY'"), "spec.rrule", "one RRULE value"),
    (("effect: Exclude", "effect: Excluded"), "spec.effect", "unknown effect 'Excluded'; did you mean Exclude?"),
    (("  effect: Exclude\n", ""), "spec.effect", "is required"),
    (("duration: 2h", "duration: 2 hours"), "spec.duration", "is not a duration"),
    (("duration: 2h", "endTime: \"2026-01-31T22:00:00Z\""), "spec.endTime", "is not after startTime"),
    (("duration: 2h", "duration: 2h\n  endTime: \"2026-02-01T01:00:00Z\""), "spec", "needs exactly one of endTime and duration"),
    (("\"2026-01-31T23:00:00Z\"", "next saturday"), "spec.startTime", "is not an ISO-8601 instant"),
    (("  slos: [api-availability]\n", ""), "spec", "needs slos (SLO names) or sloSelector"),
    (("slos: [api-availability]", "slo: [api-availability]"), "spec.slo", "unknown field slo; did you mean slos?"),
    (("openslo.com/v2alpha", "openslo/v1"), "apiVersion",
     "must be openslo.com/v2alpha, not 'openslo/v1' (BudgetAdjustment is an OpenSLO v2alpha kind)"),
])
def test_a_bad_adjustment_names_file_document_and_field(tmp_path, change, field, message):
    problems = _problems(tmp_path, SLO + WEEKLY.replace(*change, 1))
    assert any(p.startswith(f"{tmp_path / 'spec.yaml'}: document 2 (BudgetAdjustment weekly-migration): {field}: ") and message in p
               for p in problems), problems


def test_an_adjustment_of_an_unknown_slo_names_it(tmp_path):
    problems = _problems(tmp_path, SLO + WEEKLY.replace("slos: [api-availability]", "slos: [api-availabilty, gone]"))
    place = f"{tmp_path / 'spec.yaml'}: document 2 (BudgetAdjustment weekly-migration)"
    assert problems == [f"{place}: spec.slos[0]: no kind: SLO named 'api-availabilty'; did you mean api-availability?",
                        f"{place}: spec.slos[1]: no kind: SLO named 'gone'; expected one of api-availability"]


def test_the_example_adjusts_the_search_slos_and_an_edit_makes_the_months_stale(tmp_path):
    """examples/slos.yaml's weekly reindex applies to both search SLOs by their label; editing it changes
    the specs' content hash, slo_specs' data version, which every monthly asset depends on."""
    from slo_assets.defs.resources import SloSettings

    spec = tmp_path / "slos.yaml"
    shutil.copy(ROOT / "examples" / "slos.yaml", spec)
    settings = SloSettings(spec_paths=[str(spec)])
    first = settings.load()
    assert {s.name for s in first.slos if s.adjustments} == {"search-availability", "search-minutes-healthy"}
    spec.write_text(spec.read_text().replace("duration: 1h\n", "duration: 90m\n"))
    edited = settings.load()
    assert edited.content_hash != first.content_hash
    assert edited.slos[1].adjustments[0].duration_ms == 90 * C.MINUTE_MS
