"""Log formats as written in nginx and Apache configurations (issue 11, E28)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from slo_assets.ingest import parse as P
from slo_assets.ingest.config import ConfigError, ParseConfig
from slo_assets.ingest.index import build_index
from slo_assets.ingest.log_format import compile_log_format

INGRESS = Path(__file__).parents[1] / "data" / "formats" / "ingress-nginx.log"


def parse(text: str, fmt: str = "combined", **config) -> P.ChunkResult:
    return P.parse_chunk(text.encode(), 1, fmt, ParseConfig(**config))


def test_ingress_nginx_upstreaminfo_parses_every_line():
    result = P.parse_chunk(INGRESS.read_bytes(), 1, "combined", ParseConfig(log_format="upstreaminfo"))
    assert (result.lines, result.rows.height, result.quarantine.height) == (29, 29, 0)
    assert Counter(result.rows["status"].to_list()) == {200: 25, 400: 2, 502: 2}
    assert Counter(str(ts.date()) for ts in result.rows["ts"].to_list()) == {"2020-02-07": 26, "2022-08-24": 3}
    durations = result.rows["duration_ms"].to_list()
    assert (min(durations), max(durations)) == (0.0, 33.0)  # $request_time, not the upstream times
    # "PATCHp" and "geti" are no HTTP methods: the requests count (status 400), the method is null
    bad_methods = result.rows.filter(result.rows["status"] == 400)
    assert bad_methods.select("method", "path").rows() == [(None, "/products/42")] * 2
    two_upstreams = result.rows.filter(result.rows["source_line"] == 23)
    assert two_upstreams["duration_ms"].to_list() == [1.0]


def test_ingress_log_as_plain_combined_takes_the_wrong_number():
    """Why the preset exists: combined reads $request_length (89) as the request time."""
    first = INGRESS.read_text().splitlines()[0]
    assert parse(first + "\n").rows["duration_ms"].to_list() == [89_000.0]
    assert parse(first + "\n", log_format="upstreaminfo").rows["duration_ms"].to_list() == [1.0]


def test_apache_logformat_with_microseconds():
    fmt = r'%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D'
    line = '10.0.0.1 - - [04/Mar/2025:10:00:00 +0100] "GET /shop/cart?x=1 HTTP/1.1" 503 12 "-" "curl/8" 2500\n'
    result = parse(line, log_format=fmt)
    assert result.rows.select("status", "duration_ms", "path", "method", "service").rows() == [(503, 2.5, "/shop/cart", "GET", "shop")]
    assert result.rows["ts"][0].isoformat() == "2025-03-04T09:00:00+00:00"


def test_apache_seconds_and_unit_directive():
    assert parse('1.2.3.4 [04/Mar/2025:10:00:00 +0000] "GET /a/ HTTP/1.1" 200 2\n',
                 log_format='%a %t "%r" %s %T').rows["duration_ms"].to_list() == [2000.0]
    assert parse('1.2.3.4 [04/Mar/2025:10:00:00 +0000] "GET /a/ HTTP/1.1" 200 7\n',
                 log_format='%a %t "%r" %s %{ms}T').rows["duration_ms"].to_list() == [7.0]


def test_nginx_request_time_in_the_middle_and_iso_time():
    fmt = '$time_iso8601 $remote_addr $request_time "$request" $status $body_bytes_sent "$http_user_agent"'
    lines = ('2025-03-04T10:00:00+02:00 10.0.0.1 0.250 "POST /api/orders/7 HTTP/2.0" 201 3 "ua x"\n'
             '2025-03-04T10:00:01+02:00 10.0.0.1 12ms "GET /api/x HTTP/2.0" 200 3 "ua"\n'
             'something else entirely\n')
    result = parse(lines, log_format=fmt)
    assert result.rows.select("status", "duration_ms", "operation").rows() == [(201, 250.0, "POST /api/orders/{id}")]
    assert result.rows["ts"][0].isoformat() == "2025-03-04T08:00:00+00:00"
    assert result.quarantine.select("source_line", "reason", "detail").rows() == [
        (2, P.DURATION_NOT_NUMBER, "duration: 12ms"),
        (3, P.UNRECOGNIZED_LINE, "line: does not match the log_format"),
    ]


def test_upstream_response_time_of_several_upstreams_is_summed_without_request_time():
    fmt = '$msec "$request_method" "$uri" $status $upstream_response_time'
    lines = ('1741082400.125 "GET" "/a/b" 200 0.100, 0.004\n'
             '1741082400.500 "GET" "/a/b" 502 -, 0.010 : 0.002\n'
             '1741082401.000 "GET" "/a/b" 200 -\n')
    result = parse(lines, log_format=fmt)
    assert [round(d, 6) if d is not None else None for d in result.rows["duration_ms"].to_list()] == [104.0, 12.0, None]
    assert result.rows["ts"][0].isoformat() == "2025-03-04T10:00:00.125000+00:00"


def test_main_preset_has_a_trailing_request_time():
    line = '10.0.0.1 - - [04/Mar/2025:10:00:00 +0000] "GET /a/b HTTP/1.1" 200 5 "-" "ua" "1.2.3.4" 0.042\n'
    assert parse(line, log_format="main").rows["duration_ms"].to_list() == [42.0]


@pytest.mark.parametrize(("fmt", "named"), [
    ("$remote_addr [$time_local] $status $no_such_thing", r"unknown nginx variable \$no_such_thing"),
    ('%h %t "%r" %>s %Z', "unknown Apache directive %Z"),
    ("$remote_addr $request", "no time variable"),
    ("[$time_local] $status$request_time", r"\$status and \$request_time need a separator"),
    ("nonsense", "neither a preset"),
])
def test_bad_log_format_is_a_config_error_naming_it(fmt, named):
    with pytest.raises(ConfigError, match="log_format: .*" + named):
        ParseConfig(log_format=fmt)


def test_log_format_with_jsonl_format_is_a_contradiction():
    with pytest.raises(ConfigError, match="log_format"):
        ParseConfig(format="jsonl", log_format="upstreaminfo")


def test_log_format_changes_the_stage_key_and_is_compiled_once():
    assert ParseConfig(log_format="upstreaminfo").fingerprint() != ParseConfig().fingerprint()
    assert compile_log_format("upstreaminfo") is compile_log_format("upstreaminfo")


def test_auto_format_reads_json_files_as_json_and_others_with_the_log_format(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "ingress.log").write_bytes(INGRESS.read_bytes())
    (logs / "app.jsonl").write_text('{"ts":"2020-02-07T12:00:00Z","service":"a","status":200,"duration_ms":5}\n')
    build = build_index(logs, tmp_path / "stage", ParseConfig(log_format="upstreaminfo"))
    counts = {row["path"]: (row["rows"], row["quarantined"]) for row in build.index.iter_rows(named=True)}
    assert counts == {"app.jsonl": (1, 0), "ingress.log": (29, 0)}
