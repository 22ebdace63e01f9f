"""`slo-assets run`: a month of a log folder materialized through Dagster, its outputs published, a summary printed."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from slo_assets.cli.common import (
    INSTANCE_CONFIG,
    InputError,
    _check_warehouse,
    _check_writable,
    _count,
    _guarded,
    _month,
    _project_root,
    _ratio,
    stage_dir,
    warehouse_location,
)
from slo_assets.defs.settings import LocationSettings


@dataclass(frozen=True)
class RunRequest:
    """What `run` (and `demo`) were asked to do."""

    month: str
    logs: Path
    specs: list[Path]
    out: Path
    warehouse: str  # a resolved local folder or an fsspec URL (s3://bucket/prefix)
    fmt: str = "auto"
    service_regex: str | None = None
    service: str | None = None
    log_format: str | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    alert_min_bad_events: int | None = None
    coverage_floor: float | None = None
    block_below_coverage_floor: bool = False
    prove_rules: bool = False
    runbooks: list[Path] = field(default_factory=list)
    verbose: bool = False
    every_day: bool = False  # run the days again even when nothing they are made from changed
    source: str = ""  # the log source (defs/sources.py): its own asset family and warehouse; "" is the default source (the demo)


def _settings(request: RunRequest) -> LocationSettings:
    """The code location's settings for this run: the environment's, with its month (which the partitions must
    cover, whatever the warehouse holds) and, for the default source, its warehouse; a named source's
    warehouse is its registry entry's."""
    settings = replace(LocationSettings.from_environ(), earliest_month=request.month, source=request.source,
                       home=os.environ.get("DAGSTER_HOME", ""))
    return settings if request.source else replace(settings, warehouse=request.warehouse)


def _check_out_folder(home: str, request: RunRequest) -> None:
    """OUT/YYYY-MM holding another source's outputs is refused: a second source's month would replace them."""
    from slo_assets.defs.sources import DEFAULT_SOURCE, publisher_of

    target = request.out / request.month
    owner = publisher_of(home, target)
    mine = request.source or DEFAULT_SOURCE
    if owner is not None and owner != mine and target.exists():
        whose = "the default source's (the demo's)" if owner == DEFAULT_SOURCE else f"source {owner}'s"
        raise InputError(f"--out {request.out}: {target} holds {whose} outputs of {request.month}; give this source its own "
                         f"folder (e.g. --out {request.out / mine}) so neither replaces the other")


def _source_entry(request: RunRequest, resources: dict):
    """The registry entry of the source this run reads (recorded once the run published its month)."""
    from slo_assets.defs.sources import SourceEntry

    log_source = {key: value for key, value in resources["log_source"].model_dump().items() if key != "by_source"}
    return SourceEntry(name=request.source, warehouse=request.warehouse, stage_dir=stage_dir(request.warehouse) or "",
                       log_source=log_source, spec_paths=list(resources["slo_settings"].spec_paths))


def _resources(request: RunRequest) -> dict:
    from slo_assets.defs.remediation.assets import Remediation
    from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
    from slo_assets.ingest.config import DEFAULT_EXCLUDE, ConfigError
    from slo_assets.remediation.runbooks import RunbookError

    remediation = Remediation(runbook_paths=[str(p.resolve()) for p in request.runbooks]) if request.runbooks else Remediation()
    try:
        remediation.runbooks()
    except RunbookError as error:
        raise InputError("invalid runbooks:\n" + "\n".join(error.problems)) from error
    source: dict = {"root": str(request.logs.resolve()), "format": request.fmt}
    if request.service_regex:
        source["service_regex"] = request.service_regex
    if request.service:
        source.update(service_source="fixed", service_name=request.service)
    if request.log_format:
        source["log_format"] = request.log_format
    if request.include:
        source["include"] = request.include
    if request.exclude:
        source["exclude"] = [*DEFAULT_EXCLUDE, *request.exclude]
    log_source = LogSource(**source)
    try:
        log_source.parse_config()
    except ConfigError as error:
        raise InputError(str(error)) from error
    return {
        "log_source": log_source,
        "warehouse": WarehouseResource(base=request.warehouse, stage_dir=stage_dir(request.warehouse)),
        "slo_settings": SloSettings(spec_paths=[str(p.resolve()) for p in request.specs],
                                    block_outputs_below_coverage_floor=request.block_below_coverage_floor,
                                    **({} if request.alert_min_bad_events is None else {"alert_min_bad_events": request.alert_min_bad_events}),
                                    **({} if request.coverage_floor is None else {"coverage_floor": request.coverage_floor})),
        "remediation": remediation,
    }


def _as_made(folder: Path) -> None:
    """A mkdtemp folder (0700) given the mode a plain mkdir would have had under the user's umask."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)


def _write_outputs(request: RunRequest) -> tuple[dict, Path]:
    """Copy the month's published files from the warehouse (where its assets wrote them) into
    OUT/YYYY-MM/, all or nothing: they go to a scratch folder beside it, swapped in once complete,
    so a failure leaves the previous outputs."""
    from slo_assets.warehouse import layout
    from slo_assets.warehouse.storage import Warehouse

    store = Warehouse(request.warehouse)
    target = request.out / request.month
    request.out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{request.month}.partial-", dir=request.out))
    _as_made(scratch)  # it becomes OUT/YYYY-MM: readable as any folder the user makes (a web server serves report.html)
    try:
        documents = {}
        for dataset in layout.PUBLISHED:
            source = dataset.path(store, request.month)
            if dataset.has_members:  # the incident review drafts: as many as the month has incidents, maybe none
                for member in dataset.members(store, request.month):
                    copy = scratch / layout.file_name(dataset, member)
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    copy.write_bytes(dataset.path(store, request.month, member).read_bytes())
                continue
            if not source.exists():
                raise InputError(f"{source} was not written: the monthly chain did not finish (see the runs in the Dagster UI)")
            payload = source.read_bytes()
            (scratch / layout.file_name(dataset)).write_bytes(payload)
            if dataset.template.endswith(".json"):
                documents[dataset.key] = json.loads(payload)
        previous = None
        if target.exists():
            previous = Path(tempfile.mkdtemp(prefix=f".{request.month}.previous-", dir=request.out))
            os.replace(target, previous / "outputs")
        os.replace(scratch, target)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return documents, target


def _members_text(dataset, folder: Path) -> str:
    """What a published folder holds: the incident review drafts, or why there is none."""
    from slo_assets.warehouse import layout

    if not dataset.has_members:
        return ""
    drafts = sorted((folder / layout.file_name(dataset)).glob("*.md"))
    if not drafts:
        return "/ (no incident this month: no review draft)"
    return f"/ ({len(drafts)} incident review draft{'s' if len(drafts) != 1 else ''}: {', '.join(d.name for d in drafts[:3])}" + (
        ", ...)" if len(drafts) > 3 else ")")


def _run_month(request: RunRequest, project: Path):
    from slo_assets.core import clock
    from slo_assets.openslo.spec import load_specs

    if request.logs.is_file():  # the folder is the unit of the file index: say how to read just this file
        raise InputError(f"--logs {request.logs}: a file; --logs takes the folder the logs are in: "
                         f"--logs {shlex.quote(str(request.logs.parent))} --include {shlex.quote(request.logs.name)}")
    if not request.logs.is_dir():
        raise InputError(f"--logs {request.logs}: not a folder")
    if request.out.exists() and not request.out.is_dir():
        raise InputError(f"--out {request.out}: is a file, not a folder")
    specs = load_specs(request.specs)  # SpecError names file, document and field before anything runs
    for warning in specs.warnings:  # as validate says them: a mistyped annotation silently drops what it set
        print(f"warning: {warning}", file=sys.stderr)
    clock.pinned()  # SLO_ASSETS_NOW: one line now rather than a failure inside a run
    if request.prove_rules:
        from slo_assets.slo.rules_proof import PROMTOOL_INSTALL, find_promtool

        if find_promtool() is None:
            raise InputError(f"--prove-rules needs promtool, which is not installed: {PROMTOOL_INSTALL}")
    _check_warehouse(request.warehouse)
    _check_writable("--out", request.out)
    from slo_assets.cli.orchestrate import instance_from_env, materialize_month
    from slo_assets.core.progress import for_stream
    from slo_assets.defs.partitions import resolve_range

    instance = instance_from_env(project / INSTANCE_CONFIG)
    settings = _settings(request)
    _check_out_folder(settings.home, request)
    reason = resolve_range(replace(settings, warehouse=request.warehouse)).why_not(request.month)
    if reason:
        raise InputError(reason)
    resources = _resources(request)
    entry = _source_entry(request, resources) if request.source else None
    outcome = materialize_month(request.month, resources, instance, progress=for_stream(sys.stdout, request.verbose),
                                prove_rules=request.prove_rules, every_day=request.every_day, settings=settings,
                                refuse=lambda found: _refusal(found, request), source=entry)
    if outcome.refused:
        raise InputError(f"{outcome.refused}\nnothing was published: {request.out / request.month} and the warehouse's days and "
                         f"outputs of {request.month} keep what the last good run wrote")
    if outcome.failed_runs:
        raise InputError("runs failed (the Dagster UI shows each run; DAGSTER_HOME " + os.environ["DAGSTER_HOME"] + "):\n  "
                         + "\n  ".join(outcome.failed_runs))
    from slo_assets.cli.plausibility import warn_implausible

    warn_implausible(resources, specs, outcome.days_with_data)  # a wrong field read as the request time: say which preset
    from slo_assets.defs.sources import DEFAULT_SOURCE, record_published, record_source

    if entry is not None:  # the UI and the daemon find the source from now on, as this run read it
        record_source(settings.home, entry)
    documents, target = _write_outputs(request)
    record_published(settings.home, target, request.source or DEFAULT_SOURCE)
    return outcome, documents, {"instance": os.environ["DAGSTER_HOME"], "out": target}  # set by instance_from_env


def _refusal(outcome, request: RunRequest) -> str | None:
    """Why the month must stop once the logs are indexed (ingest/publishable.py): no log file read, most lines
    rejected (a wrong --format or field mapping), or a closed month without a line (a wrong --month). Each would
    replace the days and outputs of an earlier good run."""
    from slo_assets.core import clock
    from slo_assets.ingest import publishable as U

    found = U.refusal(outcome.index, request.month, clock.now_ms()) if outcome.index is not None else None
    if found is None:
        return None
    if found.kind == U.NO_FILE_READ:
        listed = f" ({found.detail}, listed above)" if "not read" in found.detail else f" ({found.detail})"
        return (f"--logs {request.logs}: no log file was read{listed}, so nothing was measured. "
                "Check --logs, --include and --exclude (docs/log-formats.md)")
    if found.kind == U.MOSTLY_REJECTED:
        files = "".join(f"\n  {line}" for line in outcome.rejected_files[:10])
        return f"{found.detail}. Are these logs what --format says? (auto sniffs each file; see docs/log-formats.md){files}"
    return f"--month {request.month}: the logs hold no line of it; they hold {found.detail}: did you mean --month {found.nearest_month}?"


def _nothing_measured(outcome, documents: dict, request: RunRequest) -> str | None:
    """Why the month measured nothing when the user must act: requests read of which no SLO counted one
    (a service name or filter that matches nothing)."""
    from slo_assets.slo.evaluation import MonthEvaluations

    rows = documents["compliance_report"]["data_quality"]["rows"]
    windows = MonthEvaluations.from_documents(documents["compliance_report"], documents["error_budgets"]).windows
    if not rows or not windows or any(w.total for w in windows):
        return None
    wanted = sorted({w.service for w in windows})
    seen = _services_in_month(request, documents["compliance_report"]["period"])
    return (f"none of the {rows:,} requests of {documents['compliance_report']['period']} counted for any SLO: the SLOs measure "
            f"service(s) {', '.join(wanted)}; the logs hold {', '.join(seen[:10]) or 'no service name'}"
            f"{' ...' if len(seen) > 10 else ''}. Check each SLO's service and filters (slo-assets validate), or "
            "--service / --service-regex")


def _services_in_month(request: RunRequest, month: str) -> list[str]:
    """The service names in the month's parsed days, most requests first."""
    from collections import Counter

    import pyarrow.compute as pc

    from slo_assets.core.calendar import month_days
    from slo_assets.warehouse import layout
    from slo_assets.warehouse.storage import Warehouse

    store, counts = Warehouse(request.warehouse), Counter()
    for day in month_days(month):
        path = layout.PARSED_LOGS.path(store, day)
        if path.exists():
            for pair in pc.value_counts(store.read_table(path, columns=["service"]).column("service")).to_pylist():
                counts[pair["values"]] += pair["counts"]
    return [service for service, _ in counts.most_common()]


def _honesty_text(window) -> str:
    """What the line adds when a window's figure is weaker than it looks: not significant, under the coverage floor."""
    notes = []
    if window.confidence is not None and not window.confidence.significant:
        notes.append("not significant")
    if window.status_note:
        notes.append(window.status_note)
    return f"  ({'; '.join(notes)})" if notes else ""


def _print_summary(outcome, documents: dict, where: dict, request: RunRequest) -> None:
    compliance = documents["compliance_report"]
    print(f"{compliance['period']}: {len(outcome.run_ids)} runs in {outcome.seconds:.1f} s, "
          f"{compliance['data_quality']['rows']:,} requests, {compliance['data_quality']['quarantined_lines']:,} quarantined lines")
    from slo_assets.slo.evaluation import MonthEvaluations

    for window in MonthEvaluations.from_documents(compliance, documents["error_budgets"]).windows:
        sli = "n/a" if window.sli is None else f"{window.sli * 100:.4f}%"
        left = window.error_budget.remaining_ratio
        left = "n/a" if left is None else f"{left * 100:.1f}%"
        objective = window.objective_name or window.objective  # two objectives of one SLO read apart
        print(f"  {window.status:<17} {window.slo:<28} {window.window:<14} SLI {sli:<10} target {window.target * 100:g}%  "
              f"budget left {left:<8} {objective}" + _honesty_text(window))
    summary = compliance["summary"]
    print(f"  summary: {summary['met']} met, {summary['at_risk']} at risk, {summary['failed']} failed, "
          f"{summary.get('insufficient_coverage', 0)} insufficient coverage, {summary['insufficient_data']} insufficient data")
    for proof in outcome.rules_proof:
        print(f"  rules proof: {proof['slos_proven']} SLOs proven by promtool at {proof['alert_tests']} alert tests, "
              f"{proof['firings']} replayed firings ({proof['firings_not_sampled']} not sampled), {proof['slos_not_provable']} not provable")
    if outcome.failed_checks:
        print("  failed checks: " + ", ".join(outcome.failed_checks))
    from slo_assets.warehouse import layout
    from slo_assets.warehouse.storage import Warehouse

    gate_path = layout.DEPLOY_GATE.path(Warehouse(request.warehouse), compliance["period"])
    if gate_path.exists():
        gates = json.loads(gate_path.read_bytes())["services"]
        print("  deploy gate (slo-assets gate --service S): " + ", ".join(
            f"{g['service']} {g['decision']}" + (f" ({g['reasons'][0]['message']})" if g["reasons"] else "") for g in gates))
    backtest_path = layout.ALERT_BACKTEST.path(Warehouse(request.warehouse), compliance["period"])
    if backtest_path.exists():
        from slo_assets.slo import backtest as T

        rows = [T.PolicyScore.from_json(row) for row in json.loads(backtest_path.read_bytes())["rows"]]
        print("\n  alert-policy backtest (slo-assets backtest --warehouse W --spec S; docs/backtest.md):\n" + T.markdown(rows))

    print("\n" + "\n".join(f"  {where['out'] / layout.file_name(dataset)}" + _members_text(dataset, where['out'])
                            for dataset in layout.PUBLISHED))
    print(f"  warehouse: {request.warehouse}   instance: DAGSTER_HOME={where['instance']}")
    if request.source:
        print(f"\nopen the UI (binds 127.0.0.1 only); this source's assets are the group {request.source} "
              f"(keys {request.source}/...), beside every other source of the instance:")
        env: dict[str, object] = {"DAGSTER_HOME": where["instance"]}
    else:
        print("\nopen the UI on this month's data (binds 127.0.0.1 only):")
        env = {"DAGSTER_HOME": where["instance"], "SLO_ASSETS_WAREHOUSE": request.warehouse,
               "SLO_ASSETS_LOG_DIR": request.logs.resolve(), "SLO_ASSETS_SPECS": ",".join(str(p.resolve()) for p in request.specs)}
        if stage_dir(request.warehouse):
            env["SLO_ASSETS_STAGE_DIR"] = stage_dir(request.warehouse)
    checkout = Path(__file__).resolve().parents[2]  # the pyproject.toml with [tool.dg] beside this code (a source checkout)
    project = checkout if (checkout / "pyproject.toml").exists() else Path.cwd()
    print("  " + " ".join(f"{k}={shlex.quote(str(v))}" for k, v in env.items())
          + f" {shlex.quote(str(Path(sys.executable).with_name('dg')))} dev --target-path {shlex.quote(str(project))}"
          + " -h 127.0.0.1 -p 3000")


def cmd_run(args: argparse.Namespace) -> int:
    from slo_assets.core.clock import SettingError
    from slo_assets.defs.settings import default_warehouse
    from slo_assets.defs.sources import source_name, source_warehouse

    out = Path(args.out)
    try:
        source = source_name(args.source or Path(args.logs).resolve().name)
    except SettingError as error:
        print(f"slo-assets run: --source: {error}", file=sys.stderr)
        return 2
    request = RunRequest(month=args.month, logs=Path(args.logs), specs=[Path(s) for s in args.spec], out=out, source=source,
                         warehouse=warehouse_location(args.warehouse or source_warehouse(default_warehouse(), source)), fmt=args.format,
                         service_regex=args.service_regex, service=args.service, log_format=args.log_format,
                         include=args.include or [], exclude=args.exclude or [], alert_min_bad_events=args.alert_min_bad_events,
                         coverage_floor=args.coverage_floor, block_below_coverage_floor=args.block_below_coverage_floor,
                         prove_rules=args.prove_rules,
                         runbooks=[Path(r) for r in args.runbooks or []], verbose=args.verbose, every_day=args.every_day)

    def body() -> int:
        outcome, documents, where = _run_month(request, _project_root())
        _print_summary(outcome, documents, where, request)
        problem = _nothing_measured(outcome, documents, request)
        if problem:
            print(f"slo-assets run: {problem}", file=sys.stderr)
            return 2
        if args.fail_on_breach and documents["compliance_report"]["summary"]["failed"]:
            return 3
        return 0

    return _guarded("run", body)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The command of this module and its arguments."""
    run = commands.add_parser("run", help="materialize a month end to end from a log folder and OpenSLO specs")
    run.add_argument("--logs", required=True, help="folder of access logs (searched recursively)")
    run.add_argument("--spec", required=True, action="append", help="OpenSLO YAML file (repeatable)")
    run.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    run.add_argument("--out", required=True, help="writes OUT/YYYY-MM/: compliance.json, error_budgets.json, remediation_plan.json, "
                                                  "slo_metrics.prom, alerts.rules.yml, two Grafana dashboards (grafana-*.json), report.html")
    run.add_argument("--source", help="the log source's name: its own assets (keys SOURCE/...), partitions and warehouse in the "
                                      "instance (default: the logs folder's name, e.g. nginx for /var/log/nginx)")
    run.add_argument("--warehouse", help="the source's Parquet warehouse: a folder or an fsspec URL such as s3://bucket/prefix "
                                         "(default $SLO_ASSETS_WAREHOUSE/sources/SOURCE, else data/warehouse/sources/SOURCE)")
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
