"""Materialize the asset graph for a month through Dagster, in process, into a real instance."""

from __future__ import annotations

import calendar
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from slo_assets.definitions import defs

log = logging.getLogger(__name__)


def month_days(month: str) -> list[str]:
    year, mon = (int(part) for part in month.split("-"))
    return [f"{year:04d}-{mon:02d}-{day:02d}" for day in range(1, calendar.monthrange(year, mon)[1] + 1)]


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
    days: dict[str, dict] = field(default_factory=dict)  # day -> metadata summary
    failed_checks: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _value(metadata: dict, key: str):
    item = metadata.get(key)
    return getattr(item, "value", item)


def _quiet(level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def materialize_month(month: str, resources: dict, instance: dg.DagsterInstance,
                      progress: Callable[[str], None] = lambda _: None, log_level: str = "WARNING") -> MonthRun:
    """The file index once, then every day of `month`; each is a run in `instance`."""
    started = time.perf_counter()
    run_config = _quiet(log_level)
    assets = defs.assets
    outcome = MonthRun(month=month)
    index_run = dg.materialize([a for a in assets if a.key.to_user_string() == "log_file_index"],
                               resources=resources, instance=instance, tags={"slo_assets/month": month}, run_config=run_config)
    outcome.run_ids.append(index_run.run_id)
    index_meta = index_run.asset_materializations_for_node("log_file_index")[0].metadata
    progress(f"log_file_index: {_value(index_meta, 'files')} files, {_value(index_meta, 'rows')} rows, "
             f"{_value(index_meta, 'quarantined_lines')} quarantined lines")
    for day in month_days(month):
        result = dg.materialize(assets, selection=["parsed_logs"], partition_key=day, resources=resources,
                                instance=instance, raise_on_error=False, tags={"slo_assets/month": month},
                                run_config=run_config)
        outcome.run_ids.append(result.run_id)
        materializations = result.asset_materializations_for_node("parsed_logs")
        meta = materializations[0].metadata if materializations else {}
        outcome.days[day] = {"rows": _value(meta, "dagster/row_count"), "quarantined": _value(meta, "quarantined_lines")}
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                outcome.failed_checks.append(f"{day}: {evaluation.check_name}")
        if not result.success:
            outcome.failed_checks.append(f"{day}: run failed")
        progress(f"parsed_logs {day}: {outcome.days[day]['rows']} rows, {outcome.days[day]['quarantined']} quarantined")
    outcome.seconds = time.perf_counter() - started
    return outcome
