"""A closed month whose logs hold one day, through `slo-assets run` (issue "Coverage says what was not
measured"): 1,000 checkout requests on October 7th and none for the 24 days after read as met, with
6.9 % of the minutes unmeasured. After the SLO's first request, every hour that had traffic is
expected on the days after it (docs/concepts.md, "Coverage"), so the month is mostly unmeasured and
its status says so itself: insufficient_coverage, in compliance.json, the summary line, the report's
tiles and the exposition."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools import tool_path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "slos.yaml"
MONTH = "2026-10"


def _write_seventh(logs: Path, lines: int = 1000, seed: int = 7) -> set[int]:
    """`lines` checkout requests at random instants of 2026-10-07; the hours of that day holding one."""
    rng = random.Random(seed)
    logs.mkdir(parents=True)
    minutes = sorted(rng.randrange(1440) for _ in range(lines))
    with (logs / "access.jsonl").open("w") as out:
        for m in minutes:
            out.write(json.dumps({"ts": f"2026-10-07T{m // 60:02d}:{m % 60:02d}:{rng.randrange(60):02d}Z", "service": "checkout",
                                  "method": "GET", "path": "/checkout/cart", "status": 200}) + "\n")
    return {m // 60 for m in minutes}


@pytest.fixture(scope="module")
def seventh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seventh")
    hours = _write_seventh(tmp / "logs")
    env = {**os.environ, "DAGSTER_HOME": str(tmp / ".dagster_home"), "GX_ANALYTICS_ENABLED": "false"}
    for name in ("SLO_ASSETS_NOW", "SLO_ASSETS_START_DATE", "SLO_ASSETS_WAREHOUSE"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(tmp / "logs"), "--spec", str(SPEC),
                           "--month", MONTH, "--out", str(tmp / "out"), "--warehouse", str(tmp / "warehouse")],
                          capture_output=True, text=True, cwd=tmp, env=env, timeout=600)
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return tmp / "out" / MONTH, done.stdout, hours


def test_a_month_with_one_day_of_logs_is_insufficient_coverage_not_met(seventh):
    out, stdout, hours = seventh
    compliance = json.loads((out / "compliance.json").read_text())
    month = next(e for e in compliance["slos"] if e["slo"] == "checkout-availability" and e["window"] == "1M-calendar")
    coverage = month["coverage"]
    # each hour that had traffic on the 7th is unmeasured on each of the 24 days after it; the 7th and the days
    # before it have no known day before them
    assert coverage["unmeasured_minutes"] == len(hours) * 60 * 24
    assert coverage["minutes_without_history"] == 7 * 1440 and coverage["below_floor"]
    ratio = f"{coverage['unmeasured_ratio'] * 100:.1f}"
    assert float(ratio) > 75  # far under the 95 % floor
    # the 1,000 requests all succeeded: met on the minutes measured, which is not the month
    assert (month["total"], month["good"]) == (1000, 1000)
    assert month["status"] == "insufficient_coverage"
    note = f"insufficient coverage, {ratio} % of minutes unmeasured (met on the minutes measured)"
    assert month["status_note"] == note
    summary = compliance["summary"]
    assert summary["met"] == 0 and summary["insufficient_coverage"] >= 1 and summary["compliance_percent"] is None
    line = next(s for s in stdout.splitlines() if "checkout-availability" in s and "1M-calendar" in s)
    assert line.split()[0] == "insufficient_coverage" and note in line
    assert (f"summary: 0 met, 0 at risk, 0 failed, {summary['insufficient_coverage']} insufficient coverage, "
            f"{summary['insufficient_data']} insufficient data") in stdout
    assert "coverage_above_floor" in stdout  # the check still fails, as a warning


def test_the_report_and_the_exposition_say_insufficient_coverage(seventh):
    out, _, _ = seventh
    compliance = json.loads((out / "compliance.json").read_text())
    count = compliance["summary"]["insufficient_coverage"]
    html = (out / "report.html").read_text()
    assert re.search(rf'<div class="card insufficient_coverage"><div class="n">{count}</div><div>insufficient coverage</div>', html)
    assert '<div class="card met"><div class="n">0</div>' in html
    windows = len(compliance["slos"])
    assert f"{windows} of {windows} SLO windows could not be judged: {count} insufficient coverage" in html
    exposition = (out / "slo_metrics.prom").read_text()
    labels = 'objective="99-9-of-requests-succeed",service="checkout",slo="checkout-availability"'
    assert f'slo_status{{{labels},status="insufficient_coverage",window="1M-calendar"}} 1.0' in exposition
    assert f'slo_status{{{labels},status="met",window="1M-calendar"}} 0.0' in exposition
    assert f'slo_coverage_below_floor{{{labels},window="1M-calendar"}} 1.0' in exposition
    promtool = tool_path("promtool")
    if promtool:  # the alert rules stay valid
        checked = subprocess.run([promtool, "check", "rules", str(out / "alerts.rules.yml")], capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
