"""When the running month's outputs are refreshed live: at most once every N minutes, only after the
month's days changed since the last refresh, and never beside a refresh still running; and when
today's day is ingested again for them: its log files changed since its last run began.

Pure: live_outputs_sensor (defs/live/outputs.py) reads the instance and the clock, asks `decide` and
acts on its Decision. "Changed" is a storage id: Dagster numbers every event of the instance in
order, so a day materialized after the last refresh has a higher id than the newest it covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

MIN_MINUTES, MAX_MINUTES = 1, 60
DEFAULT_MINUTES = 5


def check_minutes(setting: str, text: str) -> int:
    """The refresh interval in whole minutes, MIN_MINUTES..MAX_MINUTES; ValueError naming `setting` otherwise."""
    value = text.strip()
    if not value.isdigit() or not MIN_MINUTES <= int(value) <= MAX_MINUTES:
        raise ValueError(f"{setting}={text!r}: expected whole minutes from {MIN_MINUTES} to {MAX_MINUTES}")
    return int(value)


@dataclass(frozen=True)
class Refreshed:
    """The last refresh of a month: the newest day event it covers (storage id) and when it was asked for."""

    month: str
    data_id: int
    at_s: float

    def to_json(self) -> dict:
        return {"month": self.month, "data_id": self.data_id, "at_s": self.at_s}

    @classmethod
    def from_json(cls, data: dict) -> Refreshed:
        return cls(str(data["month"]), int(data["data_id"]), float(data["at_s"]))


@dataclass(frozen=True)
class Decision:
    run_key: str | None  # None: nothing to request
    reason: str
    last: Refreshed | None  # what to remember: the refresh asked for now, else the previous one


def slot(now_s: float, minutes: int) -> int:
    """The N-minute slot of an instant, counted from the epoch: one run key per month and slot."""
    return int(now_s // (minutes * 60))


def run_key(month: str, minutes: int, now_s: float) -> str:
    return f"live-outputs:{month}:{minutes}m:{slot(now_s, minutes)}"


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decide(month: str, now_s: float, minutes: int, newest_data_id: int | None, data_settled: bool, refresh_running: bool,
           last: Refreshed | None) -> Decision:
    """Whether to refresh `month` now.

    newest_data_id: storage id of the month's newest day materialization (None: no day yet);
    data_settled: the run that wrote it has finished (its sibling assets are written too);
    refresh_running: a refresh of the month is queued or running;
    last: the month's previous refresh (a refresh of another month counts as none)."""
    last = last if last is not None and last.month == month else None
    if newest_data_id is None:
        return Decision(None, f"{month}: no day materialized yet", last)
    if last is not None and newest_data_id <= last.data_id:
        return Decision(None, f"{month}: no new day data since the refresh of {_at(last.at_s)}", last)
    if refresh_running:
        return Decision(None, f"{month}: a refresh is queued or running; new data waits for the next tick", last)
    if not data_settled:
        return Decision(None, f"{month}: the newest day data is still being written", last)
    if last is not None and now_s - last.at_s < minutes * 60:
        return Decision(None, f"{month}: new day data; refreshed at {_at(last.at_s)}, next refresh "
                              f"from {_at(last.at_s + minutes * 60)} (every {minutes} min)", last)
    return Decision(run_key(month, minutes, now_s), f"{month}: new day data (storage id {newest_data_id}): refresh",
                    Refreshed(month, newest_data_id, now_s))


@dataclass(frozen=True)
class DayDecision:
    run_key: str | None  # None: today's day is not ingested again now
    reason: str


def day_run_key(today: str, minutes: int, now_s: float) -> str:
    return f"live-day:{today}:{minutes}m:{slot(now_s, minutes)}"


def decide_day(today: str, now_s: float, minutes: int, newest_file_s: float | None, day_run_started_s: float | None,
               day_running: bool) -> DayDecision:
    """Whether to ingest today's day again, so the month's refresh has its newest lines.

    newest_file_s: the newest modification time of the log files (None: no log file);
    day_run_started_s: when the run that last materialized today's day began (None: never);
    day_running: a run of today's day is queued or running (of any job: the schedule's, the UI's).
    One run key per N-minute slot: Dagster launches it once, so at most one day run every N minutes."""
    if newest_file_s is None:
        return DayDecision(None, f"{today}: no log file to ingest")
    if day_run_started_s is not None and newest_file_s <= day_run_started_s:
        return DayDecision(None, f"{today}: no log file changed since its day run of {_at(day_run_started_s)}")
    if day_running:
        return DayDecision(None, f"{today}: a run of the day is queued or running; the files changed since wait for it")
    return DayDecision(day_run_key(today, minutes, now_s), f"{today}: log files changed at {_at(newest_file_s)}: ingest the day")
