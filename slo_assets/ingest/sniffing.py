"""A file's format by its content: JSON lines, a text preset, common/combined, or no log at all (and why).

The first non-blank lines vote; an empty file, one of only blank lines or NUL bytes, a tar or a
binary file is skipped with its reason. Rotations are named anything, so the name never decides.
A text line votes for the most specific preset whose shape it has (ingress-nginx's `upstreaminfo`),
else for common/combined; a file most of whose text lines have a preset's shape is read with it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from slo_assets.ingest.content import ContentReport, iter_content
from slo_assets.ingest.log_format import PRESETS, compile_log_format
from slo_assets.ingest.parse_text import COMBINED_REGEX

TAR_MAGIC, TAR_MAGIC_AT = b"ustar", 257  # a tar holds text files between NUL-padded headers: an archive, not a log
SNIFF_LINES = 50
SNIFF_MAX_BYTES = 64 << 20  # a sniff reads whole lines, however long, but never more than this
SNIFF_LINE_KEEP = 1 << 20  # a longer line is judged by its first MiB
BINARY_PROBE_BYTES = 64 << 10
_COMBINED = re.compile(COMBINED_REGEX)
_JSON_OBJECT_START = re.compile(rb'^\s*\{\s*("|\})')
# Presets the tolerant combined parser reads as they are: `main` is combined with a quoted field and a
# request time after it, the first bare token it reads (and it honours request_time_unit).
READ_AS_COMBINED = frozenset({"combined", "main"})
# The other presets, tried on each text line most specific (most fields) first; a file is read with
# one when most of its text lines have its shape, as `$request_length` would be the request time of
# an ingress-nginx line read as combined.
SNIFFED_PRESETS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(compile_log_format(name).regex))
    for name in sorted(set(PRESETS) - READ_AS_COMBINED, key=lambda name: -PRESETS[name].count(" ")))

# Reasons a file is skipped by its content (shown in the index, its check and the run summary).
SKIP_EMPTY = "empty (no content)"
SKIP_BLANK = "only blank lines"
SKIP_BINARY = "binary content (NUL bytes), not a text log"
SKIP_ONLY_NUL = "only NUL bytes (a hole, as a crash or copytruncate leaves), no line"


@dataclass(frozen=True)
class Sniff:
    """A file's format by its content ('jsonl', 'combined', a preset of SNIFFED_PRESETS or 'unknown'), or
    why it is no log."""

    format: str
    skip_reason: str | None = None


def _first_lines(path: Path, wanted: int) -> tuple[list[bytes], bytes, int, ContentReport]:
    """Up to `wanted` non-blank lines (each cut to SNIFF_LINE_KEEP), the first content bytes, the
    content length seen and what the read found; reads whole lines however long, in bounded blocks,
    up to SNIFF_MAX_BYTES."""
    report = ContentReport()
    return (*_lines_of(iter_content(path, report, read_bytes=BINARY_PROBE_BYTES), wanted), report)


def _lines_of(blocks: Iterable[bytes], wanted: int) -> tuple[list[bytes], bytes, int]:
    """_first_lines of content given in blocks of BINARY_PROBE_BYTES."""
    lines: list[bytes] = []
    current = bytearray()
    head = bytearray()
    seen = 0
    for block in blocks:
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


def _vote(line: bytes, presets: bool) -> str:
    """'jsonl', a preset's name, 'combined' or 'unknown' for one line (presets only when `presets`)."""
    text = line.strip()
    if text.startswith(b"{"):
        if len(line) >= SNIFF_LINE_KEEP:  # cut: judge by how it starts
            return "jsonl" if _JSON_OBJECT_START.match(text) else "unknown"
        try:
            return "jsonl" if isinstance(json.loads(text), dict) else "unknown"
        except ValueError:
            return "unknown"
    decoded = text.decode("utf-8", "replace")
    if not _COMBINED.match(decoded):  # every preset's line starts as a common/combined one
        return "unknown"
    return next((name for name, shape in SNIFFED_PRESETS if presets and shape.match(decoded)), "combined")


def _text_format(shapes: Counter[str]) -> str:
    """The preset most of the text lines have the shape of (the most specific first), else 'combined'."""
    return next((name for name, _ in SNIFFED_PRESETS if shapes[name] * 2 > shapes.total()), "combined")


def sniff(path: Path, forced_format: str = "auto", log_format: str = "") -> Sniff:
    """Decide by content: empty, binary or neither format means skip (with the reason); otherwise
    the format of most of the first non-blank lines. A forced format is kept for any text file with a
    log line of either shape (any text file with a `log_format`); with a `log_format` the user chose,
    text lines are 'combined' (read with it), no preset is tried."""
    lines, head, seen, report = _first_lines(path, SNIFF_LINES)
    return _judged(lines, head, seen, report, forced_format, log_format)


def sniff_plain(data: bytes, forced_format: str = "auto", log_format: str = "") -> Sniff:
    """`sniff` of a plain file already read whole, `data`: neither compressed nor with a byte order mark
    or a NUL head (is_small_plain in batch.py), so its bytes are its content, judged as a read would."""
    blocks = (data[start:start + BINARY_PROBE_BYTES] for start in range(0, len(data), BINARY_PROBE_BYTES))
    return _judged(*_lines_of(blocks, SNIFF_LINES), ContentReport(), forced_format, log_format)


def _judged(lines: list[bytes], head: bytes, seen: int, report: ContentReport, forced_format: str, log_format: str) -> Sniff:
    """The format (or the skip reason) of a file by its first lines, as `sniff` decides."""
    if seen == 0:
        return Sniff("unknown", f"{SKIP_ONLY_NUL} ({report.nul_head_bytes:,} bytes)" if report.nul_head_bytes else SKIP_EMPTY)
    votes = {"jsonl": 0, "combined": 0, "unknown": 0}
    shapes: Counter[str] = Counter()  # the text lines by their most specific shape
    for line in lines:
        vote = _vote(line, presets=forced_format == "auto" and not log_format)
        if vote not in ("jsonl", "unknown"):
            shapes[vote] += 1
        votes["combined" if vote not in votes else vote] += 1
    best = max(("jsonl", "combined"), key=votes.get)
    # A line with NUL bytes beside log lines is a bad line (quarantined: a crash or a truncation left a
    # hole); a tar, or no more log lines than lines with NULs (an image, a database) is a binary file.
    nul_lines = sum(b"\0" in line for line in lines)
    if head[TAR_MAGIC_AT:TAR_MAGIC_AT + len(TAR_MAGIC)] == TAR_MAGIC or ((nul_lines or b"\0" in head) and votes[best] <= nul_lines):
        return Sniff("unknown", SKIP_BINARY)
    if not lines:
        return Sniff("unknown", SKIP_BLANK)
    # A forced format reads every log, even one of another format (its lines are then rejected, and the run
    # says the format looks wrong), but not a text that is no log at all: a LICENSE, a README or a YAML
    # beside the logs would otherwise turn into thousands of rejected lines. A log_format of the user's
    # own may match neither shape, so with one every text file is read.
    if forced_format != "auto" and (votes[best] or log_format):
        return Sniff(forced_format)
    if votes[best] == 0:
        first = lines[0][:80].decode("utf-8", "backslashreplace")
        return Sniff("unknown", f"neither JSON lines nor common/combined in its first {len(lines)} lines (first: {first!r})")
    return Sniff(_text_format(shapes) if best == "combined" else best)


def sniff_format(path: Path, log_format: str = "") -> str:
    """'jsonl', 'combined', a sniffed preset or 'unknown', by a vote of the first non-blank lines."""
    return sniff(path, log_format=log_format).format


def first_lines(path: Path, wanted: int) -> list[str]:
    """Up to `wanted` non-blank lines of the file's start, as text (each cut to SNIFF_LINE_KEEP): a sample
    of how it is written."""
    return [line.decode("utf-8", "replace").rstrip("\r") for line in _first_lines(path, wanted)[0]]
