"""Parse one chunk of log bytes into canonical rows and quarantined lines.

A chunk is a run of whole lines (ends with a newline). Polars does the work; Python touches single
lines only on the slow path (a JSON region that the fast reader rejects), which is bisected down to
small pieces so one bad line costs little. Nothing raises on bad input: every non-blank line comes
out either as a row or as a quarantine entry with a reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from slo_assets.ingest.config import TIME_UNITS, ParseConfig
from slo_assets.ingest.log_format import TIME_CLF, TIME_EPOCH_S, TIME_ISO, LineFormat
from slo_assets.warehouse import canonical

RAW_PREFIX_BYTES = 512
SLOW_PATH_LINES = 256
# Timestamps outside this range cannot be meant (and years past 9999 overflow calendars).
TS_MIN_MS = 0  # 1970-01-01
TS_MAX_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z
EPOCH_MS_THRESHOLD = 1e11  # auto epoch unit: values at or above are milliseconds

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
SERVICE_EMPTY = "service_empty"
FIELD_NOT_TEXT = "field_not_text"
UNKNOWN_FORMAT = "unknown_format"
NUL_BYTES = "nul_bytes"

# The staged forms of the canonical tables: a file's stage leaves out its own name (canonical.py).
ROW_SCHEMA = canonical.PARSED_LOGS.arrow_schema(without=canonical.STAGED_WITHOUT)
QUARANTINE_SCHEMA = canonical.QUARANTINE.arrow_schema(without=canonical.STAGED_WITHOUT)

# %h %l %u %t "%r" %>s %b: every byte has one possible transition, so Rust's fast one-pass engine
# captures it (a trailing `(?P<rest>.*)` group alone made extraction 4x slower: 2.9 vs 0.7 us/line).
COMBINED_REGEX = (
    r'^(?P<prefix>(?P<client>[^ ]+) [^ ]+ [^ ]+ \[(?P<time>[^\]]*)\] '
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>[^ ]+) (?P<bytes>[^ ]+))'
)
# After it: any quoted fields ("referer" "agent" "$http_x_forwarded_for" ...) and the request time
# as the first bare token (0.123, rt=0.123 or request_time=0.123); one loop, again one-pass.
# The token is a request time when it looks like a number attempt (digit, sign, point, nan, inf) or
# carries rt=; then it must be a finite number >= 0 or "-" (quarantined otherwise: "12ms", "NaN").
# Another bare token ("example.com") is some other field and ignored.
# The rt= prefix is stripped afterwards: an optional prefix group makes the regex ambiguous at "r"
# and pushes Rust off its one-pass engine (1.0 against 0.23 us/line).
REQUEST_TIME_REGEX = r'^(?:[ ]|"(?:[^"\\]|\\.)*")*([^ "]+)'
REQUEST_TIME_LIKE = r"^(?:rt=|request_time=|[-+.0-9]|(?i:nan|inf))"
# Methods as registered (IANA, case-sensitive); another token ("PATCHp", "geti", a TLS probe)
# keeps the row with a null method: the server answered it, so it counts.
HTTP_METHODS = (
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PROPFIND", "PROPPATCH",
    "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT", "MKCALENDAR", "ACL", "BIND", "UNBIND",
    "REBIND", "MKACTIVITY", "CHECKOUT", "MERGE", "LINK", "UNLINK", "PURGE", "PRI",
)
COMBINED_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
COMBINED_UTC_FORMAT = "%d/%b/%Y:%H:%M:%S +0000"
# The one ISO-8601 grammar of every path: date, T/t/space, hh[:mm[:ss[.1-9 digits]]], offset
# Z/z/+hh/+hhmm/+hh:mm or none (UTC). It is what Arrow's fast cast accepts, plus lowercase and
# no offset, so a value parses the same alone or beside any other value.
ISO_GRAMMAR = (
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>[01]\d|2[0-3])(?::(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d)(?P<f>\.\d{1,9})?)?)?"
    r"(?P<z>[Zz]|(?P<zs>[+-])(?P<zh>[01]\d|2[0-3])(?::?(?P<zm>[0-5]\d))?)?$"
)
ISO_CANONICAL_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ID_SEGMENT = rf"/(?:{_UUID}|[0-9a-fA-F]{{16,}}|\d+)\b"


@dataclass
class ChunkResult:
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    lines: int
    blank_lines: int
    invalid_utf8_lines: int
    service_defaulted: int
    last_ts_ms: int | None


class _Lines:
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


def split_lines(chunk: bytes, first_line_no: int) -> _Lines:
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
    return _Lines(chunk, original, first_line_no, invalid)


def _without_nul_lines(lines: _Lines) -> tuple[_Lines, list[tuple[int, str, str]]]:
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
    return _Lines(buffer[keep].tobytes(), lines.original, lines.first_line_no, lines.invalid_utf8), bad


def _all_lines_series(lines: _Lines) -> pl.Series:
    """Every line of the chunk as a string Series, built from the buffer without per-line copies."""
    offsets = np.append(lines.starts, len(lines.text))
    array = pa.LargeStringArray.from_buffers(len(lines.starts), pa.py_buffer(offsets), pa.py_buffer(lines.text))
    return pl.Series("line", array).str.strip_chars_end("\r\n")


# ---------------------------------------------------------------- JSON lines


_JSON_FIELDS = ("ts", "service", "operation", "method", "path", "status", "duration", "client")


def _json_schema(config: ParseConfig, typed: bool = False) -> dict[str, pl.DataType]:
    """All strings, or with status and duration typed (then a value of another type raises)."""
    schema = {config.json_field(name): pl.String for name in _JSON_FIELDS}
    if typed:
        schema[config.json_field("status")] = pl.Int64
        schema[config.json_field("duration")] = pl.Float64
    return schema


def _rename_json(frame: pl.DataFrame, config: ParseConfig) -> pl.DataFrame:
    names = {canonical: config.json_field(canonical) for canonical in _JSON_FIELDS}
    frame = frame.select(
        pl.col(names["ts"]).alias("ts_raw"),
        pl.col(names["service"]).alias("service_raw"),
        pl.col(names["operation"]).alias("operation_raw"),
        pl.col(names["method"]).alias("method"),
        pl.col(names["path"]).alias("target"),
        pl.col(names["status"]).alias("status"),
        pl.col(names["duration"]).alias("duration"),
        pl.col(names["client"]).alias("client"),
    )
    return _numeric(frame)


def _numeric(frame: pl.DataFrame) -> pl.DataFrame:
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


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _number_as_written(text: str) -> str:
    if float(text) in (float("inf"), float("-inf")):  # 1e999: polars rejects the line too
        raise ValueError(f"number {text[:40]} out of range")
    return text


def _first_key_wins(pairs: list) -> dict:
    """Duplicate keys: the first value, as polars' reader keeps it (see docs/log-formats.md)."""
    out: dict = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def _loads(text: bytes):
    return json.loads(text, parse_constant=_reject_constant, parse_float=_number_as_written,
                      parse_int=_number_as_written, object_pairs_hook=_first_key_wins)


_TEXT_FIELDS = ("service", "operation", "method", "path")
# A text field from polars that may not be a JSON string (object, array, number, boolean): such
# lines are decoded again in Python, which knows the type and keeps numbers as written.
_MAYBE_NOT_STRING = r"^(?:[-0-9\[{]|true$|false$)"
# The client field is informative, not a text field: an object or array there is no client (null),
# not a bad line. Only what polars prints for a JSON number, object, array or boolean is decoded
# again (an address such as 10.0.0.1 is not), so logs full of addresses stay on the fast path.
_CLIENT_MAYBE_NOT_STRING = r"^(?:-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$|[\[{]|true$|false$)"


def _json_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # lone surrogates (\ud800) cannot be stored: replaced
        return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _json_slow(lines: _Lines, indices: np.ndarray, config: ParseConfig, bad: list) -> tuple[pl.DataFrame, np.ndarray, list[int]]:
    """Line by line: valid objects become string columns; others go to `bad`. Returns blanks too."""
    fields = list(_json_schema(config))
    client_field = config.json_field("client")
    columns: dict[str, list] = {name: [] for name in fields}
    kept, blanks = [], []
    for index in indices.tolist():
        text = lines.slice(index)
        if not text.strip():
            blanks.append(index)
            continue
        try:
            value = _loads(text)
        except (ValueError, RecursionError) as exc:
            bad.append((index, INVALID_JSON, f"line: {str(exc)[:200]}"))
            continue
        if not isinstance(value, dict):
            bad.append((index, INVALID_JSON, f"line: a JSON {'array' if isinstance(value, list) else 'value'}, not an object"))
            continue
        not_text = next((name for name in _TEXT_FIELDS if isinstance(value.get(config.json_field(name)), dict | list)), None)
        if not_text:
            # shown as written: decoded again without the numbers-as-text hooks
            whole = json.loads(text, object_pairs_hook=_first_key_wins)
            written = json.dumps(whole[config.json_field(not_text)], ensure_ascii=False)[:120]
            bad.append((index, FIELD_NOT_TEXT, f"{not_text}: {written}"))
            continue
        for name in fields:
            item = value.get(name)
            columns[name].append(None if name == client_field and isinstance(item, dict | list) else _json_text(item))
        kept.append(index)
    frame = pl.DataFrame(columns, schema=_json_schema(config))
    return frame, np.array(kept, dtype=np.int64), blanks


def _recheck(lines: _Lines, indices: np.ndarray, frame: pl.DataFrame, config: ParseConfig, bad: list) -> list:
    """[(frame, indices)] of a polars read, where rows whose text fields may not have been JSON
    strings are decoded again by the Python path (type known, numbers as written)."""
    # one expression per column: polars runs them in parallel (half the time of one any_horizontal)
    patterns = [(name, _MAYBE_NOT_STRING) for name in _TEXT_FIELDS] + [("client", _CLIENT_MAYBE_NOT_STRING)]
    flags = frame.select(pl.col(config.json_field(name)).str.contains(pattern).fill_null(False).alias(f"_{i}")
                         for i, (name, pattern) in enumerate(patterns))
    mask = np.logical_or.reduce([flags[column].to_numpy() for column in flags.columns])
    if not mask.any():
        return [(frame, indices)]
    again, kept, _ = _json_slow(lines, indices[mask], config, bad)
    return [(frame.filter(pl.Series(~mask)), indices[~mask]), (again, kept)]


def _json_region(lines: _Lines, indices: np.ndarray, config: ParseConfig, bad: list, frames: list, blanks: list) -> None:
    """Parse the lines at `indices` (a contiguous run of non-empty lines) fast, else bisect."""
    if len(indices) == 0:
        return
    start = int(lines.starts[indices[0]])
    stop = int(lines.ends[indices[-1]])
    whole = start == 0 and indices[-1] == len(lines.starts) - 1
    region = lines.text if whole else lines.text[start:stop]
    try:  # strings: they accept e.g. "200" as a status and keep a bad number's text for the detail
        frame = pl.read_ndjson(region, schema=_json_schema(config))
    except (Exception, pl.exceptions.PanicException):  # polars raises on the first malformed line
        frame = None
    if frame is not None and frame.height == len(indices):
        frames.extend(_recheck(lines, indices, frame, config, bad))
        return
    if len(indices) <= SLOW_PATH_LINES:
        frame, kept, blank = _json_slow(lines, indices, config, bad)
        frames.append((frame, kept))
        blanks.extend(blank)
        return
    middle = len(indices) // 2
    _json_region(lines, indices[:middle], config, bad, frames, blanks)
    _json_region(lines, indices[middle:], config, bad, frames, blanks)


def _clean_json_chunk(lines: _Lines, config: ParseConfig) -> pl.DataFrame | None:
    """Read the whole chunk at once when that proves row i is line i, without finding boundaries.

    read_ndjson yields one row per non-blank line and raises when a line holds anything but one
    JSON value (two objects, trailing text, a bare CR), so a read that succeeds with as many rows as
    the chunk has newlines had no blank line to skip. None when the chunk needs the careful path.
    """
    count = lines.text.count(b"\n")
    try:  # typed: faster than all strings, and a value of another type sends the chunk down the careful path
        frame = pl.read_ndjson(lines.text, schema=_json_schema(config, typed=True))
    except (Exception, pl.exceptions.PanicException):
        return None
    return frame if frame.height == count else None


def _text_json_chunk(lines: _Lines, config: ParseConfig) -> pl.DataFrame | None:
    """The chunk read with every field as text (numbers as written), for the details of bad values."""
    try:
        frame = pl.read_ndjson(lines.text, schema=_json_schema(config))
    except (Exception, pl.exceptions.PanicException):
        return None
    return frame if frame.height == lines.text.count(b"\n") else None


def _compact(lines: _Lines, keep: np.ndarray) -> _Lines:
    """A new _Lines holding only the lines at `keep` (vectorised byte mask, no per-line Python)."""
    line_mask = np.zeros(len(lines.starts), dtype=bool)
    line_mask[keep] = True
    full_lengths = np.diff(np.append(lines.starts, len(lines.text)))
    buffer = np.frombuffer(lines.text, dtype=np.uint8)
    text = buffer[np.repeat(line_mask, full_lengths)].tobytes()
    return _Lines(text, text, lines.first_line_no, 0)


def _parse_json(lines: _Lines, nonblank: np.ndarray, config: ParseConfig, bad: list) -> tuple[pl.DataFrame, list[int]]:
    """Lines that cannot be a JSON object by their first and last byte go line by line; the rest
    go through the fast reader (bisected when it still finds a bad line)."""
    frames: list = []
    blanks: list[int] = []
    buffer = np.frombuffer(lines.text, dtype=np.uint8)
    odd = (buffer[lines.starts[nonblank]] != ord("{")) | (buffer[lines.ends[nonblank] - 1] != ord("}"))
    if odd.any():
        frame, kept, blank = _json_slow(lines, nonblank[odd], config, bad)
        frames.append((frame, kept))
        blanks.extend(blank)
        regular = nonblank[~odd]
        compact = _compact(lines, regular)
        sub_bad: list = []
        sub_frames: list = []
        sub_blanks: list[int] = []
        _json_region(compact, np.arange(len(regular)), config, sub_bad, sub_frames, sub_blanks)
        frames.extend((frame, regular[idx]) for frame, idx in sub_frames)
        bad.extend((int(regular[i]), reason, detail) for i, reason, detail in sub_bad)
        blanks.extend(int(regular[i]) for i in sub_blanks)
    else:
        _json_region(lines, nonblank, config, bad, frames, blanks)
    return _json_parts(frames, config), blanks


def _json_parts(frames: list, config: ParseConfig) -> pl.DataFrame:
    parts = [_rename_json(frame, config).with_columns(pl.Series("_idx", idx, dtype=pl.Int64)) for frame, idx in frames if frame.height]
    return pl.concat(parts, how="vertical") if parts else _empty_raw()


# ---------------------------------------------------------------- combined / common


def _parse_combined(lines: _Lines, nonblank: np.ndarray, bad: list) -> tuple[pl.DataFrame, list[int]]:
    series = _all_lines_series(lines)[pl.Series(nonblank)] if len(nonblank) else pl.Series("line", [], dtype=pl.String)
    frame, whitespace = _split_whitespace(pl.DataFrame({"_idx": nonblank, "line": series}))
    parsed = frame.with_columns(pl.col("line").str.extract_groups(COMBINED_REGEX).alias("m")).unnest("m")
    unmatched = parsed["client"].is_null()
    if unmatched.any():
        for index in parsed.filter(unmatched)["_idx"].to_list():
            bad.append((index, UNRECOGNIZED_LINE, "line: does not match the common/combined log format"))
        parsed = parsed.filter(~unmatched)
    rest = pl.col("line").str.slice(pl.col("prefix").str.len_chars())
    matched = (
        parsed.lazy()
        .with_columns(rest.str.extract(REQUEST_TIME_REGEX, 1).alias("_token"), *_split_request(pl.col("request")))
        .select(
            "_idx",
            pl.col("time").alias("ts_raw"),
            *_request_columns(True),
            pl.col("status"),
            pl.when(pl.col("_token").str.contains(REQUEST_TIME_LIKE))
            .then(pl.col("_token").str.strip_prefix("rt=").str.strip_prefix("request_time=")).alias("duration"),
            pl.col("client"),
        )
        .collect()
    )
    return _numeric(matched), whitespace


def _split_whitespace(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[int]]:
    """The lines with text, and the indices of those holding only whitespace (blank lines); no copy
    of the lines when there are none of the latter (filtering copies every string)."""
    blank = frame["line"].str.strip_chars() == ""
    if not blank.any():
        return frame, []
    return frame.filter(~blank), frame.filter(blank)["_idx"].to_list()


def _split_request(request: pl.Expr | None, method: pl.Expr | None = None, target: pl.Expr | None = None) -> list[pl.Expr]:
    """_verb and _target from a request line ("GET /x HTTP/1.1") or from separate fields; computed
    once in a with_columns (inlined, polars split the request line once per use)."""
    if request is None:
        return [(method if method is not None else pl.lit(None, dtype=pl.String)).alias("_verb"),
                (target if target is not None else pl.lit(None, dtype=pl.String)).alias("_target")]
    parts = request.str.split_exact(" ", 2)
    return [parts.struct.field("field_0").alias("_verb"), parts.struct.field("field_1").alias("_target")]


def _request_columns(from_request_line: bool) -> list[pl.Expr]:
    """service_raw, operation_raw, method, target. A method that is not a registered one is null;
    an unparseable request line (a TLS probe, "-") has neither method nor path."""
    verb, target = pl.col("_verb"), pl.col("_target")
    if from_request_line:
        shaped = verb.str.contains(r"^[A-Za-z]+$") & target.is_not_null()
        target = pl.when(shaped).then(target)
    return [
        pl.lit(None, dtype=pl.String).alias("service_raw"),
        pl.lit(None, dtype=pl.String).alias("operation_raw"),
        pl.when(verb.is_in(HTTP_METHODS)).then(verb).alias("method"),
        target.alias("target"),
    ]


def _upstream_sum(values: pl.Expr) -> pl.Expr:
    """$upstream_response_time of several upstreams ("0.100, 0.004", " : " across redirects): the
    sum of the numbers, "-" entries skipped, all "-" is "-"; any other entry keeps the text (quarantined)."""
    items = values.str.replace_all(" : ", ", ", literal=True).str.split(", ").list.eval(pl.element().filter(pl.element() != "-"))
    numbers = items.list.eval(pl.element().cast(pl.Float64, strict=False))
    all_numbers = numbers.list.eval(pl.element().is_not_null().all()).list.first()
    return (
        pl.when(items.list.len() == 0).then(pl.lit("-"))
        .when(all_numbers).then(numbers.list.sum().cast(pl.String))
        .otherwise(values)
    )


def _parse_line_format(lines: _Lines, nonblank: np.ndarray, line_format: LineFormat, bad: list) -> tuple[pl.DataFrame, list[int]]:
    """One regex compiled from the user's log_format, run by polars over every line."""
    series = _all_lines_series(lines)[pl.Series(nonblank)] if len(nonblank) else pl.Series("line", [], dtype=pl.String)
    frame, whitespace = _split_whitespace(pl.DataFrame({"_idx": nonblank, "line": series}))
    parsed = frame.with_columns(pl.col("line").str.extract_groups(line_format.regex).alias("m")).unnest("m")
    for index in parsed.filter(pl.col("_m").is_null())["_idx"].to_list():
        bad.append((index, UNRECOGNIZED_LINE, "line: does not match the log_format"))
    fields = line_format.fields
    column = lambda name: pl.col(name) if name in fields else None  # noqa: E731
    duration = pl.lit(None, dtype=pl.String)
    if "duration" in fields:
        duration = _upstream_sum(pl.col("duration")) if line_format.duration_is_list else pl.col("duration")
    matched = parsed.lazy().filter(pl.col("_m").is_not_null()).with_columns(
        _split_request(column("request"), column("method"), column("target"))
    ).select(
        "_idx",
        pl.col("time").alias("ts_raw"),
        *_request_columns("request" in fields),
        pl.col("status"),
        duration.alias("duration"),
        (pl.col("client") if "client" in fields else pl.lit(None, dtype=pl.String)).alias("client"),
    ).collect()
    return _numeric(matched), whitespace


def _empty_raw() -> pl.DataFrame:
    return pl.DataFrame(schema={
        "ts_raw": pl.String, "service_raw": pl.String, "operation_raw": pl.String, "method": pl.String,
        "target": pl.String, "status": pl.Int64, "duration": pl.Float64, "client": pl.String, "status_raw": pl.String,
        "duration_raw": pl.String, "_idx": pl.Int64,
    })


# ---------------------------------------------------------------- typed stage


def _arrow_iso(raw: pl.Series) -> pl.Series | None:
    """Arrow's ISO-8601 parser is several times faster than polars' but rejects a whole column for
    one odd value; None then, and the caller takes the tolerant path."""
    try:
        nanos = pc.cast(raw.to_arrow(), pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pl.Series(raw.name, pc.cast(nanos, pa.timestamp("ms", tz="UTC"), safe=False))


def _iso_timestamp(raw: pl.Series) -> pl.Series:
    """ISO-8601 (ISO_GRAMMAR), tolerant: what does not parse is null. Arrow first (fast, but all or
    nothing); otherwise each value is rewritten to one canonical form and parsed on its own."""
    fast = _arrow_iso(raw)
    if fast is not None:
        return fast
    g = raw.str.extract_groups(ISO_GRAMMAR)
    part = g.struct.field
    zone = (
        pl.when(part("zh").is_not_null()).then(pl.concat_str([part("zs"), part("zh"), pl.lit(":"), part("zm").fill_null("00")]))
        .otherwise(pl.lit("+00:00"))  # Z, z, or no offset: UTC
    )
    canonical = pl.concat_str([
        part("date"), pl.lit("T"), part("h"), pl.lit(":"), part("m").fill_null("00"), pl.lit(":"),
        part("s").fill_null("00"), part("f").fill_null(""), zone,
    ])
    text = pl.select(canonical.alias(raw.name)).to_series() if len(raw) else raw
    return text.str.to_datetime(ISO_CANONICAL_FORMAT, strict=False, time_unit="ms", time_zone="UTC", cache=False)


def _json_timestamp_ms(raw: pl.Series, epoch_unit: str) -> pl.Series:
    fast = _arrow_iso(raw)
    if fast is not None:
        return fast.dt.epoch("ms").cast(pl.Float64)
    number = raw.str.strip_chars().cast(pl.Float64, strict=False)
    if epoch_unit == "s":
        epoch_ms = number * 1000.0
    elif epoch_unit == "ms":
        epoch_ms = number
    else:
        epoch_ms = pl.select(pl.when(number.abs() >= EPOCH_MS_THRESHOLD).then(number).otherwise(number * 1000.0)).to_series()
    iso_ms = _iso_timestamp(raw.set(number.is_not_null(), None)).dt.epoch("ms").cast(pl.Float64)
    return epoch_ms.fill_null(iso_ms)


TIME_JSON = "json"


def clf_timestamp(raw: pl.Series) -> pl.Series:
    """[10/Oct/2026:13:55:36 -0700] as a UTC datetime (ms), null where it does not parse. When every
    value is written in UTC (+0000, the usual server setting) the offset is matched as text: a
    quarter of the cost of parsing it (5 against 18 ms per 100k values), the same instants."""
    if len(raw) and raw.str.ends_with(" +0000").all():
        return raw.str.to_datetime(COMBINED_UTC_FORMAT, strict=False, time_unit="ms", time_zone="UTC")
    return raw.str.to_datetime(COMBINED_TIME_FORMAT, strict=False, time_unit="ms").dt.convert_time_zone("UTC")


def _timestamp_ms(frame: pl.DataFrame, time_kind: str, config: ParseConfig) -> pl.Series:
    raw = frame["ts_raw"]
    if time_kind == TIME_CLF:
        return clf_timestamp(raw).dt.epoch("ms").cast(pl.Float64)
    if time_kind == TIME_ISO:
        return _iso_timestamp(raw).dt.epoch("ms").cast(pl.Float64)
    if time_kind == TIME_EPOCH_S:  # $msec: seconds with a millisecond fraction
        return raw.cast(pl.Float64, strict=False) * 1000.0
    return _json_timestamp_ms(raw, config.epoch_unit)


def _service_expr(config: ParseConfig, path: pl.Expr, field_complete: bool) -> pl.Expr:
    """Service from a fixed name, the service field, or the path regex (auto: field, then regex)."""
    if config.service_source == "fixed":
        return pl.lit(config.service_name)
    if config.service_source == "field" or (config.service_source == "auto" and field_complete):
        return pl.col("service_raw")
    group = re.compile(config.service_regex).groupindex["service"]
    from_path = path.str.extract(config.service_regex, group)
    if config.service_source == "regex":
        return from_path
    return pl.coalesce(pl.col("service_raw"), from_path)


def _path_of(target: pl.Expr) -> pl.Expr:
    """The request target without its query: split only the targets that have one (a third of the
    cost when few do)."""
    return pl.when(target.str.contains("?", literal=True)).then(target.str.split_exact("?", 1).struct.field("field_0")).otherwise(target)


def _normalized_path(path: pl.Expr) -> pl.Expr:
    """Path template for the operation name: numeric, UUID and long hex segments become `{id}`."""
    return path.str.replace_all(_ID_SEGMENT, "/{id}")


_FIELD_OF_REASON = {
    TIMESTAMP_MISSING: ("ts_raw", "timestamp"),
    TIMESTAMP_UNPARSEABLE: ("ts_raw", "timestamp"),
    TIMESTAMP_OUT_OF_RANGE: ("ts_raw", "timestamp"),
    STATUS_MISSING: ("status_text", "status"),
    STATUS_NOT_INTEGER: ("status_text", "status"),
    STATUS_OUT_OF_RANGE: ("status_text", "status"),
    DURATION_NOT_NUMBER: ("duration_text", "duration"),
    DURATION_INVALID: ("duration_text", "duration"),
    SERVICE_EMPTY: ("service", "service"),
}


def _reason_expr() -> pl.Expr:
    """The first failed rule of a row, in a fixed order (timestamp, status, duration, service)."""
    duration_given = pl.col("duration").is_not_null() | (
        pl.col("duration_raw").is_not_null() & ~pl.col("duration_raw").str.strip_chars().is_in(["-", ""])
    )
    ts_blank = pl.col("ts_raw").is_null() | (pl.col("ts_raw").str.strip_chars() == "")
    return (
        pl.when(ts_blank).then(pl.lit(TIMESTAMP_MISSING))
        .when(pl.col("ts_ms").is_null() | pl.col("ts_ms").is_nan()).then(pl.lit(TIMESTAMP_UNPARSEABLE))
        .when((pl.col("ts_ms") < TS_MIN_MS) | (pl.col("ts_ms") > TS_MAX_MS)).then(pl.lit(TIMESTAMP_OUT_OF_RANGE))
        .when(pl.col("status").is_null() & pl.col("status_raw").is_null()).then(pl.lit(STATUS_MISSING))
        .when(pl.col("status").is_null()).then(pl.lit(STATUS_NOT_INTEGER))
        .when((pl.col("status") < 100) | (pl.col("status") > 599)).then(pl.lit(STATUS_OUT_OF_RANGE))
        .when(duration_given & pl.col("duration_ms").is_null()).then(pl.lit(DURATION_NOT_NUMBER))
        .when(duration_given & (~pl.col("duration_ms").is_finite() | (pl.col("duration_ms") < 0))).then(pl.lit(DURATION_INVALID))
        .when(pl.col("service").str.strip_chars() == "").then(pl.lit(SERVICE_EMPTY))
    )


def _detail_expr() -> pl.Expr:
    """'field: value as written' for the rule that failed."""
    detail = pl.lit(None, dtype=pl.String)
    for code, (column, label) in _FIELD_OF_REASON.items():
        value = pl.col(column).fill_null("<absent>").str.slice(0, 120)
        detail = pl.when(pl.col("reason") == code).then(pl.concat_str([pl.lit(f"{label}: "), value])).otherwise(detail)
    return detail


def _typed(frame: pl.DataFrame, time_kind: str, duration_factor: float, config: ParseConfig) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Convert string columns to canonical types; split valid rows from quarantined ones."""
    ts_ms = _timestamp_ms(frame, time_kind, config)
    typed = (
        frame.lazy()
        .with_columns(
            pl.lit(ts_ms).alias("ts_ms"),
            _path_of(pl.col("target")).alias("path"),
            (pl.col("duration") * duration_factor).alias("duration_ms"),
        )
        .with_columns(_service_expr(config, pl.col("path"), frame["service_raw"].null_count() == 0).alias("service_found"))
        .with_columns(
            pl.col("service_found").fill_null(pl.lit(config.default_service)).alias("service"),
            (
                pl.col("ts_ms").is_between(TS_MIN_MS, TS_MAX_MS)
                & pl.col("status").is_between(100, 599)
                & (
                    (pl.col("duration_ms").is_null() & (pl.col("duration_raw").is_null() | pl.col("duration_raw").is_in(["-", ""])))
                    | (pl.col("duration_ms").is_finite() & (pl.col("duration_ms") >= 0))
                )
                & pl.col("service_found").fill_null(pl.lit(config.default_service)).str.len_bytes().gt(0)
            ).fill_null(False).alias("_ok"),
        )
        .collect()
    )
    all_ok = bool(typed["_ok"].all())
    valid = typed if all_ok else typed.filter(pl.col("_ok"))
    defaulted = int(valid["service_found"].null_count())
    operation = pl.when(pl.col("operation_raw").is_not_null() & (pl.col("operation_raw") != "")).then(pl.col("operation_raw")).otherwise(
        pl.concat_str([pl.col("method").fill_null("-"), _normalized_path(pl.col("path"))], separator=" ").fill_null(pl.lit("-"))
    )
    rows = valid.lazy().select(
        pl.col("ts_ms").cast(pl.Int64).cast(pl.Datetime("ms", "UTC")).alias("ts"),
        "service",
        operation.alias("operation"),
        "method",
        "path",
        pl.col("status").cast(pl.Int32),
        "duration_ms",
        # "-" is how servers write an absent value; an empty client is none either
        pl.when(~pl.col("client").is_in(["", "-"])).then(pl.col("client")).alias("client"),
        "_idx",
    ).collect()
    in_range = pl.col("ts_ms").is_between(TS_MIN_MS, TS_MAX_MS) & pl.col("ts_ms").is_not_nan()
    quarantined = (
        (typed.clear() if all_ok else typed.filter(~pl.col("_ok")))
        .with_columns(
            pl.coalesce("status_raw", pl.col("status").cast(pl.String)).alias("status_text"),
            pl.coalesce("duration_raw", pl.col("duration").cast(pl.String)).alias("duration_text"),
        )
        .with_columns(_reason_expr().alias("reason"))
        .select("_idx", "reason", _detail_expr().alias("detail"), pl.when(in_range).then(pl.col("ts_ms")).cast(pl.Int64).alias("own_ts_ms"))
    )
    return rows, quarantined, defaulted


def _careful(lines: _Lines, nonblank: np.ndarray, fmt: str, config: ParseConfig, bad: list,
             fast: bool = True) -> tuple[pl.DataFrame, list[int]]:
    """The line-aware path: string columns for the non-blank lines, bad ones into `bad`, extra blanks."""
    if fmt == "jsonl":
        if not fast:  # every line through Python's json: the reference the fast reader must equal
            frame, kept, blanks = _json_slow(lines, nonblank, config, bad)
            return _json_parts([(frame, kept)], config), blanks
        return _parse_json(lines, nonblank, config, bad)
    if fmt == "line":
        return _parse_line_format(lines, nonblank, config.line_format(), bad)
    if fmt == "combined":
        return _parse_combined(lines, nonblank, bad)
    blanks = []
    for index in nonblank.tolist():
        if lines.slice(index).strip():
            bad.append((index, UNKNOWN_FORMAT, "line: the file's format is neither JSON lines nor common/combined"))
        else:
            blanks.append(index)
    return _empty_raw(), blanks


def _time_and_unit(fmt: str, config: ParseConfig) -> tuple[str, float]:
    """How the chunk's timestamps are written and the factor turning its durations into ms."""
    if fmt == "jsonl":
        return TIME_JSON, TIME_UNITS[config.json_duration_unit]
    if fmt == "line":
        line_format = config.line_format()
        return line_format.time_kind, TIME_UNITS[line_format.duration_unit or "ms"]
    return TIME_CLF, TIME_UNITS[config.request_time_unit]


def parse_chunk(chunk: bytes, first_line_no: int, fmt: str, config: ParseConfig, carry_ts_ms: int | None = None,
                fast: bool = True) -> ChunkResult:
    """Parse whole lines of `fmt` ('jsonl', 'combined' or 'unknown'); line numbers start at `first_line_no`.

    With `config.log_format` set, every file not read as JSON lines uses it. `fast=False` skips the
    whole-chunk readers (every JSON line through Python): the same result, slower; for tests.
    """
    if fmt != "jsonl" and config.line_format() is not None:
        fmt = "line"
    lines, nul_bad = _without_nul_lines(split_lines(chunk, first_line_no))
    bad: list[tuple[int, str, str]] = []
    clean = _clean_json_chunk(lines, config) if fmt == "jsonl" and fast else None
    if clean is not None:
        total, empty_count, extra_blank = clean.height, 0, []
        parts = _recheck(lines, np.arange(total, dtype=np.int64), clean, config, bad)
        in_line_order = len(parts) == 1
        rows, typed_bad, defaulted = _typed(_json_parts(parts, config), *_time_and_unit(fmt, config), config)
        text = _text_json_chunk(lines, config) if typed_bad.height else None
        if text is not None:  # the typed read lost how the bad numbers were written: read again as text
            bad.clear()
            parts = _recheck(lines, np.arange(total, dtype=np.int64), text, config, bad)
            in_line_order = len(parts) == 1
            rows, typed_bad, defaulted = _typed(_json_parts(parts, config), *_time_and_unit(fmt, config), config)
    else:
        total = len(lines.starts)
        empty = lines.ends == lines.starts
        empty_count = int(empty.sum())
        raw, extra_blank = _careful(lines, np.flatnonzero(~empty), fmt, config, bad, fast)
        in_line_order = fmt != "jsonl"  # careful JSON gathers rows from several parts; the regexes keep order
        rows, typed_bad, defaulted = _typed(raw, *_time_and_unit(fmt, config), config)

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
        "reason", "detail",
        pl.Series("raw", raw_text, dtype=pl.String),
        pl.col("ts_hint").cast(pl.Datetime("ms", "UTC")),
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
    ).drop("own_ts_ms", "prev_ts")
    return hinted, last_ts

