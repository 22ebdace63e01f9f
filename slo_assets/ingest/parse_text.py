"""Text line formats: common/combined (one fixed regex) and a user's log_format (one compiled regex).

Polars runs the regex over every line of the chunk; a line it does not match is quarantined as
unrecognized. Both give the raw string columns of parse_lines.py, typed afterwards.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from slo_assets.ingest.log_format import LineFormat
from slo_assets.ingest.parse_lines import UNRECOGNIZED_LINE, Lines, all_lines_series, numeric_columns

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


def parse_combined(lines: Lines, nonblank: np.ndarray, bad: list) -> tuple[pl.DataFrame, list[int]]:
    """The common/combined regex over every line; lines it does not match go to `bad`."""
    series = all_lines_series(lines)[pl.Series(nonblank)] if len(nonblank) else pl.Series("line", [], dtype=pl.String)
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
    return numeric_columns(matched), whitespace


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


def parse_line_format(lines: Lines, nonblank: np.ndarray, line_format: LineFormat, bad: list) -> tuple[pl.DataFrame, list[int]]:
    """One regex compiled from the user's log_format, run by polars over every line."""
    series = all_lines_series(lines)[pl.Series(nonblank)] if len(nonblank) else pl.Series("line", [], dtype=pl.String)
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
    return numeric_columns(matched), whitespace
