"""Pandera models of the tables other tools read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series


class ParsedLogs(pa.DataFrameModel):
    """One row per request, for one UTC day (`parsed_logs` partition)."""

    ts: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "ms", "tz": "UTC"}, description="request time, UTC, ms")
    service: Series[str] = pa.Field(str_length={"min_value": 1}, description="service the request belongs to")
    operation: Series[str] = pa.Field(str_length={"min_value": 1}, description="method and path template, or the operation field")
    method: Series[str] = pa.Field(nullable=True, description="HTTP method; null when the request line was unparseable")
    path: Series[str] = pa.Field(nullable=True, description="request path without query string")
    status: Series[np.int32] = pa.Field(ge=100, le=599, description="HTTP status code")
    duration_ms: Series[float] = pa.Field(ge=0, nullable=True, description="request duration in ms; null when the format has none")
    source_file: Series[str] = pa.Field(str_length={"min_value": 1}, description="log file, relative to the log folder")
    source_line: Series[int] = pa.Field(ge=1, description="1-based line number in source_file")

    class Config:
        strict = True
        ordered = True
        unique = ["source_file", "source_line"]
