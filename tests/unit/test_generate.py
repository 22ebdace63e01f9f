"""The sample log generator: deterministic, realistic, and truthful about what it wrote."""

from __future__ import annotations

import gzip
import json

import polars as pl

from slo_assets.cli import main
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.index import build_index


def _contents(folder):
    return {p.name: (gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()) for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert main(["generate-logs", str(tmp_path / name), "--month", "2026-02", "--events", "5000", "--seed", str(seed)]) == 0
    assert _contents(tmp_path / "a") == _contents(tmp_path / "b")
    assert _contents(tmp_path / "a") != _contents(tmp_path / "c")


def test_truth_matches_what_the_parser_reads(tmp_path):
    out = tmp_path / "logs"
    main(["generate-logs", str(out), "--month", "2026-02", "--events", "30000", "--format", "combined", "--seed", "3",
          "--malformed-ratio", "0.01"])
    truth = json.loads((out / "_truth.json").read_text())
    assert sum(truth["by_day"].values()) == truth["events"] == 30_000
    assert len(truth["by_day"]) == 28
    assert [i["kind"] for i in truth["incidents"]] == ["error_burst", "error_burst", "latency_spike", "error_burst"]
    build = build_index(out, tmp_path / "stage", ParseConfig())
    index = build.index.filter(pl.col("status") == "read")  # the index also lists skipped entries (_truth.json)
    assert set(index["format"]) == {"combined"}
    assert index["rows"].sum() == 30_000
    assert index["quarantined"].sum() == truth["malformed_lines"] > 0
    assert sorted(index["path"]) == sorted(truth["files"])
    # Rotated files span two UTC days, older ones are gzipped, the live one is not.
    assert index.filter(pl.col("first_ts").dt.date() != pl.col("last_ts").dt.date()).height >= 26
    assert index.filter(pl.col("path") == "access.log")["compressed"].to_list() == [False]
    assert index["compressed"].sum() == len(truth["files"]) - 2  # logrotate delaycompress: newest rotated + live stay plain


def test_incidents_are_visible_in_the_data(tmp_path):
    out = tmp_path / "logs"
    main(["generate-logs", str(out), "--month", "2026-02", "--events", "100000", "--seed", "9", "--no-compress"])
    truth = json.loads((out / "_truth.json").read_text())
    rows = pl.concat([pl.read_ndjson(p) for p in sorted(out.glob("access*"))])
    rows = rows.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))
    burst = next(i for i in truth["incidents"] if i["kind"] == "error_burst" and i["service"] == "checkout")
    window = rows.filter(
        (pl.col("service") == "checkout")
        & pl.col("ts").is_between(pl.lit(burst["start"]).str.to_datetime(time_zone="UTC"),
                                  pl.lit(burst["end"]).str.to_datetime(time_zone="UTC"), closed="left")
    )
    share_5xx = (window["status"] >= 500).mean()
    assert abs(share_5xx - burst["error_share"]) < 0.1
    outside = rows.filter(pl.col("service") == "checkout", ~pl.col("ts").is_in(window["ts"].implode()))
    assert (outside["status"] >= 500).mean() < 0.005
    assert truth["by_service"]["checkout"]["status_5xx"] == int((rows.filter(pl.col("service") == "checkout")["status"] >= 500).sum())
