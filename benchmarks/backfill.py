"""Backfill benchmark: a month's 31 day partitions (parsed_logs + sli_minutely) through the Dagster
daemon, the way a backfill launched from the UI runs, with 1 and with 2 runs at a time.

    .venv/bin/python benchmarks/backfill.py [--events 1000000] [--processes 1,2]

The month is generated once and cached (~/.cache/slo-assets/bench) and indexed once (index_job).
Each setting gets a fresh SQLite instance whose dagster.yaml sets `concurrency.runs.max_concurrent_runs`;
`dagster job backfill` submits one run per day to the queue and `dagster-daemon` launches them, each
in its own process (DefaultRunLauncher; ingest_job runs its two sequential steps in that process).
Wall time runs from submission until the last run finished. The baseline, measured in the same invocation,
is the same 31 days executed in process, one after another, in one Python process (what
`slo-assets run` does): the difference is what separate run processes cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ingest  # noqa: E402

from tests.dagster_daemon import running_daemon  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DAYS = 31
DEADLINE_S = 3600


def _env(home: Path, logs: Path, warehouse: Path) -> dict:
    return {**os.environ, "DAGSTER_HOME": str(home), "SLO_ASSETS_LOG_DIR": str(logs), "SLO_ASSETS_WAREHOUSE": str(warehouse),
            "SLO_ASSETS_SPECS": str(ROOT / "examples" / "slos.yaml"), "SLO_ASSETS_START_DATE": "2026-01-01",
            "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1"}


def _home(base: Path, processes: int) -> Path:
    home = base / f"home-{processes}"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        f"concurrency:\n  runs:\n    max_concurrent_runs: {processes}\n"
        "run_queue:\n  dequeue_interval_seconds: 1\n  dequeue_use_threads: true\n  dequeue_num_workers: 2\n"
    )
    return home


def _run(args: list[str], env: dict) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=DEADLINE_S)
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def index_once(base: Path, logs: Path, warehouse: Path) -> None:
    home = _home(base, 0)
    _run([str(Path(sys.executable).with_name("dagster")), "job", "execute", "-m", "slo_assets.definitions", "-j", "index_job"],
         _env(home, logs, warehouse))


def in_process_baseline(base: Path, logs: Path, warehouse: Path) -> float:
    """All days, sequentially, in this one process (the CLI's way)."""
    code = (
        "import time, dagster as dg\n"
        "from slo_assets.definitions import defs\n"
        "from slo_assets.slo.chain import month_days\n"
        "job = defs.resolve_job_def('ingest_job')\n"
        "instance = dg.DagsterInstance.get()\n"
        "quiet = {'loggers': {'console': {'config': {'log_level': 'WARNING'}}}}\n"
        "start = time.perf_counter()\n"
        f"for day in month_days('{ingest.MONTH}'):\n"
        "    assert job.execute_in_process(instance=instance, partition_key=day, run_config=quiet).success\n"
        "print(time.perf_counter() - start)\n"
    )
    home = _home(base, 99)
    done = subprocess.run([sys.executable, "-c", code], env=_env(home, logs, warehouse), capture_output=True, text=True,
                          timeout=DEADLINE_S)
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    return float(done.stdout.strip().splitlines()[-1])


def daemon_backfill(base: Path, logs: Path, warehouse: Path, processes: int) -> dict:
    import dagster as dg

    home = _home(base, processes)
    env = _env(home, logs, warehouse)
    os.environ["DAGSTER_HOME"] = str(home)
    with running_daemon(base, env, base / f"daemon-{processes}.log") as (daemon, workspace):
        time.sleep(3)  # let the daemon start its threads before the runs arrive
        started = time.perf_counter()
        first, last = f"{ingest.MONTH}-01", f"{ingest.MONTH}-{DAYS:02d}"
        _run([str(Path(sys.executable).with_name("dagster")), "job", "backfill", "-w", str(workspace), "-j", "ingest_job",
              "--from", first, "--to", last, "--noprompt"], env)
        instance = dg.DagsterInstance.get()
        while True:
            runs = instance.get_runs(filters=dg.RunsFilter(job_name="ingest_job"))
            finished = [r for r in runs if r.is_finished]
            if len(runs) == DAYS and len(finished) == DAYS:
                break
            if time.perf_counter() - started > DEADLINE_S or daemon.poll() is not None:
                sys.exit(f"backfill did not finish: {len(finished)}/{len(runs)} runs; see {base / f'daemon-{processes}.log'}")
            time.sleep(0.5)
        wall = time.perf_counter() - started
        records = instance.get_run_records(filters=dg.RunsFilter(job_name="ingest_job"))
        durations = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
        outcome = {"wall_s": wall, "succeeded": sum(r.dagster_run.is_success for r in records),
                   "mean_run_s": sum(durations) / len(durations)}
        instance.dispose()
        return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--processes", default="1,2")
    args = parser.parse_args()
    logs = ingest.ensure_month("jsonl", args.events)
    base = Path(tempfile.mkdtemp(prefix="slo-backfill-"))
    try:
        warehouse = base / "warehouse"
        index_once(base, logs, warehouse)
        baseline = in_process_baseline(base, logs, warehouse)
        results = {p: daemon_backfill(base, logs, warehouse, int(p)) for p in args.processes.split(",")}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"\n{DAYS}-day backfill of ingest_job (parsed_logs + sli_minutely), {args.events} events, {os.cpu_count()} cores")
    print(f"{'setting':<34} {'wall s':>8} {'days/min':>9} {'mean run s':>11} {'ok':>4} {'vs baseline':>12}")
    print(f"{'in process, sequential (baseline)':<34} {baseline:>8.1f} {DAYS / baseline * 60:>9.1f} {baseline / DAYS:>11.1f} {DAYS:>4} {1:>11.2f}x")
    for processes, r in results.items():
        print(f"{f'daemon, {processes} run(s) at a time':<34} {r['wall_s']:>8.1f} {DAYS / r['wall_s'] * 60:>9.1f} "
              f"{r['mean_run_s']:>11.1f} {r['succeeded']:>4} {r['wall_s'] / baseline:>11.2f}x")
    if "1" in results and "2" in results:
        print(f"\nspeed-up of 2 runs at a time over 1: {results['1']['wall_s'] / results['2']['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
