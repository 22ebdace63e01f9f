"""Materialize the asset graph for a month through Dagster, in process, into a real instance."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from slo_assets.definitions import build_definitions
from slo_assets.defs.ingestion import read_index
from slo_assets.ingest.index import index_summary
from slo_assets.slo.chain import month_days


def instance_from_env(project_root: Path) -> dg.DagsterInstance:
    """The instance in $DAGSTER_HOME, defaulting to <project>/.dagster_home with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or project_root / ".dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = project_root / "dagster.yaml"
    if not (home / "dagster.yaml").exists() and config.exists():
        (home / "dagster.yaml").write_text(config.read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


@dataclass
class MonthRun:
    month: str
    run_ids: list[str] = field(default_factory=list)
    days: dict[str, dict] = field(default_factory=dict)  # day -> {rows, quarantined}
    failed_checks: list[str] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)
    index: dict = field(default_factory=dict)
    seconds: float = 0.0


def _value(metadata: dict, key: str):
    item = metadata.get(key)
    return getattr(item, "value", item)


def _quiet(level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def materialize_month(month: str, resources: dict, instance: dg.DagsterInstance,
                      progress: Callable[[str], None] = lambda _: None, log_level: str = "WARNING",
                      days: list[str] | None = None) -> MonthRun:
    """Observe the specs, index the logs, then every day (parsed_logs + sli_minutely) and the monthly
    chain of `month`. Every step is a run in `instance`, tagged with the month."""
    started = time.perf_counter()
    defs = build_definitions(resources)
    outcome = MonthRun(month=month)
    tags = {"slo_assets/month": month}

    def run(job: str, label: str, partition: str | None = None):
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, partition_key=partition, run_config=_quiet(log_level), raise_on_error=False, tags=tags)
        outcome.run_ids.append(result.run_id)
        if not result.success:
            outcome.failed_runs.append(label)
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                outcome.failed_checks.append(f"{label}: {evaluation.check_name}")
        return result

    run("observe_specs_job", "slo_specs")
    index = run("index_job", "log_file_index")
    if not index.success:
        outcome.seconds = time.perf_counter() - started
        return outcome
    outcome.index = index_summary(read_index(resources["warehouse"]))
    progress(f"log_file_index: {outcome.index['files']} files, {outcome.index['rows']} rows, "
             f"{outcome.index['quarantined_lines']} quarantined lines")
    for day in days or month_days(month):
        result = run("ingest_job", day, partition=day)
        materializations = result.asset_materializations_for_node("parsed_logs")
        meta = materializations[0].metadata if materializations else {}
        outcome.days[day] = {"rows": _value(meta, "dagster/row_count"), "quarantined": _value(meta, "quarantined_lines")}
        progress(f"{day}: {outcome.days[day]['rows']} rows, {outcome.days[day]['quarantined']} quarantined")
    run("monthly_chain_job", month, partition=month)
    progress(f"{month}: sli_metrics, slo_targets, error_budgets, compliance_report")
    outcome.seconds = time.perf_counter() - started
    return outcome
