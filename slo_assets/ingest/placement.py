"""Placing quarantined lines on a day, so a person finds each beside the requests of that day.

While a segment is parsed, each quarantined line is written with its candidate times (its own, the
previous valid line's, one found in its raw text); once the whole segment is read, the rule below
picks one, knowing the file's outlying days.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc

from slo_assets.core.calendar import DAY_MS
from slo_assets.ingest.parse_lines import QUARANTINE_SCHEMA
from slo_assets.ingest.parse_typed import TS_MAX_MS, TS_MIN_MS
from slo_assets.ingest.stage_store import IPC_OPTIONS, StageStats, bound

# A quarantined line belongs to a day, so a person finds it beside the requests of that day:
#  1. its own timestamp, if it has a valid one;
#  2. else the nearest valid line before it, else the nearest after it (lines before the first valid
#     one), skipping valid lines on an outlying day (see outlying_days): a garbage line after one
#     row dated 2099 stays with the file's real days;
#  3. in a file without any valid line (a wrong --format), a timestamp found in the raw text (combined
#     [dd/Mon/yyyy:HH:MM:SS +zzzz] or an ISO-8601 instant), else the nearest such line's;
#  4. else it is unplaced: in no day, counted in stats.unplaced (never the file's mtime).

OUTLIER_GAP_DAYS = 31  # days with rows further apart than this are separate clusters
OUTLIER_SHARE = 0.05  # a cluster with fewer rows than this share of the file's is outlying

CANDIDATES_SCHEMA = pa.schema([
    *QUARANTINE_SCHEMA,
    ("own_ts", pa.int64()),  # the line's own valid timestamp
    ("prev_ts", pa.int64()),  # the nearest earlier valid line's, in the whole file
    ("raw_ts", pa.int64()),  # a timestamp found in the raw text (only for lines with neither)
])
_RAW_COMBINED_TS = r"\[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]"
_RAW_ISO_TS = r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}:?\d{2})?"


def outlying_days(day_rows: dict[int, int]) -> set[int]:
    """Days of rows far from the file's main span: days are grouped into clusters (a gap of more than
    OUTLIER_GAP_DAYS starts a new one) and a cluster holding less than OUTLIER_SHARE of the rows is
    outlying, unless every cluster is."""
    if not day_rows:
        return set()
    clusters: list[list[int]] = []
    for day in sorted(day_rows):
        if clusters and day - clusters[-1][-1] <= OUTLIER_GAP_DAYS:
            clusters[-1].append(day)
        else:
            clusters.append([day])
    total = sum(day_rows.values())
    small = [c for c in clusters if sum(day_rows[d] for d in c) < OUTLIER_SHARE * total]
    if len(small) == len(clusters):
        return set()
    return {day for cluster in small for day in cluster}


def raw_timestamp_ms(raw: pl.Series) -> pl.Series:
    """A timestamp written somewhere in each raw line (combined bracket form, else ISO-8601; no
    offset means UTC), as epoch ms, null where none is found or it is outside 1970-9999."""
    frame = pl.DataFrame({"raw": raw})
    combined = frame.select(
        pl.col("raw").str.extract(_RAW_COMBINED_TS, 1).str.to_datetime("%d/%b/%Y:%H:%M:%S %z", strict=False)
        .dt.convert_time_zone("UTC").dt.epoch("ms")
    ).to_series()
    iso = frame.select(
        pl.concat_str([
            pl.col("raw").str.extract(_RAW_ISO_TS, 1), pl.lit("T"), pl.col("raw").str.extract(_RAW_ISO_TS, 2),
            pl.col("raw").str.extract(_RAW_ISO_TS, 3).fill_null("Z").str.replace("Z", "+00:00", literal=True),
        ]).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False).dt.convert_time_zone("UTC").dt.epoch("ms")
    ).to_series()
    found = combined.fill_null(iso)
    return pl.select(pl.when(found.is_between(TS_MIN_MS, TS_MAX_MS)).then(found)).to_series().alias("raw_ts")


def quarantine_candidates(quarantine: pl.DataFrame, rows: pl.DataFrame, carry_ts: int | None) -> pl.DataFrame:
    """Each quarantined line of a chunk with its own timestamp, the previous valid line's and a raw one.

    parse.py's ts_hint is the own timestamp or the previous valid one; which of the two it is follows
    from comparing it with the previous valid line's (equal means the same day either way)."""
    valid = rows.select(pl.col("source_line"), pl.col("ts").dt.epoch("ms").alias("prev_ts")).set_sorted("source_line")
    frame = quarantine.with_columns(pl.col("source_line").set_sorted()).join_asof(valid, on="source_line", strategy="backward")
    hint = pl.col("ts_hint").dt.epoch("ms")
    frame = frame.with_columns(pl.col("prev_ts").fill_null(pl.lit(carry_ts, dtype=pl.Int64))).with_columns(
        pl.when(pl.col("prev_ts").is_null() | (hint != pl.col("prev_ts"))).then(hint).alias("own_ts")
    )
    needs_raw = frame["own_ts"].is_null() & frame["prev_ts"].is_null()
    raw_ts = pl.Series("raw_ts", [None] * frame.height, dtype=pl.Int64)
    if needs_raw.any():
        raw_ts = pl.select(pl.when(needs_raw).then(raw_timestamp_ms(frame["raw"]))).to_series().alias("raw_ts")
    return frame.with_columns(raw_ts).select(CANDIDATES_SCHEMA.names)


def _main_rows(stage: Path, outlying: set[int]) -> pl.DataFrame:
    """(source_line, ts ms) of the rows not on an outlying day, in line order (read only when a file
    has outlying days, which is rare)."""
    parts = []
    for rows_file in sorted(stage.glob("rows-*.arrow")):
        if int(rows_file.name.split("-")[1]) in outlying:
            continue
        with pa.memory_map(str(rows_file)) as source:
            table = ipc.open_file(source).read_all().select(["source_line", "ts"])
        parts.append(pl.from_arrow(table).select("source_line", pl.col("ts").dt.epoch("ms").alias("near_ts")))
    if not parts:
        return pl.DataFrame(schema={"source_line": pl.Int64, "near_ts": pl.Int64})
    return pl.concat(parts).sort("source_line")


def place_quarantine(stage: Path, stats: StageStats, first_raw_ts: int | None, source_path: Path, target: Path,
                      rows_before: bool = False) -> None:
    """Stream the candidates into `target` with ts_hint = the time that decides the line's day.
    `rows_before`: a later segment of a file with valid lines before it (and no outlying day)."""
    outlying = set(stats.outlying_days)
    main = _main_rows(stage, outlying) if outlying else None
    first_main = stats.first_line_ts_ms if main is None else (int(main["near_ts"][0]) if main.height else None)
    day_quarantined: Counter[int] = Counter()
    carry_raw = None
    with pa.memory_map(str(source_path)) as source, \
            ipc.new_file(target, QUARANTINE_SCHEMA, options=IPC_OPTIONS) as out:
        reader = ipc.open_file(source)
        for batch_index in range(reader.num_record_batches):
            frame = pl.from_arrow(pa.Table.from_batches([reader.get_batch(batch_index)]))
            if stats.rows or rows_before:
                if main is None:  # nothing outlying: the previous valid line, else the first one
                    near = pl.col("prev_ts").fill_null(pl.lit(first_main, dtype=pl.Int64))
                else:
                    frame = frame.with_columns(pl.col("source_line").set_sorted()).join_asof(
                        main.set_sorted("source_line"), on="source_line", strategy="backward")
                    near = pl.col("near_ts").fill_null(pl.lit(first_main, dtype=pl.Int64))
                placed = frame.select(pl.coalesce(pl.col("own_ts"), near).alias("placed")).to_series()
            else:  # no valid line at all: times found in the raw text, carried to the lines after
                raw = frame.select(pl.coalesce("own_ts", "raw_ts")).to_series()
                placed = raw.fill_null(strategy="forward")
                if carry_raw is not None:
                    placed = placed.fill_null(carry_raw)
                if first_raw_ts is not None:  # lines before the first time found take it
                    placed = placed.fill_null(first_raw_ts)
                if placed.drop_nulls().len():
                    carry_raw = int(placed.drop_nulls()[-1])
            placed = placed.alias("placed")
            stats.unplaced += placed.null_count()
            known = placed.drop_nulls()
            if known.len():
                stats.min_ts_ms = bound(stats.min_ts_ms, int(known.min()), min)
                stats.max_ts_ms = bound(stats.max_ts_ms, int(known.max()), max)
                for day, count in (known // DAY_MS).value_counts().iter_rows():
                    day_quarantined[int(day)] += count
            stats.orphan_quarantined += int((frame["own_ts"].is_null() & frame["prev_ts"].is_null()).sum())
            out.write_table(
                frame.with_columns(placed.cast(pl.Datetime("ms", "UTC")).alias("ts_hint"))
                .select(QUARANTINE_SCHEMA.names).to_arrow().cast(QUARANTINE_SCHEMA)
            )
    source_path.unlink()
    stats.day_quarantined = dict(sorted(day_quarantined.items()))
