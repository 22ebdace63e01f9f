"""The action layer: remediation_plan, remediation_runs and learning_record (their job, sensor and schedules
live in jobs.py, sensors.py and schedules.py)."""

import json
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from slo_assets.defs.metadata import OWNERS
from slo_assets.defs.partitions import monthly_partitions
from slo_assets.defs.resources import LogSource, Remediation, SloSettings, WarehouseResource
from slo_assets.defs.slo_chain import compliance_report, error_budgets
from slo_assets.defs.warehouse_io import input_versions, read_days
from slo_assets.markdown import table
from slo_assets.remediation.actions import carry_out, missing_action
from slo_assets.remediation.learning import effectiveness, learn, runbook_scores
from slo_assets.remediation.plan import build_plan
from slo_assets.slo.chain import DAY_MS, by_slo, day_key, day_start_ms, month_days, next_month
from slo_assets.slo.sli import MINUTE_SCHEMA, needed_columns

REMEDIATION_CODE_VERSION = "remediation-1"
CHECK_PLAN_COVERS = "plan_covers_every_breach"


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
    evaluations = json.loads(store.path("evaluations", f"{month}.json").read_bytes())
    minutes, _ = read_days(store, "sli_minutely", month_days(month), MINUTE_SCHEMA)
    learned = store.path("learning_record", "records.parquet")
    scores = runbook_scores(effectiveness(pl.from_arrow(store.read_table(learned)))) if learned.exists() else {}
    plan = build_plan(month, specs.slos, evaluations, by_slo(minutes), _bad_rows(store, specs.slos), remediation.runbooks(),
                      Path(log_source.root), scores)
    versions = input_versions(context, [("compliance_report", month)])
    plan["compliance_data_version"] = versions[f"compliance_report[{month}]"]
    plan["code_version"] = REMEDIATION_CODE_VERSION
    store.write_bytes_atomic(store.path("remediation_plan", f"{month}.json"), json.dumps(plan, indent=1).encode())
    breached = {e["slo"] for e in evaluations if e["status"] in ("failed", "at_risk")}
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
