"""Definition-time metadata: column schemas of the tabular assets and their owners, shown in the UI."""

import dagster as dg

from slo_assets.slo.chain import LADDER
from slo_assets.slo.risk import rung_label
from slo_assets.warehouse import canonical

OWNERS = ["team:sre"]
RUNGS = [rung_label(rung) for rung in LADDER]  # slo_targets' risk columns: one pair per rung


def columns(*items: tuple[str, str, str]) -> dict:
    """{'dagster/column_schema': ...} from (name, type, description) triples."""
    return {"dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(name, kind, description=text) for name, kind, text in items])}


def canonical_columns(table: canonical.Table) -> dict:
    """The column metadata of a canonical table, with each column's nullability."""
    return {"dagster/column_schema": dg.TableSchema(columns=[
        dg.TableColumn(name, kind, description=text, constraints=dg.TableColumnConstraints(nullable=table.column(name).nullable))
        for name, kind, text in table.column_schema()])}


PARSED_LOGS = canonical_columns(canonical.PARSED_LOGS)
QUARANTINE = canonical_columns(canonical.QUARANTINE)
LOG_FILE_INDEX = columns(
    ("path", "string", "file (or folder) relative to the log folder"),
    ("status", "string", "read, salvaged (a damaged compressed file read up to the damage), skipped or unreadable"),
    ("problem", "string", "why it was salvaged, skipped or unreadable; for a file read, a sparse head of NULs dropped"),
    ("size_bytes", "int64", "size"), ("mtime_ns", "int64", "mtime"),
    ("fingerprint", "string", "chained sha256 of the content (decompressed), 1 MiB blocks"), ("format", "string", "jsonl, combined or unknown"),
    ("compressed", "bool", "gzip, bz2, xz or zstd (by its first bytes)"), ("stage_key", "string", "parse cache key (content + settings)"),
    ("lines", "int64", "lines read"), ("blank_lines", "int64", "blank lines"), ("rows", "int64", "valid rows"),
    ("quarantined", "int64", "quarantined lines"), ("unplaced", "int64", "quarantined lines with no time: in no day"),
    ("invalid_utf8_lines", "int64", "lines with invalid UTF-8"),
    ("service_defaulted", "int64", "rows given the default service"), ("first_ts", "timestamp", "earliest line"),
    ("last_ts", "timestamp", "latest line"),
    ("duplicate_of", "string", "the file with the same content, read instead"),
    ("days", "list<int32>", "UTC days (since 1970-01-01) holding its rows or quarantined lines"),
    ("day_rows", "list<int64>", "rows on each of days"), ("day_quarantined", "list<int64>", "quarantined lines on each of days"),
    ("reasons", "string", "JSON: quarantine reason -> lines"),
)
SLI_MINUTELY = columns(
    ("slo", "string", "SLO name"), ("minute", "timestamp[ms, UTC]", "minute start"), ("good", "int64", "good events"),
    ("total", "int64", "events the total filter selects"), ("server_errors", "int64", "5xx among them"),
    ("untimed", "int64", "requests a latency SLO selects without a request time: no event (0 for other SLOs)"),
)
SLI_METRICS = columns(
    ("slo", "string", "SLO name"), ("service", "string", "service"), ("kind", "string", "availability or latency"),
    ("budgeting_method", "string", "Occurrences, Timeslices, RatioTimeslices"),
    ("good", "int64", "good events, budget adjustments applied"), ("total", "int64", "events, budget adjustments applied"),
    ("sli", "float64", "good / total"),
    ("adjusted_events", "int64", "events in minutes a budget adjustment excludes or counts as good"),
    ("availability", "float64", "non-5xx share of every event"),
    ("latency_p50_ms", "float64", "exact, linear interpolation"), ("latency_p95_ms", "float64", "exact"),
    ("latency_p99_ms", "float64", "exact"), ("latency_samples", "int64", "durations counted"),
    ("minutes_with_traffic", "int64", "minutes with events"), ("timeslice_sli", "string", "per objective, timeslice SLOs"),
)
SLO_TARGETS = columns(
    ("slo", "string", "SLO name"), ("service", "string", "service"), ("objective", "string", "objective key"),
    ("declared_target", "float64", "from the spec"), ("months_used", "int64", "months of history"),
    ("actual_sli", "float64", "SLI over those months"), ("recommended_target", "float64", "on the ladder, achieved every month"),
    ("basis", "string", "ladder or below the ladder"), ("achieved_in_all_months", "bool", "recommendation held every month"),
    ("months_below_recommendation", "string", "months that missed it"),
    ("recommended_latency_threshold_ms", "float64", "latency SLOs: quantile at target x 1.1"),
    ("risk_days", "int64", "days next month was bootstrapped from (this month and the two before)"),
    ("budget_unit", "string", "events (Occurrences) or minutes (timeslices)"),
    *((f"p_meet_{label.replace('.', '_')}", "float64", f"probability of meeting {label} % next month") for label in RUNGS),
    *((f"budget_{label.replace('.', '_')}", "float64", f"bad events or minutes {label} % allows in a month") for label in RUNGS),
)
