"""The `slo-assets` command line: one sub-command per module of this package, each declaring its own arguments."""

from __future__ import annotations

import argparse

from slo_assets.cli import acks, backtest, demo, generate, reports, run, serve, specs
from slo_assets.cli.common import OneLineParser, _guarded


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="slo-assets", description="SLOs from access logs, as a Dagster asset graph.")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (generate, specs, run, reports, acks, backtest, serve, demo):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Every command runs guarded: bad input is one line and exit 2, anything else one line and exit 1 with
    # the traceback in a file; a traceback never reaches the screen, whichever command and argument.
    return _guarded(args.command, lambda: args.func(args))
