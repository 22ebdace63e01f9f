"""The canonical tables, declared once: every other form (Arrow, polars, pandera, the Dagster column
metadata, the Great Expectations suite) is generated from the declarations below.

PUDL-style: one metadata table per data table, code derives the schemas. Adding or changing a
column here changes the files the parser writes, the blocking pandera check, the UI's column list
and the GX suite together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa


@dataclass(frozen=True)
class Checks:
    """Value constraints a column's rows must meet; null values are exempt (nullability is separate)."""

    ge: float | None = None
    le: float | None = None
    min_length: int | None = None  # strings: at least this many characters


@dataclass(frozen=True)
class Column:
    name: str
    arrow_type: pa.DataType
    nullable: bool
    checks: Checks
    description: str

    @property
    def python_type(self) -> type:
        """The Python type of a value, as a spec filter compares it."""
        kind = self.arrow_type
        if pa.types.is_timestamp(kind):
            return datetime
        if pa.types.is_integer(kind):
            return int
        if pa.types.is_floating(kind):
            return float
        return str

    @property
    def type_name(self) -> str:
        """The type as docs/assets.md and the UI write it: int32, float64, timestamp[ms, UTC]."""
        kind = self.arrow_type
        if pa.types.is_timestamp(kind):
            return f"timestamp[{kind.unit}, {kind.tz}]" if kind.tz else f"timestamp[{kind.unit}]"
        if pa.types.is_floating(kind):
            return f"float{kind.bit_width}"
        return str(kind)


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()  # columns whose combination identifies a row

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def _kept(self, without: tuple[str, ...]) -> tuple[Column, ...]:
        unknown = set(without) - set(self.names)
        if unknown:
            raise KeyError(f"{self.name} has no column {', '.join(sorted(unknown))}")
        return tuple(c for c in self.columns if c.name not in without)

    def arrow_schema(self, without: tuple[str, ...] = ()) -> pa.Schema:
        """The schema the files are written with. Every Arrow field stays nullable, as the files
        have always been written (a REQUIRED Parquet column would change every file's bytes);
        `Column.nullable` is enforced by the pandera check instead. `without`: the staged form,
        which leaves out columns implied by where it is stored (source_file)."""
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self._kept(without)])

    def polars_schema(self, without: tuple[str, ...] = ()):
        import polars as pl

        return pl.from_arrow(self.arrow_schema(without).empty_table()).schema

    def column_schema(self) -> tuple[tuple[str, str, str], ...]:
        """(name, type, description) triples, for the Dagster column metadata."""
        return tuple((c.name, c.type_name, c.description) for c in self.columns)

    def pandera_model(self, class_name: str):
        """A pandera DataFrameModel of the table as pandas reads its Parquet file (strict, ordered)."""
        return _pandera_model(self, class_name)


def _pandera_dtype(kind: pa.DataType):
    import numpy as np
    import pandas as pd

    if pa.types.is_timestamp(kind):
        return pd.DatetimeTZDtype, {"unit": kind.unit, "tz": kind.tz}
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return str, None
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return np.dtype(kind.to_pandas_dtype()).type, None
    raise TypeError(f"no pandera dtype for {kind}")


def _pandera_model(table: Table, class_name: str):
    import pandera.pandas as pandera
    from pandera.typing import Series

    annotations, fields = {}, {}
    for column in table.columns:
        dtype, dtype_kwargs = _pandera_dtype(column.arrow_type)
        annotations[column.name] = Series[dtype]
        checks = column.checks
        bounds = {"ge": checks.ge, "le": checks.le}
        if checks.min_length is not None:
            bounds["str_length"] = {"min_value": checks.min_length}
        fields[column.name] = pandera.Field(
            nullable=column.nullable, dtype_kwargs=dtype_kwargs, description=column.description,
            **{key: value for key, value in bounds.items() if value is not None})

    config = type("Config", (), {"strict": True, "ordered": True, "unique": list(table.unique) or None})
    namespace = {"__annotations__": annotations, "__doc__": table.description, "__module__": "slo_assets.warehouse.schemas",
                 "Config": config, **fields}
    return type(class_name, (pandera.DataFrameModel,), namespace)


_UTC_MS = pa.timestamp("ms", tz="UTC")
_TEXT = Checks(min_length=1)

PARSED_LOGS = Table(
    name="parsed_logs",
    description="One row per request, for one UTC day (`parsed_logs` partition).",
    columns=(
        Column("ts", _UTC_MS, False, Checks(), "request time"),
        Column("service", pa.string(), False, _TEXT, "from the JSON field, the path regex, or a fixed name"),
        Column("operation", pa.string(), False, _TEXT, "operation field, else method + path template"),
        Column("method", pa.string(), True, Checks(), "HTTP method, null when the request line is unparseable"),
        Column("path", pa.string(), True, Checks(), "request path without query string"),
        Column("status", pa.int32(), False, Checks(ge=100, le=599), "HTTP status, 100-599"),
        Column("duration_ms", pa.float64(), True, Checks(ge=0), "request duration, null when the format has none"),
        Column("client", pa.string(), True, _TEXT, "client address or user, null when the format has none"),
        Column("source_file", pa.string(), False, _TEXT, "log file relative to the log folder"),
        Column("source_line", pa.int64(), False, Checks(ge=1), "1-based line number"),
    ),
    unique=("source_file", "source_line"),
)

QUARANTINE = Table(
    name="quarantine",
    description="One row per rejected line of one UTC day (`quarantine`, beside `parsed_logs`).",
    columns=(
        Column("source_file", pa.string(), False, _TEXT, "log file relative to the log folder"),
        Column("source_line", pa.int64(), False, Checks(ge=1), "1-based line number"),
        Column("reason", pa.string(), False, _TEXT, "why the line was rejected (a stable code)"),
        Column("detail", pa.string(), True, Checks(), "the field and its value as written"),
        Column("raw", pa.string(), True, Checks(), "first 512 bytes of the line, invalid UTF-8 as \\xNN"),
        Column("ts_hint", _UTC_MS, True, Checks(), "the time that places the line on a day"),
    ),
    unique=("source_file", "source_line"),
)

# The stage of one file holds its rows and rejected lines without the file's name (it is the stage's).
STAGED_WITHOUT = ("source_file",)
