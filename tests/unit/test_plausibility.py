"""Implausible fields are caught (the issue: ingress-nginx lines read as combined took $request_length
for the request time, 0 to 450 s where the requests took 0-33 ms, with exit 0 and no warning): a day's
rows are judged for misread request times and statuses, naming the preset to try."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.plausibility import (
    BYTE_COUNTS,
    MEDIAN_OVER_LIMIT,
    NO_REQUEST_TIME,
    STATUS_OUTSIDE,
    LineSample,
    judge_day,
)

DATA = Path(__file__).parents[1] / "data"
APACHE = DATA / "real" / "apache_logs"


def _ingress_lines(count: int) -> tuple[tuple[str, ...], list[int]]:
    """upstreaminfo lines (request_length 300+i, request_time 1-40 ms), and their request lengths."""
    lengths = [300 + 7 * i for i in range(count)]
    lines = tuple(
        f'10.0.0.{i} - - [07/Feb/2020:11:{i:02d}:00 +0000] "GET /shop/items/{i} HTTP/1.1" 200 {59 + i} "-" "curl/8" '
        f"{length} 0.{(i % 40) + 1:03d} [default-shop-80] [] 10.1.0.5:8080 {59 + i} 0.001 200 id{i}"
        for i, length in enumerate(lengths))
    return lines, lengths


def _rows(durations: list[float | None], statuses: list[int] | None = None, service: str = "shop", file: str = "access.log") -> pl.DataFrame:
    return pl.DataFrame({"source_file": [file] * len(durations), "service": [service] * len(durations),
                         "status": statuses or [200] * len(durations), "duration_ms": durations},
                        schema={"source_file": pl.String, "service": pl.String, "status": pl.Int32, "duration_ms": pl.Float64})


def test_request_length_read_as_seconds_is_caught_naming_upstreaminfo():
    lines, lengths = _ingress_lines(30)
    misread = _rows([length * 1000.0 for length in lengths])  # combined's reading: $request_length as seconds
    sample = LineSample("access.log", "combined", lines)
    findings = judge_day(misread, ParseConfig(log_format="combined"), {"access.log": sample})
    assert [(f.source, f.field, f.problem, f.preset) for f in findings] == [
        ("access.log", "duration_ms", MEDIAN_OVER_LIMIT, "upstreaminfo"),
        ("access.log", "duration_ms", BYTE_COUNTS, "upstreaminfo"),
    ]
    assert findings[0].figures == "median 401.5 s over 30 requests (over 60 s)"
    assert findings[1].figures == "30 of 30 sampled request times are whole numbers equal to their line's byte count $request_length"
    assert "try --log-format upstreaminfo" in findings[0].message()


def test_byte_counts_as_durations_are_caught_even_under_a_minute():
    """Small requests: $request_length of 10-40 bytes read as 10-40 s, a median under the limit."""
    lines = tuple(line.replace(f" {300 + 7 * i} 0.", f" {10 + i} 0.") for i, line in enumerate(_ingress_lines(30)[0]))
    misread = _rows([(10 + i) * 1000.0 for i in range(30)])
    findings = judge_day(misread, ParseConfig(), {"access.log": LineSample("access.log", "combined", lines)})
    assert [(f.problem, f.preset) for f in findings] == [(BYTE_COUNTS, "upstreaminfo")]


def test_statuses_mostly_outside_100_599_are_caught():
    rows = _rows([5.0] * 4, [200, 200, 503, 200])
    findings = judge_day(rows, ParseConfig(), status_rejected={"access.log": 26})  # quarantined as status_out_of_range
    assert [(f.field, f.problem, f.figures, f.preset) for f in findings] == [
        ("status", STATUS_OUTSIDE, "26 of 30 lines have a status outside 100-599", None)]
    assert findings[0].message().endswith("no preset reads its lines plausibly: give the format with --log-format (docs/log-formats.md)")


def test_a_sane_day_passes():
    lines, _ = _ingress_lines(30)
    rows = _rows([float((i % 40) + 1) for i in range(30)], [200] * 28 + [502, 404])
    sample = LineSample("access.log", "upstreaminfo", lines)
    assert judge_day(rows, ParseConfig(), {"access.log": sample}, {"access.log": 1}, latency_services=["shop"]) == []
    slow = _rows([90_000.0] * 3 + [20.0] * 27)  # a few slow requests move no median
    assert judge_day(slow, ParseConfig()) == []


def test_a_latency_service_without_any_request_time_is_caught():
    apache = tuple(APACHE.read_text().splitlines()[:50])
    rows = pl.concat([_rows([None] * 50, file="apache_logs"), _rows([None] * 5, service="static", file="apache_logs")])
    samples = {"apache_logs": LineSample("apache_logs", "combined", apache)}
    findings = judge_day(rows, ParseConfig(), samples, latency_services=["shop"])
    assert [(f.source, f.field, f.problem, f.preset) for f in findings] == [("service shop", "duration_ms", NO_REQUEST_TIME, None)]
    assert findings[0].figures == "none of the 50 requests of shop has a request time (in apache_logs): its latency SLO counts none of them"
    assert "log one ($request_time, %D)" in findings[0].message()
    assert judge_day(rows, ParseConfig(), samples, latency_services=["static-latency-free"]) == []
    no_time = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $http_rest'  # the rest skipped
    ingress, _ = _ingress_lines(20)
    findings = judge_day(_rows([None] * 20), ParseConfig(log_format=no_time), {"access.log": LineSample("access.log", "combined", ingress)},
                         latency_services=["shop"])
    assert [(f.problem, f.preset) for f in findings] == [(NO_REQUEST_TIME, "upstreaminfo")]  # the preset whose lines have a time
