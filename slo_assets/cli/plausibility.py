"""`run`'s warnings about implausible request times and statuses: what the parsed_logs_plausible check
finds (defs/ingest/plausibility.py), one line per finding over the month's days, naming the preset to
try. Judged from the warehouse's days, so a day not run again (nothing changed) still warns."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from slo_assets.defs.ingest.assets import read_index
from slo_assets.defs.ingest.plausibility import day_findings, file_formats, latency_services
from slo_assets.ingest.plausibility import Finding, LineSample


def _days_text(days: list[str]) -> str:
    if len(days) == 1:
        return f"on {days[0]}"
    return f"on {len(days)} days, {days[0]} .. {days[-1]} (figures of {days[0]})"


def implausible_lines(resources: dict, specs, days: list[str]) -> list[str]:
    """One line per finding of `days` (the same finding on several days is one line naming them)."""
    log_source, warehouse = resources["log_source"], resources["warehouse"]
    store, config = warehouse.store(), log_source.parse_config()
    formats, services = file_formats(read_index(warehouse)), latency_services(specs)
    cache: dict[str, LineSample | None] = {}
    merged: dict[tuple[str, str, str, str | None], tuple[Finding, list[str]]] = {}
    for day in days:
        for finding in day_findings(store, day, config, Path(log_source.root), formats, services, cache):
            merged.setdefault((finding.source, finding.field, finding.problem, finding.preset), (finding, []))[1].append(day)
    return [f"{finding.message()} ({_days_text(found_on)})" for finding, found_on in merged.values()]


def warn_implausible(resources: dict, specs, days: list[str], stream: TextIO = sys.stderr) -> None:
    """Print each finding of `days` as a `warning:` line."""
    for line in implausible_lines(resources, specs, days):
        print(f"warning: {line}", file=stream)
