"""The project's promises: the README's two commands, CI running exactly the test one, no deprecated API."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in first_block.strip().splitlines()]


def test_readme_starts_with_exactly_the_demo_and_test_commands():
    assert readme_commands() == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert ci[-1] == "bash scripts/test.sh"
    assert "exec .venv/bin/slo-assets demo" in (ROOT / "scripts" / "demo.sh").read_text()


def test_project_code_uses_no_deprecated_or_preview_api():
    script = """
import warnings, json
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import slo_assets.definitions as d
    import dagster as dg
    dg.Definitions.validate_loadable(d.defs())
    d.defs().resolve_asset_graph()
    import slo_assets.cli, slo_assets.cli.orchestrate, slo_assets.warehouse.schemas
    slo_assets.warehouse.schemas.ParsedLogs.to_schema()
kinds = (DeprecationWarning, PendingDeprecationWarning, dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning)
print(json.dumps([f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
                  for w in caught if issubclass(w.category, kinds) and "slo_assets" in w.filename]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_demo_materializes_a_month_into_a_sqlite_instance(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "dagster.yaml", project / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {"GX_ANALYTICS_ENABLED": "false"}  # the default home
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "demo", "--month", "2026-02", "--events", "20000"],
                          capture_output=True, text=True, cwd=project, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2026-02: 3 runs" in done.stdout  # specs and index, the 28 days in one run, the monthly chain
    assert f"DAGSTER_HOME={project.resolve()} " in done.stdout and "dg dev --target-path" in done.stdout
    assert "-h 127.0.0.1" in done.stdout and "dagster dev" not in done.stdout
    assert "| 2026-02 | tiers, gate 3 |" in done.stdout and "| 2026-02 | budget-state alerts |" in done.stdout  # the backtest table
    compliance = json.loads((project / "out" / "2026-02" / "compliance.json").read_text())
    assert compliance["period"] == "2026-02" and compliance["period_complete"] is True
    parsed = sorted((project / "data" / "warehouse" / "parsed_logs").glob("*.parquet"))
    assert [p.stem for p in parsed][:2] == ["2026-02-01", "2026-02-02"] and len(parsed) == 28
    assert (project / ".dagster_home" / "history" / "runs.db").exists()
    truth = json.loads((project / "data" / "sample" / "logs" / "_truth.json").read_text())
    assert f"{truth['events']:,} requests, {truth['malformed_lines']:,} quarantined lines" in done.stdout

    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"], previous = str(project), os.environ.get("DAGSTER_HOME")
    try:
        instance = DagsterInstance.get()
        records = instance.get_run_records()
        assert len(records) == 3 and all(r.dagster_run.is_success for r in records)
        days = [r.dagster_run.tags for r in records if r.dagster_run.job_name == "ingest_job"]
        assert [(t["dagster/asset_partition_range_start"], t["dagster/asset_partition_range_end"]) for t in days] == [
            ("2026-02-01", "2026-02-28")]
        instance.dispose()
    finally:
        if previous is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = previous
