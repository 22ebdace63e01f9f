"""A request whose log format records no time is no event of a latency SLI: it can be judged neither
fast nor slow (counted bad, a log without request times failed every latency SLO and paged)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from slo_assets.openslo.spec import load_specs
from slo_assets.slo.sli import selected_counts

SPEC = Path(__file__).resolve().parents[1] / "data" / "matrix" / "slos.yaml"


def test_requests_without_a_duration_are_not_latency_events_but_count_for_availability():
    slos = {slo.name: slo for slo in load_specs([SPEC]).slos}
    rows = pl.DataFrame({
        "ts": [datetime(2026, 11, 2, 10, m, tzinfo=UTC) for m in range(4)],
        "service": ["site"] * 4, "operation": ["GET /site/page/{id}"] * 4, "status": [200, 200, 503, 200],
        "duration_ms": [120.0, None, None, 900.0],
    })
    counts = selected_counts(rows, [slos["site-latency"], slos["site-availability"]])
    assert counts == {"site-latency": 2, "site-availability": 4}
    good = rows.filter(slos["site-latency"].indicator.good_expr()).height
    assert good == 1  # 120 ms is good, 900 ms is bad, the two without a time are neither


def test_month_latency_file_is_written_streaming_with_the_bytes_of_the_whole_frame(tmp_path):
    """sli_latency_monthly is the latency SLOs' rows of every day file, in day order: written a row
    group at a time it is the very file writing the concatenated frame gave (same data version)."""
    import numpy as np

    from slo_assets.slo.quantiles import write_value_counts
    from slo_assets.slo.sli import LATENCY_SCHEMA
    from slo_assets.warehouse.storage import Warehouse

    store = Warehouse(tmp_path)
    rng = np.random.default_rng(3)
    days = []
    for day in range(1, 5):
        parts = [pl.DataFrame({"slo": slo, "duration_ms": rng.random(n), "count": rng.integers(1, 9, n)}, schema=LATENCY_SCHEMA)
                 for slo, n in (("api-availability", 700), ("api-latency", 300 * day), ("web-latency", 0 if day == 2 else 450))]
        days.append(pl.concat(parts))
        store.write_table(store.path("sli_latency", f"2026-10-0{day}.parquet"), days[-1].to_arrow(), row_group_size=256)
    files = [store.path("sli_latency", f"2026-10-0{day}.parquet") for day in range(1, 7)]  # days 5 and 6 missing
    latency_slos = ["web-latency", "api-latency"]
    whole = pl.concat(days).filter(pl.col("slo").is_in(latency_slos))
    target = store.path("sli_latency_monthly", "2026-10.parquet")
    expected = store.write_table(store.path("expected.parquet"), whole.to_arrow())
    assert write_value_counts(store, target, files, latency_slos) == (*expected, whole.height)
    assert pl.read_parquet(str(target)).equals(whole)
    empty = store.write_table(store.path("empty.parquet"), pl.DataFrame(schema=LATENCY_SCHEMA).to_arrow())
    assert write_value_counts(store, target, [], latency_slos) == (*empty, 0)


def test_streamed_parquet_has_the_bytes_of_one_write_for_any_split():
    """Warehouse.write_tables cuts the rows into the same row groups as write_table of the whole."""
    import tempfile

    import numpy as np

    from slo_assets.warehouse.storage import Warehouse

    store = Warehouse(tempfile.mkdtemp())
    rng = np.random.default_rng(5)
    whole = pl.DataFrame({"slo": rng.choice(["a", "b"], 3000), "duration_ms": rng.random(3000), "count": rng.integers(1, 5, 3000)})
    for cuts, row_group_size in (([0, 3000], 1000), ([0, 1, 999, 1000, 2500, 3000], 1000), ([0, 0, 3000, 3000], 256_000), ([0, 7, 3000], 7)):
        pieces = [whole.slice(a, b - a).to_arrow() for a, b in zip(cuts, cuts[1:], strict=False)]
        one = store.write_table(store.path("one.parquet"), whole.to_arrow(), row_group_size=row_group_size)
        assert store.write_tables(store.path("streamed.parquet"), whole.to_arrow().schema, pieces, row_group_size) == one


def test_a_days_latency_value_counts_come_out_in_one_order_every_time():
    """The day's sli_latency file is the same bytes at every run: polars gives groups in a different order
    from run to run, so the value counts are sorted (the S3 warehouse test saw 28 day files differ)."""
    import numpy as np

    from slo_assets.slo.sli import day_inputs

    slos = [slo for slo in load_specs([SPEC]).slos if slo.name == "site-latency"]
    rng = np.random.default_rng(7)
    n = 60_000
    rows = pl.DataFrame({
        "ts": [datetime(2026, 11, 2, tzinfo=UTC)] * n, "service": ["site"] * n, "operation": ["GET /site/page/{id}"] * n,
        "status": [200] * n, "duration_ms": rng.integers(0, 20_000, n).astype(float),
    })
    frames = [day_inputs(rows, slos).latency for _ in range(5)]
    assert all(frame.equals(frames[0]) for frame in frames[1:])
    assert frames[0]["duration_ms"].is_sorted() and frames[0]["count"].sum() == n
