"""`slo-assets validate` and `slo-assets rules`: the OpenSLO files, checked and turned into Prometheus rules."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_validate(args: argparse.Namespace) -> int:
    from slo_assets.core.errors import DefinitionError
    from slo_assets.openslo.spec import load_specs

    try:
        specs = load_specs([Path(p) for p in args.files])
    except DefinitionError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s)", file=sys.stderr)
        return 2  # as run and rules exit on the same problems
    for warning in specs.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    windows = sum(len(s.objectives) * len(s.windows) for s in [*specs.slos, *specs.composites])
    composites = f", {len(specs.composites)} composite SLOs" if specs.composites else ""
    print(f"ok: {len(specs.slos)} SLOs{composites}, {windows} SLO windows, {len(specs.policies)} alert policies in {len(args.files)} file(s)")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from slo_assets.core.errors import DefinitionError
    from slo_assets.openslo.spec import load_specs
    from slo_assets.outputs.rules import build_rules, render

    paths = [Path(p) for p in args.files]
    try:
        print(render(build_rules(load_specs(paths), page=not args.no_page, ticket=not args.no_ticket)), end="")
    except DefinitionError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The commands of this module and their arguments."""
    validate = commands.add_parser("validate", help="check OpenSLO spec files; exit 2 listing every problem")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(func=cmd_validate)

    rules = commands.add_parser("rules", help="print Prometheus recording and multiwindow burn-rate alerting rules for OpenSLO specs")
    rules.add_argument("files", nargs="+")
    rules.add_argument("--no-page", action="store_true", help="leave out the page tier")
    rules.add_argument("--no-ticket", action="store_true", help="leave out the ticket tier")
    rules.set_defaults(func=cmd_rules)
