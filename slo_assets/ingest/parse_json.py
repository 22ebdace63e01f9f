"""JSON lines: polars reads whole chunks or regions, Python's json decodes only the lines it must.

A clean chunk is read at once; otherwise lines that cannot be an object go line by line, and a region
the fast reader rejects is bisected down to SLOW_PATH_LINES, so one bad line costs little. Text
fields that may not have been JSON strings are decoded again in Python, which knows their type and
keeps numbers as written.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.parse_lines import FIELD_NOT_TEXT, INVALID_JSON, Lines, empty_raw, numeric_columns

SLOW_PATH_LINES = 256

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
    return numeric_columns(frame)


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


def json_slow(lines: Lines, indices: np.ndarray, config: ParseConfig, bad: list) -> tuple[pl.DataFrame, np.ndarray, list[int]]:
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


def recheck(lines: Lines, indices: np.ndarray, frame: pl.DataFrame, config: ParseConfig, bad: list) -> list:
    """[(frame, indices)] of a polars read, where rows whose text fields may not have been JSON
    strings are decoded again by the Python path (type known, numbers as written)."""
    # one expression per column: polars runs them in parallel (half the time of one any_horizontal)
    patterns = [(name, _MAYBE_NOT_STRING) for name in _TEXT_FIELDS] + [("client", _CLIENT_MAYBE_NOT_STRING)]
    flags = frame.select(pl.col(config.json_field(name)).str.contains(pattern).fill_null(False).alias(f"_{i}")
                         for i, (name, pattern) in enumerate(patterns))
    mask = np.logical_or.reduce([flags[column].to_numpy() for column in flags.columns])
    if not mask.any():
        return [(frame, indices)]
    again, kept, _ = json_slow(lines, indices[mask], config, bad)
    return [(frame.filter(pl.Series(~mask)), indices[~mask]), (again, kept)]


def _json_region(lines: Lines, indices: np.ndarray, config: ParseConfig, bad: list, frames: list, blanks: list) -> None:
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
        frames.extend(recheck(lines, indices, frame, config, bad))
        return
    if len(indices) <= SLOW_PATH_LINES:
        frame, kept, blank = json_slow(lines, indices, config, bad)
        frames.append((frame, kept))
        blanks.extend(blank)
        return
    middle = len(indices) // 2
    _json_region(lines, indices[:middle], config, bad, frames, blanks)
    _json_region(lines, indices[middle:], config, bad, frames, blanks)


def clean_json_chunk(lines: Lines, config: ParseConfig) -> pl.DataFrame | None:
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


def text_json_chunk(lines: Lines, config: ParseConfig) -> pl.DataFrame | None:
    """The chunk read with every field as text (numbers as written), for the details of bad values."""
    try:
        frame = pl.read_ndjson(lines.text, schema=_json_schema(config))
    except (Exception, pl.exceptions.PanicException):
        return None
    return frame if frame.height == lines.text.count(b"\n") else None


def _compact(lines: Lines, keep: np.ndarray) -> Lines:
    """A new Lines holding only the lines at `keep` (vectorised byte mask, no per-line Python)."""
    line_mask = np.zeros(len(lines.starts), dtype=bool)
    line_mask[keep] = True
    full_lengths = np.diff(np.append(lines.starts, len(lines.text)))
    buffer = np.frombuffer(lines.text, dtype=np.uint8)
    text = buffer[np.repeat(line_mask, full_lengths)].tobytes()
    return Lines(text, text, lines.first_line_no, 0)


def parse_json(lines: Lines, nonblank: np.ndarray, config: ParseConfig, bad: list) -> tuple[pl.DataFrame, list[int]]:
    """Lines that cannot be a JSON object by their first and last byte go line by line; the rest
    go through the fast reader (bisected when it still finds a bad line)."""
    frames: list = []
    blanks: list[int] = []
    buffer = np.frombuffer(lines.text, dtype=np.uint8)
    odd = (buffer[lines.starts[nonblank]] != ord("{")) | (buffer[lines.ends[nonblank] - 1] != ord("}"))
    if odd.any():
        frame, kept, blank = json_slow(lines, nonblank[odd], config, bad)
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
    return json_parts(frames, config), blanks


def json_parts(frames: list, config: ParseConfig) -> pl.DataFrame:
    """The raw columns of [(frame, line indices)] read from JSON, one frame in their order."""
    parts = [_rename_json(frame, config).with_columns(pl.Series("_idx", idx, dtype=pl.Int64)) for frame, idx in frames if frame.height]
    return pl.concat(parts, how="vertical") if parts else empty_raw()
