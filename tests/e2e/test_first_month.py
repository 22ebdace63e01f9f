"""The run matrix, through `slo-assets run` as a user runs it: every window kind (tests/data/matrix/slos.yaml)
against no traffic, one day of traffic, an idle service, the month to date on the 1st and the 15th
(clock pinned), the running month, and months the partitions do not cover."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "tests" / "data" / "matrix"
SPEC = MATRIX / "slos.yaml"
STATUSES = {"met", "at_risk", "failed", "insufficient_coverage", "insufficient_data"}
OUTPUTS = ("compliance.json", "error_budgets.json", "remediation_plan.json", "slo_metrics.prom", "alerts.rules.yml", "report.html",
           "grafana-slo-tracking.json", "grafana-slo-compliance.json")


def run(tmp_path: Path, logs: Path, month: str, *extra: str, now: str | None = None, env: dict | None = None):
    environment = {**os.environ, "DAGSTER_HOME": str(tmp_path / ".dagster_home"), "GX_ANALYTICS_ENABLED": "false", **(env or {})}
    for name in ("SLO_ASSETS_NOW", "SLO_ASSETS_START_DATE", "SLO_ASSETS_WAREHOUSE"):
        if name not in (env or {}):
            environment.pop(name, None)
    if now:
        environment["SLO_ASSETS_NOW"] = now
    environment.update(env or {})
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(logs), "--spec", str(SPEC),
                           "--month", month, "--out", str(tmp_path / "out"), *extra],
                          capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=600)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def documents(tmp_path: Path, month: str) -> tuple[dict, dict]:
    out = tmp_path / "out" / month
    plan = json.loads((out / "remediation_plan.json").read_text())
    incidents = [i for e in plan["entries"] for i in e["incidents"]]
    # a review draft per incident of the plan, in reviews/; no folder in a month without one
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS + (("reviews",) if incidents else ()))
    if incidents:
        assert len(list((out / "reviews").glob("*.md"))) == len(incidents)
    for board in ("tracking", "compliance"):  # every window kind's spec gives both dashboards
        assert json.loads((out / f"grafana-slo-{board}.json").read_text())["uid"] == f"slo-assets-{board}"
    return json.loads((out / "compliance.json").read_text()), json.loads((out / "error_budgets.json").read_text())


def by_window(compliance: dict) -> dict[tuple[str, str, str], dict]:
    return {(e["slo"], e["objective"], e["window"]): e for e in compliance["slos"]}


def assert_sane(compliance: dict) -> None:
    for entry in compliance["slos"]:
        assert entry["status"] in STATUSES
        if entry["total"] == 0:  # no event: no figure, never 1
            assert entry["status"] == "insufficient_data" and entry["sli"] is None, entry
        else:
            assert 0 <= entry["sli"] <= 1
        assert entry["good"] <= entry["total"]
    assert sum(compliance["summary"][s] for s in STATUSES) == len(compliance["slos"])


def counted(path: Path) -> tuple[int, int]:
    """(total, 5xx) of a combined log, counted independently of the parser."""
    statuses = [int(m.group(1)) for m in re.finditer(r'" (\d{3}) ', path.read_text())]
    return len(statuses), sum(s >= 500 for s in statuses)


def test_a_month_with_an_idle_service_and_every_window_kind(tmp_path):
    logs = MATRIX / "logs-month"
    done = run(tmp_path, logs, "2026-11")
    assert done.returncode == 0, done.stdout + done.stderr
    compliance, budgets = documents(tmp_path, "2026-11")
    assert_sane(compliance)
    windows = by_window(compliance)
    total, bad = counted(logs / "access.log")
    month = [e for (slo, _, window), e in windows.items() if slo == "site-availability" and window.startswith("1M")]
    assert len(month) == 2 and {e["total"] for e in month} == {total} and {e["good"] for e in month} == {total - bad}
    assert len({e["objective"] for e in month}) == 2  # two objectives, two labels
    idle = [e for (slo, _, _), e in windows.items() if slo == "idle-availability"]
    assert idle and all(e["status"] == "insufficient_data" and e["sli"] is None for e in idle)
    kinds = {e["budgeting_method"] for e in compliance["slos"]}
    assert kinds == {"Occurrences", "Timeslices", "RatioTimeslices"}
    minutes = next(e for e in compliance["slos"] if e["slo"] == "site-minutes")
    assert minutes["slices"]["total"] == 30 * 1440  # the window's minutes, not the lookback's
    for window in budgets["slos"]:  # every alert listed lies inside the window it is listed under
        for alert in window["alerts"]:
            assert window["window_start"] <= alert["start"] < window["window_end"], (window["window"], alert)
    assert "days: 30 of 30 run" in done.stdout


def test_month_to_date_on_the_1st(tmp_path):
    done = run(tmp_path, MATRIX / "logs-month", "2026-11", now="2026-11-01T12:00:00Z")
    assert done.returncode == 0, done.stdout + done.stderr
    compliance, _ = documents(tmp_path, "2026-11")
    assert_sane(compliance)
    assert "days: 1 of 30 run (through 2026-11-01)" in done.stdout
    quality = compliance["data_quality"]
    assert (quality["days_expected"], quality["days_with_data"], quality["gaps"]) == (1, 1, [])
    assert compliance["data_quality"]["rows"] == 12
    # judged up to the pinned noon, not the day's end: the afternoon has not happened, and its 720
    # empty minutes were counted good slices (issue: the running month judged into the future)
    assert compliance["as_of"] == "2026-11-01T12:00:00Z"
    minutes = next(e for e in compliance["slos"] if e["slo"] == "site-minutes")
    assert minutes["slices"]["total"] == 12 * 60


def test_one_day_of_traffic_seen_on_the_15th(tmp_path):
    done = run(tmp_path, MATRIX / "logs-one-day", "2026-11", now="2026-11-15T12:00:00Z")
    assert done.returncode == 0, done.stdout + done.stderr
    compliance, _ = documents(tmp_path, "2026-11")
    assert_sane(compliance)
    assert compliance["data_quality"]["rows"] == 120
    assert "days: 15 of 30 run (through 2026-11-15)" in done.stdout and "1 with data" in done.stdout
    quality = compliance["data_quality"]
    assert (quality["days_expected"], quality["days_with_data"]) == (15, 1)
    assert [(g["start"], g["end"]) for g in quality["gaps"]] == [("2026-11-01", "2026-11-09"), ("2026-11-11", "2026-11-15")]
    # the hours that had traffic on the 10th had none on the 4 days after it: no window reads as met
    assert "met" not in {e["status"] for e in compliance["slos"]}
    assert {e["status"] for e in compliance["slos"] if e["events"] >= 100} <= {"insufficient_coverage", "failed"}


def test_the_running_month_without_traffic_runs_through_today_and_reports_insufficient_data(tmp_path):
    month = datetime.now(UTC).strftime("%Y-%m")  # on the 1st its daily partitions end today, not tomorrow
    (tmp_path / "logs").mkdir()  # a log of January 2026 only: read, and nothing of it in the running month
    (tmp_path / "logs" / "access.log").write_text(
        '10.0.0.1 - - [15/Jan/2026:10:00:00 +0000] "GET /site/ HTTP/1.1" 200 12 "-" "curl/8"\n')
    done = run(tmp_path, tmp_path / "logs", month)
    assert done.returncode == 0, done.stdout + done.stderr
    compliance, budgets = documents(tmp_path, month)
    assert {e["status"] for e in compliance["slos"]} == {"insufficient_data"}
    assert_sane(compliance)
    assert all(w["alerts"] == [] for w in budgets["slos"])
    assert compliance["summary"]["compliance_percent"] is None
    html = (tmp_path / "out" / month / "report.html").read_text()
    assert "1970" not in html and "insufficient" in html.lower()
    assert "0 with data" in done.stdout


def test_a_month_that_measured_nothing_the_user_must_fix_exits_2_naming_why(tmp_path):
    """A folder with no readable log: the month stops once the folder is indexed, publishing nothing (a
    wrong --logs replaced the days and outputs of the last good run). Requests no SLO counts (a service
    name that matches none): the outputs are written, and the exit and one line say what to check."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "core.bin").write_bytes(b"\x00\x01binary")
    nothing = run(tmp_path, tmp_path / "logs", "2026-11", now="2026-11-15T00:00:00Z")
    assert nothing.returncode == 2, nothing.stdout + nothing.stderr
    assert "no log file was read (1 file(s) not read, listed above)" in nothing.stderr and "core.bin" in nothing.stdout
    assert "nothing was published" in nothing.stderr and not (tmp_path / "out" / "2026-11").exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pay.jsonl").write_text("".join(
        f'{{"ts": "2026-11-02T10:{m:02d}:00Z", "service": "payments", "method": "GET", "path": "/pay", "status": 200}}\n'
        for m in range(3)))
    unmatched = run(tmp_path, tmp_path / "other", "2026-11", now="2026-11-15T00:00:00Z")
    assert unmatched.returncode == 2, unmatched.stdout + unmatched.stderr
    assert "none of the 3 requests of 2026-11 counted for any SLO" in unmatched.stderr
    assert "the logs hold payments" in unmatched.stderr and "idle" in unmatched.stderr  # the spec's services are named


def test_months_outside_the_partitions_get_one_clear_line(tmp_path):
    (tmp_path / "logs").mkdir()
    early = run(tmp_path, tmp_path / "logs", "2015-05", env={"SLO_ASSETS_START_DATE": "2020-01-01"})
    assert early.returncode == 2
    assert "SLO_ASSETS_START_DATE" in early.stderr and len(early.stderr.strip().splitlines()) == 1
    future = run(tmp_path, tmp_path / "logs", "2099-01")
    assert future.returncode == 2 and "has not begun" in future.stderr
    assert not (tmp_path / "out" / "2015-05").exists() and not (tmp_path / "out" / "2099-01").exists()


def test_bad_settings_end_as_one_line_before_any_run(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "a-file").write_text("")
    cases = [
        ((), {"SLO_ASSETS_NOW": "garbage"}, "SLO_ASSETS_NOW='garbage' is not an ISO-8601 instant"),
        ((), {"SLO_ASSETS_NOW": "2999-01-01T00:00:00Z"}, "is in the future"),
        ((), {"SLO_ASSETS_START_DATE": "May 2015"}, "SLO_ASSETS_START_DATE='May 2015'"),
        (("--warehouse", "/proc/no-such-folder"), {}, "--warehouse /proc/no-such-folder: cannot write there"),
    ]
    for extra, env, message in cases:
        done = run(tmp_path, tmp_path / "logs", "2026-11", *extra, env=env)
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, (env, done.stderr)
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(tmp_path / "logs"), "--spec", str(SPEC),
                           "--month", "2026-11", "--out", str(tmp_path / "a-file")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and "--out" in done.stderr and "Traceback" not in done.stderr
