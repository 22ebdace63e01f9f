"""Reading the warehouse's per-day files and Dagster's record of what an asset was computed from."""

from __future__ import annotations

import dagster as dg
import polars as pl

from slo_assets.core import clock
from slo_assets.core.calendar import Month
from slo_assets.defs.sources import sibling
from slo_assets.slo.chain import Period, data_period
from slo_assets.warehouse.layout import Dataset


def read_days(store, dataset: Dataset, days: list[str], schema: dict) -> tuple[pl.DataFrame, list[str]]:
    """The files of `dataset` that exist for `days`, concatenated as `schema`, and the days found. A
    column of `schema` a file lacks (a day written before the column existed) reads as null; a column
    a file has beyond `schema` is not read."""
    targets = {day: dataset.path(store, day) for day in days}
    present = [day for day, target in targets.items() if target.exists()]
    if not present:
        return pl.DataFrame(schema=schema), present
    if store.is_local:  # one call reads the files in parallel
        return pl.scan_parquet([str(targets[day]) for day in present], schema=schema, missing_columns="insert",
                               extra_columns="ignore").collect(), present
    return pl.concat([_as_schema(pl.from_arrow(store.read_table(targets[day])), schema) for day in present]), present


def _as_schema(frame, schema: dict) -> pl.DataFrame:
    """`frame`'s columns of `schema`, in its order; null where the frame lacks one."""
    return frame.select(pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
                        for name, dtype in schema.items())


def read_frame(store, dataset: Dataset, partition: str | None, schema: dict | None = None) -> pl.DataFrame | None:
    """One partition's table, or an empty frame of `schema` (None without one) when it was never written."""
    target = dataset.path(store, partition)
    if target.exists():
        return pl.from_arrow(store.read_table(target))
    return None if schema is None else pl.DataFrame(schema=schema)


def required_file(store, dataset: Dataset, month: str):
    """Where a monthly asset this step reads wrote its file; a clear failure when it never did."""
    target = dataset.path(store, month)
    if not target.exists():
        raise dg.Failure(f"{dataset.key} for {month} is missing ({target}): materialize the monthly chain first")
    return target


def written(store, dataset: Dataset, partition: str | None, size: int) -> dict:
    """Where a materialization put its file, and how big it is: shown on the asset page."""
    return {"path": dg.MetadataValue.path(str(dataset.path(store, partition))), "bytes": size}


def input_versions(context: dg.AssetExecutionContext, keys: list[tuple[str, str | None]]) -> dict:
    """Latest data version of each (asset, partition) a computation read, from Dagster's event log."""
    versions = {}
    for name, partition in keys:
        key = sibling(context, name)
        record = context.instance.get_latest_data_version_record(key, partition_key=partition) \
            if partition else context.instance.get_latest_data_version_record(key)
        version = None
        if record is not None:
            data = record.event_log_entry.dagster_event.event_specific_data
            entry = getattr(data, "materialization", None) or getattr(data, "asset_observation", None)
            version = (entry.tags or {}).get("dagster/data_version") if entry is not None else None
        versions[f"{name}[{partition}]" if partition else name] = version
    return versions


def partition_month(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> Month:
    """The month a monthly asset (or check) runs for, from its partition's time window: read once, then passed on."""
    window = context.partition_time_window
    return Month.of_window(window.start, window.end)


def month_period(month: Month, present: list[str]) -> Period:
    """The month as far as its data goes: through the last day with SLI inputs (the month end once all are
    there), never past now."""
    period = data_period(month.key, present, clock.now_ms())
    if period is None:
        raise dg.Failure(f"no sli_minutely partitions for {month}: materialize its days first")
    return period
