"""Parse each log file once per (content, settings) into a staged Parquet pair: rows and quarantine.

A stage is keyed by the file's fingerprint and the parse settings, so an unchanged file is never
parsed twice, a renamed or copied file reuses its stage, and a changed setting re-parses. Chunks
stream into Parquet row groups, so memory depends on the chunk size, not on the file.

The stage's files and stats are in stage_store.py, the placing of quarantined lines on days in
placement.py; this module parses a file (or the bytes a file grew by) into a stage and keeps the names
callers import.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import polars as pl
import pyarrow.ipc as ipc

from slo_assets.core.calendar import DAY_MS  # ingest.index and the ingest assets import it from here too
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.files import ContentReport, iter_chunks, sniff_format
from slo_assets.ingest.parse import ROW_SCHEMA, parse_chunk
from slo_assets.ingest.placement import (
    CANDIDATES_SCHEMA,
    OUTLIER_GAP_DAYS,
    OUTLIER_SHARE,
    outlying_days,
    place_quarantine,
    quarantine_candidates,
    raw_timestamp_ms,
)
from slo_assets.ingest.stage_store import (
    IPC_OPTIONS,
    MAX_OPEN_DAY_FILES,
    QUARANTINE_PATTERN,
    ROWS_PATTERN,
    STATS_FILE,
    UNPLACED_QUARANTINE_PATTERN,
    DayWriters,
    Segment,
    StageStats,
    bound,
    build_stage,
    last_parts,
    link_file,
    read_stage_quarantine,
    read_stage_rows,
)

__all__ = [
    "DAY_MS", "IPC_OPTIONS", "MAX_OPEN_DAY_FILES", "MERGE_SEGMENT_BYTES", "OUTLIER_GAP_DAYS", "OUTLIER_SHARE", "PARSER_VERSION",
    "QUARANTINE_PATTERN", "ROWS_PATTERN", "STAGE_CHUNK_BYTES", "STATS_FILE", "UNPLACED_QUARANTINE_PATTERN", "Segment", "StageStats",
    "extend_stage", "outlying_days", "parse_chunk", "raw_timestamp_ms", "read_stage_quarantine", "read_stage_rows", "resolve_format",
    "stage_file", "stage_key",
]

# Bump when parsing changes what a line becomes: every stage is then rebuilt.
PARSER_VERSION = "9"  # 2: stats record the days of quarantined lines; 3: quarantine placement, salvage;
# 4: a bad number's detail as written whatever the chunk's other lines; 5: a stage is a list of
# segments (byte ranges parsed at different times), a quarantine file per segment; 6: the client column;
# 7: bz2, xz, zstd, UTF-16/32 and byte order marks read, a sparse NUL head dropped, NUL lines quarantined (nul_bytes);
# 8: an empty service name (a path regex's empty group, "service": "") is the default service, not a bad line
# 9: a request time of only whitespace is no request time (it was a quarantined line without a reason)
# A grown file's stage keeps the segments already parsed (hard links) and parses the appended bytes
# as a new one; a segment after the first that covers fewer bytes than this is parsed again with the
# appended bytes, so a file appended to every minute has a few segments, not one per refresh.
MERGE_SEGMENT_BYTES = 16 << 20
# Files are staged two at a time in one process (index._stage_all): 8 MiB chunks keep its peak RSS
# where one 32 MiB chunk at a time had it (about 340 MiB for the 6M-event benchmark month), at the
# same CPU; a chunk with a bad line also sends fewer lines down the careful path.
STAGE_CHUNK_BYTES = 8 << 20


def stage_key(file_fingerprint: str, fmt: str, config: ParseConfig) -> str:
    settings = hashlib.sha256(f"{config.fingerprint()}|{fmt}|{PARSER_VERSION}".encode()).hexdigest()[:12]
    return f"{file_fingerprint[:32]}-{settings}"


def resolve_format(path: Path, config: ParseConfig) -> str:
    return config.format if config.format != "auto" else sniff_format(path, config.log_format)


def stage_file(path: Path, fmt: str, config: ParseConfig, stage_dir: Path, chunk_bytes: int = STAGE_CHUNK_BYTES,
               stop: int | None = None, lines_end: int | None = None) -> StageStats:
    """Parse `path` into `stage_dir` (created atomically: built under a temporary name, then renamed).

    Of a plain file, only its first `stop` bytes when given. When `lines_end` says the content ends
    in an incomplete line, that line is staged as a segment of its own, so the next parse of the
    grown file starts at it (unless that would change the placement of earlier lines: then one segment).
    A damaged gzip is staged up to the damage (`stats.damage` says why); OSError reaches the caller."""
    def build(tmp: Path) -> StageStats:
        if lines_end and stop is not None and lines_end < stop:
            first = _stage_segment(path, fmt, config, tmp, 0, 0, lines_end, 1, None, False, chunk_bytes)
            if first.stats.rows and not first.stats.outlying_days:
                tail = _stage_segment(path, fmt, config, tmp, 1, lines_end, stop, first.stats.lines + 1, first.carry_ts_ms,
                                      True, chunk_bytes, last_parts(first.rows_files))
                stats = _fold([first, tail], fmt)
                if not stats.outlying_days:
                    return stats
            for name in os.listdir(tmp):
                (tmp / name).unlink()
        return _fold([_stage_segment(path, fmt, config, tmp, 0, 0, stop, 1, None, False, chunk_bytes)], fmt)

    return build_stage(stage_dir, build)


def extend_stage(path: Path, base_dir: Path, base: StageStats, stage_dir: Path, valid_until: int, stop: int,
                 lines_end: int, config: ParseConfig, chunk_bytes: int = STAGE_CHUNK_BYTES,
                 merge_bytes: int | None = None) -> StageStats | None:
    """Stage a plain file that grew, from the stage `base` of its first `valid_until` bytes (which the
    caller checked are unchanged): keep base's segments of whole lines (links, no copy), parse the
    bytes after them up to `stop`. None when that cannot give what a full parse would (the stage has
    no valid line yet, or has rows on outlying days: their quarantined neighbours are placed by the
    whole file): the caller parses the file in full."""
    kept: list[Segment] = []
    for segment in base.segments:
        if not segment.ends_line or segment.end is None or segment.end > valid_until:
            break
        kept.append(segment)
    if len(kept) > 1 and kept[-1].end - kept[-1].start < (MERGE_SEGMENT_BYTES if merge_bytes is None else merge_bytes):
        kept.pop()  # a small segment is parsed again with what was appended
    so_far = _fold(kept, base.format)
    if not kept or so_far.outlying_days or not so_far.rows:
        return None

    def build(tmp: Path) -> StageStats | None:
        for segment in kept:
            for name in (*segment.rows_files, segment.quarantine_file):
                link_file(base_dir / name, tmp / name)
        segments = list(kept)
        resume = kept[-1].end
        for start, end in ((resume, max(resume, lines_end)), (max(resume, lines_end), stop)):
            if end > start:
                before = segments[-1]
                segments.append(_stage_segment(path, base.format, config, tmp, len(segments), start, end,
                                               before.first_line + before.stats.lines, before.carry_ts_ms, True, chunk_bytes,
                                               last_parts(name for s in segments for name in s.rows_files)))
        stats = _fold(segments, base.format)
        return None if stats.outlying_days else stats

    return build_stage(stage_dir, build)


def _fold(segments: list[Segment], fmt: str) -> StageStats:
    """A stage's stats from its segments' (counts add up; outlying days are the whole file's)."""
    total = StageStats(format=fmt, segments=list(segments))
    reasons: Counter[str] = Counter()
    day_rows: Counter[int] = Counter()
    day_quarantined: Counter[int] = Counter()
    for segment in segments:
        part = segment.stats
        for name in ("lines", "blank_lines", "rows", "quarantined", "invalid_utf8_lines", "service_defaulted",
                     "orphan_quarantined", "unplaced", "nul_head_bytes"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        total.min_ts_ms = bound(total.min_ts_ms, part.min_ts_ms, min)
        total.max_ts_ms = bound(total.max_ts_ms, part.max_ts_ms, max)
        if total.first_line_ts_ms is None:
            total.first_line_ts_ms = part.first_line_ts_ms
        total.damage = total.damage or part.damage
        reasons.update(part.reasons)
        day_rows.update(part.day_rows)
        day_quarantined.update(part.day_quarantined)
    total.reasons = dict(sorted(reasons.items()))
    total.day_rows = dict(sorted(day_rows.items()))
    total.day_quarantined = dict(sorted(day_quarantined.items()))
    total.outlying_days = sorted(outlying_days(total.day_rows))
    return total


def _stage_segment(path: Path, fmt: str, config: ParseConfig, folder: Path, number: int, start: int, stop: int | None,
                   first_line: int, carry_ts: int | None, rows_before: bool, chunk_bytes: int,
                   parts: dict[int, int] | None = None) -> Segment:
    """Parse bytes [start, stop) into `folder` as segment `number`. `rows_before`: the file has valid
    lines before `start` (then `carry_ts` is the last one's time, and each quarantined line here is
    placed by its own time or the previous valid line's); else the segment is the file's first and
    places its lines as a whole file."""
    stats = StageStats(format=fmt)
    reasons: Counter[str] = Counter()
    day_rows: Counter[int] = Counter()
    line_no = first_line
    first_raw_ts: int | None = None
    report = ContentReport()
    days = DayWriters(folder, parts)
    unplaced_path = folder / UNPLACED_QUARANTINE_PATTERN.format(segment=number)
    try:
        with ipc.new_file(unplaced_path, CANDIDATES_SCHEMA, options=IPC_OPTIONS) as bad_out:
            for chunk in iter_chunks(path, chunk_bytes, report, start=start, stop=stop):
                result = parse_chunk(chunk, line_no, fmt, config, carry_ts)
                line_no += result.lines
                _accumulate(stats, result, reasons)
                if result.rows.height:
                    keyed = result.rows.with_columns((pl.col("ts").dt.epoch("ms") // DAY_MS).alias("_day"))
                    for (day,), part in keyed.partition_by("_day", as_dict=True, maintain_order=True).items():
                        days.write(int(day), part.drop("_day").to_arrow().cast(ROW_SCHEMA))
                        day_rows[int(day)] += part.height
                if result.quarantine.height:
                    candidates = quarantine_candidates(result.quarantine, result.rows, carry_ts)
                    if first_raw_ts is None and candidates["raw_ts"].null_count() < candidates.height:
                        first_raw_ts = int(candidates["raw_ts"].drop_nulls()[0])
                    bad_out.write_table(candidates.to_arrow().cast(CANDIDATES_SCHEMA))
                carry_ts = result.last_ts_ms
    finally:
        days.close()
    stats.damage = report.damage
    stats.nul_head_bytes = report.nul_head_bytes
    stats.reasons = dict(sorted(reasons.items()))
    stats.day_rows = dict(sorted(day_rows.items()))
    stats.outlying_days = [] if rows_before else sorted(outlying_days(stats.day_rows))
    quarantine_file = QUARANTINE_PATTERN.format(segment=number)
    place_quarantine(folder, stats, first_raw_ts, unplaced_path, folder / quarantine_file, rows_before)
    return Segment(start=start, end=stop, first_line=first_line, ends_line=report.ends_line, carry_ts_ms=carry_ts,
                   rows_files=days.names, quarantine_file=quarantine_file, stats=stats)


def _accumulate(stats: StageStats, result, reasons: Counter) -> None:
    stats.lines += result.lines
    stats.blank_lines += result.blank_lines
    stats.rows += result.rows.height
    stats.quarantined += result.quarantine.height
    stats.invalid_utf8_lines += result.invalid_utf8_lines
    stats.service_defaulted += result.service_defaulted
    if result.rows.height:
        ts = result.rows["ts"].dt.epoch("ms")
        stats.min_ts_ms = bound(stats.min_ts_ms, int(ts.min()), min)
        stats.max_ts_ms = bound(stats.max_ts_ms, int(ts.max()), max)
        if stats.first_line_ts_ms is None:
            stats.first_line_ts_ms = int(ts[0])
    if result.quarantine.height:
        reasons.update(result.quarantine["reason"].to_list())
