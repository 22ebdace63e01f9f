"""First use on real logs, through `slo-assets run`: the real Apache log of semicomplete.com under its
own name (`apache_logs`, no extension, May 2015), read as one service, with 1M, 7d, 28d and timeslice
windows; the same log read with the wrong --format; the hostile corpus beside it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "data" / "real"
SPEC = REAL / "semicomplete.yaml"


# The log ends on 2015-05-20 at 21:05: seen as it stood on the 21st, the month holds every line in 21 day runs.
AFTER_THE_LAST_LINE = "2015-05-21T00:30:00Z"


def run(tmp_path: Path, logs: Path, *extra: str, month: str = "2015-05", now: str | None = None):
    environment = {**os.environ, "DAGSTER_HOME": str(tmp_path / ".dagster_home"), "GX_ANALYTICS_ENABLED": "false"}
    for name in ("SLO_ASSETS_NOW", "SLO_ASSETS_START_DATE", "SLO_ASSETS_WAREHOUSE"):
        environment.pop(name, None)
    if now:
        environment["SLO_ASSETS_NOW"] = now
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(logs), "--spec", str(SPEC),
                           "--month", month, "--out", str(tmp_path / "out"), "--service", "semicomplete", *extra],
                          capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=600)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def real_logs(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(REAL / "apache_logs", logs / "apache_logs")
    return logs


def test_the_real_apache_log_under_its_own_name_in_2015(tmp_path):
    done = run(tmp_path, real_logs(tmp_path), now=AFTER_THE_LAST_LINE)
    assert done.returncode == 0, done.stdout + done.stderr
    compliance = json.loads((tmp_path / "out" / "2015-05" / "compliance.json").read_text())
    month = next(e for e in compliance["slos"] if e["slo"] == "semicomplete-availability" and e["window"].startswith("1M"))
    assert (month["good"], month["total"]) == (9_997, 10_000)  # NOTES.md: 3 of the 10,000 requests are 5xx
    assert month["status"] == "met"
    latency = [e for e in compliance["slos"] if e["slo"] == "semicomplete-latency"]
    assert latency and all((e["total"], e["status"], e["sli"]) == (0, "insufficient_data", None) for e in latency)  # no times logged
    # ... and it says so, for how many requests, and how to log one, not "no event" as if none came
    said = "these logs carry no request time: the 10,000 requests selected have none"
    assert all((e["events"], e["untimed"]) == (0, 10_000) and e["status_note"].startswith(said) for e in latency)
    assert all(how in latency[0]["status_note"] for how in ("$request_time", "upstreaminfo", "%D (microseconds)", "%T"))
    line = next(line for line in done.stdout.splitlines() if "semicomplete-latency" in line and "insufficient_data" in line)
    assert f"({said}" in line
    html = (tmp_path / "out" / "2015-05" / "report.html").read_text()
    assert "No event in this window" not in html and html.count(said[0].upper() + said[1:]) == len(latency)
    windows = {e["window"] for e in compliance["slos"]}
    assert {w.split("-")[0] for w in windows} >= {"1M", "7d", "28d"}
    assert compliance["data_quality"]["rows"] == 10_000 and compliance["data_quality"]["quarantined_lines"] == 0
    assert "10,000 lines: 10,000 rows, 0 quarantined" in done.stdout
    assert (tmp_path / "out" / "2015-05" / "report.html").stat().st_size > 10_000


def test_a_wrong_format_says_most_lines_were_rejected_exits_2_and_keeps_the_last_good_month(tmp_path):
    """The month stops once the logs are indexed: it used to replace the good run's days with empty ones
    and publish an all-insufficient month (and the next month's report, which reads this one, changed)."""
    logs = real_logs(tmp_path)
    assert run(tmp_path, logs, now=AFTER_THE_LAST_LINE).returncode == 0
    published = {p.name: p.read_bytes() for p in (tmp_path / "out" / "2015-05").iterdir() if p.is_file()}
    days = sorted((tmp_path / "data" / "warehouse" / "sources" / "logs" / "parsed_logs").glob("2015-05-*.parquet"))
    before = {p.name: p.read_bytes() for p in days}
    done = run(tmp_path, logs, "--format", "jsonl", now=AFTER_THE_LAST_LINE)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "10,000 of 10,000 lines rejected: invalid_json" in done.stderr
    assert "mostly rejected: apache_logs: " in done.stdout and "\n  apache_logs: " in done.stderr  # the file is named
    assert "nothing was published" in done.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "out" / "2015-05").iterdir() if p.is_file()} == published
    assert len(before) == 21 and {p.name: p.read_bytes() for p in days} == before  # the days to the 21st as the good run wrote them


def test_a_format_that_does_not_exist_is_one_line(tmp_path):
    done = run(tmp_path, real_logs(tmp_path), "--format", "apache")
    assert done.returncode == 2 and "format" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_hostile_corpus_beside_the_real_log_names_every_bad_file_and_loses_no_line(tmp_path):
    logs = real_logs(tmp_path)
    shutil.copytree(ROOT / "tests" / "data" / "hostile", logs / "hostile")
    os.mkfifo(logs / "hostile" / "a-fifo")  # must never be opened: opening a FIFO blocks
    done = run(tmp_path, logs, now=AFTER_THE_LAST_LINE)
    assert done.returncode == 0, done.stdout + done.stderr
    for name, status in (("truncated.log.gz", "salvaged"), ("corrupt.log.gz", "salvaged"), ("garbage.bin", "skipped"),
                         ("image.png", "skipped"), ("old-logs.tar.gz", "skipped"), ("empty.log", "skipped"),
                         ("a-fifo", "skipped")):
        assert f"{status}: hostile/{name}: " in done.stdout, (name, done.stdout)
    assert "duplicate: hostile/access.log.1.gz: same content as hostile/access.log.1, read once" in done.stdout
    found = re.search(r"([\d,]+) lines: ([\d,]+) rows, ([\d,]+) quarantined, ([\d,]+) blank", done.stdout)
    lines, rows, quarantined, blank = (int(g.replace(",", "")) for g in found.groups())
    assert lines == rows + quarantined + blank
    unplaced = re.search(r"([\d,]+) in no day", done.stdout)
    outside = re.search(r"([\d,]+) outside the partitions", done.stdout)
    missing = sum(int(m.group(1).replace(",", "")) for m in (unplaced, outside) if m)
    quality = json.loads((tmp_path / "out" / "2015-05" / "compliance.json").read_text())["data_quality"]
    assert quality["rows"] + quality["quarantined_lines"] + missing == rows + quarantined  # every line in one place


def test_a_closed_month_the_logs_hold_no_line_of_exits_2_naming_the_month_they_hold(tmp_path):
    """--month 2015-06 on May's log ran the month, wrote empty outputs and exited 0; the hint was buried."""
    done = run(tmp_path, real_logs(tmp_path), month="2015-06", now=AFTER_THE_LAST_LINE.replace("05-21", "07-02"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines()[0] == ("slo-assets run: --month 2015-06: the logs hold no line of it; they hold 2015-05-17 .. "
                                           "2015-05-20 (4 day(s) with lines): did you mean --month 2015-05?")
    assert "nothing was published" in done.stderr and not (tmp_path / "out" / "2015-06").exists()
