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
