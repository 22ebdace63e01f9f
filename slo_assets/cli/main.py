"""The `slo-assets` command line: one sub-command per module of this package."""

from __future__ import annotations

import argparse
import os

from slo_assets.cli.acks import cmd_ack, cmd_gate
from slo_assets.cli.backtest import cmd_backtest
from slo_assets.cli.common import _count, _guarded, _incidents, _log_month, _month, _positive, _ratio
from slo_assets.cli.demo import DEMO_EVENTS, DEMO_MONTH, cmd_demo
from slo_assets.cli.generate import cmd_generate_logs
from slo_assets.cli.reports import _period, cmd_report, cmd_review
from slo_assets.cli.run import cmd_run
from slo_assets.cli.serve import _month_or_current, _port, cmd_serve_metrics
from slo_assets.cli.specs import cmd_rules, cmd_validate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slo-assets", description="SLOs from access logs, as a Dagster asset graph.")
    commands = parser.add_subparsers(dest="command", required=True)

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

    validate = commands.add_parser("validate", help="check OpenSLO spec files; exit 1 listing every problem")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(func=cmd_validate)

    rules = commands.add_parser("rules", help="print Prometheus recording and multiwindow burn-rate alerting rules for OpenSLO specs")
    rules.add_argument("files", nargs="+")
    rules.add_argument("--no-page", action="store_true", help="leave out the page tier")
    rules.add_argument("--no-ticket", action="store_true", help="leave out the ticket tier")
    rules.set_defaults(func=cmd_rules)

    run = commands.add_parser("run", help="materialize a month end to end from a log folder and OpenSLO specs")
    run.add_argument("--logs", required=True, help="folder of access logs (searched recursively)")
    run.add_argument("--spec", required=True, action="append", help="OpenSLO YAML file (repeatable)")
    run.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    run.add_argument("--out", required=True, help="writes OUT/YYYY-MM/: compliance.json, error_budgets.json, remediation_plan.json, "
                                                  "slo_metrics.prom, alerts.rules.yml, two Grafana dashboards (grafana-*.json), report.html")
    run.add_argument("--warehouse", help="Parquet warehouse: a folder or an fsspec URL such as s3://bucket/prefix (default "
                                         "$SLO_ASSETS_WAREHOUSE, else data/warehouse: the one the code location reads)")
    run.add_argument("--format", default="auto", help="auto (sniff each file), jsonl or combined")
    run.add_argument("--log-format", help="how text lines are written: a preset (combined, upstreaminfo, main) or an nginx "
                                          "log_format / Apache LogFormat string, e.g. "
                                          "'$remote_addr - [$time_local] \"$request\" $status $request_time'")
    run.add_argument("--include", action="append", metavar="GLOB", help="read only files matching (repeatable; default every file)")
    run.add_argument("--exclude", action="append", metavar="GLOB", help="never read files matching (repeatable; adds to the defaults)")
    run.add_argument("--alert-min-bad-events", type=_count, metavar="N",
                     help="low-traffic gate: an alert fires only with N bad events in its long window (default 3, 0 = off)")
    run.add_argument("--coverage-floor", type=_ratio, metavar="F",
                     help="measured share of a window's minutes below F (0-1, default 0.95): the status notes it")
    run.add_argument("--block-below-coverage-floor", action="store_true",
                     help="a window under the coverage floor stops the outputs from being published (exit 2)")
    run.add_argument("--prove-rules", action="store_true",
                     help="after the month, prove alerts.rules.yml against the replay with promtool test rules")
    run.add_argument("--service-regex", help="path regex with a (?P<service>...) group")
    run.add_argument("--service", help="a fixed service name for every request (logs of one service)")
    run.add_argument("--runbooks", action="append", help="runbook YAML file (repeatable; default examples/runbooks.yaml)")
    run.add_argument("--fail-on-breach", action="store_true", help="exit 3 when any SLO failed")
    run.add_argument("--every-day", action="store_true",
                     help="parse and measure every day again (default: only days whose logs, specs or code changed since their last run)")
    run.add_argument("-v", "--verbose", action="store_true", help="print each run as it finishes")
    run.set_defaults(func=cmd_run)

    report = commands.add_parser("report", help="write the self-contained HTML report of a month already run")
    report.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    report.add_argument("--out", required=True, help="an .html file, or a folder: OUT/YYYY-MM/report.html")
    report.add_argument("--warehouse", default=os.environ.get("SLO_ASSETS_WAREHOUSE", "data/warehouse"),
                        help="the warehouse the month was run into (default $SLO_ASSETS_WAREHOUSE or data/warehouse)")
    report.set_defaults(func=cmd_report)

    review = commands.add_parser("review", help="review a quarter or a year of months already run: compliance, budget, "
                                                "incidents, trend, anomalies (the quarterly_review / yearly_review assets)")
    review.add_argument("--period", type=_period, required=True, help="YYYY-Qn (a quarter) or YYYY (a year)")
    review.add_argument("--out", required=True, help="writes OUT/reviews/PERIOD/review.html and review.json")
    review.add_argument("--warehouse", default=os.environ.get("SLO_ASSETS_WAREHOUSE", "data/warehouse"),
                        help="the warehouse the months were run into (default $SLO_ASSETS_WAREHOUSE or data/warehouse)")
    review.set_defaults(func=cmd_review)

    ack = commands.add_parser("ack", help="acknowledge a breach: its escalation stops (recorded in the instance, $DAGSTER_HOME)")
    ack.add_argument("breach", help="the plan entry's fingerprint, or MONTH/SLO")
    ack.add_argument("--by", default=os.environ.get("USER", "unknown"), help="who acknowledges (default $USER)")
    ack.add_argument("--warehouse", default=os.environ.get("SLO_ASSETS_WAREHOUSE", "data/warehouse"),
                     help="where the plans are (default $SLO_ASSETS_WAREHOUSE or data/warehouse)")
    ack.set_defaults(func=cmd_ack)

    gate = commands.add_parser("gate", help="deploy gate: exit 0 when SERVICE may deploy, 1 when it should freeze "
                                            "(its error-budget policy), with the reason as JSON; 2 on bad input")
    gate.add_argument("--service", required=True)
    gate.add_argument("--slo", help="judge this SLO of the service only")
    gate.add_argument("--month", type=_month, help="YYYY-MM (default the newest month with a deploy_gate)")
    gate.add_argument("--warehouse", default=os.environ.get("SLO_ASSETS_WAREHOUSE", "data/warehouse"),
                      help="where deploy_gate is (default $SLO_ASSETS_WAREHOUSE or data/warehouse)")
    gate.set_defaults(func=cmd_gate)

    backtest = commands.add_parser("backtest", help="score each alert policy (the burn-rate tiers with the low-traffic gate on "
                                                    "and off, extra window pairs, the budget-state alerts) against the burn episodes of every month "
                                                    "in the warehouse: alerts and pages per week, detection delay, noise, misses")
    backtest.add_argument("--warehouse", default=os.environ.get("SLO_ASSETS_WAREHOUSE", "data/warehouse"),
                          help="the warehouse the months were run into (default $SLO_ASSETS_WAREHOUSE or data/warehouse)")
    backtest.add_argument("--month", type=_month, action="append", help="YYYY-MM (repeatable; default every month with sli_minutely)")
    backtest.add_argument("--pair", action="append", metavar="LONG/SHORT:FACTOR",
                          help="an extra policy paging when both windows burn above FACTOR, e.g. 30m/5m:10 (repeatable)")
    backtest.add_argument("--spec", action="append", help="OpenSLO YAML file (repeatable; default $SLO_ASSETS_SPECS or examples/slos.yaml)")
    backtest.add_argument("--alert-min-bad-events", type=_count, metavar="N",
                          help="the low-traffic gate of the 'gate on' policies (default 3)")
    backtest.add_argument("--json", action="store_true", help="print the table as JSON")
    backtest.set_defaults(func=cmd_backtest)

    serve = commands.add_parser("serve-metrics", help="serve a month's slo_metrics.prom on /metrics for Prometheus to scrape "
                                                      "(re-read at each scrape), with slo_assets_exposition_age_seconds")
    serve.add_argument("--warehouse", default=os.environ.get("SLO_ASSETS_WAREHOUSE", "data/warehouse"),
                       help="the warehouse the month is materialized into (default $SLO_ASSETS_WAREHOUSE or data/warehouse)")
    serve.add_argument("--month", type=_month_or_current, default="current",
                       help="YYYY-MM, or current (default): the running month, followed across month ends")
    serve.add_argument("--port", type=_port, default=9464, help="TCP port (default 9464; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1; others need --allow-remote)")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    serve.set_defaults(func=cmd_serve_metrics)

    demo = commands.add_parser("demo", help="generate a sample month and materialize the asset graph for it")
    demo.add_argument("--month", type=_log_month, default=DEMO_MONTH)
    demo.add_argument("--events", type=_positive, default=DEMO_EVENTS)
    demo.add_argument("-v", "--verbose", action="store_true", help="print each run as it finishes")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Every command runs guarded: bad input is one line and exit 2, anything else one line and exit 1 with
    # the traceback in a file; a traceback never reaches the screen, whichever command and argument.
    return _guarded(args.command, lambda: args.func(args))
