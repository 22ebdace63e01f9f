"""Specs an adversary writes, through `slo-assets validate` as a user meets them: each is refused at
once with one line naming file and field, where it used to exhaust memory, hang every run, or pass
validate and then stop the run with an OverflowError."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.unit.test_adjustments import SLO, WEEKLY

LEVELS = "".join(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9))
BOMB = f"""apiVersion: openslo/v1
kind: SLO
metadata: {{name: bomb}}
spec:
  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]
{LEVELS}  service: [{', '.join(['*l8'] * 9)}]
"""


def validate(tmp_path, text: str) -> tuple[subprocess.CompletedProcess, float]:
    path = tmp_path / "slos.yaml"
    path.write_text(text)
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "validate", str(path)], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "GX_ANALYTICS_ENABLED": "false"}, timeout=120)
    return done, time.monotonic() - began


@pytest.mark.parametrize(("text", "field", "message"), [
    (BOMB, "invalid YAML", "aliases expand to more than 100000 nodes (an alias bomb?); refused"),
    (SLO + WEEKLY.replace("FREQ=WEEKLY;BYDAY=SA", "FREQ=DAILY;INTERVAL=0"), "spec.rrule", "INTERVAL must be a whole number of at least 1"),
    (SLO + WEEKLY.replace("duration: 2h", "duration: 999999999d"), "spec.duration", "ends after 9999-12-31"),
], ids=["alias-bomb", "rrule-interval-0", "duration-overflow"])
def test_a_hostile_spec_is_refused_at_once_in_one_line(tmp_path, text, field, message):
    done, seconds = validate(tmp_path, text)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith(str(tmp_path))]
    assert len(lines) == 1 and field in lines[0] and message in lines[0], done.stdout + done.stderr
    # the process, its imports included, in seconds: the bomb needed about 100 s and 25 GB, INTERVAL=0 never ended
    assert seconds < 15, seconds


def test_run_says_the_spec_warnings_validate_says(tmp_path):
    """A mistyped annotation is a warning of validate; run said nothing and silently dropped the windows it set."""
    spec = tmp_path / "slos.yaml"
    spec.write_text(SLO.replace("labels: {team: [payments, core]}}", "annotations: {slo-assets.dev/report-window: 7d}}", 1))
    (tmp_path / "logs").mkdir()
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(tmp_path / "logs"), "--spec", str(spec),
                           "--month", "2099-01", "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "GX_ANALYTICS_ENABLED": "false", "DAGSTER_HOME": str(tmp_path / "home")}, timeout=120)
    assert done.returncode == 2 and "has not begun" in done.stderr  # the month is refused after the specs are read
    assert "warning: " in done.stderr and "did you mean slo-assets.dev/report-windows?" in done.stderr, done.stderr
