"""Log files on disk: discovery under a root, content fingerprints, format sniffing, chunked reads.

Nothing here trusts a file: non-regular files are never opened, a symlink is followed only inside
the log folder and a folder walked once, a damaged compressed file yields the complete lines before
the damage (and says why it stopped), and a file's compression, text encoding and format are decided
by its content.
"""

from __future__ import annotations

import bz2
import codecs
import errno
import fnmatch
import hashlib
import itertools
import json
import lzma
import os
import re
import stat as stat_module
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

try:  # ISA-L inflates gzip about three times faster than zlib.
    from isal import isal_zlib as fast_zlib
except ImportError:  # pragma: no cover - isal is a declared dependency
    fast_zlib = zlib

from slo_assets.ingest.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from slo_assets.ingest.parse import COMBINED_REGEX

# Compressions are known by their magic bytes, never by a file's name: rotations are named anything.
GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_SKIPPABLE_MAGIC = b"\x2a\x4d\x18"  # after a byte 0x50-0x5f: a skippable frame, which pzstd writes first
BZ2_BLOCK_MAGICS = (b"1AY&SY", b"\x17rE8P\x90")  # after "BZh" and the level digit: a block, or the end of an empty stream
MAGIC_BYTES = 10
DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError)
# Text that is not UTF-8 says so by its first bytes; UTF-32 LE's mark first: UTF-16 LE's is its prefix.
BYTE_ORDER_MARKS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"),
                    (b"\xfe\xff", "utf-16-be"), (b"\xef\xbb\xbf", "utf-8"))
TAR_MAGIC, TAR_MAGIC_AT = b"ustar", 257  # a tar holds text files between NUL-padded headers: an archive, not a log
CHUNK_BYTES = 32 << 20
READ_BYTES = 1 << 20  # one read of a plain file
GZIP_FEED_BYTES = 64 << 10  # compressed bytes fed to the inflater at a time
UNPACK_FEED_BYTES = 64 << 10  # the same for bz2, xz and zstd
SALVAGE_FEED_BYTES = 1 << 10  # finer feeds when re-reading a damaged gzip, to lose little before the damage
SNIFF_LINES = 50
SNIFF_MAX_BYTES = 64 << 20  # a sniff reads whole lines, however long, but never more than this
SNIFF_LINE_KEEP = 1 << 20  # a longer line is judged by its first MiB
BINARY_PROBE_BYTES = 64 << 10
_COMBINED = re.compile(COMBINED_REGEX)
_JSON_OBJECT_START = re.compile(rb'^\s*\{\s*("|\})')

# Reasons a file is skipped or unreadable (shown in the index, its check and the run summary).
SKIP_HIDDEN = "hidden (name starts with '.')"
SKIP_SYMLINK = "symlink (follow_symlinks is off)"
SKIP_SYMLINK_OUTSIDE = "symlink to a path outside the log folder"  # then ": <the target>"
SKIP_SYMLINK_LOOP = "symlink loop"
SKIP_NOT_MATCHED = "matches no include pattern"
SKIP_EMPTY = "empty (no content)"
SKIP_BLANK = "only blank lines"
SKIP_BINARY = "binary content (NUL bytes), not a text log"
SKIP_ONLY_NUL = "only NUL bytes (a hole, as a crash or copytruncate leaves), no line"


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
                   follow_symlinks: bool = True) -> Discovery:
    """Regular files under `root` matching `include` and no `exclude` pattern, sorted by relative path.

    Hidden files and folders are skipped, and so is anything that is not a regular file (a FIFO
    would block a read forever). A symlink, to a file or a folder, is followed when it resolves
    inside the root (logrotate and /var/log/pods are made of them) and refused, naming its target,
    when it leads outside; a folder is walked once, so a loop or a second link to it is listed, not
    followed. Without `follow_symlinks` every symlink is listed, never read. Every skipped entry and
    every folder or file that cannot be read is listed with its reason.
    """
    root = Path(root)
    if not root.is_dir():
        raise LogDiscoveryError(f"log folder {root} does not exist or is not a folder")
    real_root = Path(os.path.realpath(root))
    found: list[Path] = []
    skipped: list[tuple[str, str]] = []
    unreadable: list[tuple[str, str]] = []
    walked: dict[tuple[int, int], str] = {}  # (device, inode) of each folder walked -> its relative path
    linked: list[tuple[Path, str]] = []  # symlinked folders, walked after every real one so those keep their own names

    def walk(start: Path, start_rel: str) -> None:
        folders = [(start, start_rel)]
        while folders:
            folder, rel_folder = folders.pop()
            try:
                info = os.stat(folder)
                if (seen := walked.get((info.st_dev, info.st_ino))) is not None:  # a loop (or a bind mount) leads here again
                    skipped.append((rel_folder + "/", _already_walked(rel_folder, seen)))
                    continue
                walked[(info.st_dev, info.st_ino)] = rel_folder
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError as error:  # an unreadable folder: listed, the walk goes on
                unreadable.append((rel_folder + "/", os_reason(error)))
                continue
            subfolders = []
            for entry in entries:
                path = Path(entry.path)
                rel = entry.name if rel_folder == "." else f"{rel_folder}/{entry.name}"
                try:
                    is_link, is_dir = entry.is_symlink(), entry.is_dir()
                except OSError:  # a loop of links or a gone target: judged as a file, where the reason is found
                    is_link, is_dir = True, False
                if entry.name.startswith("."):
                    skipped.append((rel + "/" if is_dir else rel, SKIP_HIDDEN))
                elif is_dir and not is_link:
                    subfolders.append((path, rel))
                elif is_dir:
                    if follow_symlinks:
                        linked.append((path, rel))
                    else:
                        skipped.append((rel + "/", SKIP_SYMLINK))
                elif (pattern := _matches(entry.name, rel, exclude)) is not None:
                    skipped.append((rel, f"excluded by pattern {pattern!r}"))
                elif _matches(entry.name, rel, include) is None:
                    skipped.append((rel, SKIP_NOT_MATCHED))
                elif is_link and not follow_symlinks:
                    skipped.append((rel, SKIP_SYMLINK))
                else:
                    file_entry(path, rel, is_link)
            folders.extend(reversed(subfolders))

    def file_entry(path: Path, rel: str, is_link: bool) -> None:
        try:
            if is_link and (refused := _refused_link(path, real_root)) is not None:
                skipped.append((rel, refused))
                return
            mode = os.stat(path).st_mode
        except OSError as error:
            unreadable.append((rel, os_reason(error)))
            return
        if not stat_module.S_ISREG(mode):
            skipped.append((rel, f"not a regular file ({_kind(mode)})"))
            return
        found.append(path)

    walk(root, ".")
    while linked:  # in path order, each walk adding the links it finds: the same walk every time
        linked.sort(key=lambda link: link[1], reverse=True)
        path, rel = linked.pop()
        try:
            refused = _refused_link(path, real_root)
        except OSError as error:
            unreadable.append((rel + "/", os_reason(error)))
            continue
        if refused is not None:
            skipped.append((rel + "/", refused))
        else:
            walk(path, rel)
    return Discovery(files=sorted(found, key=lambda p: p.relative_to(root).as_posix()),
                     skipped=sorted(skipped), unreadable=sorted(unreadable))


def _refused_link(path: Path, real_root: Path) -> str | None:
    """Why the symlink at `path` is not followed (a loop of links, a target outside the root), else
    None; OSError when its target cannot be reached (a dangling link)."""
    try:
        target = Path(os.path.realpath(path, strict=True))
    except OSError as error:
        if error.errno == errno.ELOOP:
            return SKIP_SYMLINK_LOOP
        raise
    if not target.is_relative_to(real_root):
        return f"{SKIP_SYMLINK_OUTSIDE}: {target}"
    return None


def _already_walked(rel: str, seen: str) -> str:
    """Why the folder at `rel`, walked before as `seen`, is not walked again."""
    where = "the log folder" if seen == "." else f"{seen}/"
    if seen == "." or rel.startswith(seen + "/"):
        return f"{SKIP_SYMLINK_LOOP}: leads back to {where}, which holds it"
    return f"the folder read as {where} (read once)"


def discover(root: Path, include: tuple[str, ...] = DEFAULT_INCLUDE, follow_symlinks: bool = True,
             exclude: tuple[str, ...] = DEFAULT_EXCLUDE) -> list[Path]:
    """The files `discover_files` would read."""
    return discover_files(root, include, exclude, follow_symlinks).files


def _compression_of(head: bytes) -> str | None:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(b"BZh") and len(head) > 3 and 0x31 <= head[3] <= 0x39 and head[4:10] in BZ2_BLOCK_MAGICS:
        return "bz2"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if head.startswith(ZSTD_MAGIC) or (head[:1] and 0x50 <= head[0] <= 0x5F and head[1:4] == ZSTD_SKIPPABLE_MAGIC):
        return "zstd"
    return None


def _byte_order_mark(head: bytes) -> tuple[bytes, str] | None:
    return next(((mark, codec) for mark, codec in BYTE_ORDER_MARKS if head.startswith(mark)), None)


def compression(path: Path) -> str | None:
    """'gzip', 'bz2', 'xz' or 'zstd' by the file's first bytes (never by its name), else None."""
    with open(path, "rb") as handle:
        return _compression_of(handle.read(MAGIC_BYTES))


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def is_plain(path: Path) -> bool:
    """Whether the file's bytes are its content (neither compressed nor UTF-16/32): only then can the
    bytes a growing file appended be read alone. A UTF-8 byte order mark only starts the content."""
    with open(path, "rb") as handle:
        head = handle.read(MAGIC_BYTES)
    mark = _byte_order_mark(head)
    return _compression_of(head) is None and (mark is None or mark[1] == "utf-8")


@dataclass
class ContentReport:
    """Filled while a file's content is read: why it ended early, if it did."""

    damage: str | None = None
    content_bytes: int = 0  # content bytes delivered (decompressed, as UTF-8)
    ends_line: bool = False  # the last byte delivered is a newline
    nul_head_bytes: int = 0  # NUL bytes dropped before the first line: a sparse head, as copytruncate leaves


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
    """The file's content in blocks, as UTF-8: decompressed (gzip, bz2, xz, zstd, known by their
    magic bytes), decoded when a byte order mark says UTF-16 or UTF-32, without a sparse head of NUL
    bytes (counted in `report.nul_head_bytes`). A damaged compressed file yields what precedes the
    damage and records why in `report` (without a report, damage raises OSError). Of a plain file,
    only bytes [start, stop) when given (a compressed one is always read whole)."""
    strict = report is None
    report = ContentReport() if report is None else report
    with open(path, "rb") as handle:
        kind = _compression_of(handle.read(MAGIC_BYTES))
        handle.seek(0)
        blocks = _unpacked(handle, report, kind, read_bytes, start, stop)
        if kind is not None or start == 0:  # a byte order mark and a sparse head are only at the start
            blocks = _without_nul_head(_as_utf8(blocks), report)
        for block in blocks:
            report.content_bytes += len(block)
            report.ends_line = block.endswith(b"\n")
            yield block
    if strict and report.damage is not None:
        raise OSError(report.damage)


def _unpacked(handle, report: ContentReport, kind: str | None, read_bytes: int, start: int, stop: int | None) -> Iterator[bytes]:
    """The file's bytes, decompressed when `kind` names a compression; of a plain file, bytes [start, stop)."""
    if kind == "gzip":
        yield from _gzip_content(handle, report)
        return
    if kind is not None:
        yield from _unpack(handle, report, kind)
        return
    handle.seek(start)
    left = None if stop is None else stop - start
    while (left is None or left > 0) and (block := handle.read(read_bytes if left is None else min(read_bytes, left))):
        left = None if left is None else left - len(block)
        yield block


def _gzip_content(handle, report: ContentReport) -> Iterator[bytes]:
    delivered = 0
    try:
        for block in _inflate(handle, report, GZIP_FEED_BYTES, fast_zlib):
            delivered += len(block)
            yield block
        return
    except (fast_zlib.error, zlib.error) as error:
        fast_error = error
    # Corrupt data: ISA-L loses the output of the feed that failed, so re-read with zlib in small
    # feeds, skipping what was delivered, to keep all that inflates before the damage.
    handle.seek(0)
    try:
        for block in _inflate(handle, ContentReport(), SALVAGE_FEED_BYTES, zlib, skip=delivered):
            delivered += len(block)
            yield block
        report.damage = f"gzip corrupt after {delivered:,} bytes of content: {fast_error}"
    except zlib.error as error:
        report.damage = f"gzip corrupt after {delivered:,} bytes of content: {error}"


def _decompressor(kind: str):
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    if kind == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    return zstandard.ZstdDecompressor().decompressobj()


def _unpack(handle, report: ContentReport, kind: str) -> Iterator[bytes]:
    """Decompressed bytes of a bz2, xz or zstd file, every stream of it (pbzip2 and pzstd write
    several). Corrupt data or a stream that just stops ends the content, `report.damage` says which."""
    decompressor, fed, delivered = _decompressor(kind), False, 0
    while data := handle.read(UNPACK_FEED_BYTES):
        while data:
            if not fed:
                data = data.lstrip(b"\0")  # zero padding between or after streams, as xz allows
                if not data:
                    break
            fed = True
            try:
                out = decompressor.decompress(data)
            except DECOMPRESS_ERRORS as error:  # bz2 says OSError; the handle's own errors are raised by read()
                report.damage = f"{kind} corrupt after {delivered:,} bytes of content: {error}"
                return
            if out:
                delivered += len(out)
                yield out
            if not decompressor.eof:
                break
            data = decompressor.unused_data
            decompressor, fed = _decompressor(kind), False
    if fed:
        report.damage = f"{kind} truncated: the stream ends after {delivered:,} bytes of content, before its end marker"


def _as_utf8(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The content from its start without a byte order mark; UTF-16 and UTF-32 (as Windows tools
    write logs) decoded to UTF-8, a lone surrogate or an odd last byte as U+FFFD."""
    blocks = iter(blocks)
    head = b""
    for block in blocks:
        head += block
        if len(head) >= 4:
            break
    mark = _byte_order_mark(head)
    if mark is None or mark[1] == "utf-8":
        if rest := head[len(mark[0]) if mark else 0:]:
            yield rest
        yield from blocks
        return
    decoder = codecs.getincrementaldecoder(mark[1])("replace")
    for part in itertools.chain((head[len(mark[0]):],), blocks):
        if text := decoder.decode(part):
            yield text.encode("utf-8")
    if text := decoder.decode(b"", final=True):
        yield text.encode("utf-8")


def _without_nul_head(blocks: Iterator[bytes], report: ContentReport) -> Iterator[bytes]:
    """The content without the NUL bytes before its first line, counted in `report.nul_head_bytes`:
    a writer that keeps its offset after copytruncate leaves that hole. NULs ending in a newline are a
    line of NULs, kept (the parse quarantines it)."""
    blocks = iter(blocks)
    nuls = 0
    for block in blocks:
        text = block.lstrip(b"\0")
        if not text:
            nuls += len(block)
            continue
        if text[:1] in (b"\n", b"\r"):
            while nuls:
                yield b"\0" * min(nuls, READ_BYTES)
                nuls -= min(nuls, READ_BYTES)
            yield block
        else:
            report.nul_head_bytes = nuls + len(block) - len(text)
            yield text
        break
    else:
        report.nul_head_bytes = nuls  # nothing but NULs
    yield from blocks

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
    """The chained fingerprint of the file's bytes, decompressed if compressed: a file and its
    compressed copy (rotation with compression) get one fingerprint, so the copy is recognised as a
    duplicate and read once."""
    with open(path, "rb") as handle:
        kind = _compression_of(handle.read(MAGIC_BYTES))
        if kind is None:
            return scan_plain(path).hexdigest()
        handle.seek(0)
        digest = ContentDigest()
        for block in _unpacked(handle, ContentReport(), kind, READ_BYTES, 0, None):
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


def _first_lines(path: Path, wanted: int) -> tuple[list[bytes], bytes, int, ContentReport]:
    """Up to `wanted` non-blank lines (each cut to SNIFF_LINE_KEEP), the first content bytes, the
    content length seen and what the read found; reads whole lines however long, in bounded blocks,
    up to SNIFF_MAX_BYTES."""
    lines: list[bytes] = []
    current = bytearray()
    head = bytearray()
    seen = 0
    report = ContentReport()
    for block in iter_content(path, report, read_bytes=BINARY_PROBE_BYTES):
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
    return lines, bytes(head), seen, report


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
    lines, head, seen, report = _first_lines(path, SNIFF_LINES)
    if seen == 0:
        return Sniff("unknown", f"{SKIP_ONLY_NUL} ({report.nul_head_bytes:,} bytes)" if report.nul_head_bytes else SKIP_EMPTY)
    votes = {"jsonl": 0, "combined": 0, "unknown": 0}
    for line in lines:
        votes[_vote(line)] += 1
    best = max(("jsonl", "combined"), key=votes.get)
    # A line with NUL bytes beside log lines is a bad line (quarantined: a crash or a truncation left a
    # hole); a tar, or no more log lines than lines with NULs (an image, a database) is a binary file.
    nul_lines = sum(b"\0" in line for line in lines)
    if head[TAR_MAGIC_AT:TAR_MAGIC_AT + len(TAR_MAGIC)] == TAR_MAGIC or ((nul_lines or b"\0" in head) and votes[best] <= nul_lines):
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
