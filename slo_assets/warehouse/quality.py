"""Great Expectations suite for a parsed day: is it plausible as logs? Imported lazily: GX takes seconds to import."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from http import HTTPStatus

import pandas as pd


@dataclass
class ExpectationOutcome:
    expectation: str
    column: str
    success: bool
    unexpected_count: int
    unexpected_examples: list


@cache
def _volumes_batch():
    """The batch definition of a run's rows per day (a frame of day, rows), beside the parsed rows' asset."""
    context, _ = _context()
    source = context.data_sources.get("slo_assets")
    return source.add_dataframe_asset("day_volumes").add_batch_definition_whole_dataframe("days")


@cache
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("slo_assets")
    return context, source.add_dataframe_asset("parsed_logs").add_batch_definition_whole_dataframe("day")


# What pandera's model (blocking, every row) already holds is not checked again here: columns, types,
# bounds, nulls, the unique key. The suite asks what a schema cannot: is the day plausible as logs?
# Status codes servers send: IANA's registry, nginx's 444 and 499, load balancers' 460, 463 and 520-527.
HTTP_STATUS_CODES = sorted({code.value for code in HTTPStatus} | {444, 460, 463, 499, *range(520, 528)})
STATUS_MOSTLY = 0.99
# A median request over a minute is a misread duration field (an ingress log's $request_length read as
# seconds gave medians of hours), not a slow service.
MEDIAN_DURATION_MAX_MS = 60_000
# A service regex that captures an id (/users/123/) makes a service per user: more than this is one.
MAX_SERVICES = 1_000


def parsed_day_suite(window_start: datetime, window_end: datetime, has_durations: bool = True):
    """The day's plausibility: its rows inside the day, an HTTP status mix, a plausible median duration
    (when the format records one), and a bounded number of services."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    _context()  # a suite needs the active context
    suite = gx.ExpectationSuite(name="parsed_logs_plausible")
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(
        column="ts", min_value=pd.Timestamp(window_start), max_value=pd.Timestamp(window_end), strict_max=True))
    suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="status", value_set=HTTP_STATUS_CODES, mostly=STATUS_MOSTLY))
    if has_durations:
        suite.add_expectation(gxe.ExpectColumnMedianToBeBetween(column="duration_ms", min_value=0, max_value=MEDIAN_DURATION_MAX_MS))
    suite.add_expectation(gxe.ExpectColumnUniqueValueCountToBeBetween(column="service", min_value=1, max_value=MAX_SERVICES))
    return suite


def validate_parsed_day(frame: pd.DataFrame, window_start: datetime, window_end: datetime) -> list[ExpectationOutcome]:
    _, batch_definition = _context()
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(parsed_day_suite(window_start, window_end, has_durations=bool(frame["duration_ms"].notna().any())))
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        details = item.result or {}
        outcomes.append(ExpectationOutcome(
            expectation=config.type,
            column=str(config.kwargs.get("column") or config.kwargs.get("column_list")),
            success=bool(item.success),
            unexpected_count=int(details.get("unexpected_count") or 0),
            unexpected_examples=[str(v) for v in (details.get("partial_unexpected_list") or [])[:5]],
        ))
    return outcomes


# A day of a run with under a tenth, or over ten times, the median volume of the run's whole days is
# not a quiet or a busy day: it is a day of logs missing (a rotation not shipped) or read twice (a
# copy under another name). Compared only across this many whole days: fewer have no median to trust.
VOLUME_RATIO = 10.0
VOLUME_MIN_DAYS = 7


@dataclass(frozen=True)
class VolumeBounds:
    median: float
    low: float
    high: float

    def outside(self, rows_per_day: dict[str, int]) -> list[str]:
        return [day for day, rows in sorted(rows_per_day.items()) if not self.low <= rows <= self.high]


def logged_span(rows_per_day: dict[str, int]) -> dict[str, int]:
    """The days from the first with rows to the last: before and after them the logs had not begun or
    have ended (a service launched mid-month), inside them a day without rows is a gap."""
    with_rows = [day for day in sorted(rows_per_day) if rows_per_day[day] > 0]
    return {day: rows for day, rows in sorted(rows_per_day.items()) if with_rows and with_rows[0] <= day <= with_rows[-1]}


def volume_bounds(rows_per_day: dict[str, int]) -> VolumeBounds | None:
    """The plausible rows of a day among `rows_per_day` (whole days of the logged span), None when too few days."""
    volumes = sorted(rows_per_day.values())
    if len(volumes) < VOLUME_MIN_DAYS:
        return None
    median = float(pd.Series(volumes).median())
    return VolumeBounds(median, median / VOLUME_RATIO, median * VOLUME_RATIO) if median > 0 else None


def validate_day_volumes(rows_per_day: dict[str, int]) -> list[ExpectationOutcome]:
    """Each whole day's rows, inside the span the logs cover, against the run's median (volume_bounds);
    nothing to check with too few days."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    rows_per_day = logged_span(rows_per_day)
    bounds = volume_bounds(rows_per_day)
    if bounds is None:
        return []
    _context()
    suite = gx.ExpectationSuite(name="day_volumes_plausible")
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="rows", min_value=bounds.low, max_value=bounds.high))
    frame = pd.DataFrame({"day": list(rows_per_day), "rows": list(rows_per_day.values())})
    result = _volumes_batch().get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    (item,) = result.results
    outside = bounds.outside(rows_per_day)
    return [ExpectationOutcome(expectation=item.expectation_config.type, column="rows per day", success=bool(item.success),
                               unexpected_count=int((item.result or {}).get("unexpected_count") or 0),
                               unexpected_examples=[f"{day}: {rows_per_day[day]:,} (median {bounds.median:,.0f})" for day in outside[:5]])]
