"""The index table: its columns, the statuses of its entries, and which entries' lines are read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

# Every entry found under the log folder is a row: read and salvaged files with their counts,
# skipped and unreadable ones (files or folders) with the reason, so nothing vanishes unseen.
READ, SALVAGED, SKIPPED, UNREADABLE = "read", "salvaged", "skipped", "unreadable"
STAGED_STATUSES = (READ, SALVAGED)

INDEX_SCHEMA = {
    "path": pl.String,
    "status": pl.String,  # read, salvaged (a damaged gzip read up to the damage), skipped, unreadable
    "problem": pl.String,  # why it was salvaged, skipped or unreadable
    "size_bytes": pl.Int64,
    "mtime_ns": pl.Int64,
    "fingerprint": pl.String,
    "format": pl.String,
    "compressed": pl.Boolean,
    "stage_key": pl.String,
    "lines": pl.Int64,
    "blank_lines": pl.Int64,
    "rows": pl.Int64,
    "quarantined": pl.Int64,
    "unplaced": pl.Int64,  # quarantined lines with no time to place them by: in no day
    "invalid_utf8_lines": pl.Int64,
    "service_defaulted": pl.Int64,
    "first_ts": pl.Datetime("ms", "UTC"),
    "last_ts": pl.Datetime("ms", "UTC"),
    "duplicate_of": pl.String,
    "days": pl.List(pl.Int32),  # UTC days (since the epoch) holding its rows or quarantined lines
    "day_rows": pl.List(pl.Int64),  # rows on each of `days`
    "day_quarantined": pl.List(pl.Int64),  # quarantined lines placed on each of `days`
    "reasons": pl.String,  # JSON {reason: quarantined lines}
}


def staged_entries(index: pl.DataFrame) -> pl.DataFrame:
    """Entries whose lines are read: staged files that are not copies of another."""
    if "status" in index.columns:
        index = index.filter(pl.col("status").is_in(STAGED_STATUSES))
    return index.filter(pl.col("duplicate_of").is_null())


def day_key(epoch_day: int) -> str:
    """The UTC day `epoch_day` days after 1970-01-01, as "YYYY-MM-DD"."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=epoch_day)).strftime("%Y-%m-%d")
