"""Parsing: every line becomes a row or a quarantine entry with file, line and reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from slo_assets.ingest import parse as P
from slo_assets.ingest.config import ConfigError, ParseConfig
from slo_assets.ingest.index import assemble_day, build_index
from tests.conftest import APACHE_LOG, day_ms

GOOD_JSON = '{"ts":"2025-03-04T10:00:00Z","service":"checkout","method":"GET","path":"/checkout/cart/42","status":200,"duration_ms":12.5}'


def ingest(tmp_path: Path, name: str, payload: bytes, day: str = "2025-03-04", **config):
    logs = tmp_path / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / name).write_bytes(payload)
    build = build_index(logs, tmp_path / "stage", ParseConfig(**config))
    return build, assemble_day(build.index, tmp_path / "stage", day_ms(day))


def quarantined(day) -> list[tuple[str, int, str]]:
    q = day.quarantine.to_pylist()
    return [(r["source_file"], r["source_line"], r["reason"]) for r in q]


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("this is not json", P.INVALID_JSON),
        ('{"ts":"2025-03-04T10:00:00Z","status":', P.INVALID_JSON),
        ('["a", "list"]', P.INVALID_JSON),
        ('{"ts":"2025-03-04T10:00:00Z","status":200,"duration_ms":NaN,"service":"x"}', P.INVALID_JSON),
        ('{"service":"x","status":200}', P.TIMESTAMP_MISSING),
        ('{"ts":"yesterday","service":"x","status":200}', P.TIMESTAMP_UNPARSEABLE),
        ('{"ts":1e300,"service":"x","status":200}', P.TIMESTAMP_OUT_OF_RANGE),
        ('{"ts":"2025-03-04T10:00:00Z","service":"x"}', P.STATUS_MISSING),
        ('{"ts":"2025-03-04T10:00:00Z","service":"x","status":"OK"}', P.STATUS_NOT_INTEGER),
        ('{"ts":"2025-03-04T10:00:00Z","service":"x","status":200.5}', P.STATUS_NOT_INTEGER),
        ('{"ts":"2025-03-04T10:00:00Z","service":"x","status":99}', P.STATUS_OUT_OF_RANGE),
        ('{"ts":"2025-03-04T10:00:00Z","service":"x","status":600}', P.STATUS_OUT_OF_RANGE),
        ('{"ts":"2025-03-04T10:00:00Z","service":"x","status":200,"duration_ms":"fast"}', P.DURATION_NOT_NUMBER),
        ('{"ts":"2025-03-04T10:00:00Z","service":"x","status":200,"duration_ms":-3}', P.DURATION_INVALID),
        ('{"ts":"2025-03-04T10:00:00Z","service":"x","status":200,"duration_ms":"inf"}', P.DURATION_INVALID),
    ],
)
def test_bad_json_line_is_quarantined_with_file_line_and_reason(tmp_path, bad_line, reason):
    payload = "\n".join([GOOD_JSON, bad_line, GOOD_JSON]) + "\n"
    build, day = ingest(tmp_path, "app.jsonl", payload.encode())
    assert quarantined(day) == [("app.jsonl", 2, reason)]
    assert day.rows["source_line"].to_pylist() == [1, 3]
    row = build.index.row(0, named=True)
    assert (row["lines"], row["rows"], row["quarantined"], row["blank_lines"]) == (3, 2, 1, 0)
    raw = day.quarantine["raw"][0].as_py()
    assert raw == bad_line[:512]


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("garbage without structure", P.UNRECOGNIZED_LINE),
        ('1.2.3.4 - - [31/Feb/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 5', P.TIMESTAMP_UNPARSEABLE),
        ('1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET / HTTP/1.1" - 5', P.STATUS_NOT_INTEGER),
        ('1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET / HTTP/1.1" 700 5', P.STATUS_OUT_OF_RANGE),
        ('1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET /x/ HTTP/1.1" 200 5 "-" "ua" -0.5', P.DURATION_INVALID),
    ],
)
def test_bad_combined_line_is_quarantined(tmp_path, bad_line, reason):
    good = '1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET /shop/cart HTTP/1.1" 200 5 "-" "ua" 0.010'
    _, day = ingest(tmp_path, "access.log", ("\n".join([good, bad_line, good]) + "\n").encode())
    assert quarantined(day) == [("access.log", 2, reason)]


def test_blank_lines_crlf_and_invalid_utf8_are_handled(tmp_path):
    good = GOOD_JSON.encode()
    payload = good + b"\r\n\r\n   \r\n" + good.replace(b"/checkout/cart/42", b"/checkout/caf\xe9") + b"\r\n" + good
    build, day = ingest(tmp_path, "a.jsonl", payload)
    row = build.index.row(0, named=True)
    assert (row["lines"], row["rows"], row["blank_lines"], row["invalid_utf8_lines"], row["quarantined"]) == (5, 3, 2, 1, 0)
    assert day.rows["source_line"].to_pylist() == [1, 4, 5]
    assert day.rows["path"][1].as_py() == "/checkout/caf\ufffd"


def test_line_of_200_kilobytes_is_parsed(tmp_path):
    big = '{"ts":"2025-03-04T10:00:00Z","service":"s","method":"GET","path":"/s/x","status":200,"pad":"' + "x" * 200_000 + '"}'
    _, day = ingest(tmp_path, "big.jsonl", (GOOD_JSON + "\n" + big + "\n").encode())
    assert day.rows.num_rows == 2


def test_records_go_to_the_day_of_their_own_timestamp_across_files(tmp_path):
    lines = [
        '{"ts":"2025-03-04T23:59:59.999+00:00","service":"a","status":200}',
        '{"ts":"2025-03-05T01:00:00+02:00","service":"a","status":200}',  # 2025-03-04T23:00Z
        '{"ts":"2025-03-05T00:00:00Z","service":"a","status":500}',
        '{"ts":1741046400,"service":"a","status":200}',  # 2025-03-04T00:00:00Z (epoch s)
        '{"ts":1741132800000,"service":"a","status":200}',  # 2025-03-05T00:00:00Z (epoch ms)
    ]
    logs = tmp_path / "logs"
    logs.mkdir()
    with gzip.open(logs / "rotated.jsonl.gz", "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    build = build_index(logs, tmp_path / "stage", ParseConfig())
    fourth = assemble_day(build.index, tmp_path / "stage", day_ms("2025-03-04"))
    fifth = assemble_day(build.index, tmp_path / "stage", day_ms("2025-03-05"))
    assert fourth.rows["source_line"].to_pylist() == [1, 2, 4]
    assert fifth.rows["source_line"].to_pylist() == [3, 5]
    assert build.index["compressed"].to_list() == [True]


def test_service_from_regex_default_and_fixed(tmp_path):
    lines = [
        '1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET /shop/cart HTTP/1.1" 200 5',
        '1.2.3.4 - - [04/Mar/2025:10:00:01 +0000] "GET /favicon.ico HTTP/1.1" 404 5',
    ]
    payload = ("\n".join(lines) + "\n").encode()
    build, day = ingest(tmp_path, "access.log", payload)
    assert day.rows["service"].to_pylist() == ["shop", "unknown"]
    assert build.index["service_defaulted"].to_list() == [1]
    _, fixed = ingest(tmp_path / "f", "access.log", payload, service_source="fixed", service_name="web")
    assert fixed.rows["service"].to_pylist() == ["web", "web"]
    _, custom = ingest(tmp_path / "c", "access.log", payload, default_service="edge")
    assert custom.rows["service"].to_pylist() == ["shop", "edge"]


def test_combined_with_request_time_and_extra_quoted_fields(tmp_path):
    lines = [
        '10.0.0.1 - bob [04/Mar/2025:10:00:00 -0700] "POST /api/orders/123 HTTP/2.0" 503 12 "-" "curl/8" "1.2.3.4, 5.6.7.8" 0.250',
        '10.0.0.1 - - [04/Mar/2025:10:00:00 +0000] "GET /api/items?id=9 HTTP/1.1" 200 12 "-" "curl/8" rt=1.5 "x"',
        '10.0.0.1 - - [04/Mar/2025:10:00:00 +0000] "GET /api/items HTTP/1.1" 200 12',
    ]
    _, day = ingest(tmp_path, "access.log", ("\n".join(lines) + "\n").encode())
    rows = [(r["source_line"], r["ts"].isoformat(), r["status"], r["duration_ms"], r["operation"], r["path"]) for r in day.rows.to_pylist()]
    assert rows == [
        (1, "2025-03-04T17:00:00+00:00", 503, 250.0, "POST /api/orders/{id}", "/api/orders/123"),
        (2, "2025-03-04T10:00:00+00:00", 200, 1500.0, "GET /api/items", "/api/items"),
        (3, "2025-03-04T10:00:00+00:00", 200, None, "GET /api/items", "/api/items"),
    ]


def test_request_time_unit_is_configurable(tmp_path):
    line = '10.0.0.1 - - [04/Mar/2025:10:00:00 +0000] "GET /a/b HTTP/1.1" 200 1 "-" "ua" 250\n'
    _, day = ingest(tmp_path, "access.log", line.encode(), request_time_unit="ms")
    assert day.rows["duration_ms"].to_pylist() == [250.0]


def test_json_field_names_are_configurable(tmp_path):
    line = '{"@timestamp":"2025-03-04T10:00:00Z","app":"billing","code":502,"latency_s":0.5,"uri":"/billing/pay"}\n'
    _, day = ingest(tmp_path, "x.jsonl", line.encode(), json_fields={"ts": "@timestamp", "service": "app", "status": "code",
                                                                     "duration": "latency_s", "path": "uri"}, json_duration_unit="s")
    row = day.rows.to_pylist()[0]
    assert (row["service"], row["status"], row["duration_ms"], row["path"]) == ("billing", 502, 500.0, "/billing/pay")


def test_invalid_settings_name_the_setting():
    with pytest.raises(ConfigError, match="service_regex"):
        ParseConfig(service_regex="^/(?P<svc>[^/]+)")
    with pytest.raises(ConfigError, match="format"):
        ParseConfig(format="xml")


def test_real_apache_log_parses_completely(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "apache.log").write_bytes(APACHE_LOG.read_bytes())
    build = build_index(logs, tmp_path / "stage", ParseConfig())
    row = build.index.row(0, named=True)
    assert (row["format"], row["lines"], row["rows"], row["quarantined"]) == ("combined", 10_000, 10_000, 0)
    per_day = {}
    statuses: dict[int, int] = {}
    for day in ("2015-05-17", "2015-05-18", "2015-05-19", "2015-05-20", "2015-05-21"):
        rows = assemble_day(build.index, tmp_path / "stage", day_ms(day)).rows
        per_day[day] = rows.num_rows
        for status, count in pl.from_arrow(rows)["status"].value_counts().iter_rows():
            statuses[status] = statuses.get(status, 0) + count
    assert per_day == {"2015-05-17": 1632, "2015-05-18": 2893, "2015-05-19": 2896, "2015-05-20": 2579, "2015-05-21": 0}
    assert statuses == {200: 9126, 304: 445, 404: 213, 301: 164, 206: 45, 500: 3, 403: 2, 416: 2}
    assert row["first_ts"].isoformat() == "2015-05-17T10:05:00+00:00"
    assert row["last_ts"].isoformat() == "2015-05-20T21:05:59+00:00"


# ---------------------------------------------------------------- issue 11: B12, B13, A5, format errors


def test_timestamp_without_seconds_parses_beside_one_without_offset():
    lines = ['{"ts":"2026-10-15T12:00Z","service":"a","status":200}', '{"ts":"2026-10-15T12:00:00","service":"a","status":200}']
    result = P.parse_chunk(("\n".join(lines) + "\n").encode(), 1, "jsonl", ParseConfig())
    assert result.quarantine.height == 0
    assert [ts.isoformat() for ts in result.rows["ts"].to_list()] == ["2026-10-15T12:00:00+00:00"] * 2


def test_duplicate_key_keeps_the_first_value_on_every_path():
    dup = '{"ts":"2026-10-15T12:00:00Z","service":"a","status":200,"status":503}'
    alone = P.parse_chunk((dup + "\n").encode(), 1, "jsonl", ParseConfig())
    beside_bad = P.parse_chunk((dup + "\nnot json\n").encode(), 1, "jsonl", ParseConfig())
    careful = P.parse_chunk((dup + "\n").encode(), 1, "jsonl", ParseConfig(), fast=False)
    assert [r.rows["status"].to_list() for r in (alone, beside_bad, careful)] == [[200], [200], [200]]


@pytest.mark.parametrize(("request_time", "reason"), [
    ("12ms", P.DURATION_NOT_NUMBER), ("rt=fast", P.DURATION_NOT_NUMBER), ("NaN", P.DURATION_INVALID),
    ("inf", P.DURATION_INVALID), ("-1", P.DURATION_INVALID),
])
def test_combined_request_time_that_does_not_fit_is_quarantined(request_time, reason):
    line = f'1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET /x/ HTTP/1.1" 200 5 "-" "ua" {request_time}\n'
    result = P.parse_chunk(line.encode(), 1, "combined", ParseConfig())
    assert result.rows.height == 0
    assert result.quarantine.select("reason", "detail").rows() == [(reason, f"duration: {request_time.removeprefix('rt=')}")]


def test_combined_trailing_token_that_is_no_number_attempt_is_another_field():
    line = b'1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET /x/ HTTP/1.1" 200 5 "-" "ua" example.com\n'
    result = P.parse_chunk(line, 1, "combined", ParseConfig())
    assert result.rows["duration_ms"].to_list() == [None]


@pytest.mark.parametrize("field", ["service", "path", "method", "operation"])
@pytest.mark.parametrize("value", [{"a": 1}, [1, 2]])
@pytest.mark.parametrize("neighbour", ["", "not json\n"])
def test_object_or_array_in_a_text_field_is_quarantined(field, value, neighbour):
    record = {"ts": "2025-03-04T10:00:00Z", "service": "s", "status": 200, field: value}
    payload = (GOOD_JSON + "\n" + json.dumps(record) + "\n" + neighbour).encode()
    result = P.parse_chunk(payload, 1, "jsonl", ParseConfig())
    assert result.rows["source_line"].to_list() == [1]
    reasons = dict(zip(result.quarantine["source_line"].to_list(), result.quarantine.select("reason", "detail").rows(), strict=True))
    assert reasons[2] == (P.FIELD_NOT_TEXT, f"{field}: {json.dumps(value)}")


def test_numbers_in_text_fields_are_kept_as_written_on_every_path():
    line = b'{"ts":"2025-03-04T10:00:00Z","service":1e3,"status":200}\n'
    alone = P.parse_chunk(line, 1, "jsonl", ParseConfig())
    careful = P.parse_chunk(line + b"not json\n", 1, "jsonl", ParseConfig())
    assert alone.rows["service"].to_list() == careful.rows["service"].to_list() == ["1e3"]


def test_service_regex_that_polars_cannot_run_is_a_config_error():
    with pytest.raises(ConfigError, match="service_regex: polars' regex engine cannot run it"):
        ParseConfig(service_regex=r"^/(?P<service>(?!health)[^/]+)/")


def test_wrong_format_names_the_valid_values_and_presets():
    with pytest.raises(ConfigError, match=r"format: 'upstreaminfo' is not one of auto, jsonl, combined .*upstreaminfo.*set log_format"):
        ParseConfig(format="upstreaminfo")


def test_a_huge_integral_status_is_out_of_range_on_every_path():
    # found by the chunk-equals-lines property: the typed path read 2**53 exactly (out of range), the
    # text path refused floats from 2**53 on (not an integer)
    line = b'{"ts":"1970-01-01T00:00:00","status":9007199254740992}\n'
    for chunk in (line, line + b'{"ts":"1970-01-01T00:00:00","status":"x"}\n'):
        for fast in (True, False):
            result = P.parse_chunk(chunk, 1, "jsonl", ParseConfig(), fast=fast)
            assert result.quarantine["reason"].to_list()[0] == "status_out_of_range", (chunk, fast)


@pytest.mark.parametrize("fmt, lines", [
    ("jsonl", [b'{"ts":"2026-10-15T12:00:00Z","service":"a","status":200}', b'{"ts":"2026-10-15T12:00:01Z","service":123,"status":200}',
               b'{"ts":"2026-10-15T12:00:02Z","service":"c","status":200}', b'not json',
               b'{"ts":"2026-10-15T12:00:03Z","service":"d","status":"201"}',
               b'{"ts":"2026-10-15T12:00:04Z","service":"e","status":200}']),
    ("jsonl", [b'{"ts":"2026-10-15T12:00:00Z","service":"a","status":200}', b'{"ts":"2026-10-15T12:00:01Z","service":true,"status":200}',
               b'{"ts":"2026-10-15T12:00:02Z","service":"c","status":200}']),
    ("combined", [b'1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET /a/ HTTP/1.1" 200 5', b'garbage',
                  b'1.2.3.4 - - [04/Mar/2025:10:00:01 +0000] "GET /b/ HTTP/1.1" 503 5',
                  b'1.2.3.4 - - [04/Mar/2025:10:00:02 +0000] "GET /c/ HTTP/1.1" 201 5']),
])
def test_rows_come_in_line_order_whichever_path_read_them(fmt, lines):
    result = P.parse_chunk(b"\n".join(lines) + b"\n", 1, fmt, ParseConfig())
    numbers = result.rows["source_line"].to_list()
    assert numbers == sorted(numbers) and len(numbers) >= 3


def test_a_number_in_the_detail_is_shown_as_written_whatever_the_neighbours():
    bad = b'{"ts":"2026-10-15T12:00:00Z","service":"a","status":200,"duration_ms":-1}'
    good = b'{"ts":"2026-10-15T12:00:01Z","service":"b","status":200,"duration_ms":5}'
    for chunk in (bad + b"\n", good + b"\n" + bad + b"\n", b'"x"\n' + bad + b"\n"):
        for fast in (True, False):
            result = P.parse_chunk(chunk, 1, "jsonl", ParseConfig(), fast=fast)
            assert result.quarantine.filter(pl.col("reason") == P.DURATION_INVALID)["detail"].to_list() == ["duration: -1"], (chunk, fast)


def _clients(chunk: bytes, fmt: str, **config) -> list:
    """The client of each row, the same on the fast and the careful path."""
    found = [P.parse_chunk(chunk, 1, fmt, ParseConfig(**config), fast=fast).rows["client"].to_list() for fast in (True, False)]
    assert found[0] == found[1]
    return found[0]


def test_json_client_is_the_client_field_or_the_configured_one():
    line = '{{"ts":"2026-10-15T12:00:0{n}Z","service":"a","status":200{extra}}}'
    lines = [line.format(n=n, extra=extra) for n, extra in enumerate(
        [',"client":"10.0.0.1"', ',"client":42', ',"client":1.50', ',"client":{"ip":"x"}', ',"client":"-"', ',"client":""', "",
         ',"ip":"10.0.0.9"'])]
    chunk = ("\n".join(lines) + "\n").encode()
    # numbers as written; an object, "-", "" and an absent field are no client; the line is kept
    assert _clients(chunk, "jsonl") == ["10.0.0.1", "42", "1.50", None, None, None, None, None]
    assert _clients(chunk, "jsonl", json_fields={"client": "ip"}) == [None] * 7 + ["10.0.0.9"]


def test_text_logs_take_the_client_from_remote_addr():
    combined = b'10.1.2.3 - - [04/Mar/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 1\n- - - [04/Mar/2025:10:00:01 +0000] "GET / HTTP/1.1" 200 1\n'
    assert _clients(combined, "combined") == ["10.1.2.3", None]
    assert _clients(combined, "combined", log_format="combined") == ["10.1.2.3", None]
    nginx = b'10.1.2.3 - - [04/Mar/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" "-" 0.1\n'
    assert _clients(nginx, "combined", log_format="main") == ["10.1.2.3"]
    apache = b'10.1.2.4 [04/Mar/2025:10:00:00 +0000] "GET / HTTP/1.1" 200\n'
    assert _clients(apache, "combined", log_format='%h %t \\"%r\\" %>s') == ["10.1.2.4"]
    assert _clients(apache, "combined", log_format='%a %t \\"%r\\" %>s') == ["10.1.2.4"]
    # a format without an address has no client
    assert _clients(b'[04/Mar/2025:10:00:00 +0000] "GET / HTTP/1.1" 200\n', "combined", log_format='%t \\"%r\\" %>s') == [None]


@pytest.mark.parametrize(("name", "payload", "config"), [
    # a path regex that matches with an empty group: the real Apache log's `GET /` and `GET /?flav=rss20`
    ("access.log", '1.2.3.4 - - [04/Mar/2025:10:00:00 +0000] "GET /?flav=rss20 HTTP/1.1" 200 5 "-" "ua"\n'
                   '1.2.3.4 - - [04/Mar/2025:10:00:01 +0000] "GET /blog/x HTTP/1.1" 200 5 "-" "ua"\n',
     {"service_regex": "^/(?P<service>[^/?]*)"}),
    ("app.jsonl", '{"ts":"2025-03-04T10:00:00Z","service":"","path":"/","status":200}\n' + GOOD_JSON + "\n", {}),
])
def test_a_request_without_a_service_name_is_a_request_of_the_default_service(tmp_path, name, payload, config):
    """It was quarantined as service_empty: 576 of the real Apache log's 10,000 requests vanished from a
    site-wide SLO. A request without a name still counts, under the default service, and is counted so."""
    build, day = ingest(tmp_path, name, payload.encode(), **config)
    assert quarantined(day) == []
    assert sorted(day.rows["service"].to_pylist()) == sorted(["unknown", "blog" if name == "access.log" else "checkout"])
    assert build.index.row(0, named=True)["rows"] == 2
