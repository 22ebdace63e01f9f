"""Live mode: one tick reads the lines appended to the logs, adds them to the minutes they fall in,
and judges the burn-rate tiers and the budget-state alerts at the latest minutes.

The alerts are judged by the chain's own functions (windows.window_data, budget.replay_with_gate,
budget.budget_state_alerts) over the same minute series, so a live firing is what the month's
replay shows at that minute. A tick judges the minutes from the one in progress at the previous
tick through the one in progress now: a closed minute is final, the minute in progress is judged
as far as its lines go and judged again, final, by the next tick. A tick's parsing and counting
cost grows with the appended lines (FileRead, `minutes_updated`); the judging is a fixed numpy
pass over each window's minutes.

Minutes before the day live mode started come from the materialized sli_minutely partitions, read
once per month into dense arrays kept with the state; from that day on, from the tailed lines only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from slo_assets.core.calendar import DAY_MS, MINUTE_MS, day_key, day_start_ms, iso, month_of, month_range_ms
from slo_assets.ingest.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, ParseConfig
from slo_assets.ingest.tail import FileRead, tail_files
from slo_assets.openslo.spec import Objective, Slo, SpecSet, TimeWindow
from slo_assets.slo import budget as B

# The state and its persistence are defined beside the ticks; importers keep reading them from here.
from slo_assets.slo.live_state import (
    HOUR_MS,
    LIVE_STATE_VERSION,
    AlertGroup,
    AlertKey,
    Dense,
    Episode,
    LiveState,
    LiveStateError,
    LiveStore,
    add_shard,
    dumps,
    shard_json,
    state_from_json,
    state_to_json,
)
from slo_assets.slo.period import Period
from slo_assets.slo.sli import day_inputs
from slo_assets.slo.units import dense
from slo_assets.slo.values import JsonObject
from slo_assets.slo.windows import LOOKBACK_DAYS, Settings, window_data

__all__ = [
    "HOUR_MS", "LIVE_STATE_VERSION", "LOWEST_IS_WORST", "NOTIFIED_KEEP_MS", "STATUS_OF_BUDGET_ALERT", "AlertGroup", "AlertKey",
    "DayReader", "Dense", "Episode", "LiveState", "LiveStateError", "LiveStore", "TailSource", "TickResult", "add_shard",
    "alert_groups", "assign_groups", "dumps", "episode_status", "evaluate", "group_run_key", "shard_json", "state_from_json",
    "state_to_json", "tick",
]

NOTIFIED_KEEP_MS = 7 * DAY_MS  # run keys of episodes started this long ago are forgotten (Dagster still knows them)
# Budget-state figures that are a remaining ratio: their worst value is the lowest.
LOWEST_IS_WORST = ("budget_critical", "budget_warning", "slo_violated")
STATUS_OF_BUDGET_ALERT = {"slo_violated": "failed", "budget_critical": "at_risk", "budget_warning": "at_risk"}


def group_run_key(service: str, episodes: list[Episode]) -> str:
    """From the episodes alone: the same episodes, after a lost state, make the same key, so Dagster
    still launches them once."""
    digest = hashlib.sha256("|".join(sorted(e.run_key for e in episodes)).encode()).hexdigest()[:12]
    return f"live:{service}:{iso(min(e.start_ms for e in episodes))}:{digest}"


def assign_groups(state: LiveState, fired: list[Episode], service_of: dict[str, str]) -> None:
    """Give this tick's new episodes their run: one per service and month of their start."""
    batches: dict[tuple[str, str], list[Episode]] = {}
    for episode in fired:
        service = service_of.get(episode.key.slo, episode.key.slo)
        batches.setdefault((service, iso(episode.start_ms)[:7]), []).append(episode)
    for (service, _), episodes in batches.items():
        key = group_run_key(service, episodes)
        for episode in episodes:
            state.groups[episode.run_key] = key


def alert_groups(state: LiveState, episodes: list[Episode], service_of: dict[str, str]) -> list[AlertGroup]:
    """The runs to ask for: each open or new episode under the run its tick gave it (an episode
    notified before groups were kept is its own run, under its own key as then)."""
    by_key: dict[str, list[Episode]] = {}
    for episode in sorted({e.run_key: e for e in episodes}.values(), key=lambda e: (e.start_ms, e.key.text())):
        by_key.setdefault(state.groups.get(episode.run_key, episode.run_key), []).append(episode)
    return [AlertGroup(key, service_of.get(members[0].key.slo, members[0].key.slo), tuple(members))
            for key, members in by_key.items()]


@dataclass(frozen=True)
class TailSource:
    """Where the logs are and how their lines are read (the log_source resource)."""

    root: Path
    config: ParseConfig
    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    follow_symlinks: bool = False


@dataclass
class TickResult:
    state: LiveState
    fired: list[Episode]  # new episodes (not notified before), some perhaps already ended within the tick
    resolved: list[Episode]  # open at the previous tick, no longer
    firing: list[Episode]  # open now
    groups: list[AlertGroup]  # the runs notifying the fired and firing episodes
    files: list[FileRead]
    skipped: list[tuple[str, str]]
    rows_before_start: int  # tailed rows of days before started_day (those minutes come from sli_minutely)
    minutes_updated: int  # (SLO, minute) counts changed
    hours_touched: list[int]  # hour ms whose minutes file the save rewrites
    evaluated_from_ms: int
    evaluated_to_ms: int  # the minute in progress, judged as far as its lines go

    @property
    def lines_read(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def bytes_read(self) -> int:
        return sum(f.bytes_read for f in self.files)

    def summary(self) -> JsonObject:
        return {"lines_read": self.lines_read, "accepted": sum(f.accepted for f in self.files),
                "rejected": sum(f.rejected for f in self.files), "blank": sum(f.blank for f in self.files),
                "held_bytes": sum(f.held_bytes for f in self.files), "bytes_read": self.bytes_read,
                "rows_before_start": self.rows_before_start, "minutes_updated": self.minutes_updated,
                "evaluated": f"{iso(self.evaluated_from_ms)}..{iso(self.evaluated_to_ms)}",
                "fired": len(self.fired), "resolved": len(self.resolved), "firing": len(self.firing), "runs": len(self.groups)}


DayReader = Callable[[str], pl.DataFrame | None]  # a day's sli_minutely rows, None when it is not materialized


def _range(specs: SpecSet, now_end_ms: int) -> tuple[int, int]:
    """The minutes any window's replay reads this month: from 3 days before the month (or before the
    longest rolling window) through the month's end."""
    month_start, month_end = month_range_ms(month_of(now_end_ms - 1))
    longest = max((w.days for s in specs.slos for w in s.windows if w.rolling), default=0)
    return month_start - (longest + LOOKBACK_DAYS) * DAY_MS, month_end


def _build_dense(state: LiveState, specs: SpecSet, now_end_ms: int, read_day: DayReader) -> None:
    """The dense minutes of the month: sli_minutely before started_day, the tailed minutes after."""
    start, end = _range(specs, now_end_ms)
    size = (end - start) // MINUTE_MS
    state.dense = {s.name: Dense(start, np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)) for s in specs.slos}
    live_from = day_start_ms(state.started_day)
    for day_ms in range(start, min(end, live_from), DAY_MS):
        frame = read_day(day_key(day_ms))
        if frame is None or not frame.height:
            continue
        for (slo,), part in frame.partition_by("slo", as_dict=True).items():
            if slo in state.dense:
                good, total, _ = dense(part, start, end)
                state.dense[slo].good += good
                state.dense[slo].total += total
    for slo, by_minute in state.minutes.items():
        if slo in state.dense:
            for minute, (minute_good, minute_total, _) in by_minute.items():
                state.dense[slo].add(minute, minute_good, minute_total)
    state.dense_range = (start, end)


def _count(state: LiveState, rows: pl.DataFrame, specs: SpecSet) -> tuple[int, int, set[int]]:
    """Add the rows to their minutes; (rows before started_day, minutes updated, hours touched)."""
    if not rows.height or not specs.slos:
        return 0, 0, set()
    live_from = day_start_ms(state.started_day)
    early = rows.filter(pl.col("ts").dt.epoch("ms") < live_from).height
    # live mode judges alerts: a minute of untimed requests only holds no event for it
    minutes = (day_inputs(rows.filter(pl.col("ts").dt.epoch("ms") >= live_from), specs.slos).minutes
               .filter(pl.col("total") > 0).select("slo", "minute", "good", "total", "server_errors"))
    hours = set()
    for slo, minute, good, total, errors in minutes.with_columns(pl.col("minute").dt.epoch("ms")).iter_rows():
        counts = state.minutes.setdefault(slo, {}).setdefault(minute, [0, 0, 0])
        counts[0] += good
        counts[1] += total
        counts[2] += errors
        if slo in state.dense:
            state.dense[slo].add(minute, good, total)
        hours.add(minute - minute % HOUR_MS)
    return early, minutes.height, hours


def _held_runs(slo: Slo, objective: Objective, window: TimeWindow, series: Dense, period: Period, settings: Settings,
               from_ms: int) -> list[tuple[str, str, int, int, float, float]]:
    """(alert, severity, start, end, figure, bad) of every run of minutes from `from_ms` on where a tier
    or a budget-state alert holds, by the chain's replay over the same minutes. `bad`: the bad units
    that made it hold at the latest minute: in the tier's long window, in the window so far for a
    budget alert, in the last hour (high burn rate) or the last 5 minutes' requests (latency)."""
    data = window_data(slo, objective, window, None, period, settings, series=series.window)
    u = data.units
    if not len(u.total):
        return []
    first = max(data.offset, (from_ms - data.replay_start) // MINUTE_MS)
    replay = B.replay_with_gate(u.good, u.total, data.replay_start, first, objective.target, window.days,
                                settings.alert_min_events, settings.alert_min_bad_events, sums=data.sums)

    def bad_in(minutes: int) -> float:
        return float(data.sums.window(minutes)[0][-1])

    runs = [(f"{f.severity} {f.long_window}/{f.short_window}", f.severity, f.start_ms, f.end_ms, f.peak_burn_rate,
             bad_in(B.BURN_WINDOWS_MINUTES[f.long_window])) for f in replay.firings]
    event_good, event_total = data.live_events
    latency = slo.indicator.kind() == "latency"
    bad = {"high_burn_rate": bad_in(B.BURN_WINDOWS_MINUTES[B.HIGH_BURN_LONG]),
           "latency_threshold_violated": float((event_total - event_good)[-B.BURN_WINDOWS_MINUTES[B.LATENCY_WINDOW]:].sum())}
    so_far = float((u.total - u.good)[data.offset:].sum())
    for alert in B.budget_state_alerts(u.good, u.total, event_total, event_good if latency else None, data.replay_start,
                                       data.offset, objective.target, settings.min_events, settings.alert_min_bad_events, data.sums):
        if alert.end_ms > from_ms:  # the budget is the window's so far: judged from its start, kept from `from_ms`
            runs.append((alert.name, alert.severity, max(alert.start_ms, from_ms), alert.end_ms, alert.value, bad.get(alert.name, so_far)))
    return runs


def _worse(alert: str, a: float, b: float) -> float:
    return min(a, b) if alert in LOWEST_IS_WORST else max(a, b)


def evaluate(state: LiveState, specs: SpecSet, settings: Settings, from_ms: int, minute_ms: int
             ) -> tuple[dict[AlertKey, Episode], dict[AlertKey, Episode], list[Episode]]:
    """Judge the minutes [from_ms, minute_ms]: (open at minute_ms - 1, open at minute_ms, every
    episode seen in them). An episode holding at `from_ms` that was open before it goes on."""
    end_ms = minute_ms + MINUTE_MS
    period = Period.of(month_of(minute_ms), end_ms)
    final_open, now_open, seen = {}, {}, []
    for slo in specs.slos:
        series = state.dense.get(slo.name)
        if series is None:
            continue
        for objective in slo.objectives:
            for window in slo.windows:
                for alert, severity, start, end, figure, bad in _held_runs(slo, objective, window, series, period, settings, from_ms):
                    key = AlertKey(slo.name, objective.key, window.label, alert)
                    before = state.final_open.get(key)
                    if start == from_ms and before is not None:
                        start, figure = before.start_ms, _worse(alert, before.value, figure)
                    episode = Episode(key, severity, start, figure, None if end >= end_ms else end, bad)
                    seen.append(episode)
                    if start <= minute_ms - MINUTE_MS < end:
                        final_open[key] = episode
                    if end >= end_ms:
                        now_open[key] = episode
    if from_ms == minute_ms:  # no closed minute judged: the last final state stands
        final_open = dict(state.final_open)
    return final_open, now_open, seen


def tick(state: LiveState | None, source: TailSource, specs: SpecSet, settings: Settings, now_ms: int,
         read_day: DayReader) -> TickResult:
    """One live tick at `now_ms` (the state is updated in place; a new one on the first tick)."""
    minute_ms = now_ms - now_ms % MINUTE_MS
    if state is None or state.spec_hash != specs.content_hash:
        # New filters count the same lines differently: read the files again from their start for
        # today's minutes (earlier days from sli_minutely); the alerts already notified stay so.
        fresh = LiveState(started_day=day_key(now_ms), spec_hash=specs.content_hash)
        if state is not None:
            fresh.evaluated_to_ms, fresh.final_open, fresh.open = state.evaluated_to_ms, state.final_open, state.open
            fresh.notified, fresh.generation, fresh.shards = state.notified, state.generation, state.shards  # old files go at the save
            fresh.groups = state.groups
        state = fresh
    end_ms = minute_ms + MINUTE_MS
    if state.dense_range is None or not (state.dense_range[0] <= minute_ms < state.dense_range[1]) or set(state.dense) != {
            s.name for s in specs.slos}:
        _build_dense(state, specs, end_ms, read_day)
    tail = tail_files(source.root, state.cursors, source.config, source.include, source.exclude, source.follow_symlinks)
    state.cursors = tail.cursors
    early, updated, hours = _count(state, tail.rows, specs)
    from_ms = minute_ms if state.evaluated_to_ms is None else min(state.evaluated_to_ms, minute_ms)
    previous = state.open
    final_open, now_open, seen = evaluate(state, specs, settings, from_ms, minute_ms)
    fired = [e for e in seen if e.run_key not in state.notified]
    for episode in fired:
        state.notified[episode.run_key] = episode.start_ms
    service_of = {s.name: s.service for s in specs.slos}
    assign_groups(state, fired, service_of)
    ended = {(e.key, e.start_ms): e for e in seen if e.end_ms is not None}  # the minute it stopped, when judged in this tick
    resolved = [ended.get((key, e.start_ms)) or Episode(e.key, e.severity, e.start_ms, e.value, from_ms, e.bad_units)
                for key, e in previous.items() if key not in now_open]
    state.final_open, state.open, state.evaluated_to_ms = final_open, now_open, minute_ms
    still = {e.run_key for e in now_open.values()}
    state.notified = {k: s for k, s in state.notified.items() if s >= minute_ms - NOTIFIED_KEEP_MS or k in still}
    state.groups = {k: g for k, g in state.groups.items() if k in state.notified}
    _prune(state)
    firing = sorted(now_open.values(), key=lambda e: (e.start_ms, e.key.text()))
    return TickResult(state, fired, resolved, firing, alert_groups(state, [*fired, *firing], service_of), tail.files,
                      tail.skipped, early, updated, sorted(hours), from_ms, minute_ms)


def _prune(state: LiveState) -> None:
    """Forget tailed minutes no window reads any more (before the dense range)."""
    if state.dense_range is None:
        return
    start = state.dense_range[0]
    for by_minute in state.minutes.values():
        for minute in [m for m in by_minute if m < start]:
            del by_minute[minute]


def episode_status(episode: Episode, firing: list[Episode]) -> str:
    """The SLO window's status as its open budget-state alerts say it (failed, at_risk), else met."""
    same = [e.key.alert for e in firing if (e.key.slo, e.key.objective, e.key.window) ==
            (episode.key.slo, episode.key.objective, episode.key.window)] + [episode.key.alert]
    statuses = [STATUS_OF_BUDGET_ALERT[a] for a in same if a in STATUS_OF_BUDGET_ALERT]
    return "failed" if "failed" in statuses else ("at_risk" if statuses else "met")


