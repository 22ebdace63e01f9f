"""The content fingerprint: a chain over fixed blocks, so that a grown file's can be extended.

A file and its compressed copy (rotation with compression) get one fingerprint, so the copy is
recognised as a duplicate and read once; a plain file that only grew is fingerprinted from the chain
point saved at its checkpoint, without reading its first bytes again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from slo_assets.ingest.content import MAGIC_BYTES, READ_BYTES, ContentReport, compression_of, unpacked

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
        kind = compression_of(handle.read(MAGIC_BYTES))
        if kind is None:
            return scan_plain(path).hexdigest()
        handle.seek(0)
        digest = ContentDigest()
        for block in unpacked(handle, ContentReport(), kind, READ_BYTES, 0, None):
            digest.update(block)
    return digest.hexdigest()
