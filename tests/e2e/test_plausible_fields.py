"""The issue through `slo-assets run`: ingress-nginx lines read with a wrong --log-format (combined) took
$request_length for the request time (0 to 450 s), exit 0, no warning, the latency SLO at 7.7 %. The run
now warns, naming the preset to try; without the option the lines are read as what they are."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INGRESS = ROOT / "tests" / "data" / "formats" / "ingress-nginx.log"
SPEC = (INGRESS.parent / "ingress-slos.yaml").read_text()  # shared with tests/graph/test_plausibility_check.py


def run(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    logs = tmp_path / "logs"
    if not logs.exists():
        logs.mkdir()
        shutil.copy(INGRESS, logs / "access.log")
        (tmp_path / "slo.yaml").write_text(SPEC)
    environment = {**os.environ, "DAGSTER_HOME": str(tmp_path / ".dagster_home"), "GX_ANALYTICS_ENABLED": "false"}
    for name in ("SLO_ASSETS_NOW", "SLO_ASSETS_START_DATE", "SLO_ASSETS_WAREHOUSE"):
        environment.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(logs), "--spec", str(tmp_path / "slo.yaml"),
                           "--month", "2020-02", "--out", str(tmp_path / "out"), "--warehouse", str(tmp_path / "wh"),
                           "--service", "ingress", *extra], capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=600)
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    compliance = json.loads((tmp_path / "out" / "2020-02" / "compliance.json").read_text())
    return done, next(e for e in compliance["slos"] if e["slo"] == "ingress-latency")


def test_a_wrong_log_format_warns_naming_upstreaminfo_and_auto_reads_the_request_times(tmp_path):
    done, latency = run(tmp_path, "--log-format", "combined")
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: access.log: duration_ms implausible")]
    assert len(warnings) == 2, done.stderr  # the median, and the request times equal to $request_length
    assert all("try --log-format upstreaminfo" in line and line.endswith("(on 2020-02-07)") for line in warnings)
    assert "median 345.5 s over 26 requests" in warnings[0] and "$request_length" in warnings[1]
    assert "parsed_logs_plausible (logs/parsed_logs 2020-02-07)" in done.stdout  # the source named after its folder
    assert round(latency["sli"], 3) == 0.077  # the figure: what the wrong reading measures

    done, latency = run(tmp_path)  # format auto: the lines' shape is upstreaminfo's
    assert "implausible" not in done.stderr and "parsed_logs_plausible" not in done.stdout, done.stdout + done.stderr
    assert (latency["good"], latency["total"]) == (26, 26)  # every request of the day took 0-33 ms
