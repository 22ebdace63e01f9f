"""Live mode: one tick reads the lines appended to the logs, adds them to the minutes they fall in,
and judges the burn-rate tiers and the budget-state alerts at the latest minutes.

The alerts are judged by the chain's own functions (chain.window_data, budget.replay_with_gate,
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
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from slo_assets.core.calendar import (
    DAY_MS,
    MINUTE_MS,
    day_key,
    day_start_ms,
    iso,
    month_of,
    month_range_ms,
)
from slo_assets.ingest.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, ParseConfig
from slo_assets.ingest.tail import FileCursor, FileRead, tail_files
from slo_assets.openslo.spec import Objective, Slo, SpecSet, TimeWindow
from slo_assets.slo import budget as B
from slo_assets.slo import chain as C
from slo_assets.slo.sli import day_inputs
from slo_assets.warehouse.layout import SCRATCH
from slo_assets.warehouse.storage import Warehouse

LIVE_STATE_VERSION = 1
HOUR_MS = 60 * MINUTE_MS
NOTIFIED_KEEP_MS = 7 * DAY_MS  # run keys of episodes started this long ago are forgotten (Dagster still knows them)
# Budget-state figures that are a remaining ratio: their worst value is the lowest.
LOWEST_IS_WORST = ("budget_critical", "budget_warning", "slo_violated")
STATUS_OF_BUDGET_ALERT = {"slo_violated": "failed", "budget_critical": "at_risk", "budget_warning": "at_risk"}


class LiveStateError(ValueError):
    """The live state in the warehouse cannot be read; the message names the file and why."""


@dataclass(frozen=True)
class AlertKey:
    slo: str
    objective: str
    window: str
    alert: str  # a burn-rate tier ("page 1h/5m") or a budget-state alert ("budget_critical")

    def text(self) -> str:
        return f"{self.slo}/{self.objective}/{self.window}/{self.alert}"


@dataclass(frozen=True)
class Episode:
    """One alert firing: from `start_ms` (the first minute it held) while it holds."""

    key: AlertKey
    severity: str
    start_ms: int
    value: float  # peak long-window burn rate, or the lowest remaining budget ratio (LOWEST_IS_WORST)
    end_ms: int | None = None  # the first minute it no longer held; None while it holds
    bad_units: float = 0.0  # what made it hold at the latest minute judged (_held_runs)

    @property
    def run_key(self) -> str:
        """Same SLO, objective, window, alert and start minute: the same episode, notified once."""
        k = self.key
        return f"live:{k.slo}:{k.objective}:{k.window}:{k.alert}:{iso(self.start_ms)}"

    def to_json(self) -> dict:
        k = self.key
        return {"slo": k.slo, "objective": k.objective, "window": k.window, "alert": k.alert, "severity": self.severity,
                "start_ms": self.start_ms, "value": self.value, "end_ms": self.end_ms, "bad_units": self.bad_units}

    @staticmethod
    def from_json(data: dict) -> Episode:
        return Episode(AlertKey(data["slo"], data["objective"], data["window"], data["alert"]), data["severity"],
                       data["start_ms"], data["value"], data["end_ms"], data["bad_units"])


@dataclass(frozen=True)
class AlertGroup:
    """The episodes of one service that started firing in one tick: one run notifies them, so a
    channel sends one message per service and tick (actions.groups_in_plan), not one per episode."""

    run_key: str
    service: str
    episodes: tuple[Episode, ...]  # those still open or fired in this tick

    @property
    def month(self) -> str:
        """Of its episodes' starts (assign_groups keeps one month per run): where outcomes are recorded."""
        return iso(min(e.start_ms for e in self.episodes))[:7]


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


@dataclass
class Dense:
    """One SLO's good and total events per minute over [origin_ms, origin_ms + len * 1 min)."""

    origin_ms: int
    good: np.ndarray
    total: np.ndarray

    def add(self, minute_ms: int, good: int, total: int) -> None:
        index = (minute_ms - self.origin_ms) // MINUTE_MS
        if 0 <= index < len(self.total):
            self.good[index] += good
            self.total[index] += total

    def window(self, start_ms: int, end_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of [start, end): zeros outside the arrays."""
        size = max(0, (end_ms - start_ms) // MINUTE_MS)
        good, total = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
        shift = (start_ms - self.origin_ms) // MINUTE_MS
        lo, hi = max(0, shift), min(len(self.total), shift + size)
        if hi > lo:
            good[lo - shift:hi - shift] = self.good[lo:hi]
            total[lo - shift:hi - shift] = self.total[lo:hi]
        return good, total


@dataclass
class LiveState:
    started_day: str  # minutes of this UTC day on come from the tailed lines; earlier ones from sli_minutely
    spec_hash: str = ""  # the specs the minutes were counted with
    cursors: list[FileCursor] = field(default_factory=list)
    minutes: dict[str, dict[int, list[int]]] = field(default_factory=dict)  # slo -> minute ms -> [good, total, server errors]
    evaluated_to_ms: int | None = None  # minutes before it are judged final; the one at it is judged again
    final_open: dict[AlertKey, Episode] = field(default_factory=dict)  # firing at the minute before evaluated_to_ms
    open: dict[AlertKey, Episode] = field(default_factory=dict)  # firing at evaluated_to_ms (as far as its lines went)
    notified: dict[str, int] = field(default_factory=dict)  # run key -> episode start ms
    groups: dict[str, str] = field(default_factory=dict)  # episode run key -> the run key of the run notifying it
    generation: int = 0  # bumped by every save
    shards: dict[int, int] = field(default_factory=dict)  # hour ms -> generation of its minutes file
    # Not saved: rebuilt from the minutes and sli_minutely after a restart.
    dense: dict[str, Dense] = field(default_factory=dict, repr=False, compare=False)
    dense_range: tuple[int, int] | None = field(default=None, repr=False, compare=False)

    def minute_counts(self) -> pl.DataFrame:
        """The tailed minutes as sli_minutely rows (slo, minute, good, total, server_errors)."""
        rows = [(slo, minute, *counts) for slo, by_minute in sorted(self.minutes.items()) for minute, counts in sorted(by_minute.items())]
        frame = pl.DataFrame(rows, schema={"slo": pl.String, "minute": pl.Int64, "good": pl.Int64, "total": pl.Int64,
                                           "server_errors": pl.Int64}, orient="row")
        return frame.with_columns(pl.col("minute").cast(pl.Datetime("ms", "UTC")))


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

    def summary(self) -> dict:
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
    return month_start - (longest + C.LOOKBACK_DAYS) * DAY_MS, month_end


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
                good, total, _ = C.dense(part, start, end)
                state.dense[slo].good += good
                state.dense[slo].total += total
    for slo, by_minute in state.minutes.items():
        if slo in state.dense:
            for minute, (good, total, _) in by_minute.items():
                state.dense[slo].add(minute, good, total)
    state.dense_range = (start, end)


def _count(state: LiveState, rows: pl.DataFrame, specs: SpecSet) -> tuple[int, int, set[int]]:
    """Add the rows to their minutes; (rows before started_day, minutes updated, hours touched)."""
    if not rows.height or not specs.slos:
        return 0, 0, set()
    live_from = day_start_ms(state.started_day)
    early = rows.filter(pl.col("ts").dt.epoch("ms") < live_from).height
    minutes = day_inputs(rows.filter(pl.col("ts").dt.epoch("ms") >= live_from), specs.slos).minutes
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


def _held_runs(slo: Slo, objective: Objective, window: TimeWindow, series: Dense, period: C.Period, settings: C.Settings,
               from_ms: int) -> list[tuple[str, str, int, int, float, float]]:
    """(alert, severity, start, end, figure, bad) of every run of minutes from `from_ms` on where a tier
    or a budget-state alert holds, by the chain's replay over the same minutes. `bad`: the bad units
    that made it hold at the latest minute: in the tier's long window, in the window so far for a
    budget alert, in the last hour (high burn rate) or the last 5 minutes' requests (latency)."""
    data = C.window_data(slo, objective, window, None, period, settings, series=series.window)
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


def evaluate(state: LiveState, specs: SpecSet, settings: C.Settings, from_ms: int, minute_ms: int
             ) -> tuple[dict[AlertKey, Episode], dict[AlertKey, Episode], list[Episode]]:
    """Judge the minutes [from_ms, minute_ms]: (open at minute_ms - 1, open at minute_ms, every
    episode seen in them). An episode holding at `from_ms` that was open before it goes on."""
    end_ms = minute_ms + MINUTE_MS
    month = month_of(minute_ms)
    month_start, month_end = month_range_ms(month)
    period = C.Period(month, month_start, month_end, end_ms)
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


def tick(state: LiveState | None, source: TailSource, specs: SpecSet, settings: C.Settings, now_ms: int,
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


# Persistence: state.json, and one minutes file per hour, so a tick rewrites only the hours it touched.
# A save writes the touched hours under the new generation, then state.json naming them, then drops
# the superseded files: a crash between leaves the previous state.json and its files whole.

def state_to_json(state: LiveState) -> dict:
    return {"version": LIVE_STATE_VERSION, "generation": state.generation, "started_day": state.started_day,
            "spec_hash": state.spec_hash,
            "cursors": [c.to_json() for c in state.cursors], "evaluated_to_ms": state.evaluated_to_ms,
            "final_open": [e.to_json() for e in state.final_open.values()], "open": [e.to_json() for e in state.open.values()],
            "notified": state.notified, "groups": state.groups, "shards": {str(h): g for h, g in sorted(state.shards.items())}}


def state_from_json(document: dict, source: str) -> LiveState:
    try:
        if document.get("version") != LIVE_STATE_VERSION:
            raise LiveStateError(f"{source}: version {document.get('version')!r}, expected {LIVE_STATE_VERSION}")
        final_open = [Episode.from_json(e) for e in document["final_open"]]
        now_open = [Episode.from_json(e) for e in document["open"]]
        return LiveState(started_day=document["started_day"], spec_hash=document["spec_hash"],
                         cursors=[FileCursor.from_json(c) for c in document["cursors"]],
                         evaluated_to_ms=document["evaluated_to_ms"], final_open={e.key: e for e in final_open},
                         open={e.key: e for e in now_open}, notified={str(k): int(v) for k, v in document["notified"].items()},
                         groups={str(k): str(v) for k, v in document.get("groups", {}).items()},  # absent before groups
                         generation=int(document["generation"]), shards={int(h): int(g) for h, g in document["shards"].items()})
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        if isinstance(error, LiveStateError):
            raise
        raise LiveStateError(f"{source}: not a live state file ({type(error).__name__}: {error})") from None


def shard_json(state: LiveState, hour_ms: int) -> dict:
    """The tailed minutes of one hour: slo -> [[minute ms, good, total, server errors], ...]."""
    return {slo: [[m, *by_minute[m]] for m in sorted(by_minute) if hour_ms <= m < hour_ms + HOUR_MS]
            for slo, by_minute in sorted(state.minutes.items())}


def add_shard(state: LiveState, document: dict, source: str) -> None:
    try:
        for slo, rows in document.items():
            for minute, good, total, errors in rows:
                state.minutes.setdefault(slo, {})[int(minute)] = [int(good), int(total), int(errors)]
    except (TypeError, ValueError) as error:
        raise LiveStateError(f"{source}: not a live minutes file ({type(error).__name__}: {error})") from None


def dumps(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class LiveStore:
    """The live state in the warehouse's scratch area: state.json and minutes/<hour ms>.<generation>.json."""

    def __init__(self, store: Warehouse) -> None:
        self.store = store
        self.folder = store.path(SCRATCH, "live")

    def _shard(self, hour_ms: int, generation: int):
        return self.folder.joinpath("minutes", f"{hour_ms}.{generation}.json")

    def generation(self) -> int | None:
        """The generation saved, without reading the minutes (None before the first save)."""
        path = self.folder.joinpath("state.json")
        if not path.exists():
            return None
        return self._read(path).get("generation")

    def _read(self, path) -> dict:
        try:
            return json.loads(path.read_bytes())
        except (OSError, ValueError) as error:
            raise LiveStateError(f"{path}: cannot be read ({type(error).__name__}: {error})") from None

    def load(self) -> LiveState | None:
        path = self.folder.joinpath("state.json")
        if not path.exists():
            return None
        state = state_from_json(self._read(path), str(path))
        for hour_ms, generation in state.shards.items():
            shard = self._shard(hour_ms, generation)
            add_shard(state, self._read(shard), str(shard))
        return state

    def save(self, state: LiveState, hours: list[int]) -> None:
        """Write the touched hours, then state.json; then drop the files no state names."""
        old = dict(state.shards)
        state.generation += 1
        live_hours = {m - m % HOUR_MS for by_minute in state.minutes.values() for m in by_minute}
        for hour_ms in sorted(set(hours) & live_hours):
            self.store.write_bytes_atomic(self._shard(hour_ms, state.generation), dumps(shard_json(state, hour_ms)))
            state.shards[hour_ms] = state.generation
        state.shards = {h: g for h, g in state.shards.items() if h in live_hours}
        self.store.write_bytes_atomic(self.folder.joinpath("state.json"), dumps(state_to_json(state)))
        for hour_ms, generation in old.items():
            if state.shards.get(hour_ms) != generation:
                self._shard(hour_ms, generation).unlink(missing_ok=True)
