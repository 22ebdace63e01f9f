"""With the Dagster daemon: a failing month makes the sensor launch the remediation job (dry run).

The sensor handles the reports materialized after its first tick, so the daemon starts first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from slo_assets.generate import write_logs
from tests.dagster_daemon import running_daemon
from tests.postgres_server import available, postgres_server

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 240


# Each storage on its own xdist worker: the two runs mostly wait on the daemon's subprocesses.
@pytest.mark.parametrize("storage", [pytest.param("sqlite", marks=pytest.mark.xdist_group("daemon_sqlite")),
                                     pytest.param("postgres", marks=pytest.mark.xdist_group("daemon_postgres"))])
def test_failing_month_launches_remediation_through_the_daemon(tmp_path, storage):
    if storage == "postgres" and not available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    if storage == "postgres":
        with postgres_server() as pg_env:
            _month_through_the_daemon(tmp_path, ROOT / "deploy" / "dagster-postgres.yaml", pg_env)
    else:
        _month_through_the_daemon(tmp_path, ROOT / "dagster.yaml", {})


def _month_through_the_daemon(tmp_path: Path, instance_config: Path, extra_env: dict) -> None:
    home, logs, warehouse = tmp_path / "home", tmp_path / "logs", tmp_path / "wh"
    home.mkdir()
    shutil.copy(instance_config, home / "dagster.yaml")
    write_logs(logs, "2026-02", 20_000, "jsonl", seed=5)
    # The daemon's code location loads before any log is indexed: the start date covers February.
    env = {**os.environ, **extra_env, "DAGSTER_HOME": str(home), "SLO_ASSETS_LOG_DIR": str(logs), "SLO_ASSETS_WAREHOUSE": str(warehouse),
           "SLO_ASSETS_SPECS": str(ROOT / "examples" / "slos.yaml"), "GX_ANALYTICS_ENABLED": "false",
           "SLO_ASSETS_START_DATE": "2026-02-01"}
    previous = {key: os.environ.get(key) for key in ["DAGSTER_HOME", *extra_env]}
    os.environ.update({"DAGSTER_HOME": str(home), **extra_env})
    try:
        with running_daemon(tmp_path, env, tmp_path / "daemon.log") as (daemon, _):
            instance = dg.DagsterInstance.get()
            deadline = time.monotonic() + DEADLINE_S
            while not _sensor_started(instance) and time.monotonic() < deadline and daemon.poll() is None:
                time.sleep(1)
            assert _sensor_started(instance), (tmp_path / "daemon.log").read_text()[-3000:]
            done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(logs), "--spec",
                                   str(ROOT / "examples" / "slos.yaml"), "--month", "2026-02", "--out", str(tmp_path / "out"),
                                   "--warehouse", str(warehouse)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            deadline = time.monotonic() + DEADLINE_S
            finished = []
            while time.monotonic() < deadline and daemon.poll() is None:
                runs = instance.get_runs(filters=dg.RunsFilter(job_name="remediation_job"))
                finished = [r for r in runs if r.is_finished]
                if runs and len(finished) == len(runs):
                    break
                time.sleep(2)
        assert finished, (tmp_path / "daemon.log").read_text()[-3000:]
        assert all(r.is_success for r in finished), (tmp_path / "daemon.log").read_text()[-3000:]
        keys = {r.tags.get("dagster/run_key") for r in finished}
        assert any(k and k.startswith("remediation:2026-02:checkout-availability:") for k in keys)
        assert all(r.tags.get("dagster/partition") == "2026-02" for r in finished)
        assert (warehouse / "remediation_runs" / "2026-02.parquet").exists()
        storage = type(instance.run_storage).__name__
        assert storage == ("PostgresRunStorage" if extra_env else "SqliteRunStorage"), storage
        instance.dispose()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _sensor_started(instance: dg.DagsterInstance) -> bool:
    """Whether remediation_sensor has ticked once: its first tick stores a cursor."""
    return any(state.name == "remediation_sensor" and getattr(state.instigator_data, "cursor", None) is not None
               for state in instance.all_instigator_state())
