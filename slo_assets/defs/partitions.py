"""Time partitions, UTC. The first day is configurable because logs may be older than the default."""

from __future__ import annotations

import os

import dagster as dg

PARTITION_START = os.environ.get("SLO_ASSETS_START_DATE", "2020-01-01")

# end_offset=1 includes the running day, so the live access.log can be ingested before midnight.
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITION_START, timezone="UTC", end_offset=1)

# Monthly keys read like the CLI's --month (YYYY-MM); the running month is included (month to date).
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=PARTITION_START[:7], fmt="%Y-%m", timezone="UTC", end_offset=1
)
