"""Deterministic sample access logs: several services, diurnal load, log-normal latency, incidents.

The generator writes daily-rotated files (rotation at 06:25 UTC, so every file spans two UTC days),
lines in completion order (so timestamps are slightly out of order, as in real logs), older files
gzip-compressed, and a truth file describing the injected incidents and the exact counts.
"""

from __future__ import annotations

import calendar
import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

TRUTH_FILE_NAME = "_truth.json"
ROTATION_OFFSET = timedelta(hours=6, minutes=25)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # may hold "{id}", replaced by a number
    weight: float
    median_ms: float
    sigma: float


@dataclass(frozen=True)
class Service:
    name: str
    weight: float
    error_rate: float  # baseline share of 5xx
    client_error_rate: float  # baseline share of 4xx
    operations: tuple[Operation, ...]


SERVICES: tuple[Service, ...] = (
    Service("checkout", 0.20, 0.0002, 0.01, (
        Operation("POST", "/checkout/api/v1/orders", 0.3, 180.0, 0.45),
        Operation("GET", "/checkout/api/v1/cart/{id}", 0.7, 45.0, 0.40),
    )),
    Service("search", 0.35, 0.0001, 0.02, (
        Operation("GET", "/search/api/v1/query", 0.8, 90.0, 0.55),
        Operation("GET", "/search/api/v1/suggest", 0.2, 20.0, 0.35),
    )),
    Service("auth", 0.15, 0.0001, 0.05, (
        Operation("POST", "/auth/api/v1/login", 0.4, 120.0, 0.35),
        Operation("POST", "/auth/api/v1/token/refresh", 0.6, 15.0, 0.30),
    )),
    Service("catalog", 0.30, 0.0002, 0.03, (
        Operation("GET", "/catalog/api/v1/items/{id}", 0.75, 35.0, 0.50),
        Operation("GET", "/catalog/api/v1/items", 0.25, 70.0, 0.50),
    )),
)

USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
)

# Incident shapes injected by default: (kind, service, operation index or None, day as a fraction
# of the month, UTC start hour, duration minutes, error share or latency factor). With the example
# specs (examples/slos.yaml) checkout availability fails, auth availability is at risk, and search
# and catalog latency page but stay within budget, whatever the seed and the event count.
DEFAULT_INCIDENTS = (
    ("error_burst", "checkout", None, 0.30, 10, 240, 0.50),
    ("error_burst", "search", None, 0.55, 19, 40, 0.25),
    ("latency_spike", "catalog", 0, 0.72, 11, 120, 8.0),
    ("error_burst", "auth", 1, 0.85, 14, 45, 0.60),
)


@dataclass(frozen=True)
class Incident:
    kind: str
    service: str
    operation: str | None
    start: datetime
    end: datetime
    magnitude: float

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "service": self.service,
            "operation": self.operation,
            "start": self.start.isoformat().replace("+00:00", "Z"),
            "end": self.end.isoformat().replace("+00:00", "Z"),
            "error_share" if self.kind == "error_burst" else "latency_factor": self.magnitude,
        }


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """Return [start, end) of a `YYYY-MM` month in UTC."""
    year, mon = (int(part) for part in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=UTC)
    days = calendar.monthrange(year, mon)[1]
    return start, start + timedelta(days=days)


def _minute_weights(start: datetime, minutes: int) -> np.ndarray:
    minute_of_day = (np.arange(minutes) % 1440) / 60.0
    diurnal = 1.0 + 0.65 * np.sin(2 * np.pi * (minute_of_day - 9.0) / 24.0)
    weekday = (start.weekday() + np.arange(minutes) // 1440) % 7
    weekly = np.where(weekday >= 5, 0.7, 1.0)
    return diurnal * weekly


def _plan_incidents(start: datetime, end: datetime, count: int, rng: np.random.Generator) -> list[Incident]:
    incidents = []
    days = (end - start).days
    for kind, service_name, op_index, fraction, hour, duration, magnitude in DEFAULT_INCIDENTS[:count]:
        service = next(s for s in SERVICES if s.name == service_name)
        day = min(days - 1, int(fraction * days) + int(rng.integers(-1, 2)))
        begin = start + timedelta(days=day, hours=hour, minutes=int(rng.integers(0, 60)))
        operation = None if op_index is None else service.operations[op_index]
        op_name = None if operation is None else f"{operation.method} {operation.path}"
        incidents.append(Incident(kind, service_name, op_name, begin, begin + timedelta(minutes=duration), magnitude))
    return incidents


def _operations(rng: np.random.Generator, events: int) -> tuple[np.ndarray, list[tuple[Service, Operation]]]:
    """Each request's operation (an index into the returned (service, operation) table), drawn by weight."""
    service_idx = rng.choice(len(SERVICES), size=events, p=[s.weight for s in SERVICES])
    op_global = np.empty(events, dtype=np.int64)
    ops: list[tuple[Service, Operation]] = []
    for s_i, service in enumerate(SERVICES):
        mask = service_idx == s_i
        op_weights = np.array([op.weight for op in service.operations])
        local = rng.choice(len(service.operations), size=int(mask.sum()), p=op_weights / op_weights.sum())
        op_global[mask] = len(ops) + local
        ops.extend((service, op) for op in service.operations)
    return op_global, ops


def _statuses(rng: np.random.Generator, events: int, client_rate: np.ndarray, error_rate: np.ndarray) -> np.ndarray:
    """Each request's status: a success mix, then 4xx at the client error rate and 5xx at the error rate."""
    draw = rng.random(events)
    status_choices = np.array([200, 201, 204, 301, 304])
    status = status_choices[rng.choice(5, size=events, p=[0.86, 0.05, 0.03, 0.02, 0.04])]
    client = draw < client_rate
    status = np.where(client, np.array([400, 401, 403, 404, 429])[rng.integers(0, 5, events)], status)
    server = (draw >= client_rate) & (draw < client_rate + error_rate)
    return np.where(server, np.array([500, 502, 503, 504])[rng.integers(0, 4, events)], status)


def generate_events(month: str, events: int, seed: int, incidents: int = len(DEFAULT_INCIDENTS)) -> tuple[dict[str, np.ndarray], list[Incident]]:
    """Return columns of synthetic requests for a month (sorted by completion time) and the incidents."""
    rng = np.random.default_rng(seed)
    start, end = month_bounds(month)
    minutes = int((end - start).total_seconds() // 60)
    weights = _minute_weights(start, minutes)
    per_minute = rng.multinomial(events, weights / weights.sum())
    start_ms = int(start.timestamp() * 1000)
    ts_ms = start_ms + np.repeat(np.arange(minutes, dtype=np.int64) * 60_000, per_minute) + rng.integers(0, 60_000, events)

    op_global, ops = _operations(rng, events)

    median = np.array([op.median_ms for _, op in ops])[op_global]
    sigma = np.array([op.sigma for _, op in ops])[op_global]
    error_rate = np.array([svc.error_rate for svc, _ in ops])[op_global]
    client_rate = np.array([svc.client_error_rate for svc, _ in ops])[op_global]
    latency_factor = np.ones(events)

    planned = _plan_incidents(start, end, incidents, rng)
    for incident in planned:
        in_window = (ts_ms >= incident.start.timestamp() * 1000) & (ts_ms < incident.end.timestamp() * 1000)
        op_match = np.array([svc.name == incident.service and (incident.operation in (None, f"{op.method} {op.path}")) for svc, op in ops])
        hit = in_window & op_match[op_global]
        if incident.kind == "error_burst":
            error_rate = np.where(hit, incident.magnitude, error_rate)
        else:
            latency_factor = np.where(hit, incident.magnitude, latency_factor)

    duration_ms = np.round(rng.lognormal(np.log(median), sigma) * latency_factor, 3)
    status = _statuses(rng, events, client_rate, error_rate)
    duration_ms = np.where(status >= 500, np.round(duration_ms * 0.3, 3), duration_ms)

    # Lines are written when the request completes, so they are not in timestamp order.
    order = np.argsort(ts_ms + duration_ms.astype(np.int64), kind="stable")
    ids = rng.integers(1, 99_999, events)
    columns = {
        "ts_ms": ts_ms[order],
        "op": op_global[order],
        "status": status[order],
        "duration_ms": duration_ms[order],
        "id": ids[order],
        "client": rng.integers(1, 250, events)[order],
        "agent": rng.integers(0, len(USER_AGENTS), events)[order],
        "bytes": rng.integers(120, 48_000, events)[order],
    }
    columns["op_table"] = np.array([f"{svc.name}\t{op.method}\t{op.path}" for svc, op in ops])
    return columns, planned


MONTH_ABBR = {f"{i:02d}": calendar.month_abbr[i] for i in range(1, 13)}


def _format_lines(columns: dict[str, np.ndarray], fmt: str, lo: int, hi: int) -> list[str]:
    op_table = [entry.split("\t") for entry in columns["op_table"]]
    stamps = np.datetime_as_string(columns["ts_ms"][lo:hi].astype("datetime64[ms]"), unit="ms").tolist()
    ops = columns["op"][lo:hi].tolist()
    ids = columns["id"][lo:hi].tolist()
    statuses = columns["status"][lo:hi].tolist()
    durations = columns["duration_ms"][lo:hi].tolist()
    clients = columns["client"][lo:hi].tolist()
    agents = columns["agent"][lo:hi].tolist()
    sizes = columns["bytes"][lo:hi].tolist()
    lines = []
    for i in range(hi - lo):
        service, method, path = op_table[ops[i]]
        path = path.replace("{id}", str(ids[i]))
        c = clients[i]
        client = f"10.{c % 7}.{c // 7}.{c}"
        stamp = stamps[i]
        if fmt == "jsonl":
            lines.append(
                f'{{"ts":"{stamp}Z","service":"{service}","method":"{method}",'
                f'"path":"{path}","status":{statuses[i]},"duration_ms":{durations[i]},'
                f'"bytes":{sizes[i]},"client":"{client}"}}'
            )
        else:
            clf = f"{stamp[8:10]}/{MONTH_ABBR[stamp[5:7]]}/{stamp[0:4]}:{stamp[11:19]} +0000"
            lines.append(
                f'{client} - - [{clf}] "{method} {path} HTTP/1.1" {statuses[i]} '
                f'{sizes[i]} "-" "{USER_AGENTS[agents[i]]}" "-" {durations[i] / 1000:.3f}'
            )
    return lines


def _malformed_line(rng: np.random.Generator, fmt: str) -> str:
    kind = rng.integers(0, 3)
    if kind == 0:
        return "\x00\x01 truncated write" if fmt == "combined" else '{"ts":"2020-01-01T00:00:00Z","status":'
    if kind == 1:
        return "garbage line without structure"
    return '{"ts":"not a time","service":"x","status":200}' if fmt == "jsonl" else '1.2.3.4 - - [bad time] "GET / HTTP/1.1" 200 1'


def write_logs(out: Path, month: str, events: int, fmt: str, seed: int, incidents: int = len(DEFAULT_INCIDENTS),
               compress_rotated: bool = True, malformed_ratio: float = 0.0) -> dict:
    """Write rotated log files for `month` under `out` and the truth file; return the truth."""
    if fmt not in ("jsonl", "combined"):
        raise ValueError(f"format must be jsonl or combined, not {fmt!r}")
    out.mkdir(parents=True, exist_ok=True)
    columns, planned = generate_events(month, events, seed, incidents)
    rng = np.random.default_rng(seed + 1)
    start, end = month_bounds(month)
    end_ms = columns["ts_ms"] + columns["duration_ms"].astype(np.int64)
    boundaries = [start + ROTATION_OFFSET + timedelta(days=d) for d in range((end - start).days)]
    cut_points = np.searchsorted(end_ms, [int(b.timestamp() * 1000) for b in boundaries])
    edges = [0, *cut_points.tolist(), events]
    suffix = "jsonl" if fmt == "jsonl" else "log"
    files, malformed = [], 0
    for index in range(len(edges) - 1):
        lo, hi = edges[index], edges[index + 1]
        day = (start + timedelta(days=index)).strftime("%Y%m%d")
        lines = _format_lines(columns, fmt, lo, hi)
        if malformed_ratio > 0 and lines:
            bad = rng.random(len(lines)) < malformed_ratio
            for pos in np.flatnonzero(bad)[::-1]:
                lines.insert(int(pos), _malformed_line(rng, fmt))
            malformed += int(bad.sum())
        payload = ("\n".join(lines) + "\n").encode() if lines else b""
        is_live = index == len(edges) - 2
        name = f"access.{suffix}" if is_live else f"access-{day}.{suffix}"
        compress = compress_rotated and index < len(edges) - 3
        path = out / (name + ".gz" if compress else name)
        tmp = path.with_name(path.name + ".tmp")
        if compress:
            with gzip.GzipFile(tmp, "wb", compresslevel=5, mtime=0) as handle:
                handle.write(payload)
        else:
            tmp.write_bytes(payload)
        tmp.replace(path)
        files.append(path.name)

    truth = _truth(columns, planned, month, events, fmt, seed, files, malformed)
    (out / TRUTH_FILE_NAME).write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def _truth(columns, planned, month, events, fmt, seed, files, malformed) -> dict:
    services = np.array([entry.split("\t")[0] for entry in columns["op_table"]])[columns["op"]]
    days = (columns["ts_ms"] // 86_400_000).astype("datetime64[D]").astype(str)
    by_service = {}
    for name in sorted(set(services.tolist())):
        mask = services == name
        by_service[name] = {"total": int(mask.sum()), "status_5xx": int((columns["status"][mask] >= 500).sum())}
    day_values, day_counts = np.unique(days, return_counts=True)
    return {
        "month": month,
        "format": fmt,
        "seed": seed,
        "events": events,
        "malformed_lines": malformed,
        "files": files,
        "by_service": by_service,
        "by_day": {str(d): int(c) for d, c in zip(day_values, day_counts, strict=True)},
        "status_5xx": int((columns["status"] >= 500).sum()),
        "incidents": [incident.to_json() for incident in planned],
    }
