"""The canonical tables are declared once (slo_assets/warehouse/canonical.py); every generated form agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pandera.errors
import polars as pl
import pyarrow.parquet as pq
import pytest
from pandera.engines import pandas_engine

from slo_assets.defs import metadata
from slo_assets.ingest import index, parse
from slo_assets.ingest.config import ParseConfig
from slo_assets.warehouse import canonical
from slo_assets.warehouse.schemas import ParsedLogs
from tests.conftest import day_ms

TABLE = canonical.PARSED_LOGS
DAY = "2025-03-04"
LINES = [
    '{"ts":"2025-03-04T10:00:00Z","service":"checkout","method":"GET","path":"/checkout/cart/42","status":200,"duration_ms":12.5}',
    '{"ts":"2025-03-04T10:00:01Z","service":"checkout","method":"POST","path":"/checkout/pay","status":503}',
    '{"ts":"2025-03-04T10:00:02Z","service":"search","status":404,"duration_ms":3}',
    "not json at all",
]


def test_arrow_polars_pandera_and_dagster_list_the_same_columns_in_order():
    names = [c.name for c in TABLE.columns]
    assert TABLE.arrow_schema().names == names
    assert list(TABLE.polars_schema().names()) == names
    assert list(ParsedLogs.to_schema().columns) == names
    assert [c.name for c in metadata.PARSED_LOGS["dagster/column_schema"].columns] == names
    assert index.PARSED_SCHEMA == TABLE.arrow_schema() and index.DAY_QUARANTINE_SCHEMA == canonical.QUARANTINE.arrow_schema()
    # the stage leaves out only the file's own name, keeping the others' order
    assert parse.ROW_SCHEMA.names == [n for n in names if n != "source_file"]
    assert parse.QUARANTINE_SCHEMA.names == [n for n in canonical.QUARANTINE.names if n != "source_file"]


def test_the_forms_agree_on_types_and_nullability():
    arrow, pandera_schema = TABLE.arrow_schema(), ParsedLogs.to_schema()
    dagster_columns = {c.name: c for c in metadata.PARSED_LOGS["dagster/column_schema"].columns}
    empty = arrow.empty_table()
    for column in TABLE.columns:
        assert arrow.field(column.name).type == column.arrow_type
        assert pandera_schema.columns[column.name].dtype.check(pandas_engine.Engine.dtype(empty.to_pandas()[column.name].dtype))
        assert pandera_schema.columns[column.name].nullable is column.nullable
        assert dagster_columns[column.name].type == column.type_name
        assert dagster_columns[column.name].constraints.nullable is column.nullable
        assert dagster_columns[column.name].description == column.description
    assert pandera_schema.unique == list(TABLE.unique) and pandera_schema.strict and pandera_schema.ordered


def test_type_names_are_written_as_the_readme_writes_them():
    assert [c.type_name for c in TABLE.columns] == [
        "timestamp[ms, UTC]", "string", "string", "string", "string", "int32", "float64", "string", "string", "int64"]


def test_the_files_stay_nullable_at_the_arrow_level():
    # Parquet bytes depend on it: a required column would rewrite every file; pandera enforces nulls.
    assert all(field.nullable for field in TABLE.arrow_schema())


def test_an_unknown_staged_column_is_named():
    with pytest.raises(KeyError, match="parsed_logs has no column sourcefile"):
        TABLE.arrow_schema(without=("sourcefile",))


@pytest.fixture
def parsed_day(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("\n".join(LINES) + "\n")
    build = index.build_index(logs, tmp_path / "stage", ParseConfig())
    day = index.assemble_day(build.index, tmp_path / "stage", day_ms(DAY))
    pq.write_table(day.rows, tmp_path / "day.parquet")
    return day, pq.read_table(tmp_path / "day.parquet").to_pandas(), tmp_path / "day.parquet"


def test_a_parsed_day_validates_against_the_generated_model(parsed_day):
    day, frame, path = parsed_day
    assert len(frame) == 3 and day.quarantine.num_rows == 1
    assert day.rows.schema == TABLE.arrow_schema() and day.quarantine.schema == canonical.QUARANTINE.arrow_schema()
    ParsedLogs.validate(frame, lazy=True)
    assert pl.read_parquet(path).schema == TABLE.polars_schema()
    assert frame["duration_ms"].isna().sum() == 1  # a nullable column holds its null


def test_the_generated_model_rejects_what_the_declaration_forbids(parsed_day):
    _, frame, _ = parsed_day
    broken = frame.copy()
    broken.loc[0, "status"] = 99
    broken.loc[1, "service"] = None
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        ParsedLogs.validate(broken, lazy=True)
    failed = set(caught.value.failure_cases["column"])
    assert {"status", "service"} <= failed
    with pytest.raises(pandera.errors.SchemaErrors):
        ParsedLogs.validate(frame[list(reversed(frame.columns))], lazy=True)  # ordered


def test_the_expectation_suite_asks_what_the_schema_cannot(parsed_day):
    """pandera holds the columns, types, bounds, nulls and the key; Great Expectations asks whether the
    day is plausible as logs, and says which expectation a misread log breaks."""
    from slo_assets.warehouse.quality import HTTP_STATUS_CODES, parsed_day_suite, validate_parsed_day

    start = datetime.fromisoformat(DAY).replace(tzinfo=UTC)
    end = start + timedelta(days=1)
    kinds = sorted(type(e).__name__ for e in parsed_day_suite(start, end).expectations)
    assert kinds == ["ExpectColumnMedianToBeBetween", "ExpectColumnUniqueValueCountToBeBetween", "ExpectColumnValuesToBeBetween",
                     "ExpectColumnValuesToBeInSet"]
    assert {200, 404, 499, 503} <= set(HTTP_STATUS_CODES) and 347 not in HTTP_STATUS_CODES
    _, frame, _ = parsed_day
    assert all(o.success for o in validate_parsed_day(frame, start, end))

    def failed(broken: pd.DataFrame) -> list[str]:
        return [o.expectation for o in validate_parsed_day(broken, start, end) if not o.success]

    n = 2_000
    plausible = pd.DataFrame({**{c: [frame[c].iloc[0]] * n for c in frame.columns}, "source_line": range(1, n + 1)})
    assert failed(plausible) == []
    assert failed(plausible.assign(duration_ms=90_000_000.0)) == ["expect_column_median_to_be_between"]  # bytes read as seconds
    assert failed(plausible.assign(status=[347] * 100 + [200] * (n - 100))) == ["expect_column_values_to_be_in_set"]
    assert failed(plausible.assign(service=[f"user-{i}" for i in range(n)])) == ["expect_column_unique_value_count_to_be_between"]
    assert failed(plausible.assign(ts=plausible["ts"] + pd.Timedelta(days=1))) == ["expect_column_values_to_be_between"]
    assert failed(plausible.assign(duration_ms=float("nan"))) == []  # a format without request times: no median to judge


def test_spec_filters_name_the_canonical_columns_with_their_types():
    from slo_assets.openslo.spec import FILTER_FIELDS

    assert FILTER_FIELDS == {c.name: c.python_type for c in TABLE.columns if c.name not in ("ts", "source_line")}
    assert (FILTER_FIELDS["status"], FILTER_FIELDS["duration_ms"], FILTER_FIELDS["path"]) == (int, float, str)


def test_a_day_of_a_run_far_from_the_runs_median_volume_fails_the_expectations_naming_it():
    """The Great Expectations suite checks what pandera cannot: a day's volume against the other days'."""
    from slo_assets.warehouse.quality import validate_day_volumes

    days = {f"2026-10-{d:02d}": 1000 + d for d in range(1, 11)}
    assert [o.success for o in validate_day_volumes(days)] == [True]
    missing_and_doubled = {**days, "2026-10-05": 20, "2026-10-06": 50_000}
    (outcome,) = validate_day_volumes(missing_and_doubled)
    assert not outcome.success and outcome.unexpected_count == 2
    assert outcome.unexpected_examples == ["2026-10-05: 20 (median 1,006)", "2026-10-06: 50,000 (median 1,006)"]
    # a service launched on the 8th, or logs ending on the 3rd: the days outside the logs are no gap
    launched = {**{f"2026-10-{d:02d}": 0 for d in range(1, 8)}, **{f"2026-10-{d:02d}": 900 for d in range(8, 20)}}
    assert [o.success for o in validate_day_volumes(launched)] == [True]
    assert validate_day_volumes({"2026-10-01": 5, "2026-10-02": 7}) == []  # too few days to judge
