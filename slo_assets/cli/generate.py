"""`slo-assets generate-logs`: sample access logs with known incidents."""

from __future__ import annotations

import argparse
from pathlib import Path

from slo_assets.cli.common import _incidents, _log_month, _positive, _ratio


def cmd_generate_logs(args: argparse.Namespace) -> int:
    from slo_assets.ingest.generate import write_logs

    truth = write_logs(Path(args.out), args.month, args.events, args.format, args.seed, incidents=args.incidents,
                       compress_rotated=not args.no_compress, malformed_ratio=args.malformed_ratio)
    print(f"wrote {len(truth['files'])} files, {truth['events']} events ({truth['malformed_lines']} malformed lines) "
          f"to {args.out}; incidents in {Path(args.out) / '_truth.json'}")
    for incident in truth["incidents"]:
        print(f"  {incident['kind']:<13} {incident['service']:<9} {incident['start']} .. {incident['end']}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The command of this module and its arguments."""
    generate = commands.add_parser("generate-logs", help="write realistic sample access logs and a truth file")
    generate.add_argument("out", help="output folder")
    generate.add_argument("--month", type=_log_month, required=True, help="YYYY-MM")
    generate.add_argument("--events", type=_positive, default=200_000, help="number of requests (default 200000)")
    generate.add_argument("--format", choices=["jsonl", "combined"], default="jsonl")
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("--incidents", type=_incidents, default=4, help="injected incidents, 0 to 4 (default 4)")
    generate.add_argument("--malformed-ratio", type=_ratio, default=0.0, help="share of malformed lines to inject")
    generate.add_argument("--no-compress", action="store_true", help="do not gzip rotated files")
    generate.set_defaults(func=cmd_generate_logs)
