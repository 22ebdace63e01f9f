"""log_file_index and parsed_logs: raw files to canonical daily Parquet, with their checks."""

import hashlib
import warnings
from datetime import datetime

import dagster as dg
import pandera.errors
import polars as pl
import pyarrow as pa

from slo_assets.core import clock
from slo_assets.core.markdown import frame_table, table
from slo_assets.core.progress import Ticker, tell
from slo_assets.defs.ingest.day_runs import SINGLE_RUN, add_day_metadata, combine_checks, day_window, range_version, run_days
from slo_assets.defs.metadata import LOG_FILE_INDEX, OWNERS, PARSED_LOGS, QUARANTINE
from slo_assets.defs.partitions import DAILY
from slo_assets.defs.resources import LogSource, WarehouseResource
from slo_assets.defs.sources import sibling
from slo_assets.defs.warehouse_io import written
from slo_assets.ingest import checkpoint as checkpoints
from slo_assets.ingest.index import (
    MOSTLY_REJECTED_SHARE,
    NO_FILES_VERSION,
    IndexSummary,
    assemble_day,
    build_index,
    day_versions,
    index_summary,
    mostly_rejected_files,
)
from slo_assets.ingest.staging import DAY_MS
from slo_assets.warehouse import layout
from slo_assets.warehouse.schemas import ParsedLogs

# Bump when the asset's logic changes what it writes, so Dagster marks outputs stale.
INGEST_CODE_VERSION = "ingest-2"  # 2: parsed_logs has the client column

CHECK_FILES_UNIQUE = "log_file_contents_unique"
CHECK_SCHEMA = "parsed_logs_match_schema"
CHECK_EXPECTATIONS = "parsed_logs_meet_expectations"
CHECK_QUARANTINE = "quarantine_ratio_below_threshold"
CHECK_FILES_READABLE = "log_files_readable"
CHECK_LINES_ACCEPTED = "log_file_lines_accepted"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def read_index(warehouse: WarehouseResource) -> pl.DataFrame | None:
    store = warehouse.store()
    target = layout.LOG_FILE_INDEX.path(store)
    return pl.from_arrow(store.read_table(target)) if target.exists() else None


def read_checkpoints(warehouse: WarehouseResource) -> tuple[list[checkpoints.FileCheckpoint], str | None]:
    """The checkpoints the last observation wrote, and why none are used when the file is unreadable."""
    store = warehouse.store()
    target = layout.LOG_FILE_CHECKPOINTS.path(store)
    if not target.exists():
        return [], None
    try:
        return checkpoints.loads(target.read_bytes(), str(target)), None
    except (checkpoints.CheckpointError, OSError) as error:
        return [], f"{error}; every changed file is parsed in full"


LOG_FILE_INDEX_KEY = dg.AssetKey("log_file_index")  # the default source's (a source's is under its prefix)


def _last_observed(instance: dg.DagsterInstance, days: list[str], batch: int = 500,
                   key: dg.AssetKey = LOG_FILE_INDEX_KEY) -> dict[str, str]:
    """The data version Dagster last recorded for each of `days` of log_file_index (newest first;
    days asked in batches to keep the SQL parameter lists short)."""
    seen: dict[str, str] = {}
    for first in range(0, len(days), batch):
        wanted = days[first:first + batch]
        records_filter = dg.AssetRecordsFilter(asset_key=key, asset_partitions=wanted)
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


def log_file_index_asset(daily: dg.PartitionsDefinition) -> dg.SourceAsset:
    """The observable source of the raw log files, partitioned by `daily`: the definitions of the load
    (definitions.py), or partitions.DAILY where a test builds it alone. Built per load because a
    source asset's partitions cannot be replaced afterwards, as the other assets' are (with_partitions)."""
    # observable_source_asset is beta in Dagster 1.13; per-partition data versions of an external source
    # are exactly what it is for, so its BetaWarning is silenced here and only here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _log_file_index(daily)


def _log_file_index(daily: dg.PartitionsDefinition) -> dg.SourceAsset:
    @dg.observable_source_asset(
        name="log_file_index",
        group_name="ingestion",
        partitions_def=daily,
        metadata=LOG_FILE_INDEX,
        description="The raw log files, per UTC day. Observing them fingerprints every file (chained sha256; a stat for "
                    "unchanged ones), parses new or changed files once into the stage cache (a file that only grew: "
                    "just its appended bytes, from log_file_checkpoints.json), writes "
                    "log_file_index.parquet, and gives each day a data version from the files holding its lines: "
                    "a late, grown, replaced or removed file marks exactly its days' parsed_logs stale.",
    )
    def log_file_index(context, log_source: LogSource, warehouse: WarehouseResource) -> dg.DataVersionsByPartition:
        previous = read_index(warehouse)
        build = _build(context, log_source, warehouse, previous)
        versions = day_versions(build.index)
        gone = set(day_versions(previous)) - set(versions) if previous is not None and "days" in previous.columns else set()
        versions.update({day: NO_FILES_VERSION for day in gone})
        valid = {day: version for day, version in versions.items() if daily.has_partition_key(day)}
        # Only days whose version differs from the one Dagster holds: one event per changed day.
        observed = _last_observed(context.instance, sorted(valid), key=context.asset_key)
        changed = {day: dg.DataVersion(version) for day, version in valid.items() if observed.get(day) != version}
        _report(context, build, daily, len(changed), len(valid), len(versions) - len(valid))
        with warnings.catch_warnings():  # beta in 1.13, like the decorator
            warnings.simplefilter("ignore", dg.BetaWarning)
            return dg.DataVersionsByPartition(changed)

    return log_file_index


def _build(context, log_source: LogSource, warehouse: WarehouseResource, previous: pl.DataFrame | None):
    """Index the log folder from the previous index and checkpoints, and store the new ones."""
    known, unusable = read_checkpoints(warehouse)
    if unusable:
        context.log.warning(unusable)

    def say(text: str) -> None:  # how far it is, every few seconds: in the run's log, and to the CLI running it
        context.log.info(text)
        tell(text)

    source = log_source.active()  # the run's log source's folder and globs (defs/sources.py)
    build = build_index(root=source.root, stage_root=warehouse.stage_root(), config=log_source.parse_config(),
                        include=tuple(source.include), exclude=tuple(source.exclude), previous=previous,
                        follow_symlinks=source.follow_symlinks, checkpoints=known, progress=Ticker(say, "log_file_index"))
    store = warehouse.store()
    store.write_table(layout.LOG_FILE_INDEX.path(store), build.index.to_arrow())
    store.write_bytes_atomic(layout.LOG_FILE_CHECKPOINTS.path(store), checkpoints.dumps(build.checkpoints))
    return build


def _report(context, build, daily: dg.PartitionsDefinition, changed: int, valid: int, outside: int) -> None:
    """What the observation found, in the run's log and on an observation of the whole asset."""
    first_day, last_day = _partition_bounds(daily)
    summary = index_summary(build.index, first_day, last_day)
    context.log.info(
        f"indexed {summary.files} files ({len(build.staged)} parsed now, {len(build.extended)} of them from a checkpoint, "
        f"{build.reused} reused), "
        f"{summary.rows} rows, {summary.quarantined_lines} quarantined lines; "
        f"{changed} of {valid} days have new data versions"
        + (f"; {outside} days outside the partitions ({first_day} to {last_day}): {summary.outside_rows} rows, "
           f"{summary.outside_quarantined} quarantined lines not in any partition" if outside else "")
    )
    for path, reason in summary.unreadable:
        context.log.warning(f"{path}: unreadable ({reason}); its lines are not in any day")
    for path, reason in summary.salvaged:
        context.log.warning(f"{path}: salvaged ({reason})")
    # The summary of the whole index, on an observation of the asset (not of one day), so the UI shows
    # what was skipped, unreadable or outside the partitions beside the per-day versions.
    context.log_event(dg.AssetObservation(asset_key=context.asset_key, metadata=summary_metadata(summary)))
    for path, owner in build.duplicates:
        context.log.warning(f"{path} holds the same bytes as {owner}: read once, from {owner}")


def _partition_bounds(daily: dg.PartitionsDefinition) -> tuple[str | None, str | None]:
    """First and last daily partition ("YYYY-MM-DD"): lines on days outside are counted, not read."""
    try:
        return daily.get_first_partition_key(), daily.get_last_partition_key()
    except Exception:  # noqa: BLE001 - bounds are for counting only; a partitions definition without them counts nothing outside
        return None, None


def _problem_table(summary: IndexSummary) -> str:
    rows = [(path, "unreadable", reason) for path, reason in summary.unreadable]
    rows += [(path, "salvaged", reason) for path, reason in summary.salvaged]
    rows += [(path, "skipped", reason) for path, reason in summary.skipped]
    rows += [(path, "duplicate", f"same content as {owner}: read once") for path, owner in summary.duplicate_files]
    return table(["path", "status", "reason"], rows) if rows else "none"


def summary_metadata(summary: IndexSummary) -> dict:
    """Where every line went and every file that was not (fully) read, for the Dagster UI."""
    return {
        "files_read": summary.files,
        "lines": summary.lines,
        "rows": summary.rows,
        "quarantined_lines": summary.quarantined_lines,
        "blank_lines": summary.blank_lines,
        "unplaced_lines": summary.unplaced,
        "outside_partitions_rows": summary.outside_rows,
        "outside_partitions_quarantined": summary.outside_quarantined,
        "partitions": f"{summary.first_day} to {summary.last_day}",
        "days_with_data": len(summary.days_with_data),
        "skipped_files": len(summary.skipped),
        "unreadable": len(summary.unreadable),
        "salvaged_files": len(summary.salvaged),
        "quarantined_by_reason": dg.MetadataValue.json(summary.reasons or {}),
        "files_not_fully_read": dg.MetadataValue.md(_problem_table(summary)),
        "all_lines_accounted": summary.accounted(),
    }


def files_readable_result(summary: IndexSummary) -> dg.AssetCheckResult:
    """Fails (error) on unreadable files or folders, warns on salvaged ones: the user must look."""
    rows = [(path, "unreadable", reason) for path, reason in summary.unreadable]
    rows += [(path, "salvaged", reason) for path, reason in summary.salvaged]
    if summary.unreadable:
        text = f"{len(summary.unreadable)} unreadable: " + "; ".join(f"{p} ({r})" for p, r in summary.unreadable[:5])
    elif summary.salvaged:
        text = f"{len(summary.salvaged)} salvaged: " + "; ".join(f"{p} ({r})" for p, r in summary.salvaged[:5])
    else:
        text = "every file found was read"
    return dg.AssetCheckResult(
        check_name=CHECK_FILES_READABLE,
        passed=not rows,
        severity=dg.AssetCheckSeverity.ERROR if summary.unreadable else dg.AssetCheckSeverity.WARN,
        description=text,
        metadata={"unreadable": len(summary.unreadable), "salvaged": len(summary.salvaged),
                  "detail": dg.MetadataValue.md(table(["path", "status", "reason"], rows) if rows else "none")},
    )


def lines_accepted_result(index: pl.DataFrame) -> dg.AssetCheckResult:
    found = mostly_rejected_files(index, MOSTLY_REJECTED_SHARE)
    text = "; ".join(f"{f.path}: {f.note()}" for f in found[:5])
    return dg.AssetCheckResult(
        check_name=CHECK_LINES_ACCEPTED,
        passed=not found,
        description=text or "no file has most of its lines rejected",
        metadata={"files": len(found), "threshold": MOSTLY_REJECTED_SHARE,
                  "detail": dg.MetadataValue.md(table(["file", "rejected", "lines", "unplaced", "top reason"],
                                                           [(f.path, f.rejected, f.lines, f.unplaced, f.top_reason) for f in found])
                                                     if found else "none")},
    )


def _current_index(warehouse: WarehouseResource) -> pl.DataFrame:
    index = read_index(warehouse)
    if index is None:
        raise dg.Failure(f"no log file index at {layout.LOG_FILE_INDEX.path(warehouse.store())}: observe log_file_index first (index_job)")
    return index


@dg.asset_check(asset="log_file_index", name=CHECK_FILES_READABLE,
                description="every file and folder under the log root could be read (error: unreadable; warn: a damaged gzip salvaged)")
def log_files_readable(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    daily = context.job_def.asset_layer.asset_graph.get(sibling(context, "log_file_index")).partitions_def  # this load's days
    first_day, last_day = _partition_bounds(daily) if daily is not None else (None, None)
    return files_readable_result(index_summary(_current_index(warehouse), first_day, last_day))


@dg.asset_check(asset="log_file_index", name=CHECK_LINES_ACCEPTED,
                description=f"no log file has more than {MOSTLY_REJECTED_SHARE:.0%} of its lines rejected, or lines placed in no day "
                            "(a wrong --format or field mapping)")
def log_file_lines_accepted(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return lines_accepted_result(_current_index(warehouse))


INDEX_CHECKS = [log_files_readable, log_file_lines_accepted]


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


# Great Expectations validates once per run, over at most this many of the run's rows: an even share
# per day, every k-th row of the day. pandera (blocking) checks every row of every day.
EXPECTATIONS_SAMPLE_ROWS = 200_000


def day_sample(rows: pa.Table, days_in_run: int, limit: int = EXPECTATIONS_SAMPLE_ROWS) -> pa.Table:
    """Every k-th row of one day, k the smallest stride that keeps the day within its share of `limit`."""
    share = max(1, limit // max(1, days_in_run))
    stride = -(-rows.num_rows // share)
    return rows.take(pa.array(range(0, rows.num_rows, stride))) if stride > 1 else rows


def _expectations_check(sample: pa.Table | None, rows: int, start: datetime, end: datetime,
                        whole_days: dict[str, int]) -> dg.AssetCheckResult:
    """The Great Expectations suites: the days' rows plausible as logs (on a sample), and each whole day's
    volume against the run's (`whole_days`: rows per day that has ended)."""
    if sample is None:  # no rows has nothing to expect; skipping it spares the GX import (seconds)
        return dg.AssetCheckResult(check_name=CHECK_EXPECTATIONS, passed=True, description="no rows: nothing to check",
                                   metadata={"expectations": 0, "failed": 0, "rows_checked": 0})
    from slo_assets.warehouse.quality import validate_day_volumes, validate_parsed_day

    outcomes = validate_parsed_day(sample.to_pandas(), start, end) + validate_day_volumes(whole_days)
    rows_table = [(o.expectation, o.column, "pass" if o.success else "FAIL", o.unexpected_count, ", ".join(o.unexpected_examples))
                  for o in outcomes]
    return dg.AssetCheckResult(
        check_name=CHECK_EXPECTATIONS,
        passed=all(o.success for o in outcomes),
        description=f"{sample.num_rows:,} of {rows:,} rows checked" + ("" if sample.num_rows == rows else " (an even share of each day)"),
        metadata={
            "expectations": len(outcomes),
            "failed": sum(not o.success for o in outcomes),
            "rows_checked": sample.num_rows,
            "rows": rows,
            "results": dg.MetadataValue.md(table(["expectation", "column", "result", "unexpected", "examples"], rows_table)),
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
    top = next(iter(reasons), None)
    return dg.AssetCheckResult(
        check_name=CHECK_QUARANTINE,
        passed=ratio <= threshold,
        description=f"{quarantine.height:,} of {lines:,} lines rejected" + (f": {top}" if top else ""),
        metadata={
            "quarantine_ratio": ratio,
            "threshold": threshold,
            "quarantined_lines": quarantine.height,
            "lines": lines,
            "by_reason": dg.MetadataValue.json(reasons),
        },
    )


QUARANTINE_DESCRIPTION = ("Lines of one UTC day that could not be parsed, with file, line, reason and the raw text "
                          "(escaped): every line read is a row here or in parsed_logs")


@dg.multi_asset(
    specs=[
        dg.AssetSpec("parsed_logs", group_name="ingestion", deps=["log_file_index"], kinds={"polars", "parquet"},
                     code_version=INGEST_CODE_VERSION, owners=OWNERS, metadata=PARSED_LOGS,
                     description="Canonical requests of one UTC day with source file and line"),
        dg.AssetSpec("quarantine", group_name="ingestion", deps=["log_file_index"], kinds={"polars", "parquet"},
                     code_version=INGEST_CODE_VERSION, owners=OWNERS, metadata=QUARANTINE,
                     description=QUARANTINE_DESCRIPTION),
    ],
    partitions_def=DAILY,
    backfill_policy=SINGLE_RUN,
    check_specs=[
        dg.AssetCheckSpec(CHECK_SCHEMA, asset="parsed_logs", blocking=True, description="pandera ParsedLogs model"),
        dg.AssetCheckSpec(CHECK_EXPECTATIONS, asset="parsed_logs",
                          description=f"Great Expectations suite parsed_logs_plausible (rows in the day, HTTP statuses, "
                                      f"median request time, service count), once per run, on up to {EXPECTATIONS_SAMPLE_ROWS:,} rows"),
        dg.AssetCheckSpec(CHECK_QUARANTINE, asset="parsed_logs", description="quarantined lines / lines of the day"),
        dg.AssetCheckSpec(CHECK_FILES_UNIQUE, asset="parsed_logs",
                          description="no two files holding this day's lines have the same bytes (warn: read once)"),
    ],
)
def parsed_logs(context: dg.AssetExecutionContext, log_source: LogSource, warehouse: WarehouseResource):
    """The run's UTC days of the indexed files (one, or a backfill's range): canonical requests to
    parsed_logs, bad lines to quarantine, each day's figures on its own materialization."""
    index = _current_index(warehouse)
    store = warehouse.store()
    default_service = log_source.parse_config().default_service
    days = run_days(context)
    checks: dict[str, dict[str, dg.AssetCheckResult]] = {CHECK_SCHEMA: {}, CHECK_QUARANTINE: {}, CHECK_FILES_UNIQUE: {}}
    row_digests, bad_digests, samples, total = [], [], [], 0
    rows_per_day: dict[str, int] = {}
    for key in days:
        start, end = day_window(DAILY, key)
        day = assemble_day(index, warehouse.stage_root(), _ms(start), _ms(end))
        rows_bytes, rows_digest = store.write_table(layout.PARSED_LOGS.path(store, key), day.rows)
        bad_bytes, bad_digest = store.write_table(layout.QUARANTINE.path(store, key), day.quarantine)
        row_digests.append(rows_digest)
        bad_digests.append(bad_digest)
        rows = pl.from_arrow(day.rows)
        quarantine = pl.from_arrow(day.quarantine)
        reasons = dict(quarantine["reason"].value_counts().iter_rows()) if quarantine.height else {}
        by_service = rows.group_by("service").agg(
            pl.len().alias("requests"), (pl.col("status") >= 500).sum().alias("5xx")).sort("service")
        add_day_metadata(context, "parsed_logs", key, {
            "dagster/row_count": day.rows.num_rows,
            **written(store, layout.PARSED_LOGS, key, rows_bytes),
            "quarantine_bytes": bad_bytes,
            "files_read": dg.MetadataValue.json(day.files_read),
            "quarantined_lines": quarantine.height,
            "quarantined_by_reason": dg.MetadataValue.json(reasons),
            "service_defaulted": rows.filter(pl.col("service") == default_service).height,
            "by_service": dg.MetadataValue.md(frame_table(by_service, limit=50)),
            "preview": dg.MetadataValue.md(frame_table(rows, limit=5)),
        })
        add_day_metadata(context, "quarantine", key, {
            "dagster/row_count": quarantine.height, **written(store, layout.QUARANTINE, key, bad_bytes),
            "by_reason": dg.MetadataValue.json(reasons)})
        checks[CHECK_SCHEMA][key] = _schema_check(day.rows.to_pandas())
        checks[CHECK_QUARANTINE][key] = _quarantine_check(day.rows.num_rows, quarantine, log_source.active().max_quarantine_ratio)
        checks[CHECK_FILES_UNIQUE][key] = _duplicates_check(index, _ms(start))
        samples.append(day_sample(day.rows, len(days)))
        total += day.rows.num_rows
        rows_per_day[key] = day.rows.num_rows
    first, _ = day_window(DAILY, days[0])
    _, last = day_window(DAILY, days[-1])
    sample = pa.concat_tables(samples) if total else None
    today = clock.today().isoformat()  # the running day is not whole: its volume is no evidence
    expectations = _expectations_check(sample, total, first, last, {d: n for d, n in rows_per_day.items() if d < today})
    yield dg.MaterializeResult(
        asset_key=sibling(context, "parsed_logs"),
        data_version=range_version(hashlib.sha256(f"{r}{b}".encode()).hexdigest() for r, b in zip(row_digests, bad_digests, strict=True)),
        metadata={"days_in_run": len(days)},
        check_results=[combine_checks(name, results) for name, results in checks.items()] + [expectations],
    )
    yield dg.MaterializeResult(asset_key=sibling(context, "quarantine"), data_version=range_version(bad_digests), metadata={"days_in_run": len(days)})
