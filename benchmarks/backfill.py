"""Backfill benchmark: a month's 31 day partitions (parsed_logs + sli_minutely) backfilled through the
Dagster daemon the way the UI launches an asset backfill, against the same days in process.

    .venv/bin/python benchmarks/backfill.py [--events 1000000] [--month]

The month is generated once and cached (~/.cache/slo-assets/bench) and indexed once (index_job).
The daily assets have BackfillPolicy.single_run: the daemon turns the backfill of the 31 days into one
run, launched in its own process (DefaultRunLauncher). Wall time runs from submission until the
backfill is complete. The baseline, in the same invocation, is what `slo-assets run` does: the same
31 days as one range run executed in process. Target: the daemon takes <= 1.5x the baseline.

With --month the backfill is the whole month as the UI's "Materialize all" of the month submits it:
the 31 days and the monthly chain (alert_rules included: its promtool proof is planned and skipped,
defs/outputs/rules_proof.py), against the baseline's range run then monthly_chain_job in process.
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


def in_process_baseline(base: Path, logs: Path, warehouse: Path, month: bool = False) -> float:
    """All days as one range run in a fresh process (the CLI's way), timed from the run's start; with
    `month`, then the monthly chain."""
    code = (
        "import time, dagster as dg\n"
        "from slo_assets.definitions import defs\n"
        "from slo_assets.defs.ingest.day_runs import RANGE_END_TAG, RANGE_START_TAG\n"
        "job = defs().resolve_job_def('ingest_job')\n"
        "instance = dg.DagsterInstance.get()\n"
        "quiet = {'loggers': {'console': {'config': {'log_level': 'WARNING'}}}}\n"
        "start = time.perf_counter()\n"
        f"tags = {{RANGE_START_TAG: '{ingest.MONTH}-01', RANGE_END_TAG: '{ingest.MONTH}-{DAYS:02d}'}}\n"
        "assert job.execute_in_process(instance=instance, run_config=quiet, tags=tags).success\n"
        + (f"assert defs().resolve_job_def('monthly_chain_job').execute_in_process(instance=instance, run_config=quiet, "
           f"partition_key='{ingest.MONTH}').success\n" if month else "")
        + "print(time.perf_counter() - start)\n"
    )
    home = _home(base, 99)
    done = subprocess.run([sys.executable, "-c", code], env=_env(home, logs, warehouse), capture_output=True, text=True,
                          timeout=DEADLINE_S)
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    return float(done.stdout.strip().splitlines()[-1])


def submit_asset_backfill(instance, backfill_id: str, month: bool = False) -> None:
    """What the UI's "Materialize" on the daily assets' 31 partitions submits (with `month`, and the month's chain)."""
    from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
    from dagster._core.definitions.events import AssetKeyPartitionKey
    from dagster._core.execution.backfill import PartitionBackfill

    from slo_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    days = [f"{ingest.MONTH}-{day:02d}" for day in range(1, DAYS + 1)]
    keys = ["parsed_logs", "quarantine", "sli_minutely", "sli_latency", "sli_operations"]
    wanted = {AssetKeyPartitionKey(dg_key(key), day) for key in keys for day in days}
    if month:
        chain = defs().resolve_job_def("monthly_chain_job").asset_layer.selected_asset_keys
        wanted |= {AssetKeyPartitionKey(key, ingest.MONTH) for key in chain}
    instance.add_backfill(PartitionBackfill.from_asset_graph_subset(
        backfill_id=backfill_id, backfill_timestamp=time.time(), tags={}, dynamic_partitions_store=instance,
        asset_graph_subset=AssetGraphSubset.from_asset_partition_set(wanted, graph), title=None, description=None, run_config=None))


def dg_key(name: str):
    import dagster as dg

    return dg.AssetKey(name)


def daemon_backfill(base: Path, logs: Path, warehouse: Path, month: bool = False) -> dict:
    import dagster as dg
    from dagster._core.execution.backfill import BulkActionStatus

    home = _home(base, 1)
    env = _env(home, logs, warehouse)
    os.environ.update({key: env[key] for key in ("DAGSTER_HOME", "SLO_ASSETS_LOG_DIR", "SLO_ASSETS_WAREHOUSE", "SLO_ASSETS_SPECS",
                                                  "SLO_ASSETS_START_DATE")})
    with running_daemon(base, env, base / "daemon.log") as (daemon, _workspace):
        time.sleep(3)  # let the daemon start its threads before the backfill arrives
        instance = dg.DagsterInstance.get()
        started = time.perf_counter()
        submit_asset_backfill(instance, "bench-month", month)
        while True:
            backfill = instance.get_backfill("bench-month")
            if backfill is not None and backfill.status not in (BulkActionStatus.REQUESTED,):
                break
            if time.perf_counter() - started > DEADLINE_S or daemon.poll() is not None:
                sys.exit(f"backfill did not finish; see {base / 'daemon.log'}")
            time.sleep(0.5)
        wall = time.perf_counter() - started
        if backfill.status != BulkActionStatus.COMPLETED_SUCCESS:
            error = backfill.error.to_string() if backfill.error else ""
            sys.exit(f"backfill {backfill.status.value}: {backfill.failure_count} failure(s): {error}\n"
                     f"{(base / 'daemon.log').read_text()[-4000:]}")
        records = instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/backfill": "bench-month"}))
        durations = [r.end_time - r.start_time for r in records if r.start_time and r.end_time]
        outcome = {"wall_s": wall, "runs": len(records), "status": backfill.status.value,
                   "run_s": sum(durations), "succeeded": sum(r.dagster_run.is_success for r in records)}
        instance.dispose()
        return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--month", action="store_true", help="the days and the monthly chain, as the UI's month backfill")
    args = parser.parse_args()
    logs = ingest.ensure_month("jsonl", args.events)
    base = Path(tempfile.mkdtemp(prefix="slo-backfill-"))
    try:
        warehouse = base / "warehouse"
        index_once(base, logs, warehouse)
        baseline = in_process_baseline(base, logs, warehouse, args.month)
        daemon = daemon_backfill(base, logs, warehouse, args.month)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    what = "and the monthly chain" if args.month else "(parsed_logs, quarantine, sli_minutely, sli_latency, sli_operations)"
    print(f"\n{DAYS}-day asset backfill {what}, "
          f"{args.events:,} events, {os.cpu_count()} cores")
    print(f"{'setting':<40} {'wall s':>8} {'runs':>5} {'in runs s':>10} {'vs baseline':>12}")
    print(f"{'in process, one range run (baseline)':<40} {baseline:>8.1f} {1:>5} {baseline:>10.1f} {1:>11.2f}x")
    print(f"{'daemon, asset backfill (UI path)':<40} {daemon['wall_s']:>8.1f} {daemon['runs']:>5} {daemon['run_s']:>10.1f} "
          f"{daemon['wall_s'] / baseline:>11.2f}x   {daemon['status']}, {daemon['succeeded']} run(s) succeeded")
    print("\ntarget: the daemon's backfill <= 1.5x the baseline")


if __name__ == "__main__":
    main()
