"""The ingestion assets materialized in-process, with their checks and data versions."""

from __future__ import annotations

import json

import dagster as dg
import pyarrow.parquet as pq
import pytest

from slo_assets.defs.ingestion import (
    CHECK_EXPECTATIONS,
    CHECK_QUARANTINE,
    CHECK_SCHEMA,
    log_file_index,
    parsed_logs,
    read_index,
)
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from slo_assets.definitions import build_definitions, defs
from slo_assets.ingest.index import index_summary

DAY = "2026-10-10"


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("ingest_job") is not None
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"log_file_index", "parsed_logs"} <= keys


@pytest.fixture()
def resources(sample_month, tmp_path):
    return {
        "log_source": LogSource(root=str(sample_month)),
        "warehouse": WarehouseResource(base=str(tmp_path / "warehouse")),
    }


def observe_index(resources, instance=None):
    """The index_job, as the daemon runs it: observing log_file_index fingerprints, stages and versions days."""
    defs = build_definitions({"slo_settings": SloSettings(), **resources})
    return defs.resolve_job_def("index_job").execute_in_process(instance=instance)


def _checks(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_day_partition_materializes_with_checks_and_stable_version(resources, sample_month, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    assert observe_index(resources, instance).success
    summary = index_summary(read_index(resources["warehouse"]))
    truth = json.loads((sample_month / "_truth.json").read_text())
    assert summary["rows"] == truth["events"]
    assert summary["quarantined_lines"] == truth["malformed_lines"]

    first = dg.materialize([log_file_index, parsed_logs], selection=[parsed_logs], partition_key=DAY, resources=resources, instance=instance)
    assert first.success
    checks = _checks(first)
    assert checks[CHECK_SCHEMA].passed and checks[CHECK_EXPECTATIONS].passed and checks[CHECK_QUARANTINE].passed
    assert checks[CHECK_QUARANTINE].metadata["threshold"].value == 0.01
    materialization = first.asset_materializations_for_node("parsed_logs")[0]
    assert materialization.metadata["dagster/row_count"].value == truth["by_day"][DAY]

    written = tmp_path / "warehouse" / "parsed_logs" / f"{DAY}.parquet"
    table = pq.read_table(written)
    assert table.num_rows == truth["by_day"][DAY]
    assert table.column_names == ["ts", "service", "operation", "method", "path", "status", "duration_ms", "source_file", "source_line"]
    content = written.read_bytes()

    again = dg.materialize([log_file_index, parsed_logs], selection=[parsed_logs], partition_key=DAY, resources=resources, instance=instance)
    assert written.read_bytes() == content
    version = lambda run: run.asset_materializations_for_node("parsed_logs")[0].tags["dagster/data_version"]  # noqa: E731
    assert version(again) == version(first)


def test_quarantine_check_fails_above_threshold(resources, tmp_path):
    logs = tmp_path / "bad_logs"
    logs.mkdir()
    good = '{"ts":"2026-10-10T10:00:00Z","service":"a","status":200}'
    (logs / "x.jsonl").write_text("\n".join([good] * 90 + ["broken"] * 10) + "\n")
    resources = {**resources, "log_source": LogSource(root=str(logs), max_quarantine_ratio=0.05)}
    observe_index(resources)
    run = dg.materialize([log_file_index, parsed_logs], selection=[parsed_logs], partition_key=DAY, resources=resources)
    check = _checks(run)[CHECK_QUARANTINE]
    assert not check.passed
    assert check.metadata["quarantine_ratio"].value == pytest.approx(0.1)
    assert check.metadata["by_reason"].value == {"invalid_json": 10}


def test_warehouse_on_an_fsspec_url(sample_month, tmp_path):
    import fsspec

    resources = {
        "log_source": LogSource(root=str(sample_month)),
        "warehouse": WarehouseResource(base="memory://slo-warehouse", stage_dir=str(tmp_path / "stage")),
    }
    observe_index(resources)
    run = dg.materialize([log_file_index, parsed_logs], selection=[parsed_logs], partition_key=DAY, resources=resources)
    assert run.success
    memory = fsspec.filesystem("memory")
    with memory.open(f"/slo-warehouse/parsed_logs/{DAY}.parquet", "rb") as handle:
        assert pq.read_table(handle).num_rows == json.loads((sample_month / "_truth.json").read_text())["by_day"][DAY]
