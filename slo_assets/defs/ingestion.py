"""log_file_index and parsed_logs: raw files to canonical daily Parquet, with their checks."""

import hashlib
import warnings
from datetime import datetime

import dagster as dg
import pandera.errors
import polars as pl

from slo_assets.defs.metadata import LOG_FILE_INDEX, OWNERS, PARSED_LOGS
from slo_assets.defs.partitions import daily_partitions
from slo_assets.defs.resources import LogSource, WarehouseResource
from slo_assets.ingest.index import NO_FILES_VERSION, assemble_day, build_index, day_versions, index_summary
from slo_assets.ingest.staging import DAY_MS
from slo_assets.markdown import frame_table, table
from slo_assets.schemas import ParsedLogs

INDEX_FILE = "log_file_index.parquet"
# Bump when the asset's logic changes what it writes, so Dagster marks outputs stale.
INGEST_CODE_VERSION = "ingest-1"

CHECK_FILES_UNIQUE = "log_file_contents_unique"
CHECK_SCHEMA = "parsed_logs_match_schema"
CHECK_EXPECTATIONS = "parsed_logs_meet_expectations"
CHECK_QUARANTINE = "quarantine_ratio_below_threshold"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def read_index(warehouse: WarehouseResource) -> pl.DataFrame | None:
    store = warehouse.store()
    target = store.path(INDEX_FILE)
    return pl.from_arrow(store.read_table(target)) if target.exists() else None


def _last_observed(instance: dg.DagsterInstance, days: list[str], batch: int = 500) -> dict[str, str]:
    """The data version Dagster last recorded for each of `days` of log_file_index (newest first;
    days asked in batches to keep the SQL parameter lists short)."""
    seen: dict[str, str] = {}
    for first in range(0, len(days), batch):
        wanted = days[first:first + batch]
        records_filter = dg.AssetRecordsFilter(asset_key=dg.AssetKey("log_file_index"), asset_partitions=wanted)
        cursor, found = None, 0
        while True:
            page = instance.fetch_observations(records_filter, limit=1000, cursor=cursor)
            for record in page.records:
                observation = record.asset_observation
                if observation is not None and observation.partition not in seen and observation.data_version is not None:
                    seen[observation.partition] = observation.data_version
                    found += 1
            if not page.has_more or found == len(wanted):
                break
            cursor = page.cursor
    return seen


# observable_source_asset is beta in Dagster 1.13; per-partition data versions of an external source
# are exactly what it is for, so its BetaWarning is silenced here and only here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)

    @dg.observable_source_asset(
        name="log_file_index",
        group_name="ingestion",
        partitions_def=daily_partitions,
        metadata=LOG_FILE_INDEX,
        description="The raw log files, per UTC day. Observing them fingerprints every file (sha256; a stat for "
                    "unchanged ones), parses new or changed files once into the stage cache, writes "
                    "log_file_index.parquet, and gives each day a data version from the files holding its lines: "
                    "a late, grown, replaced or removed file marks exactly its days' parsed_logs stale.",
    )
    def log_file_index(context, log_source: LogSource, warehouse: WarehouseResource) -> dg.DataVersionsByPartition:
        previous = read_index(warehouse)
        build = build_index(
            root=log_source.root,
            stage_root=warehouse.stage_root(),
            config=log_source.parse_config(),
            include=tuple(log_source.include),
            previous=previous,
            follow_symlinks=log_source.follow_symlinks,
        )
        store = warehouse.store()
        store.write_table(store.path(INDEX_FILE), build.index.to_arrow())
        versions = day_versions(build.index)
        gone = set(day_versions(previous)) - set(versions) if previous is not None and "days" in previous.columns else set()
        versions.update({day: NO_FILES_VERSION for day in gone})
        valid = {day: version for day, version in versions.items() if daily_partitions.has_partition_key(day)}
        # Only days whose version differs from the one Dagster holds: one event per changed day.
        observed = _last_observed(context.instance, sorted(valid))
        changed = {day: dg.DataVersion(version) for day, version in valid.items() if observed.get(day) != version}
        summary = index_summary(build.index)
        context.log.info(
            f"indexed {summary['files']} files ({len(build.staged)} parsed now, {build.reused} reused), "
            f"{summary['rows']} rows, {summary['quarantined_lines']} quarantined lines; "
            f"{len(changed)} of {len(valid)} days have new data versions"
            + (f"; {len(versions) - len(valid)} days outside the partitions ignored" if len(valid) < len(versions) else "")
        )
        for path, owner in build.duplicates:
            context.log.warning(f"{path} holds the same bytes as {owner}: read once, from {owner}")
        with warnings.catch_warnings():  # beta in 1.13, like the decorator
            warnings.simplefilter("ignore", dg.BetaWarning)
            return dg.DataVersionsByPartition(changed)


def _schema_check(frame) -> dg.AssetCheckResult:
    try:
        ParsedLogs.validate(frame, lazy=True)
        return dg.AssetCheckResult(check_name=CHECK_SCHEMA, passed=True, metadata={"rows_checked": len(frame)})
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        return dg.AssetCheckResult(
            check_name=CHECK_SCHEMA,
            passed=False,
            metadata={"failure_cases": len(cases), "examples": dg.MetadataValue.md(frame_table(cases.astype(str), limit=20))},
        )


def _expectations_check(frame, start: datetime, end: datetime) -> dg.AssetCheckResult:
    from slo_assets.quality import validate_parsed_day

    outcomes = validate_parsed_day(frame, start, end)
    rows = [(o.expectation, o.column, "pass" if o.success else "FAIL", o.unexpected_count, ", ".join(o.unexpected_examples)) for o in outcomes]
    return dg.AssetCheckResult(
        check_name=CHECK_EXPECTATIONS,
        passed=all(o.success for o in outcomes),
        metadata={
            "expectations": len(outcomes),
            "failed": sum(not o.success for o in outcomes),
            "results": dg.MetadataValue.md(table(["expectation", "column", "result", "unexpected", "examples"], rows)),
        },
    )


def _duplicates_check(index: pl.DataFrame, day_ms: int) -> dg.AssetCheckResult:
    epoch_day = day_ms // DAY_MS
    copies = index.filter(pl.col("duplicate_of").is_not_null() & pl.col("days").list.contains(epoch_day))
    rows = list(copies.select("path", "duplicate_of").iter_rows())
    return dg.AssetCheckResult(
        check_name=CHECK_FILES_UNIQUE,
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "duplicates": len(rows),
            "detail": dg.MetadataValue.md(table(["file", "same bytes as"], rows) if rows else "none"),
            "note": "a duplicate is read once, from the first path in order",
        },
    )


def _quarantine_check(rows: int, quarantine: pl.DataFrame, threshold: float) -> dg.AssetCheckResult:
    lines = rows + quarantine.height
    ratio = quarantine.height / lines if lines else 0.0
    reasons = dict(quarantine["reason"].value_counts().sort("count", descending=True).iter_rows()) if quarantine.height else {}
    return dg.AssetCheckResult(
        check_name=CHECK_QUARANTINE,
        passed=ratio <= threshold,
        metadata={
            "quarantine_ratio": ratio,
            "threshold": threshold,
            "quarantined_lines": quarantine.height,
            "lines": lines,
            "by_reason": dg.MetadataValue.json(reasons),
        },
    )


@dg.asset(
    group_name="ingestion",
    partitions_def=daily_partitions,
    deps=[log_file_index],
    kinds={"polars", "parquet"},
    code_version=INGEST_CODE_VERSION,
    owners=OWNERS,
    metadata=PARSED_LOGS,
    check_specs=[
        dg.AssetCheckSpec(CHECK_SCHEMA, asset="parsed_logs", blocking=True, description="pandera ParsedLogs model"),
        dg.AssetCheckSpec(CHECK_EXPECTATIONS, asset="parsed_logs", description="Great Expectations suite parsed_logs_day"),
        dg.AssetCheckSpec(CHECK_QUARANTINE, asset="parsed_logs", description="quarantined lines / lines of the day"),
        dg.AssetCheckSpec(CHECK_FILES_UNIQUE, asset="parsed_logs",
                          description="no two files holding this day's lines have the same bytes (warn: read once)"),
    ],
)
def parsed_logs(context: dg.AssetExecutionContext, log_source: LogSource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Canonical requests of one UTC day with source file and line; bad lines go to the day's quarantine."""
    index = read_index(warehouse)
    if index is None:
        raise dg.Failure(f"no log file index at {warehouse.store().path(INDEX_FILE)}: observe log_file_index first (index_job)")
    window = context.partition_time_window
    day = assemble_day(index, warehouse.stage_root(), _ms(window.start), _ms(window.end))
    store = warehouse.store()
    key = context.partition_key
    rows_bytes, rows_digest = store.write_table(store.path("parsed_logs", f"{key}.parquet"), day.rows)
    bad_bytes, bad_digest = store.write_table(store.path("quarantine", f"{key}.parquet"), day.quarantine)
    frame = day.rows.to_pandas()
    quarantine = pl.from_arrow(day.quarantine)
    default_service = log_source.parse_config().default_service
    by_service = pl.from_arrow(day.rows.select(["service", "status"])).group_by("service").agg(
        pl.len().alias("requests"), (pl.col("status") >= 500).sum().alias("5xx")
    ).sort("service")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(hashlib.sha256(f"{rows_digest}{bad_digest}".encode()).hexdigest()[:24]),
        metadata={
            "dagster/row_count": day.rows.num_rows,
            "bytes": rows_bytes,
            "quarantine_bytes": bad_bytes,
            "files_read": dg.MetadataValue.json(day.files_read),
            "quarantined_lines": quarantine.height,
            "quarantined_by_reason": dg.MetadataValue.json(
                dict(quarantine["reason"].value_counts().iter_rows()) if quarantine.height else {}
            ),
            "service_defaulted": int((frame["service"] == default_service).sum()) if len(frame) else 0,
            "by_service": dg.MetadataValue.md(frame_table(by_service, limit=50)),
            "preview": dg.MetadataValue.md(frame_table(frame, limit=5)),
        },
        check_results=[
            _schema_check(frame),
            _expectations_check(frame, window.start, window.end),
            _quarantine_check(day.rows.num_rows, quarantine, log_source.max_quarantine_ratio),
            _duplicates_check(index, _ms(window.start)),
        ],
    )
