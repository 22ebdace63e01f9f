"""Live mode's state: the alert episodes and what was notified, the tailed minutes (per SLO, minute
and counts) and the dense month of minutes the judging reads, and how they are kept in the warehouse.

Persistence: state.json, and one minutes file per hour, so a tick rewrites only the hours it touched.
A save writes the touched hours under the new generation, then state.json naming them, then drops
the superseded files: a crash between leaves the previous state.json and its files whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from upath import UPath

from slo_assets.core.calendar import MINUTE_MS, iso
from slo_assets.ingest.tail import FileCursor
from slo_assets.slo.values import IntArray, JsonObject
from slo_assets.warehouse.storage import SCRATCH, Warehouse

LIVE_STATE_VERSION = 1
HOUR_MS = 60 * MINUTE_MS


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

    def to_json(self) -> JsonObject:
        k = self.key
        return {"slo": k.slo, "objective": k.objective, "window": k.window, "alert": k.alert, "severity": self.severity,
                "start_ms": self.start_ms, "value": self.value, "end_ms": self.end_ms, "bad_units": self.bad_units}

    @staticmethod
    def from_json(data: JsonObject) -> Episode:
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


@dataclass
class Dense:
    """One SLO's good and total events per minute over [origin_ms, origin_ms + len * 1 min)."""

    origin_ms: int
    good: IntArray
    total: IntArray

    def add(self, minute_ms: int, good: int, total: int) -> None:
        index = (minute_ms - self.origin_ms) // MINUTE_MS
        if 0 <= index < len(self.total):
            self.good[index] += good
            self.total[index] += total

    def window(self, start_ms: int, end_ms: int) -> tuple[IntArray, IntArray]:
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


def state_to_json(state: LiveState) -> JsonObject:
    return {"version": LIVE_STATE_VERSION, "generation": state.generation, "started_day": state.started_day,
            "spec_hash": state.spec_hash,
            "cursors": [c.to_json() for c in state.cursors], "evaluated_to_ms": state.evaluated_to_ms,
            "final_open": [e.to_json() for e in state.final_open.values()], "open": [e.to_json() for e in state.open.values()],
            "notified": state.notified, "groups": state.groups, "shards": {str(h): g for h, g in sorted(state.shards.items())}}


def state_from_json(document: JsonObject, source: str) -> LiveState:
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


def shard_json(state: LiveState, hour_ms: int) -> dict[str, list[list[int]]]:
    """The tailed minutes of one hour: slo -> [[minute ms, good, total, server errors], ...]."""
    return {slo: [[m, *by_minute[m]] for m in sorted(by_minute) if hour_ms <= m < hour_ms + HOUR_MS]
            for slo, by_minute in sorted(state.minutes.items())}


def add_shard(state: LiveState, document: JsonObject, source: str) -> None:
    try:
        for slo, rows in document.items():
            for minute, good, total, errors in rows:
                state.minutes.setdefault(slo, {})[int(minute)] = [int(good), int(total), int(errors)]
    except (TypeError, ValueError) as error:
        raise LiveStateError(f"{source}: not a live minutes file ({type(error).__name__}: {error})") from None


def dumps(document: JsonObject) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class LiveStore:
    """The live state in the warehouse's scratch area: state.json and minutes/<hour ms>.<generation>.json."""

    def __init__(self, store: Warehouse) -> None:
        self.store = store
        self.folder = store.path(SCRATCH, "live")

    def _shard(self, hour_ms: int, generation: int) -> UPath:
        return self.folder.joinpath("minutes", f"{hour_ms}.{generation}.json")

    def generation(self) -> int | None:
        """The generation saved, without reading the minutes (None before the first save)."""
        path = self.folder.joinpath("state.json")
        if not path.exists():
            return None
        return self._read(path).get("generation")

    def _read(self, path: UPath) -> JsonObject:
        try:
            document: JsonObject = json.loads(path.read_bytes())
            return document
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
