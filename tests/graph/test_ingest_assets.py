"""The ingestion assets materialized in-process, with their checks and data versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import pyarrow.parquet as pq
import pytest

from slo_assets.definitions import build_definitions
from slo_assets.defs.ingest.assets import (
    CHECK_EXPECTATIONS,
    CHECK_QUARANTINE,
    CHECK_SCHEMA,
    log_file_index_asset,
    parsed_logs,
    read_index,
)
from slo_assets.defs.partitions import DAILY
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from slo_assets.ingest.index import index_summary

DAY = "2026-10-10"
log_file_index = log_file_index_asset(DAILY)  # on the calendar, as a test materializes it alone


def test_definitions_load():
    dg.Definitions.validate_loadable(build_definitions())
    assert build_definitions().resolve_job_def("ingest_job") is not None
    keys = {key.to_user_string() for key in build_definitions().resolve_asset_graph().get_all_asset_keys()}
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
    assert table.column_names == ["ts", "service", "operation", "method", "path", "status", "duration_ms", "client", "source_file", "source_line"]
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


def test_a_day_whose_parse_is_not_in_this_parse_cache_fails_naming_the_file(tmp_path):
    """Workers that do not share the parse cache: the day fails, it is not written as a day without requests."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "x.jsonl").write_text('{"ts":"2026-10-10T10:00:00Z","service":"a","status":200}\n' * 5)
    indexed = {"log_source": LogSource(root=str(logs)), "warehouse": WarehouseResource(base=str(tmp_path / "wh"))}
    assert observe_index(indexed).success
    elsewhere = {**indexed, "warehouse": WarehouseResource(base=str(tmp_path / "wh"), stage_dir=str(tmp_path / "other_cache"))}
    run = dg.materialize([log_file_index, parsed_logs], selection=[parsed_logs], partition_key=DAY, resources=elsewhere,
                         raise_on_error=False)
    assert not run.success
    failure = next(e for e in run.all_events if e.is_step_failure).step_failure_data.error
    message = (failure.cause or failure).message
    assert "MissingStageError" in (failure.cause or failure).cls_name
    assert f"x.jsonl: indexed, but its parse {tmp_path / 'other_cache'}" in message
    assert not (tmp_path / "wh" / "parsed_logs" / f"{DAY}.parquet").exists()


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


def test_index_observation_names_bad_files_and_its_checks_fail_where_the_user_must_act(tmp_path, monkeypatch):
    from slo_assets.defs.ingest.assets import CHECK_FILES_READABLE, CHECK_LINES_ACCEPTED

    logs = tmp_path / "logs"
    logs.mkdir()
    good = '{"ts":"2026-10-10T10:00:00Z","service":"a","status":200}'
    (logs / "app.jsonl").write_text("\n".join([good] * 20) + "\n")
    combined = '10.0.0.1 - - [10/Oct/2026:10:00:00 +0000] "GET /a/b HTTP/1.1" 200 5 "-" "curl"'
    (logs / "access.log").write_text("\n".join([combined] * 30) + "\n")
    (logs / "locked.log").write_text(good + "\n")
    (logs / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    real_open = open

    def guarded_open(path, *args, **kwargs):  # the tests run as root: refuse this one read by hand
        if str(path).endswith("locked.log"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    resources = {"log_source": LogSource(root=str(logs), format="jsonl"), "warehouse": WarehouseResource(base=str(tmp_path / "wh"))}
    result = observe_index(resources)
    assert result.success  # an unreadable file does not stop the month
    checks = _checks(result)
    readable = checks[CHECK_FILES_READABLE]
    assert not readable.passed and readable.severity == dg.AssetCheckSeverity.ERROR
    assert readable.description == "1 unreadable: locked.log (PermissionError: Permission denied)"
    accepted = checks[CHECK_LINES_ACCEPTED]
    assert not accepted.passed
    assert accepted.description == "access.log: 30 of 30 lines rejected: invalid_json"
    summary_event = next(e for e in result.get_asset_observation_events() if e.partition is None)
    metadata = summary_event.event_specific_data.asset_observation.metadata
    problems = metadata["files_not_fully_read"].value
    assert "| locked.log | unreadable | PermissionError: Permission denied |" in problems
    assert "| photo.png | skipped | binary content (NUL bytes), not a text log |" in problems
    assert metadata["all_lines_accounted"].value is True
    assert metadata["rows"].value == 20 and metadata["quarantined_lines"].value == 30


def test_quarantine_check_says_how_many_lines_were_rejected_and_why(resources, tmp_path):
    logs = tmp_path / "combined_as_json"
    logs.mkdir()
    line = '10.0.0.1 - - [10/Oct/2026:10:00:00 +0000] "GET /a/b HTTP/1.1" 200 5 "-" "curl"'
    (logs / "access.log").write_text("\n".join([line] * 40) + "\n")
    resources = {**resources, "log_source": LogSource(root=str(logs), format="jsonl")}
    observe_index(resources)
    run = dg.materialize([log_file_index, parsed_logs], selection=[parsed_logs], partition_key=DAY, resources=resources)
    check = _checks(run)[CHECK_QUARANTINE]
    # Lines read with the wrong format are placed on the day written in them, not lost from every day.
    assert not check.passed and check.description == "40 of 40 lines rejected: invalid_json"


def test_an_empty_day_passes_its_expectations_without_running_them():
    from slo_assets.defs.ingest.assets import CHECK_EXPECTATIONS, _expectations_check

    result = _expectations_check(None, 0, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC), {"2026-02-01": 0})
    assert (result.check_name, result.passed, result.description) == (CHECK_EXPECTATIONS, True, "no rows: nothing to check")
