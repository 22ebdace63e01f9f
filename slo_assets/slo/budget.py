"""Error budgets, burn rates, the multiwindow multi-burn-rate replay, thresholds and forecasts.

Pure numpy/Decimal over a minute series of good and total units (events for Occurrences, slices
for Timeslices). Budget figures are exact decimals; comparisons with thresholds are exact too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Protocol, overload

import numpy as np
import numpy.typing as npt

from slo_assets.core.calendar import DAY_MS, MINUTE_MS
from slo_assets.core.calendar import epoch_ms as epoch_ms  # re-exported: callers read B.epoch_ms
from slo_assets.core.calendar import iso as iso  # re-exported: callers read B.iso
from slo_assets.slo.burn_windows import alert_tiers as alert_tiers  # re-exported: callers read B.alert_tiers
from slo_assets.slo.burn_windows import burn_window_minutes
from slo_assets.slo.values import BoolArray, FloatArray, IntArray, JsonObject, UnitArray

BURN_WINDOWS_MINUTES = burn_window_minutes()  # label -> minutes, from burn_rate_windows.yaml
THRESHOLDS = (50, 80, 100)


class Tier(Protocol):
    """What the replay reads of an alert tier: a configured one (burn_windows.AlertTier) or a window
    pair paging at a fixed burn factor (the backtest's)."""

    @property
    def severity(self) -> str: ...

    @property
    def long(self) -> str: ...

    @property
    def short(self) -> str: ...

    @property
    def long_minutes(self) -> int: ...

    @property
    def short_minutes(self) -> int: ...

    def factor(self, period_days: int) -> Decimal: ...

    def exact_factor(self, period_days: int) -> Fraction: ...


@dataclass(frozen=True)
class Budget:
    allowed: Decimal
    consumed: Decimal
    consumed_ratio: Decimal | None
    remaining_ratio: Decimal | None

    def to_json(self) -> JsonObject:
        return {
            "allowed": as_number(self.allowed),
            "consumed": as_number(self.consumed),
            "consumed_ratio": as_number(self.consumed_ratio),
            "remaining_ratio": as_number(self.remaining_ratio),
        }


@overload
def as_number(value: Decimal) -> int | float: ...


@overload
def as_number(value: None) -> None: ...


@overload
def as_number(value: Decimal | None) -> int | float | None: ...


def as_number(value: Decimal | None) -> int | float | None:
    """A JSON number from an exact decimal: integral values as int, others as the nearest float."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def error_budget(good: Decimal | int, total: Decimal | int, target: Decimal) -> Budget:
    """allowed = (1 - target) * total; consumed = total - good; ratios exact (28 digits)."""
    with localcontext() as ctx:
        ctx.prec = 28
        good, total = Decimal(good), Decimal(total)
        allowed = (1 - target) * total
        consumed = total - good
        if allowed == 0:
            return Budget(allowed, consumed, None, None)
        ratio = consumed / allowed
        return Budget(allowed, consumed, ratio.normalize(), (1 - ratio).normalize())


def sli(good: Decimal | int, total: Decimal | int) -> Decimal | None:
    if total == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 28
        return (Decimal(good) / Decimal(total)).normalize()


def window_sums(values: UnitArray, minutes: int) -> UnitArray:
    """Sum over the `minutes` minutes ending at and including each index (shorter at the start)."""
    return _window(np.concatenate([[0], np.cumsum(values)]), minutes)


def _window(cumulative: UnitArray, minutes: int) -> UnitArray:
    """cumulative[i + 1] - cumulative[max(i + 1 - minutes, 0)] for every i, by slices (cumulative[0] is 0)."""
    sums = cumulative[1:].copy()
    if minutes < len(sums):
        np.subtract(sums[minutes:], cumulative[1:len(sums) - minutes + 1], out=sums[minutes:])
    return sums


class Sums:
    """Bad and total units of one series summed over trailing windows of any width: the cumulative
    sums are taken once per series (not once per window width and caller), each width once.
    Exactly window_sums(total - good, m) and window_sums(total, m)."""

    def __init__(self, good: UnitArray, total: UnitArray) -> None:
        self.good, self.total = good, total
        self._bad_cumulative: UnitArray = np.concatenate([[0], np.cumsum(total - good)])
        self._total_cumulative: UnitArray = np.concatenate([[0], np.cumsum(total)])
        self._windows: dict[int, tuple[UnitArray, UnitArray]] = {}
        self._rates: dict[tuple[int, Decimal], FloatArray] = {}

    def window(self, minutes: int) -> tuple[UnitArray, UnitArray]:
        """(bad units, total units) over the `minutes` minutes ending at each index."""
        if minutes not in self._windows:
            self._windows[minutes] = (_window(self._bad_cumulative, minutes), _window(self._total_cumulative, minutes))
        return self._windows[minutes]

    def burn_rate(self, target: Decimal, minutes: int) -> FloatArray:
        key = (minutes, target)
        if key not in self._rates:
            bad_w, total_w = self.window(minutes)
            self._rates[key] = _rate(bad_w, total_w, target)
        return self._rates[key]

    def burn_rate_at_end(self, target: Decimal, minutes: int) -> float:
        """The last value of burn_rate(target, minutes), without the whole series."""
        size = len(self.total)
        if size == 0:
            raise IndexError("an empty series has no last burn rate")
        if minutes in self._windows:
            return float(self.burn_rate(target, minutes)[-1])
        start = max(size - minutes, 0)
        bad_w = self._bad_cumulative[size:size + 1] - self._bad_cumulative[start:start + 1]
        total_w = self._total_cumulative[size:size + 1] - self._total_cumulative[start:start + 1]
        return float(_rate(bad_w, total_w, target)[-1])


def _rate(bad_w: UnitArray, total_w: UnitArray, target: Decimal) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(total_w > 0, bad_w / np.where(total_w > 0, total_w, 1), 0.0)
    burn: FloatArray = rate / float(1 - target)
    return burn


def burn_rate_series(good: UnitArray, total: UnitArray, target: Decimal, minutes: int, sums: Sums | None = None) -> FloatArray:
    """(bad_w / total_w) / (1 - target) at every minute; 0 where the window has no traffic."""
    return (sums or Sums(good, total)).burn_rate(target, minutes)


def _above(good: UnitArray, total: UnitArray, target: Decimal, minutes: int, factor: Fraction | Decimal,
           min_events: int, sums: Sums | None = None) -> BoolArray:
    """Exact test burn > factor, i.e. bad_w * 1 > factor * (1 - target) * total_w, per minute."""
    bad_w, total_w = (sums or Sums(good, total)).window(minutes)
    return _exceeds(bad_w, total_w, Fraction(factor) * Fraction(1 - target)) & (total_w > 0) & (total_w >= min_events)


def _exceeds(bad_w: UnitArray, total_w: UnitArray, limit: Fraction) -> BoolArray:
    """Exact bad_w > limit * total_w per index: in integers for whole units, with a relative margin for fractional ones."""
    if np.issubdtype(bad_w.dtype, np.integer) and np.issubdtype(total_w.dtype, np.integer):
        bound = 2**62
        # The guard covers the constants too: 0 * a denominator above 2**63 still overflows int64.
        fits = (limit.denominator < bound and limit.numerator < bound
                and int(bad_w.max(initial=0)) * limit.denominator < bound and int(total_w.max(initial=0)) * limit.numerator < bound)
        if fits:
            above = bad_w * limit.denominator > total_w * limit.numerator
        else:  # exact in Python integers: slow, only for counts near 2**62
            above = np.array([b * limit.denominator > t * limit.numerator for b, t in zip(bad_w.tolist(), total_w.tolist(), strict=True)],
                             dtype=bool)
    else:  # RatioTimeslices: fractional units
        above = bad_w > float(limit) * total_w * (1 + 1e-12)
    return above


@dataclass(frozen=True)
class Firing:
    severity: str
    long_window: str
    short_window: str
    factor: Decimal
    start_ms: int
    end_ms: int  # exclusive: the first minute it no longer held
    peak_burn_rate: float

    def to_json(self) -> JsonObject:
        return {
            "severity": self.severity,
            "long_window": self.long_window,
            "short_window": self.short_window,
            "burn_rate_threshold": as_number(self.factor),
            "start": iso(self.start_ms),
            "end": iso(self.end_ms),
            "minutes": (self.end_ms - self.start_ms) // MINUTE_MS,
            "peak_burn_rate": round(self.peak_burn_rate, 6),
        }


def _runs(mask: BoolArray) -> list[tuple[int, int]]:
    """[start, end) index pairs of consecutive True values."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


@dataclass(frozen=True)
class HeldBack(Firing):
    """A run of minutes where a tier's burn rates were above its factor but the low-traffic gate held
    the alert back: the long window had fewer bad units than the gate asks."""

    bad_in_long_window: float = 0.0  # the most bad units the long window held during the run

    def to_json(self) -> JsonObject:
        return {**super().to_json(), "bad_in_long_window": as_number(Decimal(repr(float(self.bad_in_long_window))))}


@dataclass(frozen=True)
class Replay:
    firings: list[Firing]
    held_back: list[HeldBack]  # what the low-traffic gate suppressed (empty when the gate is off)


def replay_with_gate(good: UnitArray, total: UnitArray, first_minute_ms: int, evaluate_from: int, target: Decimal,
                     period_days: int, min_events: int = 0, min_bad_events: int = 0,
                     tiers: Sequence[Tier] | None = None, sums: Sums | None = None) -> Replay:
    """Replay the multiwindow alerts at every minute from index `evaluate_from` (earlier minutes only
    feed the windows). Each firing is a maximal run of minutes where both windows burn too fast.
    Low-traffic gates: a tier fires only when its long window holds at least `min_events` units and
    `min_bad_events` bad units; runs the bad-units gate suppressed are returned as `held_back`."""
    firings, held = [], []
    sums = sums or Sums(good, total)
    for tier in tiers or alert_tiers():
        factor = tier.factor(period_days)
        exact = tier.exact_factor(period_days)
        burning = _above(good, total, target, tier.long_minutes, exact, min_events, sums) & _above(
            good, total, target, tier.short_minutes, exact, min_events, sums)
        burning[:evaluate_from] = False
        if not burning.any():
            continue
        bad_long = sums.window(tier.long_minutes)[0]
        enough = bad_long >= min_bad_events - 1e-9 if min_bad_events > 0 else np.ones(len(total), dtype=bool)
        fires, gated = burning & enough, burning & ~enough
        long_rate = sums.burn_rate(target, tier.long_minutes)
        for start, end in _runs(fires):
            firings.append(Firing(tier.severity, tier.long, tier.short, factor, first_minute_ms + start * MINUTE_MS,
                                  first_minute_ms + end * MINUTE_MS, float(long_rate[start:end].max())))
        for start, end in _runs(gated):
            held.append(HeldBack(tier.severity, tier.long, tier.short, factor, first_minute_ms + start * MINUTE_MS,
                                 first_minute_ms + end * MINUTE_MS, float(long_rate[start:end].max()),
                                 float(bad_long[start:end].max())))
    order = lambda f: (f.start_ms, f.severity, f.long_window)  # noqa: E731
    return Replay(sorted(firings, key=order), sorted(held, key=order))


def replay_alerts(good: UnitArray, total: UnitArray, first_minute_ms: int, evaluate_from: int, target: Decimal,
                  period_days: int, min_events: int = 0, tiers: Sequence[Tier] | None = None,
                  min_bad_events: int = 0) -> list[Firing]:
    """The firings of replay_with_gate (the definition exactly when both gates are 0)."""
    return replay_with_gate(good, total, first_minute_ms, evaluate_from, target, period_days, min_events, min_bad_events,
                            tiers).firings


def replay_condition(good: UnitArray, total: UnitArray, first_minute_ms: int, evaluate_from: int, target: Decimal,
                     threshold: float, op: str, lookback: int, alert_after: int,
                     sums: Sums | None = None) -> list[tuple[int, int, float]]:
    """An OpenSLO burnrate AlertCondition: burn over `lookback` op threshold, held for `alert_after` minutes."""
    rate = burn_rate_series(good, total, target, lookback, sums)
    holds = rate > threshold if op == "gt" else rate >= threshold
    holds[:evaluate_from] = False
    found = []
    for start, end in _runs(holds):
        if end - start >= alert_after:
            fire = start + alert_after - 1
            found.append((first_minute_ms + fire * MINUTE_MS, first_minute_ms + end * MINUTE_MS, float(rate[start:end].max())))
    return found


# Budget-state alerts (docs/concepts.md, "Budget-state alerts"): one table the replay and the rules read.
BUDGET_CRITICAL_BELOW = Decimal("0.1")  # remaining budget ratio under this: critical (exactly 10 % is warning)
BUDGET_WARNING_BELOW = Decimal("0.3")  # remaining in [10 %, 30 %): warning
HIGH_BURN_RATE = Decimal("1.5")  # sustained: above this over the last hour and still above it over the last 5 minutes
HIGH_BURN_LONG, HIGH_BURN_SHORT = "1h", "5m"
LATENCY_WINDOW = "5m"  # a latency SLO's threshold is violated when over this window fewer requests than the target are fast
BUDGET_ALERTS = {  # name -> severity
    "budget_critical": "page", "budget_warning": "ticket", "slo_violated": "page", "high_burn_rate": "ticket",
    "latency_threshold_violated": "ticket",
}


@dataclass(frozen=True)
class BudgetAlert:
    """A run of minutes [start, end) during which one budget-state condition held; `value` is its
    worst figure then: the lowest remaining ratio, or the highest burn rate (1h, or 5m for latency)."""

    name: str
    severity: str
    start_ms: int
    end_ms: int
    value: float


def budget_state_alerts(good: UnitArray, total: UnitArray, events: IntArray, event_good: IntArray | None,
                        first_minute_ms: int, evaluate_from: int, target: Decimal, min_events: int = 0,
                        min_bad_events: int = 0, sums: Sums | None = None) -> list[BudgetAlert]:
    """Replay the budget-state alerts at every minute from index `evaluate_from` (the window start).

    `good`/`total`: budget units per minute (events or slices), `events`: raw events per minute.
    The budget at a minute is the window's so far (allowed = (1 - target) x units so far), as a live
    system would have known it; the budget alerts hold only once the window has `min_events` events.
    The high burn rate and the latency threshold hold only with `min_bad_events` bad units in their
    window (the low-traffic gate of the burn-rate tiers). `event_good`: a latency SLO's fast requests
    per minute (None for other SLOs, which get no latency alert)."""
    sums = sums or Sums(good, total)
    size = len(total)
    found: list[BudgetAlert] = []
    if size <= evaluate_from:
        return found
    bad_so_far = np.cumsum((total - good)[evaluate_from:])
    units_so_far = np.cumsum(total[evaluate_from:])
    judged = (np.cumsum(events[evaluate_from:]) >= max(min_events, 1)) & (units_so_far > 0)
    allowed = Fraction(1 - target)
    with np.errstate(divide="ignore", invalid="ignore"):
        remaining = 1 - bad_so_far / (float(allowed) * np.where(units_so_far > 0, units_so_far, 1))
    # remaining < r  <=>  bad so far > (1 - r) x (1 - target) x units so far, compared exactly
    below = {r: judged & _exceeds(bad_so_far, units_so_far, (1 - Fraction(r)) * allowed)
             for r in (Decimal(0), BUDGET_CRITICAL_BELOW, BUDGET_WARNING_BELOW)}
    states = {"slo_violated": below[Decimal(0)], "budget_critical": below[BUDGET_CRITICAL_BELOW],
              "budget_warning": below[BUDGET_WARNING_BELOW] & ~below[BUDGET_CRITICAL_BELOW]}
    for name, mask in states.items():
        for start, end in _runs(mask):
            found.append(BudgetAlert(name, BUDGET_ALERTS[name], first_minute_ms + (evaluate_from + start) * MINUTE_MS,
                                     first_minute_ms + (evaluate_from + end) * MINUTE_MS, float(remaining[start:end].min())))

    def gated(series_good: UnitArray, series_total: UnitArray, windows: tuple[str, ...], factor: Decimal, name: str) -> None:
        series_sums = sums if series_good is good else Sums(series_good, series_total)
        holds = np.ones(size, dtype=bool)
        for label in windows:
            holds &= _above(series_good, series_total, target, BURN_WINDOWS_MINUTES[label], factor, 0, series_sums)
        minutes = BURN_WINDOWS_MINUTES[windows[0]]
        if min_bad_events > 0:
            holds &= series_sums.window(minutes)[0] >= min_bad_events - 1e-9
        holds[:evaluate_from] = False
        rate = series_sums.burn_rate(target, minutes)
        for start, end in _runs(holds):
            found.append(BudgetAlert(name, BUDGET_ALERTS[name], first_minute_ms + start * MINUTE_MS,
                                     first_minute_ms + end * MINUTE_MS, float(rate[start:end].max())))

    gated(good, total, (HIGH_BURN_LONG, HIGH_BURN_SHORT), HIGH_BURN_RATE, "high_burn_rate")
    if event_good is not None:  # the requests themselves, whatever the budgeting method
        gated(event_good, events, (LATENCY_WINDOW,), Decimal(1), "latency_threshold_violated")
    return sorted(found, key=lambda a: (a.start_ms, a.name))


def threshold_crossings(bad: UnitArray, first_minute_ms: int, allowed: Decimal) -> dict[int, int | None]:
    """First minute (ms) at which cumulative bad units reach 50/80/100% of the period's allowed budget."""
    crossings: dict[int, int | None] = {}
    cumulative = np.cumsum(bad)
    for percent in THRESHOLDS:
        need = float(allowed * percent / 100)
        if allowed <= 0:
            crossings[percent] = None
            continue
        index = int(np.searchsorted(cumulative, need - 1e-9 * max(need, 1), side="left"))
        reached = index < len(cumulative) and cumulative[index] >= need - 1e-9 * max(need, 1)
        crossings[percent] = first_minute_ms + index * MINUTE_MS if reached else None
    return crossings


@dataclass(frozen=True)
class Forecast:
    daily_burn_units: float  # recent mean bad units per day
    days_to_exhaustion: float | None  # None: not burning
    exhaustion_ms: int | None
    exhausted: bool
    probability_exhausted_by_period_end: float
    projected_consumed_ratio: float | None
    simulations: int
    seed: int
    days_sampled: int

    def to_json(self) -> JsonObject:
        return {
            "recent_daily_burn": round(self.daily_burn_units, 6),
            "days_to_exhaustion": None if self.days_to_exhaustion is None else round(self.days_to_exhaustion, 3),
            "projected_exhaustion": None if self.exhaustion_ms is None else iso(self.exhaustion_ms),
            "exhausted": self.exhausted,
            "probability_exhausted_by_period_end": round(self.probability_exhausted_by_period_end, 4),
            "projected_consumed_ratio_at_period_end": None if self.projected_consumed_ratio is None else round(self.projected_consumed_ratio, 6),
            "method": f"Monte Carlo: {self.simulations} runs resampling the last {self.days_sampled} daily bad ratios (seed {self.seed})",
        }


def forecast(daily_bad: npt.ArrayLike, daily_total: npt.ArrayLike, as_of_ms: int, period_end_ms: int, target: Decimal,
             recent_days: int = 7, simulations: int = 10_000, seed: int = 20260101) -> Forecast:
    """Days to exhaustion = remaining budget / recent daily burn; probability of exhaustion by the
    period end by resampling recent daily bad ratios over the remaining days (seeded)."""
    daily_bad = np.asarray(daily_bad, dtype=float)
    daily_total = np.asarray(daily_total, dtype=float)
    error_share = float(1 - target)
    elapsed_total, elapsed_bad = daily_total.sum(), daily_bad.sum()
    remaining_days = max(0.0, (period_end_ms - as_of_ms) / DAY_MS)
    days_elapsed = max(len(daily_total), 1)
    # Budget of the whole period, from the traffic so far extrapolated to the remaining days.
    projected_total = elapsed_total + elapsed_total / days_elapsed * remaining_days
    allowed = error_share * projected_total
    recent = slice(max(0, len(daily_bad) - recent_days), len(daily_bad))
    burn = float(daily_bad[recent].mean()) if len(daily_bad) else 0.0
    exhausted = allowed > 0 and elapsed_bad >= allowed
    remaining_budget = allowed - elapsed_bad
    if exhausted:
        days, when = 0.0, as_of_ms
    elif burn > 0:
        days = remaining_budget / burn
        when = as_of_ms + int(days * DAY_MS)
    else:
        days, when = None, None
    rng = np.random.default_rng(seed)
    ratios = daily_bad[recent] / np.where(daily_total[recent] > 0, daily_total[recent], 1)
    daily_volume = elapsed_total / days_elapsed
    whole_days = int(np.ceil(remaining_days))
    if exhausted:
        probability = 1.0
    elif whole_days == 0 or len(ratios) == 0 or allowed <= 0:
        probability = 0.0
    else:
        draws = rng.choice(ratios, size=(simulations, whole_days), replace=True)
        weights = np.minimum(1.0, remaining_days - np.arange(whole_days))  # last day may be partial
        future_bad = (draws * weights).sum(axis=1) * daily_volume
        probability = float(np.mean(elapsed_bad + future_bad >= allowed))
    projected_ratio = None if allowed <= 0 else (elapsed_bad + burn * remaining_days) / allowed
    return Forecast(burn, days, when, bool(exhausted), probability, projected_ratio, simulations, seed, len(ratios))
