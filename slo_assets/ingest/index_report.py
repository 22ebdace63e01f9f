"""What an index says to a person: where every line went, and the files read with the wrong settings.

`index_summary` totals the index for the run summary and the index's checks; `mostly_rejected_files`
names the files most of whose lines were rejected, which the user must look at.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import polars as pl

from slo_assets.ingest.index_table import SALVAGED, SKIPPED, STAGED_STATUSES, UNREADABLE, day_key, staged_entries

# More than this share of a file's (or the index's) lines rejected: read with the wrong settings.
MOSTLY_REJECTED_SHARE = 0.5


@dataclass(frozen=True)
class IndexSummary:
    """Where every line of the indexed files went, and every file that was not (fully) read.

    Lines of duplicates are not counted (a copy is read once). `outside_*` count lines on days before
    `first_day` or after `last_day` (the partition range; 0 without bounds): indexed, in no partition."""

    files: int = 0  # files read or salvaged (duplicates included)
    lines: int = 0
    blank_lines: int = 0
    rows: int = 0
    quarantined_lines: int = 0  # every quarantined line, unplaced ones included
    unplaced: int = 0  # quarantined lines in no day (no time found for them)
    duplicates: int = 0
    duplicate_files: tuple[tuple[str, str], ...] = ()  # (path, same content as)
    reasons: dict[str, int] | None = None  # reason -> quarantined lines, over all files
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason)
    unreadable: tuple[tuple[str, str], ...] = ()
    salvaged: tuple[tuple[str, str], ...] = ()
    outside_rows: int = 0
    outside_quarantined: int = 0
    days_with_data: tuple[str, ...] = ()  # every UTC day holding rows, whatever the bounds
    rows_on_days: int = 0  # sum of the per-day rows
    quarantined_on_days: int = 0  # sum of the per-day quarantined lines
    first_day: str | None = None
    last_day: str | None = None
    service_defaulted: int = 0  # rows without a service name (or a path the regex does not match): the default service

    def accounted(self) -> bool:
        """Every line read is in exactly one place: a day's rows or quarantine, unplaced, or blank."""
        return (self.lines == self.rows + self.quarantined_lines + self.blank_lines
                and self.rows == self.rows_on_days
                and self.quarantined_lines == self.quarantined_on_days + self.unplaced)

    def rejected_note(self, share: float = MOSTLY_REJECTED_SHARE) -> str | None:
        """e.g. "10,000 of 10,000 lines rejected: invalid_json" when more than `share` of the
        non-blank lines were rejected, else None."""
        lines = self.lines - self.blank_lines
        if not lines or self.quarantined_lines <= share * lines:
            return None
        top = next(iter(self.reasons or {}), "unknown")
        return f"{self.quarantined_lines:,} of {lines:,} lines rejected: {top}"

    def __getitem__(self, name: str):  # callers of the dict this used to be
        return getattr(self, name)

    def to_dict(self) -> dict:
        return asdict(self)


def _epoch_day(day: str) -> int:
    return (datetime.fromisoformat(day).replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days


def index_summary(index: pl.DataFrame | None, first_day: str | None = None, last_day: str | None = None) -> IndexSummary:
    """Totals of an index (zeros when there is none); outside counts need both bounds ("YYYY-MM-DD", inclusive)."""
    if index is None or index.is_empty():
        return IndexSummary(reasons={}, first_day=first_day, last_day=last_day)
    has_status = "status" in index.columns

    def listed(status: str) -> tuple[tuple[str, str], ...]:
        if not has_status:
            return ()
        return tuple(index.filter(pl.col("status") == status).select("path", "problem").iter_rows())

    files = index.filter(pl.col("status").is_in(STAGED_STATUSES)) if has_status else index
    live = staged_entries(index)
    totals = live.select(pl.col("lines", "blank_lines", "rows", "quarantined").sum().cast(pl.Int64)).row(0)
    unplaced = int(live["unplaced"].sum()) if "unplaced" in live.columns else 0
    defaulted = int(live["service_defaulted"].sum()) if "service_defaulted" in live.columns else 0
    reasons: dict[str, int] = {}
    if "reasons" in live.columns:
        for text in live["reasons"].drop_nulls():
            for reason, count in json.loads(text).items():
                reasons[reason] = reasons.get(reason, 0) + count
    per_day = pl.DataFrame(schema={"days": pl.Int32, "day_rows": pl.Int64, "day_quarantined": pl.Int64})
    if "day_rows" in live.columns and live.height:
        per_day = live.select("days", "day_rows", "day_quarantined").explode(["days", "day_rows", "day_quarantined"]).drop_nulls("days")
    outside_rows = outside_quarantined = 0
    if first_day is not None and last_day is not None and per_day.height:
        outside = per_day.filter((pl.col("days") < _epoch_day(first_day)) | (pl.col("days") > _epoch_day(last_day)))
        outside_rows, outside_quarantined = int(outside["day_rows"].sum()), int(outside["day_quarantined"].sum())
    duplicate_files = tuple(files.filter(pl.col("duplicate_of").is_not_null()).select("path", "duplicate_of").iter_rows())
    with_rows = per_day.filter(pl.col("day_rows") > 0)["days"].unique().sort().to_list()
    return IndexSummary(
        files=files.height,
        lines=totals[0] or 0, blank_lines=totals[1] or 0, rows=totals[2] or 0, quarantined_lines=totals[3] or 0,
        unplaced=unplaced,
        duplicates=len(duplicate_files), duplicate_files=duplicate_files,
        reasons=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        skipped=listed(SKIPPED), unreadable=listed(UNREADABLE), salvaged=listed(SALVAGED),
        outside_rows=outside_rows, outside_quarantined=outside_quarantined,
        days_with_data=tuple(day_key(day) for day in with_rows),
        rows_on_days=int(per_day["day_rows"].sum()), quarantined_on_days=int(per_day["day_quarantined"].sum()),
        first_day=first_day, last_day=last_day, service_defaulted=defaulted,
    )


@dataclass(frozen=True)
class RejectedFile:
    path: str
    rejected: int  # quarantined lines
    lines: int  # non-blank lines
    unplaced: int
    top_reason: str

    def note(self) -> str:
        text = f"{self.rejected:,} of {self.lines:,} lines rejected: {self.top_reason}"
        return text + (f" ({self.unplaced:,} placed in no day: no time found)" if self.unplaced else "")


def mostly_rejected_files(index: pl.DataFrame, share: float = MOSTLY_REJECTED_SHARE) -> list[RejectedFile]:
    """Read files with more than `share` of their non-blank lines rejected, or with lines that could
    be placed in no day: read with the wrong format or field names, the user must act."""
    if index is None or "status" not in index.columns:
        return []
    found = []
    for entry in staged_entries(index).iter_rows(named=True):
        lines = entry["lines"] - entry["blank_lines"]
        if lines and (entry["quarantined"] > share * lines or entry["unplaced"]):
            reasons = json.loads(entry["reasons"] or "{}")
            top = max(reasons, key=lambda r: (reasons[r], r)) if reasons else "unknown"
            found.append(RejectedFile(entry["path"], entry["quarantined"], lines, entry["unplaced"], top))
    return found
