"""`slo-assets ack` and `slo-assets gate`: acknowledging a breach, and the deploy gate's answer for a service."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import TYPE_CHECKING

from slo_assets.cli.common import INSTANCE_CONFIG, InputError, _guarded, _month, _project_root, existing_warehouse, warehouse_option

if TYPE_CHECKING:
    from slo_assets.remediation.models import PlanEntry

BREACH_FORM = re.compile(r"[0-9a-f]{16}|\d{4}-\d{2}/[A-Za-z0-9][A-Za-z0-9._-]*")


def find_breach(store, breach: str) -> tuple[str, PlanEntry] | None:
    """(month, plan entry) of the newest plan naming the breach: its fingerprint, or month/slo."""
    from slo_assets.remediation.models import RemediationPlan
    from slo_assets.warehouse import layout

    for month in reversed(layout.REMEDIATION_PLAN.partitions(store)):
        plan = RemediationPlan.model_validate_json(layout.REMEDIATION_PLAN.path(store, month).read_bytes())
        for entry in plan.entries:
            if breach in (entry.fingerprint, f"{month}/{entry.slo}"):
                return month, entry
    return None


def cmd_ack(args: argparse.Namespace) -> int:
    """Acknowledge a breach: its escalation climbs no further (escalation_sensor reads the ack)."""
    def body() -> int:
        import dagster as dg

        from slo_assets.cli.orchestrate import instance_from_env

        if not BREACH_FORM.fullmatch(args.breach):
            raise InputError(f"BREACH {args.breach!r}: give a plan entry's fingerprint (16 hex digits) or MONTH/SLO, "
                             "e.g. 2026-02/checkout-availability")
        if not args.by.strip() or not args.by.isprintable():
            raise InputError(f"--by {args.by!r}: name who acknowledges (a person or team, printable text)")
        found = find_breach(existing_warehouse(args.warehouse), args.breach)
        if found is None:
            raise InputError(f"BREACH {args.breach}: no remediation plan under --warehouse {args.warehouse} names it")
        month, entry = found
        instance = instance_from_env(_project_root() / INSTANCE_CONFIG)
        instance.report_runless_asset_event(dg.AssetObservation(
            asset_key="breach_acks", metadata={"breach": args.breach, "by": args.by, "period": month, "slo": entry.slo}))
        print(json.dumps({"acknowledged": args.breach, "period": month, "slo": entry.slo, "fingerprint": entry.fingerprint,
                          "by": args.by, "instance": instance.root_directory}))
        return 0

    return _guarded("ack", body)


def cmd_gate(args: argparse.Namespace) -> int:
    """Exit 0 when the service may deploy, 1 when it should freeze, with the reason as JSON."""
    def body() -> int:
        from slo_assets.core import clock
        from slo_assets.slo.gate import GO, ServiceGate, verdict
        from slo_assets.warehouse import layout

        store = existing_warehouse(args.warehouse)
        months = layout.DEPLOY_GATE.partitions(store)
        month = args.month or (months[-1] if months else None)
        if month is None or month not in months:
            raise InputError(f"--warehouse {args.warehouse}: no deploy_gate for {month or 'any month'} "
                             f"(materialize it: slo-assets run, or the deploy_gate asset)")
        document = json.loads(layout.DEPLOY_GATE.path(store, month).read_bytes())
        gates = {g["service"]: ServiceGate.from_json(g) for g in document["services"]}
        if args.service not in gates:
            raise InputError(f"--service {args.service}: not a service of the {month} gate ({', '.join(sorted(gates)) or 'none'})")
        gate = gates[args.service]
        if args.slo is not None:
            if args.slo not in {s.slo for s in gate.slos}:
                raise InputError(f"--slo {args.slo}: not an SLO of service {args.service} ({', '.join(s.slo for s in gate.slos)})")
            gate = gate.for_slo(args.slo)
        answer = verdict(gate, month, clock.now())
        print(json.dumps(answer, indent=1))
        if answer["stale"]:
            print(f"slo-assets gate: warning: {answer['stale']}", file=sys.stderr)
        return 0 if gate.decision == GO else 1

    return _guarded("gate", body)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The commands of this module and their arguments."""
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
