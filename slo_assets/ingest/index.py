"""The log file index and the assembly of one UTC day from it.

The index lists every log file with its size, mtime, fingerprint, format, counts and the time span
of its lines. Building it stages new or changed files (see staging.py) and reuses everything else,
so a refresh costs a stat per unchanged file. A day then reads only the files whose span holds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa

from slo_assets.ingest.checkpoint import CHECK_BYTES, FileCheckpoint, candidates, head_bytes, still_holds, take
from slo_assets.ingest.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, ParseConfig
from slo_assets.ingest.files import (
    START_POINT,
    ContentDigest,
    compression,
    discover_files,
    fingerprint,
    is_plain,
    os_reason,
    read_range,
    scan_plain,
    sniff,
)
from slo_assets.ingest.staging import (
    DAY_MS,
    STATS_FILE,
    StageStats,
    extend_stage,
    read_stage_quarantine,
    read_stage_rows,
    stage_file,
    stage_key,
)
from slo_assets.warehouse import canonical

log = logging.getLogger(__name__)

# Every entry found under the log folder is a row: read and salvaged files with their counts,
# skipped and unreadable ones (files or folders) with the reason, so nothing vanishes unseen.
READ, SALVAGED, SKIPPED, UNREADABLE = "read", "salvaged", "skipped", "unreadable"
STAGED_STATUSES = (READ, SALVAGED)

INDEX_SCHEMA = {
    "path": pl.String,
    "status": pl.String,  # read, salvaged (a damaged gzip read up to the damage), skipped, unreadable
    "problem": pl.String,  # why it was salvaged, skipped or unreadable
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
    "unplaced": pl.Int64,  # quarantined lines with no time to place them by: in no day
    "invalid_utf8_lines": pl.Int64,
    "service_defaulted": pl.Int64,
    "first_ts": pl.Datetime("ms", "UTC"),
    "last_ts": pl.Datetime("ms", "UTC"),
    "duplicate_of": pl.String,
    "days": pl.List(pl.Int32),  # UTC days (since the epoch) holding its rows or quarantined lines
    "day_rows": pl.List(pl.Int64),  # rows on each of `days`
    "day_quarantined": pl.List(pl.Int64),  # quarantined lines placed on each of `days`
    "reasons": pl.String,  # JSON {reason: quarantined lines}
}


@dataclass
class IndexBuild:
    index: pl.DataFrame
    staged: list[str]  # files parsed in this build
    reused: int  # files whose stage already existed
    duplicates: list[tuple[str, str]]  # (path, duplicate of)
    checkpoints: list[FileCheckpoint] = field(default_factory=list)  # of the plain files read, for the next build
    extended: list[str] = field(default_factory=list)  # of `staged`: parsed from a checkpoint, appended bytes only


def _unchanged(previous: pl.DataFrame | None) -> dict[tuple[str, int, int], dict]:
    if previous is None or previous.is_empty() or "status" not in previous.columns:
        return {}
    staged = previous.filter(pl.col("status").is_in(STAGED_STATUSES))
    return {(r["path"], r["size_bytes"], r["mtime_ns"]): r for r in staged.iter_rows(named=True)}


@dataclass(frozen=True)
class _Resume:
    """A changed file that only grew since `checkpoint`, whose stage `base` it extends."""

    checkpoint: FileCheckpoint
    base: StageStats


@dataclass(frozen=True)
class _Job:
    path: Path
    fmt: str
    stage_dir: Path
    stop: int | None  # the plain file's size when stat'ed: what is parsed and fingerprinted
    lines_end: int | None
    resume: _Resume | None


def _stage_one(job: _Job, config: ParseConfig, stage_root: Path) -> tuple[StageStats | str, bool]:
    """The file's stage stats and whether only its appended bytes were parsed, or the reason it
    could not be read (OSError: gone, no permission)."""
    try:
        if job.resume is not None:
            stats = extend_stage(job.path, stage_root / job.resume.checkpoint.stage_key, job.resume.base, job.stage_dir,
                                 job.resume.checkpoint.offset, job.stop, job.lines_end, config)
            if stats is not None:
                return stats, True
        return stage_file(job.path, job.fmt, config, job.stage_dir, stop=job.stop, lines_end=job.lines_end), False
    except OSError as error:
        return os_reason(error), False


def _stage_all(pending: list[_Job], config: ParseConfig, stage_root: Path, workers: int) -> list[tuple[StageStats | str, bool]]:
    """Stage files on `workers` threads. Polars and Arrow do the work without holding the GIL, so
    threads use every core like processes did, without a second of imports per worker process and
    without a copy of the libraries' memory in each."""
    if workers <= 1 or len(pending) < 2:
        return [_stage_one(job, config, stage_root) for job in pending]
    with ThreadPoolExecutor(max_workers=min(workers, len(pending)), thread_name_prefix="stage") as pool:
        return list(pool.map(lambda job: _stage_one(job, config, stage_root), pending))


@dataclass(frozen=True)
class _Scan:
    digest: str
    content: ContentDigest | None  # of a plain file: the chain points and where its last line ended


def _safe_scan(path: Path, size: int, resume: _Resume | None) -> _Scan | OSError:
    """The file's fingerprint; of a plain file only its first `size` bytes, read from the checkpoint's
    chain point when it grew (a compressed or UTF-16 file is read whole, without checkpoints)."""
    try:
        if resume is None and not is_plain(path):
            return _Scan(fingerprint(path), None)
        content = scan_plain(path, resume.checkpoint.chain if resume else START_POINT, stop=size)
        return _Scan(content.hexdigest(), content)
    except OSError as error:
        return error


def _resume_of(path: Path, rel: str, stat, known: _Checkpoints, stage_root: Path, config: ParseConfig) -> _Resume | None:
    """The first checkpoint this file only grew from, with a stage parsed with today's settings."""
    if not known.all:
        return None
    try:
        if not is_plain(path):
            return None
        for candidate in candidates(path, rel, stat, known.of(path, rel, stat)):
            stats_path = stage_root / candidate.stage_key / STATS_FILE
            if not stats_path.exists() or not still_holds(path, stat.st_size, candidate):
                continue
            base = StageStats.load(stats_path)
            if config.format in ("auto", base.format) and candidate.stage_key.endswith(stage_key("", base.format, config)):
                return _Resume(candidate, base)
    except OSError:  # read in full, where the error is reported
        return None
    return None


class _Checkpoints:
    """The checkpoints of the last build, looked up by inode, path and first bytes, so that finding a
    file's costs the same however many files there are (`candidates` compares each it is given)."""

    def __init__(self, checkpoints: list[FileCheckpoint]) -> None:
        self.all = checkpoints
        self._order = {id(c): n for n, c in enumerate(checkpoints)}
        self._by_inode: dict[tuple[int, int], list[FileCheckpoint]] = {}
        self._by_path: dict[str, list[FileCheckpoint]] = {}
        self._by_head: dict[tuple[int, str], list[FileCheckpoint]] = {}  # (bytes compared, their sha256)
        for checkpoint in checkpoints:
            self._by_inode.setdefault((checkpoint.device, checkpoint.inode), []).append(checkpoint)
            self._by_path.setdefault(checkpoint.path, []).append(checkpoint)
            self._by_head.setdefault((head_bytes(checkpoint.offset), checkpoint.head_sha256), []).append(checkpoint)
        self._head_lengths = sorted({length for length, _ in self._by_head})  # at most CHECK_BYTES + 1 of them

    def of(self, path: Path, rel: str, stat) -> list[FileCheckpoint]:
        """The checkpoints `candidates` could pick for this file, in their order."""
        found = [*self._by_inode.get((stat.st_dev, stat.st_ino), ()), *self._by_path.get(rel, ())]
        head = read_range(path, 0, CHECK_BYTES)
        for length in self._head_lengths:
            if length > len(head):
                break
            found += self._by_head.get((length, hashlib.sha256(head[:length]).hexdigest()), ())
        unique = {id(c): c for c in found}
        return sorted(unique.values(), key=lambda c: self._order[id(c)])


def _checkpoint_of(path: Path, rel: str, stat, scan: _Scan, key: str, stats: StageStats) -> FileCheckpoint | None:
    """Where the next parse of this plain file may start: after the stage's segments of whole lines."""
    offset = stats.lines_end
    points = [] if scan.content is None else [p for p in scan.content.points if p.offset <= offset]
    if not offset or not points:
        return None
    lines = sum(s.stats.lines for s in stats.segments if s.end is not None and s.end <= offset)
    try:
        return take(path, rel, stat, offset, lines, points[-1], key)
    except OSError:
        return None


def _problem_record(rel: str, status: str, problem: str, stat=None) -> dict:
    return {"path": rel, "status": status, "problem": problem, "size_bytes": None if stat is None else stat.st_size,
            "mtime_ns": None if stat is None else stat.st_mtime_ns, "days": [], "day_rows": [], "day_quarantined": []}


def build_index(root: Path, stage_root: Path, config: ParseConfig, include: tuple[str, ...] = DEFAULT_INCLUDE,
                previous: pl.DataFrame | None = None, follow_symlinks: bool = True,
                workers: int | None = None, exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
                checkpoints: list[FileCheckpoint] | None = None) -> IndexBuild:
    """Index every entry under `root`, staging (in parallel) the log files that are new or changed;
    a plain file that only grew since one of `checkpoints` has just its appended bytes parsed.

    One bad file never stops the others: an unreadable one is recorded with its reason, a damaged
    gzip is read up to the damage, a file that is no log (by its content) is listed as skipped."""
    root = Path(root)
    stage_root = Path(stage_root)
    known = _unchanged(previous)
    discovery = discover_files(root, include, exclude, follow_symlinks)
    problems = [_problem_record(rel, SKIPPED, reason) for rel, reason in discovery.skipped]
    problems += [_problem_record(rel, UNREADABLE, reason) for rel, reason in discovery.unreadable]
    found = []
    for path in discovery.files:
        rel = path.relative_to(root).as_posix()
        try:
            found.append((path, rel, path.stat()))
        except OSError as error:
            problems.append(_problem_record(rel, UNREADABLE, os_reason(error)))

    def is_cached(rel: str, stat) -> dict | None:
        cached = known.get((rel, stat.st_size, stat.st_mtime_ns))
        if cached is not None and (stage_root / cached["stage_key"] / STATS_FILE).exists() and _same_settings(cached, config):
            return cached
        return None

    cached_of = {rel: is_cached(rel, stat) for _, rel, stat in found}
    known_checkpoints = list(checkpoints or [])
    lookup = _Checkpoints(known_checkpoints)
    resume_of = {rel: _resume_of(path, rel, stat, lookup, stage_root, config)
                 for path, rel, stat in found if cached_of[rel] is None}
    # hashlib releases the GIL: fingerprint new files on all cores.
    to_hash = [(path, stat.st_size, resume_of[rel]) for path, rel, stat in found if cached_of[rel] is None]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as threads:
        scans = dict(zip([job[0] for job in to_hash], threads.map(lambda job: _safe_scan(*job), to_hash), strict=True))
    entries: list[dict | tuple] = []
    pending: list[_Job] = []
    pending_keys: set[str] = set()  # a set, not a scan of `pending`: a scan per file made indexing many new files quadratic
    reused = 0
    for path, rel, stat in found:
        cached = cached_of[rel]
        if cached is not None:
            entries.append(dict(cached))
            reused += 1
            continue
        scan = scans[path]
        try:
            if isinstance(scan, OSError):
                raise scan
            sniffed = sniff(path, config.format)
            compressed = compression(path) is not None
        except OSError as error:
            problems.append(_problem_record(rel, UNREADABLE, os_reason(error), stat))
            continue
        if sniffed.skip_reason is not None:
            problems.append({**_problem_record(rel, SKIPPED, sniffed.skip_reason, stat), "fingerprint": scan.digest,
                             "compressed": compressed})
            continue
        key = stage_key(scan.digest, sniffed.format, config)
        stage_dir = stage_root / key
        resume = resume_of[rel]
        lines_end = None
        if scan.content is not None:  # no newline read: the last line ended at the checkpoint, or there is none
            lines_end = scan.content.lines_end if scan.content.lines_end is not None else (resume.checkpoint.offset if resume else 0)
        if key in pending_keys or (stage_dir / STATS_FILE).exists():
            reused += 1
        else:
            usable = resume if resume is not None and resume.base.format == sniffed.format else None
            pending.append(_Job(path, sniffed.format, stage_dir, stat.st_size if scan.content else None, lines_end, usable))
            pending_keys.add(key)
        entries.append((rel, path, stat, scan, sniffed.format, compressed, key))
    staged = _stage_all(pending, config, stage_root, workers or os.cpu_count() or 1)
    stats_of = {job.stage_dir.name: stats for job, (stats, _) in zip(pending, staged, strict=True)}
    extended = [job.path.relative_to(root).as_posix() for job, (_, was_extended) in zip(pending, staged, strict=True) if was_extended]

    records, duplicates, new_checkpoints = [], [], []
    kept_checkpoint = {c.path: c for c in known_checkpoints}
    owner_of: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, tuple):
            rel, path, stat, scan, fmt, compressed, key = entry
            stats = stats_of.get(key) or StageStats.load(stage_root / key / STATS_FILE)
            if isinstance(stats, str):  # the read failed part way: nothing of it is staged
                records.append(_problem_record(rel, UNREADABLE, stats, stat))
                continue
            if (taken := _checkpoint_of(path, rel, stat, scan, key, stats)) is not None:
                new_checkpoints.append(taken)
            entry = _record(rel, stat, scan.digest, fmt, compressed, key, stats)
        elif (old := kept_checkpoint.get(entry["path"])) is not None and old.stage_key == entry["stage_key"]:
            new_checkpoints.append(old)  # unchanged since
        entry["duplicate_of"] = owner_of.get(entry["fingerprint"])
        if entry["duplicate_of"]:
            duplicates.append((entry["path"], entry["duplicate_of"]))
        else:
            owner_of[entry["fingerprint"]] = entry["path"]
        records.append(entry)
    records += problems
    records.sort(key=lambda r: r["path"])
    index = pl.DataFrame(records, schema=INDEX_SCHEMA) if records else pl.DataFrame(schema=INDEX_SCHEMA)
    return IndexBuild(index=index, staged=[job.path.relative_to(root).as_posix() for job in pending], reused=reused,
                      duplicates=duplicates, checkpoints=sorted(new_checkpoints, key=lambda c: c.path), extended=extended)


def _same_settings(cached: dict, config: ParseConfig) -> bool:
    return cached["stage_key"] == stage_key(cached["fingerprint"], cached["format"], config) and (
        config.format in ("auto", cached["format"])
    )


def _ms_to_dt(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


def _record(rel: str, stat, digest: str, fmt: str, compressed: bool, key: str, stats: StageStats) -> dict:
    days = sorted(set(stats.day_rows) | set(stats.day_quarantined))
    # A read file's problem says what was dropped that is no line: a sparse head of NULs (copytruncate).
    head = f"{stats.nul_head_bytes:,} NUL bytes before the first line dropped (a sparse head, as copytruncate leaves)"
    return {
        "path": rel,
        "status": SALVAGED if stats.damage else READ,
        "problem": "; ".join(p for p in (stats.damage, head if stats.nul_head_bytes else None) if p) or None,
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
        "unplaced": stats.unplaced,
        "invalid_utf8_lines": stats.invalid_utf8_lines,
        "service_defaulted": stats.service_defaulted,
        "first_ts": _ms_to_dt(stats.min_ts_ms),
        "last_ts": _ms_to_dt(stats.max_ts_ms),
        "days": days,
        "day_rows": [stats.day_rows.get(day, 0) for day in days],
        "day_quarantined": [stats.day_quarantined.get(day, 0) for day in days],
        "reasons": json.dumps(stats.reasons, sort_keys=True),
    }


def _staged(index: pl.DataFrame) -> pl.DataFrame:
    """Entries whose lines are read: staged files that are not copies of another."""
    if "status" in index.columns:
        index = index.filter(pl.col("status").is_in(STAGED_STATUSES))
    return index.filter(pl.col("duplicate_of").is_null())


def day_versions(index: pl.DataFrame) -> dict[str, str]:
    """Per UTC day ("YYYY-MM-DD") holding any line, a digest of the files it is read from: their paths
    and content stages. A file that appears, grows, is replaced or removed changes exactly the days it
    holds lines of; a duplicate (the same bytes under another name) changes none."""
    files_of: dict[int, list[str]] = {}
    for entry in _staged(index).select("path", "stage_key", "days").iter_rows(named=True):
        for day in entry["days"]:
            files_of.setdefault(day, []).append(f"{entry['path']}\t{entry['stage_key']}")
    return {_day_key(day): hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:24] for day, files in sorted(files_of.items())}


# More than this share of a file's (or the index's) lines rejected: read with the wrong settings.
MOSTLY_REJECTED_SHARE = 0.5


@dataclass(frozen=True)
class IndexSummary:
    """Where every line of the indexed files went, and every file that was not (fully) read.

    Lines of duplicates are not counted (a copy is read once). `outside_*` count lines on days before
    `first_day` or after `last_day` (the partition range; 0 without bounds): indexed, in no partition."""

    files: int = 0  # files read or salvaged (duplicates included)
    lines: int = 0
    blank_lines: int = 0
    rows: int = 0
    quarantined_lines: int = 0  # every quarantined line, unplaced ones included
    unplaced: int = 0  # quarantined lines in no day (no time found for them)
    duplicates: int = 0
    duplicate_files: tuple[tuple[str, str], ...] = ()  # (path, same content as)
    reasons: dict[str, int] | None = None  # reason -> quarantined lines, over all files
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason)
    unreadable: tuple[tuple[str, str], ...] = ()
    salvaged: tuple[tuple[str, str], ...] = ()
    outside_rows: int = 0
    outside_quarantined: int = 0
    days_with_data: tuple[str, ...] = ()  # every UTC day holding rows, whatever the bounds
    rows_on_days: int = 0  # sum of the per-day rows
    quarantined_on_days: int = 0  # sum of the per-day quarantined lines
    first_day: str | None = None
    last_day: str | None = None

    def accounted(self) -> bool:
        """Every line read is in exactly one place: a day's rows or quarantine, unplaced, or blank."""
        return (self.lines == self.rows + self.quarantined_lines + self.blank_lines
                and self.rows == self.rows_on_days
                and self.quarantined_lines == self.quarantined_on_days + self.unplaced)

    def rejected_note(self, share: float = MOSTLY_REJECTED_SHARE) -> str | None:
        """e.g. "10,000 of 10,000 lines rejected: invalid_json" when more than `share` of the
        non-blank lines were rejected, else None."""
        lines = self.lines - self.blank_lines
        if not lines or self.quarantined_lines <= share * lines:
            return None
        top = next(iter(self.reasons or {}), "unknown")
        return f"{self.quarantined_lines:,} of {lines:,} lines rejected: {top}"

    def __getitem__(self, name: str):  # callers of the dict this used to be
        return getattr(self, name)

    def to_dict(self) -> dict:
        return asdict(self)


def _epoch_day(day: str) -> int:
    return (datetime.fromisoformat(day).replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days


def index_summary(index: pl.DataFrame | None, first_day: str | None = None, last_day: str | None = None) -> IndexSummary:
    """Totals of an index (zeros when there is none); outside counts need both bounds ("YYYY-MM-DD", inclusive)."""
    if index is None or index.is_empty():
        return IndexSummary(reasons={}, first_day=first_day, last_day=last_day)
    has_status = "status" in index.columns

    def listed(status: str) -> tuple[tuple[str, str], ...]:
        if not has_status:
            return ()
        return tuple(index.filter(pl.col("status") == status).select("path", "problem").iter_rows())

    files = index.filter(pl.col("status").is_in(STAGED_STATUSES)) if has_status else index
    live = _staged(index)
    totals = live.select(pl.col("lines", "blank_lines", "rows", "quarantined").sum().cast(pl.Int64)).row(0)
    unplaced = int(live["unplaced"].sum()) if "unplaced" in live.columns else 0
    reasons: dict[str, int] = {}
    if "reasons" in live.columns:
        for text in live["reasons"].drop_nulls():
            for reason, count in json.loads(text).items():
                reasons[reason] = reasons.get(reason, 0) + count
    per_day = pl.DataFrame(schema={"days": pl.Int32, "day_rows": pl.Int64, "day_quarantined": pl.Int64})
    if "day_rows" in live.columns and live.height:
        per_day = live.select("days", "day_rows", "day_quarantined").explode(["days", "day_rows", "day_quarantined"]).drop_nulls("days")
    outside_rows = outside_quarantined = 0
    if first_day is not None and last_day is not None and per_day.height:
        outside = per_day.filter((pl.col("days") < _epoch_day(first_day)) | (pl.col("days") > _epoch_day(last_day)))
        outside_rows, outside_quarantined = int(outside["day_rows"].sum()), int(outside["day_quarantined"].sum())
    duplicate_files = tuple(files.filter(pl.col("duplicate_of").is_not_null()).select("path", "duplicate_of").iter_rows())
    with_rows = per_day.filter(pl.col("day_rows") > 0)["days"].unique().sort().to_list()
    return IndexSummary(
        files=files.height,
        lines=totals[0] or 0, blank_lines=totals[1] or 0, rows=totals[2] or 0, quarantined_lines=totals[3] or 0,
        unplaced=unplaced,
        duplicates=len(duplicate_files), duplicate_files=duplicate_files,
        reasons=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        skipped=listed(SKIPPED), unreadable=listed(UNREADABLE), salvaged=listed(SALVAGED),
        outside_rows=outside_rows, outside_quarantined=outside_quarantined,
        days_with_data=tuple(_day_key(day) for day in with_rows),
        rows_on_days=int(per_day["day_rows"].sum()), quarantined_on_days=int(per_day["day_quarantined"].sum()),
        first_day=first_day, last_day=last_day,
    )


@dataclass(frozen=True)
class RejectedFile:
    path: str
    rejected: int  # quarantined lines
    lines: int  # non-blank lines
    unplaced: int
    top_reason: str

    def note(self) -> str:
        text = f"{self.rejected:,} of {self.lines:,} lines rejected: {self.top_reason}"
        return text + (f" ({self.unplaced:,} placed in no day: no time found)" if self.unplaced else "")


def mostly_rejected_files(index: pl.DataFrame, share: float = MOSTLY_REJECTED_SHARE) -> list[RejectedFile]:
    """Read files with more than `share` of their non-blank lines rejected, or with lines that could
    be placed in no day: read with the wrong format or field names, the user must act."""
    if index is None or "status" not in index.columns:
        return []
    found = []
    for entry in _staged(index).iter_rows(named=True):
        lines = entry["lines"] - entry["blank_lines"]
        if lines and (entry["quarantined"] > share * lines or entry["unplaced"]):
            reasons = json.loads(entry["reasons"] or "{}")
            top = max(reasons, key=lambda r: (reasons[r], r)) if reasons else "unknown"
            found.append(RejectedFile(entry["path"], entry["quarantined"], lines, entry["unplaced"], top))
    return found


NO_FILES_VERSION = hashlib.sha256(b"").hexdigest()[:24]  # a day whose files are all gone


def _day_key(epoch_day: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=epoch_day)).strftime("%Y-%m-%d")


def files_for_window(index: pl.DataFrame, start_ms: int, end_ms: int) -> pl.DataFrame:
    """Staged entries (not duplicates) whose time span overlaps [start, end), in path order."""
    return _staged(index).filter(
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
    row_parts, bad_parts, files = [], [], []
    for entry in files_for_window(index, day_start_ms, end_ms).iter_rows(named=True):
        stage_dir = stage_root / entry["stage_key"]
        if not (stage_dir / STATS_FILE).exists():
            raise MissingStageError(f"{entry['path']}: indexed, but its parse {stage_dir} is missing; the parse cache "
                                    f"(warehouse.stage_dir) must be the folder log_file_index wrote, shared by every worker; "
                                    f"re-run log_file_index to parse the file again")
        rows = read_stage_rows(stage_dir, day_start_ms, end_ms)
        bad = read_stage_quarantine(stage_dir, day_start_ms, end_ms)
        if rows.num_rows == 0 and bad.height == 0:
            continue
        files.append(entry["path"])
        source = pl.repeat(entry["path"], rows.num_rows, dtype=pl.String, eager=True).to_arrow()
        row_parts.append(rows.add_column(PARSED_SCHEMA.names.index("source_file"), "source_file", source).select(PARSED_SCHEMA.names))
        if bad.height:
            bad_parts.append(bad.with_columns(pl.lit(entry["path"]).alias("source_file")).to_arrow())
    rows = pa.concat_tables(row_parts).cast(PARSED_SCHEMA) if row_parts else PARSED_SCHEMA.empty_table()
    quarantine = (
        pa.concat_tables([t.select(DAY_QUARANTINE_SCHEMA.names).cast(DAY_QUARANTINE_SCHEMA) for t in bad_parts])
        if bad_parts else DAY_QUARANTINE_SCHEMA.empty_table()
    )
    return Day(rows=rows, quarantine=quarantine, files_read=files)
