"""Indexing a folder of many small files (years of hourly rotation): files per second against `cat`.

    .venv/bin/python benchmarks/many_files.py [--files 5000] [--lines 1] [--folder DIR]

Writes `--files` combined-log files of `--lines` lines each over one month, then times, in a fresh
process each: `cat` of every file (the floor: reading the bytes), and `build_index` of the empty
warehouse (fingerprint, sniff and stage every file: the first `run` on the folder). Prints files/s of
each and the cost per file beyond `cat`'s. The target (the real-use issue): under 1 ms per file
beyond reading the bytes.
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
from slo_assets.ingest.index import build_index
start = time.perf_counter()
built = build_index(Path(sys.argv[1]), Path(sys.argv[2]), ParseConfig())
print(time.perf_counter() - start, built.index.height)
"""


def write_files(folder: Path, files: int, lines: int) -> int:
    """`files` files of `lines` combined-log lines, an hour apart; the bytes written."""
    folder.mkdir(parents=True)
    size = 0
    for number in range(files):
        hour = number % (30 * 24)
        text = "".join(f'10.0.{number % 250}.{line % 250} - - [{1 + hour // 24:02d}/Nov/2026:{hour % 24:02d}:{line % 60:02d}:00 +0000] '
                       f'"GET /api/items/{line} HTTP/1.1" {503 if line % 50 == 0 else 200} 512 "-" "bench" 0.0{line % 90:02d}\n'
                       for line in range(lines))
        (folder / f"access-{number:06d}.log").write_text(text)
        size += len(text)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=1)
    parser.add_argument("--folder", type=Path, help="scratch folder (default a temporary one, removed after)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="slo-many-files-", dir=args.folder))
    try:
        size = write_files(base / "logs", args.files, args.lines)
        files = sorted(str(p) for p in (base / "logs").iterdir())
        started = time.perf_counter()
        subprocess.run(["xargs", "-0", "cat"], input="\0".join(files).encode(), stdout=subprocess.DEVNULL, check=True, timeout=3600)
        cat_s = time.perf_counter() - started
        done = subprocess.run([sys.executable, "-c", INDEX, str(base / "logs"), str(base / "stage")], capture_output=True, text=True,
                              check=True, timeout=7200, cwd=ROOT)
        index_s, rows = done.stdout.split()
        index_s = float(index_s)
        print(f"{args.files:,} files, {args.lines} line(s) each, {size / 1e6:.1f} MB; index rows {rows}")
        print(f"  cat:         {cat_s:8.2f} s  {args.files / cat_s:10,.0f} files/s")
        print(f"  build_index: {index_s:8.2f} s  {args.files / index_s:10,.0f} files/s  "
              f"{(index_s - cat_s) / args.files * 1000:.2f} ms per file beyond cat (target < 1 ms)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
