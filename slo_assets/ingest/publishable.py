"""Whether a month may be published, judged from the file index: one place for the reasons a run stops
(the CLI's exit 2) and for the blocking check the UI and the daemon run (defs/slo/publishable.py).

A month is not published when its numbers would mislead: no log file was read (nothing was measured),
most lines were rejected (the logs were not read as what they are: a wrong format), or the month is
closed and holds no line while the logs hold other days (a wrong month, not a month without traffic;
the running month may still wait for its first line). Publishing would replace the last good month's
report, exposition and rules with an all-insufficient month.
"""

from __future__ import annotations

from dataclasses import dataclass

from slo_assets.core.calendar import month_range_ms
from slo_assets.ingest.index_report import IndexSummary

NO_FILE_READ, MOSTLY_REJECTED, MONTH_WITHOUT_LINES = "no_file_read", "mostly_rejected", "month_without_lines"


@dataclass(frozen=True)
class Refusal:
    """Why a month is not published: `kind` (one of the three above) and what the index says."""

    kind: str
    detail: str  # "3 file(s) not read" / "10,000 of 10,000 lines rejected: invalid_json" / "2015-05-17 .. 2015-05-20 ..."
    nearest_month: str | None = None  # for a month without lines: the month with lines nearest to it

    def text(self) -> str:
        """The reason in one line, for a reader who did not choose the options (the UI's check)."""
        if self.kind == NO_FILE_READ:
            return f"no log file was read ({self.detail}), so nothing was measured"
        if self.kind == MOSTLY_REJECTED:
            return f"{self.detail}: the logs were not read as what they are (a wrong format or field mapping?)"
        return f"the logs hold no line of this closed month; they hold {self.detail}: the nearest month with lines is {self.nearest_month}"


def _month_number(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7])


def refusal(index: IndexSummary, month: str, now_ms: int) -> Refusal | None:
    """Why `month` must not be published given the indexed logs, or None."""
    if index.files == 0:
        not_read = len(index.skipped) + len(index.unreadable)
        return Refusal(NO_FILE_READ, f"{not_read} file(s) not read" if not_read else "the folder holds no file")
    note = index.rejected_note()
    if note is not None:
        return Refusal(MOSTLY_REJECTED, note)
    logged = list(index.days_with_data)
    if not logged or any(day.startswith(month) for day in logged) or month_range_ms(month)[1] > now_ms:
        return None
    months = sorted({day[:7] for day in logged})
    nearest = min(months, key=lambda m: abs(_month_number(m) - _month_number(month)))
    in_months = f", in {', '.join(months[:6])}{' ...' if len(months) > 6 else ''}" if len(months) > 1 else ""
    return Refusal(MONTH_WITHOUT_LINES, f"{logged[0]} .. {logged[-1]} ({len(logged)} day(s) with lines{in_months})", nearest)
