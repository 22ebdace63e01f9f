"""Composite SLOs (OpenSLO v1): the YAML form, the weighted SLI, timeslices bad in any component, the rules."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from slo_assets.openslo.spec import SpecError, load_specs
from slo_assets.slo import chain as C
from tests.unit.test_rules import PROMTOOL, needs_promtool

MONTH_START, MONTH_END = C.month_range_ms("2026-09")  # 30 days
PERIOD = C.Period("2026-09", MONTH_START, MONTH_END, MONTH_END)


def _slo(name: str, service: str, method: str = "Occurrences", objective: str = "{target: 0.999}") -> str:
    return f"""---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: {name}}}
spec:
  service: {service}
  budgetingMethod: {method}
  indicator:
    metadata: {{name: {name}}}
    spec:
      ratioMetric:
        counter: true
        good: {{metricSource: {{type: logs, spec: {{filter: {{service: {service}, status: {{lt: 500}}}}}}}}}}
        total: {{metricSource: {{type: logs, spec: {{filter: {{service: {service}}}}}}}}}
  objectives: [{objective}]
"""


def _composite(objectives: str, method: str = "Occurrences", extra: str = "") -> str:
    return f"""---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: journey, displayName: Journey}}
spec:
  service: journey
  budgetingMethod: {method}
{extra}  objectives:
{objectives}"""


WEIGHTED = """    - {displayName: a, target: 0.9, indicatorRef: a, compositeWeight: 1}
    - {displayName: b, target: 0.9, indicatorRef: b, compositeWeight: 2}
"""
SLICES = "timeSliceTarget: 0.99, timeSliceWindow: 1m"
TIMESLICES = f"""    - {{displayName: a, target: 0.999, indicatorRef: a, {SLICES}}}
    - {{displayName: b, target: 0.999, indicatorRef: b, {SLICES}}}
"""


def _load(tmp_path: Path, text: str):
    path = tmp_path / "slos.yaml"
    path.write_text(text)
    return load_specs([path])


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as error:
        _load(tmp_path, text)
    return error.value.problems


def _minutes(slo: str, good: list[int], total: list[int], first_minute: int = 0) -> pl.DataFrame:
    return pl.DataFrame({
        "slo": [slo] * len(total),
        "minute": pl.Series([MONTH_START + (first_minute + i) * C.MINUTE_MS for i in range(len(total))]).cast(pl.Datetime("ms", "UTC")),
        "good": good, "total": total, "server_errors": [t - g for g, t in zip(good, total, strict=True)],
    })


def _composite_evaluation(specs, minutes: pl.DataFrame, settings: C.Settings | None = None):
    evaluations, series = C.evaluate_with_series(specs, minutes, PERIOD, settings or C.Settings())
    [composite] = [e for e in evaluations if e.slo == "journey"]
    return composite, series.filter(pl.col("slo") == "journey")


def test_the_yaml_form_components_weights_and_one_target(tmp_path):
    specs = _load(tmp_path, _slo("a", "a") + _slo("b", "b") + _composite(WEIGHTED))
    [composite] = specs.composites
    assert [s.name for s in specs.slos] == ["a", "b"]  # a composite is no measured SLO: no SLI inputs of its own
    assert [(c.slo, c.weight) for c in composite.components] == [("a", Decimal(1)), ("b", Decimal(2))]
    assert (composite.objective.key, composite.objective.target, composite.budgeting_method) == ("composite", Decimal("0.9"), "Occurrences")
    assert composite.weighted and composite.source == "slos.yaml:3"


@pytest.mark.parametrize(("objectives", "method", "field", "message"), [
    (WEIGHTED.replace("indicatorRef: b", "indicatorRef: c"), "Occurrences", "spec.objectives[1].indicatorRef", "no kind: SLO named 'c'"),
    (WEIGHTED.replace("compositeWeight: 2", "compositeWeight: 0"), "Occurrences", "spec.objectives[1].compositeWeight", "must be above 0"),
    (WEIGHTED.replace("target: 0.9, indicatorRef: b", "target: 0.99, indicatorRef: b"), "Occurrences", "spec.objectives[1].target",
     "a composite has one target"),
    (WEIGHTED.replace("indicatorRef: b", "indicatorRef: a"), "Occurrences", "spec.objectives[1].indicatorRef", "names SLO a a second time"),
    (WEIGHTED.splitlines(keepends=True)[0], "Occurrences", "spec.objectives", "at least two objectives"),
    (WEIGHTED, "RatioTimeslices", "spec.budgetingMethod", "a composite SLO budgets Occurrences or Timeslices"),
    (WEIGHTED.replace("indicatorRef: b", "indicatorRef: journey"), "Occurrences", "spec.objectives[1].indicatorRef", "is a composite SLO"),
])
def test_bad_composites_name_the_field(tmp_path, objectives, method, field, message):
    problems = _problems(tmp_path, _slo("a", "a") + _slo("b", "b") + _composite(objectives, method))
    assert any(f"document 3 (SLO journey): {field}: " in p and message in p for p in problems), problems


def test_a_mix_of_budgeting_methods_is_rejected_naming_the_field(tmp_path):
    timeslices = _slo("b", "b", "Timeslices", f"{{target: 0.999, {SLICES}}}")
    problems = _problems(tmp_path, _slo("a", "a") + timeslices + _composite(WEIGHTED))
    assert problems == [(f"{tmp_path / 'slos.yaml'}: document 3 (SLO journey): spec.objectives[1].indicatorRef: SLO b budgets "
                         "Timeslices (its spec.budgetingMethod), this composite Occurrences: every component shares one budgeting method")]


def test_a_composite_has_no_indicator_of_its_own_and_no_inline_component(tmp_path):
    inline = WEIGHTED.replace("indicatorRef: b", "indicator: {metadata: {name: b}}")
    problems = _problems(tmp_path, _slo("a", "a") + _slo("b", "b") + _composite(inline, extra="  indicatorRef: a\n"))
    assert any("spec.indicatorRef: a composite SLO has no indicator of its own" in p for p in problems), problems
    assert any("spec.objectives[1].indicator: a composite's component is an SLO" in p for p in problems), problems


def test_weights_are_ignored_under_timeslices_with_a_warning(tmp_path):
    slos = _slo("a", "a", "Timeslices", f"{{target: 0.999, {SLICES}}}") + _slo("b", "b", "Timeslices", f"{{target: 0.999, {SLICES}}}")
    specs = _load(tmp_path, slos + _composite(TIMESLICES.replace(SLICES + "}\n", SLICES + ", compositeWeight: 3}\n", 1), "Timeslices"))
    assert specs.warnings == [(f"{tmp_path / 'slos.yaml'}: document 3 (SLO journey): spec.objectives[0].compositeWeight: has no effect "
                               "under Timeslices: a composite slice is bad when it is bad in any component"),
                              (f"{tmp_path / 'slos.yaml'}: document 3 (SLO journey): spec.budgetingMethod: no Prometheus rules for "
                               "this composite: a Timeslices composite needs each slice judged in every component at the slice "
                               "boundaries, which rule evaluations do not align to; the batch chain judges it")]
    assert not specs.composites[0].weighted


def test_occurrences_sli_is_weighted_by_weight_times_events(tmp_path):
    """a: 1000 events, 990 good, weight 1; b: 100 events, 50 good, weight 2 (ten minutes each).
    SLI = (990 + 2 x 50) / (1000 + 2 x 100) = 1090 / 1200 = 0.908333...; target 0.9: allowed
    0.1 x 1200 = 120 weighted events, consumed 1200 - 1090 = 110, ratio 110 / 120 = 11/12."""
    specs = _load(tmp_path, _slo("a", "a") + _slo("b", "b") + _composite(WEIGHTED))
    minutes = pl.concat([_minutes("a", [99] * 10, [100] * 10), _minutes("b", [5] * 10, [10] * 10)])
    composite, series = _composite_evaluation(specs, minutes)
    assert (composite.good, composite.total, composite.events) == (1090, 1200, 1100)
    assert composite.sli == pytest.approx(1090 / 1200)
    assert (composite.error_budget.allowed, composite.error_budget.consumed) == (pytest.approx(120), 110)
    assert composite.error_budget.consumed_ratio == pytest.approx(11 / 12)
    assert composite.burn_rates.period == pytest.approx((110 / 1200) / 0.1)  # 0.916667
    assert composite.status == "at_risk"  # met the target, 91.7 % of the budget spent
    assert composite.confidence is None  # weighted events are no independent trials
    assert [(c.slo, c.weight) for c in composite.components] == [("a", 1), ("b", 2)]
    assert composite.label == "Journey · composite 90% · 1M-calendar"
    # its own chart series: the weighted units, every 5 minutes
    assert (series["good"].sum(), series["total"].sum()) == (1090, 1200)
    assert series["remaining_ratio"][-1] == pytest.approx(1 - 11 / 12)


def test_the_weight_decides_whether_the_composite_pages(tmp_path):
    """a: 900 good requests a minute all month; b: 50 a minute, 10 of them failing for one hour.
    Weight 2 on b: 20 bad of 1000 weighted a minute = 2 % = burn 20 at 99.9 %: the 1h window passes
    14.4 once 44 spike minutes are in it (44 x 20 / 60,000 > 0.0144), the 5m window clears at the
    spike's 62nd minute (3 x 20 / 5,000 = 1.2 %). Weight 1: 10 / 950 = burn 10.5, no page."""
    minutes_in_month = 30 * 1440
    spike = 20_000
    b_good = np.full(minutes_in_month, 50)
    b_good[spike:spike + 60] = 40
    minutes = pl.concat([
        _minutes("a", [900] * minutes_in_month, [900] * minutes_in_month),
        _minutes("b", b_good.tolist(), [50] * minutes_in_month),
    ])
    objectives = WEIGHTED.replace("target: 0.9,", "target: 0.999,")
    composite, _ = _composite_evaluation(_load(tmp_path, _slo("a", "a") + _slo("b", "b") + _composite(objectives)), minutes)
    pages = [a for a in composite.alerts if a.severity == "page"]
    assert [(a.long_window, a.start_ms, a.end_ms) for a in pages] == [
        ("1h", MONTH_START + (spike + 43) * C.MINUTE_MS, MONTH_START + (spike + 61) * C.MINUTE_MS)]
    assert pages[0].peak_burn_rate == pytest.approx(20.0)
    assert composite.error_budget.consumed == 60 * 20
    unweighted, _ = _composite_evaluation(_load(tmp_path, _slo("a", "a") + _slo("b", "b")
                                                + _composite(objectives.replace("compositeWeight: 2", "compositeWeight: 1"))), minutes)
    assert [a for a in unweighted.alerts if a.severity == "page"] == []
    assert unweighted.confidence is not None  # all weights 1: plain pooled events, a Wilson interval
    assert unweighted.error_budget.consumed == 600


def test_a_timeslice_bad_in_one_component_is_bad_for_the_composite(tmp_path):
    """1-minute slices at 99 %. Minute 0: both 100/100. Minute 1: a 100/100, b 98/100 (bad in b).
    Minute 2: no traffic (empty: good). Minute 3: a 97/100 (bad in a), b 100/100. The other 43,196
    minutes of the month are empty. Composite: 2 bad slices of 43,200; empty slices 43,197."""
    slos = _slo("a", "a", "Timeslices", f"{{target: 0.999, {SLICES}}}") + _slo("b", "b", "Timeslices", f"{{target: 0.999, {SLICES}}}")
    specs = _load(tmp_path, slos + _composite(TIMESLICES, "Timeslices"))
    minutes = pl.concat([_minutes("a", [100, 100], [100, 100]), _minutes("a", [97], [100], 3),
                         _minutes("b", [100, 98], [100, 100]), _minutes("b", [100], [100], 3)])
    composite, _ = _composite_evaluation(specs, minutes)
    assert (composite.good, composite.total, composite.events) == (43_198, 43_200, 600)
    assert (composite.slices.total, composite.slices.empty_counted_good) == (43_200, 43_197)
    assert composite.error_budget.consumed == 2
    assert composite.error_budget.allowed == pytest.approx(43.2)
    # each component alone has one bad slice
    evaluations = C.evaluate_all(specs, minutes, PERIOD, C.Settings())
    assert {e.slo: e.good for e in evaluations if e.slo in ("a", "b")} == {"a": 43_199, "b": 43_199}


def test_maintenance_of_a_component_excludes_only_its_events(tmp_path):
    """b's own maintenance over its ten failing minutes: only a's 1000 events (990 good) remain."""
    b = _slo("b", "b").replace("metadata: {name: b}", 'metadata: {name: b, annotations: {slo-assets.dev/maintenance: '
                                                      '"2026-09-01T00:00:00Z/2026-09-01T00:10:00Z"}}', 1)
    specs = _load(tmp_path, _slo("a", "a") + b + _composite(WEIGHTED))
    minutes = pl.concat([_minutes("a", [99] * 10, [100] * 10), _minutes("b", [5] * 10, [10] * 10)])
    composite, _ = _composite_evaluation(specs, minutes)
    assert (composite.good, composite.total) == (990, 1000)


def _rules(tmp_path: Path, text: str) -> dict:
    from slo_assets.outputs.rules import build_rules

    path = tmp_path / "slos.yaml"
    path.write_text(text)
    return build_rules(load_specs([path]))


def test_the_rules_record_the_weighted_ratio_and_skip_a_timeslices_composite(tmp_path):
    rules = _rules(tmp_path, _slo("a", "a") + _slo("b", "b") + _composite(WEIGHTED))
    [record] = [r for g in rules["groups"] if g["name"] == "slo-journey-sli" for r in g["rules"] if r["record"].endswith("rate1h")]
    assert record["expr"] == (
        '(\n  1 * (sum(rate(http_requests_total{service="a",code=~"5.."}[1h])) or vector(0))\n'
        '  + 2 * (sum(rate(http_requests_total{service="b",code=~"5.."}[1h])) or vector(0))\n)\n/\n'
        '(\n  1 * (sum(rate(http_requests_total{service="a"}[1h])) or vector(0))\n'
        '  + 2 * (sum(rate(http_requests_total{service="b"}[1h])) or vector(0))\n)')
    assert record["labels"] == {"slo": "journey", "service": "journey"}
    page = [r for g in rules["groups"] if g["name"] == "slo-journey-alerts" for r in g["rules"] if r["labels"]["long_window"] == "1h"]
    assert '{slo="journey"} > 1.44\n' in page[0]["expr"]  # 14.4 x (1 - 0.9)
    slos = _slo("a", "a", "Timeslices", f"{{target: 0.999, {SLICES}}}") + _slo("b", "b", "Timeslices", f"{{target: 0.999, {SLICES}}}")
    rules = _rules(tmp_path, slos + _composite(TIMESLICES, "Timeslices"))
    assert not [g for g in rules["groups"] if "journey" in g["name"]]
    assert rules["skipped"] == [("journey (slos.yaml document 3): a Timeslices composite needs each slice judged in every component "
                                 "at the slice boundaries, which rule evaluations do not align to; the batch chain judges it")]


@needs_promtool
def test_promtool_evaluates_the_composite_ratio_on_the_hand_computed_numbers(tmp_path):
    """The same numbers as the batch test, per minute: a 1000 requests, 10 failing (weight 1); b 100,
    50 failing (weight 2): (10 + 2 x 50) / (1000 + 2 x 100) = 110 / 1200. Without b's failing
    series at all, b counts 0 errors, not the whole ratio absent: 10 / 1200."""
    from slo_assets.outputs.rules import render

    (tmp_path / "alerts.rules.yml").write_text(render(_rules(tmp_path, _slo("a", "a") + _slo("b", "b") + _composite(WEIGHTED))))

    def case(series: dict[str, int], ratio: float) -> dict:
        return {
            "interval": "1m",
            "input_series": [{"series": f"http_requests_total{{{labels}}}", "values": f"0+{per_minute}x20"} for labels, per_minute in series.items()],
            # promtool compares floats exactly and rate() rounds in the last bit: compared to 1e-9 of the ratio
            "promql_expr_test": [{"expr": f'round(1200e6 * slo:sli_error:ratio_rate{window}{{slo="journey"}})', "eval_time": "15m",
                                  "exp_samples": [{"labels": '{slo="journey",service="journey"}', "value": ratio}]}
                                 for window in ("5m", "1h")],
        }

    both = {'service="a",code="200"': 990, 'service="a",code="500"': 10, 'service="b",code="200"': 50, 'service="b",code="500"': 50}
    b_fine = {'service="a",code="200"': 990, 'service="a",code="500"': 10, 'service="b",code="200"': 100}
    tests = {"rule_files": ["alerts.rules.yml"], "evaluation_interval": "1m", "tests": [case(both, 110e6), case(b_fine, 10e6)]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_composite_round_trips_and_shows_in_the_exposition_and_the_report(tmp_path):
    import json

    from slo_assets.outputs.prometheus import exposition
    from slo_assets.outputs.report import MonthDocuments, render
    from slo_assets.slo.evaluation import MonthEvaluations, WindowEvaluation

    specs = _load(tmp_path, _slo("a", "a") + _slo("b", "b") + _composite(WEIGHTED))
    minutes = pl.concat([_minutes("a", [99] * 10, [100] * 10), _minutes("b", [5] * 10, [10] * 10)])
    evaluations, series = C.evaluate_with_series(specs, minutes, PERIOD, C.Settings(simulations=100))
    composite = evaluations[-1]
    assert WindowEvaluation.from_json(json.loads(json.dumps(composite.to_json()))) == composite
    quality = {"lines_read": 1100, "rows": 1100, "quarantined_lines": 0, "quarantine_ratio": 0.0,
               **C.day_coverage(C.month_days("2026-09"), {"2026-09-01": 1100})}
    provenance = {"spec_hash": "h", "code_version": "c", "input_data_versions": {}}
    compliance = C.compliance(evaluations, {}, PERIOD, quality, provenance, [])
    assert compliance["slos"][-1]["components"] == [{"slo": "a", "weight": 1}, {"slo": "b", "weight": 2}]
    month = MonthEvaluations.from_documents(compliance, C.error_budgets_document(evaluations, PERIOD, provenance))
    assert month.windows[-1] == composite
    text = exposition(month).decode()
    assert 'slo_composite_weight{component="b",service="journey",slo="journey"} 2.0' in text
    assert 'slo_sli_ratio{objective="composite",service="journey",slo="journey",window="1M-calendar"} 0.9083333333333333' in text
    html = render(MonthDocuments("2026-09", month, series))
    assert "Composite of a (weight 1), b (weight 2): good and total are weight x events." in html
    assert "Journey · composite 90% · 1M-calendar" in html


def test_annotations_of_measured_slos_warn_on_a_composite(tmp_path):
    extra = 'metadata: {name: journey, displayName: Journey, annotations: {slo-assets.dev/deploy-freeze-below: "25%"}}'
    specs = _load(tmp_path, _slo("a", "a") + _slo("b", "b") + _composite(WEIGHTED).replace("metadata: {name: journey, displayName: Journey}", extra))
    assert specs.warnings == [(f"{tmp_path / 'slos.yaml'}: document 3 (SLO journey): metadata.annotations.slo-assets.dev/deploy-freeze-below: "
                               "has no effect on a composite SLO: give it on its component SLOs")]
