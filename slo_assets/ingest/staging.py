"""Parse each log file once per (content, settings) into a staged Parquet pair: rows and quarantine.

A stage is keyed by the file's fingerprint and the parse settings, so an unchanged file is never
parsed twice, a renamed or copied file reuses its stage, and a changed setting re-parses. Chunks
stream into Parquet row groups, so memory depends on the chunk size, not on the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from slo_assets.core.calendar import DAY_MS  # ingest.index and the ingest assets import it from here too
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.files import ContentReport, iter_chunks, sniff_format
from slo_assets.ingest.parse import QUARANTINE_SCHEMA, ROW_SCHEMA, TS_MAX_MS, TS_MIN_MS, parse_chunk

# Bump when parsing changes what a line becomes: every stage is then rebuilt.
PARSER_VERSION = "7"  # 2: stats record the days of quarantined lines; 3: quarantine placement, salvage;
# 4: a bad number's detail as written whatever the chunk's other lines; 5: a stage is a list of
# segments (byte ranges parsed at different times), a quarantine file per segment; 6: the client column;
# 7: bz2, xz, zstd, UTF-16/32 and byte order marks read, a sparse NUL head dropped, NUL lines quarantined (nul_bytes)
# Stages are a local cache read back in full by day, so Arrow IPC beats Parquet: measured 98 ms to
# write and 38 ms to read 1M rows (lz4), against 305 ms and 87 ms for Parquet. Uncompressed, the
# write takes a third of lz4's CPU (8 against 26 ms per 212k rows) and the read is a memory map
# (0.2 against 11 ms), for 2.6x the disk (100 against 38 bytes a row): staging is CPU-bound.
# Rows are split by UTC day as they are parsed: rows-<epoch day>-<part>.arrow, the parts of a day in
# line order; quarantined lines go to one file per segment, in line order too.
ROWS_PATTERN = "rows-{day}-{part}.arrow"
QUARANTINE_PATTERN = "quarantine-{segment}.arrow"
UNPLACED_QUARANTINE_PATTERN = "quarantine-unplaced-{segment}.arrow"  # while staging: lines with their candidate times
# A grown file's stage keeps the segments already parsed (hard links) and parses the appended bytes
# as a new one; a segment after the first that covers fewer bytes than this is parsed again with the
# appended bytes, so a file appended to every minute has a few segments, not one per refresh.
MERGE_SEGMENT_BYTES = 16 << 20
MAX_OPEN_DAY_FILES = 64  # beyond this (timestamps all over the calendar) start new parts
IPC_OPTIONS = ipc.IpcWriteOptions(compression=None)
# Files are staged two at a time in one process (index._stage_all): 8 MiB chunks keep its peak RSS
# where one 32 MiB chunk at a time had it (about 340 MiB for the 6M-event benchmark month), at the
# same CPU; a chunk with a bad line also sends fewer lines down the careful path.
STAGE_CHUNK_BYTES = 8 << 20
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
                                      True, chunk_bytes, _last_parts(first.rows_files))
                stats = _fold([first, tail], fmt)
                if not stats.outlying_days:
                    return stats
            for name in os.listdir(tmp):
                (tmp / name).unlink()
        return _fold([_stage_segment(path, fmt, config, tmp, 0, 0, stop, 1, None, False, chunk_bytes)], fmt)

    return _build_stage(stage_dir, build)


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
                _link(base_dir / name, tmp / name)
        segments = list(kept)
        resume = kept[-1].end
        for start, end in ((resume, max(resume, lines_end)), (max(resume, lines_end), stop)):
            if end > start:
                before = segments[-1]
                segments.append(_stage_segment(path, base.format, config, tmp, len(segments), start, end,
                                               before.first_line + before.stats.lines, before.carry_ts_ms, True, chunk_bytes,
                                               _last_parts(name for s in segments for name in s.rows_files)))
        stats = _fold(segments, base.format)
        return None if stats.outlying_days else stats

    return _build_stage(stage_dir, build)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, target)


def _last_parts(names) -> dict[int, int]:
    """Day -> the highest part among rows file names."""
    parts: dict[int, int] = {}
    for name in names:
        _, day, part = name.removesuffix(".arrow").split("-")
        parts[int(day)] = max(parts.get(int(day), -1), int(part))
    return parts


def _build_stage(stage_dir: Path, build) -> StageStats | None:
    """Run `build` in a temporary folder beside `stage_dir`, write its stats and rename it into place."""
    tmp = stage_dir.with_name(f".{stage_dir.name}.tmp-{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    try:
        stats = build(tmp)
        if stats is None:
            shutil.rmtree(tmp)
            return None
        (tmp / STATS_FILE).write_text(json.dumps(asdict(stats), indent=1))
        if stage_dir.exists():  # another run staged the same content meanwhile: keep theirs
            shutil.rmtree(tmp)
        else:
            tmp.rename(stage_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return stats


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
        total.min_ts_ms = _bound(total.min_ts_ms, part.min_ts_ms, min)
        total.max_ts_ms = _bound(total.max_ts_ms, part.max_ts_ms, max)
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
    days = _DayWriters(folder, parts)
    unplaced_path = folder / UNPLACED_QUARANTINE_PATTERN.format(segment=number)
    try:
        with ipc.new_file(unplaced_path, _CANDIDATES_SCHEMA, options=IPC_OPTIONS) as bad_out:
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
                    candidates = _candidates(result.quarantine, result.rows, carry_ts)
                    if first_raw_ts is None and candidates["raw_ts"].null_count() < candidates.height:
                        first_raw_ts = int(candidates["raw_ts"].drop_nulls()[0])
                    bad_out.write_table(candidates.to_arrow().cast(_CANDIDATES_SCHEMA))
                carry_ts = result.last_ts_ms
    finally:
        days.close()
    stats.damage = report.damage
    stats.nul_head_bytes = report.nul_head_bytes
    stats.reasons = dict(sorted(reasons.items()))
    stats.day_rows = dict(sorted(day_rows.items()))
    stats.outlying_days = [] if rows_before else sorted(outlying_days(stats.day_rows))
    quarantine_file = QUARANTINE_PATTERN.format(segment=number)
    _place_quarantine(folder, stats, first_raw_ts, unplaced_path, folder / quarantine_file, rows_before)
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
        stats.min_ts_ms = _bound(stats.min_ts_ms, int(ts.min()), min)
        stats.max_ts_ms = _bound(stats.max_ts_ms, int(ts.max()), max)
        if stats.first_line_ts_ms is None:
            stats.first_line_ts_ms = int(ts[0])
    if result.quarantine.height:
        reasons.update(result.quarantine["reason"].to_list())


# ---------------------------------------------------------------- placing quarantined lines
#
# A quarantined line belongs to a day, so a person finds it beside the requests of that day:
#  1. its own timestamp, if it has a valid one;
#  2. else the nearest valid line before it, else the nearest after it (lines before the first valid
#     one), skipping valid lines on an outlying day (see outlying_days): a garbage line after one
#     row dated 2099 stays with the file's real days;
#  3. in a file without any valid line (a wrong --format), a timestamp found in the raw text (combined
#     [dd/Mon/yyyy:HH:MM:SS +zzzz] or an ISO-8601 instant), else the nearest such line's;
#  4. else it is unplaced: in no day, counted in stats.unplaced (never the file's mtime).

OUTLIER_GAP_DAYS = 31  # days with rows further apart than this are separate clusters
OUTLIER_SHARE = 0.05  # a cluster with fewer rows than this share of the file's is outlying

_CANDIDATES_SCHEMA = pa.schema([
    *QUARANTINE_SCHEMA,
    ("own_ts", pa.int64()),  # the line's own valid timestamp
    ("prev_ts", pa.int64()),  # the nearest earlier valid line's, in the whole file
    ("raw_ts", pa.int64()),  # a timestamp found in the raw text (only for lines with neither)
])
_RAW_COMBINED_TS = r"\[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]"
_RAW_ISO_TS = r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}:?\d{2})?"


def outlying_days(day_rows: dict[int, int]) -> set[int]:
    """Days of rows far from the file's main span: days are grouped into clusters (a gap of more than
    OUTLIER_GAP_DAYS starts a new one) and a cluster holding less than OUTLIER_SHARE of the rows is
    outlying, unless every cluster is."""
    if not day_rows:
        return set()
    clusters: list[list[int]] = []
    for day in sorted(day_rows):
        if clusters and day - clusters[-1][-1] <= OUTLIER_GAP_DAYS:
            clusters[-1].append(day)
        else:
            clusters.append([day])
    total = sum(day_rows.values())
    small = [c for c in clusters if sum(day_rows[d] for d in c) < OUTLIER_SHARE * total]
    if len(small) == len(clusters):
        return set()
    return {day for cluster in small for day in cluster}


def raw_timestamp_ms(raw: pl.Series) -> pl.Series:
    """A timestamp written somewhere in each raw line (combined bracket form, else ISO-8601; no
    offset means UTC), as epoch ms, null where none is found or it is outside 1970-9999."""
    frame = pl.DataFrame({"raw": raw})
    combined = frame.select(
        pl.col("raw").str.extract(_RAW_COMBINED_TS, 1).str.to_datetime("%d/%b/%Y:%H:%M:%S %z", strict=False)
        .dt.convert_time_zone("UTC").dt.epoch("ms")
    ).to_series()
    iso = frame.select(
        pl.concat_str([
            pl.col("raw").str.extract(_RAW_ISO_TS, 1), pl.lit("T"), pl.col("raw").str.extract(_RAW_ISO_TS, 2),
            pl.col("raw").str.extract(_RAW_ISO_TS, 3).fill_null("Z").str.replace("Z", "+00:00", literal=True),
        ]).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False).dt.convert_time_zone("UTC").dt.epoch("ms")
    ).to_series()
    found = combined.fill_null(iso)
    return pl.select(pl.when(found.is_between(TS_MIN_MS, TS_MAX_MS)).then(found)).to_series().alias("raw_ts")


def _candidates(quarantine: pl.DataFrame, rows: pl.DataFrame, carry_ts: int | None) -> pl.DataFrame:
    """Each quarantined line of a chunk with its own timestamp, the previous valid line's and a raw one.

    parse.py's ts_hint is the own timestamp or the previous valid one; which of the two it is follows
    from comparing it with the previous valid line's (equal means the same day either way)."""
    valid = rows.select(pl.col("source_line"), pl.col("ts").dt.epoch("ms").alias("prev_ts")).set_sorted("source_line")
    frame = quarantine.with_columns(pl.col("source_line").set_sorted()).join_asof(valid, on="source_line", strategy="backward")
    hint = pl.col("ts_hint").dt.epoch("ms")
    frame = frame.with_columns(pl.col("prev_ts").fill_null(pl.lit(carry_ts, dtype=pl.Int64))).with_columns(
        pl.when(pl.col("prev_ts").is_null() | (hint != pl.col("prev_ts"))).then(hint).alias("own_ts")
    )
    needs_raw = frame["own_ts"].is_null() & frame["prev_ts"].is_null()
    raw_ts = pl.Series("raw_ts", [None] * frame.height, dtype=pl.Int64)
    if needs_raw.any():
        raw_ts = pl.select(pl.when(needs_raw).then(raw_timestamp_ms(frame["raw"]))).to_series().alias("raw_ts")
    return frame.with_columns(raw_ts).select(_CANDIDATES_SCHEMA.names)


def _main_rows(stage: Path, outlying: set[int]) -> pl.DataFrame:
    """(source_line, ts ms) of the rows not on an outlying day, in line order (read only when a file
    has outlying days, which is rare)."""
    parts = []
    for rows_file in sorted(stage.glob("rows-*.arrow")):
        if int(rows_file.name.split("-")[1]) in outlying:
            continue
        with pa.memory_map(str(rows_file)) as source:
            table = ipc.open_file(source).read_all().select(["source_line", "ts"])
        parts.append(pl.from_arrow(table).select("source_line", pl.col("ts").dt.epoch("ms").alias("near_ts")))
    if not parts:
        return pl.DataFrame(schema={"source_line": pl.Int64, "near_ts": pl.Int64})
    return pl.concat(parts).sort("source_line")


def _place_quarantine(stage: Path, stats: StageStats, first_raw_ts: int | None, source_path: Path, target: Path,
                      rows_before: bool = False) -> None:
    """Stream the candidates into `target` with ts_hint = the time that decides the line's day.
    `rows_before`: a later segment of a file with valid lines before it (and no outlying day)."""
    outlying = set(stats.outlying_days)
    main = _main_rows(stage, outlying) if outlying else None
    first_main = stats.first_line_ts_ms if main is None else (int(main["near_ts"][0]) if main.height else None)
    day_quarantined: Counter[int] = Counter()
    carry_raw = None
    with pa.memory_map(str(source_path)) as source, \
            ipc.new_file(target, QUARANTINE_SCHEMA, options=IPC_OPTIONS) as out:
        reader = ipc.open_file(source)
        for batch_index in range(reader.num_record_batches):
            frame = pl.from_arrow(pa.Table.from_batches([reader.get_batch(batch_index)]))
            if stats.rows or rows_before:
                if main is None:  # nothing outlying: the previous valid line, else the first one
                    near = pl.col("prev_ts").fill_null(pl.lit(first_main, dtype=pl.Int64))
                else:
                    frame = frame.with_columns(pl.col("source_line").set_sorted()).join_asof(
                        main.set_sorted("source_line"), on="source_line", strategy="backward")
                    near = pl.col("near_ts").fill_null(pl.lit(first_main, dtype=pl.Int64))
                placed = frame.select(pl.coalesce(pl.col("own_ts"), near).alias("placed")).to_series()
            else:  # no valid line at all: times found in the raw text, carried to the lines after
                raw = frame.select(pl.coalesce("own_ts", "raw_ts")).to_series()
                placed = raw.fill_null(strategy="forward")
                if carry_raw is not None:
                    placed = placed.fill_null(carry_raw)
                if first_raw_ts is not None:  # lines before the first time found take it
                    placed = placed.fill_null(first_raw_ts)
                if placed.drop_nulls().len():
                    carry_raw = int(placed.drop_nulls()[-1])
            placed = placed.alias("placed")
            stats.unplaced += placed.null_count()
            known = placed.drop_nulls()
            if known.len():
                stats.min_ts_ms = _bound(stats.min_ts_ms, int(known.min()), min)
                stats.max_ts_ms = _bound(stats.max_ts_ms, int(known.max()), max)
                for day, count in (known // DAY_MS).value_counts().iter_rows():
                    day_quarantined[int(day)] += count
            stats.orphan_quarantined += int((frame["own_ts"].is_null() & frame["prev_ts"].is_null()).sum())
            out.write_table(
                frame.with_columns(placed.cast(pl.Datetime("ms", "UTC")).alias("ts_hint"))
                .select(QUARANTINE_SCHEMA.names).to_arrow().cast(QUARANTINE_SCHEMA)
            )
    source_path.unlink()
    stats.day_quarantined = dict(sorted(day_quarantined.items()))


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
