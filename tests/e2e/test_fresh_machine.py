"""A new user's machine: what is defined never depends on what is installed, the repository reads
nothing outside itself, and a missing program is named with its install command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import dagster as dg

from slo_assets.slo.rules_proof import PROMTOOL_INSTALL
from tests.conftest import ROOT

LIST_DEFINITIONS = """
import json
from slo_assets.definitions import defs as load_defs
defs = load_defs()

jobs = sorted(job.name for job in defs.resolve_all_job_defs())  # resolving each job fails on a selection naming nothing
graph = defs.resolve_asset_graph()
print(json.dumps({
    "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
    "checks": sorted(key.to_user_string() for key in graph.asset_check_keys),
    "jobs": jobs,
    "sensors": sorted(sensor.name for sensor in defs.sensors),
    "schedules": sorted(schedule.name for schedule in defs.schedules),
}))
"""


def _path_without(program: str) -> str:
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / program).exists())


def _definitions(path: str) -> dict:
    env = {**os.environ, "PATH": path}
    done = subprocess.run([sys.executable, "-c", LIST_DEFINITIONS], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stderr, done.stderr  # loading the code location warns of nothing (the UI prints each)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_definitions_are_the_same_with_and_without_promtool(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "promtool").write_text("#!/bin/sh\nexit 0\n")
    (fake / "promtool").chmod(0o755)
    without = _definitions(_path_without("promtool"))
    with_it = _definitions(f"{fake}{os.pathsep}{_path_without('promtool')}")
    assert without == with_it
    assert "alert_rules:rules_agree_with_replay" in without["checks"]
    assert {"monthly_chain_job", "prove_rules_job"} <= set(without["jobs"])


def test_without_promtool_the_rules_proof_warns_that_nothing_was_proven(monkeypatch, tmp_path):
    from slo_assets.defs.outputs.rules_proof import _rules_agree_with_replay

    monkeypatch.setenv("PATH", str(tmp_path))  # no promtool there
    check = dg.AssetCheckKey(dg.AssetKey("alert_rules"), "rules_agree_with_replay")
    context = SimpleNamespace(selected_asset_keys=None, selected_asset_check_keys={check})
    result = _rules_agree_with_replay(context, None, None)  # it reads no month nor file before it looks for promtool
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
    assert result.description == f"not proven: promtool is not installed; to prove the rules: {PROMTOOL_INSTALL}"
    assert result.metadata["install"].value == PROMTOOL_INSTALL


def test_run_prove_rules_without_promtool_exits_2_naming_what_to_install(tmp_path):
    (tmp_path / "logs").mkdir()
    env = {**os.environ, "PATH": _path_without("promtool"), "DAGSTER_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(tmp_path / "logs"),
                           "--spec", str(ROOT / "examples" / "slos.yaml"), "--month", "2026-10", "--out", str(tmp_path / "out"),
                           "--warehouse", str(tmp_path / "warehouse"), "--prove-rules"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"slo-assets run: --prove-rules needs promtool, which is not installed: {PROMTOOL_INSTALL}"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "home").exists()  # it stopped before anything ran


def test_no_file_of_the_repository_reads_outside_it():
    outside = ".." + "/shared"  # spelled apart, so this file does not name it
    tracked = subprocess.run(["git", "ls-files", "tests", "benchmarks", "slo_assets", "scripts", ".ci"],
                             capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    assert len(tracked) > 50
    named = [name for name in tracked if (ROOT / name).is_file() and outside in (ROOT / name).read_text(errors="replace")]
    assert named == []


def test_the_instance_settings_are_the_top_level_dagster_yaml():
    from slo_assets.cli.common import INSTANCE_CONFIG

    assert INSTANCE_CONFIG == Path("dagster.yaml") and (ROOT / INSTANCE_CONFIG).is_file()
    assert sorted(p.name for p in (ROOT / "deploy").iterdir()) == ["dagster-postgres.yaml"]
    assert ".dagster_home/" in (ROOT / ".gitignore").read_text().split()


IMPORT_READS_NOTHING = """
import json, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" and "{warehouse}" in str(args[0]) else None)
import slo_assets.definitions, slo_assets.cli.main  # bad settings and a warehouse with logs: neither is read here
at_import = list(opened)
from slo_assets.core.clock import SettingError
try:
    slo_assets.definitions.defs()
    outcome = "loaded"
except SettingError as error:
    outcome = str(error)
print(json.dumps({{"at_import": at_import, "at_load": opened[len(at_import):], "load": outcome}}))
"""


def test_importing_the_code_location_reads_no_setting_and_no_file(tmp_path):
    """Settings, the partitions' range and the executor are read when Dagster loads the definitions
    (the `defs` function), not when a module is imported: a bad setting fails the load, naming itself."""
    import polars as pl

    from slo_assets.warehouse import layout

    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    pl.DataFrame({"days": [[20_000]]}, schema={"days": pl.List(pl.Int32)}).write_parquet(warehouse / layout.LOG_FILE_INDEX.relative())

    def load(**settings: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLO_ASSETS_")}
        done = subprocess.run([sys.executable, "-c", IMPORT_READS_NOTHING.format(warehouse=warehouse)], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT), "SLO_ASSETS_WAREHOUSE": str(warehouse), **settings})
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    good = load()
    assert good["at_import"] == [] and good["load"] == "loaded"
    assert any(path.endswith(layout.LOG_FILE_INDEX.relative()) for path in good["at_load"])  # the range follows the data
    bad = load(SLO_ASSETS_EXECUTOR="bogus")
    assert bad["at_import"] == [] and bad["load"] == "SLO_ASSETS_EXECUTOR='bogus': must be one of in_process, celery"
