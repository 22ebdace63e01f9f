from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.tools import SKIP_MISSING_SETTING, missing_reason, skip_missing

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
# Partitions start at the first month with data; the definitions the tests build in process cover
# every month the fixtures use, as `slo-assets run` sets this for the month it runs.
os.environ.setdefault("SLO_ASSETS_EARLIEST_MONTH", "2015-01")

# A real Apache combined log (10,000 lines of May 2015; its origin, licence and figures beside it).
APACHE_LOG = Path(__file__).resolve().parent / "data" / "real" / "apache_logs"


def pytest_collection_modifyitems(items):
    """Under pytest-xdist (--dist loadgroup) a module's tests stay on one worker, so module fixtures
    are built once; modules sharing the session fixture incident_month name the same group."""
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(tool): the test runs a program of tests/tools.py TOOLS")


def pytest_runtest_setup(item):
    """A test that needs a missing program fails naming what to install, or with
    SLO_ASSETS_TEST_SKIP_MISSING=1 is skipped with that reason: never skipped silently."""
    for mark in item.iter_markers("needs"):
        reason = missing_reason(mark.args[0])
        if reason is None:
            continue
        if skip_missing():
            pytest.skip(f"{reason} ({SKIP_MISSING_SETTING}=1)")
        pytest.fail(f"{reason}; or set {SKIP_MISSING_SETTING}=1 to skip the tests that need it", pytrace=False)


def stale_statuses(instance, defs, keys: list[tuple[str, str]]) -> list[str]:
    """Dagster's stale status (FRESH, STALE, MISSING) of each (asset, partition), in order."""
    import dagster as dg
    from dagster._core.definitions.data_version import CachingStaleStatusResolver
    from dagster._core.loader import LoadingContextForTest

    resolver = CachingStaleStatusResolver(instance, defs.resolve_asset_graph(), LoadingContextForTest(instance))
    return [resolver.get_status(dg.AssetKey(key), partition).value for key, partition in keys]


def day_ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="session")
def sample_month(tmp_path_factory) -> Path:
    """A small generated month of JSON lines with injected incidents and malformed lines."""
    from slo_assets.ingest.generate import write_logs

    out = tmp_path_factory.mktemp("sample_logs")
    write_logs(out, "2026-10", 60_000, "jsonl", seed=11, malformed_ratio=0.002)
    return out


ROOT = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], project: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(project / ".dagster_home"), "GX_ANALYTICS_ENABLED": "false"}
    return subprocess.run([sys.executable, "-m", "slo_assets.cli", *args], capture_output=True, text=True, cwd=project,
                          env=env, timeout=600)


@pytest.fixture(scope="session")
def incident_month(tmp_path_factory):
    """`slo-assets run` on a generated February with the four injected incidents (shared by the e2e and report tests)."""
    from slo_assets.ingest.generate import write_logs

    base = tmp_path_factory.mktemp("incidents")
    truth = write_logs(base / "logs", "2026-02", 80_000, "jsonl", seed=5)
    spec = ROOT / "examples" / "slos.yaml"
    done = run_cli(["run", "--logs", str(base / "logs"), "--spec", str(spec), "--month", "2026-02", "--out", str(base / "out"),
                    "--warehouse", str(base / "out" / "warehouse")], base)
    assert done.returncode == 0, done.stdout + done.stderr
    out = base / "out" / "2026-02"
    return truth, json.loads((out / "compliance.json").read_text()), json.loads((out / "error_budgets.json").read_text()), done, base
