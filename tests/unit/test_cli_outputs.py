"""`run` copies a month's published files from the warehouse into OUT/YYYY-MM/ all or nothing: a
failure while copying leaves the previous outputs and no partial folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slo_assets.cli import run as cli  # the run command: its request, its outputs
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse

ROOT = Path(__file__).resolve().parents[2]


def _request(tmp_path: Path) -> cli.RunRequest:
    warehouse = tmp_path / "warehouse"
    store = Warehouse(warehouse)
    for dataset in layout.PUBLISHED:
        text = json.dumps({"name": dataset.key}) if dataset.template.endswith(".json") else f"{dataset.key}\n"
        store.write_bytes_atomic(dataset.path(store, "2026-02", "shop-20260210T1006Z" if dataset.has_members else None), text.encode())
    return cli.RunRequest(month="2026-02", logs=tmp_path, specs=[ROOT / "examples" / "slos.yaml"], out=tmp_path / "out",
                          warehouse=warehouse)


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name != "2026-02")


def test_outputs_replace_the_previous_ones_whole(tmp_path):
    request = _request(tmp_path)
    (request.out / "2026-02").mkdir(parents=True)
    (request.out / "2026-02" / "stale.txt").write_text("from an older layout")
    documents, target = cli._write_outputs(request)
    assert documents["compliance_report"] == {"name": "compliance_report"}
    assert sorted(p.name for p in target.iterdir()) == ["alerts.rules.yml", "compliance.json", "error_budgets.json",
                                                         "grafana-slo-compliance.json", "grafana-slo-tracking.json",
                                                         "remediation_plan.json", "report.html", "reviews", "slo_metrics.prom"]
    assert (target / "report.html").read_text() == "report_html\n"
    assert [p.name for p in (target / "reviews").iterdir()] == ["shop-20260210T1006Z.md"]
    assert _leftovers(request.out) == []


def test_a_failure_while_copying_leaves_the_previous_outputs_and_no_partial_folder(tmp_path, monkeypatch):
    request = _request(tmp_path)
    (request.out / "2026-02").mkdir(parents=True)
    (request.out / "2026-02" / "compliance.json").write_text("previous")
    real = Path.write_bytes

    def broken(self, payload):
        if self.name == "report.html":
            real(self, b"<html>half")
            raise OSError(28, "No space left on device")
        return real(self, payload)

    monkeypatch.setattr(Path, "write_bytes", broken)
    with pytest.raises(OSError, match="No space"):
        cli._write_outputs(request)
    assert (request.out / "2026-02" / "compliance.json").read_text() == "previous"
    assert _leftovers(request.out) == []


def test_a_first_run_whose_chain_did_not_finish_leaves_no_month_folder(tmp_path):
    request = _request(tmp_path)
    store = Warehouse(request.warehouse)
    layout.REMEDIATION_PLAN.path(store, "2026-02").unlink()
    with pytest.raises(cli.InputError, match="remediation_plan"):
        cli._write_outputs(request)
    assert list(request.out.iterdir()) == []


def test_the_month_folder_has_the_mode_a_plain_mkdir_would_give(tmp_path):
    """It was made by mkdtemp (0700): a web server running as another user could not serve report.html."""
    import os

    umask = os.umask(0o022)
    try:
        _, target = cli._write_outputs(_request(tmp_path))
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o755
