"""parsed_logs_plausible, materialized in process beside parsed_logs: ingress-nginx lines forced through the
combined reading warn, naming upstreaminfo; read as sniffed, the same day passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from slo_assets.definitions import build_definitions
from slo_assets.defs.ingest.assets import log_file_index_asset, parsed_logs
from slo_assets.defs.ingest.plausibility import CHECK_PLAUSIBLE, parsed_logs_plausible
from slo_assets.defs.partitions import DAILY
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource

INGRESS = Path(__file__).parents[1] / "data" / "formats" / "ingress-nginx.log"
DAY = "2020-02-07"  # 26 of the sample's 29 lines
SPEC = (INGRESS.parent / "ingress-slos.yaml").read_text()  # shared with tests/e2e/test_plausible_fields.py


def _check(tmp_path: Path, log_format: str) -> dg.AssetCheckEvaluation:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(INGRESS, logs / "access.log")
    (tmp_path / "slo.yaml").write_text(SPEC)
    resources = {"log_source": LogSource(root=str(logs), log_format=log_format, service_source="fixed", service_name="ingress"),
                 "warehouse": WarehouseResource(base=str(tmp_path / "wh")),
                 "slo_settings": SloSettings(spec_paths=[str(tmp_path / "slo.yaml")])}
    assert build_definitions(resources).resolve_job_def("index_job").execute_in_process().success
    run = dg.materialize([log_file_index_asset(DAILY), parsed_logs, parsed_logs_plausible], selection=[parsed_logs],
                         partition_key=DAY, resources=resources)
    assert run.success
    return next(e for e in run.get_asset_check_evaluations() if e.check_name == CHECK_PLAUSIBLE)


def test_request_length_read_as_the_request_time_warns_naming_upstreaminfo(tmp_path):
    check = _check(tmp_path, "combined")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["findings"].value == 2
    assert check.metadata["presets_to_try"].value == ["upstreaminfo"]
    assert check.description.startswith("access.log: duration_ms implausible: median 345.5 s over 26 requests (over 60 s)")
    assert "try --log-format upstreaminfo" in check.description
    assert "$request_length" in check.metadata["detail"].value


def test_the_same_lines_read_as_sniffed_pass(tmp_path):
    check = _check(tmp_path, "")
    assert check.passed and check.description == "request times and statuses plausible"


def test_the_check_is_in_the_day_jobs():
    job = build_definitions().resolve_job_def("ingest_job")
    assert dg.AssetCheckKey(dg.AssetKey("parsed_logs"), CHECK_PLAUSIBLE) in job.asset_layer.asset_graph.asset_check_keys
