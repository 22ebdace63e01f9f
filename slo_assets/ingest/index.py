"""The log file index and the assembly of one UTC day from it.

The index lists every log file with its size, mtime, fingerprint, format, counts and the time span
of its lines. Building it stages new or changed files (see staging.py) and reuses everything else,
so a refresh costs a stat per unchanged file. A day then reads only the files whose span holds it.

The index table's columns are in index_table.py, its summary and notes in index_report.py, and the
days (their versions, the assembly of one) in index_days.py; this module builds the index and keeps
the names callers import.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from slo_assets.ingest.batch import (
    BATCH_BYTES,
    BATCH_FILES,
    SMALL_FILE_BYTES,
    BatchStats,
    SmallFile,
    batch_key,
    link_member,
    locate,
    member_key,
    read_small,
    split_key,
    stage_batch,
    stage_exists,
)
from slo_assets.ingest.checkpoint import CheckpointLookup, FileCheckpoint, candidates, still_holds, take
from slo_assets.ingest.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, ParseConfig
from slo_assets.ingest.files import (
    START_POINT,
    ContentDigest,
    Discovery,
    compression,
    discover_files,
    fingerprint,
    is_plain,
    os_reason,
    scan_plain,
    sniff,
)
from slo_assets.ingest.index_days import (
    DAY_QUARANTINE_SCHEMA,
    NO_FILES_VERSION,
    PARSED_SCHEMA,
    Day,
    MissingStageError,
    assemble_day,
    day_versions,
    files_for_window,
)
from slo_assets.ingest.index_report import MOSTLY_REJECTED_SHARE, IndexSummary, RejectedFile, index_summary, mostly_rejected_files
from slo_assets.ingest.index_table import INDEX_SCHEMA, READ, SALVAGED, SKIPPED, STAGED_STATUSES, UNREADABLE
from slo_assets.ingest.staging import DAY_MS, STATS_FILE, StageStats, extend_stage, stage_file, stage_key

__all__ = [
    "DAY_MS", "DAY_QUARANTINE_SCHEMA", "INDEX_SCHEMA", "MOSTLY_REJECTED_SHARE", "NO_FILES_VERSION", "PARSED_SCHEMA", "READ", "SALVAGED",
    "SKIPPED", "STAGED_STATUSES", "UNREADABLE", "Day", "IndexBuild", "IndexSummary", "MissingStageError", "RejectedFile", "assemble_day",
    "build_index", "day_versions", "files_for_window", "index_summary", "mostly_rejected_files",
]

log = logging.getLogger(__name__)
PROGRESS_FILES = 1000  # progress is told after every this many files looked at


@dataclass
class IndexBuild:
    index: pl.DataFrame
    staged: list[str]  # files parsed in this build
    reused: int  # files whose stage already existed
    duplicates: list[tuple[str, str]]  # (path, duplicate of)
    checkpoints: list[FileCheckpoint] = field(default_factory=list)  # of the plain files read, for the next build
    extended: list[str] = field(default_factory=list)  # of `staged`: parsed from a checkpoint, appended bytes only


def _unchanged(previous: pl.DataFrame | None, config: ParseConfig) -> dict[tuple[str, int, int], dict]:
    """The last build's entries of staged files, and of files skipped by their content for a reason
    today's settings would give again (all but "neither format", which only format auto gives), by
    (path, size, mtime): a re-run reads none of them again."""
    if previous is None or previous.is_empty() or "status" not in previous.columns:
        return {}
    kept = pl.col("status").is_in(STAGED_STATUSES) | (
        (pl.col("status") == SKIPPED) & pl.col("fingerprint").is_not_null()
        & (pl.lit(config.format == "auto") | ~pl.col("problem").str.starts_with("neither")))
    return {(r["path"], r["size_bytes"], r["mtime_ns"]): r for r in previous.filter(kept).iter_rows(named=True)}


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


def _stage_all(pending: list[_Job], config: ParseConfig, stage_root: Path, workers: int,
               progress: IndexProgress | None = None) -> list[tuple[StageStats | str, bool]]:
    """Stage files on `workers` threads. Polars and Arrow do the work without holding the GIL, so
    threads use every core like processes did, without a second of imports per worker process and
    without a copy of the libraries' memory in each."""
    def stage(job: _Job) -> tuple[StageStats | str, bool]:
        return _stage_one(job, config, stage_root)

    done: list[tuple[StageStats | str, bool]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(pending))), thread_name_prefix="stage") as pool:
        for result in (map(stage, pending) if workers <= 1 or len(pending) < 2 else pool.map(stage, pending)):
            done.append(result)
            if progress is not None:
                progress("files parsed alone", len(done), len(pending))
    return done


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


def _resume_of(path: Path, rel: str, stat, known: CheckpointLookup, stage_root: Path, config: ParseConfig) -> _Resume | None:
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


IndexProgress = Callable[[str, int, int], None]  # (what is done: "files read" or "files parsed alone", how many, of how many)


def build_index(root: Path, stage_root: Path, config: ParseConfig, include: tuple[str, ...] = DEFAULT_INCLUDE,
                previous: pl.DataFrame | None = None, follow_symlinks: bool = True,
                workers: int | None = None, exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
                checkpoints: list[FileCheckpoint] | None = None, progress: IndexProgress | None = None) -> IndexBuild:
    """Index every entry under `root`, staging (in parallel) the log files that are new or changed;
    a plain file that only grew since one of `checkpoints` has just its appended bytes parsed, and
    small files are read once and staged together (batch.py). `progress` hears how far it is.

    One bad file never stops the others: an unreadable one is recorded with its reason, a damaged
    gzip is read up to the damage, a file that is no log (by its content) is listed as skipped."""
    root = Path(root)
    stage_root = Path(stage_root)
    known = _unchanged(previous, config)
    found, problems = _found_files(root, discover_files(root, include, exclude, follow_symlinks))
    seen: dict[str, bool] = {}
    cached_of = {rel: _cached(known.get((rel, stat.st_size, stat.st_mtime_ns)), stage_root, config, seen) for _, rel, stat in found}
    known_checkpoints = list(checkpoints or [])
    lookup = CheckpointLookup(known_checkpoints)
    fresh = [(path, rel, stat) for path, rel, stat in found if cached_of[rel] is None]
    resume_of = {rel: _resume_of(path, rel, stat, lookup, stage_root, config) for path, rel, stat in fresh}
    scans = _scan_all([f for f in fresh if not _maybe_small(f[2], resume_of[f[1]])], resume_of)
    plan = _Plan(problems, stage_root, config)
    for number, (path, rel, stat) in enumerate(found, 1):
        if (cached := cached_of[rel]) is not None and cached["status"] == SKIPPED:
            plan.problems.append(dict(cached))
        elif cached is not None:
            plan.entries.append(dict(cached))
            plan.reused += 1
        elif path in scans:
            plan.add(path, rel, stat, scans[path], resume_of[rel])
        elif (small := read_small(path, stat.st_size, config)) is not None:
            plan.add_small(path, rel, stat, small)
        else:
            plan.add(path, rel, stat, _safe_scan(path, stat.st_size, None), None)
        if progress is not None and (number % PROGRESS_FILES == 0 or number == len(found)):
            progress("files read", number, len(found))
    plan.flush()
    staged = _stage_all(plan.pending, config, stage_root, workers or os.cpu_count() or 1, progress)
    stats_of = plan.stats_of | {job.stage_dir.name: stats for job, (stats, _) in zip(plan.pending, staged, strict=True)}
    extended = [job.path.relative_to(root).as_posix() for job, (_, was_extended) in zip(plan.pending, staged, strict=True) if was_extended]
    records, duplicates, new_checkpoints = _records(plan, stats_of, stage_root, known_checkpoints)
    records += plan.problems
    records.sort(key=lambda r: r["path"])
    index = pl.DataFrame(records, schema=INDEX_SCHEMA) if records else pl.DataFrame(schema=INDEX_SCHEMA)
    staged_paths = sorted([job.path.relative_to(root).as_posix() for job in plan.pending] + plan.batched)
    return IndexBuild(index=index, staged=staged_paths, reused=plan.reused, duplicates=duplicates,
                      checkpoints=sorted(new_checkpoints, key=lambda c: c.path), extended=extended)


def _maybe_small(stat: os.stat_result, resume: _Resume | None) -> bool:
    """Whether a file not cached may be read whole, once, in the plan (read_small decides)."""
    return resume is None and 0 < stat.st_size <= SMALL_FILE_BYTES


def _found_files(root: Path, discovery: Discovery) -> tuple[list[tuple[Path, str, os.stat_result]], list[dict]]:
    """The files to read with their stat (the walk's), and a problem record for every other entry (and
    each file that could not be stat'ed)."""
    problems = [_problem_record(rel, SKIPPED, reason) for rel, reason in discovery.skipped]
    problems += [_problem_record(rel, UNREADABLE, reason) for rel, reason in discovery.unreadable]
    if discovery.found:
        return list(discovery.found), problems
    found = []
    for path in discovery.files:
        rel = path.relative_to(root).as_posix()
        try:
            found.append((path, rel, path.stat()))
        except OSError as error:
            problems.append(_problem_record(rel, UNREADABLE, os_reason(error)))
    return found, problems


def _cached(cached: dict | None, stage_root: Path, config: ParseConfig, seen: dict[str, bool]) -> dict | None:
    """The last build's entry of an unchanged file, when its stage is there and parsed with today's settings
    (or it was skipped by its content, for a reason that holds)."""
    if cached is not None and cached["status"] == SKIPPED:
        return cached
    if cached is not None and _same_settings(cached, config) and stage_exists(stage_root, cached["stage_key"], seen):
        return cached
    return None


def _scan_all(fresh: list[tuple[Path, str, os.stat_result]], resume_of: dict[str, _Resume | None]) -> dict[Path, _Scan | OSError]:
    """The fingerprint of each file not cached, or the error reading it."""
    # hashlib releases the GIL: fingerprint new files on all cores.
    to_hash = [(path, stat.st_size, resume_of[rel]) for path, rel, stat in fresh]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as threads:
        return dict(zip([job[0] for job in to_hash], threads.map(lambda job: _safe_scan(*job), to_hash), strict=True))


@dataclass
class _Batch:
    """Small files of one format waiting to be staged together: their stage keys, bytes and jobs
    (to stage one alone when the batch cannot hold it)."""

    keys: list[str] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    jobs: list[tuple[_Job, str]] = field(default_factory=list)  # with the file's path relative to the root
    size: int = 0


@dataclass
class _Plan:
    """What a build does with each file found: reuse its entry or stage, stage it, or record its problem.

    `entries` holds the last build's entries reused as they were, and for every other file read
    (rel, path, stat, scan, format, compressed, stage key), its record made once it is staged. A
    small file's content may end up in a batch: `located` maps its stage key to its place there."""

    problems: list[dict]
    stage_root: Path
    config: ParseConfig
    entries: list[dict | tuple] = field(default_factory=list)
    pending: list[_Job] = field(default_factory=list)
    pending_keys: set[str] = field(default_factory=set)  # a set, not a scan of `pending`: a scan per file made indexing many new files quadratic
    reused: int = 0
    batches: dict[str, _Batch] = field(default_factory=dict)  # by format, the one filling
    located: dict[str, str] = field(default_factory=dict)
    stats_of: dict[str, StageStats | str] = field(default_factory=dict)  # of the batches' members, by their key there
    batched: list[str] = field(default_factory=list)  # files staged in a batch
    suffixes: dict[str, str] = field(default_factory=dict)  # format -> the settings' part of its stage keys
    seen: dict[str, bool] = field(default_factory=dict)  # batch folders found (stage_exists)

    def add(self, path: Path, rel: str, stat, scan: _Scan | OSError, resume: _Resume | None) -> None:
        """A file not cached: its problem, or its entry, staged unless its stage exists or is pending."""
        try:
            if isinstance(scan, OSError):
                raise scan
            sniffed = sniff(path, self.config.format, self.config.log_format)
            compressed = compression(path) is not None
        except OSError as error:
            self.problems.append(_problem_record(rel, UNREADABLE, os_reason(error), stat))
            return
        if sniffed.skip_reason is not None:
            self.problems.append({**_problem_record(rel, SKIPPED, sniffed.skip_reason, stat), "fingerprint": scan.digest,
                                  "compressed": compressed})
            return
        key = stage_key(scan.digest, sniffed.format, self.config)
        lines_end = None
        if scan.content is not None:  # no newline read: the last line ended at the checkpoint, or there is none
            lines_end = scan.content.lines_end if scan.content.lines_end is not None else (resume.checkpoint.offset if resume else 0)
        if not self._known(key):
            usable = resume if resume is not None and resume.base.format == sniffed.format else None
            self.pending.append(_Job(path, sniffed.format, self.stage_root / key, stat.st_size if scan.content else None, lines_end, usable))
            self.pending_keys.add(key)
        self.entries.append((rel, path, stat, scan, sniffed.format, compressed, key))

    def add_small(self, path: Path, rel: str, stat, small: SmallFile) -> None:
        """A small plain file read whole: its problem, or its entry, its content added to its format's batch."""
        scan = _Scan(small.digest.hexdigest(), small.digest)
        if small.sniffed.skip_reason is not None:
            self.problems.append({**_problem_record(rel, SKIPPED, small.sniffed.skip_reason, stat), "fingerprint": scan.digest,
                                  "compressed": False})
            return
        fmt = small.sniffed.format
        key = self._key(scan.digest, fmt)
        if not self._known(key):
            batch = self.batches.setdefault(fmt, _Batch())
            batch.keys.append(key)
            batch.data.append(small.data)
            batch.jobs.append((_Job(path, fmt, self.stage_root / key, stat.st_size, stat.st_size, None), rel))
            batch.size += len(small.data)
            self.pending_keys.add(key)
            if batch.size >= BATCH_BYTES or len(batch.keys) >= BATCH_FILES:
                self._stage(fmt)
        self.entries.append((rel, path, stat, scan, fmt, False, key))

    def flush(self) -> None:
        """Stage the batches still filling."""
        for fmt in sorted(self.batches):
            self._stage(fmt)

    def _key(self, digest: str, fmt: str) -> str:
        """stage_key, its settings part hashed once per format (not once per file: 0.1 ms each)."""
        if fmt not in self.suffixes:
            self.suffixes[fmt] = stage_key("", fmt, self.config)
        return f"{digest[:32]}{self.suffixes[fmt]}"

    def _known(self, key: str) -> bool:
        """Whether the content is staged already (alone or in a batch), or will be in this build (then
        the file reuses it)."""
        if key in self.pending_keys or stage_exists(self.stage_root, key, self.seen):
            self.reused += 1
            return True
        return False

    def _stage(self, fmt: str) -> None:
        batch = self.batches.pop(fmt)
        if len(batch.keys) == 1:  # nothing to share: a stage of its own, as before batches
            self.pending.append(batch.jobs[0][0])
            return
        key = batch_key(batch.keys, self._key("", fmt))
        try:
            members = stage_batch(self.stage_root, key, batch.data, fmt, self.config)
        except OSError:  # the stage cannot be written: each file alone, where the error is reported
            members = [None] * len(batch.keys)
        for number, (stats, (job, rel)) in enumerate(zip(members, batch.jobs, strict=True)):
            if stats is None or not _linked(self.stage_root, job.stage_dir.name, member_key(key, number)):
                self.pending.append(job)
            else:
                self.located[job.stage_dir.name] = member_key(key, number)
                self.stats_of[member_key(key, number)] = stats
                self.batched.append(rel)


def _linked(stage_root: Path, key: str, member: str) -> bool:
    """Whether the file's key now names its place in the batch (else it is staged alone)."""
    try:
        link_member(stage_root, key, member)
    except OSError:
        return False
    return True


def _records(plan: _Plan, stats_of: dict[str, StageStats | str], stage_root: Path,
             known_checkpoints: list[FileCheckpoint]) -> tuple[list[dict], list[tuple[str, str]], list[FileCheckpoint]]:
    """The index records of the files read, each copy marked as a duplicate of the first file with its
    content; the duplicates; and the checkpoints for the next build."""
    records, duplicates, new_checkpoints = [], [], []
    kept_checkpoint = {c.path: c for c in known_checkpoints}
    owner_of: dict[str, str] = {}
    batches = BatchStats(stage_root)
    for entry in plan.entries:
        if isinstance(entry, tuple):
            rel, path, stat, scan, fmt, compressed, key = entry
            where = plan.located.get(key) or locate(stage_root, key)
            stats = stats_of.get(where) or (batches.stats(where) if split_key(where)[1] is not None
                                            else StageStats.load(stage_root / key / STATS_FILE))
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
    return records, duplicates, new_checkpoints


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
