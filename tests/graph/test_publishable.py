"""The UI path publishes nothing misleading: the same month run through the jobs the UI and the daemon
launch (no CLI refusal in front) with the logs read as the wrong format stops at the blocking check
`month_is_publishable`, which says why, and the last good month's outputs stay as they were."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from slo_assets.cli.orchestrate import materialize_month, month_days
from slo_assets.core.calendar import month_range_ms
from slo_assets.definitions import build_definitions
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from slo_assets.ingest.generate import write_logs
from slo_assets.ingest.index_report import IndexSummary
from slo_assets.ingest.publishable import MONTH_WITHOUT_LINES, MOSTLY_REJECTED, NO_FILE_READ, refusal
from slo_assets.warehouse import layout

ROOT = Path(__file__).resolve().parents[2]


def test_the_reasons_a_month_is_not_published():
    now = month_range_ms("2026-12")[0]
    assert refusal(IndexSummary(), "2026-10", now).kind == NO_FILE_READ
    assert refusal(IndexSummary(files=1, lines=100, quarantined_lines=90, reasons={"invalid_json": 90}), "2026-10", now).kind == MOSTLY_REJECTED
    held = IndexSummary(files=1, lines=100, rows=100, days_with_data=("2015-05-17", "2015-05-20"))
    wrong = refusal(held, "2015-06", now)
    assert (wrong.kind, wrong.nearest_month) == (MONTH_WITHOUT_LINES, "2015-05") and "2015-05-17 .. 2015-05-20" in wrong.text()
    assert refusal(held, "2015-05", now) is None
    assert refusal(held, "2026-12", now) is None  # the running month may wait for its first line


def test_a_month_read_as_the_wrong_format_through_the_ui_jobs_publishes_nothing(tmp_path):
    write_logs(tmp_path / "logs", "2026-02", 3_000, "combined", seed=3)
    good = {"log_source": LogSource(root=str(tmp_path / "logs")), "warehouse": WarehouseResource(base=str(tmp_path / "wh")),
            "slo_settings": SloSettings(spec_paths=[str(ROOT / "examples" / "slos.yaml")])}
    instance = dg.DagsterInstance.ephemeral()
    first = materialize_month("2026-02", good, instance, days=month_days("2026-02")[:3])
    assert not first.failed_runs, first.failed_runs
    report = layout.REPORT_HTML.path(good["warehouse"].store(), "2026-02")
    before = report.read_bytes()
    wrong = {**good, "log_source": LogSource(root=str(tmp_path / "logs"), format="jsonl")}
    defs = build_definitions(wrong)
    days = defs.resolve_job_def("daily_job")
    for day in month_days("2026-02")[:3]:
        days.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)
    chain = defs.resolve_job_def("monthly_chain_job").execute_in_process(instance=instance, partition_key="2026-02", raise_on_error=False)
    evaluation = next(e for e in chain.get_asset_check_evaluations() if e.check_name == "month_is_publishable")
    assert not evaluation.passed and "2026-02 not published" in evaluation.description and "rejected" in evaluation.description
    materialized = {e.asset_key.to_user_string() for e in chain.get_asset_materialization_events()}
    assert "sli_metrics" in materialized and not materialized & {"compliance_report", "report_html", "prometheus_exposition", "alert_rules"}
    assert report.read_bytes() == before
