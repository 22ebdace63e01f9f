"""SLO_ASSETS_EXECUTOR switches every job's executor without a code change; a bad setting is one line
naming it and exit 2. (The Celery run itself is in tests/e2e/test_scale_out.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

EXECUTORS = """
import json
from slo_assets.definitions import defs as load_defs
from slo_assets.defs.jobs import JOBS
defs = load_defs()
# the implicit asset job runs what the UI materializes and its backfills
implicit = defs.resolve_implicit_global_asset_job_def()
print(json.dumps({job.name: defs.resolve_job_def(job.name).executor_def.name for job in [*JOBS, implicit]}))
"""


def _executors(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_ASSETS_CELERY") and k != "SLO_ASSETS_EXECUTOR"}
    done = subprocess.run([sys.executable, "-c", EXECUTORS], capture_output=True, text=True, check=True, timeout=120,
                          env={**env, "PYTHONPATH": str(ROOT), **settings})
    return json.loads(done.stdout.strip().splitlines()[-1])


JOB_NAMES = {"observe_specs_job", "observe_job", "index_job", "ingest_job", "daily_job", "monthly_chain_job", "remediation_job",
             "prove_rules_job", "quarterly_review_job", "yearly_review_job", "__ASSET_JOB"}
ALWAYS_IN_PROCESS = {"live_alert_job"}  # one op that sends a page: a queue would only delay it


def test_every_job_runs_in_process_by_default():
    executors = _executors()
    assert set(executors) == JOB_NAMES | ALWAYS_IN_PROCESS and set(executors.values()) == {"in_process"}


def test_celery_switches_every_job():
    executors = _executors(SLO_ASSETS_EXECUTOR="celery", SLO_ASSETS_CELERY_BROKER="redis://127.0.0.1:1/0")
    assert set(executors) == JOB_NAMES | ALWAYS_IN_PROCESS
    assert {name: executor for name, executor in executors.items() if executor != "celery"} == dict.fromkeys(ALWAYS_IN_PROCESS, "in_process")


@pytest.mark.parametrize(("settings", "message"), [
    ({"SLO_ASSETS_EXECUTOR": "k8s"}, "SLO_ASSETS_EXECUTOR='k8s': must be one of in_process, celery"),
    ({"SLO_ASSETS_EXECUTOR": "celery"}, "SLO_ASSETS_EXECUTOR=celery needs SLO_ASSETS_CELERY_BROKER"),
])
def test_a_bad_executor_setting_is_one_line_and_exit_2(settings, message, tmp_path):
    (tmp_path / "logs").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_ASSETS_CELERY")}
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", "logs", "--spec", str(ROOT / "examples" / "slos.yaml"),
                           "--month", "2026-02", "--out", "out"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          check=False, env={**env, "PYTHONPATH": str(ROOT), "DAGSTER_HOME": str(tmp_path / "home"), **settings})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"slo-assets run: {message}") and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
