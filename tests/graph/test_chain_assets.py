"""The chain as Dagster assets: month to date, drift marks exactly the dependents stale, checks run."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from slo_assets.cli.orchestrate import materialize_month, month_days
from slo_assets.definitions import build_definitions
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from slo_assets.ingest.generate import write_logs
from slo_assets.warehouse import layout
from tests.conftest import stale_statuses

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def month_to_date(tmp_path_factory):
    base = tmp_path_factory.mktemp("mtd")
    write_logs(base / "logs", "2026-02", 30_000, "jsonl", seed=4)
    spec = base / "slos.yaml"
    spec.write_text((ROOT / "examples" / "slos.yaml").read_text())
    resources = {"log_source": LogSource(root=str(base / "logs")), "warehouse": WarehouseResource(base=str(base / "wh")),
                 "slo_settings": SloSettings(spec_paths=[str(spec)])}
    instance = dg.DagsterInstance.ephemeral()
    first = materialize_month("2026-02", resources, instance, days=month_days("2026-02")[:10])
    return base, resources, instance, first


def _status(instance, defs, keys):
    return dict(zip([key for key, _ in keys], stale_statuses(instance, defs, keys), strict=True))


def test_month_to_date_uses_the_elapsed_part_then_grows(month_to_date):
    base, resources, instance, first = month_to_date
    assert not first.failed_runs and not first.failed_checks
    # specs and index, the ten days in one run, the month; each day's figures from its own materialization
    assert len(first.run_ids) == 3 and len(first.days) == 10 and all(day.rows > 0 for day in first.days.values())
    records = instance.fetch_materializations(dg.AssetKey("parsed_logs"), limit=100).records
    assert {r.run_id for r in records} == {first.run_ids[1]}
    per_day = {r.asset_materialization.partition: r.asset_materialization.metadata["dagster/row_count"].value for r in records}
    assert per_day == {day: run.rows for day, run in first.days.items()}
    compliance = json.loads((base / "wh" / layout.COMPLIANCE_REPORT.relative("2026-02")).read_text())
    assert (compliance["period_complete"], compliance["as_of"]) == (False, "2026-02-11T00:00:00Z")
    assert compliance["data_quality"]["days_expected"] == 10 and compliance["data_quality"]["missing_days"] == []
    assert compliance["data_quality"]["days_with_data"] == 10 and compliance["data_quality"]["gaps"] == []
    budgets = json.loads((base / "wh" / layout.ERROR_BUDGETS.relative("2026-02")).read_text())
    assert all(w["window_end"] == "2026-02-11T00:00:00Z" for w in budgets["slos"])
    assert all(0 <= w["forecast"]["probability_exhausted_by_period_end"] <= 1 for w in budgets["slos"])
    more = materialize_month("2026-02", resources, instance, days=["2026-02-11"])
    assert not more.failed_runs
    assert json.loads((base / "wh" / layout.COMPLIANCE_REPORT.relative("2026-02")).read_text())["as_of"] == "2026-02-12T00:00:00Z"


def test_changing_a_spec_marks_exactly_its_dependents_stale(month_to_date):
    base, resources, instance, _ = month_to_date
    defs = build_definitions(resources)
    keys = [("compliance_report", "2026-02"), ("error_budgets", "2026-02"), ("sli_minutely", "2026-02-05"), ("parsed_logs", "2026-02-05")]
    assert set(_status(instance, defs, keys).values()) == {"FRESH"}
    spec = base / "slos.yaml"
    spec.write_text(spec.read_text().replace("target: 0.999}]\n  alertPolicies", "target: 0.995}]\n  alertPolicies"))
    defs.resolve_job_def("observe_specs_job").execute_in_process(instance=instance)
    assert _status(instance, defs, keys) == {"compliance_report": "STALE", "error_budgets": "STALE", "sli_minutely": "STALE",
                                             "parsed_logs": "FRESH"}


def test_compliance_records_its_inputs(month_to_date):
    base, _, _, _ = month_to_date
    compliance = json.loads((base / "wh" / layout.COMPLIANCE_REPORT.relative("2026-02")).read_text())
    versions = compliance["input_data_versions"]
    assert set(versions) == {"error_budgets[2026-02]", "sli_metrics[2026-02]", "slo_targets[2026-02]", "slo_specs"}
    assert all(versions.values())
    assert versions["slo_specs"] == compliance["spec_hash"]


def test_declared_column_schemas_match_what_is_written(month_to_date):
    import pyarrow.parquet as pq

    from slo_assets.definitions import defs as load_defs

    defs = load_defs()

    base, _, _, _ = month_to_date
    graph = defs.resolve_asset_graph()
    written = {
        "log_file_index": base / "wh" / "log_file_index.parquet",
        "parsed_logs": base / "wh" / "parsed_logs" / "2026-02-03.parquet",
        "sli_minutely": base / "wh" / "sli_minutely" / "2026-02-03.parquet",
        "sli_metrics": base / "wh" / "sli_metrics" / "2026-02.parquet",
        "slo_targets": base / "wh" / "slo_targets" / "2026-02.parquet",
    }
    for key, path in written.items():
        declared = [c.name for c in graph.get(dg.AssetKey(key)).metadata["dagster/column_schema"].columns]
        assert declared == pq.read_schema(path).names, key


def test_budget_and_compliance_materializations_carry_tables_and_charts(month_to_date):
    _, _, instance, _ = month_to_date
    for key, table_key, chart_key in (("error_budgets", "budgets", "burn_down"), ("compliance_report", "status", "budget_consumed")):
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        metadata = event.asset_materialization.metadata
        assert metadata[table_key].value.startswith("|"), key  # a Markdown table
        assert metadata[chart_key].value.startswith("![chart](<data:image/svg+xml;utf8,%3Csvg"), key  # an SVG, inline


def test_the_rules_proof_runs_only_where_asked(month_to_date, monkeypatch):
    """A UI materialization or backfill of alert_rules plans the proof and skips it (promtool took 84 s of a month
    backfill); prove_rules_job (run --prove-rules) and a run tagged for it (the month close) prove the month."""
    from slo_assets.defs.outputs import rules_proof

    calls = []
    monkeypatch.setattr(rules_proof, "find_promtool", lambda: calls.append(1))  # None: "not installed", after being asked
    base, resources, instance, first = month_to_date
    defs = build_definitions(resources)
    key = dg.AssetCheckKey(dg.AssetKey("alert_rules"), rules_proof.CHECK_RULES_AGREE)
    implicit = defs.resolve_implicit_global_asset_job_def()
    backfill = implicit.execute_in_process(instance=instance, partition_key="2026-02", asset_selection=[dg.AssetKey("alert_rules")],
                                           raise_on_error=False)
    assert backfill.success and calls == [] and backfill.get_asset_check_evaluations() == []
    proof = defs.resolve_job_def("prove_rules_job").execute_in_process(instance=instance, partition_key="2026-02", raise_on_error=False)
    assert calls == [1] and [e.asset_check_key for e in proof.get_asset_check_evaluations()] == [key]
    tagged = implicit.execute_in_process(instance=instance, partition_key="2026-02", asset_selection=[dg.AssetKey("alert_rules")],
                                         tags={rules_proof.PROVE_TAG: "1"}, raise_on_error=False)
    assert calls == [1, 1] and not tagged.get_asset_check_evaluations()[0].passed
