"""End-to-end benchmark: the user's own command against a hand-written DuckDB script and `cat`.

    .venv/bin/python benchmarks/run.py [--cases jsonl:2000000,jsonl:6000000,combined:3000000] [--repeat 1]

For each month (generated once, cached in ~/.cache/slo-assets/bench, 31 days of October 2026):
- `cat` of its files to /dev/null: the floor (page cache);
- benchmarks/duckdb_month.py: per-minute counts and daily exact quantiles in DuckDB (the baseline);
- `slo-assets run --spec examples/slos.yaml --month 2026-10`: a fresh process, a fresh instance
  (its own DAGSTER_HOME with the project's dagster.yaml) and a fresh warehouse, outputs included.
Each in a fresh process, in turn, medians over --repeat. Then the same command again, in a fresh
process on the same instance, warehouse and unchanged logs: the month's report from parsed partitions
(the days are fresh, so only the index observation and the monthly chain run; target under 30 s).
Then where the user's time went in each, read from the runs the command left in its instance:
start-up and imports (and, after the last run, copying the outputs), the file index (parse), the
days (parsed_logs, sli_minutely), the monthly chain, the outputs, Dagster's own bookkeeping (a run's
wall time outside its steps), and the time between runs (the index summary, deciding which days
are stale, launching the next run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SLO_ASSETS = Path(sys.executable).with_name("slo-assets")
TARGETS = {("jsonl", 2_000_000): 3.0, ("jsonl", 6_000_000): 2.0, ("combined", 3_000_000): 2.0}
RERUN_TARGET_SECONDS = 30.0  # the month's report again from parsed partitions, logs unchanged
STAGES = {"log_file_index": "parse (index)", "slo_specs": "parse (index)", "parsed_logs": "days", "sli_minutely": "days",
          "report_html": "outputs", "prometheus_exposition": "outputs", "alert_rules": "outputs"}


def timed(command: list[str], env: dict | None = None) -> tuple[float, int | None, str]:
    """Wall seconds, peak RSS (MiB, the largest process, when /usr/bin/time is there) and stdout."""
    wrapper = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    started = time.perf_counter()
    done = subprocess.run(wrapper + command, capture_output=True, text=True, env=env, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):  # `run` exits 1 when an SLO failed: the sample month has failures
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    peak = None
    if wrapper:
        last = done.stderr.strip().splitlines()[-1:]
        peak = int(last[0]) // 1024 if last and last[0].isdigit() else None
    return seconds, peak, done.stdout


def files_of(logs: Path) -> list[str]:
    return ingest.log_files(logs)


def run_cat(logs: Path, _scratch: Path) -> tuple[float, int | None]:
    seconds, peak, _ = timed(["sh", "-c", 'cat "$@" > /dev/null', "cat", *files_of(logs)])
    return seconds, peak


def run_duckdb(logs: Path, scratch: Path, fmt: str, events: int) -> tuple[float, int | None]:
    out = scratch / "duckdb"
    seconds, peak, printed = timed([sys.executable, str(Path(__file__).with_name("duckdb_month.py")), fmt, str(out), *files_of(logs)])
    if int(printed.strip().splitlines()[-1]) != events:  # a baseline that dropped lines would flatter it
        sys.exit(f"the DuckDB script counted {printed.strip()} requests, not {events}")
    shutil.rmtree(out, ignore_errors=True)
    return seconds, peak


def run_slo_assets(logs: Path, scratch: Path, breakdowns: list[dict], again: list[tuple[float, dict]]) -> tuple[float, int | None]:
    """`slo-assets run` on a fresh instance and warehouse, then once more with the logs unchanged
    (its seconds and breakdown appended to `again`)."""
    home = scratch / "home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "SLO_ASSETS_NOW": "2026-11-15T00:00:00Z",
           "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1"}
    command = [str(SLO_ASSETS), "run", "--logs", str(logs), "--spec", str(ROOT / "examples" / "slos.yaml"),
               "--month", ingest.MONTH, "--out", str(scratch / "out"), "--warehouse", str(scratch / "warehouse")]
    seconds, peak, _ = timed(command, env)
    first = run_records(home)
    breakdowns.append(breakdown(first, seconds))
    rerun_seconds, _, printed = timed(command, env)
    if "unchanged since their last run" not in printed:  # the point of the second run: no day is parsed again
        sys.exit(f"the second run parsed days again:\n{printed[-2000:]}")
    seen = {run["id"] for run in first}
    again.append((rerun_seconds, breakdown([run for run in run_records(home) if run["id"] not in seen], rerun_seconds)))
    return seconds, peak


def run_records(home: Path) -> list[dict]:
    """The runs in `home`'s instance: id, start, end and their steps' start and end times."""
    code = (
        "import json, dagster as dg\n"
        "i = dg.DagsterInstance.get()\n"
        "out = []\n"
        "for r in i.get_run_records():\n"
        "    steps = [(s.step_key, s.start_time, s.end_time) for s in i.get_run_step_stats(r.dagster_run.run_id)]\n"
        "    out.append({'id': r.dagster_run.run_id, 'start': r.start_time, 'end': r.end_time, 'steps': steps})\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "DAGSTER_HOME": str(home)})
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


def breakdown(runs: list[dict], total: float) -> dict:
    """Seconds per stage of one invocation of `total` seconds that made `runs`."""
    figures = {"parse (index)": 0.0, "days": 0.0, "chain": 0.0, "outputs": 0.0, "bookkeeping": 0.0}
    in_runs = 0.0
    for run in runs:
        wall = (run["end"] or 0) - (run["start"] or 0)
        in_runs += wall
        steps = 0.0
        for key, start, end in run["steps"]:
            if start is None or end is None:
                continue
            stage = STAGES.get(key.split(".")[0].split("[")[0], "chain")
            figures[stage] += end - start
            steps += end - start
        figures["bookkeeping"] += max(0.0, wall - steps)
    span = max(run["end"] or 0 for run in runs) - min(run["start"] or 0 for run in runs) if runs else 0.0
    figures["between runs"] = max(0.0, span - in_runs)
    figures["start-up"] = max(0.0, total - span)
    figures["runs"] = len(runs)
    return figures


def measure(fmt: str, events: int, repeat: int) -> dict:
    logs = ingest.ensure_month(fmt, events)
    results: dict[str, list[tuple[float, int | None]]] = {"cat": [], "duckdb": [], "slo-assets": []}
    breakdowns: list[dict] = []
    again: list[tuple[float, dict]] = []
    for _ in range(repeat):
        for engine in results:
            with tempfile.TemporaryDirectory(prefix="slo-bench-run-") as tmp:
                scratch = Path(tmp)
                if engine == "cat":
                    results[engine].append(run_cat(logs, scratch))
                elif engine == "duckdb":
                    results[engine].append(run_duckdb(logs, scratch, fmt, events))
                else:
                    results[engine].append(run_slo_assets(logs, scratch, breakdowns, again))
    median = {engine: statistics.median(s for s, _ in runs) for engine, runs in results.items()}
    peaks = {engine: max((p for _, p in runs if p is not None), default=None) for engine, runs in results.items()}
    parts = {key: statistics.median(b[key] for b in breakdowns) for key in breakdowns[0]}
    rerun_parts = {key: statistics.median(b[key] for _, b in again) for key in again[0][1]}
    return {"fmt": fmt, "events": events, "median": median, "peak": peaks, "parts": parts,
            "rerun": statistics.median(s for s, _ in again), "rerun_parts": rerun_parts,
            "mib": sum(Path(f).stat().st_size for f in files_of(logs)) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="jsonl:2000000,jsonl:6000000,combined:3000000")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rows = [measure(fmt, int(events), args.repeat) for fmt, events in (case.split(":") for case in args.cases.split(","))]

    print(f"\n{'month':<18} {'MiB':>5} {'cat s':>7} {'duckdb s':>9} {'slo-assets s':>13} {'x duckdb':>9} {'target':>7} "
          f"{'peak RSS':>9}  met")
    for row in rows:
        ratio = row["median"]["slo-assets"] / row["median"]["duckdb"]
        target = TARGETS.get((row["fmt"], row["events"]))
        peak = row["peak"]["slo-assets"]
        print(f"{row['fmt'] + ' ' + format(row['events'], ','):<18} {row['mib']:>5.0f} {row['median']['cat']:>7.2f} "
              f"{row['median']['duckdb']:>9.2f} {row['median']['slo-assets']:>13.2f} {ratio:>8.1f}x "
              f"{(f'{target:.0f}x' if target else '-'):>7} {(f'{peak} MiB' if peak else '-'):>9}  "
              f"{'-' if target is None else ('yes' if ratio <= target else 'no')}")
    print(f"\nthe month's report again from parsed partitions (the same command, logs unchanged; target under "
          f"{RERUN_TARGET_SECONDS:.0f} s):")
    print(f"{'month':<18} {'first run s':>12} {'again s':>8} {'x duckdb':>9}  met")
    for row in rows:
        gap = row["rerun"] - RERUN_TARGET_SECONDS
        largest = max(("start-up", "parse (index)", "days", "chain", "outputs", "bookkeeping", "between runs"),
                      key=lambda k: row["rerun_parts"][k])
        print(f"{row['fmt'] + ' ' + format(row['events'], ','):<18} {row['median']['slo-assets']:>12.2f} {row['rerun']:>8.2f} "
              f"{row['rerun'] / row['median']['duckdb']:>8.1f}x  "
              + ("yes" if gap < 0 else f"no: {gap:.1f} s over, most in {largest} ({row['rerun_parts'][largest]:.1f} s)"))
    print("\nwhere slo-assets' time went (seconds, medians; the first run, then again):")
    keys = ["start-up", "parse (index)", "days", "chain", "outputs", "bookkeeping", "between runs", "runs"]
    print(f"{'month':<24} " + " ".join(f"{k[:14]:>14}" for k in keys))
    for row in rows:
        for label, parts in (("", row["parts"]), (" again", row["rerun_parts"])):
            print(f"{row['fmt'] + ' ' + format(row['events'], ',') + label:<24} " + " ".join(f"{parts[k]:>14.1f}" for k in keys))
    print("\nx duckdb = slo-assets seconds / DuckDB script seconds (lower is better; the target is the most allowed).")


if __name__ == "__main__":
    main()
