"""A request whose log format records no time is no event of a latency SLI: it can be judged neither
fast nor slow (counted bad, a log without request times failed every latency SLO and paged)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from slo_assets.slo.sli import selected_counts
from slo_assets.slo.spec import load_specs

SPEC = Path(__file__).resolve().parent / "data" / "matrix" / "slos.yaml"


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
