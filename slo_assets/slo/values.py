"""The value types the SLO modules share: numpy arrays by what they hold, frame schemas, JSON objects.

A series is one value per minute (or per day, per slice) as a one-dimensional numpy array; its
element type says what it counts: whole events or slices (int64), ratios and burn rates (float64),
which minutes an adjustment or a rule touches (bool). Budget units are whole for Occurrences and
Timeslices, fractional for RatioTimeslices and weighted composites: either.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

IntArray = npt.NDArray[np.int64]  # events, slices or server errors per minute
FloatArray = npt.NDArray[np.float64]  # ratios, burn rates, expected requests
BoolArray = npt.NDArray[np.bool_]  # a mask over minutes
UnitArray = npt.NDArray[np.number[Any]]  # budget units per minute: int64 (events, slices), or float64 (ratio slices, weights)

FrameSchema = dict[str, pl.DataType | type[pl.DataType]]  # column -> polars type: a class (pl.Int64) or an instance (pl.Datetime("ms"))

# A JSON object as json.loads gives it and json.dumps takes it: what a value holds depends on its key,
# and the readers (the from_json class methods) check each key they read.
JsonObject = dict[str, Any]
