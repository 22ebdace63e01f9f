"""Live mode benchmark: the cost of a tick against the lines appended since the last one, and the
delivery of a burst's notification through a real daemon with a 30 s tick.

    .venv/bin/python benchmarks/live.py [--quick]

1. Cost per tick, in process (the sensor's run_tick: load the state, tail, count, judge, save): a log
   with an hour of traffic read by a first tick, then 100, 1,000 and 10,000 lines appended and one
   tick each. Target: a tick on 10,000 appended lines <= 2 s.
2. Delivery: `dagster-daemon run` on 127.0.0.1 with live_tick_sensor on (SLO_ASSETS_LIVE=on, 30 s) and
   a runbook posting a webhook for every page to a local receiver. A writer appends normal traffic
   at a steady rate (after an hour written beforehand), then an error burst that goes on for 10 ticks.
   Measured: from the first burst line written to the first notification received (target <= 60 s),
   and the notifications per episode over those ticks (target: no duplicate).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl

from slo_assets.core.calendar import MINUTE_MS, iso
from slo_assets.defs.live.alerts import run_tick
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse
from tests.channel_servers import HttpChannel
from tests.dagster_daemon import running_daemon
from tests.openslo import availability_slo, spec_file

ROOT = Path(__file__).resolve().parents[1]
TICK_S = 30
NORMAL_RPS = 10
BURST_RPS = 50
RUNBOOK = """apiVersion: slo-assets/v1
kind: Runbook
metadata: {name: live-pages}
spec:
  match: {severity: page}
  actions:
    - {kind: webhook, name: page-hook, url_env: LIVE_BENCH_HOOK, timeout: 5s}
"""
LOCATION = """from slo_assets.definitions import build_definitions
from slo_assets.defs.resources import Remediation

defs = build_definitions({{"remediation": Remediation(runbook_paths=[{runbooks!r}], execute=True)}})
"""


def line(ms: int, status: int) -> str:
    return f'{{"ts":"{iso(ms)[:-1]}.{ms % 1000:03d}Z","service":"api","path":"/api/pay","status":{status},"duration_ms":20}}\n'


def history(log: Path, end_ms: int, rps: int = NORMAL_RPS) -> int:
    """An hour of clean traffic before `end_ms`; the lines written."""
    step = 1000 // rps
    lines = [line(ms, 200) for ms in range(end_ms - 60 * MINUTE_MS, end_ms, step)]
    log.write_text("".join(lines))
    return len(lines)


def cost_per_tick(base: Path) -> list[tuple[int, int, float]]:
    """(appended lines, minutes updated, seconds) of one tick each, after a first tick on an hour."""
    logs, warehouse = base / "cost-logs", base / "cost-warehouse"
    logs.mkdir()
    spec = base / "cost-slos.yaml"
    spec.write_text(spec_file(availability_slo("api-availability", "api", "99.9% succeed", 0.999)))
    resources = (WarehouseResource(base=str(warehouse)), LogSource(root=str(logs)), SloSettings(spec_paths=[str(spec)]))
    now = int(time.time() * 1000)
    log = logs / "access.log"
    written = history(log, now)
    started = time.perf_counter()
    run_tick(*resources, now)
    print(f"first tick: {written:,} lines of the hour before in {time.perf_counter() - started:.3f} s")
    results = []
    for appended in (100, 1_000, 10_000):
        with open(log, "a") as handle:  # spread over the last 10 s before the tick
            handle.write("".join(line(now + 1 + i * 10_000 // appended, 503 if i % 50 == 0 else 200) for i in range(appended)))
        now += 10_001
        started = time.perf_counter()
        result = run_tick(*resources, now)
        elapsed = time.perf_counter() - started
        assert result.lines_read == appended, (result.lines_read, appended)
        results.append((appended, result.minutes_updated, elapsed))
        print(f"tick on {appended:>6,} appended lines ({result.bytes_read:,} bytes, {result.minutes_updated} minutes updated): "
              f"{elapsed:.3f} s")
    return results


class Writer(threading.Thread):
    """Appends lines stamped with the wall clock, `rps` a second in 10 batches; 503s once `burst` is set."""

    def __init__(self, log: Path) -> None:
        super().__init__(daemon=True)
        self.log, self.stop, self.burst_at = log, threading.Event(), None
        self.burst = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            rps, status = (BURST_RPS, 503) if self.burst.is_set() else (NORMAL_RPS, 200)
            now = int(time.time() * 1000)
            text = "".join(line(now + i * 100 // max(1, rps // 10), status) for i in range(max(1, rps // 10)))
            with open(self.log, "a") as handle:
                handle.write(text)
                handle.flush()
            if status == 503 and self.burst_at is None:
                self.burst_at = time.time()  # the first burst line is written
            self.stop.wait(0.1)


def delivery(base: Path, quick: bool) -> dict:
    logs, warehouse, home = base / "logs", base / "warehouse", base / "home"
    for folder in (logs, warehouse, home):
        folder.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_queue:\n  dequeue_interval_seconds: 1\n"
                                       "concurrency:\n  runs:\n    max_concurrent_runs: 4\n")
    spec = base / "slos.yaml"
    spec.write_text(spec_file(availability_slo("api-availability", "api", "99.9% succeed", 0.999)))
    runbooks = base / "runbooks.yaml"
    runbooks.write_text(RUNBOOK)
    location = base / "live_location.py"
    location.write_text(LOCATION.format(runbooks=str(runbooks)))
    hook = HttpChannel("webhook")
    env = {**os.environ, "DAGSTER_HOME": str(home), "SLO_ASSETS_LOG_DIR": str(logs), "SLO_ASSETS_WAREHOUSE": str(warehouse),
           "SLO_ASSETS_SPECS": str(spec), "SLO_ASSETS_LIVE": "on", "SLO_ASSETS_LIVE_INTERVAL": str(TICK_S),
           "LIVE_BENCH_HOOK": hook.url, "PYTHONPATH": str(ROOT), "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1"}
    log = logs / "access.log"
    history(log, int(time.time() * 1000))
    writer = Writer(log)
    state = warehouse / "_staging" / "live" / "state.json"

    def generation() -> int:
        try:
            return json.loads(state.read_bytes())["generation"]
        except (OSError, ValueError, KeyError):
            return 0

    burst_ticks = 3 if quick else 10
    try:
        with running_daemon(base, env, base / "daemon.log", workspace_text=(
                f"load_from:\n  - python_file:\n      relative_path: {location}\n      working_directory: {ROOT}\n")) as (daemon, _):
            writer.start()
            deadline = time.time() + 300
            while generation() < 2 and time.time() < deadline and daemon.poll() is None:  # two ticks of normal traffic
                time.sleep(1)
            if generation() < 2:
                raise SystemExit(f"the live tick did not run twice in 300 s; see {base / 'daemon.log'}")
            print(f"daemon up, {generation()} ticks of normal traffic; burst starts")
            start_generation = generation()
            writer.burst.set()
            deadline = time.time() + burst_ticks * TICK_S * 3
            while (generation() < start_generation + burst_ticks or not hook.received) and time.time() < deadline:
                time.sleep(1)
            time.sleep(20)  # the runs asked for by the last tick finish
            ticks = generation() - start_generation
    finally:
        writer.stop.set()
        hook.close()
    per_episode = Counter(body["fingerprint"] for body in hook.received)  # the episode's: a hash of its run key
    delay = hook.received_at[0] - writer.burst_at if hook.received_at and writer.burst_at else None
    store = Warehouse(warehouse)
    sent = [row for month in layout.REMEDIATION_RUNS.partitions(store)
            for row in pl.from_arrow(store.read_table(layout.REMEDIATION_RUNS.path(store, month))).to_dicts() if row["status"] == "ok"]
    return {"delivery_s": delay, "ticks_during_burst": ticks, "notifications": len(hook.received),
            "episodes": len(per_episode), "duplicates": sum(n - 1 for n in per_episode.values()),
            "alerts": sorted(body["alert"] for body in hook.received), "runs": len({row["run_key"] for row in sent})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 ticks of burst instead of 10")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slo-live-bench-") as folder:
        base = Path(folder)
        costs = cost_per_tick(base)
        measured = delivery(base, args.quick)
    ten_thousand = costs[-1][2]
    print(f"cost per tick: {', '.join(f'{n:,} lines {s:.3f} s' for n, _, s in costs)} "
          f"(per 1,000 lines at 10,000: {ten_thousand / 10:.3f} s); target <= 2 s on 10,000: {'met' if ten_thousand <= 2 else 'MISSED'}")
    delay = measured["delivery_s"]
    print(f"delivery: {'none received' if delay is None else f'{delay:.1f} s'} from the first burst line to the webhook "
          f"(tick {TICK_S} s); target <= 60 s: {'met' if delay is not None and delay <= 60 else 'MISSED'}")
    print(f"over {measured['ticks_during_burst']} ticks of the burst: {measured['notifications']} notifications for "
          f"{measured['episodes']} episodes ({', '.join(measured['alerts'])}) in {measured['runs']} runs, {measured['duplicates']} duplicates; "
          f"target 0: {'met' if measured['duplicates'] == 0 else 'MISSED'}")
    print(json.dumps({"cost": [{"lines": n, "minutes_updated": m, "seconds": round(s, 3)} for n, m, s in costs],
                      "median_seconds_per_1000_lines": round(statistics.median(s / n * 1000 for n, _, s in costs), 4), **measured}))


if __name__ == "__main__":
    main()
