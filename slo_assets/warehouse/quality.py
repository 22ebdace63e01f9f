"""Great Expectations suite for a parsed day. Imported lazily: GX takes seconds to import."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import pandas as pd

from slo_assets.warehouse import canonical


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


def parsed_day_suite(window_start: datetime, window_end: datetime):
    """Generated from the canonical declaration: the columns in order, each column's bounds, no nulls
    where none may be, the unique key; and the timestamps inside the day."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    _context()  # a suite needs the active context
    table = canonical.PARSED_LOGS
    suite = gx.ExpectationSuite(name="parsed_logs_day")
    suite.add_expectation(gxe.ExpectTableColumnsToMatchOrderedList(column_list=table.names))
    for column in table.columns:
        if column.checks.ge is not None or column.checks.le is not None:
            suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value=column.checks.ge, max_value=column.checks.le))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(
        column="ts", min_value=pd.Timestamp(window_start), max_value=pd.Timestamp(window_end), strict_max=True))
    suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(table.unique)))
    for column in table.columns:
        if not column.nullable:
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=column.name))
    return suite


def validate_parsed_day(frame: pd.DataFrame, window_start: datetime, window_end: datetime) -> list[ExpectationOutcome]:
    _, batch_definition = _context()
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(parsed_day_suite(window_start, window_end))
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
