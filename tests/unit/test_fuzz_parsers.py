"""Fuzzing the parsers: every line becomes a valid row, a quarantine entry or a blank; nothing raises."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.parse import TS_MAX_MS, TS_MIN_MS, parse_chunk

CONFIG = ParseConfig()
TIMESTAMPS = st.sampled_from([
    "1970-01-01T00:00:00Z", "2100-12-31T23:59:59+14:00", "2026-10-10T10:00:00-14:00", "2016-12-31T23:59:60Z",
    "2026-10-10 10:00:00.123456789+05:30", "2026-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "", "now", "2026-10-10T10:00:00", "2026-10-10T25:61:61Z",
]) | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
STATUSES = st.sampled_from([99, 100, 200, 404, 599, 600, -1, 0]) | st.integers(-(2**70), 2**70) | st.text(max_size=5) | st.floats()
DURATIONS = st.sampled_from([0, 0.0, -0.0, -1, 1e300, -1e300, 1e-300]) | st.none() | st.text(max_size=5) | st.integers(-(2**70), 2**70)
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


def _json_line(draw_values: dict) -> bytes:
    text = json.dumps(draw_values, allow_nan=True)  # NaN/Infinity: not JSON, must be quarantined
    return text.encode()


json_objects = st.fixed_dictionaries(
    {"ts": TIMESTAMPS, "service": TEXT, "status": STATUSES},
    optional={"duration_ms": DURATIONS, "path": TEXT, "method": TEXT, "client": TEXT,
              "extra": st.recursive(st.none() | st.integers(), lambda c: st.lists(c, max_size=3), max_leaves=5)},
).map(_json_line)
clf_lines = st.builds(
    lambda ip, day, zone, request, status, size, rt: f'{ip} - - [{day} {zone}] "{request}" {status} {size} "-" "ua" {rt}'.encode(),
    st.sampled_from(["1.2.3.4", "-", "::1"]),
    st.sampled_from(["17/May/2015:10:05:03", "01/Jan/1970:00:00:00", "31/Dec/2100:23:59:59", "31/Feb/2015:00:00:00", "bad"]),
    st.sampled_from(["+0000", "+1400", "-1400", "+9999", "Z"]),
    st.sampled_from(["GET /a/b HTTP/1.1", "-", "\\x16\\x03", "POST /x?y=1 HTTP/2", ""]),
    st.sampled_from(["200", "99", "600", "-", "2000"]),
    st.sampled_from(["0", "-", "123"]),
    st.sampled_from(["0.1", "-0.5", "1e300", "nan", "inf", "-", ""]),
)
garbage = st.binary(max_size=200)
nul_lines = st.binary(max_size=50).map(lambda b: b"{\"ts\":\"2026-10-10T10:00:00Z\",\x00" + b)


def _check(chunk: bytes, fmt: str) -> None:
    result = parse_chunk(chunk, 1, fmt, CONFIG)
    expected_lines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") or not chunk else 1)
    assert result.lines == expected_lines
    assert result.rows.height + result.quarantine.height + result.blank_lines == result.lines
    numbers = result.rows["source_line"].to_list() + result.quarantine["source_line"].to_list()
    assert len(set(numbers)) == len(numbers) and all(1 <= n <= result.lines for n in numbers)
    for row in result.rows.iter_rows(named=True):
        assert 100 <= row["status"] <= 599
        assert row["duration_ms"] is None or (math.isfinite(row["duration_ms"]) and row["duration_ms"] >= 0)
        assert TS_MIN_MS <= row["ts"].timestamp() * 1000 <= TS_MAX_MS
        assert row["service"]
        assert row["client"] is None or row["client"] not in ("", "-")
    assert all(result.quarantine["reason"].is_not_null())
    assert all(len(raw.encode("utf-8", "surrogatepass")) <= 4 * 512 for raw in result.quarantine["raw"].to_list())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_objects | garbage | nul_lines | st.just(b"") | st.just(b"\r"), min_size=1, max_size=30),
       st.sampled_from([b"\n", b"\r\n"]))
def test_json_lines_fuzz(lines, newline):
    _check(newline.join(lines) + newline, "jsonl")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(clf_lines | garbage | st.just(b""), min_size=1, max_size=30))
def test_combined_fuzz(lines):
    _check(b"\n".join(lines), "combined")


@settings(max_examples=30, deadline=None)
@given(st.lists(garbage, min_size=1, max_size=10))
def test_unknown_format_fuzz(lines):
    _check(b"\n".join(lines) + b"\n", "unknown")


def test_a_blank_request_time_is_no_request_time_not_a_line_without_a_reason():
    """Found by test_json_lines_fuzz: a duration of only whitespace ("\\r") was quarantined with no reason (the
    validity rule did not strip it, the reason rules did); it is a request without a time, as "-" and ""."""
    line = b'{"ts": "2026-10-10T10:00:00Z", "service": "", "status": 100, "duration_ms": "\\r"}\n'
    _check(line, "jsonl")
    result = parse_chunk(line, 1, "jsonl", CONFIG)
    assert result.rows.height == 1 and result.rows["duration_ms"].to_list() == [None] and result.quarantine.height == 0


def test_one_megabyte_line_and_nul_bytes():
    big = b'{"ts":"2026-10-10T10:00:00Z","service":"s","status":200,"pad":"' + b"x" * (1 << 20) + b'"}'
    nul = b'{"ts":"2026-10-10T10:00:00Z","service":"s\x00x","status":200}'
    _check(b"\n".join([big, nul, b"\x00\x00\x00"]) + b"\n", "jsonl")
    result = parse_chunk(big + b"\n", 1, "jsonl", CONFIG)
    assert result.rows.height == 1


# ---------------------------------------------------------------- neighbour independence (issue 11, B12)

ISO_VARIANTS = st.sampled_from([
    "2026-10-15T12:00Z", "2026-10-15T12:00:00", "2026-10-15T12Z", "2026-10-15 12:00:00+0200", "2026-10-15t12:00:00z",
    "2026-10-15T12:00:00.123456789+05:30", "2026-10-15T12:00:00+02", "2016-12-31T23:59:60Z", "2026-02-30T00:00:00Z",
    "2026-10-15T24:00:00Z", "2026-10-15T12:00:00+24:00", "2262-04-12T00:00:00Z", "1677-09-22T00:00:00Z",
    "2026-10-15T12:00:00.1234567891Z", " 2026-10-15T12:00:00Z", "2026-10-15", "1741046400", "1741046400123", "1.7e9",
])
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6)
VALUES = SCALARS | st.lists(SCALARS, max_size=2) | st.dictionaries(st.sampled_from(["a", "status"]), SCALARS, max_size=2)
TEXT_VALUES = st.sampled_from(["checkout", "/shop/cart/1", "GET", "", "3ds", "-x", "{x", "[1]", "true"]) | VALUES
KEYS = ["ts", "service", "operation", "method", "path", "status", "duration_ms", "client", "extra"]
# Addresses and user names, and what polars prints for numbers: decoded again only when they may not be strings.
CLIENT_VALUES = st.sampled_from(["10.0.0.1", "::1", "2001:db8::1", "alice", "42", "1.50", "-0", "1E2", "-", ""]) | VALUES


@st.composite
def json_object_lines(draw) -> bytes:
    """An object with the canonical keys in any order, some of them twice, values of any JSON type."""
    pairs = []
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=9)):
        if key == "ts":
            value = draw(ISO_VARIANTS | TIMESTAMPS)
        elif key == "status":
            value = draw(st.sampled_from([200, 503, "200", 200.0, 2e2, 200.5, True, "OK", 99]) | VALUES)
        elif key == "duration_ms":
            value = draw(st.sampled_from([12.5, "12", "12ms", -1, 0, True]) | VALUES)
        elif key == "client":
            value = draw(CLIENT_VALUES | st.sampled_from([1.50, 1e2, -0.0, 12345678901234567890]))
        else:
            value = draw(TEXT_VALUES)
        pairs.append(f"{json.dumps(key)}:{json.dumps(value)}")
    return ("{" + ",".join(pairs) + "}").encode()


def _per_line(lines: list[bytes], fmt: str, config: ParseConfig, fast: bool = True):
    rows, quarantine = [], []
    for number, line in enumerate(lines, start=1):
        result = parse_chunk(line + b"\n", number, fmt, config, fast=fast)
        rows += result.rows.to_dicts()
        quarantine += result.quarantine.select("source_line", "reason").rows()
    return rows, quarantine


def _whole(lines: list[bytes], fmt: str, config: ParseConfig, fast: bool = True):
    result = parse_chunk(b"\n".join(lines) + b"\n", 1, fmt, config, fast=fast)
    return result.rows.to_dicts(), result.quarantine.select("source_line", "reason").rows()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_object_lines() | json_objects | garbage | st.just(b'{"ts":"2026-10-15T12:00Z","service":"a","status":200}'),
                min_size=1, max_size=12))
def test_json_chunk_equals_each_line_alone_and_fast_equals_careful(lines):
    lines = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    whole = _whole(lines, "jsonl", CONFIG)
    assert whole == _per_line(lines, "jsonl", CONFIG)
    assert whole == _whole(lines, "jsonl", CONFIG, fast=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(clf_lines | garbage | st.sampled_from([
    b'1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET /x/ HTTP/1.1" 200 5 "-" "ua" 12ms',
    b'1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "geti /x/ HTTP/1.1" 400 5 "-" "ua" NaN',
    b'1.2.3.4 - - [04/Mar/2025:10:00:00 +0500] "GET /x/ HTTP/1.1" 200 5 "-" "ua" example.com',
]), min_size=1, max_size=12))
def test_combined_chunk_equals_each_line_alone(lines):
    lines = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    assert _whole(lines, "combined", CONFIG) == _per_line(lines, "combined", CONFIG)


# ---------------------------------------------------------------- fast paths equal the general ones (issue 13)

CLF_PARTS = st.tuples(
    st.sampled_from(["01", "17", "29", "30", "31", "00", "32", "1", " 1", "7x"]),
    st.sampled_from(["Jan", "Feb", "Oct", "Dec", "oct", "OCT", "Foo", "May"]),
    st.sampled_from(["1970", "2015", "2016", "2026", "9999", "0000", "26", "20260"]),
    st.sampled_from(["00", "09", "23", "24", "7"]), st.sampled_from(["00", "59", "60", "5"]),
    st.sampled_from(["00", "59", "60", "61", "3"]),
    st.sampled_from([" +0000", "  +0000", " +0000 ", " +00000", "+0000", " +0000\t"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(CLF_PARTS.map(lambda p: f"{p[0]}/{p[1]}/{p[2]}:{p[3]}:{p[4]}:{p[5]}{p[6]}") | st.none(), min_size=1, max_size=8))
def test_clf_utc_fast_path_equals_the_offset_parse(values):
    import polars as pl

    from slo_assets.ingest.parse import COMBINED_TIME_FORMAT, clf_timestamp

    raw = pl.Series("ts_raw", values, dtype=pl.String)
    general = raw.str.to_datetime(COMBINED_TIME_FORMAT, strict=False, time_unit="ms").dt.convert_time_zone("UTC")
    assert clf_timestamp(raw).equals(general, check_dtypes=True)
