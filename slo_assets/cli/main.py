"""The `slo-assets` command line: one sub-command per module of this package, each declaring its own arguments."""

from __future__ import annotations

import argparse
import os

from slo_assets.cli import backtest, demo, generate, reports, run, serve, specs
from slo_assets.cli.acks import cmd_ack, cmd_gate
from slo_assets.cli.common import _guarded, _month, warehouse_option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slo-assets", description="SLOs from access logs, as a Dagster asset graph.")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (generate, specs, run, reports):
        module.add_parser(commands)
    ack = commands.add_parser("ack", help="acknowledge a breach: its escalation stops (recorded in the instance, $DAGSTER_HOME)")
    ack.add_argument("breach", help="the plan entry's fingerprint, or MONTH/SLO")
    ack.add_argument("--by", default=os.environ.get("USER", "unknown"), help="who acknowledges (default $USER)")
    warehouse_option(ack, "where the plans are")
    ack.set_defaults(func=cmd_ack)

    gate = commands.add_parser("gate", help="deploy gate: exit 0 when SERVICE may deploy, 1 when it should freeze "
                                            "(its error-budget policy), with the reason as JSON; 2 on bad input")
    gate.add_argument("--service", required=True)
    gate.add_argument("--slo", help="judge this SLO of the service only")
    gate.add_argument("--month", type=_month, help="YYYY-MM (default the newest month with a deploy_gate)")
    warehouse_option(gate, "where deploy_gate is")
    gate.set_defaults(func=cmd_gate)
    for module in (backtest, serve, demo):
        module.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Every command runs guarded: bad input is one line and exit 2, anything else one line and exit 1 with
    # the traceback in a file; a traceback never reaches the screen, whichever command and argument.
    return _guarded(args.command, lambda: args.func(args))
