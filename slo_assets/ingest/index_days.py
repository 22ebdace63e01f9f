"""The days of an index: each day's version (the files it is read from) and the assembly of one day.

A day reads only the files whose time span holds it, from their stages; a file that appears, grows,
is replaced or removed changes the version of exactly the days it holds lines of.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from slo_assets.ingest.batch import BatchReader, locate, split_key, stage_exists
from slo_assets.ingest.index_table import day_key, staged_entries
from slo_assets.ingest.staging import DAY_MS, read_stage_quarantine, read_stage_rows
from slo_assets.warehouse import canonical


def day_versions(index: pl.DataFrame) -> dict[str, str]:
    """Per UTC day ("YYYY-MM-DD") holding any line, a digest of the files it is read from: their paths
    and content stages. A file that appears, grows, is replaced or removed changes exactly the days it
    holds lines of; a duplicate (the same bytes under another name) changes none."""
    files_of: dict[int, list[str]] = {}
    for entry in staged_entries(index).select("path", "stage_key", "days").iter_rows(named=True):
        for day in entry["days"]:
            files_of.setdefault(day, []).append(f"{entry['path']}\t{entry['stage_key']}")
    return {day_key(day): hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:24] for day, files in sorted(files_of.items())}


NO_FILES_VERSION = hashlib.sha256(b"").hexdigest()[:24]  # a day whose files are all gone


def files_for_window(index: pl.DataFrame, start_ms: int, end_ms: int) -> pl.DataFrame:
    """Staged entries (not duplicates) whose time span overlaps [start, end), in path order."""
    return staged_entries(index).filter(
        (pl.col("first_ts").dt.epoch("ms") < end_ms)
        & (pl.col("last_ts").dt.epoch("ms") >= start_ms)
    ).sort("path")


class MissingStageError(RuntimeError):
    """A file the index says is parsed has no parse in the cache this process sees (a parse cache not
    shared between the workers that index and ingest, or deleted since): its days would read as empty."""


@dataclass
class Day:
    rows: pa.Table  # canonical columns with source_file and source_line
    quarantine: pa.Table
    files_read: list[str]


PARSED_SCHEMA = canonical.PARSED_LOGS.arrow_schema()
DAY_QUARANTINE_SCHEMA = canonical.QUARANTINE.arrow_schema()


def assemble_day(index: pl.DataFrame, stage_root: Path, day_start_ms: int, day_end_ms: int | None = None) -> Day:
    """Every row and quarantined line of [day_start, day_end) from the files that can hold it."""
    end_ms = day_start_ms + DAY_MS if day_end_ms is None else day_end_ms
    row_parts, bad_parts, files, counts = [], [], [], []
    batches = BatchReader(stage_root)
    seen: dict[str, bool] = {}
    for entry in files_for_window(index, day_start_ms, end_ms).select("path", "stage_key").iter_rows():
        path, key = entry
        where = locate(stage_root, key)
        if not stage_exists(stage_root, where, seen):
            raise MissingStageError(f"{path}: indexed, but its parse {stage_root / key} is missing; the parse cache "
                                    f"(warehouse.stage_dir) must be the folder log_file_index wrote, shared by every worker; "
                                    f"re-run log_file_index to parse the file again")
        if split_key(where)[1] is not None:  # in a batch
            rows, bad = batches.rows(where, day_start_ms, end_ms), batches.quarantine(where, day_start_ms, end_ms)
        else:
            rows = read_stage_rows(stage_root / key, day_start_ms, end_ms)
            bad = read_stage_quarantine(stage_root / key, day_start_ms, end_ms)
        if rows.num_rows == 0 and (bad is None or bad.height == 0):
            continue
        files.append(path)
        row_parts.append(rows)
        counts.append(rows.num_rows)
        if bad is not None and bad.height:
            bad_parts.append(bad.with_columns(pl.lit(path).alias("source_file")).to_arrow())
    rows = _with_source(row_parts, files, counts)
    quarantine = (
        pa.concat_tables([t.select(DAY_QUARANTINE_SCHEMA.names).cast(DAY_QUARANTINE_SCHEMA) for t in bad_parts])
        if bad_parts else DAY_QUARANTINE_SCHEMA.empty_table()
    )
    return Day(rows=rows, quarantine=quarantine, files_read=files)


def _with_source(parts: list[pa.Table], files: list[str], counts: list[int]) -> pa.Table:
    """The files' rows in order, each with its file's name: one column for all (not one per file)."""
    if not parts:
        return PARSED_SCHEMA.empty_table()
    source = pa.array(np.repeat(np.array(files, dtype=object), counts), type=pa.string())
    rows = pa.concat_tables(parts)
    return rows.add_column(PARSED_SCHEMA.names.index("source_file"), "source_file", source).select(PARSED_SCHEMA.names).cast(PARSED_SCHEMA)
