"""A log file's content, whatever it is stored as: compression, text encodings, a NUL head, chunks.

A compression is known by its magic bytes, never by the file's name; a byte order mark says when the
text is UTF-16 or UTF-32 (decoded to UTF-8); a sparse head of NUL bytes is dropped. A damaged
compressed file yields the complete lines before the damage and says why it stopped.
"""

from __future__ import annotations

import bz2
import codecs
import itertools
import lzma
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zstandard

try:  # ISA-L inflates gzip about three times faster than zlib.
    from isal import isal_zlib as fast_zlib
except ImportError:  # pragma: no cover - isal is a declared dependency
    fast_zlib = zlib

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
CHUNK_BYTES = 32 << 20
READ_BYTES = 1 << 20  # one read of a plain file
GZIP_FEED_BYTES = 64 << 10  # compressed bytes fed to the inflater at a time
UNPACK_FEED_BYTES = 64 << 10  # the same for bz2, xz and zstd
SALVAGE_FEED_BYTES = 1 << 10  # finer feeds when re-reading a damaged gzip, to lose little before the damage


def compression_of(head: bytes) -> str | None:
    """'gzip', 'bz2', 'xz' or 'zstd' by a file's first MAGIC_BYTES bytes, else None."""
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
        return compression_of(handle.read(MAGIC_BYTES))


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def is_plain(path: Path) -> bool:
    """Whether the file's bytes are its content (neither compressed nor UTF-16/32): only then can the
    bytes a growing file appended be read alone. A UTF-8 byte order mark only starts the content."""
    with open(path, "rb") as handle:
        head = handle.read(MAGIC_BYTES)
    mark = _byte_order_mark(head)
    return compression_of(head) is None and (mark is None or mark[1] == "utf-8")


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
        kind = compression_of(handle.read(MAGIC_BYTES))
        handle.seek(0)
        blocks = unpacked(handle, report, kind, read_bytes, start, stop)
        if kind is not None or start == 0:  # a byte order mark and a sparse head are only at the start
            blocks = _without_nul_head(_as_utf8(blocks), report)
        for block in blocks:
            report.content_bytes += len(block)
            report.ends_line = block.endswith(b"\n")
            yield block
    if strict and report.damage is not None:
        raise OSError(report.damage)


def unpacked(handle, report: ContentReport, kind: str | None, read_bytes: int, start: int, stop: int | None) -> Iterator[bytes]:
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
