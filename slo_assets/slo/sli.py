"""SLI inputs from parsed requests: per SLO per minute good/total, latency value counts, per operation.

One polars pass over a day computes every SLO's masks, so adding SLOs costs columns, not scans.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from slo_assets.openslo.spec import Slo
from slo_assets.slo.quantiles import VALUE_COUNT_SCHEMA, frame_chunks, quantiles_by_slo
from slo_assets.slo.values import FrameSchema

MINUTE_SCHEMA: FrameSchema = {"slo": pl.String, "minute": pl.Datetime("ms", "UTC"), "good": pl.Int64, "total": pl.Int64, "server_errors": pl.Int64}
# A day's sli_minutely file: the minute rows and `untimed`, the requests a latency SLO selects that carry no
# request time (no event of it; 0 for other SLOs), which only the window evaluation reads. A file written
# before the column lacks it: read_days reads it as null, and a null or a frame without it is 0 (units.untimed_in).
MINUTE_FILE_SCHEMA: FrameSchema = {**MINUTE_SCHEMA, "untimed": pl.Int64}
LATENCY_SCHEMA = VALUE_COUNT_SCHEMA  # defined beside the code that streams them
OPERATION_SCHEMA: FrameSchema = {"slo": pl.String, "operation": pl.String, "status": pl.Int32, "good": pl.Int64, "total": pl.Int64}


@dataclass
class DayInputs:
    minutes: pl.DataFrame  # slo, minute, good, total, server_errors, untimed (only minutes with an event or an untimed request)
    latency: pl.DataFrame  # slo, duration_ms, count (exact value counts of the total events' durations)
    operations: pl.DataFrame  # slo, operation, status, good, total


def needed_columns(slos: list[Slo]) -> list[str]:
    """Parsed columns the SLI inputs read: the fixed ones and whatever the filters use."""
    fields = {field for slo in slos for f in (slo.indicator.total, slo.indicator.good, slo.indicator.bad) if f for field in f.fields()}
    return sorted({"ts", "operation", "status", "duration_ms"} | fields)


def day_inputs(rows: pl.DataFrame | pl.LazyFrame, slos: list[Slo]) -> DayInputs:
    frame = rows.lazy() if isinstance(rows, pl.DataFrame) else rows
    flags = []
    for i, slo in enumerate(slos):
        flags += [slo.indicator.total_expr().alias(f"t{i}"), slo.indicator.good_expr().alias(f"g{i}"),
                  slo.indicator.untimed_expr().alias(f"u{i}")]
    flagged = frame.select(pl.col("ts").dt.truncate("1m").alias("minute"), "operation", "status", "duration_ms", *flags).collect().lazy()
    server_error = pl.col("status") >= 500
    minute_aggs = []
    for i in range(len(slos)):
        minute_aggs += [
            pl.col(f"t{i}").sum().alias(f"total{i}"),
            pl.col(f"g{i}").sum().alias(f"good{i}"),
            (pl.col(f"t{i}") & server_error).sum().alias(f"err{i}"),
            pl.col(f"u{i}").sum().alias(f"untimed{i}"),
        ]
    queries = [flagged.group_by("minute").agg(minute_aggs)]
    for i, slo in enumerate(slos):
        selected = flagged.filter(pl.col(f"t{i}"))
        queries.append(
            selected.filter(pl.col("duration_ms").is_not_null())
            .group_by("duration_ms").agg(pl.len().cast(pl.Int64).alias("count"))
            .sort("duration_ms")  # polars' group order changes from run to run: the day's file must not
            .select(pl.lit(slo.name).alias("slo"), "duration_ms", "count")
        )
        queries.append(
            selected.group_by("operation", "status")
            .agg(pl.col(f"g{i}").sum().cast(pl.Int64).alias("good"), pl.len().cast(pl.Int64).alias("total"))
            .select(pl.lit(slo.name).alias("slo"), "operation", pl.col("status").cast(pl.Int32), "good", "total")
        )
    per_minute, *per_slo = pl.collect_all(queries)  # independent queries, run in parallel
    per_minute = per_minute.sort("minute")
    minutes = [
        per_minute.select(
            pl.lit(slo.name).alias("slo"), "minute",
            pl.col(f"good{i}").cast(pl.Int64).alias("good"), pl.col(f"total{i}").cast(pl.Int64).alias("total"),
            pl.col(f"err{i}").cast(pl.Int64).alias("server_errors"), pl.col(f"untimed{i}").cast(pl.Int64).alias("untimed"),
        ).filter((pl.col("total") > 0) | (pl.col("untimed") > 0))  # a minute of untimed requests only is kept: it says why there is no event
        for i, slo in enumerate(slos)
    ]
    latency, operations = per_slo[0::2], per_slo[1::2]
    return DayInputs(
        minutes=pl.concat(minutes) if minutes else pl.DataFrame(schema=MINUTE_FILE_SCHEMA),
        latency=pl.concat(latency) if latency else pl.DataFrame(schema=LATENCY_SCHEMA),
        operations=pl.concat(operations).sort("slo", "operation", "status") if operations else pl.DataFrame(schema=OPERATION_SCHEMA),
    )


def selected_counts(rows: pl.DataFrame, slos: list[Slo]) -> dict[str, int]:
    """Rows each SLO's total filter selects, counted by a plain filter (the check's independent path)."""
    return {slo.name: rows.filter(slo.indicator.total_expr()).height for slo in slos}


def exact_quantiles(values: npt.ArrayLike, counts: npt.ArrayLike, quantiles: tuple[float, ...]) -> list[float | None]:
    """Quantiles of the multiset {value repeated count}, linear interpolation between closest ranks
    (numpy's default 'linear' method): rank h = (n - 1) q, x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
    The month's quantiles use the same code over many day files (slo_assets.slo.quantiles)."""
    frame = pl.DataFrame({"slo": "", "duration_ms": np.asarray(values, dtype=float), "count": np.asarray(counts, dtype=np.int64)},
                         schema=LATENCY_SCHEMA)
    return list(quantiles_by_slo([frame_chunks(frame)], {"": quantiles})[""].values)
