"""The alert-policy backtest: each alert policy replayed over a month's minute aggregates and scored
against the month's burn episodes (docs/backtest.md defines every figure).

A policy is a set of burn-rate tiers and a low-traffic gate, or the budget-state alerts. The replay
is the chain's own (`windows.window_data` for the budget units, `budget.replay_with_gate` or
`monthly.replay_budget_alerts` for the firings); this module only finds the episodes and scores the
firings against them. Pure numpy over one month; no Dagster.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import numpy as np
import polars as pl

from slo_assets.core.calendar import MINUTE_MS, iso
from slo_assets.core.durations import DurationError, duration_minutes
from slo_assets.core.markdown import table
from slo_assets.openslo.spec import SpecSet
from slo_assets.slo import budget as B
from slo_assets.slo.burn_windows import AlertTier, alert_tiers
from slo_assets.slo.monthly import replay_budget_alerts
from slo_assets.slo.period import Period
from slo_assets.slo.units import by_slo
from slo_assets.slo.values import BoolArray, JsonObject, UnitArray
from slo_assets.slo.windows import DEFAULT_ALERT_MIN_BAD_EVENTS, Settings, window_data

SCHEMA_VERSION = 1
NOISE_BELOW = 0.01  # a page on an episode that spent less of the budget is noise
MISS_ABOVE = 0.10  # an episode that spent more and never paged is a miss
# An episode ends after this many minutes with traffic at or under the allowance: the shortest window
# a tier reads (5m). Fewer healthy minutes between two bad ones are one burn; at a few requests a
# minute, an error burst otherwise splits into dozens of one-minute episodes, each "detected" at
# delay 0 by the page an earlier one raised.
EPISODE_GAP_MINUTES = 5
TIERS, BUDGET_STATE = "tiers", "budget_state"  # Policy.kind
BUDGET_STATE_NAME = "budget-state alerts"
PAIR_FORM = re.compile(r"(?P<long>[^/:]+)/(?P<short>[^/:]+):(?P<factor>[^/:]+)")


class PairError(ValueError):
    """A --pair that is not LONG/SHORT:FACTOR; the message names the value and the field."""


@dataclass(frozen=True)
class WindowPair:
    """A long/short window pair paging at a fixed burn factor (whatever the SLO window's period):
    replayed by budget.replay_with_gate like a configured tier."""

    long: str
    short: str
    long_minutes: int
    short_minutes: int
    burn_factor: Fraction
    severity: str = "page"

    def factor(self, period_days: int) -> Decimal:
        return Decimal(self.burn_factor.numerator) / Decimal(self.burn_factor.denominator)

    def exact_factor(self, period_days: int) -> Fraction:
        return self.burn_factor

    @property
    def label(self) -> str:
        return f"{self.long}/{self.short}:{B.as_number(self.factor(0))}"


def parse_pair(text: str) -> WindowPair:
    """`30m/5m:10`: long window 30 minutes, short window 5 minutes, page at a burn rate above 10."""
    found = PAIR_FORM.fullmatch(text.strip())
    if not found:
        raise PairError(f"{text!r}: write LONG/SHORT:FACTOR, e.g. 30m/5m:10")
    minutes = {}
    for field in ("long", "short"):
        try:
            minutes[field] = duration_minutes(found.group(field))
        except DurationError as error:
            raise PairError(f"{text!r}: {field} window: {error}") from None
    if minutes["short"] >= minutes["long"]:
        raise PairError(f"{text!r}: short window {found.group('short')} must be shorter than long {found.group('long')}")
    try:
        factor = Decimal(found.group("factor"))
    except InvalidOperation:
        factor = Decimal("NaN")
    if not factor.is_finite() or factor <= 0:
        raise PairError(f"{text!r}: factor {found.group('factor')!r} must be a number above 0, e.g. 14.4")
    return WindowPair(found.group("long"), found.group("short"), minutes["long"], minutes["short"], Fraction(factor))


@dataclass(frozen=True)
class Policy:
    """What pages. Kind TIERS: tiers (configured, or a pair) and the low-traffic gate (bad units in the
    long window, events in it; 0 = off). Kind BUDGET_STATE: the budget-state alerts as the chain
    replays them (no tiers; the gate holds back their tickets, `min_events` is the window's judging floor)."""

    name: str
    tiers: tuple[AlertTier | WindowPair, ...]
    min_bad_events: int
    min_events: int = 0
    kind: str = TIERS

    def to_json(self) -> JsonObject:
        if self.kind == BUDGET_STATE:
            return {"name": self.name, "kind": self.kind, "low_traffic_gate": {"min_bad_events": self.min_bad_events},
                    "min_events": self.min_events, "alerts": [{"alert": name, "severity": severity}
                                                              for name, severity in B.BUDGET_ALERTS.items()]}
        return {"name": self.name, "kind": self.kind,
                "low_traffic_gate": {"min_bad_events": self.min_bad_events, "min_events": self.min_events},
                "tiers": [{"severity": t.severity, "long_window": t.long, "short_window": t.short,
                           **({"burn_rate_threshold": B.as_number(t.factor(0))} if isinstance(t, WindowPair)
                              else {"budget_fraction": float(t.budget_fraction)})} for t in self.tiers]}


def policies(pairs: Sequence[WindowPair], settings: Settings, tiers: tuple[AlertTier, ...] | None = None) -> tuple[Policy, ...]:
    """The policies side by side: the configured tiers with the low-traffic gate on and off, each pair
    (with the gate on), then the budget-state alerts (with the chain's settings: its gate and judging
    floor). `On` is the configured gate, or the default when it is set to 0."""
    tiers = tiers or alert_tiers()
    gate = settings.alert_min_bad_events or DEFAULT_ALERT_MIN_BAD_EVENTS
    found = [Policy(f"tiers, gate {gate}", tiers, gate, settings.alert_min_events),
             Policy("tiers, no gate", tiers, 0, settings.alert_min_events)]
    found += [Policy(f"pair {pair.label}, gate {gate}", (pair,), gate, settings.alert_min_events) for pair in pairs]
    found.append(Policy(BUDGET_STATE_NAME, (), settings.alert_min_bad_events, settings.min_events, BUDGET_STATE))
    return tuple(found)


@dataclass(frozen=True)
class Episode:
    """A maximal run of minutes whose error ratio exceeds the allowance (1 - target), broken only by
    EPISODE_GAP_MINUTES minutes with traffic at or under it; minutes without traffic neither extend
    nor break it. Indexes are minutes of the replay's series."""

    first: int  # first minute above the allowance
    last: int  # last minute above the allowance
    bad: float  # bad units from first through last


def episodes(good: UnitArray, total: UnitArray, target: Decimal, evaluate_from: int = 0,
             gap_minutes: int = EPISODE_GAP_MINUTES) -> list[Episode]:
    """The burn episodes of a unit series from minute `evaluate_from` on (the exact test bad > (1 - target) x total):
    runs of minutes above the allowance, joined across fewer than `gap_minutes` minutes with traffic at or under it."""
    bad = total - good
    allowance = Fraction(1 - target)
    if np.issubdtype(bad.dtype, np.integer):
        above = bad * allowance.denominator > total * allowance.numerator
    else:  # RatioTimeslices: fractional units
        above = bad > float(allowance) * total * (1 + 1e-12)
    traffic = np.flatnonzero(total[evaluate_from:] > 0) + evaluate_from  # the minutes that say anything
    burning = np.flatnonzero(above[traffic])  # positions among the minutes with traffic
    if not len(burning):
        return []
    breaks = np.flatnonzero(np.diff(burning) > gap_minutes)  # gap_minutes healthy minutes or more in between
    starts, ends = np.concatenate([[0], breaks + 1]), np.concatenate([breaks, [len(burning) - 1]])
    cumulative = np.concatenate([[0], np.cumsum(bad)])
    found = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        first, last = int(traffic[burning[start]]), int(traffic[burning[end]])
        found.append(Episode(first, last, float(cumulative[last + 1] - cumulative[first])))
    return found


@dataclass(frozen=True)
class EpisodeOutcome:
    """One episode under one policy."""

    slo: str
    objective: str
    window: str
    start_ms: int
    end_ms: int  # the minute after its last bad minute
    spent: float | None  # bad units / the window's allowed bad units (None when nothing is allowed)
    paged_at_ms: int | None  # the first minute a page was firing during it
    spent_before_page: float | None  # share of the budget spent from its first minute through paged_at

    @property
    def delay_minutes(self) -> int | None:
        return None if self.paged_at_ms is None else (self.paged_at_ms - self.start_ms) // MINUTE_MS

    @property
    def missed(self) -> bool:
        return self.paged_at_ms is None and self.spent is not None and self.spent > MISS_ABOVE


@dataclass
class PolicyRecord:
    """What one policy did over some SLO windows and minutes: summed over windows and months."""

    policy: str
    minutes: int = 0  # minutes replayed: each month's span once (the same for every SLO window of it)
    windows: int = 0  # SLO windows replayed, summed over the months
    alerts: int = 0
    pages: int = 0
    noise_pages: int = 0
    outcomes: list[EpisodeOutcome] = dataclasses.field(default_factory=list)

    def add(self, other: PolicyRecord) -> None:
        self.minutes += other.minutes
        self.windows += other.windows
        self.alerts += other.alerts
        self.pages += other.pages
        self.noise_pages += other.noise_pages
        self.outcomes += other.outcomes


@dataclass(frozen=True)
class PolicyScore:
    """The backtest table's row for one policy over one month (or all of them)."""

    policy: str
    months: str
    weeks: float  # the span replayed, in weeks (the same span for every SLO window)
    alerts: int
    pages: int
    episodes: int
    paged_episodes: int
    delay_median_minutes: float | None
    delay_p90_minutes: float | None
    spent_before_page_median: float | None
    spent_before_page_p90: float | None
    noise_pages: int
    misses: int

    @property
    def alerts_per_week(self) -> float | None:
        return None if self.weeks == 0 else round(self.alerts / self.weeks, 2)

    @property
    def pages_per_week(self) -> float | None:
        return None if self.weeks == 0 else round(self.pages / self.weeks, 2)

    def to_json(self) -> JsonObject:
        return {**dataclasses.asdict(self), "alerts_per_week": self.alerts_per_week, "pages_per_week": self.pages_per_week}

    @classmethod
    def from_json(cls, row: JsonObject) -> PolicyScore:
        """A row of the alert_backtest document (to_json's fields; the per-week figures are derived)."""
        return cls(**{field.name: row[field.name] for field in dataclasses.fields(cls)})


def _percentile(values: list[float], q: float) -> float | None:
    return None if not values else round(float(np.percentile(values, q)), 6)


def score(record: PolicyRecord, months: str) -> PolicyScore:
    weeks = record.minutes / (7 * 1440)
    paged = [o for o in record.outcomes if o.paged_at_ms is not None]
    delays = [float(delay) for delay in (o.delay_minutes for o in paged) if delay is not None]  # a paged episode has one
    spent = [o.spent_before_page for o in paged if o.spent_before_page is not None]
    return PolicyScore(record.policy, months, round(weeks, 4), record.alerts, record.pages, len(record.outcomes), len(paged),
                       _percentile(delays, 50), _percentile(delays, 90), _percentile(spent, 50), _percentile(spent, 90),
                       record.noise_pages, sum(o.missed for o in record.outcomes))


def _marked(runs: Sequence[tuple[int, int]], size: int) -> BoolArray:
    """Minutes covered by [start, end) index runs, as a boolean mask of `size` minutes."""
    edges = np.zeros(size + 1, dtype=np.int64)
    for start, end in runs:
        edges[max(start, 0)] += 1
        edges[min(end, size)] -= 1
    return np.cumsum(edges[:size]) > 0


def score_window(policy: Policy, firings: Sequence[B.Firing | B.BudgetAlert], found: Sequence[Episode], bad: UnitArray, allowed: float,
                 first_minute_ms: int, key: tuple[str, str, str]) -> PolicyRecord:
    """One policy's firings (burn-rate or budget-state: their severity and [start, end) only) in one
    SLO window against its episodes. A page detects an episode when it
    is firing at some minute of it; it is noise when every episode it overlaps spent < 1 % (or it overlaps none).
    Linear in minutes, episodes and pages: a month at low traffic has hundreds of each."""
    size = len(bad)
    cumulative = np.concatenate([[0], np.cumsum(bad)])
    pages = [((f.start_ms - first_minute_ms) // MINUTE_MS, (f.end_ms - first_minute_ms) // MINUTE_MS)
             for f in firings if f.severity == "page"]
    paging = _marked(pages, size)
    # the first paging minute at or after each minute (size when none)
    ahead = np.where(paging, np.arange(size), size)
    next_paging = np.minimum.accumulate(ahead[::-1])[::-1] if size else ahead

    def share(units: float) -> float | None:
        return None if allowed <= 0 else units / allowed

    record = PolicyRecord(policy.name, windows=1, alerts=len(firings), pages=len(pages))
    spent = [share(e.bad) for e in found]
    for episode, episode_spent in zip(found, spent, strict=True):
        at = int(next_paging[episode.first])
        paged = at if at <= episode.last else None
        record.outcomes.append(EpisodeOutcome(
            *key, first_minute_ms + episode.first * MINUTE_MS, first_minute_ms + (episode.last + 1) * MINUTE_MS, episode_spent,
            None if paged is None else first_minute_ms + paged * MINUTE_MS,
            None if paged is None else share(float(cumulative[paged + 1] - cumulative[episode.first]))))
    # a page is not noise when it overlaps a minute of an episode that spent 1 % or more (or whose share is unknown)
    significant = _marked([(e.first, e.last + 1) for e, s in zip(found, spent, strict=True) if s is None or s >= NOISE_BELOW], size)
    covered = np.concatenate([[0], np.cumsum(significant)])
    record.noise_pages = sum(int(covered[min(end, size)] - covered[max(start, 0)]) == 0 for start, end in pages)
    return record


@dataclass(frozen=True)
class MonthBacktest:
    month: str
    as_of_ms: int
    policies: tuple[Policy, ...]
    records: dict[str, PolicyRecord]  # policy name -> its record over every SLO window of the month

    def scores(self) -> list[PolicyScore]:
        return [score(self.records[p.name], self.month) for p in self.policies]


def backtest_month(specs: SpecSet, minutes: pl.DataFrame, period: Period, settings: Settings,
                   chosen: Sequence[Policy]) -> MonthBacktest:
    """Every policy over every SLO window of the month. `minutes`: the month's minute rows and the
    lookback before it (windows.LOOKBACK_DAYS). Every window is replayed over the calendar month (a
    rolling window too, so that months never overlap); its period length sets the tiers' factors,
    and its budget is (1 - target) x the month's units scaled to the window's length (a calendar
    window: the whole month). The budget-state alerts judge the budget of the month so far, as the
    chain does for a calendar window, whatever the window (docs/backtest.md)."""
    parts = by_slo(minutes)
    records = {p.name: PolicyRecord(p.name, minutes=(period.as_of_ms - period.start_ms) // MINUTE_MS) for p in chosen}
    for slo in specs.slos:
        for objective in slo.objectives:
            for window in slo.windows:
                month_window = dataclasses.replace(window, rolling=False)  # bounds: the month up to the data's end
                data = window_data(slo, objective, month_window, parts.get(slo.name), period, settings)
                good, total = data.units.good, data.units.total
                span = len(total) - data.offset
                window_minutes = window.days * 1440 if window.rolling else (period.end_ms - period.start_ms) // MINUTE_MS
                allowed = float(1 - objective.target) * float(total[data.offset:].sum()) * window_minutes / span if span else 0.0
                found = episodes(good, total, objective.target, data.offset)
                key = (slo.name, objective.key, window.label)
                for policy in chosen:
                    if policy.kind == BUDGET_STATE:
                        fired: Sequence[B.Firing | B.BudgetAlert] = replay_budget_alerts(slo, objective, data, dataclasses.replace(
                            settings, min_events=policy.min_events, alert_min_bad_events=policy.min_bad_events))
                    else:
                        fired = B.replay_with_gate(good, total, data.replay_start, data.offset, objective.target, window.days,
                                                   policy.min_events, policy.min_bad_events, tiers=policy.tiers, sums=data.sums).firings
                    records[policy.name].add(score_window(policy, fired, found, total - good, allowed, data.replay_start, key))
    return MonthBacktest(period.month, period.as_of_ms, tuple(chosen), records)


def pooled(months: Sequence[MonthBacktest]) -> list[PolicyScore]:
    """Each policy over all the months together (episodes and delays pooled, not averaged)."""
    if not months:
        return []
    label = months[0].month if len(months) == 1 else f"{months[0].month}..{months[-1].month}"
    scores = []
    for policy in months[0].policies:
        total = PolicyRecord(policy.name)
        for month in months:
            total.add(month.records[policy.name])
        scores.append(score(total, label))
    return scores


HEADERS = ("months", "policy", "alerts/week", "pages/week", "episodes", "paged", "delay median (min)", "delay p90 (min)",
           "spent before page median", "spent before page p90", "noise pages", "misses")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def table_rows(scores: Sequence[PolicyScore]) -> list[tuple[str | int, ...]]:
    """The backtest table's cells under HEADERS, one row per (months, policy): the Markdown's and the report's."""
    return [(s.months, s.policy, _number(s.alerts_per_week), _number(s.pages_per_week), s.episodes, s.paged_episodes,
             _number(s.delay_median_minutes), _number(s.delay_p90_minutes), _percent(s.spent_before_page_median),
             _percent(s.spent_before_page_p90), s.noise_pages, s.misses) for s in scores]


def markdown(scores: Sequence[PolicyScore]) -> str:
    """The backtest table, one row per (months, policy)."""
    return table(HEADERS, table_rows(scores))


def missed(result: MonthBacktest) -> list[JsonObject]:
    """Every policy's misses of the month, for the JSON table (each SLO window, when, how much it spent)."""
    return [{"policy": name, "slo": o.slo, "objective": o.objective, "window": o.window, "start": iso(o.start_ms),
             "end": iso(o.end_ms), "spent": round(o.spent, 6)}
            for name, record in result.records.items() for o in record.outcomes if o.missed and o.spent is not None]  # a miss has a share


def document(result: MonthBacktest, provenance: JsonObject) -> JsonObject:
    """The month's backtest as the alert_backtest JSON table (docs/outputs.md)."""
    return {"schema_version": SCHEMA_VERSION, "period": result.month, "as_of": iso(result.as_of_ms), **provenance,
            "noise_below": NOISE_BELOW, "miss_above": MISS_ABOVE,
            "policies": [p.to_json() for p in result.policies],
            "rows": [s.to_json() for s in result.scores()], "misses": missed(result)}
