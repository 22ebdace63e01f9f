"""Reading the warehouse's per-day files and Dagster's record of what an asset was computed from."""

import dagster as dg
import polars as pl


def read_days(store, name: str, days: list[str], schema: dict) -> tuple[pl.DataFrame, list[str]]:
    """The `name/<day>.parquet` files that exist for `days`, concatenated, and the days found."""
    targets = {day: store.path(name, f"{day}.parquet") for day in days}
    present = [day for day, target in targets.items() if target.exists()]
    if not present:
        return pl.DataFrame(schema=schema), present
    if store.is_local:  # one call reads the files in parallel
        return pl.read_parquet([str(targets[day]) for day in present]), present
    return pl.concat([pl.from_arrow(store.read_table(targets[day])) for day in present]), present


def input_versions(context: dg.AssetExecutionContext, keys: list[tuple[str, str | None]]) -> dict:
    """Latest data version of each (asset, partition) a computation read, from Dagster's event log."""
    versions = {}
    for name, partition in keys:
        record = context.instance.get_latest_data_version_record(dg.AssetKey(name), partition_key=partition) \
            if partition else context.instance.get_latest_data_version_record(dg.AssetKey(name))
        version = None
        if record is not None:
            data = record.event_log_entry.dagster_event.event_specific_data
            entry = getattr(data, "materialization", None) or getattr(data, "asset_observation", None)
            version = (entry.tags or {}).get("dagster/data_version") if entry is not None else None
        versions[f"{name}[{partition}]" if partition else name] = version
    return versions
