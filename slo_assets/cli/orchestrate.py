"""Materialize the asset graph for a month through Dagster, in process, into a real instance."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from slo_assets.core.progress import PlainProgress, Progress, listening
from slo_assets.definitions import build_definitions
from slo_assets.defs import partitions as P
from slo_assets.defs.ingest.assets import read_index
from slo_assets.defs.ingest.day_runs import RANGE_END_TAG, RANGE_START_TAG
from slo_assets.defs.settings import LocationSettings
from slo_assets.defs.sources import SourceEntry
from slo_assets.ingest.index import index_summary, mostly_rejected_files
from slo_assets.slo.chain import day_gaps, month_days
from slo_assets.warehouse import layout

if TYPE_CHECKING:
    from slo_assets.ingest.index import IndexSummary
    from slo_assets.warehouse.storage import Warehouse


def instance_from_env(config: Path) -> dg.DagsterInstance:
    """The instance in $DAGSTER_HOME, defaulting to the project folder holding `config` (its
    dagster.yaml, storing under .dagster_home/); a home chosen elsewhere gets a copy of that file."""
    home = Path(os.environ.get("DAGSTER_HOME") or config.parent).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists() and config.exists():
        (home / "dagster.yaml").write_text(config.read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


@dataclass(frozen=True)
class DayRun:
    rows: int
    quarantined: int


@dataclass
class MonthRun:
    month: str
    run_ids: list[str] = field(default_factory=list)
    days: dict[str, DayRun] = field(default_factory=dict)  # the month's days run or unchanged (never after today)
    unchanged: list[str] = field(default_factory=list)  # days not run again: nothing they are made from changed
    failed_checks: list[str] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)
    rules_proof: list[dict] = field(default_factory=list)  # the rules proof check's metadata, when it ran
    refused: str | None = None  # why the month stopped after indexing, its days and outputs left as they were
    index: IndexSummary | None = None
    rejected_files: list[str] = field(default_factory=list)  # "path: 30 of 30 lines rejected: invalid_json"
    seconds: float = 0.0

    @property
    def days_with_data(self) -> list[str]:
        """Days holding requests (as compliance.json counts them): a day of rejected lines has none."""
        return [day for day, run in self.days.items() if run.rows]


def _value(metadata: dict, key: str):
    item = metadata.get(key)
    return getattr(item, "value", item)


def failure_reason(result) -> str:
    """The first failed step's error in one line (the run in the UI has the whole traceback)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            cause = error.cause or error
            lines = [line.strip() for line in (cause.message or error.message or "").splitlines() if line.strip()]
            # a line ending in ':' announces what follows (a blocking check names itself on the next line)
            first = " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines[0] if lines else cause.cls_name)
            return f"{event.step_key}: {first}"
    return "the run failed"


def _quiet(level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def resource_config(resources: dict) -> dict:
    """The resources as run config: a run on another executor carries them to the processes that
    rebuild the job from the code location (Celery workers), whose own defaults come from their environment."""
    return {"resources": {key: {"config": resource.model_dump()} for key, resource in resources.items()}}


def _execute(defs: dg.Definitions, job: str, instance: dg.DagsterInstance, run_config: dict, tags: dict,
             partition: str | None, resources: dict, rebuild: tuple[str, ...] = ()):
    """Run `job` in this process when its executor is in-process, else (Celery) as a run of the job
    rebuilt from the code location, whose executor sends the steps to the workers."""
    job_def = defs.resolve_job_def(job)
    if job_def.executor_def.name == dg.in_process_executor.name:
        return job_def.execute_in_process(
            instance=instance, partition_key=partition, run_config=run_config, raise_on_error=False, tags=tags)
    recon = dg.build_reconstructable_job("slo_assets.definitions", "job_named", reconstructable_args=(job, *rebuild))
    partition_tags = {"dagster/partition": partition} if partition else {}
    with dg.execute_job(recon, instance=instance, run_config={**run_config, **resource_config(resources)},
                        tags={**tags, **partition_tags}, raise_on_error=False) as result:
        return result


def settings_for(resources: dict, month: str, settings: LocationSettings | None = None) -> LocationSettings:
    """The location settings of a run over `resources` for `month`: the partitions' range is read from the
    warehouse the run writes (not the environment's) and covers the month."""
    settings = settings or LocationSettings.from_environ()
    warehouse = resources.get("warehouse")
    base = getattr(warehouse, "base", None) or settings.warehouse
    earliest = min(settings.earliest_month, month) if settings.earliest_month else month
    return replace(settings, warehouse=base, earliest_month=earliest)


def materialize_review(key: str, resources: dict, instance: dg.DagsterInstance, log_level: str = "CRITICAL",
                       settings: LocationSettings | None = None) -> str | None:
    """One run of quarterly_review (key: the quarter's first month) or yearly_review (key: YYYY); None when it
    succeeded, else the reason in one line."""
    job = "yearly_review_job" if len(key) == 4 else "quarterly_review_job"
    settings = settings_for(resources, key if len(key) > 4 else f"{key}-01", settings)
    result = _execute(build_definitions(resources, settings), job, instance, _quiet(log_level), {"slo_assets/period": key}, key, resources)
    return None if result.success else f"{failure_reason(result)} (run {result.run_id} in the Dagster UI)"


def index_note(summary: IndexSummary, found: P.PartitionRange, default_service: str | None = None) -> str:
    text = (f"log files: {summary.files} read, {summary.lines:,} lines: {summary.rows:,} rows, "
            f"{summary.quarantined_lines:,} quarantined, {summary.blank_lines:,} blank")
    if summary.service_defaulted:
        named = f"'{default_service}'" if default_service else "the default service"
        text += (f"; {summary.service_defaulted:,} rows without a service name (no service field, or a path the service "
                 f"regex does not match), counted as {named}: SLOs without a service filter count them")
    outside = summary.outside_rows + summary.outside_quarantined
    if outside:
        text += f"; {outside:,} outside the partitions ({found.first_day} .. {found.last_day})"
    if summary.unplaced:
        text += f"; {summary.unplaced:,} in no day (no timestamp anywhere in their file)"
    lines = [text]
    for label, entries in (("skipped", summary.skipped), ("unreadable", summary.unreadable), ("salvaged", summary.salvaged)):
        lines += [f"  {label}: {path}: {reason}" for path, reason in entries]
    lines += [f"  duplicate: {path}: same content as {owner}, read once" for path, owner in summary.duplicate_files]
    return "\n".join(lines)


# The day assets of ingest_job: a day is run again unless every one is fresh and its file is in the warehouse.
DAY_DATASETS = (layout.PARSED_LOGS, layout.QUARANTINE, layout.SLI_MINUTELY, layout.SLI_LATENCY, layout.SLI_OPERATIONS)
DATA_VERSION_TAG = "dagster/data_version"
CODE_VERSION_TAG = "dagster/code_version"
INPUT_VERSION_TAG = "dagster/input_data_version/"
INPUT_POINTER_TAG = "dagster/input_event_pointer/"


@dataclass(frozen=True)
class Recorded:
    """One materialization or observation of a day: its storage id and tags."""

    storage_id: int
    tags: dict


def _history(instance: dg.DagsterInstance, key: dg.AssetKey, days: list[str], observed: bool) -> dict[str, list[Recorded]]:
    """Every materialization (observation when `observed`) of `key` on `days`, per day, newest first."""
    fetch = instance.fetch_observations if observed else instance.fetch_materializations
    records_filter = dg.AssetRecordsFilter(asset_key=key, asset_partitions=days)
    found: dict[str, list[Recorded]] = {}
    cursor = None
    while True:
        page = fetch(records_filter, limit=1000, cursor=cursor)
        for record in page.records:
            event = record.asset_observation if observed else record.asset_materialization
            if event is not None and event.partition is not None:
                found.setdefault(event.partition, []).append(Recorded(record.storage_id, dict(event.tags or {})))
        if not page.has_more:
            return found
        cursor = page.cursor


def _updated_since(history: list[Recorded], pointer: str | None) -> bool:
    """Whether the parent's day has a new data version since the event a child read (`pointer`, its
    storage id): Dagster's test for a partitioned parent (the newest record after the pointer against
    the newest at or before it)."""
    if pointer is None:
        return True
    after = [r for r in history if r.storage_id > int(pointer)]
    if not after:
        return False
    before = next((r for r in history if r.storage_id <= int(pointer)), None)
    return after[0].tags.get(DATA_VERSION_TAG) != (before.tags.get(DATA_VERSION_TAG) if before else None)


def _fresh(latest: Recorded | None, code_version: str, parent: str, parent_history: list[Recorded]) -> bool:
    return (latest is not None and latest.tags.get(CODE_VERSION_TAG) == code_version
            and not _updated_since(parent_history, latest.tags.get(INPUT_POINTER_TAG + parent)))


def days_to_run(instance: dg.DagsterInstance, store: Warehouse, days: list[str], source: str = "") -> list[str]:
    """The days among `days` whose day assets are not fresh in `instance`, as the UI's stale status
    has it (never materialized, a code version bump, a new log_file_index version of the day for
    parsed_logs, a new parsed_logs version of the day or a new slo_specs version for sli_minutely),
    or whose files are missing from the warehouse `store` (another warehouse, a deleted file).
    parsed_logs and sli_minutely stand for their multi-assets, whose siblings share their runs.
    Read in a few batched queries: Dagster's resolver asks several per day (seconds for a month)."""
    from slo_assets.defs.ingest.assets import INGEST_CODE_VERSION
    from slo_assets.defs.slo.assets import CHAIN_CODE_VERSION

    def key(name: str) -> dg.AssetKey:  # the source's family (defs/sources.py)
        return dg.AssetKey([source, name] if source else [name])

    on_disk = [set(dataset.partitions(store)) for dataset in DAY_DATASETS]
    index = _history(instance, key("log_file_index"), days, observed=True)
    parsed = _history(instance, key("parsed_logs"), days, observed=False)
    minutely = _history(instance, key("sli_minutely"), days, observed=False)
    specs = instance.fetch_observations(key("slo_specs"), limit=1).records
    specs_version = (specs[0].asset_observation.tags or {}).get(DATA_VERSION_TAG) if specs and specs[0].asset_observation else None

    def fresh(day: str) -> bool:
        parsed_latest = next(iter(parsed.get(day, [])), None)
        minutely_latest = next(iter(minutely.get(day, [])), None)
        return (_fresh(parsed_latest, INGEST_CODE_VERSION, key("log_file_index").to_user_string(), index.get(day, []))
                and _fresh(minutely_latest, CHAIN_CODE_VERSION, key("parsed_logs").to_user_string(), parsed.get(day, []))
                and minutely_latest.tags.get(INPUT_VERSION_TAG + key("slo_specs").to_user_string()) == specs_version)

    return [day for day in days if any(day not in found for found in on_disk) or not fresh(day)]


def last_day_runs(instance: dg.DagsterInstance, days: list[str], source: str = "") -> dict[str, DayRun]:
    """Each day's figures from its latest parsed_logs materialization (a day not run again)."""
    found: dict[str, DayRun] = {}
    key = dg.AssetKey([source, "parsed_logs"] if source else ["parsed_logs"])
    records_filter = dg.AssetRecordsFilter(asset_key=key, asset_partitions=days)
    cursor = None
    while True:
        page = instance.fetch_materializations(records_filter, limit=1000, cursor=cursor)
        for record in page.records:  # newest first
            event = record.asset_materialization
            if event is not None and event.partition not in found:
                found[event.partition] = DayRun(rows=_value(event.metadata, "dagster/row_count") or 0,
                                                quarantined=_value(event.metadata, "quarantined_lines") or 0)
        if not page.has_more or len(found) == len(days):
            return found
        cursor = page.cursor


@dataclass
class _Runs:
    """The runs of one month, launched in process against one instance, their outcome collected."""

    defs: dg.Definitions
    instance: dg.DagsterInstance
    resources: dict
    log_level: str
    outcome: MonthRun
    source: str = ""  # a registered source's jobs (`<source>__<job>`), else the default source's
    rebuild: tuple[str, ...] = ()  # what another process needs to rebuild a pending source's jobs (definitions.job_named)

    def run(self, job: str, label: str, partition: str | None = None, days_range: tuple[str, str] | None = None):
        job = f"{self.source}__{job}" if self.source else job
        run_tags = {"slo_assets/month": self.outcome.month}
        if days_range is not None:  # one run for the range, as a single-run backfill launches it
            run_tags.update({RANGE_START_TAG: days_range[0], RANGE_END_TAG: days_range[1]})
        result = _execute(self.defs, job, self.instance, _quiet(self.log_level), run_tags, partition, self.resources, self.rebuild)
        self.outcome.run_ids.append(result.run_id)
        if not result.success:
            self.outcome.failed_runs.append(f"{label}: {failure_reason(result)}")
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                self.outcome.failed_checks.append(failed_check_text(evaluation, partition))
        return result


def materialize_month(month: str, resources: dict, instance: dg.DagsterInstance, progress: Progress | None = None,
                      log_level: str = "CRITICAL", days: list[str] | None = None, prove_rules: bool = False,
                      every_day: bool = False, settings: LocationSettings | None = None,
                      refuse: Callable[[MonthRun], str | None] | None = None, source: SourceEntry | None = None) -> MonthRun:
    """Observe the specs, index the logs, then every day of `month` up to today (parsed_logs +
    sli_minutely) that is not fresh (all of them with `every_day`), and the monthly chain. Every step
    is a run in `instance`, tagged with the month. Dagster's own console log is silenced to
    `log_level`: failures come back in `failed_runs`, one line each, and every event stays in the
    instance for the UI. `settings` are the code location's (the environment's unless given). `refuse`
    judges the index: a reason stops the month there, so input the user must fix replaces no day's data
    and no output of an earlier good run."""
    progress = progress or PlainProgress(every_step=False)
    started = time.perf_counter()
    if source is not None and settings is not None:  # a named source: its own family, from its entry (defs/sources.py)
        found = P.resolve_range(replace(settings, warehouse=source.warehouse, start_date="", earliest_month=month))
        shared = {key: resources[key] for key in ("slo_settings", "remediation") if key in resources}
        defs = build_definitions(shared, replace(settings, source=source.name), pending=source)
    else:
        settings = settings_for(resources, month, settings)
        partitions = P.build_partitions(P.resolve_range(settings))
        found, defs = partitions.range, build_definitions(resources, settings, partitions)
    runs = _Runs(defs, instance, resources, log_level, MonthRun(month=month), source=source.name if source else "",
                 rebuild=(source.model_dump_json(), month) if source else ())
    wanted = found.days_of(days or month_days(month))
    progress.begin(3 + len(wanted))  # specs, index, each day, the month
    try:
        if _observe(runs, found, progress) and not (refuse and _refused(runs.outcome, refuse)):
            _run_days(runs, wanted, found, every_day, progress)
            progress.note(days_note(month, runs.outcome))
            chain = runs.run("monthly_chain_job", month, partition=month)
            progress.step(month, "sli_metrics, slo_targets, error_budgets, compliance_report, remediation_plan, deploy_gate, outputs")
            if prove_rules and chain.success:  # promtool over the published rules: its own run (defs/outputs/rules_proof.py)
                proof = runs.run("prove_rules_job", f"{month} rules proof", partition=month)
                runs.outcome.rules_proof = [{key: _value(e.metadata, key) for key in e.metadata} for e in proof.get_asset_check_evaluations()]
    finally:
        progress.end()
        runs.outcome.seconds = time.perf_counter() - started
    return runs.outcome


def _refused(outcome: MonthRun, refuse: Callable[[MonthRun], str | None]) -> bool:
    outcome.refused = refuse(outcome)
    return outcome.refused is not None


def _observe(runs: _Runs, found: P.PartitionRange, progress: Progress) -> bool:
    """Observe the specs and index the logs, saying what the index holds; False when that run failed."""
    outcome = runs.outcome
    with listening(progress.note):  # how far the index is, while a folder of many files is read
        index = runs.run("observe_job", "slo_specs, log_file_index")
    progress.step("slo_specs", "observed")
    if not index.success:
        return False
    files = read_index(runs.resources["warehouse"])
    outcome.index = index_summary(files, found.first_day.isoformat(), found.last_day.isoformat())
    outcome.rejected_files = [f"{f.path}: {f.note()}" for f in mostly_rejected_files(files)] if files is not None else []
    progress.step("log_file_index", f"{outcome.index.files} files, {outcome.index.rows:,} rows")
    progress.note(index_note(outcome.index, found, getattr(runs.resources.get("log_source"), "default_service", None)))
    for line in outcome.rejected_files:  # said now, not after the month: the settings are likely wrong
        progress.note(f"  mostly rejected: {line}")
    return True


def _run_days(runs: _Runs, wanted: list[str], found: P.PartitionRange, every_day: bool, progress: Progress) -> None:
    """The days to run (all with every_day, else those whose inputs changed), one run per contiguous range;
    the others keep their last run's figures."""
    outcome, instance = runs.outcome, runs.instance
    stale = wanted if every_day else days_to_run(instance, runs.resources["warehouse"].store(), wanted, runs.source)
    previous = last_day_runs(instance, [day for day in wanted if day not in stale], runs.source) if len(stale) < len(wanted) else {}
    stale = [day for day in wanted if day not in previous]
    for day, figures in sorted(previous.items()):
        outcome.unchanged.append(day)
        outcome.days[day] = figures
        progress.step(day, f"unchanged, {figures.rows:,} rows, {figures.quarantined:,} quarantined")
    for first, last in contiguous_ranges(stale):
        result = runs.run("ingest_job", first if first == last else f"{first} .. {last}", days_range=(first, last))
        parsed = dg.AssetKey([runs.source, "parsed_logs"] if runs.source else ["parsed_logs"])
        metadata = {event.materialization.partition: event.materialization.metadata for event in result.get_asset_materialization_events()
                    if event.materialization.asset_key == parsed}
        for day in found.days_of([d for d in wanted if first <= d <= last]):
            meta = metadata.get(day, {})
            outcome.days[day] = DayRun(rows=_value(meta, "dagster/row_count") or 0, quarantined=_value(meta, "quarantined_lines") or 0)
            progress.step(day, f"{outcome.days[day].rows:,} rows, {outcome.days[day].quarantined:,} quarantined")
    outcome.days = dict(sorted(outcome.days.items()))


def failed_check_text(evaluation: dg.AssetCheckEvaluation, partition: str | None) -> str:
    """'quarantine_ratio_below_threshold (parsed_logs 2026-02-03, 2026-02-04)': the check, then the asset
    and the partitions it failed on (a range run's check names its failing days)."""
    failed_days = _value(evaluation.metadata, "failed_days")
    keys = failed_days if isinstance(failed_days, list) and failed_days else ([partition] if partition else [])
    where = evaluation.asset_key.to_user_string() + (f" {', '.join(keys)}" if keys else "")
    return f"{evaluation.check_name} ({where})"


def contiguous_ranges(days: list[str]) -> list[tuple[str, str]]:
    """Sorted ISO days as (first, last) runs of consecutive days: one Dagster run each."""
    ranges: list[tuple[str, str]] = []
    for day in sorted(days):
        if ranges and date.fromisoformat(day) - date.fromisoformat(ranges[-1][1]) == timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def days_note(month: str, outcome: MonthRun) -> str:
    rows = sum(d.rows for d in outcome.days.values())
    quarantined = sum(d.quarantined for d in outcome.days.values())
    present = outcome.days_with_data
    text = (f"days: {len(outcome.days)} of {len(month_days(month))} run (through {max(outcome.days) if outcome.days else '-'}), "
            f"{rows:,} rows, {quarantined:,} quarantined; {len(present)} with data")
    if outcome.unchanged:
        text += f"; {len(outcome.unchanged)} of them unchanged since their last run (not run again)"
    missing = day_gaps([day for day in outcome.days if day not in present])
    if present and missing:
        text += "; no data " + ", ".join(g["start"] if g["days"] == 1 else f"{g['start']} .. {g['end']}" for g in missing)
    logged = outcome.index.days_with_data if outcome.index is not None else ()
    elsewhere = [day for day in logged if not day.startswith(month)]
    if elsewhere:  # rows the month does not hold: say where the logs are
        text += f"; the logs also hold {len(elsewhere)} day(s) outside {month}, {elsewhere[0]} .. {elsewhere[-1]}"
    return text
