"""Typed columns from the raw strings: timestamps, services, paths and operations; each invalid row's reason.

Every format's raw columns end here: a row is valid when its timestamp, status, duration and service
pass the rules, else it is quarantined with the first rule it failed and the value as written.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.log_format import TIME_CLF, TIME_EPOCH_S, TIME_ISO
from slo_assets.ingest.parse_lines import (
    DURATION_INVALID,
    DURATION_NOT_NUMBER,
    STATUS_MISSING,
    STATUS_NOT_INTEGER,
    STATUS_OUT_OF_RANGE,
    TIMESTAMP_MISSING,
    TIMESTAMP_OUT_OF_RANGE,
    TIMESTAMP_UNPARSEABLE,
)

# Timestamps outside this range cannot be meant (and years past 9999 overflow calendars).
TS_MIN_MS = 0  # 1970-01-01
TS_MAX_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z
EPOCH_MS_THRESHOLD = 1e11  # auto epoch unit: values at or above are milliseconds
COMBINED_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
COMBINED_UTC_FORMAT = "%d/%b/%Y:%H:%M:%S +0000"
# The one ISO-8601 grammar of every path: date, T/t/space, hh[:mm[:ss[.1-9 digits]]], offset
# Z/z/+hh/+hhmm/+hh:mm or none (UTC). It is what Arrow's fast cast accepts, plus lowercase and
# no offset, so a value parses the same alone or beside any other value.
ISO_GRAMMAR = (
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>[01]\d|2[0-3])(?::(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d)(?P<f>\.\d{1,9})?)?)?"
    r"(?P<z>[Zz]|(?P<zs>[+-])(?P<zh>[01]\d|2[0-3])(?::?(?P<zm>[0-5]\d))?)?$"
)
ISO_CANONICAL_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ID_SEGMENT = rf"/(?:{_UUID}|[0-9a-fA-F]{{16,}}|\d+)\b"


def _arrow_iso(raw: pl.Series) -> pl.Series | None:
    """Arrow's ISO-8601 parser is several times faster than polars' but rejects a whole column for
    one odd value; None then, and the caller takes the tolerant path."""
    try:
        nanos = pc.cast(raw.to_arrow(), pa.timestamp("ns", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pl.Series(raw.name, pc.cast(nanos, pa.timestamp("ms", tz="UTC"), safe=False))


def _iso_timestamp(raw: pl.Series) -> pl.Series:
    """ISO-8601 (ISO_GRAMMAR), tolerant: what does not parse is null. Arrow first (fast, but all or
    nothing); otherwise each value is rewritten to one canonical form and parsed on its own."""
    fast = _arrow_iso(raw)
    if fast is not None:
        return fast
    g = raw.str.extract_groups(ISO_GRAMMAR)
    part = g.struct.field
    zone = (
        pl.when(part("zh").is_not_null()).then(pl.concat_str([part("zs"), part("zh"), pl.lit(":"), part("zm").fill_null("00")]))
        .otherwise(pl.lit("+00:00"))  # Z, z, or no offset: UTC
    )
    canonical = pl.concat_str([
        part("date"), pl.lit("T"), part("h"), pl.lit(":"), part("m").fill_null("00"), pl.lit(":"),
        part("s").fill_null("00"), part("f").fill_null(""), zone,
    ])
    text = pl.select(canonical.alias(raw.name)).to_series() if len(raw) else raw
    return text.str.to_datetime(ISO_CANONICAL_FORMAT, strict=False, time_unit="ms", time_zone="UTC", cache=False)


def _json_timestamp_ms(raw: pl.Series, epoch_unit: str) -> pl.Series:
    fast = _arrow_iso(raw)
    if fast is not None:
        return fast.dt.epoch("ms").cast(pl.Float64)
    number = raw.str.strip_chars().cast(pl.Float64, strict=False)
    if epoch_unit == "s":
        epoch_ms = number * 1000.0
    elif epoch_unit == "ms":
        epoch_ms = number
    else:
        epoch_ms = pl.select(pl.when(number.abs() >= EPOCH_MS_THRESHOLD).then(number).otherwise(number * 1000.0)).to_series()
    iso_ms = _iso_timestamp(raw.set(number.is_not_null(), None)).dt.epoch("ms").cast(pl.Float64)
    return epoch_ms.fill_null(iso_ms)


TIME_JSON = "json"


def clf_timestamp(raw: pl.Series) -> pl.Series:
    """[10/Oct/2026:13:55:36 -0700] as a UTC datetime (ms), null where it does not parse. When every
    value is written in UTC (+0000, the usual server setting) the offset is matched as text: a
    quarter of the cost of parsing it (5 against 18 ms per 100k values), the same instants."""
    if len(raw) and raw.str.ends_with(" +0000").all():
        return raw.str.to_datetime(COMBINED_UTC_FORMAT, strict=False, time_unit="ms", time_zone="UTC")
    return raw.str.to_datetime(COMBINED_TIME_FORMAT, strict=False, time_unit="ms").dt.convert_time_zone("UTC")


def _timestamp_ms(frame: pl.DataFrame, time_kind: str, config: ParseConfig) -> pl.Series:
    raw = frame["ts_raw"]
    if time_kind == TIME_CLF:
        return clf_timestamp(raw).dt.epoch("ms").cast(pl.Float64)
    if time_kind == TIME_ISO:
        return _iso_timestamp(raw).dt.epoch("ms").cast(pl.Float64)
    if time_kind == TIME_EPOCH_S:  # $msec: seconds with a millisecond fraction
        return raw.cast(pl.Float64, strict=False) * 1000.0
    return _json_timestamp_ms(raw, config.epoch_unit)


def _named(service: pl.Expr) -> pl.Expr:
    """A service name, or null for an empty one: a request without a service name (`GET /` under a path
    regex, `"service": ""`) is a request all the same, counted under the default service."""
    return pl.when(service.str.strip_chars() == "").then(pl.lit(None, dtype=pl.String)).otherwise(service)


def _service_expr(config: ParseConfig, path: pl.Expr, field_complete: bool | pl.Expr) -> pl.Expr:
    """Service from a fixed name, the service field, or the path regex (auto: field, then regex); null
    where none names one (the default service then). `field_complete` (auto: whether every line names
    its service) is the chunk's, or an expression giving each row its file's in a batch of files."""
    if config.service_source == "fixed":
        return pl.lit(config.service_name)
    if config.service_source == "field" or (config.service_source == "auto" and field_complete is True):
        return _named(pl.col("service_raw"))
    group = re.compile(config.service_regex).groupindex["service"]
    from_path = _named(path.str.extract(config.service_regex, group))
    if config.service_source == "regex":
        return from_path
    either = pl.coalesce(_named(pl.col("service_raw")), from_path)
    if isinstance(field_complete, pl.Expr):
        return pl.when(field_complete).then(_named(pl.col("service_raw"))).otherwise(either)
    return either


def _path_of(target: pl.Expr) -> pl.Expr:
    """The request target without its query: split only the targets that have one (a third of the
    cost when few do)."""
    return pl.when(target.str.contains("?", literal=True)).then(target.str.split_exact("?", 1).struct.field("field_0")).otherwise(target)


def _normalized_path(path: pl.Expr) -> pl.Expr:
    """Path template for the operation name: numeric, UUID and long hex segments become `{id}`."""
    return path.str.replace_all(_ID_SEGMENT, "/{id}")


_FIELD_OF_REASON = {
    TIMESTAMP_MISSING: ("ts_raw", "timestamp"),
    TIMESTAMP_UNPARSEABLE: ("ts_raw", "timestamp"),
    TIMESTAMP_OUT_OF_RANGE: ("ts_raw", "timestamp"),
    STATUS_MISSING: ("status_text", "status"),
    STATUS_NOT_INTEGER: ("status_text", "status"),
    STATUS_OUT_OF_RANGE: ("status_text", "status"),
    DURATION_NOT_NUMBER: ("duration_text", "duration"),
    DURATION_INVALID: ("duration_text", "duration"),
}


def _reason_expr() -> pl.Expr:
    """The first failed rule of a row, in a fixed order (timestamp, status, duration)."""
    duration_given = pl.col("duration").is_not_null() | (
        pl.col("duration_raw").is_not_null() & ~pl.col("duration_raw").str.strip_chars().is_in(["-", ""])
    )
    ts_blank = pl.col("ts_raw").is_null() | (pl.col("ts_raw").str.strip_chars() == "")
    return (
        pl.when(ts_blank).then(pl.lit(TIMESTAMP_MISSING))
        .when(pl.col("ts_ms").is_null() | pl.col("ts_ms").is_nan()).then(pl.lit(TIMESTAMP_UNPARSEABLE))
        .when((pl.col("ts_ms") < TS_MIN_MS) | (pl.col("ts_ms") > TS_MAX_MS)).then(pl.lit(TIMESTAMP_OUT_OF_RANGE))
        .when(pl.col("status").is_null() & pl.col("status_raw").is_null()).then(pl.lit(STATUS_MISSING))
        .when(pl.col("status").is_null()).then(pl.lit(STATUS_NOT_INTEGER))
        .when((pl.col("status") < 100) | (pl.col("status") > 599)).then(pl.lit(STATUS_OUT_OF_RANGE))
        .when(duration_given & pl.col("duration_ms").is_null()).then(pl.lit(DURATION_NOT_NUMBER))
        .when(duration_given & (~pl.col("duration_ms").is_finite() | (pl.col("duration_ms") < 0))).then(pl.lit(DURATION_INVALID))
    )


def _detail_expr() -> pl.Expr:
    """'field: value as written' for the rule that failed."""
    detail = pl.lit(None, dtype=pl.String)
    for code, (column, label) in _FIELD_OF_REASON.items():
        value = pl.col(column).fill_null("<absent>").str.slice(0, 120)
        detail = pl.when(pl.col("reason") == code).then(pl.concat_str([pl.lit(f"{label}: "), value])).otherwise(detail)
    return detail


def _field_complete(frame: pl.DataFrame, members: np.ndarray | None) -> tuple[pl.DataFrame, bool | pl.Expr]:
    """Whether every line names its service: the chunk's, or per file of a batch (a `_member` column)."""
    if members is None:
        return frame, frame["service_raw"].null_count() == 0
    member = np.searchsorted(members, frame["_idx"].to_numpy(), side="right") - 1
    return frame.with_columns(pl.Series("_member", member, dtype=pl.Int64)), pl.col("service_raw").null_count().over("_member") == 0


def typed_columns(frame: pl.DataFrame, time_kind: str, duration_factor: float, config: ParseConfig,
                  members: np.ndarray | None = None) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Convert string columns to canonical types; split valid rows from quarantined ones.

    `members`: the chunk is several files, the first line index of each (batch.py): what is decided
    over a chunk (whether every line names its service) is decided per file, as each file alone
    would, and the rows keep `_defaulted` (no service named: the default one), to count per file."""
    ts_ms = _timestamp_ms(frame, time_kind, config)
    frame, field_complete = _field_complete(frame, members)
    typed = (
        frame.lazy()
        .with_columns(
            pl.lit(ts_ms).alias("ts_ms"),
            _path_of(pl.col("target")).alias("path"),
            (pl.col("duration") * duration_factor).alias("duration_ms"),
        )
        .with_columns(_service_expr(config, pl.col("path"), field_complete).alias("service_found"))
        .with_columns(
            pl.col("service_found").fill_null(pl.lit(config.default_service)).alias("service"),
            (
                pl.col("ts_ms").is_between(TS_MIN_MS, TS_MAX_MS)
                & pl.col("status").is_between(100, 599)
                & (
                    (pl.col("duration_ms").is_null() & (pl.col("duration_raw").is_null() | pl.col("duration_raw").str.strip_chars().is_in(["-", ""])))
                    | (pl.col("duration_ms").is_finite() & (pl.col("duration_ms") >= 0))
                )
            ).fill_null(False).alias("_ok"),
        )
        .collect()
    )
    all_ok = bool(typed["_ok"].all())
    valid = typed if all_ok else typed.filter(pl.col("_ok"))
    defaulted = int(valid["service_found"].null_count())
    operation = pl.when(pl.col("operation_raw").is_not_null() & (pl.col("operation_raw") != "")).then(pl.col("operation_raw")).otherwise(
        pl.concat_str([pl.col("method").fill_null("-"), _normalized_path(pl.col("path"))], separator=" ").fill_null(pl.lit("-"))
    )
    rows = valid.lazy().select(
        pl.col("ts_ms").cast(pl.Int64).cast(pl.Datetime("ms", "UTC")).alias("ts"),
        "service",
        operation.alias("operation"),
        "method",
        "path",
        pl.col("status").cast(pl.Int32),
        "duration_ms",
        # "-" is how servers write an absent value; an empty client is none either
        pl.when(~pl.col("client").is_in(["", "-"])).then(pl.col("client")).alias("client"),
        "_idx",
        *([pl.col("service_found").is_null().alias("_defaulted")] if members is not None else []),
    ).collect()
    in_range = pl.col("ts_ms").is_between(TS_MIN_MS, TS_MAX_MS) & pl.col("ts_ms").is_not_nan()
    quarantined = (
        (typed.clear() if all_ok else typed.filter(~pl.col("_ok")))
        .with_columns(
            pl.coalesce("status_raw", pl.col("status").cast(pl.String)).alias("status_text"),
            pl.coalesce("duration_raw", pl.col("duration").cast(pl.String)).alias("duration_text"),
        )
        .with_columns(_reason_expr().alias("reason"))
        .select("_idx", "reason", _detail_expr().alias("detail"), pl.when(in_range).then(pl.col("ts_ms")).cast(pl.Int64).alias("own_ts_ms"))
    )
    return rows, quarantined, defaulted
