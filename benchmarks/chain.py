"""Chain benchmark: parsed day partitions of a month to compliance, against one DuckDB SQL query.

    .venv/bin/python benchmarks/chain.py [--events 6000000]

Parsed partitions are built once with the ingest core from the month that benchmarks/ingest.py
generates, and cached outside the repository (~/.cache/slo-assets/bench). Each measurement runs in
a fresh process (peak RSS is its own):

- slo-assets: the code path of the assets sli_minutely (every day), sli_metrics, slo_targets,
  error_budgets and compliance_report, without Dagster's per-run overhead;
- DuckDB: one SQL query over the same Parquet computing the same aggregates (per SLO per minute
  good/total/5xx, exact p50/p95/p99 per SLO, per SLO per operation good/total), written to Parquet;
- month-to-date refresh: the day inputs of one new day plus the monthly chain, counting which
  parsed partitions it opens (must be that day's only).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest  # noqa: E402  (benchmarks/ingest.py: month generation and the peak-RSS probe)

MONTH = ingest.MONTH
SPEC = Path(__file__).resolve().parents[1] / "examples" / "slos.yaml"


def ensure_parsed(events: int) -> Path:
    from slo_assets.ingest.config import ParseConfig
    from slo_assets.ingest.index import DAY_MS, assemble_day, build_index
    from slo_assets.slo.chain import month_range_ms
    from slo_assets.warehouse.storage import Warehouse

    logs = ingest.ensure_month("jsonl", events)
    warehouse = ingest.CACHE / f"parsed-jsonl-{events}"
    if (warehouse / "done").exists():
        return warehouse
    print(f"parsing {logs} into {warehouse} (once) ...", file=sys.stderr, flush=True)
    store = Warehouse(warehouse)
    build = build_index(logs, warehouse / "_staging", ParseConfig())
    start, end = month_range_ms(MONTH)
    for day_ms in range(start, end, DAY_MS):
        day = assemble_day(build.index, warehouse / "_staging", day_ms)
        store.write_table(store.path("parsed_logs", f"{time.strftime('%Y-%m-%d', time.gmtime(day_ms / 1000))}.parquet"), day.rows)
    (warehouse / "done").write_text("ok")
    return warehouse


def _days() -> list[str]:
    from slo_assets.slo.chain import month_range_ms

    start, end = month_range_ms(MONTH)
    return [time.strftime("%Y-%m-%d", time.gmtime(ms / 1000)) for ms in range(start, end, 86_400_000)]


def run_chain(parsed: Path, out: Path, days: list[str], opened: list[str]) -> dict:
    """The assets' code path: day inputs for `days` (others already in `out`), then the month."""
    import polars as pl

    from slo_assets.openslo.spec import load_specs
    from slo_assets.slo import chain as C
    from slo_assets.slo.sli import LATENCY_SCHEMA, MINUTE_SCHEMA, OPERATION_SCHEMA, day_inputs, needed_columns
    from slo_assets.warehouse import layout
    from slo_assets.warehouse.storage import Warehouse

    specs = load_specs([SPEC])
    store = Warehouse(out)
    for day in days:
        source = parsed / "parsed_logs" / f"{day}.parquet"
        opened.append(source.name)
        inputs = day_inputs(pl.read_parquet(source, columns=needed_columns(specs.slos)), specs.slos)
        for name, frame in (("sli_minutely", inputs.minutes), ("sli_latency", inputs.latency), ("sli_operations", inputs.operations)):
            store.write_table(store.path(name, f"{day}.parquet"), frame.to_arrow())

    def read(name, schema):
        files = sorted((out / name).glob("*.parquet"))
        return pl.read_parquet([str(f) for f in files]) if files else pl.DataFrame(schema=schema)

    minutes, latency, operations = read("sli_minutely", MINUTE_SCHEMA), read("sli_latency", LATENCY_SCHEMA), read("sli_operations", OPERATION_SCHEMA)
    present = sorted(p.stem for p in (out / "sli_minutely").glob("*.parquet"))
    start, end = C.month_range_ms(MONTH)
    as_of = min(end, int(time.mktime(time.strptime(present[-1], "%Y-%m-%d")) - time.timezone) * 1000 + C.DAY_MS)
    period = C.Period(MONTH, start, end, as_of)
    settings = C.Settings()
    metrics, by_operation = C.sli_metrics(specs, minutes, latency, operations, period, settings)
    store.write_table(layout.SLI_METRICS.path(store, MONTH), metrics.to_arrow())
    store.write_table(layout.SLI_OPERATIONS_MONTHLY.path(store, MONTH), by_operation.to_arrow())
    latency_slos = [s.name for s in specs.slos if s.indicator.kind() == "latency"]
    merged = latency.filter(pl.col("slo").is_in(latency_slos))
    history = metrics.select("slo", "good", "total").with_columns(pl.lit(MONTH).alias("month"))
    targets = C.recommend_targets(specs, history, merged)
    store.write_table(layout.SLO_TARGETS.path(store, MONTH), targets.to_arrow())
    evaluations, series = C.evaluate_with_series(specs, minutes, period, settings)
    store.write_table(layout.BUDGET_SERIES.path(store, MONTH), series.to_arrow())
    provenance = {"spec_hash": specs.content_hash}
    store.write_bytes_atomic(layout.ERROR_BUDGETS.path(store, MONTH), json.dumps(C.error_budgets_document(evaluations, period, provenance)).encode())
    document = C.compliance(evaluations, {}, period, {}, provenance, [])
    store.write_bytes_atomic(layout.COMPLIANCE_REPORT.path(store, MONTH), json.dumps(document).encode())
    # the charts error_budgets and compliance_report attach to their Dagster metadata (timed apart:
    # presentation for the UI, like Dagster's own event writes, which this benchmark leaves out)
    started = time.perf_counter()
    from slo_assets.outputs import charts

    charts.burn_down_markdown(evaluations, series, end)
    charts.summary_markdown(evaluations)
    return {"windows": len(evaluations), "failed": document["summary"]["failed"], "chart_seconds": time.perf_counter() - started}


def _sql_filter(filter_) -> str:
    parts = []
    for c in filter_.conditions:
        value = f"'{c.value}'" if isinstance(c.value, str) else c.value
        if c.op == "in":
            parts.append(f"{c.field} IN ({', '.join(repr(v) for v in c.value)})")
        elif c.op == "regex":
            parts.append(f"regexp_matches({c.field}, '{c.value}')")
        else:
            parts.append(f"{c.field} {dict(eq='=', ne='<>', lt='<', lte='<=', gt='>', gte='>=')[c.op]} {value}")
    return "(" + " AND ".join(parts or ["TRUE"]) + ")"


def run_duckdb(parsed: Path, out: Path) -> dict:
    import duckdb

    from slo_assets.openslo.spec import load_specs

    specs = load_specs([SPEC])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    selects = []
    for slo in specs.slos:
        total = _sql_filter(slo.indicator.total)
        good = f"{total} AND {_sql_filter(slo.indicator.good)}" if slo.indicator.good else f"{total} AND NOT {_sql_filter(slo.indicator.bad)}"
        selects.append(f"SELECT '{slo.name}' AS slo, ts, operation, status, duration_ms, ({good}) AS good FROM parsed WHERE {total}")
    con.execute(f"CREATE TEMP VIEW parsed AS SELECT * FROM read_parquet('{parsed}/parsed_logs/*.parquet')")
    con.execute(f"""
        COPY (
          WITH selected AS ({' UNION ALL '.join(selects)}),
          minutes AS (SELECT slo, date_trunc('minute', ts) AS minute, count(*) FILTER (WHERE good) AS good, count(*) AS total,
                             count(*) FILTER (WHERE status >= 500) AS server_errors FROM selected GROUP BY ALL),
          quantiles AS (SELECT slo, quantile_cont(duration_ms, [0.5, 0.95, 0.99]) AS q FROM selected GROUP BY slo),
          operations AS (SELECT slo, operation, count(*) FILTER (WHERE good) AS good, count(*) AS total FROM selected GROUP BY ALL)
          SELECT 'minute' AS kind, slo, minute, NULL AS operation, good, total, server_errors, NULL AS q FROM minutes
          UNION ALL SELECT 'quantiles', slo, NULL, NULL, NULL, NULL, NULL, q FROM quantiles
          UNION ALL SELECT 'operation', slo, NULL, operation, good, total, NULL, NULL FROM operations
        ) TO '{out / 'duckdb_aggregates.parquet'}' (FORMAT parquet)""")
    return {"rows": con.execute(f"SELECT count(*) FROM '{out / 'duckdb_aggregates.parquet'}'").fetchone()[0]}


def worker(kind: str, parsed: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="slo-chain-") as tmp:
        out = Path(tmp)
        opened: list[str] = []
        days = _days()
        if kind == "refresh":
            run_chain(parsed, out, days[:-1], [])  # the month up to yesterday, already materialized
            opened.clear()
            started = time.perf_counter()
            result = run_chain(parsed, out, days[-1:], opened)
        else:
            started = time.perf_counter()
            result = run_chain(parsed, out, days, opened) if kind == "slo-assets" else run_duckdb(parsed, out)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_rss_mib": ingest.peak_rss_kib() / 1024, "opened": opened, **result}))


def measure(kind: str, parsed: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--worker", kind, "--parsed", str(parsed)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--parsed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, Path(args.parsed))
        return
    parsed = ensure_parsed(args.events)
    results = {}
    for kind in ("duckdb", "slo-assets", "refresh"):
        runs = sorted((measure(kind, parsed) for _ in range(args.repeat)), key=lambda r: r["seconds"])
        results[kind] = runs[len(runs) // 2]
    base = results["duckdb"]["seconds"]
    print(f"\n{'what':<58} {'seconds':>8} {'peak RSS':>10}  vs DuckDB")
    labels = {"duckdb": "DuckDB: one SQL query, same aggregates", "slo-assets": "slo-assets chain: 31 days + monthly assets",
              "refresh": "month-to-date refresh after one new day"}
    for kind, result in results.items():
        charts = result.get("chart_seconds", 0.0)
        print(f"{labels[kind]:<58} {result['seconds'] - charts:>8.2f} {result['peak_rss_mib']:>7.0f} MiB  "
              f"{(result['seconds'] - charts) / base:>6.2f}x")
        if charts:
            print(f"{'  + metadata charts (2 SVGs)':<58} {charts:>8.2f} {'':>10}  "
                  f"{result['seconds'] / base:>6.2f}x with them")
    opened = results["refresh"]["opened"]
    chain = results["slo-assets"]
    print(f"\nchain / DuckDB = {(chain['seconds'] - chain['chart_seconds']) / base:.2f} (target <= 2.0), "
          f"{chain['seconds'] / base:.2f} with the metadata charts; "
          f"the refresh opened parsed partitions {opened} (target: only the new day)")
    if len(opened) != 1:
        raise SystemExit("the refresh read more than the new day's parsed partition")


if __name__ == "__main__":
    main()
