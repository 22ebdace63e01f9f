"""The Dagster-native path, with no `slo-assets` command: the file index observed, a UI-style asset
backfill of a month (its days and the month), run by the daemon; the outputs (report.html,
slo_metrics.prom, alerts.rules.yml, the JSON documents) are materialized by it, the sensor then
launches the remediation job for the failing month, and the files equal what `slo-assets run` writes
(byte for byte, but for the time they were generated)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from slo_assets.warehouse import layout
from tests.dagster_daemon import running_daemon
from tests.postgres_server import postgres_server
from tests.tools import needs

ROOT = Path(__file__).resolve().parents[2]
MONTH = "2026-02"
# The month to date on the 3rd (the clock pinned for the daemon, its runs and `run`): two days of
# checkout traffic with an hour of 5xx on the 2nd, a backfill of a size the test can wait for.
NOW = "2026-02-03T00:00:00Z"


def write_checkout_days(folder: Path) -> None:
    """A request a minute on 1 and 2 February; from 10:00 to 11:00 on the 2nd six a minute, all 503."""
    folder.mkdir(parents=True)
    lines = []
    for day in (1, 2):
        for minute in range(24 * 60):
            hour, rest = divmod(minute, 60)
            burst = day == 2 and hour == 10
            for second in ((0, 10, 20, 30, 40, 50) if burst else (7,)):
                lines.append(json.dumps({"ts": f"2026-02-{day:02d}T{hour:02d}:{rest:02d}:{second:02d}.000Z", "service": "checkout",
                                         "method": "POST", "path": "/checkout/api/v1/orders", "status": 503 if burst else 200,
                                         "duration_ms": 40.0 + minute % 7}, separators=(",", ":")))
    (folder / "checkout.jsonl").write_text("\n".join(lines) + "\n")
DEADLINE_S = 600  # a loaded 2-core machine: the backfill alone took 5 min beside other work
SPEC = ROOT / "examples" / "slos.yaml"

# What the Dagster UI does on "Observe sources" then "Materialize all" over a month's partitions: an
# asset backfill of every day of the month for the daily assets and the month for the monthly ones.
LAUNCH_BACKFILL = """
import sys, time
import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.backfill import PartitionBackfill
from slo_assets.definitions import defs as load_defs

defs = load_defs()

month = sys.argv[1]
instance = dg.DagsterInstance.get()
for job in ("observe_specs_job", "index_job"):
    assert defs.resolve_job_def(job).execute_in_process(instance=instance).success, job
graph = defs.resolve_asset_graph()
daily_partitions = graph.get(dg.AssetKey('parsed_logs')).partitions_def
monthly_partitions = graph.get(dg.AssetKey('compliance_report')).partitions_def
wanted = set()
for key in graph.materializable_asset_keys:
    partitions = graph.get(key).partitions_def
    if key.to_user_string() in ("remediation_runs", "learning_record") or partitions is None:
        continue  # the action layer is the sensor's
    if partitions not in (daily_partitions, monthly_partitions):
        continue  # the quarter's and the year's reviews: not a month's backfill
    names = [day for day in daily_partitions.get_partition_keys() if day.startswith(month)] if partitions == daily_partitions else [month]
    wanted |= {AssetKeyPartitionKey(key, name) for name in names}
backfill = PartitionBackfill.from_asset_graph_subset(
    backfill_id="ui-month", backfill_timestamp=time.time(), tags={}, dynamic_partitions_store=instance,
    asset_graph_subset=AssetGraphSubset.from_asset_partition_set(wanted, graph), title=None, description=None, run_config=None)
instance.add_backfill(backfill)
print(len(wanted))
"""


# Each storage on its own xdist worker: the two runs mostly wait on the daemon's subprocesses.
@pytest.mark.parametrize("storage", [pytest.param("sqlite", marks=pytest.mark.xdist_group("daemon_sqlite")),
                                     pytest.param("postgres", marks=[pytest.mark.xdist_group("daemon_postgres"), needs("postgresql")])])
def test_a_month_through_the_daemon_materializes_the_outputs_and_remediates(tmp_path, storage):
    if storage == "postgres":
        with postgres_server() as pg_env:
            _month_through_the_daemon(tmp_path, ROOT / "deploy" / "dagster-postgres.yaml", pg_env)
    else:
        warehouse = _month_through_the_daemon(tmp_path, ROOT / "dagster.yaml", {})
        _outputs_equal_those_of_run(tmp_path, warehouse)


def _wait(condition, deadline: float, daemon, what: str, log: Path):
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert daemon.poll() is None, f"the daemon stopped while waiting for {what}:\n" + log.read_text()[-3000:]
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}:\n" + log.read_text()[-3000:])


def _month_through_the_daemon(tmp_path: Path, instance_config: Path, extra_env: dict) -> Path:
    home, logs, warehouse = tmp_path / "home", tmp_path / "logs", tmp_path / "wh"
    home.mkdir()
    shutil.copy(instance_config, home / "dagster.yaml")
    write_checkout_days(logs)
    env = {**os.environ, **extra_env, "DAGSTER_HOME": str(home), "SLO_ASSETS_LOG_DIR": str(logs), "SLO_ASSETS_WAREHOUSE": str(warehouse),
           "SLO_ASSETS_SPECS": str(SPEC), "SLO_ASSETS_START_DATE": f"{MONTH}-01", "SLO_ASSETS_NOW": NOW,
           "GX_ANALYTICS_ENABLED": "false"}
    log = tmp_path / "daemon.log"
    previous = {key: os.environ.get(key) for key in ["DAGSTER_HOME", *extra_env]}
    os.environ.update({"DAGSTER_HOME": str(home), **extra_env})
    try:
        with running_daemon(tmp_path, env, log) as (daemon, _):
            deadline = time.monotonic() + DEADLINE_S
            # the sensor acts on reports materialized after its first tick: let it tick first
            _wait(lambda: "remediation_sensor" in log.read_text(), deadline, daemon, "the sensor's first tick", log)
            launched = subprocess.run([sys.executable, "-c", LAUNCH_BACKFILL, MONTH], env=env, cwd=tmp_path, capture_output=True,
                                      text=True, timeout=300)
            assert launched.returncode == 0, launched.stderr[-3000:]
            instance = dg.DagsterInstance.get()
            done = _wait(lambda: (b := instance.get_backfill("ui-month")) is not None and b.status != BulkActionStatus.REQUESTED and b,
                         deadline, daemon, "the backfill", log)
            assert done.status == BulkActionStatus.COMPLETED_SUCCESS, (done.status, log.read_text()[-3000:])
            # The month's days are one run (the daily assets' single-run backfill policy), then the month.
            backfill_runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": "ui-month"}))
            ranges = [r for r in backfill_runs if "dagster/asset_partition_range_start" in r.tags]
            assert len(backfill_runs) == 2 and len(ranges) == 1, [r.tags for r in backfill_runs]
            day = f"{MONTH}-02"
            per_day = instance.get_latest_materialization_event(dg.AssetKey("parsed_logs"))  # the range's last day
            assert per_day.run_id == ranges[0].run_id
            materialization = next(iter(instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("parsed_logs"), asset_partitions=[day]), limit=1).records))
            assert materialization.asset_materialization.metadata["path"].value.endswith(f"{day}.parquet")

            def remediated():
                runs = instance.get_runs(filters=dg.RunsFilter(job_name="remediation_job"))
                return runs if runs and all(r.is_finished for r in runs) else None

            finished = _wait(remediated, deadline, daemon, "the sensor's remediation runs", log)
        assert all(r.is_success for r in finished), log.read_text()[-3000:]
        keys = {r.tags.get("dagster/run_key") for r in finished}
        assert any(k and k.startswith(f"remediation:{MONTH}:checkout:") for k in keys)
        assert all(r.tags.get("dagster/partition") == MONTH for r in finished)
        assert layout.REMEDIATION_RUNS.path(_store(warehouse), MONTH).exists()
        for dataset in layout.PUBLISHED:  # each published file by its own asset, in a backfill run
            event = instance.get_latest_materialization_event(dg.AssetKey(dataset.key))
            assert event is not None, dataset.key
            run = instance.get_run_by_id(event.run_id)
            if dataset.has_members:  # the review drafts: written in the month's run, again by the remediation (its actions)
                assert run.job_name == "remediation_job", (dataset.key, run.job_name)
            else:
                assert run.tags.get("dagster/backfill") == "ui-month", (dataset.key, run.tags)
            assert Path(event.asset_materialization.metadata["path"].value) == Path(dataset.path(_store(warehouse), MONTH))
        owners = {p.relative_to(warehouse).as_posix(): layout.owner_of(p.relative_to(warehouse).as_posix())
                  for p in warehouse.rglob("*") if p.is_file()}
        assert [path for path, owner in owners.items() if owner is None] == []
        assert {"remediation_runs", "learning_record"} <= set(owners.values())
        storage = type(instance.run_storage).__name__
        assert storage == ("PostgresRunStorage" if extra_env else "SqliteRunStorage"), storage
        instance.dispose()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return warehouse


def _store(root: Path):
    from slo_assets.warehouse.storage import Warehouse

    return Warehouse(root)


GENERATED = re.compile(rb'"generated_at": "[^"]*"|generated \d{4}-\d{2}-\d{2}T[0-9:]+Z')


def _outputs_equal_those_of_run(tmp_path: Path, daemon_warehouse: Path) -> None:
    """`slo-assets run` on the same logs, into its own instance and warehouse, writes the same files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_ASSETS_")}
    env.update({"DAGSTER_HOME": str(tmp_path / "cli-home"), "GX_ANALYTICS_ENABLED": "false", "SLO_ASSETS_NOW": NOW})
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(tmp_path / "logs"), "--spec", str(SPEC),
                           "--month", MONTH, "--out", str(tmp_path / "out"), "--warehouse", str(tmp_path / "cli-wh")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    for dataset in layout.PUBLISHED:
        if dataset.has_members:  # the review drafts: the same incidents, the same facts (the actions aside: the CLI runs none)
            members = dataset.members(_store(daemon_warehouse), MONTH)
            assert sorted(p.stem for p in (tmp_path / "out" / MONTH / layout.file_name(dataset)).glob("*.md")) == members
            continue
        name = layout.file_name(dataset)
        ours = (tmp_path / "out" / MONTH / name).read_bytes()
        theirs = dataset.path(_store(daemon_warehouse), MONTH).read_bytes()
        if name.endswith(".json"):
            ours_doc, theirs_doc = json.loads(ours), json.loads(theirs)
            for document in (ours_doc, theirs_doc):
                document.pop("generated_at", None)
            assert ours_doc == theirs_doc, name
        assert GENERATED.sub(b"", ours) == GENERATED.sub(b"", theirs), name
