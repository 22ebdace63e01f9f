"""Security: secrets from the environment never reach metadata, logs or reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from slo_assets.ingest.generate import write_logs

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-token-planted-4f1c"
SECRET_URL = "http://127.0.0.1:9/hook-with-secret-path-77ab"


def test_planted_secret_appears_in_no_output(tmp_path):
    runbooks = tmp_path / "runbooks.yaml"
    runbooks.write_text("""apiVersion: slo-assets/v1
kind: Runbook
metadata: {name: everything}
spec:
  match: {status: [failed, at_risk]}
  actions:
    - {kind: webhook, name: ticket, url_env: PLANTED_URL, headers_env: {Authorization: PLANTED_TOKEN}}
    - {kind: notify, name: chat, url_env: PLANTED_URL}
    - {kind: command, name: show, argv: [echo, "{slo}"], map_fields: {"{slo}": slo}, env_allow: [PATH]}
    - {kind: command, name: leak, argv: [printenv, PLANTED_TOKEN], env_allow: [PATH, PLANTED_TOKEN]}
""")
    write_logs(tmp_path / "logs", "2026-02", 20_000, "jsonl", seed=5)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "PLANTED_TOKEN": SECRET, "PLANTED_URL": SECRET_URL,
           "GX_ANALYTICS_ENABLED": "false"}
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(tmp_path / "logs"),
                           "--spec", str(ROOT / "examples" / "slos.yaml"), "--runbooks", str(runbooks), "--month", "2026-02",
                           "--out", str(tmp_path / "out"),
                           "--warehouse", str(tmp_path / "out" / "warehouse")], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    code = (
        "import dagster as dg\n"
        "from slo_assets.definitions import build_definitions\n"
        "from slo_assets.defs.remediation.assets import Remediation\n"
        "from slo_assets.defs.resources import WarehouseResource, default_resources\n"
        f"defs = build_definitions({{**default_resources(), 'warehouse': WarehouseResource(base={str(tmp_path / 'out' / 'warehouse')!r}),"
        f" 'remediation': Remediation(runbook_paths=[{str(runbooks)!r}], execute=True)}})\n"
        "job = defs.resolve_job_def('remediation_job')\n"
        "config = {'ops': {'remediation_runs': {'config': {'run_key': 'secret-test'}}}}\n"
        "job.execute_in_process(instance=dg.DagsterInstance.get(), partition_key='2026-02', run_config=config)\n"
    )
    executed = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert executed.returncode == 0, executed.stderr
    import polars as pl

    runs = pl.read_parquet(tmp_path / "out" / "warehouse" / "remediation_runs" / "2026-02.parquet")
    assert "failed" in set(runs["status"])
    # The command printed a variable another action uses as a header secret: stored redacted.
    leak = runs.filter((pl.col("action") == "leak") & (pl.col("status") == "ok"))
    assert leak.height >= 1 and all("[redacted:PLANTED_TOKEN]" in d for d in leak["detail"])
    assert SECRET not in json.dumps(runs.to_dicts(), default=str)
    leaks = []
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix not in (".gz",) and "logs" not in path.parts:
            data = path.read_bytes()
            if SECRET.encode() in data or b"hook-with-secret-path" in data:
                leaks.append(str(path.relative_to(tmp_path)))
    streams = done.stdout + done.stderr + executed.stdout + executed.stderr
    assert leaks == [] and SECRET not in streams and "hook-with-secret-path" not in streams


def test_hostile_runbooks_are_refused_by_slo_assets_run_in_one_line_each(tmp_path):
    """An alias bomb (under 1 KB, 9^9 strings expanded) and a program chosen by the logs: `run` stops
    before any work, one line per problem naming file, document, field and action, without a traceback."""
    import resource

    bomb = tmp_path / "bomb.yaml"
    levels = ['  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"  l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, 9)]
    bomb.write_text("apiVersion: slo-assets/v1\nkind: Runbook\nmetadata: {name: bomb}\nx:\n" + "\n".join(levels) +
                    "\nspec:\n  match: {status: failed}\n  actions:\n    - {kind: command, name: boom, argv: *l8}\n")
    program = tmp_path / "program.yaml"
    program.write_text("""apiVersion: slo-assets/v1
kind: Runbook
metadata: {name: op-as-program}
spec:
  match: {status: failed}
  actions:
    - {kind: command, name: run-op, argv: ["{op}", "--now"], map_fields: {"{op}": top_operation}, env_allow: [PATH]}
""")
    (tmp_path / "logs").mkdir()

    def two_gib():  # a regression runs out of memory here instead of on the machine
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(tmp_path / "logs"),
                           "--spec", str(ROOT / "examples" / "slos.yaml"), "--runbooks", str(bomb), "--runbooks", str(program),
                           "--month", "2026-02", "--out", str(tmp_path / "out"), "--warehouse", str(tmp_path / "out" / "warehouse")],
                          env={**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, preexec_fn=two_gib)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "slo-assets run: invalid runbooks:",
        f"{bomb}: line 10: document 1: aliases expand to more than 100000 nodes (an alias bomb?); refused",
        f"{program}: document 1 (op-as-program): spec.actions.0.argv.0: '{{op}}' (action run-op) holds a placeholder; "
        "the program must be fixed, placeholders may only be later arguments",
    ]
