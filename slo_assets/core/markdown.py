"""Small Markdown tables for Dagster metadata."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:200]


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return "\n".join(lines)


def frame_table(frame: Any, limit: int = 10) -> str:
    """A polars or pandas frame's first rows as Markdown."""
    import polars as pl

    frame = frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)
    return table(frame.columns, frame.head(limit).iter_rows())
