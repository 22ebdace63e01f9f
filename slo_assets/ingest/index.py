"""The log file index and the assembly of one UTC day from it.

The index lists every log file with its size, mtime, fingerprint, format, counts and the time span
of its lines. Building it stages new or changed files (see staging.py) and reuses everything else,
so a refresh costs a stat per unchanged file. A day then reads only the files whose span holds it.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa

from slo_assets.ingest.config import DEFAULT_INCLUDE, ParseConfig
from slo_assets.ingest.files import discover, fingerprint, is_gzip
from slo_assets.ingest.staging import DAY_MS, STATS_FILE, StageStats, read_stage_quarantine, read_stage_rows, resolve_format, stage_file, stage_key

log = logging.getLogger(__name__)

INDEX_SCHEMA = {
    "path": pl.String,
    "size_bytes": pl.Int64,
    "mtime_ns": pl.Int64,
    "fingerprint": pl.String,
    "format": pl.String,
    "compressed": pl.Boolean,
    "stage_key": pl.String,
    "lines": pl.Int64,
    "blank_lines": pl.Int64,
    "rows": pl.Int64,
    "quarantined": pl.Int64,
    "invalid_utf8_lines": pl.Int64,
    "service_defaulted": pl.Int64,
    "first_ts": pl.Datetime("ms", "UTC"),
    "last_ts": pl.Datetime("ms", "UTC"),
    "fallback_ts": pl.Datetime("ms", "UTC"),
    "duplicate_of": pl.String,
    "days": pl.List(pl.Int32),  # UTC days (since the epoch) holding its rows or quarantined lines
}


@dataclass
class IndexBuild:
    index: pl.DataFrame
    staged: list[str]  # files parsed in this build
    reused: int  # files whose stage already existed
    duplicates: list[tuple[str, str]]  # (path, duplicate of)


def _unchanged(previous: pl.DataFrame | None) -> dict[tuple[str, int, int], dict]:
    if previous is None or previous.is_empty():
        return {}
    return {(r["path"], r["size_bytes"], r["mtime_ns"]): r for r in previous.iter_rows(named=True)}


# A worker process costs about a second to start (it imports polars and pyarrow), so staging
# runs in a pool only when there is enough new data to pay for it.
PARALLEL_MIN_BYTES = 64 << 20


def _stage_all(pending: list[tuple[Path, str, Path]], config: ParseConfig, workers: int) -> list[StageStats]:
    total = sum(path.stat().st_size for path, _, _ in pending)
    if workers <= 1 or len(pending) < 2 or total < PARALLEL_MIN_BYTES:
        return [stage_file(path, fmt, config, stage_dir) for path, fmt, stage_dir in pending]
    # spawn, not fork: forking a process that runs polars' thread pool can deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context) as pool:
        futures = [pool.submit(stage_file, path, fmt, config, stage_dir) for path, fmt, stage_dir in pending]
        return [future.result() for future in futures]


def build_index(root: Path, stage_root: Path, config: ParseConfig, include: tuple[str, ...] = DEFAULT_INCLUDE,
                previous: pl.DataFrame | None = None, follow_symlinks: bool = False,
                workers: int | None = None) -> IndexBuild:
    """Index every log file under `root`, staging (in parallel) what is new or changed."""
    root = Path(root)
    known = _unchanged(previous)
    entries: list[dict | tuple] = []
    pending: list[tuple[Path, str, Path]] = []
    reused = 0
    found = [(path, path.relative_to(root).as_posix(), path.stat()) for path in discover(root, include, follow_symlinks)]

    def is_cached(rel: str, stat) -> dict | None:
        cached = known.get((rel, stat.st_size, stat.st_mtime_ns))
        if cached is not None and (stage_root / cached["stage_key"] / STATS_FILE).exists() and _same_settings(cached, config):
            return cached
        return None

    cached_of = {rel: is_cached(rel, stat) for _, rel, stat in found}
    # hashlib releases the GIL: fingerprint new files on all cores.
    to_hash = [path for path, rel, _ in found if cached_of[rel] is None]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as threads:
        digests = dict(zip(to_hash, threads.map(fingerprint, to_hash), strict=True))
    for path, rel, stat in found:
        cached = cached_of[rel]
        if cached is not None:
            entries.append(dict(cached))
            reused += 1
            continue
        digest = digests[path]
        fmt = resolve_format(path, config)
        key = stage_key(digest, fmt, config)
        stage_dir = stage_root / key
        if (stage_dir / STATS_FILE).exists() or any(p[2] == stage_dir for p in pending):
            reused += 1
        else:
            pending.append((path, fmt, stage_dir))
        entries.append((rel, stat, digest, fmt, is_gzip(path), key))
    staged = _stage_all(pending, config, workers or os.cpu_count() or 1)
    stats_of = {stage_dir.name: stats for (_, _, stage_dir), stats in zip(pending, staged, strict=True)}

    records, duplicates = [], []
    owner_of: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, tuple):
            rel, stat, digest, fmt, compressed, key = entry
            stats = stats_of.get(key) or StageStats.load(stage_root / key / STATS_FILE)
            entry = _record(rel, stat, digest, fmt, compressed, key, stats)
        entry["duplicate_of"] = owner_of.get(entry["fingerprint"])
        if entry["duplicate_of"]:
            duplicates.append((entry["path"], entry["duplicate_of"]))
        else:
            owner_of[entry["fingerprint"]] = entry["path"]
        records.append(entry)
    index = pl.DataFrame(records, schema=INDEX_SCHEMA) if records else pl.DataFrame(schema=INDEX_SCHEMA)
    return IndexBuild(index=index, staged=[p.relative_to(root).as_posix() for p, _, _ in pending], reused=reused,
                      duplicates=duplicates)


def _same_settings(cached: dict, config: ParseConfig) -> bool:
    return cached["stage_key"] == stage_key(cached["fingerprint"], cached["format"], config) and (
        config.format in ("auto", cached["format"])
    )


def _ms_to_dt(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _record(rel: str, stat, digest: str, fmt: str, compressed: bool, key: str, stats: StageStats) -> dict:
    # Quarantined lines before any valid timestamp take the first valid line's time, or the file's
    # mtime when the file has none: every line lands in some day.
    fallback_ms = stats.first_line_ts_ms if stats.first_line_ts_ms is not None else stat.st_mtime_ns // 1_000_000
    first, last = stats.min_ts_ms, stats.max_ts_ms
    if stats.orphan_quarantined:
        first = fallback_ms if first is None else min(first, fallback_ms)
        last = fallback_ms if last is None else max(last, fallback_ms)
    return {
        "path": rel,
        "size_bytes": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "fingerprint": digest,
        "format": fmt,
        "compressed": compressed,
        "stage_key": key,
        "lines": stats.lines,
        "blank_lines": stats.blank_lines,
        "rows": stats.rows,
        "quarantined": stats.quarantined,
        "invalid_utf8_lines": stats.invalid_utf8_lines,
        "service_defaulted": stats.service_defaulted,
        "first_ts": _ms_to_dt(first),
        "last_ts": _ms_to_dt(last),
        "fallback_ts": _ms_to_dt(fallback_ms),
        "days": sorted(set(stats.day_rows) | set(stats.day_quarantined) | ({fallback_ms // DAY_MS} if stats.orphan_quarantined else set())),
    }


def day_versions(index: pl.DataFrame) -> dict[str, str]:
    """Per UTC day ("YYYY-MM-DD") holding any line, a digest of the files it is read from: their paths
    and content stages. A file that appears, grows, is replaced or removed changes exactly the days it
    holds lines of; a duplicate (the same bytes under another name) changes none."""
    files_of: dict[int, list[str]] = {}
    for entry in index.filter(pl.col("duplicate_of").is_null()).select("path", "stage_key", "days").iter_rows(named=True):
        for day in entry["days"]:
            files_of.setdefault(day, []).append(f"{entry['path']}\t{entry['stage_key']}")
    return {_day_key(day): hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:24] for day, files in sorted(files_of.items())}


def index_summary(index: pl.DataFrame | None) -> dict:
    """Files, rows, quarantined lines and duplicates of an index (zeros when there is none)."""
    if index is None or index.is_empty():
        return {"files": 0, "rows": 0, "quarantined_lines": 0, "duplicates": 0}
    totals = index.select(pl.col("rows", "quarantined").sum()).row(0)
    return {"files": index.height, "rows": totals[0], "quarantined_lines": totals[1],
            "duplicates": index["duplicate_of"].is_not_null().sum()}


NO_FILES_VERSION = hashlib.sha256(b"").hexdigest()[:24]  # a day whose files are all gone


def _day_key(epoch_day: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=epoch_day)).strftime("%Y-%m-%d")


def files_for_window(index: pl.DataFrame, start_ms: int, end_ms: int) -> pl.DataFrame:
    """Index entries (not duplicates) whose time span overlaps [start, end), in path order."""
    return index.filter(
        pl.col("duplicate_of").is_null()
        & (pl.col("first_ts").dt.epoch("ms") < end_ms)
        & (pl.col("last_ts").dt.epoch("ms") >= start_ms)
    ).sort("path")


@dataclass
class Day:
    rows: pa.Table  # canonical columns with source_file and source_line
    quarantine: pa.Table
    files_read: list[str]


PARSED_SCHEMA = pa.schema([
    ("ts", pa.timestamp("ms", tz="UTC")),
    ("service", pa.string()),
    ("operation", pa.string()),
    ("method", pa.string()),
    ("path", pa.string()),
    ("status", pa.int32()),
    ("duration_ms", pa.float64()),
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
])
DAY_QUARANTINE_SCHEMA = pa.schema([
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
    ("reason", pa.string()),
    ("detail", pa.string()),
    ("raw", pa.string()),
    ("ts_hint", pa.timestamp("ms", tz="UTC")),
])


def assemble_day(index: pl.DataFrame, stage_root: Path, day_start_ms: int, day_end_ms: int | None = None) -> Day:
    """Every row and quarantined line of [day_start, day_end) from the files that can hold it."""
    end_ms = day_start_ms + DAY_MS if day_end_ms is None else day_end_ms
    row_parts, bad_parts, files = [], [], []
    for entry in files_for_window(index, day_start_ms, end_ms).iter_rows(named=True):
        stage_dir = stage_root / entry["stage_key"]
        rows = read_stage_rows(stage_dir, day_start_ms, end_ms)
        fallback = int(entry["fallback_ts"].timestamp() * 1000)
        bad = read_stage_quarantine(stage_dir, day_start_ms, end_ms, fallback)
        if rows.num_rows == 0 and bad.height == 0:
            continue
        files.append(entry["path"])
        source = pl.repeat(entry["path"], rows.num_rows, dtype=pl.String, eager=True).to_arrow()
        row_parts.append(rows.add_column(7, "source_file", source).select(PARSED_SCHEMA.names))
        if bad.height:
            bad_parts.append(bad.with_columns(pl.lit(entry["path"]).alias("source_file")).to_arrow())
    rows = pa.concat_tables(row_parts).cast(PARSED_SCHEMA) if row_parts else PARSED_SCHEMA.empty_table()
    quarantine = (
        pa.concat_tables([t.select(DAY_QUARANTINE_SCHEMA.names).cast(DAY_QUARANTINE_SCHEMA) for t in bad_parts])
        if bad_parts else DAY_QUARANTINE_SCHEMA.empty_table()
    )
    return Day(rows=rows, quarantine=quarantine, files_read=files)
