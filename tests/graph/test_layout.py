"""Every table the project writes is a declared asset: a materialized warehouse holds no file that
no asset owns (other than the parse cache under _staging/), and each asset says where its file is."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from slo_assets.cli.orchestrate import materialize_month, materialize_review
from slo_assets.definitions import build_definitions
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "tests" / "data" / "matrix"
MONTH = "2026-11"
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
PARTITION_OF = {"day": DAYS[0], "month": MONTH, "quarter": "2026-10", "year": "2026"}  # the month's quarter and year
ASSETS_WITHOUT_FILES = {"slo_specs", "breach_acks"}  # observations: of the spec files (their hash), of acks (in the instance)


def test_every_dataset_is_an_asset_and_every_asset_has_its_dataset():
    keys = {key.to_user_string() for key in build_definitions().resolve_asset_graph().get_all_asset_keys()}
    declared = {dataset.key for dataset in layout.DATASETS}
    assert declared <= keys, declared - keys
    assert keys - declared == ASSETS_WITHOUT_FILES


def test_paths_are_checked_and_owned():
    assert layout.PARSED_LOGS.relative("2026-11-01") == "parsed_logs/2026-11-01.parquet"
    assert layout.REPORT_HTML.relative("2026-11") == "outputs/2026-11/report.html"
    with pytest.raises(ValueError, match="not a day key"):
        layout.PARSED_LOGS.relative("2026-11")
    with pytest.raises(ValueError, match="not a month key"):
        layout.COMPLIANCE_REPORT.relative("../../etc")
    assert layout.owner_of("outputs/2026-11/slo_metrics.prom") == "prometheus_exposition"
    assert layout.owner_of("_staging/ab/cd.parquet") == layout.SCRATCH
    assert layout.owner_of("evaluations/2026-11.json") is None  # the old, undeclared name
    assert layout.owner_of("parsed_logs/2026-11-01.parquet.bak") is None


def test_partitions_lists_what_was_written(tmp_path):
    store = Warehouse(tmp_path)
    for month in ("2026-09", "2026-11"):
        store.write_bytes_atomic(layout.COMPLIANCE_REPORT.path(store, month), b"{}")
        store.write_bytes_atomic(layout.SLI_METRICS.path(store, month), b"x")
    (tmp_path / "sli_metrics" / "notes.txt").write_text("not a partition")
    assert layout.COMPLIANCE_REPORT.partitions(store) == ["2026-09", "2026-11"]
    assert layout.SLI_METRICS.partitions(store) == ["2026-09", "2026-11"]
    assert layout.REMEDIATION_RUNS.partitions(store) == []


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """Three days of the matrix month, the monthly chain, the remediation job and the month's quarter and year
    reviewed, in one instance."""
    base = tmp_path_factory.mktemp("layout")
    resources = {"log_source": LogSource(root=str(MATRIX / "logs-month")), "warehouse": WarehouseResource(base=str(base / "wh")),
                 "slo_settings": SloSettings(spec_paths=[str(MATRIX / "slos.yaml")])}
    instance = dg.DagsterInstance.ephemeral()
    outcome = materialize_month(MONTH, resources, instance, days=DAYS)
    assert not outcome.failed_runs, outcome.failed_runs
    remediation = build_definitions(resources).resolve_job_def("remediation_job").execute_in_process(
        instance=instance, partition_key=MONTH, raise_on_error=False)
    assert remediation.success
    for period in (PARTITION_OF["quarter"], PARTITION_OF["year"]):
        assert materialize_review(period, resources, instance) is None
    return base / "wh", instance, resources


def test_a_materialized_warehouse_holds_only_declared_datasets(warehouse):
    root, _, _ = warehouse
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    owners = {path: layout.owner_of(path) for path in files}
    assert [path for path, owner in owners.items() if owner is None] == []
    written = set(owners.values()) - {layout.SCRATCH}
    # every dataset was written; the action layer's only once an action ran (tests/e2e/test_daemon_e2e.py has them),
    # the review drafts only in a month with an incident (tests/graph/test_incident_reviews.py has them)
    plan = json.loads((root / layout.REMEDIATION_PLAN.relative(MONTH)).read_text())
    drafts = {"incident_reviews"} if not any(e["incidents"] for e in plan["entries"]) else set()
    assert written >= {d.key for d in layout.DATASETS} - {"remediation_runs", "learning_record"} - drafts, \
        {d.key for d in layout.DATASETS} - written


def test_each_materialization_points_at_its_file(warehouse):
    root, instance, _ = warehouse
    checked = 0
    for dataset in layout.DATASETS:
        if dataset.grain == "none":
            continue
        partition = PARTITION_OF[dataset.grain]
        record = instance.get_latest_materialization_event(dg.AssetKey(dataset.key))
        if record is None:  # learning_record without actions
            continue
        metadata = record.asset_materialization.metadata
        if "path" not in metadata:
            continue
        assert Path(metadata["path"].value).parent == (root / dataset.relative(partition)).parent, dataset.key
        checked += 1
    assert checked >= 15


def test_output_assets_called_directly_write_the_published_files(warehouse):
    from slo_assets.defs.outputs.assets import OUTPUT_ASSETS

    root, instance, resources = warehouse
    store = Warehouse(root)
    for asset in OUTPUT_ASSETS:
        dataset = layout.by_key(asset.key.to_user_string())
        before = dataset.path(store, MONTH).read_bytes()
        context = dg.build_asset_context(partition_key=MONTH, instance=instance)
        result = asset(context, warehouse=resources["warehouse"], slo_settings=resources["slo_settings"])
        assert result.metadata["bytes"] == len(dataset.path(store, MONTH).read_bytes()) > 0
        assert result.metadata["summary"]
        if dataset is not layout.REPORT_HTML:  # the report shows when it was generated
            assert dataset.path(store, MONTH).read_bytes() == before


def test_the_warehouse_table_in_the_docs_lists_every_dataset():
    text = (ROOT / "docs" / "outputs.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line.split("|")[2].strip().strip("`")
            for line in text.splitlines() if line.startswith("| `")}
    assert {d.template: d.key for d in layout.DATASETS}.items() <= rows.items()
