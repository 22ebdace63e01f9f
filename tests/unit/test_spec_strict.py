"""`validate` rejects what `run` would meet later, and spec typos do not pass (issue 11: A5, E25, E26).

Each case is a small spec under tests/data/specs/; messages read
`FILE: document N (KIND NAME): field.path: message`, documents counted from 1.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from slo_assets.cli import main
from slo_assets.cli.common import _guarded
from slo_assets.core.errors import DefinitionError
from slo_assets.openslo.spec import SpecError, load_specs
from slo_assets.outputs.rules import RulesError, build_rules, render
from slo_assets.remediation.runbooks import RunbookError
from slo_assets.slo.sli import day_inputs

SPECS = Path(__file__).resolve().parents[1] / "data" / "specs"
ROOT = Path(__file__).resolve().parents[2]


def _problems(*names: str) -> list[str]:
    with pytest.raises(SpecError) as error:
        load_specs([SPECS / name for name in names])
    return error.value.problems


def _validate(capsys, *paths: Path) -> tuple[int, str, str]:
    code = main(["validate", *map(str, paths)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_valid_fixture_loads_without_warnings():
    specs = load_specs([SPECS / "valid.yaml"])
    assert [s.name for s in specs.slos] == ["api-availability", "api-latency"]
    assert [s.source for s in specs.slos] == ["valid.yaml:5", "valid.yaml:6"]  # documents count from 1
    assert specs.warnings == []


def test_unknown_key_names_it_and_suggests_the_known_one():
    path = SPECS / "typo_budgeting_method.yaml"
    assert (f"{path}: document 1 (SLO api-availability): spec.budgetingMetod: "
            "unknown field budgetingMetod; did you mean budgetingMethod?") in _problems(path.name)


def test_unknown_objective_key_counts_documents_from_one():
    path = SPECS / "typo_time_slice_window.yaml"
    assert (f"{path}: document 2 (SLO api-slices): spec.objectives[0].timeSliceWindw: "
            "unknown field timeSliceWindw; did you mean timeSliceWindow?") in _problems(path.name)


@pytest.mark.parametrize(("where", "typo", "fixed"), [
    ("metadata", "displayname", "displayName"),
    ("spec.indicator.spec.ratioMetric", "conter", "counter"),
    ("spec.indicator.spec.ratioMetric.good.metricSource", "tpye", "type"),
    ("spec.indicator.spec.ratioMetric.good.metricSource.spec", "filters", "filter"),
    ("spec.timeWindow[0]", "isRoling", "isRolling"),
    ("spec.timeWindow[0].calendar", "timezone", "timeZone"),
])
def test_unknown_keys_at_every_level(tmp_path, where, typo, fixed):
    text = (SPECS / "typo_budgeting_method.yaml").read_text().replace("budgetingMetod", "budgetingMethod")
    text = text.replace("  budgetingMethod: Occurrences",
                        "  budgetingMethod: Occurrences\n  timeWindow: [{duration: 1M, isRolling: false, "
                        "calendar: {startTime: '2026-01-01 00:00:00', timeZone: Etc/UTC}}]")
    replacements = {"displayname": ("metadata: {name: api-availability}", "metadata: {name: api-availability, displayname: x}"),
                    "conter": ("counter: true", "conter: true"),
                    "tpye": ("good: {metricSource: {type: logs", "good: {metricSource: {tpye: logs, type: logs"),
                    "filters": ("spec: {filter: {status", "spec: {filters: {}, filter: {status"),
                    "isRoling": ("isRolling: false", "isRolling: false, isRoling: false"),
                    "timezone": ("timeZone: Etc/UTC", "timeZone: Etc/UTC, timezone: UTC")}
    text = text.replace(*replacements[typo], 1)
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as error:
        load_specs([path])
    expected = f"{path}: document 1 (SLO api-availability): {where}.{typo}: unknown field {typo}; did you mean {fixed}?"
    assert expected in error.value.problems


def test_free_form_metadata_is_free_and_other_kinds_are_checked_too(tmp_path):
    assert load_specs([SPECS / "valid.yaml"]).slos[0].name == "api-availability"  # labels and foreign annotations pass
    text = (SPECS / "valid.yaml").read_text()
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace("alertWhenNoData: false", "alertWhenNoDta: false").replace("lookbackWindow: 1h", "lookbackWindw: 1h"))
    problems = _problems_of(path)
    assert (f"{path}: document 4 (AlertPolicy page-on-fast-burn): spec.alertWhenNoDta: "
            "unknown field alertWhenNoDta; did you mean alertWhenNoData?") in problems
    assert any(p.startswith(f"{path}: document 3 (AlertCondition fast-burn): spec.condition.lookbackWindw: unknown field") for p in problems)


def _problems_of(path: Path) -> list[str]:
    with pytest.raises(SpecError) as error:
        load_specs([path])
    return error.value.problems


def test_unknown_annotation_in_our_namespace_warns_with_a_suggestion(capsys):
    path = SPECS / "annotation_typo.yaml"
    specs = load_specs([path])
    assert specs.warnings == [f"{path}: document 1 (SLO api-availability): metadata.annotations.slo-assets.dev/report-window: "
                              "unknown slo-assets annotation; did you mean slo-assets.dev/report-windows?"]
    code, out, err = _validate(capsys, path)
    assert code == 0 and "did you mean slo-assets.dev/report-windows?" in err and out.startswith("ok: 1 SLOs")


def test_is_rolling_must_be_a_boolean():
    path = SPECS / "is_rolling_string.yaml"
    assert (f"{path}: document 1 (SLO api-availability): spec.timeWindow[0].isRolling: "
            "must be bool, not str 'false'") in _problems(path.name)


def test_an_empty_time_window_list_is_an_error():
    path = SPECS / "time_window_empty.yaml"
    assert any(p.startswith(f"{path}: document 1 (SLO api-availability): spec.timeWindow: must be a list of one window")
               for p in _problems(path.name))


def test_two_slos_with_one_name_name_both_places():
    one = SPECS / "duplicate_in_one_file.yaml"
    assert (f"{one}: document 2 (SLO api-availability): metadata.name: SLO api-availability is defined more than once, "
            f"first in {one}: document 1") in _problems(one.name)
    valid = SPECS / "valid.yaml"
    problems = _problems("valid.yaml", one.name)
    assert (f"{one}: document 1 (SLO api-availability): metadata.name: SLO api-availability is defined more than once, "
            f"first in {valid}: document 5") in problems


def test_yaml_duplicate_keys_are_an_error(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text((SPECS / "valid.yaml").read_text().replace("target: 0.999}", "target: 0.999, target: 0.9}"))
    (problem,) = _problems_of(path)
    assert problem.startswith(f"{path}: invalid YAML: ") and "duplicate key 'target'" in problem and "line 44" in problem


@pytest.mark.parametrize("name", ["regex_lookahead.yaml", "regex_backref.yaml"])
def test_regexes_polars_cannot_run_are_rejected(name):
    path = SPECS / name
    problems = _problems(name)
    field = "spec.indicator.spec.ratioMetric.good.metricSource.spec.filter.path.regex"
    assert any(p.startswith(f"{path}: document 1 (SLO api-availability): {field}: polars' regex engine cannot run it")
               for p in problems), problems


def test_timeslices_need_a_slice_target():
    path = SPECS / "timeslices_without_target.yaml"
    assert f"{path}: document 1 (SLO api-slices): spec.objectives[0].timeSliceTarget: is required" in _problems(path.name)


def test_targets_of_one_and_zero_are_rejected():
    path = SPECS / "targets_out_of_range.yaml"
    problems = _problems(path.name)
    assert any(p.startswith(f"{path}: document 1 (SLO api-availability): spec.objectives[0].target: 1.0 must be between 0 and 1")
               for p in problems)
    assert any(p.startswith(f"{path}: document 1 (SLO api-availability): spec.objectives[1].target: 0 must be between 0 and 1")
               for p in problems)


def test_a_filter_on_an_unknown_column_suggests_the_column():
    path = SPECS / "unknown_filter_column.yaml"
    field = "spec.indicator.spec.ratioMetric.good.metricSource.spec.filter.stauts"
    assert any(p.startswith(f"{path}: document 1 (SLO api-availability): {field}: unknown field stauts; did you mean status?")
               for p in _problems(path.name))


@pytest.mark.parametrize(("old", "new", "field", "message"), [
    ("duration_ms: {lte: 300}", "duration_ms: {lte: .inf}", "filter.duration_ms.lte", "must be a finite number"),
    ("alertPolicies: [page-on-fast-burn]", "alertPolicies: page-on-fast-burn", "spec.alertPolicies", "must be list"),
    ("conditions: [{conditionRef: fast-burn}]", "conditions: []", "spec.conditions", "needs at least one condition"),
    ("threshold: 14.4", "threshold: 0", "spec.condition.threshold", "must be above 0"),
    ("counter: true\n    good", "counter: yes-please\n    good", "spec.ratioMetric.counter", "must be bool"),
])
def test_values_the_chain_cannot_use_are_rejected(tmp_path, old, new, field, message):
    path = tmp_path / "spec.yaml"
    text = (SPECS / "valid.yaml").read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    problems = _problems_of(path)
    assert any(re.match(rf"{re.escape(str(path))}: document \d \(\w+ [a-z0-9-]+\): [\w.\[\]]*{re.escape(field)}: .*{re.escape(message)}", p)
               for p in problems), problems


def test_promql_annotations_come_in_pairs_with_a_window(tmp_path):
    path = tmp_path / "spec.yaml"
    text = (SPECS / "valid.yaml").read_text()
    path.write_text(text.replace("example.com/owner: someone", "slo-assets.dev/promql-errors: 'sum(rate(errors[5m]))'"))
    problems = _problems_of(path)
    assert f"{path}: document 5 (SLO api-availability): metadata.annotations.slo-assets.dev/promql-errors: " \
           "needs slo-assets.dev/promql-total too" in problems
    assert any("slo-assets.dev/promql-errors: must contain {{window}}" in p for p in problems)


def test_filter_all_requests():
    slo = load_specs([SPECS / "all_requests.yaml"]).slos[0]
    assert slo.indicator.kind() == "availability"
    rows = pl.DataFrame({"ts": [datetime(2026, 10, 1, 0, 0, s, tzinfo=UTC) for s in (1, 2, 3)],
                         "service": ["api", "web", None], "operation": ["GET /a", "GET /b", "GET /c"],
                         "status": [200, 503, 404], "duration_ms": [1.0, None, 3.0]})
    assert rows.filter(slo.indicator.total.expr()).height == 3
    inputs = day_inputs(rows, [slo])  # the path sli_minutely takes
    assert inputs.minutes.select("good", "total").row(0) == (3, 3)


def test_a_latency_slo_without_an_upper_bound_warns_and_rules_skip_it(capsys, tmp_path):
    path = SPECS / "latency_lower_bound_only.yaml"
    specs = load_specs([path])
    (warning,) = specs.warnings
    assert warning.startswith(f"{path}: document 1 (SLO api-latency): spec.indicator: no Prometheus rules")
    code, out, err = _validate(capsys, path)
    assert code == 0 and "no Prometheus rules" in err
    # `rules` agrees with validate: it succeeds and says in the file why the SLO has no rules
    assert main(["rules", str(path), str(ROOT / "examples" / "slos.yaml")]) == 0
    text = capsys.readouterr().out
    assert "# skipped api-latency (latency_lower_bound_only.yaml document 1): a latency SLO needs a duration_ms lte/lt bound in good" in text
    assert "slo-checkout-availability-sli" in text and "slo-api-latency" not in text
    rules = build_rules(specs)
    assert rules["groups"] == [] and len(rules["skipped"]) == 1


def test_a_latency_slo_counting_slow_requests_as_bad_gets_bucket_rules():
    path = SPECS / "latency_bad_above.yaml"
    specs = load_specs([path])
    assert specs.warnings == [] and specs.slos[0].indicator.kind() == "latency"
    text = render(build_rules(specs))
    assert 'le="0.3"' in text and "skipped" not in text


def test_validate_and_rules_agree_on_every_fixture(capsys):
    """Whatever validate accepts, rules renders; whatever it rejects, rules rejects too."""
    for path in sorted(SPECS.glob("*.yaml")):
        validated = main(["validate", str(path)])
        capsys.readouterr()
        ruled = main(["rules", str(path)])
        capsys.readouterr()
        assert (validated == 0) == (ruled == 0), path.name


def test_specs_in_the_docs_and_examples_validate(tmp_path, capsys):
    docs = sorted((ROOT / "docs").glob("*.md"))
    found = 0
    for doc in docs:
        for i, block in enumerate(re.findall(r"^```yaml\n(.*?)^```", doc.read_text(), re.DOTALL | re.MULTILINE)):
            if "apiVersion: openslo/v1" in block and "kind: SLO" in block:
                path = tmp_path / f"{doc.stem}-{i}.yaml"
                path.write_text(block)
                assert main(["validate", str(path)]) == 0, (doc.name, i, capsys.readouterr().err)
                found += 1
    assert found >= 1
    for path in sorted((ROOT / "examples").glob("slos*.yaml")):
        assert main(["validate", str(path)]) == 0, capsys.readouterr().err


def test_a_broken_document_is_reported_once_not_again_by_what_refers_to_it(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text((SPECS / "valid.yaml").read_text().replace("threshold: 14.4", "threshold: 1e3")
                    .replace("status: {lt: 500}", "status: {lt: 500}, stauts: 1", 1))
    assert _problems_of(path) == [
        f"{path}: document 2 (SLI api-no-5xx): spec.ratioMetric.good.metricSource.spec.filter.stauts: "
        "unknown field stauts; did you mean status?",
        f"{path}: document 3 (AlertCondition fast-burn): spec.condition.threshold: "
        "must be a number, not str '1e3' (YAML reads 1e3 as text: write 1.0e3)",
    ]


def test_an_empty_document_keeps_its_place_in_the_numbering(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("---\n---\n" + (SPECS / "typo_budgeting_method.yaml").read_text())
    assert any(p.startswith(f"{path}: document 2 (SLO api-availability): spec.budgetingMetod: ") for p in _problems_of(path))


@pytest.mark.parametrize(("written", "message"), [
    ("lookbackWindow: 99999999999999999999d", "spec.condition.lookbackWindow: '99999999999999999999d' is too long a duration (at most 999999999d)"),
    ("lookbackWindow: 90s", "spec.condition.lookbackWindow: '90s' is not a whole number of minutes"),
    ("alertAfter: 5 m", "spec.condition.alertAfter: '5 m' is not a duration like 30s, 5m, 1h, 28d"),
])
def test_alert_condition_durations_are_read_by_the_one_parser(tmp_path, written, message):
    # A lookback past what a timedelta holds used to pass validate as some 10**23 minutes.
    text = (SPECS / "valid.yaml").read_text()
    key = written.split(":")[0]
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace("lookbackWindow: 1h" if key == "lookbackWindow" else "alertAfter: 5m", written))
    assert f"{path}: document 3 (AlertCondition fast-burn): {message}" in _problems_of(path)


def test_time_slices_and_burn_windows_read_seconds_that_make_whole_minutes(tmp_path):
    text = (SPECS / "valid.yaml").read_text()
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace("lookbackWindow: 1h", "lookbackWindow: 3600s").replace("timeSliceWindow: 5m", "timeSliceWindow: 300s"))
    specs = load_specs([path])
    assert {c.lookback_minutes for p in specs.policies.values() for c in p.conditions} == {60}
    assert {o.time_slice_minutes for s in specs.slos for o in s.objectives if o.time_slice_target is not None} == {5}


def _raise(error):
    raise error


@pytest.mark.parametrize("make", [
    lambda: SpecError(["a.yaml: document 1 (SLO x): spec.service: is required"]),
    lambda: RunbookError(["r.yaml: document 1 (restart): spec.actions.0.cwd: outside the allowed root"]),
    lambda: RulesError("x (a.yaml:1): a latency SLO needs a duration_ms lte/lt bound"),
])
def test_spec_runbook_and_rules_errors_are_one_type_the_cli_reports_as_bad_input(capsys, make):
    # A RunbookError or RulesError reaching the CLI used to be reported as an internal error (exit 1).
    error = make()
    assert isinstance(error, DefinitionError) and isinstance(error, ValueError)
    assert str(error) == "\n".join(error.problems)
    assert _guarded("run", lambda: _raise(error)) == 2
    assert capsys.readouterr().err.strip() == "\n".join(error.problems)
