"""One month of the SLO chain from minute aggregates: SLI metrics, budgets, alerts, forecasts, compliance.

Pure functions over polars frames and numpy arrays; the Dagster assets only load inputs and write
outputs. Timestamps are epoch milliseconds (UTC) inside, ISO-8601 strings in the JSON documents.

This module is the chain's import surface; each step lives in its own module:

- period.py: the month evaluated (`Period`, `data_period`) and which of its days hold data;
- units.py: minute rows as dense series, and the budget units an SLO counts in them;
- windows.py: the settings, and one SLO window's minutes (`window_data`, composites, coverage);
- monthly.py: each window judged into a `WindowEvaluation` (`evaluate`, `evaluate_with_series`);
- series.py: the windows as chart series (budget_series);
- documents.py: compliance.json and error_budgets.json;
- metrics.py: the month's SLI metrics table; targets.py: target recommendations and their risks.
"""

from __future__ import annotations

# The calendar names stay importable from here for the assets that use them; slo_assets.core.calendar defines them.
from slo_assets.core.calendar import (
    DAY_MS,
    MINUTE_MS,
    day_key,
    day_start_ms,
    iso,
    iso_datetime,
    month_days,
    month_range_ms,
    next_month,
    now_iso,
    previous_month,
)
from slo_assets.openslo import adjustments as A
from slo_assets.slo import budget as B
from slo_assets.slo import coverage as CV
from slo_assets.slo import evaluation as E
from slo_assets.slo import risk as R
from slo_assets.slo.confidence import window_confidence
from slo_assets.slo.documents import (
    COMPLIANCE_KEYS,
    ERROR_BUDGETS_KEYS,
    SCHEMA_VERSION,
    MaintenanceWindow,
    budget_adjustments,
    compliance,
    data_as_of,
    error_budgets_document,
    maintenance_windows,
    previous_slis,
)
from slo_assets.slo.evaluation import WindowEvaluation
from slo_assets.slo.metrics import QUANTILES, sli_metrics
from slo_assets.slo.monthly import (
    AT_RISK_CONSUMED,
    AT_RISK_PROBABILITY,
    adjusted_budget,
    evaluate,
    evaluate_all,
    evaluate_with_series,
    replay_budget_alerts,
    window_label,
)
from slo_assets.slo.period import DayCoverage, DayGap, Period, data_period, day_coverage, day_gaps, lookback_days
from slo_assets.slo.quantiles import Chunks, frame_chunks, latency_sources, quantiles_by_slo
from slo_assets.slo.series import SERIES_SCHEMA, SERIES_STEP_MINUTES, by_window, window_series
from slo_assets.slo.targets import (
    AVAILABILITY_MARGIN,
    ERROR_RATE_MARGIN,
    LADDER,
    LATENCY_MARGIN,
    RISK_COLUMNS,
    recommend_targets,
    risks_from_targets,
    target_risks,
    with_risks,
)
from slo_assets.slo.units import Units, by_slo, dense, units
from slo_assets.slo.windows import (
    DEFAULT_ALERT_MIN_BAD_EVENTS,
    LOOKBACK_DAYS,
    SETTINGS_MAINTENANCE,
    LinesPerDay,
    Settings,
    WindowData,
    composite_window_data,
    slo_adjustments,
    window_bounds,
    window_coverage,
    window_data,
)

__all__ = [
    # calendar
    "DAY_MS", "MINUTE_MS", "day_key", "day_start_ms", "iso", "iso_datetime", "month_days", "month_range_ms", "next_month", "now_iso",
    "previous_month",
    # the modules the chain's callers read through it (C.B.iso)
    "A", "B", "CV", "E", "R",
    # period.py
    "DayCoverage", "DayGap", "Period", "data_period", "day_coverage", "day_gaps", "lookback_days",
    # units.py and windows.py
    "DEFAULT_ALERT_MIN_BAD_EVENTS", "LOOKBACK_DAYS", "SETTINGS_MAINTENANCE", "LinesPerDay", "Settings", "Units", "WindowData",
    "by_slo", "composite_window_data", "dense", "slo_adjustments", "units", "window_bounds", "window_coverage", "window_data",
    # monthly.py and series.py
    "AT_RISK_CONSUMED", "AT_RISK_PROBABILITY", "SERIES_SCHEMA", "SERIES_STEP_MINUTES", "WindowEvaluation", "adjusted_budget",
    "by_window", "evaluate", "evaluate_all", "evaluate_with_series", "replay_budget_alerts", "window_confidence", "window_label",
    "window_series",
    # documents.py
    "COMPLIANCE_KEYS", "ERROR_BUDGETS_KEYS", "SCHEMA_VERSION", "MaintenanceWindow", "budget_adjustments", "compliance", "data_as_of",
    "error_budgets_document", "maintenance_windows", "previous_slis",
    # metrics.py, targets.py and the quantiles they stream
    "AVAILABILITY_MARGIN", "ERROR_RATE_MARGIN", "LADDER", "LATENCY_MARGIN", "QUANTILES", "RISK_COLUMNS", "Chunks", "frame_chunks",
    "latency_sources", "quantiles_by_slo", "recommend_targets", "risks_from_targets", "sli_metrics", "target_risks", "with_risks",
]
