"""The `slo-assets` command."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

DEMO_MONTH = "2026-10"
DEMO_EVENTS = 200_000
DEMO_SEED = 42
# The instance settings, at the project root, which is DAGSTER_HOME unless it is set (slo_assets/defs/instance.py).
INSTANCE_CONFIG = Path("dagster.yaml")


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"month must be YYYY-MM, not {value!r}")
    return value


def _count(value: str) -> int:
    """A whole number of events, 0 or more."""
    if not re.fullmatch(r"\d+", value.strip()):
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more, not {value!r}")
    return int(value)


def _period(value: str) -> str:
    """YYYY-Qn or YYYY, as the review's partition key: a quarter's first month (2026-Q4 -> 2026-10), or the year."""
    quarter = re.fullmatch(r"(\d{4})-Q([1-4])", value)
    if quarter:
        return f"{quarter.group(1)}-{(int(quarter.group(2)) - 1) * 3 + 1:02d}"
    if re.fullmatch(r"\d{4}", value):
        return value
    raise argparse.ArgumentTypeError(f"period must be YYYY-Qn (a quarter) or YYYY (a year), not {value!r}")


def _ratio(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, not {value!r}")
    return number


def _project_root() -> Path:
    """The project folder (holding dagster.yaml): the current one when it has it, else the source checkout."""
    here = Path.cwd()
    if (here / INSTANCE_CONFIG).exists():
        return here
    return Path(__file__).resolve().parents[1]


def cmd_generate_logs(args: argparse.Namespace) -> int:
    from slo_assets.ingest.generate import write_logs

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
    from slo_assets.outputs.rules import build_rules, render, spec_annotations
    from slo_assets.openslo.spec import load_specs

    paths = [Path(p) for p in args.files]
    try:
        print(render(build_rules(load_specs(paths), spec_annotations(paths), page=not args.no_page, ticket=not args.no_ticket)), end="")
    except DefinitionError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


class InputError(ValueError):
    """Bad command-line input; the message says what and where."""




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


def _prepare_environment(request: RunRequest) -> None:
    """Point the partitions at this run's warehouse and month before the definitions are imported."""
    from slo_assets.defs.resources import EARLIEST_MONTH_SETTING, WAREHOUSE_SETTING

    os.environ[WAREHOUSE_SETTING] = request.warehouse
    os.environ[EARLIEST_MONTH_SETTING] = request.month


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


def _check_writable(option: str, folder: Path) -> None:
    """The folder exists or can be made, and takes a file: said before any run starts."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".slo-assets-probe-"):
            pass
    except OSError as error:
        raise InputError(f"{option} {folder}: cannot write there ({type(error).__name__}: {error.strerror or error})") from error


def _is_url(warehouse: str) -> bool:
    from fsspec.core import split_protocol

    from slo_assets.warehouse.storage import LOCAL_PROTOCOLS

    return (split_protocol(warehouse)[0] or "") not in LOCAL_PROTOCOLS


def warehouse_location(value: str) -> str:
    """A warehouse argument as the resources take it: an fsspec URL unchanged, a local folder made absolute."""
    return value if _is_url(value) else str(Path(value.removeprefix("file://")).resolve())


def existing_warehouse(value: str | os.PathLike):
    """The warehouse a command reads: a local folder must exist (a typo is not an empty warehouse)."""
    from slo_assets.warehouse.storage import Warehouse

    if not _is_url(str(value)):
        folder = Path(str(value).removeprefix("file://"))
        if not folder.is_dir():
            raise InputError(f"--warehouse {value}: {'not a folder' if folder.exists() else 'does not exist'}")
        return Warehouse(folder.resolve())
    try:
        return Warehouse(str(value))
    except (ImportError, ValueError) as error:
        raise InputError(f"--warehouse {value}: {error}") from error


def stage_dir(warehouse: str) -> str:
    """The local parse cache: $SLO_ASSETS_STAGE_DIR, else <warehouse>/_staging on local disk, else
    data/staging under the working folder (an object store cannot hold it)."""
    from slo_assets.defs.resources import STAGE_SETTING

    chosen = os.environ.get(STAGE_SETTING)
    if chosen:
        return str(Path(chosen).resolve())
    return str(Path("data", "staging").resolve()) if _is_url(warehouse) else ""


def _check_warehouse(warehouse: str) -> None:
    """A local warehouse folder takes a file; an object store warehouse takes (and drops) a probe
    object: bad credentials, a missing bucket or a missing fsspec package, said before any run."""
    from slo_assets.warehouse.storage import Warehouse

    try:
        store = Warehouse(warehouse)
    except (ImportError, ValueError) as error:
        raise InputError(f"--warehouse {warehouse}: {error}") from error
    if store.is_local:
        _check_writable("--warehouse", Path(warehouse))
        return
    probe = store.path(f".slo-assets-probe-{os.getpid()}")
    try:
        store.write_bytes_atomic(probe, b"")
        probe.unlink()
    except Exception as error:  # botocore, aiohttp, permission: each says what went wrong in its message
        raise InputError(f"--warehouse {warehouse}: cannot write there ({type(error).__name__}: {error})") from error


def _run_month(request: RunRequest, project: Path):
    from slo_assets.openslo.spec import load_specs

    from slo_assets.core import clock

    if request.logs.is_file():  # the folder is the unit of the file index: say how to read just this file
        raise InputError(f"--logs {request.logs}: a file; --logs takes the folder the logs are in: "
                         f"--logs {shlex.quote(str(request.logs.parent))} --include {shlex.quote(request.logs.name)}")
    if not request.logs.is_dir():
        raise InputError(f"--logs {request.logs}: not a folder")
    if request.out.exists() and not request.out.is_dir():
        raise InputError(f"--out {request.out}: is a file, not a folder")
    load_specs(request.specs)  # SpecError names file, document and field before anything runs
    clock.pinned()  # SLO_ASSETS_NOW: one line now rather than a failure inside a run
    if request.prove_rules:
        from slo_assets.slo.rules_proof import PROMTOOL_INSTALL, find_promtool

        if find_promtool() is None:
            raise InputError(f"--prove-rules needs promtool, which is not installed: {PROMTOOL_INSTALL}")
    _check_warehouse(request.warehouse)
    _check_writable("--out", request.out)
    _prepare_environment(request)
    from slo_assets.defs.partitions import RANGE

    reason = RANGE.why_not(request.month)
    if reason:
        raise InputError(reason)
    resources = _resources(request)
    from slo_assets.orchestrate import instance_from_env, materialize_month
    from slo_assets.core.progress import for_stream

    instance = instance_from_env(project / INSTANCE_CONFIG)
    outcome = materialize_month(request.month, resources, instance, progress=for_stream(sys.stdout, request.verbose),
                                prove_rules=request.prove_rules, every_day=request.every_day)
    if outcome.failed_runs:
        raise InputError("runs failed (the Dagster UI shows each run; DAGSTER_HOME " + os.environ["DAGSTER_HOME"] + "):\n  "
                         + "\n  ".join(outcome.failed_runs))
    documents, target = _write_outputs(request)
    return outcome, documents, {"instance": os.environ["DAGSTER_HOME"], "out": target}  # set by instance_from_env


def _rejected_line(outcome) -> str | None:
    """'10,000 of 10,000 lines rejected: invalid_json ...' when most lines read were rejected."""
    # mostly rejected: the logs were not read as what they are (a wrong --format); exit 2 after writing what could be
    note = outcome.index.rejected_note() if outcome.index is not None else None
    if note is None:
        return None
    files = "".join(f"\n  {line}" for line in outcome.rejected_files[:10])
    return f"{note}. Are these logs what --format says? (auto sniffs each file; see docs/log-formats.md){files}"


def _nothing_measured(outcome, documents: dict, request: RunRequest) -> str | None:
    """Why the month measured nothing when the user must act: no log file read at all, or requests
    read of which no SLO counted one (a service name or filter that matches nothing)."""
    index = outcome.index
    if index is not None and index.files == 0:
        not_read = len(index.skipped) + len(index.unreadable)
        listed = f" ({not_read} file(s) not read, listed above)" if not_read else " (the folder holds no file)"
        return (f"--logs {request.logs}: no log file was read{listed}, so nothing was measured. "
                "Check --logs, --include and --exclude (docs/log-formats.md)")
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

    from slo_assets.warehouse import layout
    from slo_assets.core.calendar import month_days
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
          f"{summary['insufficient_data']} insufficient data")
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
    print("\nopen the UI on this month's data (binds 127.0.0.1 only):")
    env = {"DAGSTER_HOME": where["instance"], "SLO_ASSETS_WAREHOUSE": request.warehouse,
           "SLO_ASSETS_LOG_DIR": request.logs.resolve(), "SLO_ASSETS_SPECS": ",".join(str(p.resolve()) for p in request.specs)}
    if stage_dir(request.warehouse):
        env["SLO_ASSETS_STAGE_DIR"] = stage_dir(request.warehouse)
    checkout = Path(__file__).resolve().parents[1]  # the pyproject.toml with [tool.dg] beside this code (a source checkout)
    project = checkout if (checkout / "pyproject.toml").exists() else Path.cwd()
    print("  " + " ".join(f"{k}={shlex.quote(str(v))}" for k, v in env.items())
          + f" {shlex.quote(str(Path(sys.executable).with_name('dg')))} dev --target-path {shlex.quote(str(project))}"
          + " -h 127.0.0.1 -p 3000")


def _input_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input, each with a message naming what to fix. Imported only once a
    command failed, and never the partitions, which read their settings when imported."""
    from slo_assets.core.clock import SettingError
    from slo_assets.ingest.config import ConfigError
    from slo_assets.ingest.files import LogDiscoveryError

    return InputError, ConfigError, SettingError, LogDiscoveryError, OSError


def _guarded(command: str, body) -> int:
    """Run a command body; bad input exits 2 with its message, anything unexpected exits 1 with
    one line and the traceback in a file, never on the user's screen."""
    from slo_assets.core.errors import DefinitionError

    try:
        return body()
    except KeyboardInterrupt:
        print(f"slo-assets {command}: interrupted", file=sys.stderr)
        return 130
    except DefinitionError as error:  # specs, runbooks, rules: each problem names file, document and field
        print("\n".join(error.problems), file=sys.stderr)
        return 2
    except Exception as error:
        if isinstance(error, _input_errors()):
            print(f"slo-assets {command}: {error}", file=sys.stderr)
            return 2
        # a bug: say so in one line, keep the evidence
        with tempfile.NamedTemporaryFile("w", prefix="slo-assets-error-", suffix=".log", delete=False) as handle:
            traceback.print_exc(file=handle)
        print(f"slo-assets {command}: unexpected {type(error).__name__}: {error}\n  traceback: {handle.name} "
              "(please attach it to a bug report)", file=sys.stderr)
        return 1


def cmd_run(args: argparse.Namespace) -> int:
    from slo_assets.defs.resources import default_warehouse

    out = Path(args.out)
    request = RunRequest(month=args.month, logs=Path(args.logs), specs=[Path(s) for s in args.spec], out=out,
                         warehouse=warehouse_location(args.warehouse or default_warehouse()), fmt=args.format,
                         service_regex=args.service_regex, service=args.service, log_format=args.log_format,
                         include=args.include or [], exclude=args.exclude or [], alert_min_bad_events=args.alert_min_bad_events,
                         coverage_floor=args.coverage_floor, block_below_coverage_floor=args.block_below_coverage_floor,
                         prove_rules=args.prove_rules,
                         runbooks=[Path(r) for r in args.runbooks or []], verbose=args.verbose, every_day=args.every_day)

    def body() -> int:
        outcome, documents, where = _run_month(request, _project_root())
        _print_summary(outcome, documents, where, request)
        for problem in (_rejected_line(outcome), _nothing_measured(outcome, documents, request)):
            if problem:
                print(f"slo-assets run: {problem}", file=sys.stderr)
                return 2
        if args.fail_on_breach and documents["compliance_report"]["summary"]["failed"]:
            return 3
        return 0

    return _guarded("run", body)


def cmd_report(args: argparse.Namespace) -> int:
    from slo_assets.outputs.report import ReportError, write_report

    out = Path(args.out)
    target = out if out.suffix in (".html", ".htm") else out / args.month / "report.html"
    try:
        size = write_report(existing_warehouse(args.warehouse), args.month, target)
    except (ReportError, InputError) as error:
        print(f"slo-assets report: {error}", file=sys.stderr)
        return 2
    print(f"wrote {target} ({size / 1024:.0f} KiB)")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """Materialize quarterly_review or yearly_review from the months already run, then copy its two files out."""
    key, warehouse, out = args.period, Path(args.warehouse), Path(args.out)

    def body() -> int:
        from slo_assets.warehouse import layout
        from slo_assets.core.calendar import period_label, period_months
        from slo_assets.defs.resources import EARLIEST_MONTH_SETTING, WAREHOUSE_SETTING
        from slo_assets.warehouse.storage import write_file_atomic

        store = existing_warehouse(warehouse)
        _check_writable("--out", out)
        months = period_months(key)
        run_months = [m for m in months if layout.COMPLIANCE_REPORT.path(store, m).exists()]
        if not run_months:
            raise InputError(f"no month of {period_label(key)} ({months[0]} to {months[-1]}) was run into {warehouse}: "
                             "run `slo-assets run --month YYYY-MM` for its months first")
        location = warehouse_location(str(warehouse))  # a local folder made absolute, an object store URL as it is
        os.environ[WAREHOUSE_SETTING] = location
        os.environ[EARLIEST_MONTH_SETTING] = months[0]
        from slo_assets.defs.resources import WarehouseResource
        from slo_assets.orchestrate import instance_from_env, materialize_review

        instance = instance_from_env(_project_root() / INSTANCE_CONFIG)
        failed = materialize_review(key, {"warehouse": WarehouseResource(base=location)}, instance)
        if failed:
            raise InputError(f"the review run failed: {failed}")
        yearly = len(key) == 4
        target = out / "reviews" / period_label(key).replace(" ", "-")
        document, page = (layout.YEARLY_REVIEW, layout.YEARLY_REVIEW_HTML) if yearly else (layout.QUARTERLY_REVIEW, layout.QUARTERLY_REVIEW_HTML)
        review = document.path(store, key).read_bytes()
        write_file_atomic(target / layout.file_name(document), review)
        write_file_atomic(target / layout.file_name(page), page.path(store, key).read_bytes())
        summary = json.loads(review)["summary"]
        compliance = "n/a" if summary["compliance_percent"] is None else f"{summary['compliance_percent']:g}%"
        print(f"{period_label(key)}: {len(run_months)} of {len(months)} months run; compliance {compliance}; "
              f"{summary['incidents']} incidents; degrading: {', '.join(summary['degrading']) or 'none'}")
        print(f"  {target / layout.file_name(page)}\n  {target / layout.file_name(document)}")
        return 0

    return _guarded("review", body)


def cmd_demo(args: argparse.Namespace) -> int:
    from slo_assets.ingest.generate import write_logs

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
    print(f"materializing every asset for {args.month} (specs: {spec})", flush=True)
    request = RunRequest(month=args.month, logs=logs, specs=[spec], out=root / "out", warehouse=str(root / "data" / "warehouse"),
                         verbose=args.verbose)

    def body() -> int:
        outcome, documents, where = _run_month(request, root)
        _print_summary(outcome, documents, where, request)
        return 0

    return _guarded("demo", body)


BREACH_FORM = re.compile(r"[0-9a-f]{16}|\d{4}-\d{2}/[A-Za-z0-9][A-Za-z0-9._-]*")


def find_breach(store, breach: str) -> tuple[str, dict] | None:
    """(month, plan entry) of the newest plan naming the breach: its fingerprint, or month/slo."""
    from slo_assets.warehouse import layout

    for month in reversed(layout.REMEDIATION_PLAN.partitions(store)):
        plan = json.loads(layout.REMEDIATION_PLAN.path(store, month).read_bytes())
        for entry in plan["entries"]:
            if breach in (entry["fingerprint"], f"{month}/{entry['slo']}"):
                return month, entry
    return None


def cmd_ack(args: argparse.Namespace) -> int:
    """Acknowledge a breach: its escalation climbs no further (escalation_sensor reads the ack)."""
    def body() -> int:
        import dagster as dg

        from slo_assets.orchestrate import instance_from_env

        if not BREACH_FORM.fullmatch(args.breach):
            raise InputError(f"BREACH {args.breach!r}: give a plan entry's fingerprint (16 hex digits) or MONTH/SLO, e.g. 2026-02/checkout-availability")
        if not args.by.strip() or not args.by.isprintable():
            raise InputError(f"--by {args.by!r}: name who acknowledges (a person or team, printable text)")
        found = find_breach(existing_warehouse(args.warehouse), args.breach)
        if found is None:
            raise InputError(f"BREACH {args.breach}: no remediation plan under --warehouse {args.warehouse} names it")
        month, entry = found
        instance = instance_from_env(_project_root() / INSTANCE_CONFIG)
        instance.report_runless_asset_event(dg.AssetObservation(
            asset_key="breach_acks", metadata={"breach": args.breach, "by": args.by, "period": month, "slo": entry["slo"]}))
        print(json.dumps({"acknowledged": args.breach, "period": month, "slo": entry["slo"], "fingerprint": entry["fingerprint"],
                          "by": args.by, "instance": instance.root_directory}))
        return 0

    return _guarded("ack", body)


def cmd_gate(args: argparse.Namespace) -> int:
    """Exit 0 when the service may deploy, 1 when it should freeze, with the reason as JSON."""
    def body() -> int:
        from slo_assets.core import clock
        from slo_assets.warehouse import layout
        from slo_assets.slo.gate import GO, ServiceGate, verdict

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


def cmd_backtest(args: argparse.Namespace) -> int:
    """Score each alert policy against the burn episodes of every month in the warehouse (or those asked)."""
    def body() -> int:
        from slo_assets.warehouse import layout
        from slo_assets.core.calendar import month_days, previous_month
        from slo_assets.defs.resources import DEFAULT_SPECS, project_file
        from slo_assets.defs.warehouse_io import read_days
        from slo_assets.slo import backtest as T
        from slo_assets.slo.chain import Settings, data_period
        from slo_assets.slo.sli import MINUTE_SCHEMA
        from slo_assets.openslo.spec import load_specs

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
            minutes, days = read_days(store, layout.SLI_MINUTELY, month_days(previous_month(month)) + month_days(month), MINUTE_SCHEMA)
            measured |= set(minutes["slo"].unique().to_list())
            results.append(T.backtest_month(specs, minutes, data_period(month, days), settings, chosen))
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


def _port(value: str) -> int:
    """A TCP port, 0 (any free one, printed) to 65535."""
    if not re.fullmatch(r"\d{1,5}", value.strip()) or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, not {value!r}")
    return int(value)


def _month_or_current(value: str) -> str:
    return value if value == "current" else _month(value)


def cmd_serve_metrics(args: argparse.Namespace) -> int:
    """Serve a month's slo_metrics.prom on /metrics until SIGTERM or Ctrl-C."""
    def body() -> int:
        import signal
        import threading

        from prometheus_client import CollectorRegistry, start_http_server

        from slo_assets.core import clock
        from slo_assets.warehouse import layout
        from slo_assets.outputs.metrics_server import ExpositionCollector, is_loopback

        if not is_loopback(args.host) and not args.allow_remote:
            raise InputError(f"--host {args.host}: not a loopback address; the exposition has no authentication, so "
                             "binding other interfaces needs --allow-remote (or keep 127.0.0.1 behind a proxy)")
        store = existing_warehouse(args.warehouse)
        fixed = None if args.month == "current" else args.month

        def locate() -> tuple[str, object]:
            month = fixed or clock.today().strftime("%Y-%m")  # the running month, again at each scrape
            return month, layout.PROMETHEUS_EXPOSITION.path(store, month)

        month, path = locate()
        if fixed and not path.exists():
            raise InputError(f"--month {fixed}: no exposition in --warehouse {args.warehouse} ({path}): materialize the "
                             "month first (slo-assets run, or the prometheus_exposition asset)")
        registry = CollectorRegistry()  # only the exposition: no process or Python metrics of this server
        registry.register(ExpositionCollector(locate, notify=lambda message: print(message, file=sys.stderr, flush=True)))
        try:
            server, _ = start_http_server(args.port, addr=args.host, registry=registry)
        except OSError as error:
            raise InputError(f"--port {args.port}: cannot listen on {args.host} ({error.strerror or error}); another "
                             "exporter there? choose another --port") from None
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, frame: stop.set())
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"serving {month if fixed else 'the running month'} on http://{host}:{server.server_port}/metrics "
              "(SIGTERM or Ctrl-C stops)", flush=True)
        while not stop.wait(0.5):
            pass
        server.shutdown()
        server.server_close()
        print("slo-assets serve-metrics: stopped", file=sys.stderr)
        return 0

    return _guarded("serve-metrics", body)


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
                                                  "slo_metrics.prom, alerts.rules.yml, two Grafana dashboards (grafana-*.json), report.html")
    run.add_argument("--warehouse", help="Parquet warehouse: a folder or an fsspec URL such as s3://bucket/prefix (default "
                                         "$SLO_ASSETS_WAREHOUSE, else data/warehouse: the one the code location reads)")
    run.add_argument("--format", default="auto", help="auto (sniff each file), jsonl or combined")
    run.add_argument("--log-format", help="how text lines are written: a preset (combined, upstreaminfo, main) or an nginx "
                                          "log_format / Apache LogFormat string, e.g. '$remote_addr - [$time_local] \"$request\" $status $request_time'")
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
