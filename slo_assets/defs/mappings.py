"""How a monthly asset reads a daily one: the days of its month (and of the months around it).

The running month's later days do not exist yet, nor the days before the first partition, so the
mappings allow upstream partitions that do not exist: a backfill of the month to date (from the
UI or the daemon) runs instead of failing on tomorrow's partition.
"""

import warnings

import dagster as dg


def days_of_month(key: str, months_before: int = 0, months_after: int = 0) -> dg.AssetDep:
    """Every day of the month of `key`, widened by whole months before and after."""
    # allow_nonexistent_upstream_partitions is beta in 1.13 and is exactly what a running month
    # needs, so its BetaWarning is silenced here and only here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        mapping = dg.TimeWindowPartitionMapping(start_offset=-months_before, end_offset=months_after,
                                                allow_nonexistent_upstream_partitions=True)
    return dg.AssetDep(key, partition_mapping=mapping)
