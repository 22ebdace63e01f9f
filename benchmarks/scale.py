"""Scale benchmark: ingest months of 1M, 6M and 30M JSONL events; cost linear in events, memory bounded.

    .venv/bin/python benchmarks/scale.py [--sizes 1000000,6000000,30000000]

Months are generated once and cached outside the repository (~/.cache/slo-assets/bench, about
5 GB for 30M events). Each size runs in a fresh process (benchmarks/ingest.py's worker: the code path
of log_file_index and every parsed_logs day), reporting wall time, events/s and peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest  # noqa: E402

MEMORY_BOUND_MIB = 1536


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,6000000,30000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for events in sizes:
        logs = ingest.ensure_month("jsonl", events)
        results.append((events, ingest.measure("slo-assets", "jsonl", logs)))
    smallest_rate = results[0][1]["seconds"] / results[0][0]
    print(f"\n{'events':>12} {'seconds':>9} {'events/s':>10} {'s per 1M':>9} {'vs smallest':>12} {'peak RSS':>10}")
    for events, result in results:
        per_event = result["seconds"] / events
        print(f"{events:>12} {result['seconds']:>9.2f} {events / result['seconds'] / 1e6:>9.2f}M {per_event * 1e6:>9.2f} "
              f"{per_event / smallest_rate:>11.2f}x {result['peak_rss_mib']:>7.0f} MiB")
    worst = max(r["peak_rss_mib"] for _, r in results)
    print(f"\ncost per event relative to the smallest month (1.00x = linear); peak RSS max {worst:.0f} MiB "
          f"(bound {MEMORY_BOUND_MIB} MiB: {'ok' if worst < MEMORY_BOUND_MIB else 'EXCEEDED'})")


if __name__ == "__main__":
    main()
