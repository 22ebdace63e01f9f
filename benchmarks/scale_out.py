"""Scale-out benchmark: a month through `slo-assets run` in process, and on 1 and 2 Celery workers.

    .venv/bin/python benchmarks/scale_out.py [--events 2000000] [--format jsonl] [--repeat 1]

The month (generated once, cached in ~/.cache/slo-assets/bench, 31 days of October 2026; the issue
asks for 6,000,000 events, `--events 6000000`) runs, in turn, in a fresh `slo-assets run` process with
a fresh instance (its own DAGSTER_HOME with the project's dagster.yaml) and a fresh warehouse:
- in process (the default executor);
- SLO_ASSETS_EXECUTOR=celery with 1 worker, then with 2 workers (`--pool solo`, one task each at a
  time), against a fresh redis-server on 127.0.0.1 on a free port; workers and Redis are started
  before the clock starts and stopped by PID after it stops.
Every engine must publish the same compliance.json (apart from generated_at) as the in-process run.
The table gives wall seconds (medians over --repeat), the ratio to in process, the steps run, the
seconds inside steps, and the overhead per step: (engine wall - in-process wall) / steps. On a
2-core machine the point is what Celery costs, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
import ingest

from tests import scale_servers  # the same throwaway Redis and workers as the tests

SLO_ASSETS = [sys.executable, "-m", "slo_assets.cli"]
ENGINES = [("in process", 0), ("celery, 1 worker", 1), ("celery, 2 workers", 2)]


def step_stats(home: Path) -> tuple[int, float]:
    """Steps run and seconds inside them, from the runs in `home`'s instance."""
    code = (
        "import json, dagster as dg\n"
        "i = dg.DagsterInstance.get()\n"
        "steps = [(s.start_time, s.end_time) for r in i.get_run_records() for s in i.get_run_step_stats(r.dagster_run.run_id)]\n"
        "print(json.dumps(steps))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300,
                          env={**os.environ, "DAGSTER_HOME": str(home)})
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    return len(steps), sum(end - start for start, end in steps if start is not None and end is not None)


def run_month(logs: Path, scratch: Path, workers: int) -> dict:
    home = scratch / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "SLO_ASSETS_NOW": "2026-11-15T00:00:00Z", "GX_ANALYTICS_ENABLED": "false",
           "DAGSTER_DISABLE_TELEMETRY": "1", "SLO_ASSETS_EARLIEST_MONTH": ingest.MONTH,
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    command = [*SLO_ASSETS, "run", "--logs", str(logs), "--spec", str(ROOT / "examples" / "slos.yaml"), "--month", ingest.MONTH,
               "--out", str(scratch / "out"), "--warehouse", str(scratch / "warehouse")]

    def timed(run_env: dict) -> float:
        started = time.perf_counter()
        done = subprocess.run(command, check=False, capture_output=True, text=True, env=run_env, cwd=scratch, timeout=3600)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"slo-assets run exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        return seconds

    if workers == 0:
        seconds = timed(env)
    else:
        with scale_servers.redis_server() as redis_url:
            env.update({"SLO_ASSETS_EXECUTOR": "celery", "SLO_ASSETS_CELERY_BROKER": redis_url, "SLO_ASSETS_CELERY_BACKEND": redis_url})
            with scale_servers.celery_workers(workers, redis_url, env, scratch / "workers"):
                seconds = timed(env)
    steps, in_steps = step_stats(home)
    compliance = json.loads((scratch / "out" / ingest.MONTH / "compliance.json").read_text())
    compliance.pop("generated_at")
    return {"seconds": seconds, "steps": steps, "in_steps": in_steps, "compliance": compliance}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="requests in the month (the issue's figure: 6000000)")
    parser.add_argument("--format", default="jsonl", choices=["jsonl", "combined"])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if not scale_servers.redis_available():
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    logs = ingest.ensure_month(args.format, args.events)
    results: dict[str, list[dict]] = {name: [] for name, _ in ENGINES}
    for _ in range(args.repeat):
        for name, workers in ENGINES:
            with tempfile.TemporaryDirectory(prefix="slo-bench-scale-out-") as tmp:
                results[name].append(run_month(logs, Path(tmp), workers))
                print(f"  {name}: {results[name][-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
    reference = results[ENGINES[0][0]][0]["compliance"]
    for name, runs in results.items():
        if any(run["compliance"] != reference for run in runs):
            sys.exit(f"{name} published a different compliance.json from the in-process run")
    base = statistics.median(run["seconds"] for run in results[ENGINES[0][0]])

    print(f"\n{args.format} month, {args.events:,} events, {len(ingest.log_files(logs))} files; every engine's compliance.json "
          f"identical to in process\n")
    print(f"{'engine':<20} {'wall s':>8} {'x in process':>13} {'steps':>6} {'in steps s':>11} {'overhead/step s':>16}")
    for name, runs in results.items():
        wall = statistics.median(run["seconds"] for run in runs)
        steps = runs[0]["steps"]
        in_steps = statistics.median(run["in_steps"] for run in runs)
        overhead = "-" if name == ENGINES[0][0] else f"{(wall - base) / steps:.2f}"
        print(f"{name:<20} {wall:>8.1f} {wall / base:>12.2f}x {steps:>6} {in_steps:>11.1f} {overhead:>16}")
    print("\noverhead/step = (engine wall - in-process wall) / steps: what sending a step to a worker costs "
          "(the worker re-creating the plan, the broker, the event log written from another process).")


if __name__ == "__main__":
    main()
