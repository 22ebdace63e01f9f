"""The hand-written baseline of benchmarks/run.py: what a user could write in DuckDB instead of slo-assets.

    python benchmarks/duckdb_month.py jsonl|combined OUT FILE...

Reads the month's raw files once into a table, then writes per service and UTC minute the total,
good (status < 500) and fast (< 300 ms) requests, and per service and UTC day the exact (linear
interpolation) p50/p95/p99 of the request duration, as Parquet. No validation, quarantine, line
numbers, SLO windows, budgets or reports: the floor of the data work, not a peer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import COMBINED_DUCKDB_REGEX  # noqa: E402


def requests_sql(fmt: str, files: list[str]) -> str:
    if fmt == "jsonl":
        return f"""SELECT ts::TIMESTAMPTZ AS ts, service, status::INTEGER AS status, duration_ms
            FROM read_json({files!r}, format='newline_delimited',
                 columns={{ts: 'VARCHAR', service: 'VARCHAR', status: 'BIGINT', duration_ms: 'DOUBLE'}})"""
    return f"""SELECT strptime(g.time, '%d/%b/%Y:%H:%M:%S %z') AS ts, regexp_extract(g.path, '^/([^/?#]+)/', 1) AS service,
                  TRY_CAST(g.status AS INTEGER) AS status, TRY_CAST(g.rt AS DOUBLE) * 1000 AS duration_ms
            FROM (SELECT regexp_extract(line, '{COMBINED_DUCKDB_REGEX}', ['client', 'time', 'method', 'path', 'status', 'bytes', 'rt']) AS g
                  FROM read_csv({files!r}, columns={{'line': 'VARCHAR'}}, delim=E'\\x01', quote='', escape='',
                                header=false, auto_detect=false))"""


def main() -> None:
    fmt, out, files = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE requests AS {requests_sql(fmt, files)}")
    con.execute(f"""COPY (SELECT service, date_trunc('minute', ts) AS minute, count(*) AS total,
                          count(*) FILTER (WHERE status < 500) AS good, count(*) FILTER (WHERE duration_ms < 300) AS fast
                          FROM requests GROUP BY ALL ORDER BY ALL) TO '{out / 'minutes.parquet'}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT service, ts::DATE AS day, quantile_cont(duration_ms, [0.5, 0.95, 0.99]) AS p50_p95_p99
                          FROM requests GROUP BY ALL ORDER BY ALL) TO '{out / 'quantiles.parquet'}' (FORMAT parquet)""")
    print(con.execute("SELECT count(*) FROM requests").fetchone()[0])


if __name__ == "__main__":
    main()
