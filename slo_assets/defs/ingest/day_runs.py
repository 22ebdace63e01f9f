"""One run for many days: the daily assets take the run's whole range of day partitions at once
(BackfillPolicy.single_run), record each day's figures on that day's materialization, and fold
each check's per-day results into one result whose metadata keeps every day's evidence."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

import dagster as dg

from slo_assets.core.markdown import table
from slo_assets.defs.sources import sibling

# A backfill of any length is one run (the UI, the daemon, schedules and `slo-assets run` alike).
SINGLE_RUN = dg.BackfillPolicy.single_run()
# The run tags with which Dagster launches a range of partitions in one run (what the backfill daemon sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_days(context: dg.AssetExecutionContext) -> list[str]:
    """The day partitions this run materializes, in order: one for a day's run, many for a range."""
    return list(context.partition_keys)


def day_window(partitions_def: dg.TimeWindowPartitionsDefinition, day: str) -> tuple[datetime, datetime]:
    window = partitions_def.time_window_for_partition_key(day)
    return window.start, window.end


def range_version(digests: Iterable[str]) -> dg.DataVersion:
    """The data version of a run's output: the day's own digest for one day, a digest of the days'
    digests for a range (Dagster records one data version per output of a run)."""
    digests = list(digests)
    if len(digests) == 1:
        return dg.DataVersion(digests[0][:24])
    return dg.DataVersion(hashlib.sha256("".join(digests).encode()).hexdigest()[:24])


def add_day_metadata(context: dg.AssetExecutionContext, asset_key: str, day: str, metadata: dict) -> None:
    """`metadata` on `asset_key`'s materialization of `day` only (the asset page shows it per partition)."""
    context.add_asset_metadata(metadata, asset_key=sibling(context, asset_key), partition_key=day)


_SCALAR_METADATA = (dg.IntMetadataValue, dg.FloatMetadataValue, dg.BoolMetadataValue, dg.TextMetadataValue)


def _short(value) -> str:
    """A scalar metadata value as a table cell; "" for tables, JSON and Markdown (kept whole instead)."""
    if isinstance(value, dg.MetadataValue) and not isinstance(value, _SCALAR_METADATA):
        return ""
    value = getattr(value, "value", value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value) if isinstance(value, (int, str, bool)) else ""


def combine_checks(check_name: str, by_day: dict[str, dg.AssetCheckResult]) -> dg.AssetCheckResult:
    """One day's result as it is; for several days one result that fails when any day fails (at the
    worst failing day's severity), names the failing days, and tabulates every day's outcome."""
    if len(by_day) == 1:
        return next(iter(by_day.values()))
    failed = {day: result for day, result in by_day.items() if not result.passed}
    severity = (dg.AssetCheckSeverity.ERROR
                if any(r.severity == dg.AssetCheckSeverity.ERROR for r in failed.values()) else dg.AssetCheckSeverity.WARN)
    scalar_keys = sorted({key for result in by_day.values() for key, value in (result.metadata or {}).items() if _short(value)})
    rows = [(day, "pass" if result.passed else "FAIL", result.description or "",
             *(_short((result.metadata or {}).get(key, "")) for key in scalar_keys))
            for day, result in by_day.items()]
    if failed:
        text = f"{len(failed)} of {len(by_day)} days failed: " + "; ".join(
            f"{day}" + (f" ({result.description})" if result.description else "") for day, result in list(failed.items())[:5])
    else:
        text = f"all {len(by_day)} days passed"
    # The failing days' full evidence (examples, failure cases) stays: prefixed with their day.
    detail = {f"{day} {key}": value for day, result in list(failed.items())[:5] for key, value in (result.metadata or {}).items()
              if not _short(value)}
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=not failed,
        severity=severity if failed else dg.AssetCheckSeverity.ERROR,
        description=text,
        metadata={"days_checked": len(by_day), "failed_days": dg.MetadataValue.json(sorted(failed)),
                  "by_day": dg.MetadataValue.md(table(["day", "result", "description", *scalar_keys], rows)), **detail},
    )
