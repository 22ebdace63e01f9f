"""Exact quantiles of latency value counts spread over many files, in bounded memory.

A month of value counts (slo, duration_ms, count) is one file per day; concatenating them costs
memory in proportion to the events. Here no source is ever held whole: each pass streams the
sources chunk by chunk (262,144 rows at a time) and keeps only small tables.

1. a histogram per SLO over buckets of the values' order-preserving bit pattern (the top 20 bits:
   1/256 of an octave), with the number of samples n;
2. each wanted rank (the two closest ranks of each quantile) falls in one bucket; a bucket with
   few value-count rows (GATHER_ROWS in all per pass) is gathered whole, exactly; a bigger one is
   split by its next 16 bits in another pass; a bucket of one key is one value, known without reading;
3. the two values of each quantile are interpolated exactly as numpy's 'linear' method does, so
   the result is the same float as np.percentile over the concatenated values (NaN when a NaN is
   among them, as numpy's).

Memory: one chunk, the histograms (at most a few thousand buckets per SLO for real latencies) and
the gathered buckets. Time: two reads of the sources for real latencies, one more per split level.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from slo_assets.slo.values import FloatArray, FrameSchema, IntArray

if TYPE_CHECKING:
    from upath import UPath

    from slo_assets.warehouse.storage import Warehouse

# slo_assets.slo.sli.LATENCY_SCHEMA
VALUE_COUNT_SCHEMA: FrameSchema = {"slo": pl.String, "duration_ms": pl.Float64, "count": pl.Int64}
VALUE_COUNT_COLUMNS = list(VALUE_COUNT_SCHEMA)
FIRST_SHIFT = 44  # the first histogram keeps a key's top 20 bits: sign, exponent, 8 mantissa bits
SPLIT_BITS = 16  # each further pass splits a bucket by its next 16 bits
GATHER_ROWS = 1_000_000  # a bucket of at most this many value-count rows is read whole (~24 MB)
CHUNK_ROWS = 262_144  # value-count rows read at a time (~10 MB)
_LOW_63 = np.int64(0x7FFF_FFFF_FFFF_FFFF)

# A source of value counts: each call reads it again from the start, a chunk at a time.
Chunks = Callable[[], Iterator[pl.DataFrame]]
BucketName = tuple[str, int, int]  # a bucket's (slo, prefix, shift)
RankPlan = tuple[int, int, float]  # the two ranks a quantile lies between, and its weight


@dataclass(frozen=True)
class Quantiles:
    """One SLO's samples (the sum of counts) and its quantiles, None where it has no sample."""

    samples: int
    values: tuple[float | None, ...]


def frame_chunks(frame: pl.DataFrame) -> Chunks:
    return lambda: iter([frame])


def latency_sources(latency: pl.DataFrame | Sequence[Chunks]) -> Sequence[Chunks]:
    """Value counts (slo, duration_ms, count) as sources to stream: a frame, or the day files' readers."""
    return [frame_chunks(latency)] if isinstance(latency, pl.DataFrame) else latency


def _arrow_frame(batch: pa.RecordBatch) -> pl.DataFrame:
    frame = pl.from_arrow(batch)
    if not isinstance(frame, pl.DataFrame):  # a record batch is a table: never a single column
        raise TypeError(f"a record batch read as {type(frame).__name__}, not a frame")
    return frame


def parquet_chunks(store: Warehouse, target: UPath, slos: Iterable[str] | None = None, rows: int = CHUNK_ROWS) -> Chunks:
    """A value-count file streamed `rows` at a time with a column filter and, given `slos`, a row
    filter (pushed down to the row groups' statistics)."""
    wanted = None if slos is None else sorted(set(slos))

    def chunks() -> Iterator[pl.DataFrame]:
        if store.is_local:
            scan = pl.scan_parquet(str(target)).select(VALUE_COUNT_COLUMNS)
            yield from (scan if wanted is None else scan.filter(pl.col("slo").is_in(wanted))).collect_batches(chunk_size=rows)
            return
        with target.open("rb") as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=rows, columns=VALUE_COUNT_COLUMNS):
                frame = _arrow_frame(batch)
                yield frame if wanted is None else frame.filter(pl.col("slo").is_in(wanted))

    return chunks


def day_sources(store: Warehouse, targets: Iterable[UPath], slos: Iterable[str] | None = None) -> list[Chunks]:
    """A source per value-count file that exists (e.g. the month's sli_latency days)."""
    wanted = None if slos is None else list(slos)
    return [parquet_chunks(store, target, wanted) for target in targets if target.exists()]


def write_value_counts(store: Warehouse, target: UPath, sources: Iterable[UPath], slos: Iterable[str]) -> tuple[int, str, int]:
    """The rows of `slos` in the value-count files `sources`, in their order, as one file written a
    row group at a time: the same bytes as writing the concatenated, filtered frame, never held whole
    (the month's latency value counts). Returns (bytes, sha256, rows)."""
    wanted = sorted(set(slos))
    schema = pl.DataFrame(schema=VALUE_COUNT_SCHEMA).to_arrow().schema
    rows = 0

    def tables() -> Iterator[pa.Table]:
        nonlocal rows
        for chunks in day_sources(store, sources, wanted):
            for chunk in chunks():
                kept = chunk.filter(pl.col("slo").is_in(wanted)).select(VALUE_COUNT_COLUMNS)
                rows += kept.height
                yield kept.to_arrow()

    size, digest = store.write_tables(target, schema, tables())
    return size, digest, rows


def order_keys(values: npt.ArrayLike) -> IntArray:
    """int64 keys ordered as the float64 values are (-0.0 and 0.0 share one key; NaN is not ordered)."""
    bits = (np.asarray(values, dtype=np.float64) + 0.0).view(np.int64)  # + 0.0 turns -0.0 into 0.0
    ordered: IntArray = np.where(bits < 0, bits ^ _LOW_63, bits)
    return ordered


def key_values(keys: npt.ArrayLike) -> FloatArray:
    array = np.atleast_1d(np.asarray(keys, dtype=np.int64))
    return np.where(array < 0, array ^ _LOW_63, array).view(np.float64)


def numpy_rank_plan(n: int, q: float) -> tuple[int, int, float]:
    """The two 0-based ranks np.percentile(values, q * 100) (method 'linear') interpolates between,
    and its weight, computed with numpy's own float steps: q' = (100 q) / 100, h = (n - 1) q',
    both ranks n - 1 when h >= n - 1."""
    q_effective = (q * 100) / 100
    virtual = (n - 1) * q_effective
    if virtual >= float(n - 1):
        return n - 1, n - 1, virtual + 1.0  # numpy's previous index is then -1; a == b makes the weight moot
    below = math.floor(virtual)
    return below, below + 1, virtual - float(below)


def numpy_lerp(a: float, b: float, t: float) -> float:
    """numpy's _lerp: a + (b - a) t, computed from b's side when t >= 0.5."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


@dataclass
class _Bucket:
    """Values of one SLO whose key >> shift == prefix, holding the wanted ranks in `ranks`."""

    slo: str
    prefix: int
    shift: int
    below: int  # samples of the SLO with a smaller key
    ranks: set[int]
    rows: int = 0  # value-count rows inside, over all sources


@dataclass
class _Part:
    """A chunk's rows of the wanted SLOs as arrays: the SLO by its index in `names`."""

    codes: npt.NDArray[np.integer[Any]]
    values: FloatArray
    keys: IntArray
    counts: IntArray


def _part(chunk: pl.DataFrame, names: list[str]) -> _Part | None:
    if not chunk.height:
        return None
    codes = chunk["slo"].cast(pl.Enum(names), strict=False).to_physical()  # null: an SLO not asked for
    if codes.null_count():
        chunk, codes = chunk.filter(codes.is_not_null()), codes.drop_nulls()
        if not chunk.height:
            return None
    values = chunk["duration_ms"].cast(pl.Float64).to_numpy()
    return _Part(codes.to_numpy(), values, order_keys(values), chunk["count"].cast(pl.Int64).to_numpy())


def _histogram(cells: IntArray, counts: IntArray) -> pl.DataFrame:
    """samples and value-count rows per cell (an SLO's bucket as one int64)."""
    return pl.DataFrame({"cell": cells, "samples": counts}).group_by("cell").agg(pl.col("samples").sum(), pl.len().cast(pl.Int64).alias("rows"))


FIRST_BITS = 64 - FIRST_SHIFT


def _first_cells(codes: npt.NDArray[np.integer[Any]], keys: IntArray) -> IntArray:
    """The first histogram's cell of each row: the SLO's code above its key's top 20 bits."""
    return (codes.astype(np.int64) << FIRST_BITS) | ((keys >> FIRST_SHIFT) + (1 << (FIRST_BITS - 1)))


def _first_buckets(cells: IntArray) -> tuple[IntArray, IntArray]:
    """(code, bucket) of first-histogram cells."""
    return cells >> FIRST_BITS, (cells & ((1 << FIRST_BITS) - 1)) - (1 << (FIRST_BITS - 1))


def _merge(tables: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(tables).group_by("cell").agg(pl.col("samples").sum(), pl.col("rows").sum()) if len(tables) > 1 else tables[0]


def quantiles_by_slo(sources: Sequence[Chunks], wanted: Mapping[str, Sequence[float]],
                     gather_rows: int = GATHER_ROWS) -> dict[str, Quantiles]:
    """The exact quantiles `wanted[slo]` of each SLO's values over all `sources` together: the same
    floats as np.percentile(np.repeat(values, counts), [100 q, ...]) over the concatenation."""
    names = sorted(wanted)
    roots, nans = _first_histograms(sources, names)
    samples = {slo: int(nans[i]) + (int(roots[slo]["samples"].sum()) if slo in roots else 0) for i, slo in enumerate(names)}
    plans = {slo: [numpy_rank_plan(samples[slo], float(q)) for q in wanted[slo]]
             for i, slo in enumerate(names) if samples[slo] > 0 and nans[i] == 0}
    # the root bucket (shift 64) is the whole SLO; its histogram is pass 1's
    pending = [_Bucket(slo, 0, 64, 0, {r for lo, hi, _ in plan for r in (lo, hi)}) for slo, plan in plans.items()]
    histograms = {(b.slo, 0, 64): roots[b.slo] for b in pending}
    del roots
    found = _ranked_values(sources, pending, histograms, gather_rows)
    result = {}
    for slo in wanted:
        if samples[slo] == 0:
            result[slo] = Quantiles(0, tuple(None for _ in wanted[slo]))
        elif nans[names.index(slo)]:
            result[slo] = Quantiles(samples[slo], tuple(math.nan for _ in wanted[slo]))
        else:
            result[slo] = Quantiles(samples[slo], tuple(numpy_lerp(found[(slo, lo)], found[(slo, hi)], t) for lo, hi, t in plans[slo]))
    return result


def _first_histograms(sources: Sequence[Chunks], names: list[str]) -> tuple[dict[str, pl.DataFrame], IntArray]:
    """Pass 1: the first histogram of every SLO (its buckets by `bucket`, with samples and rows), and
    the samples that are NaN per SLO (in `names`' order)."""
    first: list[pl.DataFrame] = []
    nans = np.zeros(len(names), dtype=np.int64)
    for source in sources:
        for chunk in source():
            part = _part(chunk, names)
            if part is None:
                continue
            codes, keys, counts = part.codes, part.keys, part.counts
            nan = np.isnan(part.values)
            if nan.any():
                np.add.at(nans, codes[nan], counts[nan])
                codes, keys, counts = codes[~nan], keys[~nan], counts[~nan]
            first.append(_histogram(_first_cells(codes, keys), counts))
            if len(first) > 64:  # keep the partial histograms few
                first = [_merge(first)]
    if not first:
        return {}, nans
    merged = _merge(first)
    del first
    code, buckets = _first_buckets(merged["cell"].to_numpy())
    merged = merged.with_columns(code=pl.Series(code), bucket=pl.Series(buckets)).drop("cell")
    return {names[key[0]]: table for key, table in merged.partition_by("code", as_dict=True).items()}, nans


def _ranked_values(sources: Sequence[Chunks], pending: list[_Bucket], histograms: dict[BucketName, pl.DataFrame],
                   gather_rows: int) -> dict[tuple[str, int], float]:
    """The value at each wanted rank of each SLO, (slo, rank) -> value: each pass splits the buckets
    holding a rank (`pending`, with their histograms) into finer ones and gathers, within
    `gather_rows` rows, those small enough to read whole."""
    found: dict[tuple[str, int], float] = {}
    queue: list[_Bucket] = []  # buckets to gather, a pass at a time within `gather_rows` rows
    while pending or queue:
        to_split: list[_Bucket] = []
        for bucket in pending:
            _descend(bucket, histograms[(bucket.slo, bucket.prefix, bucket.shift)], found, queue, to_split, gather_rows)
        batch = _next_batch(queue, gather_rows)
        histograms, gathered = _pass(sources, to_split, batch)
        for bucket in batch:
            keys, counts = gathered[(bucket.slo, bucket.prefix, bucket.shift)]
            ends = np.cumsum(counts) + bucket.below
            for rank in bucket.ranks:
                at = int(np.searchsorted(ends, rank, side="right"))
                found[(bucket.slo, rank)] = float(key_values(keys[at:at + 1])[0])
        pending = to_split
    return found


def _descend(bucket: _Bucket, table: pl.DataFrame, found: dict[tuple[str, int], float], queue: list[_Bucket],
             to_split: list[_Bucket], gather_rows: int) -> None:
    """The children of `bucket` (from its histogram `table`) holding its ranks: a child of one key is
    its value (into `found`), a small one is queued to be gathered, a big one split in the next pass."""
    table = (table.rename({"cell": "bucket"}) if "cell" in table.columns else table).sort("bucket")
    inner_shift = FIRST_SHIFT if bucket.shift == 64 else max(0, bucket.shift - SPLIT_BITS)
    ends = np.cumsum(table["samples"].to_numpy()) + bucket.below
    children: dict[int, _Bucket] = {}
    for rank in sorted(bucket.ranks):
        i = int(np.searchsorted(ends, rank, side="right"))
        prefix = int(table["bucket"][i])
        if inner_shift == 0:  # one key: one value
            found[(bucket.slo, rank)] = float(key_values(np.array([prefix]))[0])
            continue
        if prefix in children:
            children[prefix].ranks.add(rank)
            continue
        child = children[prefix] = _Bucket(bucket.slo, prefix, inner_shift, int(ends[i - 1]) if i else bucket.below,
                                           {rank}, int(table["rows"][i]))
        (queue if child.rows <= gather_rows else to_split).append(child)


def _next_batch(queue: list[_Bucket], gather_rows: int) -> list[_Bucket]:
    """The smallest queued buckets, taken from `queue`, within `gather_rows` rows (at least one)."""
    queue.sort(key=lambda b: b.rows)
    batch: list[_Bucket] = []
    rows = 0
    while queue and (not batch or rows + queue[0].rows <= gather_rows):
        rows += queue[0].rows
        batch.append(queue.pop(0))
    return batch


def _pass(sources: Sequence[Chunks], to_split: list[_Bucket], to_gather: list[_Bucket]
          ) -> tuple[dict[BucketName, pl.DataFrame], dict[BucketName, tuple[IntArray, IntArray]]]:
    """One read of every source: the finer histograms of `to_split`, the sorted (key, count) of `to_gather`."""
    split_parts: dict[BucketName, list[pl.DataFrame]] = {}
    gather_parts: dict[BucketName, list[tuple[IntArray, IntArray]]] = {}
    buckets = [(b, True) for b in to_split] + [(b, False) for b in to_gather]
    names = sorted({b.slo for b, _ in buckets})
    for source in sources if buckets else ():
        for chunk in source():
            part = _part(chunk, names)
            if part is None:
                continue
            of_slo = {}
            for bucket, split in buckets:
                if bucket.slo not in of_slo:
                    mine = part.codes == names.index(bucket.slo)
                    of_slo[bucket.slo] = (part.keys[mine], part.counts[mine])
                slo_keys, slo_counts = of_slo[bucket.slo]
                inside = (slo_keys >> bucket.shift) == bucket.prefix
                if not inside.any():
                    continue
                keys, counts, name = slo_keys[inside], slo_counts[inside], (bucket.slo, bucket.prefix, bucket.shift)
                if split:
                    split_parts.setdefault(name, []).append(_histogram(keys >> max(0, bucket.shift - SPLIT_BITS), counts))
                else:
                    gather_parts.setdefault(name, []).append((keys, counts))
    histograms = {name: _merge(tables) for name, tables in split_parts.items()}
    gathered = {}
    for name, pieces in gather_parts.items():
        keys = np.concatenate([k for k, _ in pieces])
        counts = np.concatenate([c for _, c in pieces])
        unique, inverse = np.unique(keys, return_inverse=True)
        summed = np.zeros(len(unique), dtype=np.int64)
        np.add.at(summed, inverse, counts)
        gathered[name] = (unique, summed)
    return histograms, gathered


@dataclass(frozen=True)
class LatencyPercentiles:
    """A latency SLO's exact p50/p95/p99 over the month's requests with a duration (sli_metrics)."""

    slo: str
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    samples: int

    def values(self) -> tuple[tuple[str, float | None], ...]:
        """(quantile label, milliseconds) in order: 0.5, 0.95, 0.99."""
        return (("0.5", self.p50_ms), ("0.95", self.p95_ms), ("0.99", self.p99_ms))


def latency_percentiles(metrics: pl.DataFrame | None) -> dict[str, LatencyPercentiles]:
    """The latency SLOs' percentiles from a month's sli_metrics table (none without one)."""
    if metrics is None or metrics.is_empty():
        return {}

    def number(value: float | None) -> float | None:
        return None if value is None or math.isnan(value) else float(value)

    rows = metrics.filter(pl.col("kind") == "latency").select("slo", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                                                               "latency_samples")
    return {slo: LatencyPercentiles(slo, number(p50), number(p95), number(p99), int(samples or 0))
            for slo, p50, p95, p99, samples in rows.iter_rows()}

