"""The `slo-assets` command."""

from __future__ import annotations

import argparse
import json
import os
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


def cmd_validate(args: argparse.Namespace) -> int:
    from slo_assets.slo.spec import SpecError, load_specs

    try:
        specs = load_specs([Path(p) for p in args.files])
    except SpecError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s)", file=sys.stderr)
        return 1
    for warning in specs.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    windows = sum(len(s.objectives) * len(s.windows) for s in specs.slos)
    print(f"ok: {len(specs.slos)} SLOs, {windows} SLO windows, {len(specs.policies)} alert policies in {len(args.files)} file(s)")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from slo_assets.outputs.rules import RulesError, build_rules, render, spec_annotations
    from slo_assets.slo.spec import SpecError, load_specs

    paths = [Path(p) for p in args.files]
    try:
        print(render(build_rules(load_specs(paths), spec_annotations(paths), page=not args.no_page, ticket=not args.no_ticket)), end="")
    except (SpecError, RulesError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0


class InputError(ValueError):
    """Bad command-line input; the message says what and where."""


def _run_month(month: str, logs: Path, specs: list[Path], out: Path, warehouse: Path, fmt: str, service_regex: str | None,
               verbose: bool, project: Path, runbooks: list[Path] | None = None) -> tuple[object, dict, dict]:
    from slo_assets.defs.remediation import Remediation
    from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
    from slo_assets.remediation.runbooks import RunbookError
    from slo_assets.ingest.config import ConfigError, ParseConfig
    from slo_assets.orchestrate import instance_from_env, materialize_month
    from slo_assets.slo.spec import load_specs

    if not logs.is_dir():
        raise InputError(f"--logs {logs}: not a folder")
    load_specs(specs)  # SpecError names file, document and field before anything runs
    remediation = Remediation(runbook_paths=[str(p.resolve()) for p in runbooks]) if runbooks else Remediation()
    try:
        remediation.runbooks()
    except RunbookError as error:
        raise InputError("invalid runbooks:\n" + "\n".join(error.problems)) from error
    source = {"root": str(logs.resolve()), "format": fmt}
    if service_regex:
        source["service_regex"] = service_regex
    try:
        ParseConfig(format=fmt, **({"service_regex": service_regex} if service_regex else {}))
    except ConfigError as error:
        raise InputError(str(error)) from error
    resources = {
        "log_source": LogSource(**source),
        "warehouse": WarehouseResource(base=str(warehouse.resolve())),
        "slo_settings": SloSettings(spec_paths=[str(p.resolve()) for p in specs]),
        "remediation": remediation,
    }
    instance = instance_from_env(project)
    outcome = materialize_month(month, resources, instance, progress=print if verbose else _dot)
    if not verbose:
        print()
    if outcome.failed_runs:
        raise InputError(f"runs failed: {', '.join(outcome.failed_runs)} (see the runs in the Dagster UI: {instance.root_directory})")
    target = out / month
    target.mkdir(parents=True, exist_ok=True)
    documents = {}
    for name in ("compliance", "error_budgets", "remediation_plan"):
        payload = (warehouse / name / f"{month}.json").read_bytes()
        (target / f"{name}.json").write_bytes(payload)
        documents[name] = json.loads(payload)
    from slo_assets.outputs.prometheus import exposition
    from slo_assets.outputs.rules import build_rules, render, spec_annotations

    (target / "slo_metrics.prom").write_bytes(exposition(documents["compliance"], documents["error_budgets"]))
    (target / "alerts.rules.yml").write_text(render(build_rules(load_specs(specs), spec_annotations(specs))))
    from slo_assets.outputs.report import write_report
    from slo_assets.storage import Warehouse

    write_report(Warehouse(warehouse.resolve()), month, target / "report.html")
    return outcome, documents, {"instance": instance.root_directory, "out": target}


def _dot(_: str) -> None:
    print(".", end="", flush=True)


def _print_summary(outcome, documents: dict, where: dict, warehouse: Path) -> None:
    compliance = documents["compliance"]
    print(f"{compliance['period']}: {len(outcome.run_ids)} runs in {outcome.seconds:.1f} s, "
          f"{compliance['data_quality']['rows']} requests, {compliance['data_quality']['quarantined_lines']} quarantined lines")
    for entry in compliance["slos"]:
        sli = "n/a" if entry["sli"] is None else f"{entry['sli'] * 100:.4f}%"
        left = entry["error_budget"]["remaining_ratio"]
        left = "n/a" if left is None else f"{left * 100:.1f}%"
        print(f"  {entry['status']:<17} {entry['slo']:<28} {entry['window']:<14} SLI {sli:<10} target {entry['target'] * 100:g}%  budget left {left}")
    summary = compliance["summary"]
    print(f"  summary: {summary['met']} met, {summary['at_risk']} at risk, {summary['failed']} failed, "
          f"{summary['insufficient_data']} insufficient data")
    if outcome.failed_checks:
        print("  failed checks: " + ", ".join(outcome.failed_checks))
    print(f"\n  {where['out'] / 'compliance.json'}\n  {where['out'] / 'error_budgets.json'}\n  {where['out'] / 'remediation_plan.json'}\n  {where['out'] / 'slo_metrics.prom'}\n  {where['out'] / 'alerts.rules.yml'}\n  {where['out'] / 'report.html'}")
    print(f"  warehouse: {warehouse}   instance: {where['instance']} (SQLite)")
    print("\nopen the UI (binds 127.0.0.1 only):")
    print(f"  DAGSTER_HOME={where['instance']} .venv/bin/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml")


def cmd_run(args: argparse.Namespace) -> int:
    from slo_assets.slo.spec import SpecError

    out = Path(args.out)
    warehouse = Path(args.warehouse) if args.warehouse else out / "warehouse"
    try:
        outcome, documents, where = _run_month(args.month, Path(args.logs), [Path(s) for s in args.spec], out, warehouse,
                                               args.format, args.service_regex, args.verbose, _project_root(),
                                               [Path(r) for r in args.runbooks or []])
    except SpecError as error:
        print("\n".join(error.problems), file=sys.stderr)
        return 2
    except InputError as error:
        print(f"slo-assets run: {error}", file=sys.stderr)
        return 2
    _print_summary(outcome, documents, where, warehouse)
    if args.fail_on_breach and documents["compliance"]["summary"]["failed"]:
        return 3
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from slo_assets.outputs.report import ReportError, write_report
    from slo_assets.storage import Warehouse

    out = Path(args.out)
    target = out if out.suffix in (".html", ".htm") else out / args.month / "report.html"
    try:
        size = write_report(Warehouse(args.warehouse), args.month, target)
    except ReportError as error:
        print(f"slo-assets report: {error}", file=sys.stderr)
        return 2
    print(f"wrote {target} ({size / 1024:.0f} KiB)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from slo_assets.generate import write_logs

    root = _project_root()
    logs = root / "data" / "sample" / "logs"
    if not _sample_is_current(logs, args.month, args.events, DEMO_SEED):
        print(f"generating {args.events} sample requests for {args.month} in {logs} ...")
        write_logs(logs, args.month, args.events, "jsonl", DEMO_SEED, malformed_ratio=0.0005)
    else:
        print(f"using sample logs in {logs}")
    spec = root / "examples" / "slos.yaml"
    if not spec.exists():
        spec = Path(__file__).resolve().parents[1] / "examples" / "slos.yaml"
    print(f"materializing every asset for {args.month} (specs: {spec}) ", end="", flush=True)
    try:
        outcome, documents, where = _run_month(args.month, logs, [spec], root / "out", root / "data" / "warehouse", "auto",
                                               None, args.verbose, root)
    except InputError as error:
        print(f"slo-assets demo: {error}", file=sys.stderr)
        return 1
    _print_summary(outcome, documents, where, root / "data" / "warehouse")
    return 0


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
                                                  "slo_metrics.prom, alerts.rules.yml, report.html")
    run.add_argument("--warehouse", help="Parquet warehouse folder (default OUT/warehouse)")
    run.add_argument("--format", choices=["auto", "jsonl", "combined"], default="auto")
    run.add_argument("--service-regex", help="path regex with a (?P<service>...) group")
    run.add_argument("--runbooks", action="append", help="runbook YAML file (repeatable; default examples/runbooks.yaml)")
    run.add_argument("--fail-on-breach", action="store_true", help="exit 3 when any SLO failed")
    run.add_argument("-v", "--verbose", action="store_true", help="print each run as it finishes")
    run.set_defaults(func=cmd_run)

    report = commands.add_parser("report", help="write the self-contained HTML report of a month already run")
    report.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    report.add_argument("--out", required=True, help="an .html file, or a folder: OUT/YYYY-MM/report.html")
    report.add_argument("--warehouse", default=os.environ.get("SLO_ASSETS_WAREHOUSE", "data/warehouse"),
                        help="the warehouse the month was run into (default $SLO_ASSETS_WAREHOUSE or data/warehouse)")
    report.set_defaults(func=cmd_report)

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
