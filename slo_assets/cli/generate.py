"""`slo-assets generate-logs`: sample access logs with known incidents."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_generate_logs(args: argparse.Namespace) -> int:
    from slo_assets.ingest.generate import write_logs

    truth = write_logs(Path(args.out), args.month, args.events, args.format, args.seed, incidents=args.incidents,
                       compress_rotated=not args.no_compress, malformed_ratio=args.malformed_ratio)
    print(f"wrote {len(truth['files'])} files, {truth['events']} events ({truth['malformed_lines']} malformed lines) "
          f"to {args.out}; incidents in {Path(args.out) / '_truth.json'}")
    for incident in truth["incidents"]:
        print(f"  {incident['kind']:<13} {incident['service']:<9} {incident['start']} .. {incident['end']}")
    return 0
