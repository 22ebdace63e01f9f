"""Log files on disk: discovery under a root, content fingerprints, format sniffing, chunked reads."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

try:  # ISA-L inflates gzip about three times faster than zlib; same API.
    from isal import igzip as gzip_module
except ImportError:  # pragma: no cover - isal is a declared dependency
    import gzip as gzip_module

from slo_assets.ingest.config import DEFAULT_INCLUDE
from slo_assets.ingest.parse import COMBINED_REGEX

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 32 << 20
SNIFF_BYTES = 256 << 10
SNIFF_LINES = 50
_COMBINED = re.compile(COMBINED_REGEX)


class LogDiscoveryError(ValueError):
    """The log root cannot be read; the message names it."""


def discover(root: Path, include: tuple[str, ...] = DEFAULT_INCLUDE, follow_symlinks: bool = False) -> list[Path]:
    """Regular files under `root` whose name matches an include pattern, sorted by relative path.

    Hidden files and folders are skipped. Symlinks are skipped unless `follow_symlinks`, and even
    then one that resolves outside `root` is skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise LogDiscoveryError(f"log folder {root} does not exist or is not a folder")
    real_root = root.resolve()
    found = []
    for folder, dirs, names in os.walk(root, followlinks=follow_symlinks):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith(".") or not any(fnmatch.fnmatch(name, pattern) for pattern in include):
                continue
            path = Path(folder) / name
            if path.is_symlink():
                if not follow_symlinks or not path.resolve().is_relative_to(real_root):
                    continue
            if path.is_file():
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_text_bytes(path: Path):
    """A binary stream of the file's decompressed content."""
    return gzip_module.open(path, "rb") if is_gzip(path) else open(path, "rb")


def fingerprint(path: Path) -> str:
    """sha256 of the file's bytes as stored: equal content under two names gives one fingerprint."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def iter_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Whole lines, about `chunk_bytes` at a time; the last line gets a newline if it had none."""
    carry = b""
    with open_text_bytes(path) as stream:
        while True:
            block = stream.read(chunk_bytes)
            if not block:
                break
            data = carry + block if carry else block
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1:]
            yield data[:cut + 1]
    if carry:
        yield carry + b"\n"


def sniff_format(path: Path) -> str:
    """'jsonl', 'combined' or 'unknown', by a vote of the first non-blank lines."""
    with open_text_bytes(path) as stream:
        head = stream.read(SNIFF_BYTES)
    votes = {"jsonl": 0, "combined": 0, "unknown": 0}
    lines = [line.strip() for line in head.split(b"\n")[:-1 if len(head) == SNIFF_BYTES else None]]
    for line in [line for line in lines if line][:SNIFF_LINES]:
        text = line.decode("utf-8", "replace")
        if text.startswith("{"):
            try:
                votes["jsonl" if isinstance(json.loads(text), dict) else "unknown"] += 1
            except ValueError:
                votes["unknown"] += 1
        elif _COMBINED.match(text):
            votes["combined"] += 1
        else:
            votes["unknown"] += 1
    best = max(("jsonl", "combined"), key=votes.get)
    return best if votes[best] > 0 else "unknown"
