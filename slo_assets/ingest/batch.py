"""Small files staged together: one read, one parse and one stage for many files (hourly rotations).

A stage per file costs a folder, several Arrow files and a parse of fixed cost (about 15 ms) however
few its lines: a folder of 50,000 one-line files took longer to stage than to read 50,000 times over.
A small plain file whose lines all end is read once, whole: its fingerprint, its format and its
parse come from those bytes. Files of one format are parsed together, in path order, as one chunk,
and staged as one batch: a file's rows are a contiguous run of each day's rows file, found by the
offsets in the batch's stats.json. A file's stage key stays its own (its content and settings): a
link of that name in the stage folder names its place, `<batch key>#<member>`, so the index and the
days' versions are those of files staged alone, whichever files shared a batch; an unchanged file is
read no more, a renamed one is found by its content, a changed one is staged again (with the other
changed files).

A batch reads what each file alone would: what a parse decides over a chunk (whether every line
names its service) is decided per file, line numbers start at 1 in each file, a quarantined line is
placed by its own file's lines, and a file whose quarantined lines are placed by the whole file (it
has no valid line, or rows on an outlying day) is staged alone. The batch's counts must add up to
the chunk's, else every file is staged alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from slo_assets.core.calendar import DAY_MS
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.content import BYTE_ORDER_MARKS, MAGIC_BYTES, compression_of
from slo_assets.ingest.digest import ContentDigest
from slo_assets.ingest.parse import QUARANTINE_SCHEMA, ROW_SCHEMA, ChunkResult, parse_chunk, split_lines
from slo_assets.ingest.placement import outlying_days
from slo_assets.ingest.sniffing import Sniff, sniff_plain
from slo_assets.ingest.stage_store import IPC_OPTIONS, QUARANTINE_PATTERN, ROWS_PATTERN, STATS_FILE, StageStats, bound, build_stage

SMALL_FILE_BYTES = 1 << 20  # a file up to this size is read whole, once, and may be staged in a batch
BATCH_BYTES = 8 << 20  # a batch is parsed as one chunk: the chunk size of a file staged alone (STAGE_CHUNK_BYTES)
BATCH_FILES = 4096
MEMBER_MARK = "#"  # <batch key>#<member>: a file's place in a batch


@dataclass(frozen=True)
class SmallFile:
    """A small plain file read whole: its bytes are its content, every line ends with a newline."""

    data: bytes
    digest: ContentDigest
    sniffed: Sniff


def read_small(path: Path, size: int, config: ParseConfig) -> SmallFile | None:
    """The file read whole when it is small, plain (neither compressed nor with a byte order mark),
    has no NUL head and ends with a newline; None otherwise (or when it changed size since its stat,
    or cannot be read): the ordinary path reads it then, and reports what it finds."""
    if not 0 < size <= SMALL_FILE_BYTES:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(size + 1)
    except OSError:
        return None
    if len(data) != size or not data.endswith(b"\n") or data[0] == 0 or compression_of(data[:MAGIC_BYTES]) is not None \
            or any(data.startswith(mark) for mark, _ in BYTE_ORDER_MARKS):
        return None
    digest = ContentDigest()
    digest.update(data)
    return SmallFile(data, digest, sniff_plain(data, config.format, config.log_format))


def member_key(batch_key: str, member: int) -> str:
    return f"{batch_key}{MEMBER_MARK}{member}"


def split_key(key: str) -> tuple[str, int | None]:
    """The folder of a stage key, and the file's place in it when the folder is a batch."""
    folder, mark, member = key.partition(MEMBER_MARK)
    return folder, int(member) if mark else None


_MEMBER = re.compile(r"b[0-9a-f]{31}-[0-9a-f]{12}#[0-9]+")


def locate(stage_root: Path, key: str) -> str:
    """Where the parse of stage key `key` (a file's content and settings) is: `<batch key>#<member>`
    when the file was staged in a batch (`stage_root/key` is then a link naming it), else `key`."""
    try:
        target = os.readlink(stage_root / key)
    except OSError:  # no link: a stage of its own (or none)
        return key
    return target if _MEMBER.fullmatch(target) else key  # a link this code did not write is no place


def stage_exists(stage_root: Path, key: str, seen: dict[str, bool] | None = None) -> bool:
    """Whether the parse of `key` (or of a member `locate` found) is there, alone or in a batch (`seen`
    remembers batch folders: one stat per batch, not per file)."""
    folder, member = split_key(key if MEMBER_MARK in key else locate(stage_root, key))
    if member is None:  # a stage of its own
        return (stage_root / key / STATS_FILE).exists()
    if seen is None or folder not in seen:
        found = (stage_root / folder / STATS_FILE).exists()
        if seen is None:
            return found
        seen[folder] = found
    return seen[folder]


def link_member(stage_root: Path, key: str, member: str) -> None:
    """`stage_root/key` names the batch member holding the parse of `key`: the index keeps the file's
    own stage key (the same whether it was staged alone or in any batch), readers `locate` it."""
    try:
        os.symlink(member, stage_root / key)
    except FileExistsError:
        if stage_exists(stage_root, key):  # another run staged the same content meanwhile: keep theirs
            return
        spare = stage_root / f".{key}.link-{uuid.uuid4().hex}"  # a link to a batch that is gone: replaced, atomically
        os.symlink(member, spare)
        os.replace(spare, stage_root / key)


class BatchStats:
    """The stats.json of batches, loaded once each."""

    def __init__(self, stage_root: Path) -> None:
        self.stage_root = stage_root
        self._loaded: dict[str, dict] = {}

    def entry(self, key: str) -> dict | None:
        """A member's entry in its batch's stats, None when it was staged alone."""
        folder, member = split_key(key)
        if folder not in self._loaded:
            self._loaded[folder] = json.loads((self.stage_root / folder / STATS_FILE).read_text())
        found: dict | None = self._loaded[folder]["members"][member]
        return found

    def member(self, key: str) -> dict:
        found = self.entry(key)
        if found is None:
            raise KeyError(f"{key}: staged alone, not in the batch")
        return found

    def stats(self, key: str) -> StageStats:
        """A member's stats as a stage of its own would give them (without segments: no checkpoint)."""
        entry = self.member(key)
        return StageStats(
            format=self._loaded[split_key(key)[0]]["format"], lines=entry["lines"], blank_lines=entry["blank_lines"], rows=entry["rows"],
            invalid_utf8_lines=entry["invalid_utf8_lines"], service_defaulted=entry["service_defaulted"],
            min_ts_ms=entry["min_ts_ms"], max_ts_ms=entry["max_ts_ms"], first_line_ts_ms=entry["first_line_ts_ms"],
            day_rows={int(day): count for day, count in entry["day_rows"].items()},
            quarantined=entry.get("quarantined", 0), unplaced=entry.get("unplaced", 0),
            orphan_quarantined=entry.get("orphan_quarantined", 0), reasons=dict(entry.get("reasons", {})),
            day_quarantined={int(day): count for day, count in entry.get("day_quarantined", {}).items()},
        )


def batch_key(keys: list[str], suffix: str) -> str:
    """A batch's key: its members' stage keys (content and settings), in order; `suffix` is the
    settings' (stage_key("", fmt, config)), so a changed setting is seen as for a file's own stage."""
    return f"b{hashlib.sha256(chr(10).join(keys).encode()).hexdigest()[:31]}{suffix}"


def stage_batch(stage_root: Path, key: str, members: list[bytes], fmt: str, config: ParseConfig) -> list[StageStats | None]:
    """Stage whole small files of format `fmt` as the batch `key` (kept when it is there already):
    each member's stats, or None for a member to stage alone (a quarantined line, or counts that do
    not add up)."""
    folder = stage_root / key
    if not (folder / STATS_FILE).exists():
        build_stage(folder, lambda tmp: _build(tmp, members, fmt, config), dump=json.dumps)
    stats = BatchStats(stage_root)
    return [None if stats.entry(member_key(key, n)) is None else stats.stats(member_key(key, n)) for n in range(len(members))]


@dataclass
class _Counts:
    """Per member of a parsed batch: its lines, rows, blank and quarantined lines, and the chunk's totals."""

    lines: np.ndarray
    starts: np.ndarray  # the chunk's line index of each member's first line
    of_row: np.ndarray  # the member of each row
    quarantined: np.ndarray
    invalid: list[int]

    def add_up(self, result: ChunkResult, rows: np.ndarray, defaulted: int) -> bool:
        """Whether the members' counts are the chunk's: each line a row, a quarantined or a blank line."""
        blank = self.lines - rows - self.quarantined
        return (int(self.lines.sum()) == result.lines and int(blank.sum()) == result.blank_lines and not (blank < 0).any()
                and sum(self.invalid) == result.invalid_utf8_lines and defaulted == result.service_defaulted)


def _counts(members: list[bytes], result: ChunkResult, starts: np.ndarray, lines: np.ndarray) -> _Counts:
    def member_of(line_index: pl.Series) -> np.ndarray:
        return np.searchsorted(starts, line_index.to_numpy(), side="right") - 1

    quarantined = np.bincount(member_of(result.quarantine["source_line"]), minlength=len(members))
    invalid = [split_lines(data, 1).invalid_utf8 if result.invalid_utf8_lines and not data.isascii() else 0 for data in members]
    return _Counts(lines, starts, member_of(result.rows["source_line"]), quarantined, invalid)


def _build(tmp: Path, members: list[bytes], fmt: str, config: ParseConfig) -> dict:
    """Parse the members as one chunk into `tmp`: a rows file per day and one of quarantined lines,
    members in order; the stats."""
    lines = np.array([data.count(b"\n") for data in members], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lines)[:-1]]).astype(np.int64)
    result = parse_chunk(b"".join(members), 0, fmt, config, None, members=starts)
    counts = _counts(members, result, starts, lines)
    rows = result.rows.with_columns(pl.Series("_member", counts.of_row, dtype=pl.Int64))
    per = rows.group_by("_member").agg(pl.len().alias("rows"), *(getattr(pl.col("ts").dt.epoch("ms"), name)().alias(name)
                                                                   for name in ("min", "max", "first")), pl.col("_defaulted").sum())
    by_member = {row[0]: row[1:] for row in per.iter_rows()}
    rows_of = np.array([by_member.get(n, (0,))[0] for n in range(len(members))], dtype=np.int64)
    if not counts.add_up(result, rows_of, int(rows["_defaulted"].sum())):
        return {"format": fmt, "members": [None] * len(members)}  # what the chunk counted is not each file's: stage each alone
    day_rows = _day_rows(rows)
    # A file with quarantined lines and no valid one, or with rows on an outlying day, places them by the
    # whole file (raw times, the main span's rows: placement.py): staged alone.
    alone = (counts.quarantined > 0) & np.array([rows_of[n] == 0 or bool(outlying_days(day_rows.get(n, {})))
                                                  for n in range(len(members))], dtype=bool)
    if alone.any():
        rows = rows.filter(pl.Series(~alone[counts.of_row]))
    first_of = np.array([by_member.get(n, (0, None, None, None))[3] or 0 for n in range(len(members))], dtype=np.int64)
    placed = _place(tmp, result.quarantine, rows, counts, alone, first_of)
    local = rows["source_line"].to_numpy() - starts[rows["_member"].to_numpy()] + 1
    spans = _write_days(tmp, rows.with_columns(pl.Series("source_line", local, dtype=pl.Int64)))
    entries: list[dict | None] = []
    for n in range(len(members)):
        count, low, high, first, defaulted = by_member.get(n, (0, None, None, None, 0))
        days = sorted(spans.get(n, {}).items())
        bad = placed.get(n, {"quarantined": 0})
        low, high = (bound(low, bad.pop("placed_min", None), min), bound(high, bad.pop("placed_max", None), max))
        entries.append(None if alone[n] else {
            "lines": int(lines[n]), "blank_lines": int(lines[n] - count - bad["quarantined"]), "rows": count,
            "invalid_utf8_lines": counts.invalid[n], "service_defaulted": int(defaulted), "first_line_ts_ms": first,
            "min_ts_ms": low, "max_ts_ms": high,
            "day_rows": {str(day): span[1] for day, span in days}, "day_start": {str(day): span[0] for day, span in days}, **bad})
    return {"format": fmt, "members": entries}


def _day_rows(rows: pl.DataFrame) -> dict[int, dict[int, int]]:
    """member -> epoch day -> rows."""
    found: dict[int, dict[int, int]] = {}
    counted = rows.group_by("_member", (pl.col("ts").dt.epoch("ms") // DAY_MS).alias("_day")).len()
    for member, day, count in counted.iter_rows():
        found.setdefault(member, {})[day] = count
    return found


def _place(tmp: Path, quarantine: pl.DataFrame, rows: pl.DataFrame, counts: _Counts, alone: np.ndarray,
           first_of: np.ndarray) -> dict[int, dict]:
    """The quarantined lines of the files in the batch into one file, members in order, each placed as
    placement.place_quarantine places a file's with valid lines and no outlying day: by its own time,
    else the previous valid line's of the same file, else the file's first; each member's counts."""
    member = np.searchsorted(counts.starts, quarantine["source_line"].to_numpy(), side="right") - 1
    frame = quarantine.with_columns(pl.Series("_member", member, dtype=pl.Int64), pl.Series("_first", first_of[member], dtype=pl.Int64),
                                    pl.Series("_start", counts.starts[member], dtype=pl.Int64)).filter(pl.Series(~alone[member]))
    if not frame.height:
        return {}
    valid = rows.select("source_line", "_member", pl.col("ts").dt.epoch("ms").alias("prev_ts"))
    frame = frame.join_asof(valid, on="source_line", by="_member", strategy="backward", check_sortedness=False)  # both in line order
    own, prev = pl.col("own_ts_ms"), pl.col("prev_ts")
    # quarantine_candidates' own time: the parse's hint, unless it is the previous valid line's
    frame = frame.with_columns(pl.when(own.is_not_null() & (prev.is_null() | (own != prev))).then(own).alias("own")).with_columns(
        pl.coalesce("own", prev.fill_null(pl.col("_first"))).alias("placed"),
        (pl.col("own").is_null() & prev.is_null()).alias("orphan"),
        (pl.col("source_line") - pl.col("_start") + 1).alias("source_line"),
    )
    with ipc.new_file(tmp / QUARANTINE_PATTERN.format(segment=0), QUARANTINE_SCHEMA, options=IPC_OPTIONS) as out:
        out.write_table(frame.with_columns(pl.col("placed").cast(pl.Datetime("ms", "UTC")).alias("ts_hint"))
                        .select(QUARANTINE_SCHEMA.names).to_arrow().cast(QUARANTINE_SCHEMA))
    placed: dict[int, dict] = {}
    offsets = frame.with_row_index("_at").group_by("_member", maintain_order=True).agg(
        pl.col("_at").first(), pl.len(), pl.col("placed").min().alias("min"), pl.col("placed").max().alias("max"), pl.col("orphan").sum())
    for n, at, count, low, high, orphans in offsets.iter_rows():
        placed[n] = {"quarantined": count, "quarantine_start": at, "placed_min": low, "placed_max": high, "orphan_quarantined": orphans,
                     "unplaced": 0, "reasons": {}, "day_quarantined": {}}
    for n, reason, count in frame.group_by("_member", "reason").len().sort("_member", "reason").iter_rows():
        placed[n]["reasons"][reason] = count
    for n, day, count in frame.group_by("_member", (pl.col("placed") // DAY_MS).alias("_day")).len().sort("_member", "_day").iter_rows():
        placed[n]["day_quarantined"][str(day)] = count
    return placed


def _write_days(tmp: Path, rows: pl.DataFrame) -> dict[int, dict[int, tuple[int, int]]]:
    """The rows of each UTC day in one file, in member and line order; member -> day -> (first row, rows)."""
    spans: dict[int, dict[int, tuple[int, int]]] = {}
    keyed = rows.with_columns((pl.col("ts").dt.epoch("ms") // DAY_MS).alias("_day"))
    for (day,), part in keyed.partition_by("_day", as_dict=True, maintain_order=True).items():
        with ipc.new_file(tmp / ROWS_PATTERN.format(day=int(day), part=0), ROW_SCHEMA, options=IPC_OPTIONS) as out:
            out.write_table(part.drop("_day", "_member", "_defaulted").to_arrow().cast(ROW_SCHEMA))
        members = part["_member"].to_numpy()
        first = np.flatnonzero(np.concatenate([[True], members[1:] != members[:-1]]))
        for start, end in zip(first.tolist(), [*first[1:].tolist(), len(members)], strict=True):
            spans.setdefault(int(members[start]), {})[int(day)] = (start, end - start)
    return spans


class BatchReader:
    """The rows of batch members over one window, each batch's day files opened once."""

    def __init__(self, stage_root: Path) -> None:
        self.stage_root = stage_root
        self.stats = BatchStats(stage_root)
        self._days: dict[tuple[str, int], pa.Table] = {}
        self._quarantine: dict[str, pa.Table] = {}

    def rows(self, key: str, start_ms: int, end_ms: int) -> pa.Table:
        """A member's rows with start <= ts < end, in line order, as read_stage_rows gives a file's own."""
        folder = split_key(key)[0]
        entry = self.stats.member(key)
        parts = []
        for day in range(start_ms // DAY_MS, (end_ms - 1) // DAY_MS + 1):
            span = entry["day_start"].get(str(day))
            if span is None:
                continue
            table = self._day(folder, day).slice(span, entry["day_rows"][str(day)])
            if day * DAY_MS < start_ms or (day + 1) * DAY_MS > end_ms:  # window narrower than the day
                ts = table["ts"].cast(pa.int64())
                table = table.filter(pc.and_(pc.greater_equal(ts, start_ms), pc.less(ts, end_ms)))
            parts.append(table)
        return pa.concat_tables(parts) if parts else ROW_SCHEMA.empty_table()

    def quarantine(self, key: str, start_ms: int, end_ms: int) -> pl.DataFrame | None:
        """A member's quarantined lines placed in [start, end), as read_stage_quarantine gives a file's
        own; None when it has none."""
        entry = self.stats.member(key)
        if not entry.get("quarantined"):
            return None
        folder = split_key(key)[0]
        if folder not in self._quarantine:
            with pa.memory_map(str(self.stage_root / folder / QUARANTINE_PATTERN.format(segment=0))) as source:
                self._quarantine[folder] = ipc.open_file(source).read_all()
        frame = pl.from_arrow(self._quarantine[folder].slice(entry["quarantine_start"], entry["quarantined"]))
        assert isinstance(frame, pl.DataFrame)
        return frame.filter(pl.col("ts_hint").dt.epoch("ms").is_between(start_ms, end_ms - 1))

    def _day(self, folder: str, day: int) -> pa.Table:
        if (folder, day) not in self._days:
            with pa.memory_map(str(self.stage_root / folder / ROWS_PATTERN.format(day=day, part=0))) as source:
                self._days[(folder, day)] = ipc.open_file(source).read_all()
        return self._days[(folder, day)]
