"""Indexing a folder of many small files (years of hourly rotation): files per second against `cat`.

    .venv/bin/python benchmarks/many_files.py [--files 5000] [--lines 1] [--bad-every N] [--folder DIR]

Writes `--files` combined-log files of `--lines` lines each over one month, then times, in a fresh
process each: `cat` of every file (the floor: reading the bytes), and `build_index` of the empty
warehouse (fingerprint, sniff and stage every file: the first `run` on the folder), then in the same
process a re-run on the unchanged folder and the assembly of every day from the stages (what
parsed_logs reads). Prints files/s of each and the cost per file beyond `cat`'s. The target (the
real-use issue): under 1 ms per file beyond reading the bytes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INDEX = """
import sys, time
from pathlib import Path
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.index import assemble_day, build_index
from slo_assets.ingest.staging import DAY_MS
start = time.perf_counter()
built = build_index(Path(sys.argv[1]), Path(sys.argv[2]), ParseConfig())
index_s = time.perf_counter() - start
start = time.perf_counter()
again = build_index(Path(sys.argv[1]), Path(sys.argv[2]), ParseConfig(), previous=built.index)
rerun_s = time.perf_counter() - start
assert again.staged == [] and again.index.equals(built.index)
days = sorted({day for days in built.index["days"].to_list() for day in days})
start = time.perf_counter()
file_days = rows = 0
for day in days:
    assembled = assemble_day(built.index, Path(sys.argv[2]), day * DAY_MS)
    file_days += len(assembled.files_read)
    rows += assembled.rows.num_rows
print(index_s, built.index.height, rerun_s, time.perf_counter() - start, file_days, rows)
"""


def write_files(folder: Path, files: int, lines: int, bad_every: int = 0) -> int:
    """`files` files of `lines` combined-log lines, an hour apart, each its own bytes (no duplicates),
    every `bad_every`th with a line that is no request (a TLS probe: quarantined); the bytes written."""
    folder.mkdir(parents=True)
    size = 0
    for number in range(files):
        hour = number % (30 * 24)
        text = "".join(f'10.0.{number % 250}.{line % 250} - - [{1 + hour // 24:02d}/Nov/2026:{hour % 24:02d}:{line % 60:02d}:00 +0000] '
                       f'"GET /api/items/{number}/{line} HTTP/1.1" {503 if line % 50 == 0 else 200} 512 "-" "bench" 0.0{line % 90:02d}\n'
                       for line in range(lines))
        if bad_every and number % bad_every == 0:
            text += f"\x16\x03\x01 probe {number}\n"
        (folder / f"access-{number:06d}.log").write_text(text)
        size += len(text)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=1)
    parser.add_argument("--bad-every", type=int, default=0, help="every Nth file gets a quarantined line (0: none)")
    parser.add_argument("--folder", type=Path, help="scratch folder (default a temporary one, removed after)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="slo-many-files-", dir=args.folder))
    try:
        size = write_files(base / "logs", args.files, args.lines, args.bad_every)
        files = sorted(str(p) for p in (base / "logs").iterdir())
        started = time.perf_counter()
        subprocess.run(["xargs", "-0", "cat"], input="\0".join(files).encode(), stdout=subprocess.DEVNULL, check=True, timeout=3600)
        cat_s = time.perf_counter() - started
        done = subprocess.run([sys.executable, "-c", INDEX, str(base / "logs"), str(base / "stage")], capture_output=True, text=True,
                              check=True, timeout=7200, cwd=ROOT)
        index_s, rows, rerun_s, days_s, file_days, day_rows = (float(v) for v in done.stdout.split())
        bad = f", a quarantined line in every {args.bad_every}" if args.bad_every else ""
        print(f"{args.files:,} files, {args.lines} line(s) each{bad}, {size / 1e6:.1f} MB; index rows {rows:,.0f}")
        print(f"  cat:          {cat_s:8.2f} s  {args.files / cat_s:10,.0f} files/s")
        print(f"  build_index:  {index_s:8.2f} s  {args.files / index_s:10,.0f} files/s  "
              f"{(index_s - cat_s) / args.files * 1000:.2f} ms per file beyond cat (target < 1 ms)")
        print(f"  re-run:       {rerun_s:8.2f} s  {args.files / rerun_s:10,.0f} files/s  (unchanged: a stat each, nothing read)")
        print(f"  assemble_day: {days_s:8.2f} s  {file_days / days_s:10,.0f} file-days/s  {days_s / file_days * 1000:.3f} ms per file-day "
              f"({day_rows:,.0f} rows)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
