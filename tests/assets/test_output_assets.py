"""The published outputs, each asset called directly with build_asset_context: a few lines a test."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import pytest
import yaml

from slo_assets.defs.outputs.assets import OUTPUT_ASSETS
from slo_assets.defs.resources import SloSettings, WarehouseResource
from slo_assets.warehouse import layout

SPEC = Path(__file__).resolve().parents[2] / "examples" / "slos.yaml"
ASSETS = {asset.key.to_user_string(): asset for asset in OUTPUT_ASSETS}


def _materialize(key: str, warehouse: Path) -> dg.MaterializeResult:
    context = dg.build_asset_context(partition_key="2026-02")
    return ASSETS[key](context=context, warehouse=WarehouseResource(base=str(warehouse)), slo_settings=SloSettings(spec_paths=[str(SPEC)]))


def test_alert_rules_are_written_for_the_month_with_the_version_of_their_bytes(tmp_path):
    result = _materialize("alert_rules", tmp_path)
    written = (tmp_path / "outputs" / "2026-02" / "alerts.rules.yml").read_bytes()
    assert result.data_version == dg.DataVersion(hashlib.sha256(written).hexdigest()[:24])
    groups = yaml.safe_load(written)["groups"]
    assert result.metadata["summary"].startswith(f"{sum(len(g['rules']) for g in groups)} rules in {len(groups)} groups")


def test_an_output_of_a_month_not_evaluated_names_what_to_materialize_first(tmp_path):
    with pytest.raises(dg.Failure, match="compliance_report for 2026-02 is missing .*: materialize the monthly chain first"):
        _materialize("prometheus_exposition", tmp_path)
    assert not layout.PROMETHEUS_EXPOSITION.path(_store(tmp_path), "2026-02").exists()


def _store(warehouse: Path):
    return WarehouseResource(base=str(warehouse)).store()
