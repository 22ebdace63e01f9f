"""Many-SLOs benchmark: `slo-assets run` end to end with 50, 200 and 500 SLOs on one month of logs.

    .venv/bin/python benchmarks/many_slos.py [--sizes 50,200,500] [--events 200000] [--repeat 1]
    .venv/bin/python benchmarks/many_slos.py --write-spec 50 FILE   # the spec alone, e.g. to compare outputs

The spec is generated here (10 services x up to 50 SLOs each: availability and latency,
Occurrences, Timeslices and RatioTimeslices, calendar and rolling windows, some with an alert
policy or extra report windows); the month's logs come from slo_assets.ingest.generate.write_logs, cached
in ~/.cache/slo-assets/bench/. Each run is a fresh `slo-assets run` process with a fresh
DAGSTER_HOME, warehouse and output folder. Reported: seconds, seconds per SLO, the peak RSS of the
process tree (psutil, sampled every 50 ms), report.html's size, and each figure against the
smallest size's run (1.00x per SLO = linear).

Targets (issue 13): 500 SLOs on 200,000 events in <= 120 s, report.html <= 5 MB, peak RSS <= 1.5 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest  # noqa: E402  (month generation and the cache folder)

ROOT = Path(__file__).resolve().parents[1]
MONTH = ingest.MONTH
NOW = "2026-11-15T00:00:00Z"
TARGET_SECONDS, TARGET_REPORT_BYTES, TARGET_RSS_MIB = 120, 5 * 10**6, 1536

# What the generated logs hold (slo_assets.ingest.generate.SERVICES): service -> operations.
LOG_OPERATIONS = {
    "checkout": ("POST /checkout/api/v1/orders", "GET /checkout/api/v1/cart/{id}"),
    "search": ("GET /search/api/v1/query", "GET /search/api/v1/suggest"),
    "auth": ("POST /auth/api/v1/login", "POST /auth/api/v1/token/refresh"),
    "catalog": ("GET /catalog/api/v1/items/{id}", "GET /catalog/api/v1/items"),
}
SERVICES = 10
TARGETS = ("0.99", "0.995", "0.999", "0.9995", "0.95")
LATENCY_MS = (50, 100, 150, 250, 400)
CALENDAR = '[{duration: 1M, isRolling: false, calendar: {startTime: "2026-01-01 00:00:00", timeZone: Etc/UTC}}]'
WINDOWS = (CALENDAR, "[{duration: 28d, isRolling: true}]", CALENDAR, "[{duration: 7d, isRolling: true}]")

HEADER = """apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: fast-burn}
spec:
  severity: page
  condition: {kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: page-on-fast-burn}
spec:
  alertWhenNoData: false
  alertWhenResolved: true
  alertWhenBreaching: true
  conditions: [{conditionRef: fast-burn}]
  notificationTargets: [{targetRef: oncall-pager}]
"""


def _slo(number: int) -> str:
    """The number-th SLO of the spec: its kind, method, window and target cycle with different periods,
    so any prefix of the spec mixes them all."""
    service = f"svc-{number % SERVICES:02d}"
    source = list(LOG_OPERATIONS)[number % 4]
    operation = LOG_OPERATIONS[source][(number // 4) % 2]
    kind = ("availability", "latency", "availability", "latency", "slices")[number % 5]
    target = TARGETS[(number // 5) % len(TARGETS)]
    window = WINDOWS[(number // 3) % len(WINDOWS)]
    selected = f"service: {source}, operation: \"{operation}\"" if number % 2 else f"service: {source}"
    total = f"{{{selected}}}"
    if kind == "latency":  # good: the same requests, within a bound
        good = f"{{{selected}, duration_ms: {{lte: {LATENCY_MS[(number // 2) % len(LATENCY_MS)]}}}}}"
    else:
        good = f"{{{selected}, status: {{lt: 500}}}}"
    method, objective = "Occurrences", f"{{displayName: {float(target):.2%} good, target: {target}}}"
    if kind == "slices":
        slice_minutes = (1, 5)[(number // 5) % 2]
        if (number // 10) % 3 == 2:
            method = "RatioTimeslices"
            objective = f"{{displayName: {float(target):.2%} ratio, target: {target}, timeSliceWindow: {slice_minutes}m}}"
        else:
            method = "Timeslices"
            objective = (f"{{displayName: {float(target):.2%} slices, target: {target}, timeSliceTarget: 0.95, "
                         f"timeSliceWindow: {slice_minutes}m}}")
    annotations = "\n  annotations: {slo-assets.dev/report-windows: 7d}" if number % 11 == 0 else ""
    policies = "\n  alertPolicies: [page-on-fast-burn]" if number % 7 == 0 else ""
    objectives = f"[{objective}]"
    if number % 13 == 0 and method == "Occurrences":  # a second objective now and then
        objectives = f"[{objective}, {{displayName: 90% good, target: 0.9}}]"
    return f"""---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: slo-{number:03d}
  displayName: {service} {kind} {number:03d}{annotations}
spec:
  service: {service}
  budgetingMethod: {method}
  timeWindow: {window}
  indicator:
    metadata: {{name: sli-{number:03d}}}
    spec:
      ratioMetric:
        counter: true
        good: {{metricSource: {{type: logs, spec: {{filter: {good}}}}}}}
        total: {{metricSource: {{type: logs, spec: {{filter: {total}}}}}}}
  objectives: {objectives}{policies}
"""


def spec_text(count: int) -> str:
    services = "".join(f"---\napiVersion: openslo/v1\nkind: Service\nmetadata: {{name: svc-{s:02d}}}\nspec: {{description: bench}}\n"
                       for s in range(min(SERVICES, count)))
    return HEADER + services + "".join(_slo(n) for n in range(count))


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants now."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_once(count: int, logs: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="slo-many-") as tmp:
        base = Path(tmp)
        spec = base / "slos.yaml"
        spec.write_text(spec_text(count))
        out = base / "out"
        env = {**os.environ, "DAGSTER_HOME": str(base / "home"), "SLO_ASSETS_NOW": NOW, "PYTHONPATH": str(ROOT),
               "GX_ANALYTICS_ENABLED": "false", "DAGSTER_DISABLE_TELEMETRY": "1"}
        (base / "home").mkdir()
        command = [sys.executable, "-m", "slo_assets.cli", "run", "--logs", str(logs), "--spec", str(spec), "--month", MONTH,
                   "--out", str(out), "--warehouse", str(base / "wh")]
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watched, peak = psutil.Process(child.pid), 0
        while child.poll() is None:
            peak = max(peak, tree_rss(watched))
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        stdout, stderr = child.communicate()
        if child.returncode not in (0, 3):
            raise SystemExit(f"{count} SLOs: run exited {child.returncode}\n{stdout[-2000:]}\n{stderr[-4000:]}")
        report = out / MONTH / "report.html"
        windows = len(json.loads((out / MONTH / "compliance.json").read_text())["slos"])
        return {"slos": count, "windows": windows, "seconds": seconds, "peak_rss_mib": peak / 2**20,
                "report_bytes": report.stat().st_size}


def median(runs: list[dict]) -> dict:
    ordered = sorted(runs, key=lambda r: r["seconds"])
    middle = dict(ordered[len(ordered) // 2])
    middle["peak_rss_mib"] = sorted(r["peak_rss_mib"] for r in runs)[len(runs) // 2]
    return middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,500")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; medians are reported")
    parser.add_argument("--write-spec", nargs=2, metavar=("COUNT", "FILE"), help="write the spec of COUNT SLOs to FILE and stop")
    args = parser.parse_args()
    if args.write_spec:
        Path(args.write_spec[1]).write_text(spec_text(int(args.write_spec[0])))
        return
    logs = ingest.ensure_month("jsonl", args.events)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for count in sizes:
        runs = []
        for _ in range(args.repeat):
            runs.append(run_once(count, logs))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
        results.append(median(runs))
    base = results[0]
    base_per_slo = base["seconds"] / base["slos"]
    print(f"\n{'SLOs':>5} {'windows':>8} {'seconds':>8} {'s/SLO':>7} {'vs first':>9} {'peak RSS':>10} {'report':>9}  per-SLO ratio")
    for r in results:
        per_slo = r["seconds"] / r["slos"]
        print(f"{r['slos']:>5} {r['windows']:>8} {r['seconds']:>8.1f} {per_slo:>7.3f} {r['seconds'] / base['seconds']:>8.2f}x "
              f"{r['peak_rss_mib']:>6.0f} MiB {r['report_bytes'] / 1e6:>6.2f} MB  {per_slo / base_per_slo:>6.2f}x")
    last = results[-1]
    verdict = [f"seconds {last['seconds']:.0f} (<= {TARGET_SECONDS})", f"report {last['report_bytes'] / 1e6:.2f} MB (<= 5)",
               f"peak RSS {last['peak_rss_mib']:.0f} MiB (<= {TARGET_RSS_MIB})"]
    ok = (last["seconds"] <= TARGET_SECONDS and last["report_bytes"] <= TARGET_REPORT_BYTES and last["peak_rss_mib"] <= TARGET_RSS_MIB)
    print(f"\n{last['slos']} SLOs: " + ", ".join(verdict) + (": ok" if ok else ": NOT MET")
          + "\n(per-SLO ratio: seconds per SLO against the first size; the fixed per-run overhead makes small sizes dearer per SLO)")


if __name__ == "__main__":
    main()
