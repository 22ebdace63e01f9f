"""The SLO windows as time series for the charts (budget_series): one row per 5-minute bucket of a
window, with its good and total budget units, the budget left and the 1h and 6h burn rates.

`series_columns` computes one window's columns as numpy arrays, `series_frame` joins every window's
into one frame keyed by (slo, objective, window), and `by_window` splits such a frame again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from slo_assets.core.calendar import MINUTE_MS
from slo_assets.slo import budget as B
from slo_assets.slo.values import FrameSchema
from slo_assets.slo.windows import WindowData

SERIES_STEP_MINUTES = 5
SERIES_SCHEMA: FrameSchema = {"ts": pl.Int64, "good": pl.Float64, "total": pl.Float64, "remaining_ratio": pl.Float64,
                 "burn_1h": pl.Float64, "burn_6h": pl.Float64}
SERIES_KEYS = ("slo", "objective", "window")

WindowKey = tuple[str, str, str]  # (slo, objective, window)
SeriesColumns = dict[str, npt.NDArray[np.number[Any]]]  # SERIES_SCHEMA's columns: ts as int64, the figures as float64


def by_window(series: pl.DataFrame) -> dict[WindowKey, pl.DataFrame]:
    """Chart series (evaluate_with_series) split by (slo, objective, window) in one pass. Each window's
    rows are contiguous there (and in budget_series read back), so each part is a zero-copy slice;
    partition_by (which copies every part) only when they are not."""
    if not series.height:
        return {}
    runs = (series.select(*SERIES_KEYS).with_row_index("row").group_by(*SERIES_KEYS, maintain_order=True)
            .agg(pl.col("row").first().alias("first"), pl.col("row").last().alias("last"), pl.len().alias("rows")))
    if not (runs["last"] - runs["first"] + 1 == runs["rows"]).all():
        return {(slo, objective, window): part
                for (slo, objective, window), part in series.partition_by(*SERIES_KEYS, as_dict=True).items()}
    return {(slo, objective, window): series.slice(first, rows)
            for slo, objective, window, first, _, rows in runs.iter_rows()}


def window_series(data: WindowData, target: Decimal, step_minutes: int = SERIES_STEP_MINUTES) -> pl.DataFrame:
    """The window as a time series for charts, one row per `step_minutes` bucket from the window start:
    good and total budget units, remaining budget (1 - bad so far / budget allowed at the data end)
    and the 1h and 6h burn rates at the bucket's last minute."""
    return pl.DataFrame(series_columns(data, target, step_minutes), schema=SERIES_SCHEMA)


def series_columns(data: WindowData, target: Decimal, step_minutes: int = SERIES_STEP_MINUTES) -> SeriesColumns:
    """window_series' columns as numpy arrays (empty when the window has no minute)."""
    u, offset = data.units, data.offset
    g_win, t_win = u.good[offset:].astype(float), u.total[offset:].astype(float)
    size = len(t_win)
    if size == 0:
        return {name: np.zeros(0, dtype=np.int64) if name == "ts" else np.zeros(0, dtype=float) for name in SERIES_SCHEMA}
    bucket = np.arange(size) // step_minutes
    count = int(bucket[-1]) + 1
    good = np.bincount(bucket, weights=g_win, minlength=count)
    total = np.bincount(bucket, weights=t_win, minlength=count)
    allowed = float(t_win.sum()) * float(1 - target)
    bad_so_far = np.cumsum(total - good)
    remaining = 1 - bad_so_far / allowed if allowed > 0 else np.full(count, np.nan)
    last = np.minimum((np.arange(count) + 1) * step_minutes, size) - 1 + offset
    burn = {label: data.sums.burn_rate(target, B.BURN_WINDOWS_MINUTES[label])[last] for label in ("1h", "6h")}
    return {"ts": data.win_start + np.arange(count, dtype=np.int64) * step_minutes * MINUTE_MS,
            "good": good, "total": total, "remaining_ratio": remaining, "burn_1h": burn["1h"], "burn_6h": burn["6h"]}


def series_frame(keys: list[WindowKey], columns: list[SeriesColumns]) -> pl.DataFrame:
    """Every window's series in one frame (slo, objective, window, then SERIES_SCHEMA's columns), in
    the windows' order. The key columns are gathered by window number, not broadcast per window."""
    lengths = np.array([len(c["ts"]) for c in columns], dtype=np.int64)
    number = pl.Series(np.repeat(np.arange(len(keys), dtype=np.int64), lengths))
    key_columns = {name: pl.Series(name, [k[i] for k in keys], dtype=pl.String).gather(number) if keys else pl.Series(name, [], pl.String)
                   for i, name in enumerate(SERIES_KEYS)}
    values = {name: np.concatenate([c[name] for c in columns]) if columns else np.zeros(0) for name in SERIES_SCHEMA}
    schema: FrameSchema = {k: pl.String for k in key_columns}
    return pl.DataFrame({**key_columns, **values}, schema=schema | SERIES_SCHEMA)
