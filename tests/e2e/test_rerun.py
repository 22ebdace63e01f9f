"""`slo-assets run` again on the same warehouse and instance: days whose logs did not change are not run
again, and the month's outputs are byte for byte those of the first run; a late file or a missing
day file brings back exactly its days."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from slo_assets.ingest.generate import write_logs

ROOT = Path(__file__).resolve().parents[2]
MONTH = "2026-10"
DAYS = [f"{MONTH}-{d:02d}" for d in range(1, 32)]
NOW = "2026-11-15T00:00:00Z"  # the month is closed: its documents do not depend on when it is run
STAMP = re.compile(rb"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _run(base: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(base / "home"), "SLO_ASSETS_NOW": NOW, "GX_ANALYTICS_ENABLED": "false"}
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(base / "logs"), "--spec",
                           str(ROOT / "examples" / "slos.yaml"), "--month", MONTH, "--out", str(base / "out"),
                           "--warehouse", str(base / "wh"), *extra], check=False, capture_output=True, text=True, cwd=base,
                          env=env, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _outputs(base: Path) -> dict[str, bytes]:
    """Every published file of the month; generated_at (the wall-clock time of writing) masked."""
    folder = base / "out" / MONTH
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _generated_at_masked(files: dict[str, bytes]) -> dict[str, bytes]:
    masked = {}
    for name, payload in files.items():
        if name == "compliance.json":
            document = json.loads(payload)
            document["generated_at"] = "-"
            payload = json.dumps(document).encode()
        elif name == "report.html":  # the report prints it once, in its header
            payload = payload.replace(b"generated " + STAMP.search(payload.split(b"generated ", 1)[1]).group(), b"generated -", 1)
        masked[name] = payload
    return masked


def _ingest_ranges(base: Path) -> list[tuple[str, str]]:
    """(first day, last day) of every ingest_job run of the source `logs` in the instance, sorted."""
    os.environ["DAGSTER_HOME"] = str(base / "home")
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="logs__ingest_job"))  # the source named after its folder
        return sorted((r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"]) for r in runs)


@pytest.fixture(scope="module")
def reruns(tmp_path_factory):
    base = tmp_path_factory.mktemp("rerun")
    write_logs(base / "logs", MONTH, 6_000, "jsonl", seed=17, incidents=2)
    home = base / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    saved = os.environ.get("DAGSTER_HOME")
    try:
        first = _run(base)
        after_first = _outputs(base)
        ranges_first = _ingest_ranges(base)
        second = _run(base)
        after_second = _outputs(base)
        ranges_second = _ingest_ranges(base)
        # a late file with one request on the 5th, and the 20th's latency counts gone from the warehouse
        (base / "logs" / "late.jsonl").write_text(
            '{"ts":"2026-10-05T12:00:00Z","service":"checkout","method":"GET","path":"/checkout/api/v1/cart","status":200,'
            '"duration_ms":12}\n')
        (base / "wh" / "sli_latency" / "2026-10-20.parquet").unlink()
        third = _run(base)
        ranges_third = _ingest_ranges(base)
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved
    return {"first": first, "second": second, "third": third, "outputs": (after_first, after_second),
            "ranges": (ranges_first, ranges_second, ranges_third), "base": base}


def test_the_first_run_ingests_the_whole_month_in_one_run(reruns):
    assert reruns["ranges"][0] == [(DAYS[0], DAYS[-1])]
    assert "days: 31 of 31 run" in reruns["first"].stdout and "unchanged" not in reruns["first"].stdout


def test_a_rerun_with_unchanged_logs_runs_no_day(reruns):
    assert reruns["ranges"][1] == reruns["ranges"][0]  # no ingest_job run was added
    assert "31 of them unchanged since their last run (not run again)" in reruns["second"].stdout
    assert f"{MONTH}: 2 runs in " in reruns["second"].stdout  # the observation and the monthly chain
    # the figures of the days not run come from their last materialization: the same requests and lines
    summary = [line for line in reruns["first"].stdout.splitlines() if line.startswith("days: ")]
    assert summary and summary[0] in reruns["second"].stdout


def test_a_rerun_with_unchanged_logs_publishes_the_same_bytes(reruns):
    first, second = reruns["outputs"]
    assert sorted(first) == sorted(second) and len(first) >= 8
    assert _generated_at_masked(first) == _generated_at_masked(second)


def test_a_late_file_and_a_missing_day_file_bring_back_exactly_their_days(reruns):
    assert reruns["ranges"][2] == sorted([*reruns["ranges"][0], ("2026-10-05", "2026-10-05"), ("2026-10-20", "2026-10-20")])
    assert "29 of them unchanged" in reruns["third"].stdout
    assert (reruns["base"] / "wh" / "sli_latency" / "2026-10-20.parquet").exists()
    compliance = json.loads((reruns["base"] / "out" / MONTH / "compliance.json").read_text())
    assert compliance["data_quality"]["rows"] == 6_001


def _line(day: str, status: int = 200) -> str:
    return json.dumps({"ts": f"{day}T10:00:00Z", "service": "checkout", "method": "GET", "path": "/checkout/api/v1/cart",
                       "status": status, "duration_ms": 5}) + "\n"


def test_the_days_to_run_are_the_days_dagster_marks_stale_or_missing(tmp_path):
    """days_to_run (batched) agrees with Dagster's own stale status per day: after a run, after a late
    file, after a spec edit; a day without lines (the 3rd) stays fresh; a missing day file brings it back."""
    from slo_assets.cli.orchestrate import days_to_run, materialize_month
    from slo_assets.definitions import build_definitions
    from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
    from slo_assets.warehouse.storage import Warehouse
    from tests.conftest import stale_statuses

    days = ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"]
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text(_line(days[0]) + _line(days[1], 503) + _line(days[3]))
    spec = tmp_path / "slos.yaml"
    spec.write_text((ROOT / "examples" / "slos.yaml").read_text())
    resources = {"log_source": LogSource(root=str(tmp_path / "logs")), "warehouse": WarehouseResource(base=str(tmp_path / "wh")),
                 "slo_settings": SloSettings(spec_paths=[str(spec)])}
    defs = build_definitions(resources)
    instance = dg.DagsterInstance.ephemeral()
    store = Warehouse(tmp_path / "wh")

    def dagster_says() -> list[str]:
        keys = [(key, day) for day in days for key in ("parsed_logs", "sli_minutely")]
        statuses = stale_statuses(instance, defs, keys)
        return sorted({day for (_, day), status in zip(keys, statuses, strict=True) if status != "FRESH"})

    def observe(job: str) -> None:
        assert defs.resolve_job_def(job).execute_in_process(instance=instance).success

    assert days_to_run(instance, store, days) == days == dagster_says()  # nothing materialized yet
    first = materialize_month(MONTH, resources, instance, days=days)
    assert not first.failed_runs and first.unchanged == []
    assert days_to_run(instance, store, days) == [] == dagster_says()

    (tmp_path / "logs" / "late.jsonl").write_text(_line(days[1]))
    observe("index_job")
    assert days_to_run(instance, store, days) == [days[1]] == dagster_says()
    again = materialize_month(MONTH, resources, instance, days=days)
    assert again.unchanged == [days[0], days[2], days[3]] and again.days[days[1]].rows == 2
    assert days_to_run(instance, store, days) == [] == dagster_says()

    spec.write_text(spec.read_text().replace("target: 0.999}", "target: 0.998}", 1))
    observe("observe_specs_job")
    assert days_to_run(instance, store, days) == days == dagster_says()  # sli_minutely counts what the specs select
    materialize_month(MONTH, resources, instance, days=days)
    assert days_to_run(instance, store, days) == [] == dagster_says()

    layout_path = tmp_path / "wh" / "sli_operations" / f"{days[3]}.parquet"
    layout_path.unlink()
    assert days_to_run(instance, store, days) == [days[3]] and dagster_says() == []  # Dagster does not look at the files
    brought_back = materialize_month(MONTH, resources, instance, days=days)
    assert brought_back.unchanged == [days[0], days[1], days[2]] and layout_path.exists()
    forced = materialize_month(MONTH, resources, instance, days=days, every_day=True)  # `run --every-day`
    assert forced.unchanged == [] and list(forced.days) == days and not forced.failed_runs
