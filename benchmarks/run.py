"""End-to-end benchmark: the user's own command against a hand-written DuckDB script and `cat`.

    .venv/bin/python benchmarks/run.py [--cases jsonl:2000000,jsonl:6000000,combined:3000000] [--repeat 1]

For each month (generated once, cached in ~/.cache/slo-assets/bench, 31 days of October 2026):
- `cat` of its files to /dev/null: the floor (page cache);
- benchmarks/duckdb_month.py: per-minute counts and daily exact quantiles in DuckDB (the baseline);
- `slo-assets run --spec examples/slos.yaml --month 2026-10`: a fresh process, a fresh instance
  (its own DAGSTER_HOME with deploy/dagster.yaml) and a fresh warehouse, outputs included.
Each in a fresh process, in turn, medians over --repeat. Then where the user's time went, read from
the runs the command left in its instance: start-up and imports, the file index (parse), the days
(parsed_logs, sli_minutely), the monthly chain, the outputs, and Dagster's own bookkeeping (a run's
wall time outside its steps).
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


def run_slo_assets(logs: Path, scratch: Path, breakdowns: list[dict]) -> tuple[float, int | None]:
    home = scratch / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "SLO_ASSETS_NOW": "2026-11-15T00:00:00Z",
           "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1"}
    seconds, peak, _ = timed([str(SLO_ASSETS), "run", "--logs", str(logs), "--spec", str(ROOT / "examples" / "slos.yaml"),
                              "--month", ingest.MONTH, "--out", str(scratch / "out"), "--warehouse", str(scratch / "warehouse")], env)
    breakdowns.append(breakdown(home, seconds))
    return seconds, peak


def breakdown(home: Path, total: float) -> dict:
    """Seconds per stage from the runs in `home`'s instance (their steps' start and end times)."""
    code = (
        "import json, dagster as dg\n"
        "i = dg.DagsterInstance.get()\n"
        "out = []\n"
        "for r in i.get_run_records():\n"
        "    steps = [(s.step_key, s.start_time, s.end_time) for s in i.get_run_step_stats(r.dagster_run.run_id)]\n"
        "    out.append({'start': r.start_time, 'end': r.end_time, 'steps': steps})\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "DAGSTER_HOME": str(home)})
    import json

    runs = json.loads(done.stdout.strip().splitlines()[-1])
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
    figures["start-up"] = max(0.0, total - in_runs)
    figures["runs"] = len(runs)
    return figures


def measure(fmt: str, events: int, repeat: int) -> dict:
    logs = ingest.ensure_month(fmt, events)
    results: dict[str, list[tuple[float, int | None]]] = {"cat": [], "duckdb": [], "slo-assets": []}
    breakdowns: list[dict] = []
    for _ in range(repeat):
        for engine in results:
            with tempfile.TemporaryDirectory(prefix="slo-bench-run-") as tmp:
                scratch = Path(tmp)
                if engine == "cat":
                    results[engine].append(run_cat(logs, scratch))
                elif engine == "duckdb":
                    results[engine].append(run_duckdb(logs, scratch, fmt, events))
                else:
                    results[engine].append(run_slo_assets(logs, scratch, breakdowns))
    median = {engine: statistics.median(s for s, _ in runs) for engine, runs in results.items()}
    peaks = {engine: max((p for _, p in runs if p is not None), default=None) for engine, runs in results.items()}
    parts = {key: statistics.median(b[key] for b in breakdowns) for key in breakdowns[0]}
    return {"fmt": fmt, "events": events, "median": median, "peak": peaks, "parts": parts,
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
    print("\nwhere slo-assets' time went (seconds, medians):")
    keys = ["start-up", "parse (index)", "days", "chain", "outputs", "bookkeeping", "runs"]
    print(f"{'month':<18} " + " ".join(f"{k[:14]:>15}" for k in keys))
    for row in rows:
        print(f"{row['fmt'] + ' ' + format(row['events'], ','):<18} " + " ".join(f"{row['parts'][k]:>15.1f}" for k in keys))
    print("\nx duckdb = slo-assets seconds / DuckDB script seconds (lower is better; the target is the most allowed).")


if __name__ == "__main__":
    main()
