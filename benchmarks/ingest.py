"""Ingest benchmark: parse a month of logs into daily Parquet, against DuckDB and `cat` in the same run.

    .venv/bin/python benchmarks/ingest.py [--jsonl-events 6000000] [--combined-events 3000000] [--repeat 3]
        [--formats jsonl,combined] [--before DIR_WITH_OLD_slo_assets]

Months are generated once (uncompressed, like the baselines in PERF-NOTES.md) and cached outside
the repository (default ~/.cache/slo-assets/bench). Each measurement runs in a fresh process, so
peak RSS is that engine's alone. slo-assets runs exactly the code path of the log_file_index and
parsed_logs assets (staging, day assembly, atomic Parquet writes) without Dagster's per-run
overhead; DuckDB reads the same files with read_json/read_csv + regexp and writes the same columns
to per-day Parquet, without line numbers, validation or quarantine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MONTH = "2026-10"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "slo-assets" / "bench"


def ensure_month(fmt: str, events: int) -> Path:
    from slo_assets.ingest.generate import write_logs

    folder = CACHE / f"{fmt}-{events}"
    if not (folder / "_truth.json").exists():
        print(f"generating {events} {fmt} events in {folder} (once) ...", file=sys.stderr, flush=True)
        shutil.rmtree(folder, ignore_errors=True)
        write_logs(folder, MONTH, events, fmt, seed=2026, compress_rotated=False)
    return folder


def log_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.iterdir() if p.name.startswith("access"))


# ----------------------------------------------------------------- workers (one per process)


def work_slo_assets(logs: Path, out: Path) -> int:
    from slo_assets.ingest.config import ParseConfig
    from slo_assets.ingest.generate import month_bounds
    from slo_assets.ingest.index import DAY_MS, assemble_day, build_index
    from slo_assets.warehouse.storage import Warehouse

    store = Warehouse(out)
    build = build_index(logs, out / "_staging", ParseConfig())
    store.write_table(store.path("log_file_index.parquet"), build.index.to_arrow())
    start, end = month_bounds(MONTH)
    rows = 0
    for day_ms in range(int(start.timestamp() * 1000), int(end.timestamp() * 1000), DAY_MS):
        day = assemble_day(build.index, out / "_staging", day_ms)
        key = time.strftime("%Y-%m-%d", time.gmtime(day_ms / 1000))
        store.write_table(store.path("parsed_logs", f"{key}.parquet"), day.rows)
        store.write_table(store.path("quarantine", f"{key}.parquet"), day.quarantine)
        rows += day.rows.num_rows
    return rows


COMBINED_DUCKDB_REGEX = (
    r'^(\S+) \S+ \S+ \[([^\]]*)\] "([A-Za-z]+) ([^ "]*)[^"]*" (\d+) (\S+)(?: "(?:[^"\\]|\\.)*")*(?: ([0-9.]+))?'
)


def work_duckdb(logs: Path, out: Path, fmt: str) -> int:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = log_files(logs)
    if fmt == "jsonl":
        source = f"""
            SELECT ts::TIMESTAMPTZ AS ts, service,
                   method || ' ' || regexp_replace(path, '/[0-9]+', '/{{id}}', 'g') AS operation,
                   method, path, status::INTEGER AS status, duration_ms, filename AS source_file
            FROM read_json({files!r}, format='newline_delimited', filename=true,
                 columns={{ts: 'VARCHAR', service: 'VARCHAR', method: 'VARCHAR', path: 'VARCHAR', status: 'BIGINT', duration_ms: 'DOUBLE'}})"""
    else:
        source = f"""
            WITH m AS (
              SELECT regexp_extract(line, '{COMBINED_DUCKDB_REGEX}', ['client', 'time', 'method', 'path', 'status', 'bytes', 'rt']) AS g,
                     filename
              FROM read_csv({files!r}, columns={{'line': 'VARCHAR'}}, delim=E'\\x01', quote='', escape='', header=false,
                            auto_detect=false, filename=true))
            SELECT strptime(g.time, '%d/%b/%Y:%H:%M:%S %z') AS ts,
                   regexp_extract(g.path, '^/([^/?#]+)/', 1) AS service,
                   g.method || ' ' || regexp_replace(g.path, '/[0-9]+', '/{{id}}', 'g') AS operation,
                   g.method AS method, g.path AS path, TRY_CAST(g.status AS INTEGER) AS status,
                   TRY_CAST(g.rt AS DOUBLE) * 1000 AS duration_ms, filename AS source_file
            FROM m"""
    con.execute(f"""
        COPY (SELECT *, ts::DATE AS day FROM ({source}))
        TO '{out / 'parsed_logs'}' (FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd, OVERWRITE_OR_IGNORE)""")
    return con.execute(f"SELECT count(*) FROM read_parquet('{out / 'parsed_logs'}/*/*.parquet')").fetchone()[0]


def work_cat(logs: Path) -> int:
    subprocess.run(["cat", *log_files(logs)], stdout=subprocess.DEVNULL, check=True)
    return 0


def worker(engine: str, fmt: str, logs: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="slo-bench-") as tmp:
        out = Path(tmp)
        tree = TreePeak()
        started = time.perf_counter()
        if engine == "slo-assets":
            rows = work_slo_assets(logs, out)
        elif engine == "duckdb":
            rows = work_duckdb(logs, out, fmt)
        else:
            rows = work_cat(logs)
        seconds = time.perf_counter() - started
        tree.stop()
        size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mib": peak_rss_kib() / 1024,
                      "tree_peak_mib": max(tree.peak_kib, peak_rss_kib()) / 1024, "parquet_mib": size / 2**20,
                      "cpu_seconds": sum(u.ru_utime + u.ru_stime for u in usage)}))


class TreePeak:
    """Peak of the summed RSS of this process and its children (worker processes that stage files),
    sampled every 20 ms: VmHWM alone misses memory held in child processes."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.peak_kib = 0
        self._done = threading.Event()
        self._me = psutil.Process()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._done.wait(0.02):
            total = 0
            for process in [self._me, *self._me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_kib = max(self.peak_kib, total // 1024)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def peak_rss_kib() -> int:
    """This process's peak RSS. Not ru_maxrss: on Linux that survives exec, so a worker forked from a
    big parent would report the parent's peak; VmHWM belongs to this address space only."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ----------------------------------------------------------------- driver


def measure(engine: str, fmt: str, logs: Path, code: Path | None = None) -> dict:
    command = [sys.executable, __file__, "--worker", engine, "--format", fmt, "--logs", str(logs)]
    env = None
    if code is not None and engine == "slo-assets":  # another checkout's slo_assets, e.g. the code before a change
        env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{engine} on {fmt} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsonl-events", type=int, default=6_000_000)
    parser.add_argument("--combined-events", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine; the median is reported")
    parser.add_argument("--before", type=Path, help="a folder holding another version's slo_assets package, "
                        "measured in the same invocation as 'before' (e.g. from git archive of the base commit)")
    parser.add_argument("--formats", default="jsonl,combined", help="comma-separated: jsonl, combined")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--logs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.format, Path(args.logs))
        return

    rows = []
    engines = {"cat": None, "duckdb": None, "slo-assets": None}
    if args.before:
        engines = {"cat": None, "duckdb": None, "before": args.before.resolve(), "slo-assets": None}
    sizes = {"jsonl": args.jsonl_events, "combined": args.combined_events}
    for fmt in args.formats.split(","):
        events = sizes[fmt]
        logs = ensure_month(fmt, events)
        raw_mib = sum(Path(f).stat().st_size for f in log_files(logs)) / 2**20
        runs: dict[str, list[dict]] = {engine: [] for engine in engines}
        for _ in range(args.repeat):  # interleaved, so a noisy neighbour spreads over every engine
            for engine, code in engines.items():
                runs[engine].append(measure("slo-assets" if engine == "before" else engine, fmt, logs, code))
        results = {engine: sorted(found, key=lambda r: r["seconds"])[len(found) // 2] for engine, found in runs.items()}
        base = results["duckdb"]["seconds"]
        for engine, result in results.items():
            rows.append((fmt, events, raw_mib, engine, result, base / result["seconds"]))
        for engine in ("before", "slo-assets"):
            if engine in results and results[engine]["rows"] != events:
                raise SystemExit(f"{engine} wrote {results[engine]['rows']} rows for {events} events")

    print(f"\n{'format':<9} {'events':>10} {'MiB':>6}  {'engine':<11} {'seconds':>8} {'events/s':>11} {'cpu s':>6} "
          f"{'peak RSS':>10} {'tree peak':>10} {'parquet':>9}  speed vs duckdb")
    for fmt, events, raw_mib, engine, result, ratio in rows:
        rate = events / result["seconds"]
        print(f"{fmt:<9} {events:>10} {raw_mib:>6.0f}  {engine:<11} {result['seconds']:>8.2f} {rate / 1e6:>10.2f}M "
              f"{result['cpu_seconds']:>6.1f} {result['peak_rss_mib']:>7.0f} MiB {result['tree_peak_mib']:>7.0f} MiB "
              f"{result['parquet_mib']:>5.0f} MiB  {ratio:>6.2f}x")
    print("\nspeed vs duckdb = duckdb seconds / engine seconds (>= 1.0: at least as fast as DuckDB); medians of "
          f"{args.repeat} interleaved runs. peak RSS: the engine's process (VmHWM); tree peak: with its worker "
          "processes (sampled). cpu s: user+system of the process and its children.")


if __name__ == "__main__":
    main()
