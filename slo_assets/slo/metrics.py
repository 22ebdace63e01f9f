"""The month's SLI metrics (sli_metrics): per SLO over the elapsed month its good and total events,
SLI, availability, exact latency quantiles and per-objective timeslice SLIs; and the breakdown per
operation.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from slo_assets.openslo import adjustments as A
from slo_assets.openslo.spec import Slo, SpecSet
from slo_assets.slo import budget as B
from slo_assets.slo.period import Period
from slo_assets.slo.quantiles import Chunks, Quantiles, latency_sources, quantiles_by_slo
from slo_assets.slo.units import by_slo, dense, exact_decimal, units
from slo_assets.slo.values import FrameSchema, JsonObject
from slo_assets.slo.windows import Settings, slo_adjustments

QUANTILES = (0.5, 0.95, 0.99)
METRICS_SCHEMA: FrameSchema = {
    "sli": pl.Float64, "availability": pl.Float64, "latency_p50_ms": pl.Float64, "latency_p95_ms": pl.Float64,
    "latency_p99_ms": pl.Float64, "timeslice_sli": pl.String}


def _metrics_record(slo: Slo, part: pl.DataFrame | None, latency: Quantiles, period: Period, settings: Settings) -> JsonObject:
    """One SLO's row of the metrics over the period's elapsed minutes."""
    raw_good, raw_total, errors = dense(part, period.start_ms, period.as_of_ms)
    good, total, effects = A.adjusted(raw_good, raw_total, slo_adjustments(slo, settings), period.start_ms)
    p50, p95, p99 = latency.values
    record: JsonObject = {
        "slo": slo.name, "service": slo.service, "kind": slo.indicator.kind(), "budgeting_method": slo.budgeting_method,
        "good": int(good.sum()), "total": int(total.sum()),
        "sli": B.as_number(B.sli(int(good.sum()), int(total.sum()))),
        "adjusted_events": int(raw_total[effects.excluded | effects.counted_good].sum()),
        "availability": B.as_number(B.sli(int(raw_total.sum() - errors.sum()), int(raw_total.sum()))),
        "latency_p50_ms": p50, "latency_p95_ms": p95, "latency_p99_ms": p99,
        "latency_samples": latency.samples,
        "minutes_with_traffic": int((raw_total > 0).sum()),
    }
    slices = {}
    if slo.budgeting_method != "Occurrences":
        for objective in slo.objectives:
            u = units(slo.budgeting_method, objective, good, raw_total, effects.excluded)
            slices[objective.key] = B.as_number(B.sli(exact_decimal(u.good.sum()), exact_decimal(u.total.sum())))
    record["timeslice_sli"] = str(slices) if slices else None
    return record


def sli_metrics(specs: SpecSet, minutes: pl.DataFrame, latency: pl.DataFrame | Sequence[Chunks], operations: pl.DataFrame,
                period: Period, settings: Settings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per SLO over the elapsed month: good, total, SLI, availability, exact p50/p95/p99, timeslice
    SLIs per objective; and the per-operation breakdown. `latency`: the month's value counts, a frame
    or (in bounded memory) one source per day file (slo_assets.slo.quantiles.parquet_chunks)."""
    minute_parts = by_slo(minutes)
    latencies = quantiles_by_slo(latency_sources(latency), {slo.name: QUANTILES for slo in specs.slos})
    records = [_metrics_record(slo, minute_parts.get(slo.name), latencies[slo.name], period, settings) for slo in specs.slos]
    metrics = pl.DataFrame(records, schema_overrides=METRICS_SCHEMA)
    by_operation = (
        operations.group_by("slo", "operation")
        .agg(pl.col("good").sum(), pl.col("total").sum(), pl.col("total").filter(pl.col("status") >= 500).sum().alias("server_errors"))
        .with_columns((pl.col("good") / pl.col("total")).alias("sli"), (pl.col("total") - pl.col("good")).alias("bad"))
        .sort("slo", "bad", "operation", descending=[False, True, False])  # ties by name: the same bytes every run
    )
    return metrics, by_operation
