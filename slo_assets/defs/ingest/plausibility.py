"""parsed_logs_plausible: a day's request times and statuses look like what their format says.

A wrong format can match every line and read the wrong field (ingress-nginx lines read as combined
take `$request_length` for the request time): nothing is quarantined, and the latency SLOs are
wrong. The check judges each day of the run (ingest/plausibility.py) and names the preset to try.

It warns and does not block: its signs are strong but not proof (a service of long polls has request
times over a minute), and blocking would stop the day's SLI inputs, so one file's doubtful request
times would hold back every SLO, availability included. `slo-assets run` prints each finding.
"""

from pathlib import Path

import dagster as dg
import polars as pl

from slo_assets.core.markdown import table
from slo_assets.defs.ingest.assets import read_index
from slo_assets.defs.ingest.day_runs import combine_checks, run_days
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.plausibility import MEDIAN_LIMIT_MS, STATUS_PROBLEMS, Finding, LineSample, judge_day
from slo_assets.ingest.sniffing import first_lines
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse

CHECK_PLAUSIBLE = "parsed_logs_plausible"
SAMPLE_LINES = 200  # the first lines of a file: enough to tell a reading, cheap to read and parse twice
SAMPLE_FILES = 20  # files sampled per day (most days have a few; each costs a read of its start)


def latency_services(specs) -> list[str]:
    """The services a latency SLO measures (its requests' durations decide it)."""
    return sorted({slo.service for slo in specs.slos if slo.indicator.kind() == "latency"})


def _sample(root: Path, path: str, fmt: str, cache: dict[str, LineSample | None]) -> LineSample | None:
    """The first SAMPLE_LINES lines of a file of the log folder, read once per file; None if unreadable."""
    if path not in cache:
        try:
            cache[path] = LineSample(path, fmt, tuple(first_lines(root / path, SAMPLE_LINES)))
        except OSError:
            cache[path] = None
    return cache[path]


def day_findings(store: Warehouse, day: str, config: ParseConfig, root: Path, formats: dict[str, str],
                 services: list[str], cache: dict[str, LineSample | None] | None = None) -> list[Finding]:
    """The findings of one day of the warehouse: its parsed rows, its lines quarantined for their status,
    and the first lines of its files (`formats`: the index's format of each file, by path)."""
    target = layout.PARSED_LOGS.path(store, day)
    if not target.exists():
        return []
    rows = pl.from_arrow(store.read_table(target, columns=["source_file", "service", "status", "duration_ms"]))
    assert isinstance(rows, pl.DataFrame)
    rejected: dict[str, int] = {}
    bad_target = layout.QUARANTINE.path(store, day)
    if bad_target.exists():
        bad = pl.from_arrow(store.read_table(bad_target, columns=["source_file", "reason"]))
        assert isinstance(bad, pl.DataFrame)
        counted = bad.filter(pl.col("reason").is_in(STATUS_PROBLEMS)).group_by("source_file").len()
        rejected = {str(path): int(count) for path, count in counted.iter_rows()}
    files = sorted(set(rows["source_file"].unique().to_list()) | set(rejected))[:SAMPLE_FILES]
    cache = {} if cache is None else cache
    samples = {path: sample for path in files if path in formats
               if (sample := _sample(root, path, formats[path], cache)) is not None}
    return judge_day(rows, config, samples, rejected, services)


def file_formats(index: pl.DataFrame | None) -> dict[str, str]:
    """The format each indexed file was read with, by path."""
    return {} if index is None else {str(path): str(fmt) for path, fmt in index.select("path", "format").iter_rows()}


def day_result(findings: list[Finding]) -> dg.AssetCheckResult:
    rows = [(f.source, f.field, f.problem, f.figures, f.preset or "") for f in findings]
    return dg.AssetCheckResult(
        check_name=CHECK_PLAUSIBLE,
        passed=not findings,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f.message() for f in findings[:3]) or "request times and statuses plausible",
        metadata={"findings": len(findings), "presets_to_try": dg.MetadataValue.json(sorted({f.preset for f in findings if f.preset})),
                  "detail": dg.MetadataValue.md(table(["where", "field", "problem", "figures", "preset to try"], rows) if rows else "none")},
    )


@dg.asset_check(asset="parsed_logs", name=CHECK_PLAUSIBLE,
                description=f"request times and statuses look read from the right fields, per day (warn): a median request time "
                            f"over {MEDIAN_LIMIT_MS / 1000:g} s, request times mostly equal to their line's byte counts, statuses mostly "
                            "outside 100-599, or a latency SLO's service without any request time; names the preset to try")
def parsed_logs_plausible(context: dg.AssetCheckExecutionContext, log_source: LogSource, warehouse: WarehouseResource,
                          slo_settings: SloSettings) -> dg.AssetCheckResult:
    store, config = warehouse.store(), log_source.parse_config()
    formats = file_formats(read_index(warehouse))
    services = latency_services(slo_settings.load())
    cache: dict[str, LineSample | None] = {}
    results = {day: day_result(day_findings(store, day, config, Path(log_source.active().root), formats, services, cache))
               for day in run_days(context)}  # type: ignore[arg-type]
    return combine_checks(CHECK_PLAUSIBLE, results)
