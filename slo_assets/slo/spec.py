"""OpenSLO v1 specs with a `logs` metric source: load, validate, and turn filters into polars expressions.

Filters are data (field -> value, or field -> {lt, lte, gt, gte, eq, ne, in, regex}); they become
polars expressions and are never evaluated as code. Every error names the file, the document
(index and name) and the field path.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import yaml

FILTER_FIELDS = {"service": str, "operation": str, "method": str, "path": str, "status": int, "duration_ms": float, "source_file": str}
FILTER_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "regex")
BUDGETING_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
ANNOTATION_WINDOWS = "slo-assets.dev/report-windows"  # extra rolling windows reported beside the spec's own
ANNOTATION_MAINTENANCE = "slo-assets.dev/maintenance"  # "start/end[,start/end...]", ISO-8601 instants
# A month partition reads its own days and the previous month's (error_budgets' partition mapping),
# so a rolling window ending at the month end can reach back at most 28 days plus that month.
MAX_ROLLING_DAYS = 31
DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.|/\\-]*[a-z0-9]*$")


class SpecError(ValueError):
    """An invalid spec; `problems` lists 'file: document N (name): field.path: message' lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _StringTimestampLoader(yaml.SafeLoader):
    """Safe YAML, but timestamps stay strings (OpenSLO's startTime is a string)."""


_StringTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def load_yaml_documents(path: Path) -> list:
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.load_all(handle, Loader=_StringTimestampLoader) if doc is not None]


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: object

    def expr(self) -> pl.Expr:
        column = pl.col(self.field)
        value = self.value
        if self.op == "eq":
            return column == value
        if self.op == "ne":
            return column != value
        if self.op == "lt":
            return column < value
        if self.op == "lte":
            return column <= value
        if self.op == "gt":
            return column > value
        if self.op == "gte":
            return column >= value
        if self.op == "in":
            return column.is_in(list(value))
        return column.str.contains(str(value))


@dataclass(frozen=True)
class Filter:
    conditions: tuple[Condition, ...]

    def expr(self) -> pl.Expr:
        """All conditions hold; a null field (e.g. no duration) fails its condition."""
        expr = pl.lit(True)
        for condition in self.conditions:
            expr = expr & condition.expr()
        return expr.fill_null(False)

    def fields(self) -> set[str]:
        return {c.field for c in self.conditions}


@dataclass(frozen=True)
class Indicator:
    name: str
    total: Filter
    good: Filter | None = None
    bad: Filter | None = None

    def good_expr(self) -> pl.Expr:
        """Good events are total events that pass `good` (or fail `bad`)."""
        if self.good is not None:
            return self.total.expr() & self.good.expr()
        return self.total.expr() & ~self.bad.expr()

    def kind(self) -> str:
        """'latency' when good is decided by duration, else 'availability'."""
        decisive = (self.good or self.bad).fields()
        return "latency" if "duration_ms" in decisive else "availability"


@dataclass(frozen=True)
class Objective:
    key: str
    display_name: str
    target: Decimal
    time_slice_target: Decimal | None = None
    time_slice_minutes: int = 1


@dataclass(frozen=True)
class TimeWindow:
    duration: str  # e.g. 1M, 28d
    rolling: bool
    days: int  # nominal period length: 30 for a calendar month, N for Nd

    @property
    def label(self) -> str:
        return f"{self.duration}-{'rolling' if self.rolling else 'calendar'}"


@dataclass(frozen=True)
class AlertCondition:
    name: str
    severity: str
    op: str
    threshold: float
    lookback_minutes: int
    alert_after_minutes: int


@dataclass(frozen=True)
class AlertPolicy:
    name: str
    conditions: tuple[AlertCondition, ...]


@dataclass(frozen=True)
class Slo:
    name: str
    display_name: str
    service: str
    description: str
    budgeting_method: str
    indicator: Indicator
    objectives: tuple[Objective, ...]
    windows: tuple[TimeWindow, ...]
    alert_policies: tuple[str, ...]
    maintenance: tuple[tuple[datetime, datetime], ...]
    source: str  # file:document


@dataclass
class SpecSet:
    slos: list[Slo] = field(default_factory=list)
    policies: dict[str, AlertPolicy] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)  # name -> description
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256
    warnings: list[str] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        joined = "\n".join(f"{Path(p).name}:{h}" for p, h in sorted(self.files.items()))
        return hashlib.sha256(joined.encode()).hexdigest()[:24]


class _Doc:
    """Error collector for one document: messages carry file, index, name and field path."""

    def __init__(self, path: Path, index: int, doc, problems: list[str]) -> None:
        self.path, self.index, self.doc, self.problems = path, index, doc, problems
        name = doc.get("metadata", {}).get("name") if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict) else None
        self.name = name if isinstance(name, str) else "?"

    def error(self, field_path: str, message: str) -> None:
        self.problems.append(f"{self.path}: document {self.index} ({self.name}): {field_path}: {message}")

    def get(self, data, key: str, field_path: str, kind: type | tuple, required: bool = True, default=None):
        if not isinstance(data, dict) or key not in data:
            if required:
                self.error(field_path, "is required")
            return default
        value = data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return value
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.error(field_path, f"must be {expected}, not {type(value).__name__} {value!r}")
            return default
        return value


def duration_minutes(text: str) -> int:
    match = re.fullmatch(r"([1-9][0-9]*)([mhdw])", text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 5m, 1h, 28d")
    return int(match.group(1)) * DURATION_UNITS[match.group(2)] // 60


def _filter(d: _Doc, raw, path: str) -> Filter | None:
    if not isinstance(raw, dict) or not raw:
        d.error(path, "must be a non-empty mapping of field -> value or {op: value}")
        return None
    conditions = []
    for name, spec in raw.items():
        where = f"{path}.{name}"
        if name not in FILTER_FIELDS:
            d.error(where, f"unknown field; filterable fields: {', '.join(FILTER_FIELDS)}")
            continue
        ops = spec if isinstance(spec, dict) else {"eq": spec}
        if not ops:
            d.error(where, "needs at least one of " + ", ".join(FILTER_OPS))
        for op, value in ops.items():
            if op not in FILTER_OPS:
                d.error(f"{where}.{op}", f"unknown operator; use one of {', '.join(FILTER_OPS)}")
                continue
            if not _value_ok(d, f"{where}.{op}", name, op, value):
                continue
            conditions.append(Condition(name, op, tuple(value) if op == "in" else value))
    return Filter(tuple(conditions)) if conditions else None


def _value_ok(d: _Doc, where: str, name: str, op: str, value) -> bool:
    kind = FILTER_FIELDS[name]
    if op == "regex":
        if kind is not str or not isinstance(value, str):
            d.error(where, "regex applies to text fields and takes a string")
            return False
        try:
            re.compile(value)
        except re.error as exc:
            d.error(where, f"invalid regex: {exc}")
            return False
        return True
    values = value if op == "in" else [value]
    if op == "in" and not isinstance(value, list):
        d.error(where, "takes a list")
        return False
    for item in values:
        ok = isinstance(item, str) if kind is str else (isinstance(item, int | float) and not isinstance(item, bool))
        if kind is int and isinstance(item, float) and not item.is_integer():
            ok = False
        if not ok:
            d.error(where, f"{item!r} is not a {'number' if kind is not str else 'string'} for field {name}")
            return False
    if op in ("lt", "lte", "gt", "gte") and kind is str:
        d.error(where, f"{op} needs a numeric field, {name} is text")
        return False
    return True


def _metric_filter(d: _Doc, ratio: dict, part: str, base: str) -> Filter | None:
    if part not in ratio:
        return None
    source = d.get(ratio[part], "metricSource", f"{base}.{part}.metricSource", dict)
    if source is None:
        return None
    kind = source.get("type")
    if kind != "logs":
        d.error(f"{base}.{part}.metricSource.type", f"must be 'logs' (slo-assets reads access logs), not {kind!r}")
        return None
    spec = d.get(source, "spec", f"{base}.{part}.metricSource.spec", dict)
    if spec is None:
        return None
    return _filter(d, spec.get("filter"), f"{base}.{part}.metricSource.spec.filter")


def _indicator(d: _Doc, raw: dict, base: str, name: str) -> Indicator | None:
    spec = d.get(raw, "spec", f"{base}.spec", dict)
    if spec is None:
        return None
    if "thresholdMetric" in spec:
        d.error(f"{base}.spec.thresholdMetric", "not supported for logs: use ratioMetric with a duration_ms filter in good")
        return None
    ratio = d.get(spec, "ratioMetric", f"{base}.spec.ratioMetric", dict)
    if ratio is None:
        return None
    where = f"{base}.spec.ratioMetric"
    if ("good" in ratio) == ("bad" in ratio):
        d.error(where, "needs exactly one of good or bad")
        return None
    total = _metric_filter(d, ratio, "total", where)
    if "total" not in ratio:
        d.error(f"{where}.total", "is required")
    good = _metric_filter(d, ratio, "good", where)
    bad = _metric_filter(d, ratio, "bad", where)
    if total is None or (good is None and bad is None):
        return None
    return Indicator(name=name, total=total, good=good, bad=bad)


def _windows(d: _Doc, spec: dict, annotations: dict) -> tuple[TimeWindow, ...]:
    raw = spec.get("timeWindow") or [{"duration": "1M", "isRolling": False, "calendar": {"startTime": "2020-01-01 00:00:00", "timeZone": "Etc/UTC"}}]
    if not isinstance(raw, list):
        d.error("spec.timeWindow", "must be a list")
        return ()
    windows = []
    for i, item in enumerate(raw):
        where = f"spec.timeWindow[{i}]"
        duration = d.get(item, "duration", f"{where}.duration", str)
        if duration is None:
            continue
        rolling = bool(item.get("isRolling", False))
        if not rolling:
            if duration != "1M":
                d.error(f"{where}.duration", "calendar windows support 1M (a calendar month); use isRolling: true for Nd windows")
                continue
            calendar = item.get("calendar") or {}
            zone = calendar.get("timeZone", "Etc/UTC")
            if zone not in ("Etc/UTC", "UTC", "Etc/GMT"):
                d.error(f"{where}.calendar.timeZone", f"{zone!r}: months are UTC months here; use Etc/UTC")
                continue
            windows.append(TimeWindow("1M", False, 30))
            continue
        match = re.fullmatch(r"([1-9][0-9]*)d", duration)
        if not match or int(match.group(1)) > MAX_ROLLING_DAYS:
            d.error(f"{where}.duration", f"{duration!r}: rolling windows are whole days up to {MAX_ROLLING_DAYS}d, like 7d, 28d, 30d")
            continue
        windows.append(TimeWindow(duration, True, int(match.group(1))))
    extra = annotations.get(ANNOTATION_WINDOWS)
    if extra:
        for token in str(extra).split(","):
            token = token.strip()
            match = re.fullmatch(r"([1-9][0-9]*)d", token)
            if not match or int(match.group(1)) > MAX_ROLLING_DAYS:
                d.error(f"metadata.annotations.{ANNOTATION_WINDOWS}", f"{token!r} is not a rolling window like 7d (up to {MAX_ROLLING_DAYS}d)")
                continue
            windows.append(TimeWindow(token, True, int(match.group(1))))
    unique = tuple(dict.fromkeys(windows))
    return unique


def _maintenance(d: _Doc, annotations: dict) -> tuple[tuple[datetime, datetime], ...]:
    raw = annotations.get(ANNOTATION_MAINTENANCE)
    if not raw:
        return ()
    return parse_maintenance(str(raw), lambda message: d.error(f"metadata.annotations.{ANNOTATION_MAINTENANCE}", message))


def parse_maintenance(text: str, error) -> tuple[tuple[datetime, datetime], ...]:
    """'start/end,start/end' ISO-8601 instants (UTC if no offset) -> [(start, end)]."""
    windows = []
    for item in text.split(","):
        item = item.strip()
        try:
            start_text, end_text = item.split("/")
            start, end = (_instant(start_text), _instant(end_text))
        except ValueError:
            error(f"{item!r} is not start/end ISO-8601 instants")
            continue
        if end <= start:
            error(f"{item!r} ends before it starts")
            continue
        windows.append((start, end))
    return tuple(windows)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _decimal(value) -> Decimal:
    """Exact decimal of a YAML number: 0.999 stays 0.999 (its shortest repr), never 0.99899999..."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _objectives(d: _Doc, spec: dict, method: str) -> tuple[Objective, ...]:
    raw = d.get(spec, "objectives", "spec.objectives", list)
    if not raw:
        if raw == []:
            d.error("spec.objectives", "needs at least one objective")
        return ()
    objectives = []
    for i, item in enumerate(raw):
        where = f"spec.objectives[{i}]"
        target = d.get(item, "target", f"{where}.target", float)
        if target is None:
            continue
        if not 0 < target < 1:
            d.error(f"{where}.target", f"{target} must be between 0 and 1 (exclusive), e.g. 0.999")
            continue
        display = item.get("displayName") or f"{_decimal(target) * 100:g}%"
        slice_target, slice_minutes = None, 1
        if method in ("Timeslices", "RatioTimeslices"):
            if method == "Timeslices":
                tst = d.get(item, "timeSliceTarget", f"{where}.timeSliceTarget", float)
                if tst is not None and not 0 < tst <= 1:
                    d.error(f"{where}.timeSliceTarget", f"{tst} must be in (0, 1]")
                    continue
                slice_target = None if tst is None else _decimal(tst)
            window = item.get("timeSliceWindow", "1m")
            try:
                slice_minutes = duration_minutes(window) if isinstance(window, str) else int(window) // 60
                if slice_minutes < 1 or (isinstance(window, int | float) and window % 60):
                    raise ValueError(f"{window!r} is not a whole number of minutes")
            except ValueError as exc:
                d.error(f"{where}.timeSliceWindow", str(exc))
                continue
        key = re.sub(r"[^a-z0-9]+", "-", str(display).lower()).strip("-") or f"objective-{i}"
        objectives.append(Objective(key, str(display), _decimal(target), slice_target, slice_minutes))
    keys = [o.key for o in objectives]
    if len(set(keys)) != len(keys):
        d.error("spec.objectives", f"objectives need distinct displayNames, got {keys}")
    return tuple(objectives)


def _alert_condition(d: _Doc, raw: dict, where: str, name: str) -> AlertCondition | None:
    spec = d.get(raw, "spec", f"{where}.spec", dict)
    if spec is None:
        return None
    severity = d.get(spec, "severity", f"{where}.spec.severity", str)
    condition = d.get(spec, "condition", f"{where}.spec.condition", dict)
    if condition is None or severity is None:
        return None
    base = f"{where}.spec.condition"
    if condition.get("kind") != "burnrate":
        d.error(f"{base}.kind", "only burnrate conditions are supported")
        return None
    op = d.get(condition, "op", f"{base}.op", str)
    threshold = d.get(condition, "threshold", f"{base}.threshold", float)
    lookback = d.get(condition, "lookbackWindow", f"{base}.lookbackWindow", str)
    after = d.get(condition, "alertAfter", f"{base}.alertAfter", str)
    if None in (op, threshold, lookback, after):
        return None
    if op not in ("gt", "gte"):
        d.error(f"{base}.op", "burn-rate alerts fire above a threshold: use gt or gte")
        return None
    try:
        return AlertCondition(name, severity, op, float(threshold), duration_minutes(lookback), duration_minutes(after))
    except ValueError as exc:
        d.error(base, str(exc))
        return None


def load_specs(paths: list[Path]) -> SpecSet:
    """Load and check every document of every file; raise SpecError listing all problems."""
    problems: list[str] = []
    specs = SpecSet()
    slis: dict[str, tuple[_Doc, dict]] = {}
    conditions: dict[str, AlertCondition] = {}
    slo_docs, policy_docs = [], []
    for path in paths:
        path = Path(path)
        try:
            content = path.read_bytes()
            documents = load_yaml_documents(path)
        except OSError as exc:
            problems.append(f"{path}: cannot read: {exc.strerror}")
            continue
        except yaml.YAMLError as exc:
            problems.append(f"{path}: invalid YAML: {exc}")
            continue
        specs.files[str(path)] = hashlib.sha256(content).hexdigest()
        for index, doc in enumerate(documents):
            d = _Doc(path, index, doc, problems)
            if not isinstance(doc, dict):
                d.error("(document)", "must be a mapping")
                continue
            if doc.get("apiVersion") != "openslo/v1":
                d.error("apiVersion", f"must be openslo/v1, not {doc.get('apiVersion')!r}")
                continue
            metadata = d.get(doc, "metadata", "metadata", dict)
            name = d.get(metadata, "name", "metadata.name", str) if metadata is not None else None
            if name is not None and not NAME_PATTERN.match(name):
                d.error("metadata.name", f"{name!r}: lowercase letters, digits, '.', '-' (OpenSLO name)")
            kind = doc.get("kind")
            if name is None:
                continue
            if kind == "SLO":
                slo_docs.append(d)
            elif kind == "SLI":
                slis[name] = (d, doc)
            elif kind == "AlertPolicy":
                policy_docs.append(d)
            elif kind == "AlertCondition":
                condition = _alert_condition(d, doc, "(document)", name)
                if condition:
                    conditions[name] = condition
            elif kind == "Service":
                specs.services[name] = (doc.get("spec") or {}).get("description", "")
            elif kind in ("DataSource", "AlertNotificationTarget"):
                continue
            else:
                d.error("kind", f"unknown kind {kind!r}")
    for d in policy_docs:
        policy = _policy(d, conditions)
        if policy:
            specs.policies[policy.name] = policy
    for d in slo_docs:
        slo = _slo(d, slis, specs)
        if slo:
            specs.slos.append(slo)
    names = [s.name for s in specs.slos]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"SLO name {name!r} is defined more than once")
    if problems:
        raise SpecError(problems)
    if not specs.slos:
        raise SpecError([f"{', '.join(str(p) for p in paths)}: no kind: SLO document found"])
    return specs


def _policy(d: _Doc, conditions: dict[str, AlertCondition]) -> AlertPolicy | None:
    spec = d.get(d.doc, "spec", "spec", dict)
    if spec is None:
        return None
    found = []
    for i, item in enumerate(d.get(spec, "conditions", "spec.conditions", list) or []):
        where = f"spec.conditions[{i}]"
        if isinstance(item, dict) and "conditionRef" in item:
            ref = item["conditionRef"]
            if ref not in conditions:
                d.error(f"{where}.conditionRef", f"no AlertCondition named {ref!r}")
                continue
            found.append(conditions[ref])
        elif isinstance(item, dict):
            name = (item.get("metadata") or {}).get("name", f"{d.name}-{i}")
            condition = _alert_condition(d, item, where, name)
            if condition:
                found.append(condition)
    return AlertPolicy(d.name, tuple(found)) if found else None


def _slo(d: _Doc, slis: dict, specs: SpecSet) -> Slo | None:
    doc = d.doc
    spec = d.get(doc, "spec", "spec", dict)
    if spec is None:
        return None
    metadata = doc["metadata"]
    annotations = metadata.get("annotations") or {}
    service = d.get(spec, "service", "spec.service", str)
    method = d.get(spec, "budgetingMethod", "spec.budgetingMethod", str)
    if method is not None and method not in BUDGETING_METHODS:
        d.error("spec.budgetingMethod", f"{method!r} is not one of {', '.join(BUDGETING_METHODS)}")
        method = None
    indicator = None
    if "indicator" in spec and "indicatorRef" in spec:
        d.error("spec", "has both indicator and indicatorRef; use one")
    elif "indicator" in spec:
        raw = spec["indicator"]
        name = (raw.get("metadata") or {}).get("name", d.name) if isinstance(raw, dict) else d.name
        indicator = _indicator(d, raw, "spec.indicator", name)
    elif "indicatorRef" in spec:
        ref = spec["indicatorRef"]
        if ref not in slis:
            d.error("spec.indicatorRef", f"no kind: SLI named {ref!r} in the loaded files")
        else:
            sli_doc, sli_raw = slis[ref]
            indicator = _indicator(sli_doc, sli_raw, "(document)", ref)
    else:
        d.error("spec", "needs indicator or indicatorRef")
    windows = _windows(d, spec, annotations)
    if len(spec.get("timeWindow") or []) > 1:
        specs.warnings.append(f"{d.path}: document {d.index} ({d.name}): several timeWindow items are a slo-assets extension "
                              f"(the OpenSLO v1 schema allows one); the {ANNOTATION_WINDOWS} annotation is portable")
    objectives = _objectives(d, spec, method or "Occurrences")
    policies = tuple(spec.get("alertPolicies") or ())
    for i, policy in enumerate(policies):
        if policy not in specs.policies:
            d.error(f"spec.alertPolicies[{i}]", f"no kind: AlertPolicy named {policy!r}")
    maintenance = _maintenance(d, annotations)
    if None in (service, method, indicator) or not objectives or not windows:
        return None
    return Slo(
        name=d.name,
        display_name=metadata.get("displayName", d.name),
        service=service,
        description=spec.get("description", ""),
        budgeting_method=method,
        indicator=indicator,
        objectives=objectives,
        windows=windows,
        alert_policies=policies,
        maintenance=maintenance,
        source=f"{d.path.name}:{d.index}",
    )
