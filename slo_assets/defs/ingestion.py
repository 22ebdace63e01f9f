"""log_file_index and parsed_logs: raw files to canonical daily Parquet, with their checks."""

import hashlib
from datetime import datetime

import dagster as dg
import pandera.errors
import polars as pl

from slo_assets.defs.metadata import LOG_FILE_INDEX, OWNERS, PARSED_LOGS
from slo_assets.defs.partitions import daily_partitions
from slo_assets.defs.resources import LogSource, WarehouseResource
from slo_assets.ingest.index import assemble_day, build_index
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


@dg.asset(
    group_name="ingestion",
    kinds={"polars", "parquet"},
    code_version=INGEST_CODE_VERSION,
    owners=OWNERS,
    metadata=LOG_FILE_INDEX,
    check_specs=[dg.AssetCheckSpec(CHECK_FILES_UNIQUE, asset="log_file_index", description="no two files hold the same bytes")],
)
def log_file_index(context: dg.AssetExecutionContext, log_source: LogSource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every log file with size, mtime, fingerprint, format, counts and time span; parses new or changed files."""
    build = build_index(
        root=log_source.root,
        stage_root=warehouse.stage_root(),
        config=log_source.parse_config(),
        include=tuple(log_source.include),
        previous=read_index(warehouse),
        follow_symlinks=log_source.follow_symlinks,
    )
    index = build.index
    store = warehouse.store()
    size, _ = store.write_table(store.path(INDEX_FILE), index.to_arrow())
    # Content-derived: the same files (by fingerprint) under the same names give the same version.
    identity = "\n".join(f"{r['path']}\t{r['stage_key']}" for r in index.select("path", "stage_key").iter_rows(named=True))
    version = hashlib.sha256(identity.encode()).hexdigest()[:24]
    totals = index.select(pl.col("lines", "rows", "quarantined", "blank_lines", "size_bytes").sum()).row(0, named=True)
    context.log.info(f"indexed {index.height} files: {len(build.staged)} parsed, {build.reused} reused")
    preview = index.select("path", "format", "compressed", "lines", "rows", "quarantined", "first_ts", "last_ts", "duplicate_of")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "dagster/row_count": index.height,
            "files": index.height,
            "files_parsed_now": len(build.staged),
            "files_reused": build.reused,
            "log_bytes": totals["size_bytes"] or 0,
            "lines": totals["lines"] or 0,
            "rows": totals["rows"] or 0,
            "quarantined_lines": totals["quarantined"] or 0,
            "blank_lines": totals["blank_lines"] or 0,
            "index_bytes": size,
            "formats": dg.MetadataValue.json(dict(index["format"].value_counts().iter_rows()) if index.height else {}),
            "files_table": dg.MetadataValue.md(frame_table(preview, limit=50)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_FILES_UNIQUE,
                passed=not build.duplicates,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "duplicates": len(build.duplicates),
                    "detail": dg.MetadataValue.md(table(["file", "same bytes as"], build.duplicates) if build.duplicates else "none"),
                    "note": "a duplicate is read once, from the first path in order",
                },
            )
        ],
    )


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
    ],
)
def parsed_logs(context: dg.AssetExecutionContext, log_source: LogSource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Canonical requests of one UTC day with source file and line; bad lines go to the day's quarantine."""
    index = read_index(warehouse)
    if index is None:
        raise dg.Failure(f"no log file index at {warehouse.store().path(INDEX_FILE)}: materialize log_file_index first")
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
        ],
    )
