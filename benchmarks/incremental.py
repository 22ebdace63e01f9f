"""Refresh cost of a growing access.log: parsed from its checkpoint against parsed again in full.

    .venv/bin/python benchmarks/incremental.py [--lines 1000000] [--append 10000] [--repeat 3] [--folder DIR]

One JSON-lines file of `--lines` requests on one UTC day is observed and ingested once; then
`--append` lines are appended and the refresh a user runs (observe log_file_index with index_job,
then materialize the stale parsed_logs day) is timed from copies of that state, with the checkpoint
(incremental) and with the checkpoint file removed (the full re-parse of before). `build_index` alone
is timed too (the index step without Dagster's per-run overhead). The day's parquet files of both
refreshes are compared byte for byte.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

DAY = "2026-10-04"


def requests(first: int, count: int) -> bytes:
    """`count` requests from number `first` on, 80 ms apart from the day's start."""
    lines = []
    for number in range(first, first + count):
        ms = number * 80
        seconds, milli = divmod(ms, 1000)
        status = 503 if number % 97 == 0 else 200
        lines.append(f'{{"ts":"{DAY}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{milli:03d}Z",'
                     f'"service":"api","method":"GET","path":"/items/{number % 5000}","status":{status},'
                     f'"duration_ms":{number % 300}}}\n')
    return "".join(lines).encode()


class Setup:
    def __init__(self, base: Path) -> None:
        from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource

        self.base = base
        self.logs = base / "logs"
        self.warehouse = base / "warehouse"
        self.resources = {"log_source": LogSource(root=str(self.logs)),
                          "warehouse": WarehouseResource(base=str(self.warehouse), stage_dir=str(base / "stage")),
                          "slo_settings": SloSettings()}

    def refresh(self, instance) -> tuple[float, float]:
        """Observe the log files, then ingest the day: seconds of each."""
        import dagster as dg

        from slo_assets.definitions import build_definitions
        from slo_assets.defs.ingest.assets import log_file_index, parsed_logs

        defs = build_definitions(self.resources)
        started = time.perf_counter()
        assert defs.resolve_job_def("index_job").execute_in_process(instance=instance).success
        observed = time.perf_counter()
        assert dg.materialize([log_file_index, parsed_logs], selection=[parsed_logs], partition_key=DAY,
                              resources=self.resources, instance=instance).success
        return observed - started, time.perf_counter() - observed


def copy_state(source: Path, target: Path) -> Setup:
    shutil.copytree(source, target)
    return Setup(target)


def time_build_index(setup: Setup, with_checkpoints: bool) -> float:
    import polars as pl
    import pyarrow.parquet as pq

    from slo_assets.ingest import checkpoint
    from slo_assets.ingest.config import ParseConfig
    from slo_assets.ingest.index import build_index

    previous = pl.from_arrow(pq.read_table(setup.warehouse / "log_file_index.parquet"))
    known = checkpoint.loads((setup.warehouse / "log_file_checkpoints.json").read_bytes(), "checkpoints") if with_checkpoints else []
    started = time.perf_counter()
    build = build_index(setup.logs, setup.base / "stage", ParseConfig(), previous=previous, checkpoints=known)
    elapsed = time.perf_counter() - started
    assert build.extended == (["access.log"] if with_checkpoints else []), build.extended
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--append", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("SLO_ASSETS_START_DATE", "2026-10-01")
    import dagster as dg

    scratch = Path(tempfile.mkdtemp(prefix="slo-incremental-", dir=args.folder))
    try:
        first = Setup(scratch / "first")
        first.logs.mkdir(parents=True)
        (first.logs / "access.log").write_bytes(requests(0, args.lines))
        size = (first.logs / "access.log").stat().st_size
        print(f"{args.lines:,} lines ({size / 2**20:.0f} MiB), then {args.append:,} appended", flush=True)
        started = time.perf_counter()
        first.refresh(dg.DagsterInstance.ephemeral())
        print(f"first observation and ingest (full parse): {time.perf_counter() - started:.2f} s", flush=True)
        with open(first.logs / "access.log", "ab") as live:
            live.write(requests(args.lines, args.append))
        results: dict[str, list[float]] = {f"{step} {kind}": [] for step in ("build_index", "index_job", "parsed_logs day")
                                           for kind in ("incremental", "full")}
        outputs = {}
        for round_number in range(args.repeat):
            for kind in ("incremental", "full"):
                setup = copy_state(first.base, scratch / f"{kind}-{round_number}")
                if kind == "full":
                    (setup.warehouse / "log_file_checkpoints.json").unlink()
                core = copy_state(setup.base, scratch / f"{kind}-{round_number}-core")
                results[f"build_index {kind}"].append(time_build_index(core, kind == "incremental"))
                observe, ingest = setup.refresh(dg.DagsterInstance.ephemeral())
                results[f"index_job {kind}"].append(observe)
                results[f"parsed_logs day {kind}"].append(ingest)
                outputs[kind] = [(setup.warehouse / folder / f"{DAY}.parquet").read_bytes() for folder in ("parsed_logs", "quarantine")]
                shutil.rmtree(scratch / f"{kind}-{round_number}-core")
        same = outputs["incremental"] == outputs["full"]
        print(f"day {DAY}: parsed_logs and quarantine identical, incremental and full: {same}")
        for kind, seconds in results.items():
            print(f"{kind:>28}: median {statistics.median(seconds):.3f} s of {', '.join(f'{s:.3f}' for s in seconds)}")
        if not same:
            sys.exit(1)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
