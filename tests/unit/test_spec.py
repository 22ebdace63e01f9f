"""OpenSLO specs: shipped examples conform to the official v1 schemas (the v2alpha BudgetAdjustment
aside); errors name file, document and field."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from slo_assets.cli import main
from slo_assets.core.calendar import epoch_ms
from slo_assets.openslo import official_validator
from slo_assets.openslo.spec import SpecError, is_composite, load_specs, load_yaml_documents

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "examples").glob("slos*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_conform_to_the_official_schema_and_load(path):
    validator = official_validator()
    documents = load_yaml_documents(path)
    assert documents
    for index, document in enumerate(documents):
        if document["kind"] == "BudgetAdjustment":  # an OpenSLO v2alpha kind: the v1 schemas have no place for it
            assert document["apiVersion"] == "openslo.com/v2alpha"
            continue
        if document["kind"] == "SLO" and is_composite(document):
            # The v1 README moves a composite's indicator into objectives[] ("If declaring composite SLO must be
            # moved into objectives[]"); the v1 JSON Schema still asks for one at spec level, and only that.
            assert list(validator.iter_errors(document))
            document = {**document, "spec": {**document["spec"], "indicatorRef": document["spec"]["objectives"][0]["indicatorRef"]}}
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == [], f"{path.name} document {index}"
    specs = load_specs([path])
    assert specs.slos and specs.warnings == []


def test_schema_validator_rejects_a_bad_document():
    bad = {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": "Bad Name"}, "spec": {"service": "x"}}
    assert list(official_validator().iter_errors(bad))


def test_timestamps_stay_strings(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("calendar: {startTime: 2026-01-01 00:00:00}\n")
    assert load_yaml_documents(path) == [{"calendar": {"startTime": "2026-01-01 00:00:00"}}]


INDICATOR = """  indicator:
    metadata: {name: api}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: logs, spec: {filter: {service: api, status: {lt: 500}}}}}
        total: {metricSource: {type: logs, spec: {filter: {service: api}}}}
"""
BASE = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: api-availability}
spec:
  service: api
  budgetingMethod: Occurrences
""" + INDICATOR + """  objectives: [{displayName: ok, target: 0.999}]
"""


def _problems(tmp_path, text: str) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as error:
        load_specs([path])
    return error.value.problems


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("target: 0.999", "target: 1.5"), "spec.objectives[0].target", "between 0 and 1"),
        (("status: {lt: 500}", "status: {below: 500}"), "status.below", "unknown operator"),
        (("status: {lt: 500}", "code: 200"), "filter.code", "unknown field"),
        (("status: {lt: 500}", "status: {lt: fivehundred}"), "status.lt", "not a number"),
        (("status: {lt: 500}", "path: {regex: '('}"), "path.regex", "invalid regex"),
        (("type: logs, spec: {filter: {service: api}}", "type: prometheus, spec: {query: x}"), "total.metricSource.type", "must be 'logs'"),
        (("budgetingMethod: Occurrences", "budgetingMethod: Sometimes"), "spec.budgetingMethod", "not one of"),
        (("budgetingMethod: Occurrences", "budgetingMethod: Occurrences\n  timeWindow: [{duration: 90d, isRolling: true}]"),
         "spec.timeWindow[0].duration", "up to 31d"),
        (("service: api\n", "servce: api\n"), "spec.service", "is required"),
    ],
)
def test_errors_name_file_document_and_field(tmp_path, change, field, message):
    problems = _problems(tmp_path, BASE.replace(*change, 1))
    where = f"{tmp_path / 'spec.yaml'}: document 1 (SLO api-availability): "
    assert any(p.startswith(where) and field in p and message in p for p in problems), problems


def test_indicator_ref_windows_and_annotations(tmp_path):
    text = BASE.replace("metadata: {name: api-availability}", """metadata:
  name: api-availability
  annotations: {slo-assets.dev/report-windows: "7d", slo-assets.dev/maintenance: "2026-10-05T02:00:00Z/2026-10-05T04:00:00Z"}""")
    text = text.replace("  budgetingMethod: Occurrences", "  budgetingMethod: Occurrences\n  timeWindow: [{duration: 28d, isRolling: true}]")
    path = tmp_path / "a.yaml"
    path.write_text(text)
    slo = load_specs([path]).slos[0]
    assert [w.label for w in slo.windows] == ["28d-rolling", "7d-rolling"]
    # the annotation is sugar for a one-off Exclude adjustment of this SLO
    (adjustment,) = slo.adjustments
    assert (adjustment.name, adjustment.effect, adjustment.rrule) == ("slo-assets.dev/maintenance[0]", "Exclude", None)
    assert adjustment.events(0, 2**62) == [(epoch_ms("2026-10-05T02:00:00Z"), epoch_ms("2026-10-05T04:00:00Z"))]
    assert adjustment.source == "a.yaml:1 metadata.annotations.slo-assets.dev/maintenance"
    missing_ref = BASE.replace(INDICATOR, "  indicatorRef: nowhere\n")
    assert any("spec.indicatorRef" in p and "no kind: SLI named 'nowhere'" in p for p in _problems(tmp_path, missing_ref))


def test_filters_are_data_not_code(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(BASE.replace("status: {lt: 500}", "path: {regex: '^/api/(v1|v2)/'}, method: {in: [GET, HEAD]}, duration_ms: {lte: 300}"))
    slo = load_specs([path]).slos[0]
    rows = pl.DataFrame({
        "service": ["api", "api", "api", "api", "other"],
        "path": ["/api/v1/x", "/api/v3/x", "/api/v2/y", "/api/v1/z", "/api/v1/x"],
        "method": ["GET", "GET", "POST", "HEAD", "GET"],
        "duration_ms": [100.0, 100.0, 100.0, None, 100.0],
        "status": [200, 200, 200, 200, 200],
    })
    assert rows.select(slo.indicator.good_expr())[:, 0].to_list() == [True, False, False, False, False]
    assert rows.select(slo.indicator.total.expr())[:, 0].to_list() == [True, True, True, True, False]
    evil = BASE.replace("service: api, status: {lt: 500}", "service: \"__import__('os').system('echo pwned')\"")
    path.write_text(evil)
    slo = load_specs([path]).slos[0]
    assert rows.select(slo.indicator.good_expr())[:, 0].to_list() == [False] * 5


def test_validate_command(tmp_path, capsys):
    assert main(["validate", *map(str, SHIPPED)]) == 0
    assert "ok: 6 SLOs, 1 composite SLOs, 10 SLO windows" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("target: 0.999", "target: 2"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: document 1 (SLO api-availability): spec.objectives[0].target" in err


def test_slo_settings_parse_the_specs_once_while_the_files_are_unchanged(tmp_path):
    import shutil

    from slo_assets.defs.resources import SloSettings

    spec = tmp_path / "slos.yaml"
    shutil.copy(Path(__file__).resolve().parents[2] / "examples" / "slos.yaml", spec)
    settings = SloSettings(spec_paths=[str(spec)])
    first = settings.load()
    assert settings.load() is first  # every asset asks: parsed once
    spec.write_text(spec.read_text().replace("target: 0.999}]\n  alertPolicies", "target: 0.99}]\n  alertPolicies", 1))
    changed = settings.load()
    assert changed is not first and changed.content_hash != first.content_hash
