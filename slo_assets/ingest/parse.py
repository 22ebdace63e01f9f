"""Parse one chunk of log bytes into canonical rows and quarantined lines.

A chunk is a run of whole lines (ends with a newline). Polars does the work; Python touches single
lines only on the slow path (a JSON region that the fast reader rejects), which is bisected down to
small pieces so one bad line costs little. Nothing raises on bad input: every non-blank line comes
out either as a row or as a quarantine entry with a reason.

The work is split by format: parse_lines.py holds what every format shares (a chunk's lines, the
reason codes, the staged schemas), parse_json.py reads JSON lines, parse_text.py the common/combined
format and a user's log_format, and parse_typed.py types the raw columns and finds each bad row's
reason. This module runs them on a chunk and keeps the names callers import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from slo_assets.ingest.config import TIME_UNITS, ParseConfig
from slo_assets.ingest.log_format import PRESETS, TIME_CLF, LineFormat, compile_log_format
from slo_assets.ingest.parse_json import (
    SLOW_PATH_LINES,
    clean_json_chunk,
    json_parts,
    json_slow,
    parse_json,
    recheck,
    text_json_chunk,
)
from slo_assets.ingest.parse_lines import (
    DURATION_INVALID,
    DURATION_NOT_NUMBER,
    FIELD_NOT_TEXT,
    INVALID_JSON,
    NUL_BYTES,
    QUARANTINE_SCHEMA,
    RAW_PREFIX_BYTES,
    ROW_SCHEMA,
    STATUS_MISSING,
    STATUS_NOT_INTEGER,
    STATUS_OUT_OF_RANGE,
    TIMESTAMP_MISSING,
    TIMESTAMP_OUT_OF_RANGE,
    TIMESTAMP_UNPARSEABLE,
    UNKNOWN_FORMAT,
    UNRECOGNIZED_LINE,
    Lines,
    empty_raw,
    split_lines,
    without_nul_lines,
)
from slo_assets.ingest.parse_text import COMBINED_REGEX, HTTP_METHODS, REQUEST_TIME_LIKE, REQUEST_TIME_REGEX, parse_combined, parse_line_format
from slo_assets.ingest.parse_typed import (
    COMBINED_TIME_FORMAT,
    COMBINED_UTC_FORMAT,
    EPOCH_MS_THRESHOLD,
    ISO_CANONICAL_FORMAT,
    ISO_GRAMMAR,
    TIME_JSON,
    TS_MAX_MS,
    TS_MIN_MS,
    clf_timestamp,
    typed_columns,
)

__all__ = [
    "COMBINED_REGEX", "COMBINED_TIME_FORMAT", "COMBINED_UTC_FORMAT", "DURATION_INVALID", "DURATION_NOT_NUMBER", "EPOCH_MS_THRESHOLD",
    "FIELD_NOT_TEXT", "HTTP_METHODS", "INVALID_JSON", "ISO_CANONICAL_FORMAT", "ISO_GRAMMAR", "NUL_BYTES", "QUARANTINE_SCHEMA",
    "RAW_PREFIX_BYTES", "REQUEST_TIME_LIKE", "REQUEST_TIME_REGEX", "ROW_SCHEMA", "SLOW_PATH_LINES", "STATUS_MISSING",
    "STATUS_NOT_INTEGER", "STATUS_OUT_OF_RANGE", "TIMESTAMP_MISSING", "TIMESTAMP_OUT_OF_RANGE", "TIMESTAMP_UNPARSEABLE", "TIME_JSON",
    "TS_MAX_MS", "TS_MIN_MS", "UNKNOWN_FORMAT", "UNRECOGNIZED_LINE", "ChunkResult", "clf_timestamp", "parse_chunk", "split_lines",
]


@dataclass
class ChunkResult:
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    lines: int
    blank_lines: int
    invalid_utf8_lines: int
    service_defaulted: int
    last_ts_ms: int | None



def _careful(lines: Lines, nonblank: np.ndarray, fmt: str, config: ParseConfig, bad: list,
             fast: bool = True, line_format: LineFormat | None = None) -> tuple[pl.DataFrame, list[int]]:
    """The line-aware path: string columns for the non-blank lines, bad ones into `bad`, extra blanks."""
    if fmt == "jsonl":
        if not fast:  # every line through Python's json: the reference the fast reader must equal
            frame, kept, blanks = json_slow(lines, nonblank, config, bad)
            return json_parts([(frame, kept)], config), blanks
        return parse_json(lines, nonblank, config, bad)
    if fmt == "line" and line_format is not None:
        return parse_line_format(lines, nonblank, line_format, bad)
    if fmt == "combined":
        return parse_combined(lines, nonblank, bad)
    blanks = []
    for index in nonblank.tolist():
        if lines.slice(index).strip():
            bad.append((index, UNKNOWN_FORMAT, "line: the file's format is neither JSON lines nor common/combined"))
        else:
            blanks.append(index)
    return empty_raw(), blanks


def _time_and_unit(fmt: str, config: ParseConfig, line_format: LineFormat | None = None) -> tuple[str, float]:
    """How the chunk's timestamps are written and the factor turning its durations into ms."""
    if fmt == "jsonl":
        return TIME_JSON, TIME_UNITS[config.json_duration_unit]
    if fmt == "line" and line_format is not None:
        return line_format.time_kind, TIME_UNITS[line_format.duration_unit or "ms"]
    return TIME_CLF, TIME_UNITS[config.request_time_unit]


def _line_format(fmt: str, config: ParseConfig) -> LineFormat | None:
    """The format a text chunk is read with: the user's log_format, else a preset sniffed from the file's
    lines (sniffing.py); None for JSON lines and the common/combined parser."""
    if fmt == "jsonl":
        return None
    chosen = config.line_format()
    if chosen is None and fmt in PRESETS and fmt != "combined":
        return compile_log_format(fmt)
    return chosen


def parse_chunk(chunk: bytes, first_line_no: int, fmt: str, config: ParseConfig, carry_ts_ms: int | None = None,
                fast: bool = True, members: np.ndarray | None = None) -> ChunkResult:
    """Parse whole lines of `fmt` ('jsonl', 'combined', a preset sniffed from the file's lines, or 'unknown');
    line numbers start at `first_line_no`. `members`: the chunk is whole files, their first line indices (batch.py).

    With `config.log_format` set, every file not read as JSON lines uses it. `fast=False` skips the
    whole-chunk readers (every JSON line through Python): the same result, slower; for tests.
    """
    line_format = _line_format(fmt, config)
    if line_format is not None:
        fmt = "line"
    lines, nul_bad = without_nul_lines(split_lines(chunk, first_line_no))
    bad: list[tuple[int, str, str]] = []
    clean = clean_json_chunk(lines, config) if fmt == "jsonl" and fast else None
    if clean is not None:
        total, empty_count, extra_blank = clean.height, 0, []
        parts = recheck(lines, np.arange(total, dtype=np.int64), clean, config, bad)
        in_line_order = len(parts) == 1
        rows, typed_bad, defaulted = typed_columns(json_parts(parts, config), *_time_and_unit(fmt, config), config, members)
        text = text_json_chunk(lines, config) if typed_bad.height else None
        if text is not None:  # the typed read lost how the bad numbers were written: read again as text
            bad.clear()
            parts = recheck(lines, np.arange(total, dtype=np.int64), text, config, bad)
            in_line_order = len(parts) == 1
            rows, typed_bad, defaulted = typed_columns(json_parts(parts, config), *_time_and_unit(fmt, config), config, members)
    else:
        total = len(lines.starts)
        empty = lines.ends == lines.starts
        empty_count = int(empty.sum())
        raw, extra_blank = _careful(lines, np.flatnonzero(~empty), fmt, config, bad, fast, line_format)
        in_line_order = fmt != "jsonl"  # careful JSON gathers rows from several parts; the regexes keep order
        rows, typed_bad, defaulted = typed_columns(raw, *_time_and_unit(fmt, config, line_format), config, members)

    bad += nul_bad
    parse_bad = pl.DataFrame(
        {"_idx": [b[0] for b in bad], "reason": [b[1] for b in bad], "detail": [b[2] for b in bad]},
        schema={"_idx": pl.Int64, "reason": pl.String, "detail": pl.String},
    ).with_columns(pl.lit(None, dtype=pl.Int64).alias("own_ts_ms"))
    quarantine = pl.concat([parse_bad, typed_bad], how="vertical").sort("_idx")
    if not in_line_order:
        rows = rows.sort("_idx")
    quarantine, last_ts = _with_ts_hint(quarantine, rows, carry_ts_ms)
    raw_text = [lines.raw(i) for i in quarantine["_idx"].to_list()]
    quarantine = quarantine.select(
        (pl.col("_idx") + first_line_no).alias("source_line"),
        "reason", "detail", pl.Series("raw", raw_text, dtype=pl.String),
        pl.col("ts_hint").cast(pl.Datetime("ms", "UTC")),
        *(["own_ts_ms"] if members is not None else []),  # a batch places each file's lines by its own (batch.py)
    )
    rows = rows.with_columns((pl.col("_idx") + first_line_no).alias("source_line")).drop("_idx")
    return ChunkResult(
        rows=rows,
        quarantine=quarantine,
        lines=total,
        blank_lines=empty_count + len(extra_blank) - len(nul_bad),  # a NUL line was parsed as blank
        invalid_utf8_lines=lines.invalid_utf8,
        service_defaulted=defaulted,
        last_ts_ms=last_ts,
    )


def _with_ts_hint(quarantine: pl.DataFrame, rows: pl.DataFrame, carry_ts_ms: int | None) -> tuple[pl.DataFrame, int | None]:
    """A quarantined line's day: its own timestamp if it has one, else the last good one before it.
    `rows` are in line order."""
    good = rows.select("_idx", pl.col("ts").dt.epoch("ms").alias("good_ts"))
    last_ts = int(good["good_ts"][-1]) if good.height else carry_ts_ms
    if quarantine.height == 0:
        return quarantine.with_columns(pl.lit(None, dtype=pl.Int64).alias("ts_hint")), last_ts
    merged = (
        pl.concat([good.with_columns(pl.lit(True).alias("_good")),
                   quarantine.select("_idx", pl.lit(None, dtype=pl.Int64).alias("good_ts"), pl.lit(False).alias("_good"))])
        .sort("_idx")
        .with_columns(pl.col("good_ts").forward_fill().fill_null(pl.lit(carry_ts_ms, dtype=pl.Int64)).alias("prev_ts"))
        .filter(~pl.col("_good"))
        .select("_idx", "prev_ts")
    )
    hinted = quarantine.join(merged, on="_idx", how="left").with_columns(
        pl.coalesce("own_ts_ms", "prev_ts").alias("ts_hint")
    ).drop("prev_ts")
    return hinted, last_ts
