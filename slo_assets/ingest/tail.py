"""Tail growing log files: parse only the bytes appended since the last read, line by line accounted.

A file is followed by a checkpoint (ingest/checkpoint.py: inode, path or first KiB, and the KiB
before the offset). When the checkpoint still holds, the file only grew and the bytes after its
offset are read; else the file is new (a rotated-in file, or one truncated by copytruncate) and is
read from its start. A renamed file (`access.log` -> `access.log.1`) keeps its inode, so the lines
appended to it before the rename are read from it. The bytes after the last newline are held: a
line still being written is read once it is whole. Compressed files are complete rotations and are
not tailed (the batch ingestion reads them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from slo_assets.ingest.checkpoint import FileCheckpoint, candidates, still_holds, take
from slo_assets.ingest.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, ParseConfig
from slo_assets.ingest.files import START_POINT, compression, discover_files, is_plain, os_reason
from slo_assets.ingest.parse import parse_chunk
from slo_assets.ingest.staging import resolve_format

CHUNK_BYTES = 8 << 20  # appended bytes are parsed this much at a time (a first read of a large file)
LIVE_STAGE = "live"  # tailed files have no stage: the checkpoint's stage_key and chain are unused
PROBLEMS_SHOWN = 20  # rejected lines named per tick; all are counted


@dataclass(frozen=True)
class FileCursor:
    """Where a tailed file was read to: its checkpoint, its format and the last valid line's time."""

    checkpoint: FileCheckpoint
    fmt: str
    last_ts_ms: int | None

    def to_json(self) -> dict:
        c = self.checkpoint
        return {"path": c.path, "device": c.device, "inode": c.inode, "offset": c.offset, "lines": c.lines,
                "head_sha256": c.head_sha256, "tail_sha256": c.tail_sha256, "fmt": self.fmt, "last_ts_ms": self.last_ts_ms}

    @staticmethod
    def from_json(data: dict) -> FileCursor:
        checkpoint = FileCheckpoint(path=data["path"], device=data["device"], inode=data["inode"], offset=data["offset"],
                                    lines=data["lines"], head_sha256=data["head_sha256"], tail_sha256=data["tail_sha256"],
                                    chain=START_POINT, stage_key=LIVE_STAGE)
        return FileCursor(checkpoint, data["fmt"], data["last_ts_ms"])


@dataclass
class FileRead:
    """What one tick read from one file: every line is a row (accepted), rejected, or blank."""

    path: str
    start: int  # byte offset read from (0: the file is new to the tail)
    end: int  # bytes of whole lines read through
    held_bytes: int  # after the last newline: a line still being written
    lines: int
    accepted: int
    rejected: int
    blank: int
    restarted: bool = False  # a checkpoint of this path no longer held (rotated or truncated): read from 0
    problems: list[str] = field(default_factory=list)  # "file:line: reason: detail" of rejected lines (the first ones)

    @property
    def bytes_read(self) -> int:
        return self.end - self.start


@dataclass
class Tail:
    rows: pl.DataFrame  # the parsed rows of the appended lines, with source_file
    files: list[FileRead]
    cursors: list[FileCursor]  # for the next tick: every plain file seen
    skipped: list[tuple[str, str]]  # (path, why) not tailed: compressed, unreadable

    @property
    def problems(self) -> list[str]:
        return [p for f in self.files for p in f.problems]


def _whole_lines_end(path: Path, start: int, size: int) -> int:
    """The offset after the last newline in [start, size), or `start` when there is none."""
    with open(path, "rb") as handle:
        position = size
        while position > start:
            step = min(1 << 16, position - start)
            handle.seek(position - step)
            block = handle.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                return position - step + cut + 1
            position -= step
    return start


def _resume(path: Path, rel: str, stat, known: list[FileCursor], used: set[int]) -> FileCursor | None:
    """The first unused cursor of which this file only grew."""
    by_checkpoint = {id(c.checkpoint): c for c in known}
    for candidate in candidates(path, rel, stat, [c.checkpoint for c in known if id(c) not in used]):
        if still_holds(path, stat.st_size, candidate):
            return by_checkpoint[id(candidate)]
    return None


def read_file(path: Path, rel: str, cursor: FileCursor | None, config: ParseConfig, stat=None,
              chunk_bytes: int = CHUNK_BYTES) -> tuple[pl.DataFrame, FileRead, FileCursor]:
    """Parse the whole lines appended to `path` after `cursor` (all of it without one)."""
    stat = stat or os.stat(path)
    start = cursor.checkpoint.offset if cursor else 0
    first_line = cursor.checkpoint.lines + 1 if cursor else 1
    fmt = cursor.fmt if cursor else resolve_format(path, config)
    carry = cursor.last_ts_ms if cursor else None
    end = _whole_lines_end(path, start, stat.st_size)
    frames, problems = [], []
    lines = accepted = rejected = blank = 0
    with open(path, "rb") as handle:
        handle.seek(start)
        position = start
        while position < end:
            data = handle.read(min(chunk_bytes, end - position))
            cut = data.rfind(b"\n") + 1 if position + len(data) < end else len(data)
            if cut == 0:  # one line longer than a chunk: read on to its end
                data += handle.read(end - position - len(data))
                cut = len(data)
            handle.seek(position + cut)
            result = parse_chunk(data[:cut], first_line + lines, fmt, config, carry)
            position += cut
            lines += result.lines
            accepted += result.rows.height
            rejected += result.quarantine.height
            blank += result.blank_lines
            carry = result.last_ts_ms
            if result.rows.height:
                frames.append(result.rows.with_columns(pl.lit(rel).alias("source_file")))
            for line, reason, detail in result.quarantine.select("source_line", "reason", "detail").head(
                    max(0, PROBLEMS_SHOWN - len(problems))).iter_rows():
                problems.append(f"{rel}:{line}: {reason}" + (f": {detail}" if detail else ""))
    rows = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    point = take(path, rel, stat, end, first_line - 1 + lines, START_POINT, LIVE_STAGE)
    read = FileRead(rel, start, end, stat.st_size - end, lines, accepted, rejected, blank, problems=problems)
    return rows, read, FileCursor(point, fmt, carry)


def tail_files(root: Path, cursors: list[FileCursor], config: ParseConfig, include: tuple[str, ...] = DEFAULT_INCLUDE,
               exclude: tuple[str, ...] = DEFAULT_EXCLUDE, follow_symlinks: bool = True,
               chunk_bytes: int = CHUNK_BYTES) -> Tail:
    """Read what was appended to every plain log file under `root` since `cursors`."""
    discovery = discover_files(Path(root), include, exclude, follow_symlinks)
    skipped = list(discovery.unreadable)
    frames, reads, after = [], [], []
    used: set[int] = set()
    for path in discovery.files:
        rel = path.relative_to(root).as_posix()
        try:
            if not is_plain(path):  # compressed, or UTF-16/32: its appended bytes cannot be read alone
                kind = compression(path)
                skipped.append((rel, f"{kind}-compressed: a complete rotation, read by the batch ingestion, not tailed" if kind else
                                "UTF-16/32 text: read by the batch ingestion, not tailed"))
                continue
            stat = os.stat(path)
            cursor = _resume(path, rel, stat, cursors, used)
            if cursor is not None:
                used.add(id(cursor))
            rows, read, cursor_after = read_file(path, rel, cursor, config, stat, chunk_bytes)
        except OSError as error:
            skipped.append((rel, os_reason(error)))
            continue
        read.restarted = cursor is None and any(c.checkpoint.path == rel and c.checkpoint.offset > 0 for c in cursors)
        if rows.height:
            frames.append(rows)
        reads.append(read)
        after.append(cursor_after)
    rows = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    return Tail(rows, reads, after, sorted(skipped))

