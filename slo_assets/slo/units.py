"""Minute rows as dense numpy series, and the budget units an SLO counts in them.

Occurrences count events; Timeslices and RatioTimeslices count slices of `time_slice_minutes`,
each placed at its last minute, so that every series of one window shares the minute index.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np
import polars as pl

from slo_assets.core.calendar import MINUTE_MS
from slo_assets.openslo.spec import Objective
from slo_assets.slo.values import BoolArray, IntArray, UnitArray


def by_slo(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """One pass splitting a frame with an `slo` column, instead of one filter per SLO."""
    return {key[0]: part for key, part in frame.partition_by("slo", as_dict=True).items()} if frame.height else {}


def dense(part: pl.DataFrame | None, start_ms: int, end_ms: int) -> tuple[IntArray, IntArray, IntArray]:
    """good, total and server errors per minute over [start, end) from one SLO's minute rows; zeros where no traffic."""
    size = max(0, (end_ms - start_ms) // MINUTE_MS)
    good = np.zeros(size, dtype=np.int64)
    total = np.zeros(size, dtype=np.int64)
    errors = np.zeros(size, dtype=np.int64)
    if part is not None and part.height:
        index = ((part["minute"].dt.epoch("ms").to_numpy() - start_ms) // MINUTE_MS).astype(np.int64)
        keep = (index >= 0) & (index < size)
        np.add.at(good, index[keep], part["good"].to_numpy()[keep])
        np.add.at(total, index[keep], part["total"].to_numpy()[keep])
        np.add.at(errors, index[keep], part["server_errors"].to_numpy()[keep])
    return good, total, errors


def untimed_in(part: pl.DataFrame | None, start_ms: int, end_ms: int) -> int:
    """A latency SLO's requests without a request time in [start, end) from its minute rows; rows
    without the column (a day file written before it, live mode's minutes) or a null in it count 0."""
    if part is None or "untimed" not in part.columns or not part.height:
        return 0
    epoch = part["minute"].dt.epoch("ms")
    return int(part.filter((epoch >= start_ms) & (epoch < end_ms))["untimed"].fill_null(0).sum())


@dataclass
class Units:
    """Budget units per minute: events (Occurrences) or slices placed at their last minute."""

    good: UnitArray
    total: UnitArray
    slices: int = 0
    empty_counted_good: int = 0  # the window's slices without a request that count good


def slice_target(objective: Objective) -> Fraction:
    """A Timeslices objective's slice target (timeSliceTarget) as an exact fraction."""
    if objective.time_slice_target is None:
        raise ValueError(f"objective {objective.key}: a Timeslices objective needs a timeSliceTarget")
    return Fraction(objective.time_slice_target)


def units(method: str, objective: Objective, good: UnitArray, total: UnitArray, excluded: BoolArray,
          window_offset: int = 0) -> Units:
    """Budget units per minute. Slices are cut from the window start (minute `window_offset`; the
    minutes before it are the replay's lookback), and `slices`/`empty_counted_good` count only the
    window's own slices: the lookback feeds the burn-rate windows, never the window's totals.

    A slice wholly in maintenance is no unit. Under a ratio an empty slice has no failed request and
    counts good; under a throughput objective (`objective.op`) an empty slice has rate 0, judged as
    any other, and a partly excluded slice's rate is over its live minutes only. A throughput is
    measured from the series' first request on: the minutes before it (before the logs begin, e.g.
    the lookback of the first month loaded) are no slices, so they never page."""
    good = np.where(excluded, 0, good)
    total = np.where(excluded, 0, total)
    if method == "Occurrences":
        return Units(good, total)
    width = objective.time_slice_minutes
    lead = window_offset % width  # lookback minutes before the first whole slice aligned to the window start
    count = (len(total) - lead) // width
    cut = slice(lead, lead + count * width)
    g = good[cut].reshape(count, width).sum(axis=1)
    t = total[cut].reshape(count, width).sum(axis=1)
    measured = ~excluded
    if objective.op is not None:
        seen = np.flatnonzero(total)
        measured = measured & (np.arange(len(total)) >= (seen[0] if len(seen) else len(total)))
    live_minutes = measured[cut].reshape(count, width).sum(axis=1)
    live = live_minutes > 0
    empty = (t == 0) & live
    good_units: UnitArray
    if objective.op is not None:  # throughput: the slice's request rate against the threshold
        slice_good = objective.slice_good(t, live_minutes)
        good_units = (slice_good & live).astype(np.int64)
        empty = empty & slice_good
    elif method == "Timeslices":
        ratio = slice_target(objective)
        slice_good = (t == 0) | (g * ratio.denominator >= t * ratio.numerator)
        good_units = (slice_good & live).astype(np.int64)
    else:  # RatioTimeslices: each slice contributes its ratio; an empty slice counts as good
        good_units = np.where(t > 0, g / np.where(t > 0, t, 1), 1.0) * live
    good_out = np.zeros(len(total), dtype=good_units.dtype)
    total_out: UnitArray = np.zeros(len(total), dtype=np.int64) if method == "Timeslices" else np.zeros(len(total), dtype=float)
    last = lead + np.arange(count) * width + width - 1
    good_out[last] = good_units
    total_out[last] = live.astype(total_out.dtype)
    in_window = last >= window_offset
    return Units(good_out, total_out, int(live[in_window].sum()), int(empty[in_window].sum()))


def exact_decimal(value: float | np.integer | np.floating) -> Decimal:
    """A sum of units as an exact decimal: integral as an integer, else the float's shortest repr."""
    return Decimal(int(value)) if float(value).is_integer() else Decimal(repr(float(value)))
