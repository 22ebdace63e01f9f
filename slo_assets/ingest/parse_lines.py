"""What every line format shares: a chunk's lines, the reason codes, the staged schemas, the raw columns.

A chunk is a run of whole lines; `Lines` finds their boundaries on first use, keeps the bytes as read
for the quarantine's raw text, and replaces invalid UTF-8. Every parser turns the lines it accepts
into the same raw string columns (`empty_raw` names them), typed afterwards in parse_typed.py.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import polars as pl
import pyarrow as pa

from slo_assets.warehouse import canonical

RAW_PREFIX_BYTES = 512

# Reasons a line is quarantined; stable codes, explained in docs/assets.md.
INVALID_JSON = "invalid_json"
UNRECOGNIZED_LINE = "unrecognized_line"
TIMESTAMP_MISSING = "timestamp_missing"
TIMESTAMP_UNPARSEABLE = "timestamp_unparseable"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
STATUS_MISSING = "status_missing"
STATUS_NOT_INTEGER = "status_not_integer"
STATUS_OUT_OF_RANGE = "status_out_of_range"
DURATION_NOT_NUMBER = "duration_not_number"
DURATION_INVALID = "duration_negative_or_not_finite"
FIELD_NOT_TEXT = "field_not_text"
UNKNOWN_FORMAT = "unknown_format"
NUL_BYTES = "nul_bytes"

# The staged forms of the canonical tables: a file's stage leaves out its own name (canonical.py).
ROW_SCHEMA = canonical.PARSED_LOGS.arrow_schema(without=canonical.STAGED_WITHOUT)
QUARANTINE_SCHEMA = canonical.QUARANTINE.arrow_schema(without=canonical.STAGED_WITHOUT)


class Lines:
    """Lines of a chunk: `text` is valid UTF-8, `original` the bytes as read. Line boundaries are
    found on first use: the clean-JSON fast path never needs them."""

    def __init__(self, text: bytes, original: bytes, first_line_no: int, invalid_utf8: int) -> None:
        self.text = text
        self.original = original
        self.first_line_no = first_line_no
        self.invalid_utf8 = invalid_utf8

    @cached_property
    def _text_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return _bounds(self.text)

    @property
    def starts(self) -> np.ndarray:
        return self._text_bounds[0]

    @property
    def ends(self) -> np.ndarray:  # exclusive, without "\r\n"
        return self._text_bounds[1]

    @cached_property
    def _original_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self._text_bounds if self.original is self.text else _bounds(self.original)

    def raw(self, index: int) -> str:
        """The first 512 bytes of the line as read (invalid UTF-8 and NUL shown as backslash escapes)."""
        starts, ends = self._original_bounds
        start, end = int(starts[index]), int(ends[index])
        return self.original[start:min(end, start + RAW_PREFIX_BYTES)].decode("utf-8", "backslashreplace").replace("\0", "\\x00")

    def slice(self, index: int) -> bytes:
        return self.text[int(self.starts[index]):int(self.ends[index])]


def _bounds(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    buffer = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buffer == 10)
    starts = np.empty(len(newlines), dtype=np.int64)
    if len(newlines):
        starts[0] = 0
        starts[1:] = newlines[:-1] + 1
    ends = newlines.astype(np.int64)
    has_cr = (ends > starts) & (buffer[np.maximum(ends - 1, 0)] == 13)
    return starts, ends - has_cr


def split_lines(chunk: bytes, first_line_no: int) -> Lines:
    """Find line boundaries; invalid UTF-8 is replaced (U+FFFD) and the lines counted."""
    if chunk and not chunk.endswith(b"\n"):  # the last line of a file may lack its newline
        chunk += b"\n"
    original = chunk
    invalid = 0
    try:
        if not chunk.isascii():  # ASCII is valid UTF-8, and checking it allocates nothing
            chunk.decode("utf-8")
    except UnicodeDecodeError:
        for line in chunk.split(b"\n"):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                invalid += 1
        chunk = chunk.decode("utf-8", "replace").encode("utf-8")
    return Lines(chunk, original, first_line_no, invalid)


def without_nul_lines(lines: Lines) -> tuple[Lines, list[tuple[int, str, str]]]:
    """Lines holding NUL bytes (a hole a crash or a truncation left in the file) are quarantined alone:
    the parsers see each as blank, so the other lines parse as they would without it."""
    if b"\0" not in lines.text:  # one memchr per chunk: the common case costs nothing more
        return lines, []
    buffer = np.frombuffer(lines.text, dtype=np.uint8)
    line_of_nul = np.searchsorted(lines.starts, np.flatnonzero(buffer == 0), side="right") - 1
    hit, counts = np.unique(line_of_nul, return_counts=True)
    keep = np.ones(len(buffer), dtype=bool)
    for index in hit.tolist():  # the line's bytes go, its newline stays: line numbers hold
        keep[lines.starts[index]:lines.ends[index]] = False
    bad = [(index, NUL_BYTES, f"line: {count:,} NUL bytes") for index, count in zip(hit.tolist(), counts.tolist(), strict=True)]
    return Lines(buffer[keep].tobytes(), lines.original, lines.first_line_no, lines.invalid_utf8), bad


def all_lines_series(lines: Lines) -> pl.Series:
    """Every line of the chunk as a string Series, built from the buffer without per-line copies."""
    offsets = np.append(lines.starts, len(lines.text))
    array = pa.LargeStringArray.from_buffers(len(lines.starts), pa.py_buffer(offsets), pa.py_buffer(lines.text))
    return pl.Series("line", array).str.strip_chars_end("\r\n")


def numeric_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """status (Int64) and duration (Float64), keeping the text in *_raw only where it came as text."""
    columns = []
    for name in ("status", "duration"):
        if frame.schema[name] == pl.String:
            value = pl.col(name).str.strip_chars().cast(pl.Float64, strict=False)
            if name == "status":  # JSON numbers have no int/float type: 200, 200.0 and 2e2 are one value
                # Beyond 2**53 a float holds only integers, all out of range: clipped, they stay out of
                # range, as the typed path (which reads 9007199254740992 exactly) finds them.
                value = pl.when(value.is_finite() & (value == value.floor())).then(value.clip(-(2**53), 2**53)).cast(pl.Int64)
            columns += [value.alias(name), pl.col(name).alias(f"{name}_raw")]
        else:
            columns += [pl.col(name).cast(pl.Int64 if name == "status" else pl.Float64), pl.lit(None, dtype=pl.String).alias(f"{name}_raw")]
    return frame.with_columns(columns)


def empty_raw() -> pl.DataFrame:
    """The raw columns every parser gives, without a row."""
    return pl.DataFrame(schema={
        "ts_raw": pl.String, "service_raw": pl.String, "operation_raw": pl.String, "method": pl.String,
        "target": pl.String, "status": pl.Int64, "duration": pl.Float64, "client": pl.String, "status_raw": pl.String,
        "duration_raw": pl.String, "_idx": pl.Int64,
    })

