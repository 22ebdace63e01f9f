"""The month's evaluation: every SLO window judged once into a `WindowEvaluation` (SLI, confidence,
coverage, budget, burn rates, replayed alerts, thresholds, forecast, status), with its chart series.

`evaluate` judges one window from its minutes (windows.WindowData) in named steps: the window's
totals, its burn rates, the replays, the forecast, the status. `evaluate_with_series` runs it over
every window of the specs, composites included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import polars as pl

from slo_assets.core.calendar import DAY_MS, MINUTE_MS
from slo_assets.openslo import adjustments as A
from slo_assets.openslo.spec import AlertCondition, CompositeSlo, Objective, Slo, SpecSet, TimeWindow
from slo_assets.slo import budget as B
from slo_assets.slo import coverage as CV
from slo_assets.slo import evaluation as E
from slo_assets.slo.confidence import window_confidence
from slo_assets.slo.evaluation import WindowEvaluation
from slo_assets.slo.period import Period
from slo_assets.slo.series import SeriesColumns, WindowKey, series_columns, series_frame
from slo_assets.slo.units import by_slo, exact_decimal, units
from slo_assets.slo.untimed import joined_note, untimed_note
from slo_assets.slo.values import IntArray
from slo_assets.slo.windows import LinesPerDay, Settings, WindowData, composite_window_data, window_coverage, window_data

AT_RISK_CONSUMED = Decimal("0.8")
AT_RISK_PROBABILITY = 0.5

Policies = Mapping[str, Sequence[AlertCondition]]  # alert policy name -> its conditions


@dataclass(frozen=True)
class WindowTotals:
    """A window's raw events and budget units (both 0 without an event), its budget and its SLI."""

    events: int
    good: Decimal
    total: Decimal
    budget: B.Budget
    sli: Decimal | None  # None: no event in the window


def window_totals(data: WindowData, target: Decimal) -> WindowTotals:
    """The window's own minutes summed (the lookback before them only feeds the burn-rate windows)."""
    u, offset = data.units, data.offset
    events = int(data.total[offset:].sum())
    good, total = exact_decimal(u.good[offset:].sum()), exact_decimal(u.total[offset:].sum())
    if events == 0:  # no event at all: no SLI (empty timeslices alone would say 100 %)
        good = total = Decimal(0)
    return WindowTotals(events, good, total, B.error_budget(good, total, target), B.sli(good, total))


def _raw_good(data: WindowData) -> IntArray:
    if data.good is None:
        raise ValueError("the window's data holds no good events per minute (a composite's): its adjustments cannot be audited")
    return data.good


def adjusted_budget(slo: Slo | CompositeSlo, objective: Objective, data: WindowData, budget: B.Budget) -> E.AdjustedBudget | None:
    """The window's budget without adjustments, and what each adjustment with an event in it returned
    (E.AdjustmentAudit: applied in order, Exclude first, so the returns add up). None without an event."""
    start, size, offset = data.replay_start, len(data.total), data.offset
    ordered = sorted(data.adjustments, key=lambda a: a.effect != A.EXCLUDE)
    present = [(a, a.events(data.win_start, data.win_end)) for a in ordered]
    if not any(events for _, events in present):
        return None
    good = _raw_good(data)
    empty = int(data.total[offset:].sum()) == 0

    def consumed(applied: list[A.BudgetAdjustment]) -> B.Budget:
        effects = A.minute_effects(applied, start, size)
        u = units(slo.budgeting_method, objective, effects.good(good, data.total), data.total, effects.excluded, offset)
        good_sum, total_sum = (Decimal(0), Decimal(0)) if empty else (exact_decimal(u.good[offset:].sum()), exact_decimal(u.total[offset:].sum()))
        return B.error_budget(good_sum, total_sum, objective.target)

    unadjusted = before = consumed([])
    audits = []
    for index, (adjustment, events) in enumerate(present):
        after = consumed([a for a, _ in present[:index + 1]]) if index + 1 < len(present) else budget
        if events:
            audits.append(_audit(slo.budgeting_method, objective, data, good, adjustment, events, before.consumed - after.consumed))
        before = after
    return E.AdjustedBudget(E.ErrorBudget(**unadjusted.to_json()), tuple(audits))


def _audit(method: str, objective: Objective, data: WindowData, good: IntArray, adjustment: A.BudgetAdjustment,
           events: list[tuple[int, int]], returned: Decimal) -> E.AdjustmentAudit:
    """What one adjustment's events cover in the window, and the budget it returned."""
    start, size, offset = data.replay_start, len(data.total), data.offset
    own = A.event_mask(events, start, size)[offset:]
    requests = data.total[offset:][own]
    slices = None
    if method != "Occurrences":  # the window's slices holding one of its minutes
        width = objective.time_slice_minutes
        lead = offset % width
        number = (np.flatnonzero(own) + offset - lead) // width
        slices = int(np.unique(number[number < (size - lead) // width]).size)
    return E.AdjustmentAudit(adjustment.name, adjustment.effect, len(events), int(own.sum()), int(requests.sum()),
                             int((requests - good[offset:][own]).sum()), slices, B.as_number(returned))


def replay_budget_alerts(slo: Slo | CompositeSlo, objective: Objective, data: WindowData, settings: Settings) -> list[B.BudgetAlert]:
    """One SLO window's budget-state alerts, replayed from its start: the budget units, the live
    events (a latency SLO's fast ones too), the judging floor and the low-traffic gate."""
    event_good, event_total = data.live_events
    latency = isinstance(slo, Slo) and slo.indicator.kind() == "latency"
    return B.budget_state_alerts(data.units.good, data.units.total, event_total, event_good if latency else None, data.replay_start,
                                 data.offset, objective.target, settings.min_events, settings.alert_min_bad_events, data.sums)


def _burn_rates(data: WindowData, target: Decimal, totals: WindowTotals) -> E.BurnRates:
    """The burn rate of each burn window at the end of the data, and over the window so far."""
    at_end = []
    for label, width in B.BURN_WINDOWS_MINUTES.items():
        at_end.append((label, round(data.sums.burn_rate_at_end(target, width), 6) if len(data.units.total) else 0.0))
    return E.BurnRates(tuple(at_end), None if totals.budget.consumed_ratio is None or totals.total == 0 else round(
        float((1 - totals.good / totals.total) / (1 - target)), 6))


def _policy_alerts(slo: Slo | CompositeSlo, objective: Objective, data: WindowData, policies: Policies | None) -> tuple[E.PolicyAlert, ...]:
    """The firings of the SLO's alert policies' conditions over the window."""
    u = data.units
    found = []
    for name in slo.alert_policies:
        for condition in (policies or {}).get(name, ()):
            for start, end, peak in B.replay_condition(u.good, u.total, data.replay_start, data.offset, objective.target,
                                                      condition.threshold, condition.op, condition.lookback_minutes,
                                                      condition.alert_after_minutes, data.sums):
                found.append(E.PolicyAlert(name, condition.name, condition.severity, condition.threshold,
                                           f"{condition.lookback_minutes}m", start, end, round(peak, 6)))
    return tuple(found)


def _outlook(data: WindowData, target: Decimal, window: TimeWindow, period: Period, settings: Settings) -> B.Forecast:
    """The budget forecast from the window's daily bad and total units, to the period end (or the window's)."""
    g_win, t_win = data.units.good[data.offset:], data.units.total[data.offset:]
    days = max(1, -(-(data.win_end - data.win_start) // DAY_MS))
    day_index = np.arange(len(t_win)) // 1440
    daily_bad = np.bincount(day_index, weights=(t_win - g_win).astype(float), minlength=days)[:days]
    daily_total = np.bincount(day_index, weights=t_win.astype(float), minlength=days)[:days]
    horizon = period.end_ms if not window.rolling else max(period.end_ms, data.win_end)
    return B.forecast(daily_bad, daily_total, data.win_end, horizon, target, simulations=settings.simulations,
                      seed=settings.forecast_seed)


def evaluate(slo: Slo | CompositeSlo, objective: Objective, window: TimeWindow, minutes: pl.DataFrame | None, period: Period,
             settings: Settings, policies: Policies | None = None, data: WindowData | None = None,
             coverage: CV.Coverage | None = None) -> WindowEvaluation:
    """Everything about one (SLO, objective, window): SLI, confidence, coverage, budget, burn rates,
    alerts, thresholds, forecast. `minutes`: this SLO's minute rows (slo, minute, good, total,
    server_errors); `coverage`: computed from them when not given. A composite comes with its
    `data` (composite_window_data)."""
    data = data or window_data(slo, objective, window, minutes, period, settings)
    coverage = coverage or window_coverage(minutes, data, settings)
    u, offset, target = data.units, data.offset, objective.target
    totals = window_totals(data, target)
    burn = _burn_rates(data, target, totals)
    # Alerts are replayed over the window only (a rolling 7d window lists no alert from three weeks
    # earlier); the minutes before it feed the burn-rate windows.
    replay = B.replay_with_gate(u.good, u.total, data.replay_start, offset, target, window.days,
                                settings.alert_min_events, settings.alert_min_bad_events, sums=data.sums)
    policy_alerts = _policy_alerts(slo, objective, data, policies)
    budget_alerts = replay_budget_alerts(slo, objective, data, settings)
    crossings = B.threshold_crossings(u.total[offset:] - u.good[offset:], data.win_start, totals.budget.allowed)
    outlook = _outlook(data, target, window, period, settings)
    measured = _status(totals.events, totals.sli, target, totals.budget, outlook, period, settings)
    status = CV.judged_status(measured, coverage)
    return WindowEvaluation(
        slo=slo.name, display_name=slo.display_name, service=slo.service,
        objective=objective.key, objective_name=objective.display_name,
        window=window.label, label=window_label(slo, objective, window),
        window_start_ms=data.win_start, window_end_ms=data.win_end,
        target=B.as_number(target), budgeting_method=slo.budgeting_method,
        events=totals.events, untimed=data.untimed, good=B.as_number(totals.good), total=B.as_number(totals.total),
        sli=B.as_number(totals.sli),
        error_budget=E.ErrorBudget(**totals.budget.to_json()),
        status=status,
        deficit=_deficit(totals.sli, target, totals.budget),
        slices=E.Slices(u.slices, u.empty_counted_good) if slo.budgeting_method != "Occurrences" else None,
        maintenance_excluded_events=int(data.total[offset:][data.excluded[offset:]].sum()),
        budget_adjustments=adjusted_budget(slo, objective, data, totals.budget) if data.adjustments else None,
        burn_rates=burn,
        alerts=tuple(_alert(f) for f in replay.firings),
        low_traffic_gate=E.LowTrafficGate(settings.alert_min_bad_events, settings.alert_min_events, len(replay.held_back)),
        alerts_held_back=tuple(_held_back(h) for h in replay.held_back),
        policy_alerts=policy_alerts,
        budget_alerts=tuple(E.BudgetAlert(a.name, a.severity, a.start_ms, a.end_ms, round(a.value, 6)) for a in budget_alerts),
        throughput=_throughput(objective, totals.events, data.win_start, data.win_end),
        thresholds=tuple(E.ThresholdCrossing(p, ms) for p, ms in crossings.items()),
        forecast=_forecast(outlook, crossings.get(100)),
        # weighted events are no independent trials: a Wilson interval over them would be false precision
        confidence=None if isinstance(slo, CompositeSlo) and slo.weighted else
        window_confidence(slo.budgeting_method, float(totals.good), float(totals.total), float(target)),
        components=tuple(E.ComponentWeight(c.slo, B.as_number(c.weight)) for c in slo.components) if isinstance(slo, CompositeSlo) else (),
        coverage=coverage,
        status_note=joined_note(CV.status_note(measured, coverage), untimed_note(totals.events, data.untimed)),
    )


def _throughput(objective: Objective, events: int, win_start: int, win_end: int) -> E.Throughput | None:
    """A throughput objective's threshold and the window's mean request rate (events / window seconds)."""
    if objective.op is None or objective.value is None:
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
    """The forecast's figures as plain floats, never numpy scalars, in the contract."""
    j = outlook.to_json()
    when = outlook.exhaustion_ms
    if outlook.exhausted and exhausted_at is not None:
        when = exhausted_at  # it already ran out then

    def number(value: float | None) -> float | None:
        return None if value is None else float(value)

    return E.Forecast(float(j["recent_daily_burn"]), number(j["days_to_exhaustion"]), None if when is None else int(when - when % 1000),
                      bool(j["exhausted"]), float(j["probability_exhausted_by_period_end"]),
                      number(j["projected_consumed_ratio_at_period_end"]), j["method"])


def window_label(slo: Slo | CompositeSlo, objective: Objective, window: TimeWindow) -> str:
    """What people read for one SLO window: SLO, objective (its display name, else its target) and window,
    so two objectives of one SLO never share a label."""
    objective_text = objective.display_name or f"{B.as_number(objective.target * 100)}%"
    return f"{slo.display_name or slo.name} · {objective_text} · {window.label}"


def _status(events: int, value: Decimal | None, target: Decimal, budget: B.Budget, outlook: B.Forecast, period: Period,
            settings: Settings) -> E.Status:
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
    evaluations: list[WindowEvaluation] = []
    columns: list[SeriesColumns] = []
    keys: list[WindowKey] = []

    def add(slo: Slo | CompositeSlo, objective: Objective, window: TimeWindow, data: WindowData, part: pl.DataFrame | None) -> None:
        coverage = window_coverage(part, data, settings, lines_per_day)
        evaluations.append(evaluate(slo, objective, window, None, period, settings, policies, data, coverage))
        columns.append(series_columns(data, objective.target))
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
    return evaluations, series_frame(keys, columns)
