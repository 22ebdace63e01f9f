"""A stage on disk: its files and stats, how it is built in place atomically, and how a window is read back.

A stage folder holds the rows of each UTC day it has lines on, one quarantine file per segment and
stats.json. It is built under a temporary name and renamed into place, so a reader never sees half
of one, and two runs staging the same content keep one.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from slo_assets.core.calendar import DAY_MS
from slo_assets.ingest.parse_lines import QUARANTINE_SCHEMA, ROW_SCHEMA

# Stages are a local cache read back in full by day, so Arrow IPC beats Parquet: measured 98 ms to
# write and 38 ms to read 1M rows (lz4), against 305 ms and 87 ms for Parquet. Uncompressed, the
# write takes a third of lz4's CPU (8 against 26 ms per 212k rows) and the read is a memory map
# (0.2 against 11 ms), for 2.6x the disk (100 against 38 bytes a row): staging is CPU-bound.
# Rows are split by UTC day as they are parsed: rows-<epoch day>-<part>.arrow, the parts of a day in
# line order; quarantined lines go to one file per segment, in line order too.
ROWS_PATTERN = "rows-{day}-{part}.arrow"
QUARANTINE_PATTERN = "quarantine-{segment}.arrow"
UNPLACED_QUARANTINE_PATTERN = "quarantine-unplaced-{segment}.arrow"  # while staging: lines with their candidate times
MAX_OPEN_DAY_FILES = 64  # beyond this (timestamps all over the calendar) start new parts
IPC_OPTIONS = ipc.IpcWriteOptions(compression=None)
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
    first_line_ts_ms: int | None = None  # timestamp of the first valid line
    orphan_quarantined: int = 0  # quarantined lines before any valid timestamp (placed on a later one)
    unplaced: int = 0  # quarantined lines no time could be found for: in no day, counted here
    damage: str | None = None  # why the content ended early (a salvaged compressed file), else None
    nul_head_bytes: int = 0  # NUL bytes dropped before the first line (a sparse head, as copytruncate leaves)
    outlying_days: list[int] = field(default_factory=list)  # row days far from the file's main span
    reasons: dict[str, int] = field(default_factory=dict)
    day_rows: dict[int, int] = field(default_factory=dict)  # epoch day -> rows
    day_quarantined: dict[int, int] = field(default_factory=dict)  # epoch day of the placement -> quarantined lines
    segments: list[Segment] = field(default_factory=list)  # of a stage; a segment's own stats have none

    @classmethod
    def load(cls, path: Path) -> StageStats:
        return cls.from_dict(json.loads(path.read_text()))

    @classmethod
    def from_dict(cls, data: dict) -> StageStats:
        stats = cls(**{**data, "segments": []})
        stats.day_rows = {int(day): count for day, count in stats.day_rows.items()}
        stats.day_quarantined = {int(day): count for day, count in stats.day_quarantined.items()}
        stats.segments = [Segment(**{**segment, "stats": cls.from_dict(segment["stats"])}) for segment in data.get("segments", [])]
        return stats

    @property
    def lines_end(self) -> int:
        """Bytes of whole lines before the segments' first incomplete one (all of them, sealed)."""
        end = 0
        for segment in self.segments:
            if not segment.ends_line or segment.end is None:
                break
            end = segment.end
        return end


@dataclass
class Segment:
    """Lines from `first_line` on, parsed from bytes [start, end) of the file, and the stage files
    holding them. Only a plain file's stage has more than one."""

    start: int
    end: int | None  # None: to the end of the (gzip) content
    first_line: int
    ends_line: bool  # its last byte is a newline: a later parse may start after it
    carry_ts_ms: int | None  # the last valid line's time so far in the file, at the segment's end
    rows_files: list[str]
    quarantine_file: str
    stats: StageStats


def bound(current: int | None, value: int | None, pick) -> int | None:
    """`current` widened by `value` (`pick` is min or max); either may be None."""
    if value is None:
        return current
    return value if current is None else pick(current, value)


class DayWriters:
    """One IPC writer per UTC day, opened on first use; a new part when too many are open. Parts
    are numbered on from `parts` (day -> last part already in the folder)."""

    def __init__(self, folder: Path, parts: dict[int, int] | None = None) -> None:
        self.folder = folder
        self.open: dict[int, ipc.RecordBatchFileWriter] = {}
        self.parts: dict[int, int] = dict(parts or {})
        self.names: list[str] = []

    def write(self, day: int, table: pa.Table) -> None:
        writer = self.open.get(day)
        if writer is None:
            if len(self.open) >= MAX_OPEN_DAY_FILES:
                self.close()
            part = self.parts.get(day, -1) + 1
            self.parts[day] = part
            name = ROWS_PATTERN.format(day=day, part=part)
            self.names.append(name)
            writer = ipc.new_file(self.folder / name, ROW_SCHEMA, options=IPC_OPTIONS)
            self.open[day] = writer
        writer.write_table(table)

    def close(self) -> None:
        for writer in self.open.values():
            writer.close()
        self.open.clear()


def link_file(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (a copy where links are not possible)."""
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, target)


def last_parts(names) -> dict[int, int]:
    """Day -> the highest part among rows file names."""
    parts: dict[int, int] = {}
    for name in names:
        _, day, part = name.removesuffix(".arrow").split("-")
        parts[int(day)] = max(parts.get(int(day), -1), int(part))
    return parts


def build_stage(stage_dir: Path, build, dump=None) -> StageStats | None:
    """Run `build` in a temporary folder beside `stage_dir`, write its stats (`dump`: as JSON text, by
    default a StageStats') and rename it into place."""
    tmp = stage_dir.with_name(f".{stage_dir.name}.tmp-{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    try:
        stats = build(tmp)
        if stats is None:
            shutil.rmtree(tmp)
            return None
        (tmp / STATS_FILE).write_text(dump(stats) if dump is not None else json.dumps(asdict(stats), indent=1))
        if stage_dir.exists() or stage_dir.is_symlink():  # another run staged the same content meanwhile (or linked its place): keep theirs
            shutil.rmtree(tmp)
        else:
            tmp.rename(stage_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return stats


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


def read_stage_quarantine(stage_dir: Path, start_ms: int, end_ms: int) -> pl.DataFrame:
    """Quarantined lines placed (ts_hint) in [start, end); unplaced lines are in no day."""
    tables, segment = [], 0
    while (path := stage_dir / QUARANTINE_PATTERN.format(segment=segment)).exists():
        with pa.memory_map(str(path)) as source:
            tables.append(ipc.open_file(source).read_all())
        segment += 1
    frame = pl.from_arrow(pa.concat_tables(tables)) if tables else pl.from_arrow(QUARANTINE_SCHEMA.empty_table())
    return frame.filter(pl.col("ts_hint").dt.epoch("ms").is_between(start_ms, end_ms - 1))
