"""The action layer: remediation_plan, remediation_runs (remediation_job), remediation_sensor, schedules."""

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from slo_assets.defs.metadata import OWNERS
from slo_assets.defs.partitions import monthly_partitions
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource, project_file
from slo_assets.defs.slo_chain import compliance_report, error_budgets
from slo_assets.defs.warehouse_io import input_versions, read_days
from slo_assets.markdown import table
from slo_assets.remediation.actions import carry_out, missing_action
from slo_assets.remediation.learning import effectiveness, learn, runbook_scores
from slo_assets.remediation.plan import ReportSeen, build_plan, triage_reports
from slo_assets.slo.evaluation import load_evaluations
from slo_assets.remediation.runbooks import load_runbooks
from slo_assets.slo.chain import DAY_MS, by_slo, day_key, day_start_ms, month_days, next_month
from slo_assets.slo.sli import MINUTE_SCHEMA, needed_columns

REMEDIATION_CODE_VERSION = "remediation-1"
DEFAULT_RUNBOOKS = "examples/runbooks.yaml"
CHECK_PLAN_COVERS = "plan_covers_every_breach"


class Remediation(dg.ConfigurableResource):
    """Runbook files and the switch between recording what would be done (default) and doing it."""

    runbook_paths: list[str] = Field(default_factory=lambda: [project_file(DEFAULT_RUNBOOKS)], description="runbook YAML files")
    execute: bool = Field(default=False, description="really run actions; false records a dry run")
    allowed_cwd_root: str | None = Field(default=None, description="folder a command's cwd must stay inside; "
                                         "default each runbook file's own folder")
    plan_wait_minutes: float = Field(default=15.0, ge=0, description="how long the sensor waits for the plan of a report "
                                     "before skipping that report (it then handles the later ones)")

    def runbooks(self):
        return load_runbooks([Path(p) for p in self.runbook_paths], self.allowed_cwd_root)


def _bad_rows(store, slos):
    """A callback reading the bad requests of one SLO in [start, end) from the parsed days it spans.
    Each day is read once per plan, with only the columns the filters and the diagnosis use."""
    columns = sorted(set(needed_columns(slos)) | {"source_file", "source_line"})
    days: dict[str, pl.DataFrame | None] = {}

    def day_rows(day: str) -> pl.DataFrame | None:
        if day not in days:
            path = store.path("parsed_logs", f"{day}.parquet")
            days[day] = pl.from_arrow(store.read_table(path, columns=columns)) if path.exists() else None
        return days[day]

    def read(slo, start_ms: int, end_ms: int) -> pl.DataFrame:
        frames = [f for ms in range(start_ms - start_ms % DAY_MS, end_ms, DAY_MS) if (f := day_rows(day_key(ms))) is not None]
        if not frames:
            return pl.DataFrame(schema={"ts": pl.Datetime("ms", "UTC"), "operation": pl.String, "status": pl.Int32,
                                        "source_file": pl.String, "source_line": pl.Int64})
        epoch = pl.col("ts").dt.epoch("ms")
        return pl.concat(frames).filter(epoch.is_between(start_ms, end_ms - 1) & slo.indicator.total_expr() & ~slo.indicator.good_expr())
    return read


@dg.asset(
    group_name="remediation",
    partitions_def=monthly_partitions,
    deps=[compliance_report, error_budgets],
    kinds={"json"},
    code_version=REMEDIATION_CODE_VERSION,
    owners=OWNERS,
    check_specs=[dg.AssetCheckSpec(CHECK_PLAN_COVERS, asset="remediation_plan",
                                   description="every failed or at-risk SLO has a plan entry")],
)
def remediation_plan(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings,
                     log_source: LogSource, remediation: Remediation) -> dg.MaterializeResult:
    """For each SLO that failed, is at risk or paged: incidents with their log lines, and the matched runbook actions."""
    month = context.partition_key
    store = warehouse.store()
    specs = slo_settings.load()
    evaluations = load_evaluations(store.path("evaluations", f"{month}.json").read_bytes())
    minutes, _ = read_days(store, "sli_minutely", month_days(month), MINUTE_SCHEMA)
    learned = store.path("learning_record", "records.parquet")
    scores = runbook_scores(effectiveness(pl.from_arrow(store.read_table(learned)))) if learned.exists() else {}
    plan = build_plan(month, specs.slos, evaluations, by_slo(minutes), _bad_rows(store, specs.slos), remediation.runbooks(),
                      Path(log_source.root), scores)
    versions = input_versions(context, [("compliance_report", month)])
    plan["compliance_data_version"] = versions[f"compliance_report[{month}]"]
    plan["code_version"] = REMEDIATION_CODE_VERSION
    store.write_bytes_atomic(store.path("remediation_plan", f"{month}.json"), json.dumps(plan, indent=1).encode())
    breached = {e.slo for e in evaluations if e.status in ("failed", "at_risk")}
    covered = {e["slo"] for e in plan["entries"]}
    rows = [(e["slo"], e["status"], e["severity"], len(e["incidents"]), ", ".join(a["name"] for a in e["actions"]) or e["note"])
            for e in plan["entries"]]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(plan["entries"]),
            **plan["summary"],
            "plan": dg.MetadataValue.md(table(["slo", "status", "severity", "incidents", "actions"], rows) if rows else "nothing to do"),
        },
        check_results=[dg.AssetCheckResult(check_name=CHECK_PLAN_COVERS, passed=breached <= covered,
                                           metadata={"missing": dg.MetadataValue.json(sorted(breached - covered))})],
    )


class RemediationRunConfig(dg.Config):
    run_key: str = Field(default="manual", description="the breach this run acts on (the sensor's run key)")
    slos: list[str] = Field(default_factory=list, description="plan entries to act on; empty = all with actions")


def _history(store) -> list[dict]:
    rows = []
    for path in sorted(store.path("remediation_runs").glob("*.parquet")):
        rows += pl.from_arrow(store.read_table(path)).to_dicts()
    return rows


@dg.asset(
    group_name="remediation",
    partitions_def=monthly_partitions,
    deps=["remediation_plan"],
    kinds={"python"},
    code_version=REMEDIATION_CODE_VERSION,
    owners=OWNERS,
)
def remediation_runs(context: dg.AssetExecutionContext, config: RemediationRunConfig, warehouse: WarehouseResource,
                     remediation: Remediation) -> dg.MaterializeResult:
    """What the remediation job did: each action's outcome (ok, failed, skipped, dry run) with timestamps and idempotency key."""
    month = context.partition_key
    store = warehouse.store()
    plan = json.loads(store.path("remediation_plan", f"{month}.json").read_bytes())
    history = _history(store)
    actions = {(a.runbook, a.name): a for runbook in remediation.runbooks() for a in runbook.actions}
    # Every runbook's secrets are redacted from every outcome, not only the acting one's.
    secret_names = set().union(*(a.secret_env_names() for a in actions.values()))
    outcomes = []
    for entry in plan["entries"]:
        if config.slos and entry["slo"] not in config.slos:
            continue
        for described in entry["actions"]:
            action = actions.get((described["runbook"], described["name"]))
            if action is None:  # the runbooks changed since the plan was written
                outcome = missing_action(described, entry, month, config.run_key, not remediation.execute)
            else:
                outcome = carry_out(action, entry, month, config.run_key, history, execute=remediation.execute,
                                    secret_names=secret_names)
            context.log.info(f"{entry['slo']}: {outcome.runbook}/{outcome.action} -> {outcome.status} {outcome.reason or ''}")
            outcomes.append(outcome.to_row())
            history.append(outcome.to_row())
    target = store.path("remediation_runs", f"{month}.parquet")
    previous = pl.from_arrow(store.read_table(target)).to_dicts() if target.exists() else []
    rows = previous + outcomes
    frame = pl.DataFrame([{**r, "detail": json.dumps(r["detail"]) if isinstance(r["detail"], dict) else r["detail"]} for r in rows])
    if frame.height:
        store.write_table(target, frame.to_arrow())
    counts = {status: sum(o["status"] == status for o in outcomes) for status in {o["status"] for o in outcomes}}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        "this_run": dg.MetadataValue.json(counts),
        "dry_run": not remediation.execute,
        "outcomes": dg.MetadataValue.md(table(["slo", "runbook", "action", "status", "reason", "attempts"],
                                              [(o["slo"], o["runbook"], o["action"], o["status"], o["reason"], o["attempts"]) for o in outcomes])
                                        if outcomes else "no actions"),
    })


@dg.asset(
    group_name="remediation",
    partitions_def=monthly_partitions,
    deps=[remediation_runs, dg.AssetDep("sli_minutely", partition_mapping=dg.TimeWindowPartitionMapping(end_offset=1))],
    kinds={"polars", "parquet"},
    code_version=REMEDIATION_CODE_VERSION,
    owners=OWNERS,
)
def learning_record(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings) -> dg.MaterializeResult:
    """SLI and burn rate in the hour before and after each action, whether and how fast the SLO recovered; kept across months."""
    month = context.partition_key
    store = warehouse.store()
    specs = slo_settings.load()
    runs_path = store.path("remediation_runs", f"{month}.parquet")
    outcomes = pl.from_arrow(store.read_table(runs_path)).to_dicts() if runs_path.exists() else []
    plan = json.loads(store.path("remediation_plan", f"{month}.json").read_bytes())
    minutes, present = read_days(store, "sli_minutely", month_days(month) + month_days(next_month(month)), MINUTE_SCHEMA)
    data_end = day_start_ms(max(present)) + DAY_MS if present else 0
    targets = {s.name: s.objectives[0].target for s in specs.slos}
    fresh = pl.DataFrame(learn(outcomes, plan, by_slo(minutes), targets, data_end), infer_schema_length=None)
    all_path = store.path("learning_record", "records.parquet")
    kept = pl.from_arrow(store.read_table(all_path)) if all_path.exists() else fresh.clear()
    if fresh.height:
        kept = pl.concat([kept.filter(~pl.col("idempotency_key").is_in(fresh["idempotency_key"].implode())), fresh], how="diagonal_relaxed")
    if kept.height:
        store.write_table(all_path, kept.to_arrow())
    if fresh.height:
        store.write_table(store.path("learning_record", f"{month}.parquet"), fresh.to_arrow())
    stats = effectiveness(kept)
    rows = [(r["slo"], r["runbook"], r["action"], r["reference"], r["sli_before"], r["sli_after"], r["recovered"], r["minutes_to_recover"])
            for r in fresh.iter_rows(named=True)] if fresh.height else []
    return dg.MaterializeResult(metadata={
        "dagster/row_count": fresh.height,
        "records_kept": kept.height,
        "this_month": dg.MetadataValue.md(table(["slo", "runbook", "action", "reference", "SLI before", "SLI after", "recovered",
                                                 "minutes to recover"], rows) if rows else "no actions this month"),
        "what_worked": dg.MetadataValue.md(table(stats.columns, stats.iter_rows()) if stats.height else "no record yet"),
    })


remediation_job = dg.define_asset_job("remediation_job", selection=[remediation_runs, learning_record],
                                      description="carry out the remediation plan of a month (dry run unless remediation.execute)")


def breach_requests(plan: dict, month: str) -> list[dg.RunRequest]:
    """One run per breach: the run key is (period, SLO, fingerprint), so Dagster never repeats one."""
    requests = []
    for entry in plan["entries"]:
        if not entry["actions"]:
            continue
        key = f"remediation:{month}:{entry['slo']}:{entry['fingerprint']}"
        requests.append(dg.RunRequest(
            run_key=key, partition_key=month,
            run_config={"ops": {"remediation_runs": {"config": {"run_key": key, "slos": [entry["slo"]]}}}},
            tags={"slo_assets/slo": entry["slo"], "slo_assets/status": entry["status"], "slo_assets/month": month},
        ))
    return requests


def _plan_reader(store):
    """The plan of a month, read once per tick; unreadable counts as missing (the sensor says so)."""
    plans: dict[str, dict | None] = {}

    def read(month: str) -> dict | None:
        if month not in plans:
            path = store.path("remediation_plan", f"{month}.json")
            try:
                plans[month] = json.loads(path.read_bytes()) if path.exists() else None
            except (OSError, ValueError):
                plans[month] = None
        return plans[month]
    return read


@dg.sensor(job=remediation_job, default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
           description="launches remediation_job once per breach when compliance_report is materialized")
def remediation_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                       remediation: Remediation) -> dg.SensorResult:
    # The plan is written right after the report in the same run; a report whose plan does not match
    # its data version waits up to remediation.plan_wait_minutes, then is skipped (triage_reports).
    cursor = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=compliance_report.key, after_storage_id=cursor), limit=100, ascending=True).records
    reports = [ReportSeen(r.storage_id, r.partition_key, (r.asset_materialization.tags or {}).get("dagster/data_version"), r.timestamp)
               for r in records]
    triage = triage_reports(reports, _plan_reader(warehouse.store()), cursor, time.time(), remediation.plan_wait_minutes * 60)
    for note in triage.notes:
        (context.log.warning if note in triage.skipped else context.log.info)(note)
    requests = [request for report, plan in triage.ready for request in breach_requests(plan, report.month)]
    return dg.SensorResult(run_requests=requests, cursor=None if triage.cursor is None else str(triage.cursor),
                           skip_reason=None if requests else dg.SkipReason("; ".join(triage.notes) or "no new breach"))


def _day(moment: datetime, days_back: int = 0) -> str:
    return (moment - timedelta(days=days_back)).strftime("%Y-%m-%d")


@dg.schedule(cron_schedule="15 0 * * *", job_name="daily_job", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="yesterday's logs: index, parse, SLI inputs")
def daily_ingest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = _day(context.scheduled_execution_time.astimezone(UTC), 1)
    return dg.RunRequest(run_key=f"daily:{day}", partition_key=day)


@dg.schedule(cron_schedule="45 0 * * *", job_name="monthly_chain_job", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="month-to-date refresh of the monthly chain")
def month_to_date_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    yesterday = context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)
    month = yesterday.strftime("%Y-%m")
    return dg.RunRequest(run_key=f"mtd:{month}:{_day(yesterday)}", partition_key=month)


@dg.schedule(cron_schedule="30 2 1 * *", job_name="monthly_chain_job", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED, description="close the previous month")
def month_close_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    previous = (context.scheduled_execution_time.astimezone(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    return dg.RunRequest(run_key=f"close:{previous}", partition_key=previous)

