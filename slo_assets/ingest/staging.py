"""Parse each log file once per (content, settings) into a staged Parquet pair: rows and quarantine.

A stage is keyed by the file's fingerprint and the parse settings, so an unchanged file is never
parsed twice, a renamed or copied file reuses its stage, and a changed setting re-parses. Chunks
stream into Parquet row groups, so memory depends on the chunk size, not on the file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.files import CHUNK_BYTES, iter_chunks, sniff_format
from slo_assets.ingest.parse import QUARANTINE_SCHEMA, ROW_SCHEMA, parse_chunk

DAY_MS = 86_400_000

# Bump when parsing changes what a line becomes: every stage is then rebuilt.
PARSER_VERSION = "2"  # 2: stats record the days of quarantined lines
# Stages are a local cache read back in full by day, so Arrow IPC (lz4) beats Parquet: measured
# 98 ms to write and 38 ms to read 1M rows, against 305 ms and 87 ms for Parquet.
# Rows are split by UTC day as they are parsed: rows-<epoch day>-<part>.arrow.
ROWS_PATTERN = "rows-{day}-{part}.arrow"
QUARANTINE_FILE = "quarantine.arrow"
MAX_OPEN_DAY_FILES = 64  # beyond this (timestamps all over the calendar) start new parts
IPC_OPTIONS = ipc.IpcWriteOptions(compression="lz4")
STATS_FILE = "stats.json"


@dataclass
class StageStats:
    format: str
    lines: int = 0
    blank_lines: int = 0
    rows: int = 0
    quarantined: int = 0
    invalid_utf8_lines: int = 0
    service_defaulted: int = 0
    min_ts_ms: int | None = None
    max_ts_ms: int | None = None
    first_line_ts_ms: int | None = None  # timestamp of the first valid line, for quarantine hints
    orphan_quarantined: int = 0  # quarantined lines before any valid timestamp
    reasons: dict[str, int] = field(default_factory=dict)
    day_rows: dict[int, int] = field(default_factory=dict)  # epoch day -> rows
    day_quarantined: dict[int, int] = field(default_factory=dict)  # epoch day of the hint -> quarantined lines

    @classmethod
    def load(cls, path: Path) -> StageStats:
        stats = cls(**json.loads(path.read_text()))
        stats.day_rows = {int(day): count for day, count in stats.day_rows.items()}
        stats.day_quarantined = {int(day): count for day, count in stats.day_quarantined.items()}
        return stats


def stage_key(file_fingerprint: str, fmt: str, config: ParseConfig) -> str:
    settings = hashlib.sha256(f"{config.fingerprint()}|{fmt}|{PARSER_VERSION}".encode()).hexdigest()[:12]
    return f"{file_fingerprint[:32]}-{settings}"


def resolve_format(path: Path, config: ParseConfig) -> str:
    return config.format if config.format != "auto" else sniff_format(path)


def _bound(current: int | None, value: int | None, pick) -> int | None:
    if value is None:
        return current
    return value if current is None else pick(current, value)


class _DayWriters:
    """One IPC writer per UTC day, opened on first use; a new part when too many are open."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.open: dict[int, ipc.RecordBatchFileWriter] = {}
        self.parts: dict[int, int] = {}

    def write(self, day: int, table: pa.Table) -> None:
        writer = self.open.get(day)
        if writer is None:
            if len(self.open) >= MAX_OPEN_DAY_FILES:
                self.close()
            part = self.parts.get(day, -1) + 1
            self.parts[day] = part
            writer = ipc.new_file(self.folder / ROWS_PATTERN.format(day=day, part=part), ROW_SCHEMA, options=IPC_OPTIONS)
            self.open[day] = writer
        writer.write_table(table)

    def close(self) -> None:
        for writer in self.open.values():
            writer.close()
        self.open.clear()


def stage_file(path: Path, fmt: str, config: ParseConfig, stage_dir: Path, chunk_bytes: int = CHUNK_BYTES) -> StageStats:
    """Parse `path` into `stage_dir` (created atomically: built under a temporary name, then renamed)."""
    tmp = stage_dir.with_name(f".{stage_dir.name}.tmp-{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    stats = StageStats(format=fmt)
    reasons: Counter[str] = Counter()
    day_rows: Counter[int] = Counter()
    line_no, carry_ts = 1, None
    days = _DayWriters(tmp)
    try:
        with ipc.new_file(tmp / QUARANTINE_FILE, QUARANTINE_SCHEMA, options=IPC_OPTIONS) as bad_out:
            for chunk in iter_chunks(path, chunk_bytes):
                result = parse_chunk(chunk, line_no, fmt, config, carry_ts)
                line_no += result.lines
                carry_ts = result.last_ts_ms
                _accumulate(stats, result, reasons)
                if result.rows.height:
                    keyed = result.rows.with_columns((pl.col("ts").dt.epoch("ms") // DAY_MS).alias("_day"))
                    for (day,), part in keyed.partition_by("_day", as_dict=True, maintain_order=True).items():
                        days.write(int(day), part.drop("_day").to_arrow().cast(ROW_SCHEMA))
                        day_rows[int(day)] += part.height
                if result.quarantine.height:
                    bad_out.write_table(result.quarantine.to_arrow().cast(QUARANTINE_SCHEMA))
        days.close()
        stats.reasons = dict(sorted(reasons.items()))
        stats.day_rows = dict(sorted(day_rows.items()))
        stats.day_quarantined = dict(sorted(stats.day_quarantined.items()))
        (tmp / STATS_FILE).write_text(json.dumps(asdict(stats), indent=1))
        if stage_dir.exists():  # another run staged the same content meanwhile: keep theirs
            shutil.rmtree(tmp)
        else:
            tmp.rename(stage_dir)
    except BaseException:
        days.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return stats


def _accumulate(stats: StageStats, result, reasons: Counter) -> None:
    stats.lines += result.lines
    stats.blank_lines += result.blank_lines
    stats.rows += result.rows.height
    stats.quarantined += result.quarantine.height
    stats.invalid_utf8_lines += result.invalid_utf8_lines
    stats.service_defaulted += result.service_defaulted
    if result.rows.height:
        ts = result.rows["ts"].dt.epoch("ms")
        stats.min_ts_ms = _bound(stats.min_ts_ms, int(ts.min()), min)
        stats.max_ts_ms = _bound(stats.max_ts_ms, int(ts.max()), max)
        if stats.first_line_ts_ms is None:
            stats.first_line_ts_ms = int(ts[0])
    if result.quarantine.height:
        reasons.update(result.quarantine["reason"].to_list())
        hints = result.quarantine["ts_hint"].dt.epoch("ms")
        if hints.null_count() < len(hints):
            stats.min_ts_ms = _bound(stats.min_ts_ms, int(hints.min()), min)
            stats.max_ts_ms = _bound(stats.max_ts_ms, int(hints.max()), max)
            for day, count in (hints.drop_nulls() // DAY_MS).value_counts().iter_rows():
                stats.day_quarantined[int(day)] = stats.day_quarantined.get(int(day), 0) + count
        stats.orphan_quarantined += hints.null_count()


def read_stage_rows(stage_dir: Path, start_ms: int, end_ms: int) -> pa.Table:
    """Rows of a stage with start <= ts < end, reading only the day files that overlap."""
    parts = []
    for day in range(start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1):
        part = 0
        while (path := stage_dir / ROWS_PATTERN.format(day=day, part=part)).exists():
            with pa.memory_map(str(path)) as source:
                table = ipc.open_file(source).read_all()
            if day * DAY_MS < start_ms or (day + 1) * DAY_MS > end_ms:  # window narrower than the day
                ts = table["ts"].cast(pa.int64())
                table = table.filter(pc.and_(pc.greater_equal(ts, start_ms), pc.less(ts, end_ms)))
            parts.append(table)
            part += 1
    return pa.concat_tables(parts) if parts else ROW_SCHEMA.empty_table()


def read_stage_quarantine(stage_dir: Path, start_ms: int, end_ms: int, fallback_ms: int) -> pl.DataFrame:
    """Quarantined lines whose day (own or nearest earlier timestamp, else `fallback_ms`) is in range."""
    with pa.memory_map(str(stage_dir / QUARANTINE_FILE)) as source:
        table = ipc.open_file(source).read_all()
    frame = pl.from_arrow(table).with_columns(
        pl.col("ts_hint").fill_null(pl.lit(fallback_ms).cast(pl.Datetime("ms", "UTC")))
    )
    return frame.filter(pl.col("ts_hint").dt.epoch("ms").is_between(start_ms, end_ms - 1))
