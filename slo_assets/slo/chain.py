"""One month of the SLO chain from minute aggregates: SLI metrics, budgets, alerts, forecasts, compliance.

Pure functions over polars frames and numpy arrays; the Dagster assets only load inputs and write
outputs. Timestamps are epoch milliseconds (UTC) inside, ISO-8601 strings in the JSON documents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

import numpy as np
import polars as pl

# The calendar names stay importable from here for the assets that use them; slo_assets.core.calendar defines them.
from slo_assets.core.calendar import (  # noqa: F401
    DAY_MS,
    MINUTE_MS,
    day_key,
    day_start_ms,
    iso,
    iso_datetime,
    month_days,
    month_range_ms,
    next_month,
    now_iso,
    previous_month,
)
from slo_assets.openslo import adjustments as A
from slo_assets.openslo.spec import CompositeSlo, Objective, Slo, SpecSet, TimeWindow
from slo_assets.slo import budget as B
from slo_assets.slo import coverage as CV
from slo_assets.slo import evaluation as E
from slo_assets.slo import risk as R
from slo_assets.slo.confidence import window_confidence
from slo_assets.slo.evaluation import WindowEvaluation
from slo_assets.slo.quantiles import Chunks, frame_chunks, quantiles_by_slo

SCHEMA_VERSION = 1
LOOKBACK_DAYS = 3  # the longest alert window: minutes before the period feed the replay's windows
AT_RISK_CONSUMED = Decimal("0.8")
AT_RISK_PROBABILITY = 0.5
QUANTILES = (0.5, 0.95, 0.99)
DEFAULT_ALERT_MIN_BAD_EVENTS = 3  # one or two failed requests never page; measured on the sample incident month


def day_gaps(days: list[str]) -> list[dict]:
    """Consecutive runs of the given (sorted) days as {start, end, days}: '2026-02-03'..'2026-02-05' is one gap."""
    gaps: list[dict] = []
    for day in days:
        if gaps and day_start_ms(day) - day_start_ms(gaps[-1]["end"]) == DAY_MS:
            gaps[-1]["end"], gaps[-1]["days"] = day, gaps[-1]["days"] + 1
        else:
            gaps.append({"start": day, "end": day, "days": 1})
    return gaps


def day_coverage(expected: list[str], rows_per_day: dict[str, int]) -> dict:
    """Which expected days hold requests: a partition that exists but holds no row is a day without
    data, not a day present (an idle service, a month without logs)."""
    with_data = [d for d in expected if rows_per_day.get(d, 0) > 0]
    without = [d for d in expected if rows_per_day.get(d, 0) == 0]
    return {"days_expected": len(expected), "days_with_data": len(with_data), "days_present": len(with_data),
            "partitions_present": sum(d in rows_per_day for d in expected),
            "missing_days": without, "gaps": day_gaps(without)}


@dataclass(frozen=True)
class Period:
    month: str
    start_ms: int
    end_ms: int
    as_of_ms: int  # data up to here (month end once closed)

    @property
    def complete(self) -> bool:
        return self.as_of_ms >= self.end_ms

    def elapsed(self, day: str) -> bool:
        """Whether the day (YYYY-MM-DD) has begun by as_of: the running day counts once it has."""
        return day_start_ms(day) < self.as_of_ms


def lookback_days(month: str) -> list[str]:
    """The days a month's evaluation reads: the previous month (the replay's and rolling windows' lookback) and its own."""
    return month_days(previous_month(month)) + month_days(month)


def data_period(month: str, present_days: Sequence[str], now_ms: int | None = None) -> Period | None:
    """The month as far as its minute aggregates go: through the last day present (the month end once
    all are there), and never past `now_ms`, floored to its minute. The running day's partition ends at
    midnight, but the hours after now have not happened: counted, they were empty minutes judged good
    (Timeslices) or hours of rate 0 judged bad (throughput). None when no day of the month is present."""
    start, end = month_range_ms(month)
    days = [d for d in present_days if d.startswith(month)]
    if not days:
        return None
    as_of = min(end, day_start_ms(max(days)) + DAY_MS)
    if now_ms is not None:
        as_of = max(start, min(as_of, now_ms - now_ms % MINUTE_MS))
    return Period(month, start, end, as_of)


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
    coverage_floor: float = CV.DEFAULT_FLOOR  # measured share of a window's minutes below this: the status notes it
    coverage_min_missing_events: float = CV.DEFAULT_MIN_MISSING_EVENTS  # a run of empty minutes missing this many is unmeasured


def by_slo(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """One pass splitting a frame with an `slo` column, instead of one filter per SLO."""
    return {key[0]: part for key, part in frame.partition_by("slo", as_dict=True).items()} if frame.height else {}


def by_window(series: pl.DataFrame) -> dict[tuple[str, str, str], pl.DataFrame]:
    """Chart series (evaluate_with_series) split by (slo, objective, window) in one pass. Each window's
    rows are contiguous there (and in budget_series read back), so each part is a zero-copy slice;
    partition_by (which copies every part) only when they are not."""
    if not series.height:
        return {}
    keys = ("slo", "objective", "window")
    runs = (series.select(*keys).with_row_index("row").group_by(*keys, maintain_order=True)
            .agg(pl.col("row").first().alias("first"), pl.col("row").last().alias("last"), pl.len().alias("rows")))
    if not (runs["last"] - runs["first"] + 1 == runs["rows"]).all():
        return dict(series.partition_by(*keys, as_dict=True))
    return {(slo, objective, window): series.slice(first, rows)
            for slo, objective, window, first, _, rows in runs.iter_rows()}


def dense(part: pl.DataFrame | None, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


SETTINGS_MAINTENANCE = "slo_settings.maintenance"


def slo_adjustments(slo: Slo | CompositeSlo, settings: Settings) -> tuple[A.BudgetAdjustment, ...]:
    """Every budget adjustment of the SLO: the settings' maintenance windows (all SLOs), then its own."""
    shared = tuple(A.BudgetAdjustment(f"{SETTINGS_MAINTENANCE}[{i}]", A.EXCLUDE, start, end - start, source=SETTINGS_MAINTENANCE)
                   for i, (start, end) in enumerate(settings.maintenance))
    return shared + slo.adjustments


@dataclass
class Units:
    """Budget units per minute: events (Occurrences) or slices placed at their last minute."""

    good: np.ndarray
    total: np.ndarray
    slices: int = 0
    empty_counted_good: int = 0  # the window's slices without a request that count good


def units(method: str, objective: Objective, good: np.ndarray, total: np.ndarray, excluded: np.ndarray,
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
    if objective.op is not None:  # throughput: the slice's request rate against the threshold
        slice_good = objective.slice_good(t, live_minutes)
        good_units = (slice_good & live).astype(np.int64)
        empty = empty & slice_good
    elif method == "Timeslices":
        ratio = Fraction(objective.time_slice_target)
        slice_good = (t == 0) | (g * ratio.denominator >= t * ratio.numerator)
        good_units = (slice_good & live).astype(np.int64)
    else:  # RatioTimeslices: each slice contributes its ratio; an empty slice counts as good
        good_units = np.where(t > 0, g / np.where(t > 0, t, 1), 1.0) * live
    good_out = np.zeros(len(total), dtype=good_units.dtype)
    total_out = np.zeros(len(total), dtype=np.int64 if method == "Timeslices" else float)
    last = lead + np.arange(count) * width + width - 1
    good_out[last] = good_units
    total_out[last] = live.astype(total_out.dtype)
    in_window = last >= window_offset
    return Units(good_out, total_out, int(live[in_window].sum()), int(empty[in_window].sum()))


def _exact(value) -> Decimal:
    return Decimal(int(value)) if float(value).is_integer() else Decimal(repr(float(value)))


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
    total: np.ndarray  # raw events per minute
    excluded: np.ndarray  # minutes an Exclude adjustment removes
    good: np.ndarray | None = None  # raw good events per minute (the audit recomputes the units without each adjustment)
    adjustments: tuple[A.BudgetAdjustment, ...] = ()

    @cached_property
    def live_events(self) -> tuple[np.ndarray, np.ndarray]:
        """(good, total) events per minute with the adjustments applied (excluded minutes hold none,
        counted-as-good minutes are all good): what the latency alert judges."""
        good = self.good if self.good is not None else np.zeros_like(self.total)
        good = A.minute_effects(self.adjustments, self.replay_start, len(self.total)).good(good, self.total)
        return np.where(self.excluded, 0, good), np.where(self.excluded, 0, self.total)

    @cached_property
    def sums(self) -> B.Sums:
        """The units' trailing-window sums, shared by the burn rates, the replay, the policies and the series."""
        return B.Sums(self.units.good, self.units.total)


def window_data(slo: Slo, objective: Objective, window: TimeWindow, minutes: pl.DataFrame | None, period: Period,
                settings: Settings, series: Callable[[int, int], tuple[np.ndarray, np.ndarray]] | None = None) -> WindowData:
    """`series(start_ms, end_ms)`: good and total events per minute, instead of `minutes` (live mode keeps them dense)."""
    win_start, win_end = window_bounds(window, period)
    replay_start = min(win_start, period.start_ms) - LOOKBACK_DAYS * DAY_MS
    good, total = series(replay_start, win_end) if series is not None else dense(minutes, replay_start, win_end)[:2]
    adjustments = slo_adjustments(slo, settings)
    effects = A.minute_effects(adjustments, replay_start, len(total))
    offset = (win_start - replay_start) // MINUTE_MS
    return WindowData(win_start, win_end, replay_start, offset,
                      units(slo.budgeting_method, objective, effects.good(good, total), total, effects.excluded, offset), total,
                      effects.excluded, good, adjustments)


def adjusted_budget(slo: Slo, objective: Objective, data: WindowData, budget: B.Budget) -> E.AdjustedBudget | None:
    """The window's budget without adjustments, and what each adjustment with an event in it returned
    (E.AdjustmentAudit: applied in order, Exclude first, so the returns add up). None without an event."""
    start, size, offset = data.replay_start, len(data.total), data.offset
    ordered = sorted(data.adjustments, key=lambda a: a.effect != A.EXCLUDE)
    present = [(a, a.events(data.win_start, data.win_end)) for a in ordered]
    if not any(events for _, events in present):
        return None
    empty = int(data.total[offset:].sum()) == 0

    def consumed(applied: list[A.BudgetAdjustment]) -> B.Budget:
        effects = A.minute_effects(applied, start, size)
        u = units(slo.budgeting_method, objective, effects.good(data.good, data.total), data.total, effects.excluded, offset)
        good, total = (Decimal(0), Decimal(0)) if empty else (_exact(u.good[offset:].sum()), _exact(u.total[offset:].sum()))
        return B.error_budget(good, total, objective.target)

    unadjusted = before = consumed([])
    audits = []
    for index, (adjustment, events) in enumerate(present):
        after = consumed([a for a, _ in present[:index + 1]]) if index + 1 < len(present) else budget
        if events:
            own = A.event_mask(events, start, size)[offset:]
            requests = data.total[offset:][own]
            slices = None
            if slo.budgeting_method != "Occurrences":  # the window's slices holding one of its minutes
                width = objective.time_slice_minutes
                lead = offset % width
                number = (np.flatnonzero(own) + offset - lead) // width
                slices = int(np.unique(number[number < (size - lead) // width]).size)
            audits.append(E.AdjustmentAudit(
                adjustment.name, adjustment.effect, len(events), int(own.sum()), int(requests.sum()),
                int((requests - data.good[offset:][own]).sum()), slices, B.as_number(before.consumed - after.consumed)))
        before = after
    return E.AdjustedBudget(E.ErrorBudget(**unadjusted.to_json()), tuple(audits))


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
    dtype = np.int64 if integral else float
    weighted_good, weighted_total = np.zeros(size, dtype=dtype), np.zeros(size, dtype=dtype)
    events, bad_slices = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
    for component in composite.components:
        good, total, _ = dense(parts.get(component.slo), replay_start, win_end)
        effects = A.minute_effects(shared + slos[component.slo].adjustments, replay_start, size)
        own, good = effects.excluded, effects.good(good, total)
        events += total
        if composite.budgeting_method == "Occurrences":
            weight = int(component.weight) if integral else float(component.weight)
            weighted_good += weight * np.where(own, 0, good)
            weighted_total += weight * np.where(own, 0, total)
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
    return WindowData(win_start, win_end, replay_start, offset, combined, events, excluded)


LinesPerDay = dict[str, tuple[int, int]]  # day -> (parsed rows, quarantined lines)


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


SERIES_STEP_MINUTES = 5
SERIES_SCHEMA = {"ts": pl.Int64, "good": pl.Float64, "total": pl.Float64, "remaining_ratio": pl.Float64,
                 "burn_1h": pl.Float64, "burn_6h": pl.Float64}


def window_series(data: WindowData, target: Decimal, step_minutes: int = SERIES_STEP_MINUTES) -> pl.DataFrame:
    """The window as a time series for charts, one row per `step_minutes` bucket from the window start:
    good and total budget units, remaining budget (1 - bad so far / budget allowed at the data end)
    and the 1h and 6h burn rates at the bucket's last minute."""
    return pl.DataFrame(_series_columns(data, target, step_minutes), schema=SERIES_SCHEMA)


def _series_columns(data: WindowData, target: Decimal, step_minutes: int = SERIES_STEP_MINUTES) -> dict[str, np.ndarray]:
    """window_series' columns as numpy arrays (empty when the window has no minute)."""
    u, offset = data.units, data.offset
    g_win, t_win = u.good[offset:].astype(float), u.total[offset:].astype(float)
    size = len(t_win)
    if size == 0:
        return {name: np.zeros(0, dtype=np.int64 if name == "ts" else float) for name in SERIES_SCHEMA}
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


def replay_budget_alerts(slo: Slo | CompositeSlo, objective: Objective, data: WindowData, settings: Settings) -> list[B.BudgetAlert]:
    """One SLO window's budget-state alerts, replayed from its start: the budget units, the live
    events (a latency SLO's fast ones too), the judging floor and the low-traffic gate."""
    event_good, event_total = data.live_events
    latency = isinstance(slo, Slo) and slo.indicator.kind() == "latency"
    return B.budget_state_alerts(data.units.good, data.units.total, event_total, event_good if latency else None, data.replay_start,
                                 data.offset, objective.target, settings.min_events, settings.alert_min_bad_events, data.sums)


def evaluate(slo: Slo | CompositeSlo, objective: Objective, window: TimeWindow, minutes: pl.DataFrame | None, period: Period,
             settings: Settings, policies: dict | None = None, data: WindowData | None = None,
             coverage: CV.Coverage | None = None) -> WindowEvaluation:
    """Everything about one (SLO, objective, window): SLI, confidence, coverage, budget, burn rates,
    alerts, thresholds, forecast. `minutes`: this SLO's minute rows (slo, minute, good, total,
    server_errors); `coverage`: computed from them when not given. A composite comes with its
    `data` (composite_window_data)."""
    data = data or window_data(slo, objective, window, minutes, period, settings)
    coverage = coverage or window_coverage(minutes, data, settings)
    win_start, win_end, replay_start, offset = data.win_start, data.win_end, data.replay_start, data.offset
    u, total, excluded = data.units, data.total, data.excluded
    raw_total_in_window = int(total[offset:].sum())
    g_win, t_win = u.good[offset:], u.total[offset:]
    good_sum, total_sum = _exact(g_win.sum()), _exact(t_win.sum())
    if raw_total_in_window == 0:  # no event at all: no SLI (empty timeslices alone would say 100 %)
        good_sum = total_sum = Decimal(0)
    budget = B.error_budget(good_sum, total_sum, objective.target)
    value = B.sli(good_sum, total_sum)
    at_end = []
    for label, width in B.BURN_WINDOWS_MINUTES.items():
        at_end.append((label, round(data.sums.burn_rate_at_end(objective.target, width), 6) if len(u.total) else 0.0))
    burn = E.BurnRates(tuple(at_end), None if budget.consumed_ratio is None or total_sum == 0 else round(
        float((1 - good_sum / total_sum) / (1 - objective.target)), 6))
    # Alerts are replayed over the window only (a rolling 7d window lists no alert from three weeks
    # earlier); the minutes before it feed the burn-rate windows.
    replay = B.replay_with_gate(u.good, u.total, replay_start, offset, objective.target, window.days,
                                settings.alert_min_events, settings.alert_min_bad_events, sums=data.sums)
    policy_alerts = []
    for name in slo.alert_policies:
        for condition in (policies or {}).get(name, ()):
            for start, end, peak in B.replay_condition(u.good, u.total, replay_start, offset, objective.target,
                                                      condition.threshold, condition.op, condition.lookback_minutes,
                                                      condition.alert_after_minutes, data.sums):
                policy_alerts.append(E.PolicyAlert(name, condition.name, condition.severity, condition.threshold,
                                                   f"{condition.lookback_minutes}m", start, end, round(peak, 6)))
    budget_alerts = replay_budget_alerts(slo, objective, data, settings)
    crossings = B.threshold_crossings(t_win - g_win, win_start, budget.allowed)
    days = max(1, -(-(win_end - win_start) // DAY_MS))
    day_index = np.arange(len(t_win)) // 1440
    daily_bad = np.bincount(day_index, weights=(t_win - g_win).astype(float), minlength=days)[:days]
    daily_total = np.bincount(day_index, weights=t_win.astype(float), minlength=days)[:days]
    horizon = period.end_ms if not window.rolling else max(period.end_ms, win_end)
    outlook = B.forecast(daily_bad, daily_total, win_end, horizon, objective.target, simulations=settings.simulations,
                         seed=settings.forecast_seed)
    status = _status(raw_total_in_window, value, objective.target, budget, outlook, period, settings)
    return WindowEvaluation(
        slo=slo.name,
        display_name=slo.display_name,
        service=slo.service,
        objective=objective.key,
        objective_name=objective.display_name,
        window=window.label,
        label=window_label(slo, objective, window),
        window_start_ms=win_start,
        window_end_ms=win_end,
        target=B.as_number(objective.target),
        budgeting_method=slo.budgeting_method,
        events=raw_total_in_window,
        good=B.as_number(good_sum),
        total=B.as_number(total_sum),
        sli=B.as_number(value),
        error_budget=E.ErrorBudget(**budget.to_json()),
        status=status,
        deficit=_deficit(value, objective.target, budget),
        slices=E.Slices(u.slices, u.empty_counted_good) if slo.budgeting_method != "Occurrences" else None,
        maintenance_excluded_events=int(total[offset:][excluded[offset:]].sum()),
        budget_adjustments=adjusted_budget(slo, objective, data, budget) if data.adjustments else None,
        burn_rates=burn,
        alerts=tuple(_alert(f) for f in replay.firings),
        low_traffic_gate=E.LowTrafficGate(settings.alert_min_bad_events, settings.alert_min_events, len(replay.held_back)),
        alerts_held_back=tuple(_held_back(h) for h in replay.held_back),
        policy_alerts=tuple(policy_alerts),
        budget_alerts=tuple(E.BudgetAlert(a.name, a.severity, a.start_ms, a.end_ms, round(a.value, 6)) for a in budget_alerts),
        throughput=_throughput(objective, raw_total_in_window, win_start, win_end, u),
        thresholds=tuple(E.ThresholdCrossing(p, ms) for p, ms in crossings.items()),
        forecast=_forecast(outlook, crossings.get(100)),
        # weighted events are no independent trials: a Wilson interval over them would be false precision
        confidence=None if isinstance(slo, CompositeSlo) and slo.weighted else
        window_confidence(slo.budgeting_method, float(good_sum), float(total_sum), float(objective.target)),
        components=tuple(E.ComponentWeight(c.slo, B.as_number(c.weight)) for c in slo.components) if isinstance(slo, CompositeSlo) else (),
        coverage=coverage,
        status_note=CV.status_note(status, coverage),
    )


def _throughput(objective: Objective, events: int, win_start: int, win_end: int, u: Units) -> E.Throughput | None:
    """A throughput objective's threshold and the window's mean request rate (events / window seconds)."""
    if objective.op is None:
        return None
    seconds = (win_end - win_start) // 1000
    return E.Throughput(objective.op, B.as_number(objective.value), objective.time_slice_minutes,
                        round(events / seconds, 6) if seconds > 0 else None)


def _alert(firing: B.Firing) -> E.Alert:
    """The figures of firing.to_json(), without formatting its instants (the documents do, once)."""
    return E.Alert(firing.severity, firing.long_window, firing.short_window, B.as_number(firing.factor), firing.start_ms,
                   firing.end_ms, (firing.end_ms - firing.start_ms) // MINUTE_MS, round(firing.peak_burn_rate, 6))


def _held_back(held: B.HeldBack) -> E.HeldBackAlert:
    alert = _alert(held)
    return E.HeldBackAlert(**{f: getattr(alert, f) for f in E.Alert.__dataclass_fields__},
                           bad_in_long_window=B.as_number(Decimal(repr(float(held.bad_in_long_window)))))


def _forecast(outlook: B.Forecast, exhausted_at: int | None) -> E.Forecast:
    j = outlook.to_json()
    when = outlook.exhaustion_ms
    if outlook.exhausted and exhausted_at is not None:
        when = exhausted_at  # it already ran out then
    def number(value):  # plain floats, never numpy scalars, in the contract
        return None if value is None else float(value)

    return E.Forecast(number(j["recent_daily_burn"]), number(j["days_to_exhaustion"]), None if when is None else int(when - when % 1000),
                      bool(j["exhausted"]), number(j["probability_exhausted_by_period_end"]),
                      number(j["projected_consumed_ratio_at_period_end"]), j["method"])


def window_label(slo: Slo, objective: Objective, window: TimeWindow) -> str:
    """What people read for one SLO window: SLO, objective (its display name, else its target) and window,
    so two objectives of one SLO never share a label."""
    objective_text = objective.display_name or f"{B.as_number(objective.target * 100)}%"
    return f"{slo.display_name or slo.name} · {objective_text} · {window.label}"


def _status(events: int, value: Decimal | None, target: Decimal, budget: B.Budget, outlook: B.Forecast, period: Period,
            settings: Settings) -> str:
    if events < settings.min_events or value is None:
        return "insufficient_data"
    if value < target:
        return "failed"
    if budget.consumed_ratio is not None and budget.consumed_ratio >= AT_RISK_CONSUMED:
        return "at_risk"
    if not period.complete and (outlook.probability_exhausted_by_period_end >= AT_RISK_PROBABILITY or (
            outlook.exhaustion_ms is not None and outlook.exhaustion_ms < period.end_ms)):
        return "at_risk"
    return "met"


def _deficit(value: Decimal | None, target: Decimal, budget: B.Budget) -> E.Deficit | None:
    if value is None or value >= target:
        return None
    return E.Deficit(B.as_number(target - value), B.as_number(budget.consumed - budget.allowed))


def evaluate_all(specs: SpecSet, minutes: pl.DataFrame, period: Period, settings: Settings,
                 lines_per_day: LinesPerDay | None = None) -> list[WindowEvaluation]:
    return evaluate_with_series(specs, minutes, period, settings, lines_per_day)[0]


def evaluate_with_series(specs: SpecSet, minutes: pl.DataFrame, period: Period, settings: Settings,
                         lines_per_day: LinesPerDay | None = None) -> tuple[list[WindowEvaluation], pl.DataFrame]:
    """Every SLO window's evaluation, and all their chart series in one frame (slo, objective, window, ...).
    `lines_per_day`: parsed rows and quarantined lines per day, for the windows' quarantine share."""
    policies = {name: policy.conditions for name, policy in specs.policies.items()}
    parts = by_slo(minutes)
    evaluations, columns, keys = [], [], []

    def add(slo: Slo | CompositeSlo, objective: Objective, window: TimeWindow, data: WindowData, part: pl.DataFrame | None) -> None:
        coverage = window_coverage(part, data, settings, lines_per_day)
        evaluations.append(evaluate(slo, objective, window, None, period, settings, policies, data, coverage))
        columns.append(_series_columns(data, objective.target))
        keys.append((slo.name, objective.key, window.label))

    for slo in specs.slos:
        for objective in slo.objectives:
            for window in slo.windows:
                add(slo, objective, window, window_data(slo, objective, window, parts.get(slo.name), period, settings), parts.get(slo.name))
    slos = {slo.name: slo for slo in specs.slos}
    for composite in specs.composites:
        # the coverage of the components' traffic together
        found = [parts[c.slo] for c in composite.components if c.slo in parts]
        part = pl.concat(found) if found else None
        for window in composite.windows:
            add(composite, composite.objective, window, composite_window_data(composite, window, parts, slos, period, settings), part)
    # one frame from the windows' arrays: the key columns are gathered by window number, not broadcast per window
    lengths = np.array([len(c["ts"]) for c in columns], dtype=np.int64)
    number = pl.Series(np.repeat(np.arange(len(keys), dtype=np.int64), lengths))
    key_columns = {name: pl.Series(name, [k[i] for k in keys], dtype=pl.String).gather(number) if keys else pl.Series(name, [], pl.String)
                   for i, name in enumerate(("slo", "objective", "window"))}
    values = {name: np.concatenate([c[name] for c in columns]) if columns else np.zeros(0) for name in SERIES_SCHEMA}
    frame = pl.DataFrame({**key_columns, **values}, schema={k: pl.String for k in key_columns} | SERIES_SCHEMA)
    return evaluations, frame


def latency_sources(latency: pl.DataFrame | Sequence[Chunks]) -> Sequence[Chunks]:
    """Value counts (slo, duration_ms, count) as sources to stream: a frame, or the day files' readers."""
    return [frame_chunks(latency)] if isinstance(latency, pl.DataFrame) else latency


def sli_metrics(specs: SpecSet, minutes: pl.DataFrame, latency: pl.DataFrame | Sequence[Chunks], operations: pl.DataFrame,
                period: Period, settings: Settings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per SLO over the elapsed month: good, total, SLI, availability, exact p50/p95/p99, timeslice
    SLIs per objective; and the per-operation breakdown. `latency`: the month's value counts, a frame
    or (in bounded memory) one source per day file (slo_assets.slo.quantiles.parquet_chunks)."""
    records = []
    minute_parts = by_slo(minutes)
    latencies = quantiles_by_slo(latency_sources(latency), {slo.name: QUANTILES for slo in specs.slos})
    for slo in specs.slos:
        raw_good, raw_total, errors = dense(minute_parts.get(slo.name), period.start_ms, period.as_of_ms)
        good, total, effects = A.adjusted(raw_good, raw_total, slo_adjustments(slo, settings), period.start_ms)
        p50, p95, p99 = latencies[slo.name].values
        record = {
            "slo": slo.name, "service": slo.service, "kind": slo.indicator.kind(), "budgeting_method": slo.budgeting_method,
            "good": int(good.sum()), "total": int(total.sum()),
            "sli": B.as_number(B.sli(int(good.sum()), int(total.sum()))),
            "adjusted_events": int(raw_total[effects.excluded | effects.counted_good].sum()),
            "availability": B.as_number(B.sli(int(raw_total.sum() - errors.sum()), int(raw_total.sum()))),
            "latency_p50_ms": p50, "latency_p95_ms": p95, "latency_p99_ms": p99,
            "latency_samples": latencies[slo.name].samples,
            "minutes_with_traffic": int((raw_total > 0).sum()),
        }
        slices = {}
        if slo.budgeting_method != "Occurrences":
            for objective in slo.objectives:
                u = units(slo.budgeting_method, objective, good, raw_total, effects.excluded)
                slices[objective.key] = B.as_number(B.sli(_exact(u.good.sum()), _exact(u.total.sum())))
        record["timeslice_sli"] = str(slices) if slices else None
        records.append(record)
    metrics = pl.DataFrame(records, schema_overrides={"sli": pl.Float64, "availability": pl.Float64,
                                                      "latency_p50_ms": pl.Float64, "latency_p95_ms": pl.Float64,
                                                      "latency_p99_ms": pl.Float64, "timeslice_sli": pl.String})
    by_operation = (
        operations.group_by("slo", "operation")
        .agg(pl.col("good").sum(), pl.col("total").sum(), pl.col("total").filter(pl.col("status") >= 500).sum().alias("server_errors"))
        .with_columns((pl.col("good") / pl.col("total")).alias("sli"), (pl.col("total") - pl.col("good")).alias("bad"))
        .sort("slo", "bad", "operation", descending=[False, True, False])  # ties by name: the same bytes every run
    )
    return metrics, by_operation


LADDER = (Decimal("0.99"), Decimal("0.995"), Decimal("0.999"), Decimal("0.9995"), Decimal("0.9999"))
AVAILABILITY_MARGIN = Decimal("0.0005")  # 0.05 percentage points
ERROR_RATE_MARGIN = Decimal("1.5")
LATENCY_MARGIN = Decimal("1.1")


def _ladder_floor(value: Decimal) -> tuple[Decimal, str]:
    below = [step for step in LADDER if step <= value]
    if below:
        return below[-1], "ladder"
    return (value * 100).to_integral_value(rounding="ROUND_FLOOR") / 100, "below the ladder: whole percent"


def recommend_targets(specs: SpecSet, history: pl.DataFrame, latency: pl.DataFrame | Sequence[Chunks]) -> pl.DataFrame:
    """Declared targets beside recommendations from the months in `history` (slo, month, good, total).

    Availability-like SLIs: min(actual - 0.05 points, 1 - 1.5 x error rate), floored to the ladder
    (99, 99.5, 99.9, 99.95, 99.99 %) and stepped down until every past month achieved it. Latency
    SLOs also get a threshold: the latency at the declared target's quantile x 1.1 (this month).
    `latency`: (slo, duration_ms, count) rows, a value may repeat (e.g. one row per day): a frame
    or sources streamed in bounded memory (slo_assets.slo.quantiles)."""
    records = []
    latencies = quantiles_by_slo(latency_sources(latency), {slo.name: tuple(float(o.target) for o in slo.objectives)
                                                            for slo in specs.slos if slo.indicator.kind() == "latency"})
    for slo in specs.slos:
        months = history.filter(pl.col("slo") == slo.name).sort("month")
        good, total = int(months["good"].sum()), int(months["total"].sum())
        actual = B.sli(good, total)
        monthly = {r["month"]: B.sli(r["good"], r["total"]) for r in months.iter_rows(named=True) if r["total"]}
        for index, objective in enumerate(slo.objectives):
            record = {"slo": slo.name, "service": slo.service, "objective": objective.key,
                      "declared_target": B.as_number(objective.target), "months_used": len(monthly),
                      "actual_sli": B.as_number(actual), "recommended_target": None, "basis": None,
                      "achieved_in_all_months": None, "months_below_recommendation": "",
                      "recommended_latency_threshold_ms": None}
            if actual is not None:
                candidate = min(actual - AVAILABILITY_MARGIN, 1 - ERROR_RATE_MARGIN * (1 - actual))
                recommended, basis = _ladder_floor(candidate)
                failing = [m for m, v in monthly.items() if v is not None and v < recommended]
                while failing and basis == "ladder" and LADDER.index(recommended) > 0:
                    recommended = LADDER[LADDER.index(recommended) - 1]
                    failing = [m for m, v in monthly.items() if v is not None and v < recommended]
                record.update(recommended_target=B.as_number(recommended), basis=basis,
                              achieved_in_all_months=not failing, months_below_recommendation=",".join(failing))
            if slo.indicator.kind() == "latency":
                value = latencies[slo.name].values[index]
                if value is not None:
                    record["recommended_latency_threshold_ms"] = float(
                        (Decimal(repr(value)) * LATENCY_MARGIN).quantize(Decimal("1"), rounding="ROUND_CEILING"))
            records.append(record)
    return pl.DataFrame(records, schema_overrides={"actual_sli": pl.Float64, "recommended_target": pl.Float64,
                                                   "declared_target": pl.Float64, "recommended_latency_threshold_ms": pl.Float64,
                                                   "achieved_in_all_months": pl.Boolean, "basis": pl.String})


def _column(prefix: str, rung: Decimal) -> str:
    return f"{prefix}_{R.rung_label(rung).replace('.', '_')}"


RISK_COLUMNS = {"risk_days": pl.Int64, "budget_unit": pl.String,
                **{_column("p_meet", rung): pl.Float64 for rung in LADDER}, **{_column("budget", rung): pl.Float64 for rung in LADDER}}


def target_risks(specs: SpecSet, minutes: pl.DataFrame, days: list[str], settings: Settings) -> list[R.TargetRisk]:
    """Per SLO objective, each ladder rung's probability of being met next month and the budget it
    allows, bootstrapped over `days` (the days with SLI inputs; slo_assets.slo.risk)."""
    days = sorted(days)
    start = day_start_ms(days[0]) if days else 0
    span = (day_start_ms(days[-1]) + DAY_MS - start) // DAY_MS if days else 0
    present = np.array([(day_start_ms(d) - start) // DAY_MS for d in days], dtype=np.int64)
    parts = by_slo(minutes)
    risks = []
    for slo in specs.slos:
        good, total, _ = dense(parts.get(slo.name), start, start + span * DAY_MS)
        effects = A.minute_effects(slo_adjustments(slo, settings), start, len(total))
        for objective in slo.objectives:
            u = units(slo.budgeting_method, objective, effects.good(good, total), total, effects.excluded)
            slices = slo.budgeting_method != "Occurrences"
            rungs = R.bootstrap_rungs(R.daily_sums(u.good, span)[present], R.daily_sums(u.total, span)[present], LADDER,
                                      settings.forecast_seed, settings.simulations,
                                      objective.time_slice_minutes if slices else 1)
            risks.append(R.TargetRisk(slo.name, objective.key, len(days), "minutes" if slices else "events", rungs))
    return risks


def with_risks(targets: pl.DataFrame, risks: list[R.TargetRisk]) -> pl.DataFrame:
    """slo_targets' rows with each rung's probability (p_meet_99_9 ...) and allowed budget (budget_99_9 ...)."""
    rows = [{"slo": r.slo, "objective": r.objective, "risk_days": r.days, "budget_unit": r.unit,
             **{_column("p_meet", rung.target): rung.probability for rung in r.rungs},
             **{_column("budget", rung.target): rung.budget for rung in r.rungs}} for r in risks]
    frame = pl.DataFrame(rows, schema={"slo": pl.String, "objective": pl.String, **RISK_COLUMNS})
    return targets.join(frame, on=["slo", "objective"], how="left")


def risks_from_targets(targets: pl.DataFrame) -> list[R.TargetRisk]:
    """The TargetRisk rows back from slo_targets' table (with_risks' columns), for the report."""
    if "risk_days" not in targets.columns:
        return []
    return [R.TargetRisk(row["slo"], row["objective"], row["risk_days"] or 0, row["budget_unit"] or "events",
                         tuple(R.RungRisk(rung, row[_column("p_meet", rung)], row[_column("budget", rung)]) for rung in LADDER))
            for row in targets.iter_rows(named=True)]


COMPLIANCE_KEYS = ("slo", "display_name", "service", "objective", "objective_name", "window", "label", "target",
                   "budgeting_method", "components", "good", "total", "events", "sli", "confidence", "coverage", "error_budget", "status",
                   "status_note", "deficit", "slices", "maintenance_excluded_events", "budget_adjustments", "throughput")
ERROR_BUDGETS_KEYS = ("slo", "service", "objective", "objective_name", "window", "label", "window_start", "window_end",
                      "lists_period", "target", "budgeting_method", "good", "total", "sli", "error_budget", "burn_rates", "alerts",
                      "low_traffic_gate", "alerts_held_back", "policy_alerts", "budget_alerts", "thresholds", "forecast", "status",
                      "throughput")


def compliance(evaluations: list[WindowEvaluation], previous: dict[tuple, float | None], period: Period, data_quality: dict,
               provenance: dict, maintenance: list[dict], adjustments: list[dict] | None = None) -> dict:
    """The compliance document: per SLO window status and trend, per service health, summary."""
    slos = []
    for item in evaluations:
        before = previous.get(item.key)
        now = item.sli
        delta = None if before is None or now is None else round(now - before, 9)
        direction = None if delta is None else ("improving" if delta > 0 else "worsening" if delta < 0 else "stable")
        entry = item.to_json(COMPLIANCE_KEYS)
        entry["sli_percent"] = None if now is None else round(now * 100, 6)
        entry["trend"] = {"previous_sli": before, "delta": delta, "direction": direction}
        slos.append(entry)
    services: dict[str, list[WindowEvaluation]] = {}
    for item in evaluations:
        services.setdefault(item.service, []).append(item)
    health = []
    for service, items in sorted(services.items()):
        remaining = [e.error_budget.remaining_ratio for e in items if e.error_budget.remaining_ratio is not None]
        mean_remaining = float(np.mean(remaining)) if remaining else None
        score = None if mean_remaining is None else round(min(100.0, max(0.0, 100 * mean_remaining)), 2)
        health.append({"service": service, "health_score": score, "slo_windows": len(items),
                       "failed": sum(e.status == "failed" for e in items)})
    counts = {status: sum(e.status == status for e in evaluations) for status in E.STATUSES}
    judged = counts["met"] + counts["at_risk"] + counts["failed"]
    return {
        "schema_version": SCHEMA_VERSION,
        "period": period.month,
        "generated_at": now_iso(),
        "as_of": iso(period.as_of_ms),
        "period_complete": period.complete,
        **provenance,
        "slos": slos,
        "services": health,
        "summary": {**counts, "slo_windows": len(slos),
                    "compliance_percent": None if judged == 0 else round(100 * (counts["met"] + counts["at_risk"]) / judged, 2)},
        "maintenance_windows": maintenance,
        "budget_adjustments": adjustments or [],
        "data_quality": data_quality,
    }


def previous_slis(document: dict) -> dict[tuple[str, str, str], float | None]:
    """Each window's SLI in an earlier month's compliance document (the trend's starting point)."""
    return {(e["slo"], e["objective"], e["window"]): e["sli"] for e in document["slos"]}


def error_budgets_document(evaluations: list[WindowEvaluation], period: Period, provenance: dict) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "period": period.month,
        "as_of": iso(period.as_of_ms),
        "period_complete": period.complete,
        **provenance,
        "alert_windows": [{"severity": t.severity, "long_window": t.long, "short_window": t.short,
                           "budget_fraction": float(t.budget_fraction)} for t in B.alert_tiers()],
        "slos": [e.to_json(ERROR_BUDGETS_KEYS) for e in evaluations],
    }


def data_as_of(evaluations: list[WindowEvaluation], month: str) -> int:
    """The end of the data the month's evaluations describe (the month end when there is none)."""
    return max((e.window_end_ms for e in evaluations), default=month_range_ms(month)[1])


def maintenance_windows(settings: Settings, slos: list[Slo | CompositeSlo], period: Period) -> list[dict]:
    """The compliance document's maintenance windows: the settings' (all SLOs), then the events of
    each SLO's Exclude adjustments in the period (its maintenance annotation's and its BudgetAdjustments')."""
    shared = [{"start": iso(a), "end": iso(b), "scope": "all SLOs"} for a, b in settings.maintenance]
    return shared + [{"start": iso(a), "end": iso(b), "scope": s.name, "adjustment": adjustment.name}
                     for s in slos for adjustment in s.adjustments if adjustment.effect == A.EXCLUDE
                     for a, b in adjustment.events(period.start_ms, period.end_ms)]


def budget_adjustments(slos: list[Slo], period: Period) -> list[dict]:
    """The compliance document's budget adjustments: each one (settings' aside), the SLOs it applies
    to and its events in the period."""
    found: dict[tuple[str, str], tuple[A.BudgetAdjustment, list[str]]] = {}
    for slo in slos:
        for adjustment in slo.adjustments:
            found.setdefault((adjustment.name, adjustment.source), (adjustment, []))[1].append(slo.name)
    return [{**adjustment.to_json(), "slos": names,
             "events": [{"start": iso(a), "end": iso(b)} for a, b in adjustment.events(period.start_ms, period.end_ms)]}
            for adjustment, names in found.values()]
