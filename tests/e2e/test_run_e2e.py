"""`slo-assets run` end to end on generated logs: incidents page and fail SLOs; a clean month is all met."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from slo_assets.ingest.generate import write_logs
from tests.conftest import run_cli

pytestmark = pytest.mark.xdist_group("incident_month")  # shares the session fixture: one worker builds it

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "slos.yaml"
COVERING_SLO = {"checkout": "checkout-availability", "search": "search-availability", "auth": "auth-availability",
                "catalog": "catalog-item-latency"}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_incident_pages_during_its_window(incident_month):
    truth, _, budgets, _, _ = incident_month
    for incident in truth["incidents"]:
        slo = COVERING_SLO[incident["service"]]
        windows = [w for w in budgets["slos"] if w["slo"] == slo]
        pages = [a for w in windows for a in w["alerts"] if a["severity"] == "page"]
        start, end = _ts(incident["start"]), _ts(incident["end"])
        overlapping = [a for a in pages if _ts(a["start"]) < end and _ts(a["end"]) > start]
        assert overlapping, f"no page for {incident}"
        assert all(a["peak_burn_rate"] > a["burn_rate_threshold"] for a in overlapping)


def test_incidents_fail_their_slos_and_the_documents_hold_the_contract(incident_month):
    truth, compliance, budgets, done, _ = incident_month
    status = {(e["slo"], e["window"]): e["status"] for e in compliance["slos"]}
    assert status[("checkout-availability", "1M-calendar")] == "failed"
    assert status[("auth-availability", "28d-rolling")] in ("failed", "at_risk")
    assert "failed" in done.stdout and "checkout-availability" in done.stdout
    for key in ("schema_version", "period", "generated_at", "slos", "services", "summary", "data_quality", "spec_hash",
                "code_version", "input_data_versions"):
        assert key in compliance
    entry = next(e for e in compliance["slos"] if e["slo"] == "checkout-availability" and e["window"] == "1M-calendar")
    for key in ("slo", "service", "objective", "target", "budgeting_method", "good", "total", "sli", "error_budget", "status"):
        assert key in entry
    assert set(entry["error_budget"]) == {"allowed", "consumed", "consumed_ratio", "remaining_ratio"}
    checkout_5xx = truth["by_service"]["checkout"]["status_5xx"]
    assert entry["total"] == truth["by_service"]["checkout"]["total"]
    assert entry["good"] == entry["total"] - checkout_5xx
    assert entry["error_budget"]["consumed"] == checkout_5xx
    assert entry["error_budget"]["allowed"] == pytest.approx(entry["total"] * 0.001, abs=1e-9)
    assert compliance["data_quality"]["rows"] == truth["events"]
    counted = sum(compliance["summary"][k] for k in ("met", "at_risk", "failed", "insufficient_data"))
    assert compliance["summary"]["failed"] >= 1 and counted == len(compliance["slos"])
    window = next(w for w in budgets["slos"] if w["slo"] == "checkout-availability" and w["window"] == "1M-calendar")
    assert set(window["burn_rates"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "period"}
    assert [t["percent"] for t in window["thresholds"]] == [50, 80, 100] and window["thresholds"][2]["crossed_at"]
    assert window["forecast"]["exhausted"] is True
    assert all(set(a) >= {"severity", "long_window", "short_window", "start", "end", "peak_burn_rate"} for a in window["alerts"])


def test_fail_on_breach_and_rerun_is_identical(incident_month):
    _, compliance, _, _, base = incident_month
    again = run_cli(["run", "--logs", str(base / "logs"), "--spec", str(SPEC), "--month", "2026-02", "--out", str(base / "out"),
                     "--warehouse", str(base / "out" / "warehouse"), "--fail-on-breach"], base)
    assert again.returncode == 3, again.stdout + again.stderr
    rerun = json.loads((base / "out" / "2026-02" / "compliance.json").read_text())
    from prometheus_client.parser import text_string_to_metric_families

    families = {f.name for f in text_string_to_metric_families((base / "out" / "2026-02" / "slo_metrics.prom").read_text())}
    assert {"slo_sli_ratio", "slo_error_budget_remaining_ratio", "slo_burn_rate", "slo_status"} <= families
    rules = (base / "out" / "2026-02" / "alerts.rules.yml").read_text()
    assert "alert: SLOBurnRatePage" in rules and "record: slo:sli_error:ratio_rate1h" in rules
    strip = lambda doc: {k: v for k, v in doc.items() if k != "generated_at"}  # noqa: E731
    assert strip(rerun) == strip(compliance)


def test_incident_free_month_is_all_met(tmp_path):
    write_logs(tmp_path / "logs", "2026-02", 60_000, "combined", seed=8, incidents=0)
    done = run_cli(["run", "--logs", str(tmp_path / "logs"), "--spec", str(SPEC), "--month", "2026-02", "--out", str(tmp_path / "out"),
                    "--fail-on-breach"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    compliance = json.loads((tmp_path / "out" / "2026-02" / "compliance.json").read_text())
    assert {e["status"] for e in compliance["slos"]} == {"met"}
    assert compliance["summary"]["compliance_percent"] == 100.0


def test_bad_input_exits_2_with_a_clear_message(tmp_path):
    missing = run_cli(["run", "--logs", str(tmp_path / "nowhere"), "--spec", str(SPEC), "--month", "2026-02", "--out", str(tmp_path)], tmp_path)
    assert missing.returncode == 2 and "--logs" in missing.stderr and "not a folder" in missing.stderr
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access log").write_text("")
    a_file = run_cli(["run", "--logs", str(tmp_path / "logs" / "access log"), "--spec", str(SPEC), "--month", "2026-02",
                      "--out", str(tmp_path)], tmp_path)
    assert a_file.returncode == 2 and "Traceback" not in a_file.stderr
    assert f"--logs {tmp_path / 'logs'} --include 'access log'" in a_file.stderr  # the command that reads just that file
    (tmp_path / "logs" / "access log").unlink()
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text(SPEC.read_text().replace("target: 0.999}", "target: 9}", 1))
    invalid = run_cli(["run", "--logs", str(tmp_path / "logs"), "--spec", str(bad_spec), "--month", "2026-02", "--out", str(tmp_path)], tmp_path)
    assert invalid.returncode == 2 and "spec.objectives[0].target" in invalid.stderr
