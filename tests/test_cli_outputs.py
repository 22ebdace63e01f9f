"""`run` writes a month's outputs all or nothing: a failure while writing leaves the previous outputs and
no partial folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slo_assets import cli
from slo_assets.outputs import prometheus, report

ROOT = Path(__file__).resolve().parents[1]


def _request(tmp_path: Path) -> cli.RunRequest:
    warehouse = tmp_path / "warehouse"
    for name in cli.OUTPUT_DOCUMENTS:
        (warehouse / name).mkdir(parents=True)
        (warehouse / name / "2026-02.json").write_text(json.dumps({"name": name}))
    return cli.RunRequest(month="2026-02", logs=tmp_path, specs=[ROOT / "examples" / "slos.yaml"], out=tmp_path / "out",
                          warehouse=warehouse)


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name != "2026-02")


def test_outputs_replace_the_previous_ones_whole(tmp_path, monkeypatch):
    request = _request(tmp_path)
    (request.out / "2026-02").mkdir(parents=True)
    (request.out / "2026-02" / "stale.txt").write_text("from an older layout")
    monkeypatch.setattr(prometheus, "exposition_of_documents", lambda compliance, budgets: b"# exposition\n")
    monkeypatch.setattr(report, "write_report", lambda store, month, target: target.write_text("<html></html>") or 13)
    documents, target = cli._write_outputs(request)
    assert documents["compliance"] == {"name": "compliance"}
    assert sorted(p.name for p in target.iterdir()) == ["alerts.rules.yml", "compliance.json", "error_budgets.json",
                                                         "remediation_plan.json", "report.html", "slo_metrics.prom"]
    assert _leftovers(request.out) == []


def test_a_failure_while_writing_leaves_the_previous_outputs_and_no_partial_folder(tmp_path, monkeypatch):
    request = _request(tmp_path)
    (request.out / "2026-02").mkdir(parents=True)
    (request.out / "2026-02" / "compliance.json").write_text("previous")

    def broken(store, month, target):
        target.write_text("<html>half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(prometheus, "exposition_of_documents", lambda compliance, budgets: b"# exposition\n")
    monkeypatch.setattr(report, "write_report", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        cli._write_outputs(request)
    assert (request.out / "2026-02" / "compliance.json").read_text() == "previous"
    assert _leftovers(request.out) == []


def test_a_first_run_that_fails_while_writing_leaves_no_month_folder(tmp_path, monkeypatch):
    request = _request(tmp_path)
    (request.warehouse / "remediation_plan" / "2026-02.json").unlink()
    with pytest.raises(cli.InputError, match="remediation_plan"):
        cli._write_outputs(request)
    assert list(request.out.iterdir()) == []
