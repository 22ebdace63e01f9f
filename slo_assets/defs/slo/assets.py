"""The SLO chain: spec files -> sli_minutely (daily) -> sli_metrics, slo_targets, error_budgets,
compliance_report (monthly). Each asset loads its inputs from the warehouse, calls slo_assets.slo.*,
writes its outputs and returns figures, checks and a content-derived data version."""

import hashlib
import json
import warnings

import dagster as dg
import polars as pl
import pyarrow.parquet as pq

from slo_assets.core.calendar import Month
from slo_assets.core.markdown import frame_table, table
from slo_assets.defs.ingest.assets import INGEST_CODE_VERSION
from slo_assets.defs.ingest.day_runs import SINGLE_RUN, add_day_metadata, combine_checks, range_version, run_days
from slo_assets.defs.mappings import days_of_month
from slo_assets.defs.metadata import OWNERS, SLI_METRICS, SLI_MINUTELY, SLO_TARGETS
from slo_assets.defs.partitions import DAILY, MONTHLY
from slo_assets.defs.resources import SloSettings, WarehouseResource
from slo_assets.defs.sources import sibling
from slo_assets.defs.warehouse_io import input_versions, month_period, partition_month, read_days, read_frame, written
from slo_assets.slo import chain as C
from slo_assets.slo import risk as R
from slo_assets.slo.evaluation import budget_inconsistencies, budget_rows, dump_evaluations, load_evaluations, most_consumed_first
from slo_assets.slo.quantiles import day_sources, write_value_counts
from slo_assets.slo.sli import MINUTE_FILE_SCHEMA, MINUTE_SCHEMA, OPERATION_SCHEMA, day_inputs, needed_columns, selected_counts
from slo_assets.warehouse import layout

# Bump when the SLO math changes what these assets write: Dagster then marks them stale.
# 3: confidence, coverage and status notes per window; 4: budget adjustments; 5: throughput SLOs, budget-state alerts;
# 6: composite SLOs; 7: sli_minutely counts a latency SLO's requests without a request time (untimed) and keeps
# their minutes, each window carries them: the bump recomputes the days a run reads (a day file of an older
# version still reads, its untimed as 0, so a window over it says "no event" until its days run again)
CHAIN_CODE_VERSION = "chain-7"

CHECK_GOOD_LE_TOTAL = "good_not_above_total"
CHECK_TOTALS_MATCH = "totals_match_parsed_rows"
CHECK_SLI_RANGE = "sli_within_unit_interval"
CHECK_ALL_DAYS = "closed_month_has_every_day"
CHECK_BUDGET_CONSISTENT = "consumed_ratio_matches_sli"
CHECK_EVERY_SLO = "every_slo_window_reported"
CHECK_LADDER = "recommendations_on_ladder"
CHECK_COVERAGE = "coverage_above_floor"
STATUS_ROWS = 100  # compliance_report's status table in the UI
RISK_MONTHS = 3  # slo_targets bootstraps next month over the days of this month and the two before


# observable_source_asset is beta in Dagster 1.13; it is the means the design asks for (the spec
# files' content hash as a data version), so its BetaWarning is silenced here and only here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)

    @dg.observable_source_asset(name="slo_specs", group_name="slo", description="OpenSLO v1 spec files; data version = content hash")
    def slo_specs(context, slo_settings: SloSettings) -> dg.ObserveResult:
        specs = slo_settings.load()
        rows = [(s.name, s.service, s.budgeting_method, ", ".join(w.label for w in s.windows),
                 ", ".join(f"{o.display_name} ({o.target})" for o in s.objectives), s.source) for s in specs.slos]
        rows += [(c.name, c.service, f"{c.budgeting_method}, composite of " + ", ".join(f"{p.slo} x{p.weight}" for p in c.components),
                  ", ".join(w.label for w in c.windows), f"{c.objective.display_name} ({c.objective.target})", c.source)
                 for c in specs.composites]
        return dg.ObserveResult(
            data_version=dg.DataVersion(specs.content_hash),
            metadata={
                "files": dg.MetadataValue.json(specs.files),
                "slos": len(specs.slos),
                "composite_slos": len(specs.composites),
                "alert_policies": len(specs.policies),
                "warnings": dg.MetadataValue.json(specs.warnings),
                "slo_table": dg.MetadataValue.md(table(["slo", "service", "budgeting", "windows", "objectives", "source"], rows)),
            },
        )


SLI_LATENCY_DESCRIPTION = "Per SLO and duration (ms) of one day: requests, for exact quantiles over any span of days"
SLI_OPERATIONS_DESCRIPTION = "Per SLO and operation of one day: good and total events, for the worst operations of a month"


# The chain's side tables (value counts, per-operation figures, the evaluations whole, the burn-down
# series, the SQL table) are a group of their own, so the slo group's lineage reads as the chain:
# specs -> sli_minutely -> sli_metrics -> slo_targets -> error_budgets -> compliance_report.
DETAIL_GROUP = "slo_detail"


def _spec(key: str, group: str, kinds: set[str], description: str, deps=(), metadata=None) -> dg.AssetSpec:
    return dg.AssetSpec(key, group_name=group, deps=list(deps), kinds=kinds, code_version=CHAIN_CODE_VERSION, owners=OWNERS,
                        description=description, metadata=metadata)


@dg.multi_asset(
    specs=[
        _spec("sli_minutely", "slo", {"polars", "parquet"}, "Per SLO per minute good and total events of one day "
              "(and a latency SLO's requests without a request time)",
              ["parsed_logs", slo_specs], SLI_MINUTELY),
        _spec("sli_latency", DETAIL_GROUP, {"polars", "parquet"}, SLI_LATENCY_DESCRIPTION, ["parsed_logs", slo_specs]),
        _spec("sli_operations", DETAIL_GROUP, {"polars", "parquet"}, SLI_OPERATIONS_DESCRIPTION, ["parsed_logs", slo_specs]),
    ],
    partitions_def=DAILY,
    backfill_policy=SINGLE_RUN,
    check_specs=[
        dg.AssetCheckSpec(CHECK_GOOD_LE_TOTAL, asset="sli_minutely", description="good <= total in every minute"),
        dg.AssetCheckSpec(CHECK_TOTALS_MATCH, asset="sli_minutely", blocking=True,
                          description="per SLO, the minute totals add up to the parsed rows its total filter selects"),
    ],
)
def sli_minutely(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings):
    """The run's days' SLI inputs per SLO: minute counts, exact latency value counts and per-operation counts."""
    specs = slo_settings.load()
    store = warehouse.store()
    days = run_days(context)
    digests: dict[str, list[str]] = {"sli_minutely": [], layout.SLI_LATENCY.key: [], layout.SLI_OPERATIONS.key: []}
    checks: dict[str, dict[str, dg.AssetCheckResult]] = {CHECK_GOOD_LE_TOTAL: {}, CHECK_TOTALS_MATCH: {}}
    columns = needed_columns(specs.slos)
    for day in days:
        source = layout.PARSED_LOGS.path(store, day)
        if not source.exists():
            raise dg.Failure(f"parsed_logs partition {day} is missing ({source}): materialize it first")
        rows = pl.from_arrow(store.read_table(source, columns=columns))
        inputs = day_inputs(rows, specs.slos)
        minutes_size, minutes_digest = store.write_table(layout.SLI_MINUTELY.path(store, day), inputs.minutes.to_arrow())
        digests["sli_minutely"].append(minutes_digest)
        expected = selected_counts(rows, specs.slos)
        summary = inputs.minutes.group_by("slo").agg(pl.col("good").sum(), pl.col("total").sum(), pl.col("untimed").sum()).sort("slo")
        totals = dict(summary.select("slo", "total").iter_rows())
        mismatches = [(slo, expected[slo], totals.get(slo, 0)) for slo in expected if expected[slo] != totals.get(slo, 0)]
        over = inputs.minutes.filter(pl.col("good") > pl.col("total")).height
        add_day_metadata(context, "sli_minutely", day, {
            "dagster/row_count": inputs.minutes.height,
            "slos": len(specs.slos),
            "spec_hash": specs.content_hash,
            **written(store, layout.SLI_MINUTELY, day, minutes_size),
            "per_slo": dg.MetadataValue.md(frame_table(summary, limit=100)),
        })
        checks[CHECK_GOOD_LE_TOTAL][day] = dg.AssetCheckResult(
            check_name=CHECK_GOOD_LE_TOTAL, passed=over == 0, metadata={"minutes_with_good_above_total": over})
        checks[CHECK_TOTALS_MATCH][day] = dg.AssetCheckResult(
            check_name=CHECK_TOTALS_MATCH, passed=not mismatches,
            description=f"{len(mismatches)} SLO(s) whose minute totals differ from the rows they select" if mismatches else None,
            metadata={"slos_checked": len(expected),
                      "mismatches": dg.MetadataValue.md(table(["slo", "parsed rows selected", "minute totals"], mismatches)
                                                        if mismatches else "none")})
        for dataset, frame in ((layout.SLI_LATENCY, inputs.latency), (layout.SLI_OPERATIONS, inputs.operations)):
            size, digest = store.write_table(dataset.path(store, day), frame.to_arrow())
            digests[dataset.key].append(digest)
            add_day_metadata(context, dataset.key, day, {"dagster/row_count": frame.height, **written(store, dataset, day, size)})
    yield dg.MaterializeResult(
        asset_key=sibling(context, "sli_minutely"), data_version=range_version(digests["sli_minutely"]), metadata={"days_in_run": len(days)},
        check_results=[combine_checks(name, results) for name, results in checks.items()])
    for key in (layout.SLI_LATENCY.key, layout.SLI_OPERATIONS.key):
        yield dg.MaterializeResult(asset_key=sibling(context, key), data_version=range_version(digests[key]), metadata={"days_in_run": len(days)})


SLI_OPERATIONS_MONTHLY_DESCRIPTION = "Per SLO and operation for the month (to date): good, bad and total events, worst first"
SLI_LATENCY_MONTHLY_DESCRIPTION = "The latency SLOs' value counts of the month: slo_targets' latency recommendation reads them"


@dg.multi_asset(
    specs=[
        _spec("sli_metrics", "slo", {"polars", "parquet"},
              "Per SLO for the month (to date): good, total, SLI, availability, exact p50/p95/p99 latency, timeslice SLIs",
              [days_of_month("sli_minutely"), days_of_month("sli_latency"), slo_specs], SLI_METRICS),
        _spec("sli_operations_monthly", DETAIL_GROUP, {"polars", "parquet"}, SLI_OPERATIONS_MONTHLY_DESCRIPTION,
              [days_of_month("sli_operations"), slo_specs]),
        _spec("sli_latency_monthly", DETAIL_GROUP, {"polars", "parquet"}, SLI_LATENCY_MONTHLY_DESCRIPTION,
              [days_of_month("sli_latency"), slo_specs]),
    ],
    partitions_def=MONTHLY,
    check_specs=[
        dg.AssetCheckSpec(CHECK_SLI_RANGE, asset="sli_metrics", description="every SLI and availability in [0, 1], good <= total"),
        dg.AssetCheckSpec(CHECK_ALL_DAYS, asset="sli_metrics", description="a closed month has SLI inputs for every day"),
    ],
)
def sli_metrics(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings):
    """The month's SLIs per SLO and per operation, from its days' SLI inputs."""
    month = partition_month(context)
    specs = slo_settings.load()
    store = warehouse.store()
    days = month.days()
    minutes, present = read_days(store, layout.SLI_MINUTELY, days, MINUTE_SCHEMA)
    latency_files = [layout.SLI_LATENCY.path(store, day) for day in days]  # streamed in chunks, never loaded whole
    operations, _ = read_days(store, layout.SLI_OPERATIONS, days, OPERATION_SCHEMA)
    period = month_period(month, present)
    metrics, by_operation = C.sli_metrics(specs, minutes, day_sources(store, latency_files), operations, period,
                                          slo_settings.chain_settings())
    size_m, digest_m = store.write_table(layout.SLI_METRICS.path(store, month.key), metrics.to_arrow())
    latency_slos = [s.name for s in specs.slos if s.indicator.kind() == "latency"]
    operations_written = (*store.write_table(layout.SLI_OPERATIONS_MONTHLY.path(store, month.key), by_operation.to_arrow()), by_operation.height)
    latency_written = write_value_counts(store, layout.SLI_LATENCY_MONTHLY.path(store, month.key), latency_files, latency_slos)
    for dataset, (size, digest, rows) in ((layout.SLI_OPERATIONS_MONTHLY, operations_written),
                                          (layout.SLI_LATENCY_MONTHLY, latency_written)):
        yield dg.MaterializeResult(asset_key=sibling(context, dataset.key), data_version=dg.DataVersion(digest[:24]),
                                   metadata={"dagster/row_count": rows, **written(store, dataset, month.key, size)})
    missing = [d for d in days if d not in present and period.elapsed(d)]
    bad_range = metrics.filter(~pl.col("sli").is_between(0, 1) | (pl.col("good") > pl.col("total"))
                               | ~pl.col("availability").fill_null(1).is_between(0, 1)).height
    view = metrics.select("slo", "good", "total", "sli", "availability", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
    yield dg.MaterializeResult(
        asset_key=sibling(context, "sli_metrics"),
        data_version=dg.DataVersion(digest_m[:24]),
        metadata={
            "dagster/row_count": metrics.height,
            "as_of": C.B.iso(period.as_of_ms),
            "month_complete": period.complete,
            "days_with_data": len(present),
            **written(store, layout.SLI_METRICS, month.key, size_m),
            "metrics": dg.MetadataValue.md(frame_table(view, limit=100)),
            "top_operations_by_bad_events": dg.MetadataValue.md(frame_table(by_operation.head(15), limit=15)),
        },
        check_results=[
            dg.AssetCheckResult(check_name=CHECK_SLI_RANGE, passed=bad_range == 0, metadata={"rows_out_of_range": bad_range}),
            dg.AssetCheckResult(check_name=CHECK_ALL_DAYS, passed=not missing,
                                severity=dg.AssetCheckSeverity.ERROR if period.complete else dg.AssetCheckSeverity.WARN,
                                metadata={"missing_days": dg.MetadataValue.json(missing), "days_expected": len(days),
                                          "days_present": len(present)}),
        ],
    )


@dg.asset(
    group_name="slo",
    partitions_def=MONTHLY,
    # every month of sli_metrics up to this one is its history; the same month's is the one that changes it
    # the minute aggregates of the month and the two before: the days the target risks are bootstrapped over
    deps=["sli_metrics", "sli_latency_monthly", days_of_month("sli_minutely", months_before=RISK_MONTHS - 1), slo_specs],
    kinds={"polars", "parquet"},
    code_version=CHAIN_CODE_VERSION,
    owners=OWNERS,
    metadata=SLO_TARGETS,
    check_specs=[dg.AssetCheckSpec(CHECK_LADDER, asset="slo_targets", description="recommendations sit on the target ladder and were achievable")],
)
def slo_targets(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings) -> dg.MaterializeResult:
    """Declared targets beside recommended ones from every month available up to this one."""
    month = partition_month(context)
    specs = slo_settings.load()
    store = warehouse.store()
    history = [read_frame(store, layout.SLI_METRICS, earlier).select("slo", "good", "total").with_columns(pl.lit(earlier).alias("month"))
               for earlier in layout.SLI_METRICS.partitions(store) if earlier <= month.key]
    history_schema = {"slo": pl.String, "good": pl.Int64, "total": pl.Int64, "month": pl.String}
    history_frame = pl.concat(history) if history else pl.DataFrame(schema=history_schema)
    latency = day_sources(store, [layout.SLI_LATENCY_MONTHLY.path(store, month.key)])  # streamed, never whole
    risk_days = [d for m in month.months_back(RISK_MONTHS) for d in m.days()]
    minutes, present = read_days(store, layout.SLI_MINUTELY, risk_days, MINUTE_SCHEMA)
    risks = C.target_risks(specs, minutes, present, slo_settings.chain_settings())
    targets = C.with_risks(C.recommend_targets(specs, history_frame, latency), risks)
    size, digest = store.write_table(layout.SLO_TARGETS.path(store, month.key), targets.to_arrow())
    off_ladder = targets.filter(pl.col("basis") != "ladder").height
    not_achieved = targets.filter(pl.col("achieved_in_all_months").eq(False)).height
    return dg.MaterializeResult(
        data_version=dg.DataVersion(digest[:24]),
        metadata={
            "dagster/row_count": targets.height,
            "months_of_history": history_frame["month"].n_unique() if history_frame.height else 0,
            **written(store, layout.SLO_TARGETS, month.key, size),
            "targets": dg.MetadataValue.md(frame_table(targets.drop("service", *C.RISK_COLUMNS), limit=100)),
            "days_bootstrapped": len(present),
            "target_risk": dg.MetadataValue.md(table(R.risk_headers(C.LADDER), R.risk_rows(risks[:STATUS_ROWS]))),
        },
        check_results=[dg.AssetCheckResult(
            check_name=CHECK_LADDER, passed=not_achieved == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={"below_ladder": off_ladder, "not_achieved_every_month": not_achieved})],
    )


# the previous month too: the alert windows and the coverage's 4 weeks of history reach back before
# the month starts; the parsed and quarantined line counts give each window's quarantine share
BUDGET_DEPS = [days_of_month("sli_minutely", months_before=1), days_of_month("parsed_logs", months_before=1),
               days_of_month("quarantine", months_before=1), slo_specs]


@dg.multi_asset(
    specs=[
        _spec("error_budgets", "slo", {"json"}, "Allowed, consumed and remaining budget, burn rates 5m..3d, alert replay, "
              "threshold crossings and forecast per SLO window: error_budgets.json", BUDGET_DEPS),
        _spec("window_evaluations", DETAIL_GROUP, {"json"}, "Every SLO window's evaluation, whole: what compliance, the plan and "
              "the outputs are built from", BUDGET_DEPS),
        _spec("budget_series", DETAIL_GROUP, {"polars", "parquet"}, "Per SLO window every 5 minutes: good, total, budget left, "
              "burn rates 1h and 6h (the burn-down charts)", BUDGET_DEPS),
        _spec("error_budget_table", DETAIL_GROUP, {"polars", "parquet"}, "One row per SLO window: budget, burn rates, alerts, "
              "forecast and status, for SQL and dashboards", BUDGET_DEPS),
    ],
    partitions_def=MONTHLY,
    check_specs=[dg.AssetCheckSpec(CHECK_BUDGET_CONSISTENT, asset="error_budgets",
                                   description="consumed ratio = (1 - SLI) / (1 - target) and good <= total for every window")],
)
def error_budgets(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings):
    """Every SLO window of the month evaluated once: its document, the whole evaluations, the series and a table."""
    month = partition_month(context)
    specs = slo_settings.load()
    store = warehouse.store()
    lookback = C.lookback_days(month.key)
    minutes, present = read_days(store, layout.SLI_MINUTELY, lookback, MINUTE_FILE_SCHEMA)  # untimed too: the windows say it
    period = month_period(month, present)
    from slo_assets.outputs import charts, sparklines

    lines = _lines_per_day(store, lookback)
    evaluations, series = C.evaluate_with_series(specs, minutes, period, slo_settings.chain_settings(), lines)
    provenance = {"spec_hash": specs.content_hash, "code_version": CHAIN_CODE_VERSION}
    document = C.error_budgets_document(evaluations, period, provenance)
    rows = budget_rows(evaluations)
    whole = dump_evaluations(evaluations)
    whole_version = dg.DataVersion(hashlib.sha256(whole).hexdigest()[:24])  # the file's bytes: serialized once
    sizes = {}
    for dataset, payload in ((layout.WINDOW_EVALUATIONS, whole), (layout.ERROR_BUDGETS, json.dumps(document, indent=1).encode())):
        store.write_bytes_atomic(dataset.path(store, month.key), payload)
        sizes[dataset.key] = len(payload)
    for dataset, frame in ((layout.BUDGET_SERIES, series), (layout.ERROR_BUDGET_TABLE, rows)):
        size, digest = store.write_table(dataset.path(store, month.key), frame.to_arrow())
        yield dg.MaterializeResult(asset_key=sibling(context, dataset.key), data_version=dg.DataVersion(digest[:24]),
                                   metadata={"dagster/row_count": frame.height, **written(store, dataset, month.key, size)})
    yield dg.MaterializeResult(asset_key=sibling(context, "window_evaluations"), data_version=whole_version,
                               metadata={"dagster/row_count": len(evaluations),
                                         **written(store, layout.WINDOW_EVALUATIONS, month.key, sizes["window_evaluations"])})
    inconsistent = budget_inconsistencies(evaluations)
    yield dg.MaterializeResult(
        asset_key=sibling(context, "error_budgets"),
        data_version=whole_version,
        metadata={
            "dagster/row_count": len(evaluations),
            **written(store, layout.ERROR_BUDGETS, month.key, sizes["error_budgets"]),
            "as_of": C.B.iso(period.as_of_ms),
            "page_alerts": int(rows["page_alerts"].sum()) if rows.height else 0,
            "ticket_alerts": int(rows["ticket_alerts"].sum()) if rows.height else 0,
            "alerts_held_back_by_low_traffic_gate": int(rows["alerts_held_back"].sum()) if rows.height else 0,
            "budgets": dg.MetadataValue.md(frame_table(rows, limit=100)),
            "burn_down": dg.MetadataValue.md(charts.burn_down_markdown(evaluations, series, month.end_ms)),
            # one inline chart per window, shown on the asset page without a click (the overview above is too long for that)
            **{chart.name: dg.MetadataValue.md(chart.markdown) for chart in sparklines.burn_down_charts(evaluations, series)},
        },
        check_results=[dg.AssetCheckResult(check_name=CHECK_BUDGET_CONSISTENT, passed=not inconsistent,
                                           metadata={"windows": len(evaluations),
                                                     "inconsistent": dg.MetadataValue.json([i.as_row() for i in inconsistent])})],
    )


def _row_count(store, path) -> int:
    return pq.ParquetFile(str(path) if store.is_local else path.open("rb")).metadata.num_rows


def _lines_per_day(store, days: list[str]) -> C.LinesPerDay:
    """(parsed rows, quarantined lines) of each day with a parsed_logs partition, from the files' footers."""
    counts = {}
    for day in days:
        parsed = layout.PARSED_LOGS.path(store, day)
        if parsed.exists():
            bad = layout.QUARANTINE.path(store, day)
            counts[day] = (_row_count(store, parsed), _row_count(store, bad) if bad.exists() else 0)
    return counts


def _data_quality(store, month: Month, period: C.Period) -> dict:
    counts = _lines_per_day(store, month.days())
    rows = sum(r for r, _ in counts.values())
    quarantined = sum(q for _, q in counts.values())
    lines = rows + quarantined
    expected = [d for d in month.days() if period.elapsed(d)]
    return {"lines_read": lines, "rows": rows, "quarantined_lines": quarantined,
            "quarantine_ratio": round(quarantined / lines, 9) if lines else 0.0,
            **C.day_coverage(expected, {day: r for day, (r, _) in counts.items()})}


@dg.asset(
    group_name="slo",
    partitions_def=MONTHLY,
    # the previous month's compliance_report gives the trend: read, not declared (a self-dependency
    # would chain every month's run to the one before)
    deps=["error_budgets", "window_evaluations", "budget_series", "sli_metrics", slo_targets, slo_specs, days_of_month("parsed_logs"),
          days_of_month("quarantine")],
    kinds={"json"},
    code_version=CHAIN_CODE_VERSION,
    owners=OWNERS,
    check_specs=[dg.AssetCheckSpec(CHECK_EVERY_SLO, asset="compliance_report", description="every SLO x objective x window of the spec is reported"),
                 # blocking, but it stops the outputs only with slo_settings.block_outputs_below_coverage_floor (its
                 # failure is an ERROR then, a WARN otherwise)
                 dg.AssetCheckSpec(CHECK_COVERAGE, asset="compliance_report", blocking=True,
                                   description="every SLO window measured at least the coverage floor of its minutes")],
)
def compliance_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings) -> dg.MaterializeResult:
    """Per SLO window status met / at_risk / failed / insufficient_coverage / insufficient_data, deficit, trend, health score per service."""
    month = partition_month(context)
    specs = slo_settings.load()
    store = warehouse.store()
    series = read_frame(store, layout.BUDGET_SERIES, month.key, C.SERIES_SCHEMA)
    evaluations_path = layout.WINDOW_EVALUATIONS.path(store, month.key)
    if not evaluations_path.exists():
        raise dg.Failure(f"window_evaluations for {month} is missing: materialize error_budgets first")
    evaluations = load_evaluations(evaluations_path.read_bytes(), str(evaluations_path))
    period = C.Period.of(month.key, C.data_as_of(evaluations, month.key))
    previous = {}
    before = layout.COMPLIANCE_REPORT.path(store, month.previous.key)
    if before.exists():
        previous = C.previous_slis(json.loads(before.read_bytes()))
    maintenance = C.maintenance_windows(slo_settings.chain_settings(), [*specs.slos, *specs.composites], period)
    provenance = {
        "spec_hash": specs.content_hash,
        "spec_files": {k.split("/")[-1]: v for k, v in specs.files.items()},
        "code_version": CHAIN_CODE_VERSION,
        "ingest_code_version": INGEST_CODE_VERSION,
        "input_data_versions": input_versions(context, [("error_budgets", month.key), ("sli_metrics", month.key), ("slo_targets", month.key),
                                                        ("slo_specs", None)]),
    }
    document = C.compliance(evaluations, previous, period, _data_quality(store, month, period), provenance, maintenance,
                            C.budget_adjustments(specs.slos, period))
    payload = json.dumps(document, indent=1).encode()
    store.write_bytes_atomic(layout.COMPLIANCE_REPORT.path(store, month.key), payload)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(hashlib.sha256(json.dumps({k: v for k, v in document.items() if k != "generated_at"},
                                                              sort_keys=True).encode()).hexdigest()[:24]),
        metadata={**written(store, layout.COMPLIANCE_REPORT, month.key, len(payload)), **_compliance_metadata(document, evaluations, series),
                  "spec_hash": specs.content_hash},
        check_results=_compliance_checks(document, evaluations, specs, slo_settings),
    )


def _compliance_metadata(document: dict, evaluations: list, series) -> dict:
    """What the UI shows of a month's compliance: counts, the windows that consumed the most budget, health, charts."""
    from slo_assets.outputs import charts, sparklines

    # the windows that consumed the most budget (the UI renders every row: 500 would be a wall); compliance.json has all
    shown = sorted(most_consumed_first(evaluations)[:STATUS_ROWS])
    status_rows = [(e.slo, e.objective, e.window, e.status, e.sli, e.target, e.error_budget.remaining_ratio, entry["trend"]["direction"])
                   for e, entry in ((evaluations[i], document["slos"][i]) for i in shown)]
    return {
        "dagster/row_count": len(document["slos"]),
        **{f"slos_{k}": v for k, v in document["summary"].items() if isinstance(v, int)},
        "compliance_percent": document["summary"]["compliance_percent"],
        "status": dg.MetadataValue.md(table(["slo", "objective", "window", "status", "sli", "target", "budget left", "trend"], status_rows)
                                      + ("" if len(status_rows) == len(evaluations) else
                                         f"\n\n{len(status_rows)} of {len(evaluations)} SLO windows: those that consumed the most budget")),
        "health": dg.MetadataValue.md(table(["service", "health score", "windows", "failed"],
                                            [(h["service"], h["health_score"], h["slo_windows"], h["failed"]) for h in document["services"]])),
        "budget_consumed": dg.MetadataValue.md(charts.summary_markdown(evaluations)),
        **{chart.name: dg.MetadataValue.md(chart.markdown) for chart in sparklines.sli_charts(evaluations, series)},
    }


def _compliance_checks(document: dict, evaluations: list, specs, slo_settings: SloSettings) -> list[dg.AssetCheckResult]:
    """Every SLO window of the spec is reported; every window measured at least the coverage floor."""
    expected = {(s.name, o.key, w.label) for s in [*specs.slos, *specs.composites] for o in s.objectives for w in s.windows}
    reported = {(e["slo"], e["objective"], e["window"]) for e in document["slos"]}
    under_floor = [(e.label, e.coverage.unmeasured_minutes, f"{e.coverage.unmeasured_ratio * 100:.1f} %", e.status_note)
                   for e in evaluations if e.coverage is not None and e.coverage.below_floor]
    return [dg.AssetCheckResult(check_name=CHECK_EVERY_SLO, passed=expected == reported,
                                metadata={"expected": len(expected), "reported": len(reported),
                                          "missing": dg.MetadataValue.json(sorted(map(list, expected - reported)))}),
            dg.AssetCheckResult(
                check_name=CHECK_COVERAGE, passed=not under_floor,
                severity=dg.AssetCheckSeverity.ERROR if slo_settings.active().block_outputs_below_coverage_floor else dg.AssetCheckSeverity.WARN,
                description=(f"{len(under_floor)} SLO window(s) under the coverage floor {slo_settings.active().coverage_floor:g}"
                             if under_floor else None),
                metadata={"floor": slo_settings.active().coverage_floor, "windows_under_floor": len(under_floor),
                          "under_floor": dg.MetadataValue.md(table(["SLO window", "unmeasured minutes", "unmeasured", "status"],
                                                                   under_floor[:STATUS_ROWS])
                                                             if under_floor else "none")})]
