"""Log files on disk: discovery under a root, content fingerprints, format sniffing, chunked reads.

Nothing here trusts a file: non-regular files are never opened, a damaged gzip yields the complete
lines before the damage (and says why it stopped), and a file's format is decided by its content.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat as stat_module
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

try:  # ISA-L inflates gzip about three times faster than zlib.
    from isal import isal_zlib as fast_zlib
except ImportError:  # pragma: no cover - isal is a declared dependency
    fast_zlib = zlib

from slo_assets.ingest.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from slo_assets.ingest.parse import COMBINED_REGEX

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 32 << 20
READ_BYTES = 1 << 20  # one read of a plain file
GZIP_FEED_BYTES = 64 << 10  # compressed bytes fed to the inflater at a time
SALVAGE_FEED_BYTES = 1 << 10  # finer feeds when re-reading a damaged gzip, to lose little before the damage
SNIFF_LINES = 50
SNIFF_MAX_BYTES = 64 << 20  # a sniff reads whole lines, however long, but never more than this
SNIFF_LINE_KEEP = 1 << 20  # a longer line is judged by its first MiB
BINARY_PROBE_BYTES = 64 << 10
BINARY_NUL_SHARE = 0.01  # more NUL bytes than this share of the first 64 KiB: a binary file
_COMBINED = re.compile(COMBINED_REGEX)
_JSON_OBJECT_START = re.compile(rb'^\s*\{\s*("|\})')

# Reasons a file is skipped or unreadable (shown in the index, its check and the run summary).
SKIP_HIDDEN = "hidden (name starts with '.')"
SKIP_SYMLINK = "symlink (follow_symlinks is off)"
SKIP_SYMLINK_OUTSIDE = "symlink to a path outside the log folder"
SKIP_NOT_MATCHED = "matches no include pattern"
SKIP_EMPTY = "empty (no content)"
SKIP_BLANK = "only blank lines"
SKIP_BINARY = "binary content (NUL bytes), not a text log"


class LogDiscoveryError(ValueError):
    """The log root cannot be read; the message names it."""


@dataclass(frozen=True)
class Discovery:
    """What a walk of the log folder found: the files to read, and everything else with its reason."""

    files: list[Path]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path relative to the root, reason)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # files or folders that raised OSError


def os_reason(error: OSError) -> str:
    """An OSError as a short reason, without the path (the caller names the file)."""
    name = type(error).__name__
    return f"{name}: {error.strerror}" if error.strerror else f"{name}: {error}"


def _kind(mode: int) -> str:
    for test, label in ((stat_module.S_ISFIFO, "FIFO"), (stat_module.S_ISSOCK, "socket"), (stat_module.S_ISCHR, "character device"),
                        (stat_module.S_ISBLK, "block device"), (stat_module.S_ISDIR, "folder")):
        if test(mode):
            return label
    return "special file"


def _matches(name: str, rel: str, patterns) -> str | None:
    """The first pattern matching the file name (or, for patterns with '/', its relative path)."""
    for pattern in patterns:
        if fnmatch.fnmatch(rel if "/" in pattern else name, pattern):
            return pattern
    return None


def discover_files(root: Path, include: tuple[str, ...] = DEFAULT_INCLUDE, exclude: tuple[str, ...] = DEFAULT_EXCLUDE,
                   follow_symlinks: bool = False) -> Discovery:
    """Regular files under `root` matching `include` and no `exclude` pattern, sorted by relative path.

    Hidden files and folders are skipped, symlinks unless `follow_symlinks` (and never outside the
    root), and so is anything that is not a regular file (a FIFO would block a read forever). Every
    skipped entry and every folder or file that cannot be read is listed with its reason.
    """
    root = Path(root)
    if not root.is_dir():
        raise LogDiscoveryError(f"log folder {root} does not exist or is not a folder")
    real_root = root.resolve()
    found: list[Path] = []
    skipped: list[tuple[str, str]] = []
    unreadable: list[tuple[str, str]] = []

    def rel_of(path) -> str:
        return Path(path).relative_to(root).as_posix() if Path(path) != root else "."

    def folder_error(error: OSError) -> None:  # os.walk drops an unreadable folder unless told
        unreadable.append((rel_of(error.filename) + "/", os_reason(error)))

    for folder, dirs, names in os.walk(root, onerror=folder_error, followlinks=follow_symlinks):
        for name in sorted(d for d in dirs if d.startswith(".")):
            skipped.append((rel_of(Path(folder) / name) + "/", SKIP_HIDDEN))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            path = Path(folder) / name
            rel = rel_of(path)
            if name.startswith("."):
                skipped.append((rel, SKIP_HIDDEN))
                continue
            if (pattern := _matches(name, rel, exclude)) is not None:
                skipped.append((rel, f"excluded by pattern {pattern!r}"))
                continue
            if _matches(name, rel, include) is None:
                skipped.append((rel, SKIP_NOT_MATCHED))
                continue
            try:
                if path.is_symlink():
                    if not follow_symlinks:
                        skipped.append((rel, SKIP_SYMLINK))
                        continue
                    if not path.resolve().is_relative_to(real_root):
                        skipped.append((rel, SKIP_SYMLINK_OUTSIDE))
                        continue
                mode = os.stat(path).st_mode
            except OSError as error:
                unreadable.append((rel, os_reason(error)))
                continue
            if not stat_module.S_ISREG(mode):
                skipped.append((rel, f"not a regular file ({_kind(mode)})"))
                continue
            found.append(path)
    return Discovery(files=sorted(found, key=lambda p: p.relative_to(root).as_posix()),
                     skipped=sorted(skipped), unreadable=sorted(unreadable))


def discover(root: Path, include: tuple[str, ...] = DEFAULT_INCLUDE, follow_symlinks: bool = False,
             exclude: tuple[str, ...] = DEFAULT_EXCLUDE) -> list[Path]:
    """The files `discover_files` would read."""
    return discover_files(root, include, exclude, follow_symlinks).files


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


@dataclass
class ContentReport:
    """Filled while a file's content is read: why it ended early, if it did."""

    damage: str | None = None
    content_bytes: int = 0  # decompressed bytes delivered
    ends_line: bool = False  # the last byte delivered is a newline


def _inflate(handle, report: ContentReport, feed_bytes: int, engine, skip: int = 0) -> Iterator[bytes]:
    """Decompressed bytes of a gzip stream (every member), after the first `skip` ones. Raises the
    engine's error on corrupt data; sets `report.damage` when the stream just stops."""
    inflater, fed = engine.decompressobj(wbits=31), False
    delivered = 0
    while True:
        data = handle.read(feed_bytes)
        if not data:
            break
        while data:
            fed = True
            if engine is zlib:  # the salvage pass: on an error, replay the feed a byte at a time from a copy
                backup = inflater.copy()
                try:
                    out = inflater.decompress(data)
                except zlib.error:
                    inflater, out = backup, b""
                    for position in range(len(data)):
                        try:
                            out += inflater.decompress(data[position:position + 1])
                        except zlib.error:
                            if out[max(0, skip - delivered):]:
                                yield out[max(0, skip - delivered):]
                            raise
            else:
                out = inflater.decompress(data)
            if out:
                start = max(0, skip - delivered)
                delivered += len(out)
                if start < len(out):
                    yield out[start:] if start else out
            if not inflater.eof:
                break
            data = inflater.unused_data
            inflater, fed = engine.decompressobj(wbits=31), False
            if data and not data.strip(b"\0"):  # zero padding after the last member, as gzip allows
                data = b""
                handle.read()
    if fed:
        report.damage = f"gzip truncated: the stream ends after {delivered:,} bytes of content, before its end marker"


def iter_content(path: Path, report: ContentReport | None = None, read_bytes: int = READ_BYTES,
                 start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """The file's content (decompressed if gzip) in blocks. A damaged gzip yields what precedes the
    damage and records why in `report` (without a report, damage raises OSError). Of a plain file,
    only bytes [start, stop) when given (a gzip is always read whole)."""
    strict = report is None
    report = ContentReport() if report is None else report
    with open(path, "rb") as handle:
        head = handle.read(2)
        handle.seek(0)
        if head != GZIP_MAGIC:
            handle.seek(start)
            left = None if stop is None else stop - start
            while (left is None or left > 0) and (block := handle.read(read_bytes if left is None else min(read_bytes, left))):
                report.content_bytes += len(block)
                report.ends_line = block.endswith(b"\n")
                left = None if left is None else left - len(block)
                yield block
        else:
            yield from _gzip_content(handle, report)
    if strict and report.damage is not None:
        raise OSError(report.damage)


def _gzip_content(handle, report: ContentReport) -> Iterator[bytes]:
    try:
        for block in _inflate(handle, report, GZIP_FEED_BYTES, fast_zlib):
            report.content_bytes += len(block)
            report.ends_line = block.endswith(b"\n")
            yield block
        return
    except (fast_zlib.error, zlib.error) as error:
        fast_error = error
    # Corrupt data: ISA-L loses the output of the feed that failed, so re-read with zlib in small
    # feeds, skipping what was delivered, to keep all that inflates before the damage.
    handle.seek(0)
    try:
        for block in _inflate(handle, ContentReport(), SALVAGE_FEED_BYTES, zlib, skip=report.content_bytes):
            report.content_bytes += len(block)
            report.ends_line = block.endswith(b"\n")
            yield block
        report.damage = f"gzip corrupt after {report.content_bytes:,} bytes of content: {fast_error}"
    except zlib.error as error:
        report.damage = f"gzip corrupt after {report.content_bytes:,} bytes of content: {error}"


# The content fingerprint is a chain over DIGEST_BLOCK_BYTES blocks, so that a grown file's can be
# extended from a saved state without reading the file again: state(0) = sha256(DIGEST_SEED),
# state(i + 1) = sha256("B" + state(i) + block i), fingerprint = sha256("F" + state(n) + the bytes
# after the last whole block). 2: this chain (1: sha256 of the whole content).
FINGERPRINT_VERSION = "2"
DIGEST_BLOCK_BYTES = 1 << 20
DIGEST_SEED = f"slo-assets content fingerprint {FINGERPRINT_VERSION}".encode()


@dataclass(frozen=True)
class ChainPoint:
    """The fingerprint chain's state over the content's first `offset` bytes (a whole number of blocks)."""

    offset: int
    state: str  # hex


START_POINT = ChainPoint(0, hashlib.sha256(DIGEST_SEED).hexdigest())


class ContentDigest:
    """The chained fingerprint of content fed in order from `start`; also where the last line ended."""

    def __init__(self, start: ChainPoint = START_POINT) -> None:
        self.points = [start]  # the state at every block boundary passed
        self._state = bytes.fromhex(start.state)
        self._pending = bytearray()
        self.size = start.offset
        self.lines_end: int | None = None  # offset after the last newline fed, None before any

    def update(self, data: bytes) -> None:
        cut = data.rfind(b"\n")
        if cut >= 0:
            self.lines_end = self.size + cut + 1
        self.size += len(data)
        view = memoryview(data)
        while view:
            room = DIGEST_BLOCK_BYTES - len(self._pending)
            if not self._pending and len(view) >= DIGEST_BLOCK_BYTES:
                block, view = view[:DIGEST_BLOCK_BYTES], view[DIGEST_BLOCK_BYTES:]
            else:
                self._pending += view[:room]
                view = view[room:]
                if len(self._pending) < DIGEST_BLOCK_BYTES:
                    break
                block, self._pending = self._pending, bytearray()
            step = hashlib.sha256(b"B")
            step.update(self._state)
            step.update(block)
            self._state = step.digest()
            self.points.append(ChainPoint(self.points[-1].offset + DIGEST_BLOCK_BYTES, self._state.hex()))

    def hexdigest(self) -> str:
        final = hashlib.sha256(b"F")
        final.update(self._state)
        final.update(self._pending)
        return final.hexdigest()

    def point_before(self, offset: int) -> ChainPoint:
        """The last block boundary at or before `offset`: where a later scan can start."""
        return next(p for p in reversed(self.points) if p.offset <= offset)


def scan_plain(path: Path, start: ChainPoint = START_POINT, stop: int | None = None) -> ContentDigest:
    """The fingerprint of a plain file's first `stop` bytes (all of it without `stop`), reading only
    from `start`: the caller vouches for the bytes before it."""
    digest = ContentDigest(start)
    with open(path, "rb") as handle:
        handle.seek(start.offset)
        left = None if stop is None else stop - start.offset
        while left is None or left > 0:
            block = handle.read(READ_BYTES if left is None else min(READ_BYTES, left))
            if not block:
                break
            digest.update(block)
            left = None if left is None else left - len(block)
    if stop is not None and digest.size != stop:
        raise OSError(f"the file shrank while read: {digest.size:,} of {stop:,} bytes")
    return digest


def fingerprint(path: Path) -> str:
    """The chained fingerprint of the file's content, decompressed if gzip: a file and its gzip copy
    (rotation with compression) get one fingerprint, so the copy is recognised as a duplicate and read once."""
    if not is_gzip(path):
        return scan_plain(path).hexdigest()
    digest = ContentDigest()
    for block in iter_content(path, ContentReport()):
        digest.update(block)
    return digest.hexdigest()


def read_range(path: Path, start: int, stop: int) -> bytes:
    """Bytes [start, stop) of a plain file (fewer if it is shorter)."""
    with open(path, "rb") as handle:
        handle.seek(start)
        return handle.read(max(0, stop - start))


def iter_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES, report: ContentReport | None = None,
                start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """Whole lines, about `chunk_bytes` at a time; the last line gets a newline if it had none.
    When the content is damaged (see `iter_content`), the incomplete line before the damage is
    dropped and counted in `report.damage`. `start` and `stop` as for `iter_content`."""
    carry: list[bytes] = []
    carried = 0
    for block in iter_content(path, report, read_bytes=min(chunk_bytes, CHUNK_BYTES), start=start, stop=stop):
        carry.append(block)
        carried += len(block)
        if carried < chunk_bytes:
            continue
        data = b"".join(carry)
        cut = data.rfind(b"\n")
        if cut < 0:
            carry, carried = [data], len(data)
            continue
        rest = data[cut + 1:]
        carry, carried = ([rest], len(rest)) if rest else ([], 0)
        yield data[:cut + 1]
    data = b"".join(carry)
    if report is not None and report.damage is not None:
        cut = data.rfind(b"\n")
        dropped = len(data) - (cut + 1)
        data = data[:cut + 1]
        if dropped:
            report.damage += f"; the incomplete line before it ({dropped:,} bytes) was dropped"
    if data:
        yield data if data.endswith(b"\n") else data + b"\n"


@dataclass(frozen=True)
class Sniff:
    """A file's format by its content ('jsonl', 'combined' or 'unknown'), or why it is no log."""

    format: str
    skip_reason: str | None = None


def _first_lines(path: Path, wanted: int) -> tuple[list[bytes], bytes, int]:
    """Up to `wanted` non-blank lines (each cut to SNIFF_LINE_KEEP), the first content bytes, and the
    content length seen; reads whole lines however long, in bounded blocks, up to SNIFF_MAX_BYTES."""
    lines: list[bytes] = []
    current = bytearray()
    head = bytearray()
    seen = 0
    for block in iter_content(path, ContentReport(), read_bytes=BINARY_PROBE_BYTES):
        if len(head) < BINARY_PROBE_BYTES:
            head += block[:BINARY_PROBE_BYTES - len(head)]
        seen += len(block)
        start = 0
        while start < len(block):
            cut = block.find(b"\n", start)
            end = len(block) if cut < 0 else cut
            if len(current) < SNIFF_LINE_KEEP:
                current += block[start:min(end, start + SNIFF_LINE_KEEP - len(current))]
            if cut < 0:
                break
            if current.strip():
                lines.append(bytes(current))
            current = bytearray()
            start = cut + 1
        if len(lines) >= wanted or seen >= SNIFF_MAX_BYTES or b"\0" in head:
            break
    if current.strip() and len(lines) < wanted:
        lines.append(bytes(current))  # the last line (or one longer than the budget), judged by its start
    return lines, bytes(head), seen


def _vote(line: bytes) -> str:
    text = line.strip()
    if text.startswith(b"{"):
        if len(line) >= SNIFF_LINE_KEEP:  # cut: judge by how it starts
            return "jsonl" if _JSON_OBJECT_START.match(text) else "unknown"
        try:
            return "jsonl" if isinstance(json.loads(text), dict) else "unknown"
        except ValueError:
            return "unknown"
    return "combined" if _COMBINED.match(text.decode("utf-8", "replace")) else "unknown"


def sniff(path: Path, forced_format: str = "auto") -> Sniff:
    """Decide by content: empty, binary or neither format means skip (with the reason); otherwise
    the format of most of the first non-blank lines. A forced format is kept for any text file."""
    lines, head, seen = _first_lines(path, SNIFF_LINES)
    if seen == 0:
        return Sniff("unknown", SKIP_EMPTY)
    votes = {"jsonl": 0, "combined": 0, "unknown": 0}
    for line in lines:
        votes[_vote(line)] += 1
    best = max(("jsonl", "combined"), key=votes.get)
    # A few NUL bytes beside log lines are a bad line (quarantined); many (a tar header, an image)
    # or NULs and no log line at all make a binary file.
    nul = head.count(b"\0")
    if nul > BINARY_NUL_SHARE * len(head) or (nul and votes[best] == 0):
        return Sniff("unknown", SKIP_BINARY)
    if not lines:
        return Sniff("unknown", SKIP_BLANK)
    if forced_format != "auto":
        return Sniff(forced_format)
    if votes[best] == 0:
        first = lines[0][:80].decode("utf-8", "backslashreplace")
        return Sniff("unknown", f"neither JSON lines nor common/combined in its first {len(lines)} lines (first: {first!r})")
    return Sniff(best)


def sniff_format(path: Path) -> str:
    """'jsonl', 'combined' or 'unknown', by a vote of the first non-blank lines."""
    return sniff(path).format
