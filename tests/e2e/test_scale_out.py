"""Scale out on existing engines, exercised: the warehouse on an S3 API server, and the jobs on the
Celery executor with Redis. One module, so its servers start once on one xdist worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from slo_assets.ingest.generate import write_logs
from slo_assets.warehouse import layout
from tests import scale_servers
from tests.conftest import ROOT, run_cli
from tests.tools import needs

pytestmark = pytest.mark.xdist_group("scale_out")

MONTH = "2026-02"
SPEC = ROOT / "examples" / "slos.yaml"
BUCKET = "slo-warehouse"


@pytest.fixture(scope="module")
def s3_env():
    with scale_servers.s3_server(BUCKET) as env:
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)  # s3fs in this process reads the same variables a user sets
        try:
            yield env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="module")
def small_month(tmp_path_factory) -> Path:
    """A February of 900 requests with the four injected incidents: a few hundred lines a week."""
    logs = tmp_path_factory.mktemp("scale_logs")
    write_logs(logs, MONTH, 900, "jsonl", seed=16)
    return logs


def _published(folder: Path) -> dict[str, bytes]:
    """The month's published files, with the one thing that differs between two runs, the time they
    were made (compliance.json's generated_at, also in the report), blanked."""
    generated_at = json.loads((folder / "compliance.json").read_text())["generated_at"].encode()
    files = [p for d in layout.PUBLISHED
             for p in (sorted((folder / layout.file_name(d)).glob("*")) if d.has_members else [folder / layout.file_name(d)])]
    return {p.relative_to(folder).as_posix(): p.read_bytes().replace(generated_at, b"<generated_at>") for p in files}


@pytest.fixture(scope="module")
def local_month(small_month, tmp_path_factory) -> Path:
    """The month run in process into a local warehouse: what every other engine must reproduce."""
    project = tmp_path_factory.mktemp("local_project")
    done = run_cli(["run", "--logs", str(small_month), "--spec", str(SPEC), "--month", MONTH, "--out", "out",
                    "--warehouse", str(project / "warehouse")], project)
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def _s3():
    import s3fs

    return s3fs.S3FileSystem()  # endpoint and keys from the environment, as a user's would be


def test_a_month_on_s3_equals_the_local_month(s3_env, small_month, local_month, tmp_path):
    done = run_cli(["run", "--logs", str(small_month), "--spec", str(SPEC), "--month", MONTH, "--out", "out",
                    "--warehouse", f"s3://{BUCKET}/slo"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"warehouse: s3://{BUCKET}/slo" in done.stdout
    registry = json.loads((tmp_path / ".dagster_home" / "slo-sources.json").read_text())["sources"]
    assert registry[0]["warehouse"] == f"s3://{BUCKET}/slo" and registry[0]["stage_dir"]  # an object store needs a local stage

    assert _published(tmp_path / "out" / MONTH) == _published(local_month / "out" / MONTH)
    fs = _s3()
    objects = {path.removeprefix(f"{BUCKET}/slo/") for path in fs.find(f"{BUCKET}/slo")}
    warehouse = local_month / "warehouse"
    files = {str(p.relative_to(warehouse)) for p in warehouse.rglob("*") if p.is_file() and "_staging" not in p.parts}
    assert objects == files  # the same tables, no temporary or probe object left behind
    stamps = {side: json.loads(folder.read_text())["generated_at"].encode()  # when each month's documents were made
              for side, folder in (("s3", tmp_path / "out" / MONTH / "compliance.json"),
                                   ("local", local_month / "out" / MONTH / "compliance.json"))}
    differing = sorted(key for key in files if fs.cat_file(f"{BUCKET}/slo/{key}").replace(stamps["s3"], b"<generated_at>")
                       != (warehouse / key).read_bytes().replace(stamps["local"], b"<generated_at>"))
    assert differing == []  # every table and document byte for byte, but the time it was made
    assert (tmp_path / "data" / "staging").is_dir()  # the parse cache stays local


def test_a_warehouse_bucket_that_does_not_exist_is_one_line_and_exit_2(s3_env, small_month, tmp_path):
    done = run_cli(["run", "--logs", str(small_month), "--spec", str(SPEC), "--month", MONTH, "--out", "out",
                    "--warehouse", "s3://no-such-bucket/slo"], tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--warehouse s3://no-such-bucket/slo: cannot write there" in done.stderr
    assert "Traceback" not in done.stderr and s3_env["AWS_SECRET_ACCESS_KEY"] not in done.stderr


def _table(rows: int, value: int) -> pa.Table:
    return pa.table({"n": pa.array(range(rows), pa.int64()), "v": pa.array([value] * rows, pa.int64())})


def test_a_failure_in_the_middle_of_a_streamed_write_leaves_the_old_object(s3_env):
    from slo_assets.warehouse.storage import Warehouse

    store = Warehouse(f"s3://{BUCKET}/atomic")
    target = store.path("streamed.parquet")
    store.write_table(target, _table(10, 1))
    old = _s3().cat_file(target.path)

    def chunks_then_failure():
        for _ in range(3):  # three row groups reach the writer before the failure
            yield _table(1_000, 2)
        raise OSError("disk gone mid-write")

    with pytest.raises(OSError, match="disk gone"):
        store.write_tables(target, _table(0, 0).schema, chunks_then_failure(), row_group_size=1_000)
    assert _s3().cat_file(target.path) == old
    store.write_tables(target, _table(0, 0).schema, [_table(1_000, 3)] * 3, row_group_size=1_000)
    assert store.read_table(target).num_rows == 3_000


WRITER = """
import sys, time
import pyarrow as pa
from slo_assets.warehouse.storage import Warehouse

store = Warehouse(sys.argv[1])
def groups():
    for i in range(4):
        yield pa.table({"n": pa.array(range(50_000), pa.int64()), "v": pa.array([2] * 50_000, pa.int64())})
        if i == 1:
            open(sys.argv[2], "w").close()  # half the row groups written: the parent kills us now
            time.sleep(60)
store.write_tables(store.path("killed.parquet"), pa.schema([("n", pa.int64()), ("v", pa.int64())]), groups(),
                   row_group_size=50_000)
"""


def test_a_writer_killed_mid_write_leaves_the_old_object(s3_env, tmp_path):
    from slo_assets.warehouse.storage import Warehouse

    store = Warehouse(f"s3://{BUCKET}/atomic")
    target = store.path("killed.parquet")
    store.write_table(target, _table(10, 1))
    old = _s3().cat_file(target.path)
    halfway = tmp_path / "halfway"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, f"s3://{BUCKET}/atomic", str(halfway)], env=env)
    try:
        deadline = time.monotonic() + 30
        while not halfway.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert halfway.exists(), "the writer never got half way"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    assert _s3().cat_file(target.path) == old
    assert store.read_table(target).column("v").to_pylist() == [1] * 10


def _celery_steps(home: Path) -> tuple[dict[str, set[str]], set[str]]:
    """Worker name -> the step keys it ran, from the engine events dagster-celery reports per step."""
    import dagster as dg

    # the instance's dagster.yaml keeps its storage under .dagster_home/, read against DAGSTER_HOME
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        return _steps_in(dg.DagsterInstance.from_config(str(home)))
    finally:
        if previous is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = previous


def _steps_in(opened) -> tuple[dict[str, set[str]], set[str]]:
    import dagster as dg

    with opened as instance:
        ran: dict[str, set[str]] = {}
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                metadata = entry.dagster_event.engine_event_data.metadata
                worker = metadata.get("Celery worker")
                if worker is not None:
                    ran.setdefault(worker.value, set()).add(entry.step_key)
        steps = {entry.step_key for run in instance.get_runs()
                 for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)}
    return ran, steps


@needs("redis-server")
def test_a_month_on_two_celery_workers_equals_the_in_process_month(small_month, local_month, tmp_path):
    from slo_assets.defs import settings as S

    home = tmp_path / ".dagster_home"
    home.mkdir()
    with scale_servers.redis_server() as redis_url:
        # what a user sets for the CLI and the workers alike: the executor, the broker, one instance, the partitions' start
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DAGSTER_HOME": str(home), S.EXECUTOR_SETTING: "celery",
               S.CELERY_BROKER_SETTING: redis_url, S.CELERY_BACKEND_SETTING: redis_url, "SLO_ASSETS_EARLIEST_MONTH": MONTH}
        with scale_servers.celery_workers(2, redis_url, env, tmp_path / "workers") as workers:
            done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(small_month), "--spec", str(SPEC),
                                   "--month", MONTH, "--out", "out", "--warehouse", str(tmp_path / "warehouse")],
                                  check=False, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _published(tmp_path / "out" / MONTH) == _published(local_month / "out" / MONTH)
    ran, steps = _celery_steps(home)
    assert set(ran) == set(workers), ran  # both workers ran steps
    assert set().union(*ran.values()) == steps  # and every step that ran, ran on a worker
    assert {"parsed_logs", "compliance_report"} <= {step.split(".")[0] for step in steps}


def test_runs_appending_outcomes_to_an_s3_warehouse_at_once_lose_none(s3_env):
    """remediation_job and live_alert_job runs may record at the same moment on an object store too:
    the lock there is a claim object created only if absent, so every row stays."""
    import polars as pl

    from slo_assets.warehouse.storage import Warehouse
    from tests.graph.test_remediation import APPEND_OUTCOMES

    base = f"s3://{BUCKET}/appenders"
    env = {**os.environ, **s3_env}
    writers = [subprocess.Popen([sys.executable, "-c", APPEND_OUTCOMES, base, name, "15"], env=env, cwd=ROOT)
               for name in ("monthly", "live")]
    assert [w.wait(timeout=180) for w in writers] == [0, 0]
    store = Warehouse(base)
    keys = pl.from_arrow(store.read_table(layout.REMEDIATION_RUNS.path(store, "2026-02")))["run_key"].to_list()
    assert sorted(keys) == sorted(f"{name}-{i}" for name in ("monthly", "live") for i in range(15))
    assert not store.path("_staging", "locks", "remediation_runs-2026-02.lock").exists()  # released


def test_an_object_store_lock_waits_for_its_holder_and_takes_over_a_dead_ones(s3_env):
    import threading

    from slo_assets.warehouse.storage import Warehouse

    store = Warehouse(f"s3://{BUCKET}/locking")
    lock = store.path("_staging", "locks", "x.lock")
    order, kept = [], []

    def take_and_keep():  # a holder that never releases (as one that died would); kept, or collecting it releases
        kept.append(store._object_lock(lock))
        kept[0].__enter__()
        order.append("waiter in")

    with store._object_lock(lock):
        waiter = threading.Thread(target=take_and_keep)
        waiter.start()
        time.sleep(0.5)
        order.append("holder out")
    waiter.join(timeout=10)
    assert order == ["holder out", "waiter in"]  # the second taker waited for the release
    with pytest.raises(TimeoutError, match="still held after 0.3 s"):  # the waiter holds it now, and never releases
        with store._object_lock(lock, wait_s=0.3):
            pass
    lock.fs.pipe_file(lock.path, json.dumps({"token": "dead", "until_s": time.time() - 1}).encode())  # a holder died
    with store._object_lock(lock):
        assert json.loads(lock.read_bytes())["token"] != "dead"
    assert not lock.exists()
