"""Many-events benchmark: the monthly chain of a 30M-event month in bounded memory, beside today's code.

    .venv/bin/python benchmarks/many_events.py [--events 30000000] [--baseline-events 6000000]
                                               [--baseline-rev ea20ce2] [--repeat 3] [--run]

The month (31 days of October 2026, JSONL) is generated with slo_assets.ingest.generate.write_logs and
parsed with the ingest core once, then each day's SLI inputs (sli_minutely, sli_latency,
sli_operations: what the daily asset writes) are built once; all of it is cached in
~/.cache/slo-assets/bench (30M events: about 5 GB of logs, 1.5 GB parsed; with less than 12 GB free
the benchmark takes 15M events and says so).

Each measurement runs in a fresh process and reports its own peak RSS (VmHWM):
- monthly: the code path of the assets sli_metrics, sli_operations_monthly, sli_latency_monthly,
  slo_targets, error_budgets/window_evaluations/budget_series and compliance_report, without
  Dagster, over the month's day files;
- baseline: the same with today's code (`git archive --baseline-rev`, run from a temporary copy), at
  --baseline-events (it loads the month's latency value counts whole: 846 MiB at 6M);
- daily: the daily asset's day_inputs on the month's biggest day.
The new code at the baseline's size must give the same metrics, targets and sli_latency_monthly
bytes as the baseline: the benchmark stops if not. With --run it also times `slo-assets run` (fresh
DAGSTER_HOME, ingest included) and samples the RSS of its whole process tree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest  # noqa: E402  (month generation, the cache folder and the peak-RSS probe)

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "slos.yaml"
MONTH = ingest.MONTH
TARGET_MIB = 1536
FREE_BYTES_FOR_30M = 12 * 2**30


def _days() -> list[str]:
    from slo_assets.core.calendar import month_days

    return month_days(MONTH)


def ensure_sli(events: int) -> Path:
    """The month's SLI day files, as the daily asset writes them, built once from the parsed days."""
    import chain  # benchmarks/chain.py: parsed partitions, cached

    parsed = chain.ensure_parsed(events)
    folder = ingest.CACHE / f"sli-jsonl-{events}"
    if (folder / "done").exists():
        return folder
    import polars as pl

    from slo_assets.openslo.spec import load_specs
    from slo_assets.slo.sli import day_inputs, needed_columns
    from slo_assets.warehouse import layout
    from slo_assets.warehouse.storage import Warehouse

    print(f"building the SLI day files of {parsed} in {folder} (once) ...", file=sys.stderr, flush=True)
    specs, store = load_specs([SPEC]), Warehouse(folder)
    for day in _days():
        rows = pl.read_parquet(parsed / "parsed_logs" / f"{day}.parquet", columns=needed_columns(specs.slos))
        inputs = day_inputs(rows, specs.slos)
        for dataset, frame in ((layout.SLI_MINUTELY, inputs.minutes), (layout.SLI_LATENCY, inputs.latency),
                               (layout.SLI_OPERATIONS, inputs.operations)):
            store.write_table(dataset.path(store, day), frame.to_arrow())
    (folder / "done").write_text("ok")
    return folder


# ----------------------------------------------------------------- workers (one per process)


def _read_days(store, dataset, days, schema):
    """defs.warehouse_io.read_days without importing Dagster: the day files concatenated."""
    import polars as pl

    files = [str(dataset.path(store, d)) for d in days if dataset.path(store, d).exists()]
    return (pl.read_parquet(files) if files else pl.DataFrame(schema=schema)), [d for d in days if dataset.path(store, d).exists()]


def work_monthly(sli: Path, out: Path, today: bool) -> dict:
    """The monthly assets' code path; `today`: as the code before bounded-memory quantiles did it."""
    import polars as pl

    from slo_assets.openslo.spec import load_specs
    from slo_assets.slo import chain as C
    from slo_assets.slo.evaluation import dump_evaluations
    from slo_assets.slo.sli import LATENCY_SCHEMA, MINUTE_SCHEMA, OPERATION_SCHEMA
    from slo_assets.warehouse import layout
    from slo_assets.warehouse.storage import Warehouse

    specs, store, target = load_specs([SPEC]), Warehouse(sli), Warehouse(out)
    days, settings = _days(), C.Settings()
    sizes = {}
    # sli_metrics (+ sli_operations_monthly, sli_latency_monthly)
    minutes, present = _read_days(store, layout.SLI_MINUTELY, days, MINUTE_SCHEMA)
    operations, _ = _read_days(store, layout.SLI_OPERATIONS, days, OPERATION_SCHEMA)
    sizes.update(minutes_mib=minutes.estimated_size() / 2**20, operations_mib=operations.estimated_size() / 2**20)
    start, end = C.month_range_ms(MONTH)
    period = C.Period(MONTH, start, end, min(end, C.day_start_ms(max(present)) + C.DAY_MS))
    latency_slos = [s.name for s in specs.slos if s.indicator.kind() == "latency"]
    monthly_path = layout.SLI_LATENCY_MONTHLY.path(target, MONTH)
    if today:
        latency, _ = _read_days(store, layout.SLI_LATENCY, days, LATENCY_SCHEMA)
        sizes["latency_mib"] = latency.estimated_size() / 2**20
        metrics, by_operation = C.sli_metrics(specs, minutes, latency, operations, period, settings)
        _, latency_digest = target.write_table(monthly_path, latency.filter(pl.col("slo").is_in(latency_slos)).to_arrow())
        del latency
    else:
        from slo_assets.slo.quantiles import day_sources, write_value_counts

        latency_files = [layout.SLI_LATENCY.path(store, d) for d in days]
        metrics, by_operation = C.sli_metrics(specs, minutes, day_sources(store, latency_files), operations, period, settings)
        _, latency_digest, _ = write_value_counts(target, monthly_path, latency_files, latency_slos)
    target.write_table(layout.SLI_METRICS.path(target, MONTH), metrics.to_arrow())
    target.write_table(layout.SLI_OPERATIONS_MONTHLY.path(target, MONTH), by_operation.to_arrow())
    # slo_targets
    history = metrics.select("slo", "good", "total").with_columns(pl.lit(MONTH).alias("month"))
    if today:
        targets = C.recommend_targets(specs, history, pl.read_parquet(str(monthly_path)))
    else:
        targets = C.recommend_targets(specs, history, day_sources(target, [monthly_path]))
    target.write_table(layout.SLO_TARGETS.path(target, MONTH), targets.to_arrow())
    # error_budgets, window_evaluations, budget_series (the previous month has no data here)
    evaluations, series = C.evaluate_with_series(specs, minutes, period, settings)
    target.write_bytes_atomic(layout.WINDOW_EVALUATIONS.path(target, MONTH), dump_evaluations(evaluations))
    target.write_table(layout.BUDGET_SERIES.path(target, MONTH), series.to_arrow())
    provenance = {"spec_hash": specs.content_hash}
    target.write_bytes_atomic(layout.ERROR_BUDGETS.path(target, MONTH),
                              json.dumps(C.error_budgets_document(evaluations, period, provenance)).encode())
    # compliance_report
    document = C.compliance(evaluations, {}, period, {}, provenance, [])
    target.write_bytes_atomic(layout.COMPLIANCE_REPORT.path(target, MONTH), json.dumps(document).encode())
    quantile_columns = ["slo", "latency_samples", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "good", "total"]
    return {**sizes, "events": int(metrics["total"].sum()),
            "metrics": metrics.select(quantile_columns).rows(),
            "targets": targets.select("slo", "objective", "recommended_latency_threshold_ms", "recommended_target").rows(),
            "sli_latency_monthly_sha256": latency_digest, "failed": document["summary"]["failed"]}


def work_daily(sli: Path, parsed: Path) -> dict:
    """The daily asset's day_inputs on the month's biggest parsed day."""
    import polars as pl

    from slo_assets.openslo.spec import load_specs
    from slo_assets.slo.sli import day_inputs, needed_columns, selected_counts

    specs = load_specs([SPEC])
    biggest = max((parsed / "parsed_logs").glob("*.parquet"), key=lambda p: p.stat().st_size)
    rows = pl.read_parquet(biggest, columns=needed_columns(specs.slos))
    inputs = day_inputs(rows, specs.slos)
    selected_counts(rows, specs.slos)
    return {"day": biggest.stem, "rows": rows.height, "latency_rows": inputs.latency.height}


def worker(kind: str, sli: Path, parsed: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="slo-many-") as tmp:
        started = time.perf_counter()
        result = work_daily(sli, parsed) if kind == "daily" else work_monthly(sli, Path(tmp), today=kind == "baseline")
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_rss_mib": ingest.peak_rss_kib() / 1024, **result}))


# ----------------------------------------------------------------- driver


def baseline_tree(rev: str) -> Path:
    """Today's code: slo_assets at `rev`, extracted once into the cache."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", rev], capture_output=True, text=True, check=True).stdout.strip()
    folder = ingest.CACHE / f"code-{commit[:12]}"
    if not (folder / "slo_assets").exists():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "slo_assets"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(kind: str, events: int, code: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code), "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1"}
    command = [sys.executable, __file__, "--worker", kind, "--sli", str(ingest.CACHE / f"sli-jsonl-{events}"),
               "--parsed", str(ingest.CACHE / f"parsed-jsonl-{events}")]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{kind} at {events} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_run(kind: str, events: int, code: Path, repeat: int) -> dict:
    runs = [measure(kind, events, code) for _ in range(repeat)]
    middle = sorted(runs, key=lambda r: r["peak_rss_mib"])[len(runs) // 2]
    return {**middle, "seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs)}


def run_whole(events: int) -> dict:
    """`slo-assets run` on the month's logs, fresh DAGSTER_HOME and warehouse; peak RSS of the process tree."""
    import psutil

    logs = ingest.ensure_month("jsonl", events)
    with tempfile.TemporaryDirectory(prefix="slo-run-") as tmp:
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        env = {**os.environ, "DAGSTER_HOME": str(home), "SLO_ASSETS_NOW": "2026-11-15T00:00:00Z", "PYTHONPATH": str(ROOT),
               "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1"}
        command = [sys.executable, "-m", "slo_assets.cli", "run", "--spec", str(SPEC), "--month", MONTH, "--logs", str(logs),
                   "--out", str(Path(tmp) / "out"), "--warehouse", str(Path(tmp) / "wh")]
        started = time.perf_counter()
        process = psutil.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peaks = {"tree": 0, "single": 0}

        def sample() -> None:
            while process.poll() is None:
                try:
                    tree = [process, *process.children(recursive=True)]
                    rss = [p.memory_info().rss for p in tree if p.is_running()]
                except psutil.Error:
                    continue
                peaks["tree"], peaks["single"] = max(peaks["tree"], sum(rss)), max(peaks["single"], max(rss, default=0))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, stderr = process.communicate()
        sampler.join()
        seconds = time.perf_counter() - started
        if process.returncode not in (0, 3):
            raise SystemExit(f"slo-assets run failed ({process.returncode}):\n{stderr[-4000:]}")
    return {"seconds": seconds, "tree_mib": peaks["tree"] / 2**20, "single_mib": peaks["single"] / 2**20}


def same_results(a: dict, b: dict) -> list[str]:
    keys = ("metrics", "targets", "sli_latency_monthly_sha256", "failed")
    return [k for k in keys if json.dumps(a[k]) != json.dumps(b[k])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000_000)
    parser.add_argument("--baseline-events", type=int, default=6_000_000)
    parser.add_argument("--baseline-rev", default="ea20ce2", help="today's code: the commit before bounded-memory quantiles")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are reported")
    parser.add_argument("--today-at-events", action="store_true", help="also run today's code at --events (several GB)")
    parser.add_argument("--run", action="store_true", help="also time the whole `slo-assets run` at --events")
    parser.add_argument("--run-only", action="store_true", help="only time the whole `slo-assets run` at --events")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sli", help=argparse.SUPPRESS)
    parser.add_argument("--parsed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, Path(args.sli), Path(args.parsed))
        return

    events = args.events
    cached = (ingest.CACHE / f"jsonl-{events}" / "_truth.json").exists()
    if not cached and shutil.disk_usage(ingest.CACHE.parent if ingest.CACHE.parent.exists() else Path.home()).free < FREE_BYTES_FOR_30M:
        events = min(events, 15_000_000)
        print(f"less than {FREE_BYTES_FOR_30M / 2**30:.0f} GB free: measuring {events} events instead of {args.events}", file=sys.stderr)
    if args.run_only:
        whole = run_whole(events)
        print(f"slo-assets run at {events} events: {whole['seconds']:.0f} s, peak RSS of the process tree "
              f"{whole['tree_mib']:.0f} MiB (largest process {whole['single_mib']:.0f} MiB; target <= {TARGET_MIB} MiB)")
        return
    for size in sorted({events, args.baseline_events}):
        ensure_sli(size)
    today, new = baseline_tree(args.baseline_rev), ROOT
    rows = [
        (f"today's code ({args.baseline_rev}), monthly chain", args.baseline_events,
         median_run("baseline", args.baseline_events, today, args.repeat)),
        ("bounded quantiles, monthly chain", args.baseline_events, median_run("monthly", args.baseline_events, new, args.repeat)),
        ("bounded quantiles, monthly chain", events, median_run("monthly", events, new, args.repeat)),
        ("daily asset's day_inputs, biggest day", events, median_run("daily", events, new, args.repeat)),
    ]
    if args.today_at_events:
        rows.append((f"today's code ({args.baseline_rev}), monthly chain", events, median_run("baseline", events, today, args.repeat)))
    different = same_results(rows[0][2], rows[1][2])
    if args.today_at_events:
        different += [f"{k} at {events}" for k in same_results(rows[4][2], rows[2][2])]
    if different:
        raise SystemExit(f"the bounded-memory chain differs from today's at {args.baseline_events} events: {different}")
    base = rows[0][2]["peak_rss_mib"]
    print(f"\n{'what':<48} {'events':>10} {'seconds':>8} {'peak RSS':>10} {'vs today@' + str(args.baseline_events // 10**6) + 'M':>12}")
    for label, size, result in rows:
        print(f"{label:<48} {size:>10} {result['seconds']:>8.2f} {result['peak_rss_mib']:>6.0f} MiB {result['peak_rss_mib'] / base:>11.2f}x")
    for label, size, result in [r for r in rows if "minutes_mib" in r[2]]:
        extra = f", latency frame {result['latency_mib']:.0f} MiB" if "latency_mib" in result else ""
        print(f"  {label} at {size}: month-wide frames sli_minutely {result['minutes_mib']:.1f} MiB, "
              f"sli_operations {result['operations_mib']:.1f} MiB{extra}")
    print(f"\nsame metrics, targets and sli_latency_monthly bytes as today's code at {args.baseline_events}: yes "
          f"(sha256 {rows[0][2]['sli_latency_monthly_sha256'][:16]})")
    monthly = rows[2][2]["peak_rss_mib"]
    print(f"monthly chain at {events} events: {monthly:.0f} MiB peak RSS (target <= {TARGET_MIB} MiB): "
          f"{'met' if monthly <= TARGET_MIB else 'NOT met'}")
    if args.run:
        whole = run_whole(events)
        print(f"slo-assets run at {events} events: {whole['seconds']:.0f} s, peak RSS of the process tree "
              f"{whole['tree_mib']:.0f} MiB (largest process {whole['single_mib']:.0f} MiB; target <= {TARGET_MIB} MiB)")
    digest = hashlib.sha256(json.dumps(rows[2][2]["metrics"]).encode()).hexdigest()[:16]
    print(f"metrics at {events} events: sha256 {digest}")


if __name__ == "__main__":
    main()
