"""Checkpoints of growing log files: how far each plain file was parsed, to parse only what was appended.

As Filebeat and Vector do, a file is recognised as the same, only grown, when its first KiB and the
KiB before the checkpoint's offset are unchanged and it is at least as long: then its stage is
extended from the offset (see staging.extend_stage). Anything else (a shorter file after a
copytruncate, other first bytes, a changed last-parsed KiB) is a new file, parsed in full. Lookup is by
inode (a rotated `access.log.1` is the old `access.log`), by path, then by the first KiB (a copy).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from slo_assets.ingest.files import ChainPoint, read_range

CHECK_BYTES = 1 << 10  # the first and the last-parsed KiB are compared
CHECKPOINTS_VERSION = 1


class CheckpointError(ValueError):
    """The checkpoint file cannot be read; the message says why."""


@dataclass(frozen=True)
class FileCheckpoint:
    path: str  # relative to the log folder
    device: int
    inode: int
    offset: int  # bytes of whole lines parsed (after the last newline)
    lines: int  # lines in those bytes: the next appended line is number lines + 1
    head_sha256: str  # of bytes [0, min(offset, CHECK_BYTES))
    tail_sha256: str  # of bytes [max(0, offset - CHECK_BYTES), offset)
    chain: ChainPoint  # the fingerprint chain at a block boundary at or before `offset`
    stage_key: str  # the stage holding the parse of those lines


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def head_bytes(offset: int) -> int:
    return min(offset, CHECK_BYTES)


def take(path: Path, rel: str, stat, offset: int, lines: int, chain: ChainPoint, key: str) -> FileCheckpoint:
    """A checkpoint of `path` parsed through `offset` (read back from the file)."""
    head = read_range(path, 0, head_bytes(offset))
    tail = read_range(path, max(0, offset - CHECK_BYTES), offset)
    return FileCheckpoint(path=rel, device=stat.st_dev, inode=stat.st_ino, offset=offset, lines=lines,
                          head_sha256=_sha(head), tail_sha256=_sha(tail), chain=chain, stage_key=key)


def still_holds(path: Path, size: int, checkpoint: FileCheckpoint) -> bool:
    """Whether the file of `size` bytes starts with the bytes `checkpoint` parsed (only grew since)."""
    if checkpoint.offset <= 0 or size < checkpoint.offset:
        return False
    head = read_range(path, 0, head_bytes(checkpoint.offset))
    if _sha(head) != checkpoint.head_sha256:
        return False
    return _sha(read_range(path, max(0, checkpoint.offset - CHECK_BYTES), checkpoint.offset)) == checkpoint.tail_sha256


def candidates(path: Path, rel: str, stat, checkpoints: list[FileCheckpoint]) -> list[FileCheckpoint]:
    """Checkpoints that may be of this file: same inode, then same path, then same first bytes."""
    same_inode = [c for c in checkpoints if (c.device, c.inode) == (stat.st_dev, stat.st_ino)]
    same_inode.sort(key=lambda c: c.path != rel)
    same_path = [c for c in checkpoints if c.path == rel and c not in same_inode]
    head = read_range(path, 0, CHECK_BYTES)
    same_head = [c for c in checkpoints if c not in same_inode and c not in same_path
                 and _sha(head[:head_bytes(c.offset)]) == c.head_sha256 and len(head) >= head_bytes(c.offset)]
    return same_inode + same_path + same_head


def dumps(checkpoints: list[FileCheckpoint]) -> bytes:
    entries = [asdict(c) for c in sorted(checkpoints, key=lambda c: c.path)]
    return json.dumps({"version": CHECKPOINTS_VERSION, "files": entries}, indent=1).encode()


def loads(payload: bytes, source: str) -> list[FileCheckpoint]:
    """The checkpoints of a file written by `dumps`; CheckpointError naming `source` otherwise."""
    try:
        document = json.loads(payload)
        if document.get("version") != CHECKPOINTS_VERSION:
            raise CheckpointError(f"{source}: version {document.get('version')!r}, expected {CHECKPOINTS_VERSION}")
        names = {f.name for f in fields(FileCheckpoint)}
        found = []
        for number, entry in enumerate(document["files"], start=1):
            if set(entry) != names:
                raise CheckpointError(f"{source}: entry {number}: fields {sorted(entry)}, expected {sorted(names)}")
            found.append(FileCheckpoint(**{**entry, "chain": ChainPoint(**entry["chain"])}))
        return found
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"{source}: not a checkpoint file ({type(error).__name__}: {error})") from None


class CheckpointLookup:
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
