"""The action layer: remediation_plan, remediation_runs and learning_record (their job, sensor and schedules
live in jobs.py, sensors.py and schedules.py)."""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
import pyarrow as pa
from pydantic import Field

from slo_assets.core.markdown import table
from slo_assets.defs.mappings import days_of_month
from slo_assets.defs.metadata import OWNERS
from slo_assets.defs.partitions import MONTHLY
from slo_assets.defs.resources import LogSource, Remediation, SloSettings, WarehouseResource
from slo_assets.defs.slo.assets import compliance_report
from slo_assets.defs.warehouse_io import input_versions, read_days, read_frame, written
from slo_assets.remediation.actions import carry_out, carry_out_group, follow_up_pagerduty, groups_in_plan, missing_action
from slo_assets.remediation.learning import effectiveness, learn, runbook_scores
from slo_assets.remediation.models import Outcome, PlanEntry, RemediationPlan, outcomes_from_rows
from slo_assets.remediation.plan import build_plan
from slo_assets.remediation.runbooks import Action
from slo_assets.slo.chain import DAY_MS, by_slo, day_key, day_start_ms, month_days, next_month
from slo_assets.slo.evaluation import load_evaluations
from slo_assets.slo.gate import FREEZE, gate_document, service_gates
from slo_assets.slo.sli import MINUTE_SCHEMA, needed_columns
from slo_assets.warehouse import layout

REMEDIATION_CODE_VERSION = "remediation-3"  # 2: plan entries say whether the SLO burns at the end; 3: incidents count their clients
GATE_CODE_VERSION = "gate-1"  # the deploy gate's own: a change to it leaves the plans fresh
CHECK_PLAN_COVERS = "plan_covers_every_breach"


def _read_day(store, path, columns: list[str]) -> pl.DataFrame:
    """A parsed day's columns; a day parsed before the client column existed reads with a null client."""
    try:
        return pl.from_arrow(store.read_table(path, columns=columns))
    except pa.ArrowInvalid:
        frame = pl.from_arrow(store.read_table(path, columns=[c for c in columns if c != "client"]))
        return frame.with_columns(pl.lit(None, dtype=pl.String).alias("client")) if "client" in columns else frame


def _read_bad_rows(store, path, columns: list[str], bad: pl.Expr) -> pl.DataFrame:
    """The rows of a parsed day that `bad` keeps. A local day is scanned with the filter pushed into
    the Parquet reader (only the kept rows of the other columns are materialized: 2-3x faster on a
    busy day than reading the columns whole, then filtering)."""
    if store.is_local:
        try:
            return pl.scan_parquet(str(path)).select(columns).filter(bad).collect()
        except pl.exceptions.ColumnNotFoundError:  # a day parsed before the client column existed
            pass
    return _read_day(store, path, columns).filter(bad)


def _bad_rows(store, slos):
    """A callback reading the bad requests of one SLO in [start, end) from the parsed days it spans.
    Each day is read once per plan, with only the columns the filters and the diagnosis use, and only its
    rows that are bad for some SLO are kept: a busy month's plan holds its bad requests, not its days."""
    columns = sorted(set(needed_columns(slos)) | {"source_file", "source_line", "client"})
    bad_for_any = pl.any_horizontal([s.indicator.total_expr() & ~s.indicator.good_expr() for s in slos]) if slos else pl.lit(False)
    days: dict[str, pl.DataFrame | None] = {}

    def day_rows(day: str) -> pl.DataFrame | None:
        if day not in days:
            path = layout.PARSED_LOGS.path(store, day)
            days[day] = _read_bad_rows(store, path, columns, bad_for_any) if path.exists() else None
        return days[day]

    def read(slo, start_ms: int, end_ms: int) -> pl.DataFrame:
        frames = [f for ms in range(start_ms - start_ms % DAY_MS, end_ms, DAY_MS) if (f := day_rows(day_key(ms))) is not None]
        if not frames:
            return pl.DataFrame(schema={"ts": pl.Datetime("ms", "UTC"), "operation": pl.String, "status": pl.Int32,
                                        "source_file": pl.String, "source_line": pl.Int64, "client": pl.String})
        epoch = pl.col("ts").dt.epoch("ms")
        return pl.concat(frames).filter(epoch.is_between(start_ms, end_ms - 1) & slo.indicator.total_expr() & ~slo.indicator.good_expr())
    return read


@dg.asset(
    group_name="remediation",
    partitions_def=MONTHLY,
    # the learning record of every month so far ranks the runbooks' actions
    deps=[compliance_report, "window_evaluations", days_of_month("sli_minutely"), days_of_month("parsed_logs")],
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
    evaluations = load_evaluations(layout.WINDOW_EVALUATIONS.path(store, month).read_bytes(), str(layout.WINDOW_EVALUATIONS.path(store, month)))
    minutes, _ = read_days(store, layout.SLI_MINUTELY, month_days(month), MINUTE_SCHEMA)
    learned = learning_history(store)
    scores = runbook_scores(effectiveness(learned)) if learned is not None else {}
    plan = build_plan(month, specs.slos, evaluations, by_slo(minutes), _bad_rows(store, specs.slos), remediation.runbooks(),
                      Path(log_source.active().root), scores)
    versions = input_versions(context, [("compliance_report", month)])
    plan = plan.model_copy(update={"compliance_data_version": versions[f"compliance_report[{month}]"], "code_version": REMEDIATION_CODE_VERSION})
    payload = json.dumps(plan.model_dump(mode="json"), indent=1).encode()
    store.write_bytes_atomic(layout.REMEDIATION_PLAN.path(store, month), payload)
    # a composite is acted on through its component SLOs, the ones measured: the plan has entries for them only
    breached = {e.slo for e in evaluations if e.status in ("failed", "at_risk") and not e.components}
    composites = {e.slo: [c.slo for c in e.components] for e in evaluations if e.status in ("failed", "at_risk") and e.components}
    covered = {e.slo for e in plan.entries}
    rows = [(e.slo, e.status, e.severity, len(e.incidents), ", ".join(a.action.name for a in e.actions) or e.note)
            for e in plan.entries]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(plan.entries),
            **written(store, layout.REMEDIATION_PLAN, month, len(payload)),
            **plan.summary.model_dump(),
            "plan": dg.MetadataValue.md(table(["slo", "status", "severity", "incidents", "actions"], rows) if rows else "nothing to do"),
        },
        check_results=[dg.AssetCheckResult(check_name=CHECK_PLAN_COVERS, passed=breached <= covered,
                                           metadata={"missing": dg.MetadataValue.json(sorted(breached - covered)),
                                                     "composites_breached": dg.MetadataValue.json(composites)})],
    )


@dg.asset(
    group_name="remediation",
    partitions_def=MONTHLY,
    deps=[compliance_report, "window_evaluations"],
    kinds={"json"},
    code_version=GATE_CODE_VERSION,
    owners=OWNERS,
)
def deploy_gate(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings) -> dg.MaterializeResult:
    """Per service: may it deploy (go) or should it freeze, by its SLOs' error-budget policy, with the reasons."""
    month = context.partition_key
    store = warehouse.store()
    path = layout.WINDOW_EVALUATIONS.path(store, month)
    gates = service_gates(slo_settings.load().slos, load_evaluations(path.read_bytes(), str(path)))
    payload = json.dumps(gate_document(month, gates), indent=1).encode()
    store.write_bytes_atomic(layout.DEPLOY_GATE.path(store, month), payload)
    rows = [(g.service, g.decision, "; ".join(r.message for r in g.reasons) or "-") for g in gates]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(gates),
        **written(store, layout.DEPLOY_GATE, month, len(payload)),
        "frozen": sum(g.decision == FREEZE for g in gates),
        "gates": dg.MetadataValue.md(table(["service", "decision", "reasons"], rows) if rows else "no service"),
    })


class RemediationRunConfig(dg.Config):
    run_key: str = Field(default="manual", description="the breach this run acts on (the sensor's run key)")
    slos: list[str] = Field(default_factory=list, description="plan entries to act on; empty = all with actions")
    actions: list[str] = Field(default_factory=list, description="runbook/action to carry out (an escalation level); "
                               "empty = every action due at once (escalation level 0)")
    pagerduty_event: Literal["", "acknowledge", "resolve"] = Field(
        default="", description="the escalation episode of `slos` was acknowledged or ended: send this event for what their "
                                "PagerDuty actions triggered, and nothing else")


def read_plan(store, month: str) -> RemediationPlan:
    """The month's remediation_plan.json."""
    return RemediationPlan.model_validate_json(layout.REMEDIATION_PLAN.path(store, month).read_bytes())


def month_outcomes(store, month: str) -> list[Outcome]:
    """The month's remediation_runs, none before its first run."""
    runs = read_frame(store, layout.REMEDIATION_RUNS, month)
    return outcomes_from_rows(runs.to_dicts()) if runs is not None else []


def action_history(store) -> list[Outcome]:
    """Every action outcome so far, of every month: cooldowns and idempotency look across months."""
    return [outcome for month in layout.REMEDIATION_RUNS.partitions(store) for outcome in month_outcomes(store, month)]


def learning_history(store) -> pl.DataFrame | None:
    """Every month's learning record, one table (None before the first)."""
    months = [read_frame(store, layout.LEARNING_RECORD, month) for month in layout.LEARNING_RECORD.partitions(store)]
    return pl.concat(months, how="diagonal_relaxed") if months else None


def act_on(context, entries: Sequence[PlanEntry], actions: Mapping[tuple[str, str], Action], month: str, run_key: str,
           history: list[Outcome], execute: bool, secret_names: set[str]) -> list[Outcome]:
    """Carry out the entries' actions in plan order (message actions of one service and channel as
    one message, actions.groups_in_plan); each outcome is logged and added to `history`."""
    outcomes: list[Outcome] = []
    for shape, items in groups_in_plan(list(entries), actions):
        if shape == "missing":  # the runbooks changed since the plan was written
            done = [missing_action(described, entry, month, run_key, not execute) for described, entry in items]
        elif shape == "group":
            done = carry_out_group(items, month, run_key, history, execute=execute, secret_names=secret_names)
        else:
            (action, entry), = items
            done = [carry_out(action, entry, month, run_key, history, execute=execute, secret_names=secret_names)]
        for outcome in done:
            context.log.info(f"{outcome.slo}: {outcome.runbook}/{outcome.action} -> {outcome.status} {outcome.reason or ''}")
            outcomes.append(outcome)
            history.append(outcome)
    return outcomes


def record_outcomes(store, month: str, outcomes: Sequence[Outcome]) -> list[dict]:
    """Append the outcomes to the month's remediation_runs (the history every cooldown reads); all its rows."""
    target = layout.REMEDIATION_RUNS.path(store, month)
    # remediation_job and live_alert_job runs may finish together: each appends under the lock
    with store.exclusive(f"remediation_runs-{month}"):
        previous = pl.from_arrow(store.read_table(target)).to_dicts() if target.exists() else []
        rows = previous + [outcome.model_dump() for outcome in outcomes]
        frame = pl.DataFrame(rows)
        if frame.height:
            store.write_table(target, frame.to_arrow())
    return rows


@dg.asset(
    group_name="remediation",
    partitions_def=MONTHLY,
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
    plan = read_plan(store, month)
    history = action_history(store)
    runbooks = remediation.runbooks()
    actions = {(a.runbook, a.name): a for runbook in runbooks for a in runbook.actions}
    # Every runbook's secrets are redacted from every outcome, not only the acting one's.
    secret_names = set().union(*(a.secret_env_names() for a in actions.values()))
    levels = {(r.name, a.name): r.level_of(a.name) for r in runbooks for a in r.actions}
    wanted = set(config.actions)
    # A normal run does what is due at once; an escalation run only its level's actions.
    entries = [e.model_copy(update={"actions": tuple(a for a in e.actions if (f"{a.runbook}/{a.action.name}" in wanted if wanted
                                                                               else levels.get((a.runbook, a.action.name), 0) == 0))})
               for e in plan.entries if not config.slos or e.slo in config.slos]
    outcomes: list[Outcome] = []
    if config.pagerduty_event:
        entries = []
        for slo in config.slos:
            for action in (a for a in actions.values() if a.kind == "pagerduty"):
                for outcome in follow_up_pagerduty(action, config.pagerduty_event, month, slo, config.run_key, history, remediation.execute,
                                                   secret_names=secret_names):
                    outcomes.append(outcome)
                    history.append(outcome)
    outcomes += act_on(context, entries, actions, month, config.run_key, history, remediation.execute, secret_names)
    rows = record_outcomes(store, month, outcomes)
    counts = {status: sum(o.status == status for o in outcomes) for status in {o.status for o in outcomes}}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        "this_run": dg.MetadataValue.json(counts),
        "dry_run": not remediation.execute,
        "outcomes": dg.MetadataValue.md(table(["slo", "runbook", "action", "status", "reason", "attempts"],
                                              [(o.slo, o.runbook, o.action, o.status, o.reason, o.attempts) for o in outcomes])
                                        if outcomes else "no actions"),
    })


@dg.asset(
    group_name="remediation",
    partitions_def=MONTHLY,
    deps=[remediation_runs, days_of_month("sli_minutely", months_after=1)],
    kinds={"polars", "parquet"},
    code_version=REMEDIATION_CODE_VERSION,
    owners=OWNERS,
)
def learning_record(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings) -> dg.MaterializeResult:
    """SLI and burn rate in the hour before and after each action, whether and how fast the SLO recovered; kept across months."""
    month = context.partition_key
    store = warehouse.store()
    specs = slo_settings.load()
    outcomes = month_outcomes(store, month)
    plan = read_plan(store, month)
    minutes, present = read_days(store, layout.SLI_MINUTELY, month_days(month) + month_days(next_month(month)), MINUTE_SCHEMA)
    data_end = day_start_ms(max(present)) + DAY_MS if present else 0
    targets = {s.name: s.objectives[0].target for s in specs.slos}
    fresh = pl.DataFrame(learn(outcomes, plan.entries, by_slo(minutes), targets, data_end), infer_schema_length=None)
    size = 0
    if fresh.height:  # the month's outcomes only grow, so a month once written is never emptied
        size, _ = store.write_table(layout.LEARNING_RECORD.path(store, month), fresh.to_arrow())
    kept = learning_history(store)
    kept = fresh if kept is None else kept
    stats = effectiveness(kept)
    rows = [(r["slo"], r["runbook"], r["action"], r["reference"], r["sli_before"], r["sli_after"], r["recovered"], r["minutes_to_recover"])
            for r in fresh.iter_rows(named=True)] if fresh.height else []
    return dg.MaterializeResult(metadata={
        "dagster/row_count": fresh.height,
        **(written(store, layout.LEARNING_RECORD, month, size) if size else {}),
        "records_kept": kept.height,
        "this_month": dg.MetadataValue.md(table(["slo", "runbook", "action", "reference", "SLI before", "SLI after", "recovered",
                                                 "minutes to recover"], rows) if rows else "no actions this month"),
        "what_worked": dg.MetadataValue.md(table(stats.columns, stats.iter_rows()) if stats.height else "no record yet"),
    })
