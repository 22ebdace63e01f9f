"""One SLO window's minutes: its bounds in the period, its budget units from the replay's first minute
(the lookback included), its budget adjustments, and how much of it was measured.

`window_data` builds a measured SLO's window from its minute rows, `composite_window_data` a
composite's from its components' rows; every figure of the window's evaluation reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cached_property

import numpy as np
import polars as pl

from slo_assets.core.calendar import DAY_MS, MINUTE_MS, day_key, day_start_ms
from slo_assets.openslo import adjustments as A
from slo_assets.openslo.spec import CompositeSlo, Objective, Slo, TimeWindow
from slo_assets.slo import budget as B
from slo_assets.slo import coverage as CV
from slo_assets.slo.period import Period
from slo_assets.slo.units import Units, dense, units, untimed_in
from slo_assets.slo.values import BoolArray, IntArray, UnitArray

LOOKBACK_DAYS = 3  # the longest alert window: minutes before the period feed the replay's windows
DEFAULT_ALERT_MIN_BAD_EVENTS = 3  # one or two failed requests never page; measured on the sample incident month
SETTINGS_MAINTENANCE = "slo_settings.maintenance"

LinesPerDay = dict[str, tuple[int, int]]  # day -> (parsed rows, quarantined lines)
# good and total events per minute over [start_ms, end_ms): live mode's dense series instead of minute rows
MinuteSeries = Callable[[int, int], tuple[IntArray, IntArray]]


@dataclass(frozen=True)
class Settings:
    min_events: int = 100  # below this an SLO window is insufficient_data
    alert_min_events: int = 0  # low-traffic gate for the replay: events in the long window; 0 = off
    # Low-traffic gate on by default: a tier fires only when its long window holds this many bad
    # units, so one stray failure at night never pages (docs/concepts.md, "Low traffic"). 0 = off.
    alert_min_bad_events: int = DEFAULT_ALERT_MIN_BAD_EVENTS
    forecast_seed: int = 20260101
    simulations: int = 10_000
    maintenance: tuple[tuple[int, int], ...] = ()  # (start_ms, end_ms) for every SLO
    coverage_floor: float = CV.DEFAULT_FLOOR  # measured share below this: met / at risk become insufficient_coverage
    coverage_min_missing_events: float = CV.DEFAULT_MIN_MISSING_EVENTS  # a run of empty minutes missing this many is unmeasured


def slo_adjustments(slo: Slo | CompositeSlo, settings: Settings) -> tuple[A.BudgetAdjustment, ...]:
    """Every budget adjustment of the SLO: the settings' maintenance windows (all SLOs), then its own."""
    shared = tuple(A.BudgetAdjustment(f"{SETTINGS_MAINTENANCE}[{i}]", A.EXCLUDE, start, end - start, source=SETTINGS_MAINTENANCE)
                   for i, (start, end) in enumerate(settings.maintenance))
    return shared + slo.adjustments


def window_bounds(window: TimeWindow, period: Period) -> tuple[int, int]:
    """[start, end) of the data a window covers as of the period's as_of."""
    if not window.rolling:
        return period.start_ms, period.as_of_ms
    return period.as_of_ms - window.days * DAY_MS, period.as_of_ms


@dataclass
class WindowData:
    """One (SLO, objective, window)'s budget units per minute from `replay_start` (lookback included) to `win_end`."""

    win_start: int
    win_end: int
    replay_start: int
    offset: int  # minute index of win_start
    units: Units
    total: IntArray  # raw events per minute
    excluded: BoolArray  # minutes an Exclude adjustment removes
    good: IntArray | None = None  # raw good events per minute (the audit recomputes the units without each adjustment)
    adjustments: tuple[A.BudgetAdjustment, ...] = ()
    untimed: int = 0  # requests in [win_start, win_end) a latency SLO selects that carry no request time: no event

    @cached_property
    def live_events(self) -> tuple[IntArray, IntArray]:
        """(good, total) events per minute with the adjustments applied (excluded minutes hold none,
        counted-as-good minutes are all good): what the latency alert judges."""
        good = self.good if self.good is not None else np.zeros_like(self.total)
        good = A.minute_effects(self.adjustments, self.replay_start, len(self.total)).good(good, self.total)
        return np.where(self.excluded, 0, good), np.where(self.excluded, 0, self.total)

    @cached_property
    def sums(self) -> B.Sums:
        """The units' trailing-window sums, shared by the burn rates, the replay, the policies and the series."""
        return B.Sums(self.units.good, self.units.total)


def window_data(slo: Slo | CompositeSlo, objective: Objective, window: TimeWindow, minutes: pl.DataFrame | None, period: Period,
                settings: Settings, series: MinuteSeries | None = None) -> WindowData:
    """`series(start_ms, end_ms)`: good and total events per minute, instead of `minutes` (live mode keeps them dense)."""
    win_start, win_end = window_bounds(window, period)
    replay_start = min(win_start, period.start_ms) - LOOKBACK_DAYS * DAY_MS
    good, total = series(replay_start, win_end) if series is not None else dense(minutes, replay_start, win_end)[:2]
    adjustments = slo_adjustments(slo, settings)
    effects = A.minute_effects(adjustments, replay_start, len(total))
    offset = (win_start - replay_start) // MINUTE_MS
    return WindowData(win_start, win_end, replay_start, offset,
                      units(slo.budgeting_method, objective, effects.good(good, total), total, effects.excluded, offset), total,
                      effects.excluded, good, adjustments, untimed_in(minutes, win_start, win_end))


def composite_window_data(composite: CompositeSlo, window: TimeWindow, parts: dict[str, pl.DataFrame],
                          slos: dict[str, Slo], period: Period, settings: Settings) -> WindowData:
    """A composite SLO window's budget units from its components' minute rows (`parts`, by SLO name).

    Occurrences: per minute good = sum of weight x good, total = sum of weight x total, so the SLI is
    sum(w good) / sum(w total). Timeslices: each component judges its slices with its own slice
    target; a composite slice is bad when it is bad in any component (weights do not apply). Each
    component is judged with its own budget adjustments and the composite's (and the settings'); the
    composite's Exclude minutes are excluded for every component. `total` holds the components' events, unweighted."""
    win_start, win_end = window_bounds(window, period)
    replay_start = min(win_start, period.start_ms) - LOOKBACK_DAYS * DAY_MS
    offset = (win_start - replay_start) // MINUTE_MS
    size = max(0, (win_end - replay_start) // MINUTE_MS)
    shared = slo_adjustments(composite, settings)
    excluded = A.minute_effects(shared, replay_start, size).excluded
    integral = all(c.weight == c.weight.to_integral_value() for c in composite.components)
    weighted_good: UnitArray = np.zeros(size, dtype=np.int64) if integral else np.zeros(size, dtype=float)
    weighted_total: UnitArray = np.zeros(size, dtype=np.int64) if integral else np.zeros(size, dtype=float)
    events, bad_slices = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
    for component in composite.components:
        good, total, _ = dense(parts.get(component.slo), replay_start, win_end)
        effects = A.minute_effects(shared + slos[component.slo].adjustments, replay_start, size)
        own, good = effects.excluded, effects.good(good, total)
        events += total
        if composite.budgeting_method == "Occurrences":
            weight = int(component.weight) if integral else float(component.weight)
            np.add(weighted_good, weight * np.where(own, 0, good), out=weighted_good)
            np.add(weighted_total, weight * np.where(own, 0, total), out=weighted_total)
        else:
            judged = units("Timeslices", replace(composite.objective, time_slice_target=component.time_slice_target),
                           good, total, own, offset)
            bad_slices = np.maximum(bad_slices, judged.total - judged.good)
    if composite.budgeting_method == "Occurrences":
        combined = units("Occurrences", composite.objective, weighted_good, weighted_total, excluded)
    else:  # the composite's live slices (and the empty ones) over all events; bad where any component's slice is bad
        live = units("Timeslices", replace(composite.objective, time_slice_target=Decimal(1)), np.zeros(size, dtype=np.int64),
                     events, excluded, offset)
        combined = Units(live.total - bad_slices, live.total, live.slices, live.empty_counted_good)
    untimed = sum(untimed_in(parts.get(c.slo), win_start, win_end) for c in composite.components)
    return WindowData(win_start, win_end, replay_start, offset, combined, events, excluded, untimed=untimed)


def window_coverage(part: pl.DataFrame | None, data: WindowData, settings: Settings,
                    lines_per_day: LinesPerDay | None = None) -> CV.Coverage:
    """The window's coverage (slo_assets.slo.coverage) from one SLO's minute rows, the 4 weeks
    before the window as its history; quarantined lines from `lines_per_day` when given."""
    history_start = data.win_start - data.win_start % (60 * MINUTE_MS) - CV.HISTORY_WEEKS * 7 * DAY_MS
    _, totals, _ = dense(part, history_start, data.win_end)
    offset = (data.win_start - history_start) // MINUTE_MS
    lines = None
    if lines_per_day is not None:
        days = [day_key(ms) for ms in range(day_start_ms(day_key(data.win_start)), data.win_end, DAY_MS)]
        lines = (sum(lines_per_day.get(d, (0, 0))[0] for d in days), sum(lines_per_day.get(d, (0, 0))[1] for d in days))
    return CV.window_coverage(totals, offset, data.excluded[data.offset:], lines, settings.coverage_floor,
                              settings.coverage_min_missing_events)
