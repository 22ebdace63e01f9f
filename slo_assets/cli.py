"""The `slo-assets` command."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

DEMO_MONTH = "2026-10"
DEMO_EVENTS = 200_000
DEMO_SEED = 42


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"month must be YYYY-MM, not {value!r}")
    return value


def _project_root() -> Path:
    """The folder holding dagster.yaml: the current one when it has it, else the source checkout."""
    here = Path.cwd()
    if (here / "dagster.yaml").exists():
        return here
    return Path(__file__).resolve().parents[1]


def cmd_generate_logs(args: argparse.Namespace) -> int:
    from slo_assets.generate import write_logs

    truth = write_logs(Path(args.out), args.month, args.events, args.format, args.seed, incidents=args.incidents,
                       compress_rotated=not args.no_compress, malformed_ratio=args.malformed_ratio)
    print(f"wrote {len(truth['files'])} files, {truth['events']} events ({truth['malformed_lines']} malformed lines) "
          f"to {args.out}; incidents in {Path(args.out) / '_truth.json'}")
    for incident in truth["incidents"]:
        print(f"  {incident['kind']:<13} {incident['service']:<9} {incident['start']} .. {incident['end']}")
    return 0


def _sample_is_current(logs: Path, month: str, events: int, seed: int) -> bool:
    truth = logs / "_truth.json"
    if not truth.exists():
        return False
    recorded = json.loads(truth.read_text())
    return (recorded.get("month"), recorded.get("events"), recorded.get("seed")) == (month, events, seed)


def cmd_demo(args: argparse.Namespace) -> int:
    from slo_assets.generate import write_logs

    root = _project_root()
    logs = root / "data" / "sample" / "logs"
    warehouse = root / "data" / "warehouse"
    if not _sample_is_current(logs, args.month, args.events, DEMO_SEED):
        print(f"generating {args.events} sample requests for {args.month} in {logs} ...")
        write_logs(logs, args.month, args.events, "jsonl", DEMO_SEED, malformed_ratio=0.0005)
    else:
        print(f"using sample logs in {logs}")
    from slo_assets.defs.resources import LogSource, WarehouseResource
    from slo_assets.orchestrate import instance_from_env, materialize_month

    instance = instance_from_env(root)
    resources = {"log_source": LogSource(root=str(logs)), "warehouse": WarehouseResource(base=str(warehouse))}
    outcome = materialize_month(args.month, resources, instance, progress=print if args.verbose else lambda _: None)
    rows = sum(day["rows"] or 0 for day in outcome.days.values())
    quarantined = sum(day["quarantined"] or 0 for day in outcome.days.values())
    print(f"\nmaterialized log_file_index and {len(outcome.days)} parsed_logs partitions of {args.month} "
          f"in {outcome.seconds:.1f} s ({len(outcome.run_ids)} runs)")
    print(f"  rows: {rows}, quarantined lines: {quarantined}")
    print(f"  parsed days:  {warehouse / 'parsed_logs'}/YYYY-MM-DD.parquet")
    print(f"  quarantine:   {warehouse / 'quarantine'}/YYYY-MM-DD.parquet")
    print(f"  file index:   {warehouse / 'log_file_index.parquet'}")
    print(f"  instance:     {instance.root_directory} (SQLite)")
    if outcome.failed_checks:
        print("  failed checks: " + ", ".join(outcome.failed_checks))
    print("\nopen the UI (binds 127.0.0.1 only):")
    print(f"  DAGSTER_HOME={instance.root_directory} .venv/bin/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml")
    return 1 if outcome.failed_checks else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slo-assets", description="SLOs from access logs, as a Dagster asset graph.")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate-logs", help="write realistic sample access logs and a truth file")
    generate.add_argument("out", help="output folder")
    generate.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    generate.add_argument("--events", type=int, default=200_000, help="number of requests (default 200000)")
    generate.add_argument("--format", choices=["jsonl", "combined"], default="jsonl")
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("--incidents", type=int, default=4, help="injected incidents, 0 to 4 (default 4)")
    generate.add_argument("--malformed-ratio", type=float, default=0.0, help="share of malformed lines to inject")
    generate.add_argument("--no-compress", action="store_true", help="do not gzip rotated files")
    generate.set_defaults(func=cmd_generate_logs)

    demo = commands.add_parser("demo", help="generate a sample month and materialize the asset graph for it")
    demo.add_argument("--month", type=_month, default=DEMO_MONTH)
    demo.add_argument("--events", type=int, default=DEMO_EVENTS)
    demo.add_argument("-v", "--verbose", action="store_true", help="print each run as it finishes")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
