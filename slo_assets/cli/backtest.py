"""`slo-assets backtest`: alert policies scored against the burn episodes of the months in a warehouse."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from slo_assets.cli.common import InputError, _count, _guarded, _month, existing_warehouse, warehouse_option
from slo_assets.core import clock


def cmd_backtest(args: argparse.Namespace) -> int:
    """Score each alert policy against the burn episodes of every month in the warehouse (or those asked)."""
    def body() -> int:
        from slo_assets.defs.resources import DEFAULT_SPECS, project_file
        from slo_assets.defs.warehouse_io import read_days
        from slo_assets.openslo.spec import load_specs
        from slo_assets.slo import backtest as T
        from slo_assets.slo.chain import Settings, data_period, lookback_days
        from slo_assets.slo.sli import MINUTE_SCHEMA
        from slo_assets.warehouse import layout

        try:
            pairs = [T.parse_pair(text) for text in args.pair or []]
        except T.PairError as error:
            raise InputError(f"--pair {error}") from None
        specs_env = os.environ.get("SLO_ASSETS_SPECS")
        spec_paths = args.spec or (specs_env.split(",") if specs_env else [project_file(DEFAULT_SPECS)])
        specs = load_specs([Path(p) for p in spec_paths])
        store = existing_warehouse(args.warehouse)
        present = layout.SLI_MINUTELY.partitions(store)
        available = sorted({day[:7] for day in present})
        if not available:
            raise InputError(f"--warehouse {args.warehouse}: no sli_minutely day files (run a month first: slo-assets run)")
        months = sorted(set(args.month)) if args.month else available
        for month in months:
            if month not in available:
                raise InputError(f"--month {month}: no sli_minutely day files for it in {args.warehouse} "
                                 f"(months there: {', '.join(available)})")
        gate = args.alert_min_bad_events
        settings = Settings() if gate is None else Settings(alert_min_bad_events=gate)
        chosen = T.policies(pairs, settings)
        results, measured = [], set()
        for month in months:
            minutes, days = read_days(store, layout.SLI_MINUTELY, lookback_days(month), MINUTE_SCHEMA)
            measured |= set(minutes["slo"].unique().to_list())
            results.append(T.backtest_month(specs, minutes, data_period(month, days, clock.now_ms()), settings, chosen))
        named = {slo.name for slo in specs.slos}
        if not named & measured:  # another spec than the warehouse's: every row would read 0
            raise InputError(f"--spec {','.join(map(str, spec_paths))}: none of its SLOs ({', '.join(sorted(named)) or 'none'}) has "
                             f"minutes in {args.warehouse}, which holds {', '.join(sorted(measured)) or 'none'}: "
                             "pass the spec the month was run with")
        scores = [s for r in results for s in r.scores()] + (T.pooled(results) if len(results) > 1 else [])
        if args.json:
            print(json.dumps({"months": months, "policies": [p.to_json() for p in chosen], "rows": [s.to_json() for s in scores],
                              "misses": [m | {"period": r.month} for r in results for m in T.missed(r)]}, indent=1))
        else:
            print(T.markdown(scores))
        return 0

    return _guarded("backtest", body)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The command of this module and its arguments."""
    backtest = commands.add_parser("backtest", help="score each alert policy (the burn-rate tiers with the low-traffic gate on "
                                                    "and off, extra window pairs, the budget-state alerts) against the burn episodes of every month "
                                                    "in the warehouse: alerts and pages per week, detection delay, noise, misses")
    warehouse_option(backtest, "the warehouse the months were run into")
    backtest.add_argument("--month", type=_month, action="append", help="YYYY-MM (repeatable; default every month with sli_minutely)")
    backtest.add_argument("--pair", action="append", metavar="LONG/SHORT:FACTOR",
                          help="an extra policy paging when both windows burn above FACTOR, e.g. 30m/5m:10 (repeatable)")
    backtest.add_argument("--spec", action="append", help="OpenSLO YAML file (repeatable; default $SLO_ASSETS_SPECS or examples/slos.yaml)")
    backtest.add_argument("--alert-min-bad-events", type=_count, metavar="N",
                          help="the low-traffic gate of the 'gate on' policies (default 3)")
    backtest.add_argument("--json", action="store_true", help="print the table as JSON")
    backtest.set_defaults(func=cmd_backtest)
