"""OpenSLO v1 specs with a `logs` metric source: load, validate, and turn filters into polars expressions.

Filters are data (field -> value, or field -> {lt, lte, gt, gte, eq, ne, in, regex}); they become
polars expressions and are never evaluated as code. Every error names the file, the document
(counted from 1, with its kind and name) and the field path: `FILE: document N (KIND NAME): field: message`.

The loader is strict where a typo would otherwise pass: an unknown key at any level it reads is an
error with a "did you mean" (the keys OpenSLO v1 defines there, plus our extensions), an unknown
annotation in our namespace a warning. It rejects at load what the chain, the rules or polars would
reject later (validate and run agree).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import polars as pl
import yaml

from slo_assets.core.durations import (
    DurationError,
    duration_days,
    duration_minutes,
    parse_duration,
)
from slo_assets.core.errors import DefinitionError
from slo_assets.core.regex_engine import regex_problem
from slo_assets.core.safe_yaml import GuardedSafeLoader, shown
from slo_assets.openslo.adjustments import EFFECTS, EXCLUDE, BudgetAdjustment, parse_rrule
from slo_assets.warehouse import canonical

# Filters may name every canonical column but the time and the line number, typed as the column is.
FILTER_FIELDS = {c.name: c.python_type for c in canonical.PARSED_LOGS.columns if c.name not in ("ts", "source_line")}
FILTER_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "regex")
BUDGETING_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
ANNOTATION_PREFIX = "slo-assets.dev/"
ANNOTATION_WINDOWS = "slo-assets.dev/report-windows"  # extra rolling windows reported beside the spec's own
ANNOTATION_MAINTENANCE = "slo-assets.dev/maintenance"  # "start/end[,start/end...]", ISO-8601 instants
ANNOTATION_ERRORS = "slo-assets.dev/promql-errors"  # PromQL for the generated rules (outputs/rules.py)
ANNOTATION_TOTAL = "slo-assets.dev/promql-total"
ANNOTATION_RUNBOOK = "slo-assets.dev/runbook-url"
# The error-budget policy of the deploy gate (slo_assets/slo/gate.py): freeze below this budget left, or while paging.
ANNOTATION_FREEZE_BELOW = "slo-assets.dev/deploy-freeze-below"  # "25%" or "0.25" of the budget remaining
ANNOTATION_FREEZE_ON_PAGE = "slo-assets.dev/deploy-freeze-on-page"  # "true" (default once a policy is declared) or "false"
ANNOTATIONS = (ANNOTATION_WINDOWS, ANNOTATION_MAINTENANCE, ANNOTATION_ERRORS, ANNOTATION_TOTAL, ANNOTATION_RUNBOOK,
               ANNOTATION_FREEZE_BELOW, ANNOTATION_FREEZE_ON_PAGE)
KINDS = ("SLO", "SLI", "AlertPolicy", "AlertCondition", "Service", "DataSource", "AlertNotificationTarget", "BudgetAdjustment")
API_V1 = "openslo/v1"
API_V2ALPHA = "openslo.com/v2alpha"  # BudgetAdjustment exists in OpenSLO's v2alpha only

# The keys each level may hold: OpenSLO v1's (schemas/v1/parts), where we read that level.
DOCUMENT_KEYS = ("apiVersion", "kind", "metadata", "spec")
METADATA_KEYS = ("name", "displayName", "labels", "annotations")  # labels and annotations are free-form
SLO_SPEC_KEYS = ("description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod", "objectives", "alertPolicies")
INDICATOR_KEYS = ("metadata", "spec")
SLI_SPEC_KEYS = ("description", "ratioMetric", "thresholdMetric")
RATIO_KEYS = ("counter", "good", "bad", "total")
THRESHOLD_OPS = ("gte", "gt", "lte", "lt")  # OpenSLO's objective op for a threshold metric
METRIC_KEYS = ("metricSource",)
METRIC_SOURCE_KEYS = ("metricSourceRef", "type", "spec")
LOGS_SPEC_KEYS = ("filter",)
WINDOW_KEYS = ("duration", "isRolling", "calendar")
CALENDAR_KEYS = ("startTime", "timeZone")
OBJECTIVE_KEYS = ("displayName", "op", "value", "target", "timeSliceTarget", "timeSliceWindow", "indicator", "indicatorRef",
                  "compositeWeight")
COMPOSITE_KEYS = ("indicator", "indicatorRef", "compositeWeight")  # an objective with one of these makes a composite SLO
COMPOSITE_METHODS = ("Occurrences", "Timeslices")
ALERT_CONDITION_SPEC_KEYS = ("description", "severity", "condition")
CONDITION_KEYS = ("kind", "op", "threshold", "lookbackWindow", "alertAfter")
ALERT_POLICY_SPEC_KEYS = ("description", "alertWhenNoData", "alertWhenResolved", "alertWhenBreaching", "conditions", "notificationTargets")
POLICY_ITEM_KEYS = ("conditionRef", "kind", "metadata", "spec")
TARGET_ITEM_KEYS = ("targetRef", "kind", "metadata", "spec")
SERVICE_SPEC_KEYS = ("description",)
DATASOURCE_SPEC_KEYS = ("type", "connectionDetails")
NOTIFICATION_TARGET_SPEC_KEYS = ("description", "target")
# v2alpha's BudgetAdjustment (startTime, endTime or duration), with an RFC 5545 rrule as Nobl9's has it,
# what its events do, and the SLOs it applies to (by name, or by their metadata.labels).
BUDGET_ADJUSTMENT_SPEC_KEYS = ("description", "startTime", "endTime", "duration", "rrule", "effect", "slos", "sloSelector")
SLO_SELECTOR_KEYS = ("matchLabels",)
# A month partition reads its own days and the previous month's (error_budgets' partition mapping),
# so a rolling window ending at the month end can reach back at most 28 days plus that month.
MAX_ROLLING_DAYS = 31
_MILLISECOND = timedelta(milliseconds=1)
# Prometheus histograms count requests at or under a bucket bound (`le`), so that is what rules can express.
LATENCY_RULES_NEED = "a latency SLO needs a duration_ms lte/lt bound in good (or gt/gte in bad) to match an le histogram bucket"
# A Timeslices composite's slice is bad when it is bad in any component: each component's ratio over
# the slice compared with its slice target, then the share of bad slices over each alert window. The
# slices are cut from the window start; rule evaluations are not aligned to them, so no recording rule
# gives the batch figures.
TIMESLICES_COMPOSITE_NOTE = ("a Timeslices composite needs each slice judged in every component at the slice boundaries, "
                             "which rule evaluations do not align to; the batch chain judges it")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.|/\\-]*[a-z0-9]*$")


class SpecError(DefinitionError):
    """An invalid spec; `problems` lists 'file: document N (name): field.path: message' lines."""


class _StringTimestampLoader(GuardedSafeLoader):
    """Safe YAML bounded against alias bombs, but timestamps stay strings (OpenSLO's startTime is a string)."""


_StringTimestampLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    # PyYAML keeps the last of two equal keys silently; a repeated `target:` is a typo, not a choice.
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"found duplicate key {shown(key)} (first on line {seen[key] + 1})",
                key_node.start_mark)
        if isinstance(key, str | int | float | bool):
            seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StringTimestampLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def yaml_stream(path: Path) -> list:
    """Every document of the file in order, empty ones as None (so document N is the Nth of the stream)."""
    with open(path, encoding="utf-8") as handle:
        return list(yaml.load_all(handle, Loader=_StringTimestampLoader))


def load_yaml_documents(path: Path) -> list:
    return [doc for doc in yaml_stream(path) if doc is not None]


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
    """A ratio of requests (good or bad over total), or a throughput: a thresholdMetric counting the
    requests `total` selects, judged per time slice by its rate against the objective's op and value."""

    name: str
    total: Filter
    good: Filter | None = None
    bad: Filter | None = None
    throughput: bool = False

    def total_expr(self) -> pl.Expr:
        """The events: requests the `total` filter selects; for a latency SLI only those with a
        duration, since a request whose format logs no time can be judged neither fast nor slow
        (counting it bad made a log without request times fail every latency SLO)."""
        if self.kind() == "latency":
            return self.total.expr() & pl.col("duration_ms").is_not_null()
        return self.total.expr()

    def good_expr(self) -> pl.Expr:
        """Good events are total events that pass `good` (or fail `bad`); a throughput counts every
        selected request (no request is bad: its slices are judged by their rate)."""
        if self.throughput:
            return self.total_expr()
        if self.good is not None:
            return self.total_expr() & self.good.expr()
        return self.total_expr() & ~self.bad.expr()

    def kind(self) -> str:
        """'throughput' for a thresholdMetric, 'latency' when good is decided by duration, else 'availability'."""
        if self.throughput:
            return "throughput"
        decisive = self.good or self.bad
        return "latency" if decisive is not None and "duration_ms" in decisive.fields() else "availability"

    def latency_bound_ms(self) -> float | None:
        """The duration at or under which a request is good, as an `le` histogram bucket expresses it:
        an lte/lt bound in `good`, or a gt/gte bound in `bad`; None when there is neither."""
        if self.throughput:
            return None
        if self.good is not None:
            bounds = [c.value for c in self.good.conditions if c.field == "duration_ms" and c.op in ("lte", "lt")]
        else:
            bounds = [c.value for c in self.bad.conditions if c.field == "duration_ms" and c.op in ("gt", "gte")]
        return float(min(bounds)) if bounds else None


@dataclass(frozen=True)
class Objective:
    key: str
    display_name: str
    target: Decimal
    time_slice_target: Decimal | None = None
    time_slice_minutes: int = 1
    op: str | None = None  # a throughput objective: a slice is good when requests/second `op` `value`
    value: Decimal | None = None  # requests per second

    def slice_good(self, requests, live_minutes):
        """A throughput slice is good when its rate, requests / (live minutes x 60 s), `op` `value`;
        exact in integers (an empty slice has rate 0). Works on numpy arrays and on ints."""
        rate = Fraction(self.value)
        left, right = requests * rate.denominator, live_minutes * 60 * rate.numerator
        return {"gte": left >= right, "gt": left > right, "lte": left <= right, "lt": left < right}[self.op]


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
    adjustments: tuple[BudgetAdjustment, ...]  # its maintenance annotation's, then the BudgetAdjustments that select it
    source: str  # file:document
    deploy_gate: DeployGate | None = None  # the error-budget policy deploys obey, when the spec declares one
    # metadata.annotations as written (the rules read their PromQL and runbook URL there); not part of its identity
    annotations: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Component:
    """One objective of a composite SLO: the measured SLO it names (indicatorRef) and its weight."""
    slo: str
    weight: Decimal  # compositeWeight, default 1
    time_slice_target: Decimal | None = None  # Timeslices: a slice of this component is good at this ratio


@dataclass(frozen=True)
class CompositeSlo:
    """An OpenSLO v1 composite: no indicator of its own, objectives that each name a component SLO.
    `objective` is its one target (the objectives share it) and slice width; docs/spec-format.md."""
    name: str
    display_name: str
    service: str
    description: str
    budgeting_method: str  # Occurrences or Timeslices, the components' too
    objective: Objective
    components: tuple[Component, ...]
    windows: tuple[TimeWindow, ...]
    alert_policies: tuple[str, ...]
    adjustments: tuple[BudgetAdjustment, ...]  # its maintenance annotation's, then the BudgetAdjustments that name it
    source: str
    annotations: dict = field(default_factory=dict, compare=False, hash=False)  # metadata.annotations as written

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return (self.objective,)

    @property
    def weighted(self) -> bool:
        """Occurrences with a weight other than 1: the budget units are weighted events."""
        return self.budgeting_method == "Occurrences" and any(c.weight != 1 for c in self.components)


@dataclass(frozen=True)
class DeployGate:
    """Freeze deploys while any window's remaining budget ratio is below `budget_floor` (None: no
    floor), or while a page alert fires at the end of the data (`freeze_on_page`)."""
    budget_floor: float | None
    freeze_on_page: bool


@dataclass
class SpecSet:
    slos: list[Slo] = field(default_factory=list)
    composites: list[CompositeSlo] = field(default_factory=list)  # evaluated from their component SLOs' minutes
    policies: dict[str, AlertPolicy] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)  # name -> description
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256
    warnings: list[str] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        joined = "\n".join(f"{Path(p).name}:{h}" for p, h in sorted(self.files.items()))
        return hashlib.sha256(joined.encode()).hexdigest()[:24]

    def annotations(self) -> dict[str, dict]:
        """SLO name -> its metadata.annotations, composites included, as the loader read them."""
        return {slo.name: dict(slo.annotations) for slo in [*self.slos, *self.composites]}


def _path(base: str, key) -> str:
    return f"{base}.{key}" if base else str(key)


def did_you_mean(word: str, known) -> str:
    """'; did you mean X?' for the closest known word, else '; expected one of ...'."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else f"; expected one of {', '.join(known)}"


class _Doc:
    """Error collector for one document: messages carry file, number (from 1), kind, name and field path."""

    def __init__(self, path: Path, number: int, doc, problems: list[str], warnings: list[str]) -> None:
        self.path, self.number, self.doc, self.problems, self.warnings = path, number, doc, problems, warnings
        metadata = doc.get("metadata") if isinstance(doc, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        kind = doc.get("kind") if isinstance(doc, dict) else None
        self.name = name if isinstance(name, str) else "?"
        self.kind = kind if isinstance(kind, str) else "?"

    @property
    def place(self) -> str:
        return f"{self.path}: document {self.number}"

    def error(self, field_path: str, message: str) -> None:
        self.problems.append(f"{self.place} ({self.kind} {self.name}): {field_path}: {message}")

    def warn(self, field_path: str, message: str) -> None:
        self.warnings.append(f"{self.place} ({self.kind} {self.name}): {field_path}: {message}")

    def known_keys(self, data, allowed: tuple[str, ...], base: str) -> None:
        """An unknown key is an error naming it, with the closest known key."""
        if not isinstance(data, dict):
            return
        for key in data:
            if key not in allowed:
                self.error(_path(base, key), f"unknown field {key}{did_you_mean(str(key), allowed)}")

    def get(self, data, key: str, field_path: str, kind: type | tuple, required: bool = True, default=None):
        if not isinstance(data, dict) or key not in data:
            if required:
                self.error(field_path, "is required")
            return default
        value = data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return value
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            expected = "a number" if kind is float else kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            exponent = kind is float and isinstance(value, str) and re.fullmatch(r"[-+]?[0-9.]+e[-+]?[0-9]+", value)
            hint = " (YAML reads 1e3 as text: write 1.0e3)" if exponent else ""
            self.error(field_path, f"must be {expected}, not {type(value).__name__} {shown(value)}{hint}")
            return default
        if kind is float and not math.isfinite(value):
            self.error(field_path, f"must be a finite number, not {shown(value)}")
            return default
        return value

    def mapping(self, data, key: str, field_path: str, allowed: tuple[str, ...], required: bool = True) -> dict | None:
        """data[key] as a mapping whose keys are checked against `allowed`."""
        value = self.get(data, key, field_path, dict, required=required)
        self.known_keys(value, allowed, field_path)
        return value


def _filter(d: _Doc, raw, path: str) -> Filter | None:
    """A filter mapping; missing, null or {} selects every request (an empty Filter)."""
    if raw is None or raw == {}:
        return Filter(())
    if not isinstance(raw, dict):
        d.error(path, "must be a mapping of field -> value or {op: value} ({} selects every request)")
        return None
    conditions, ok = [], True
    for name, spec in raw.items():
        where = f"{path}.{name}"
        if name not in FILTER_FIELDS:
            d.error(where, f"unknown field {name}{did_you_mean(str(name), FILTER_FIELDS)}")
            ok = False
            continue
        ops = spec if isinstance(spec, dict) else {"eq": spec}
        if not ops:
            d.error(where, "needs at least one of " + ", ".join(FILTER_OPS))
            ok = False
        for op, value in ops.items():
            if op not in FILTER_OPS:
                d.error(f"{where}.{op}", f"unknown operator {op}{did_you_mean(str(op), FILTER_OPS)}")
                ok = False
                continue
            if not _value_ok(d, f"{where}.{op}", name, op, value):
                ok = False
                continue
            conditions.append(Condition(name, op, tuple(value) if op == "in" else value))
    # a filter with a bad condition is no filter: dropping just that condition would widen it
    return Filter(tuple(conditions)) if ok else None


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
        problem = regex_problem(value)  # the filter runs in polars, which lacks look-around and back-references
        if problem:
            d.error(where, problem)
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
            d.error(where, f"{shown(item)} is not a {'number' if kind is not str else 'string'} for field {name}")
            return False
        if isinstance(item, float) and not math.isfinite(item):
            d.error(where, f"must be a finite number, not {shown(item)}")
            return False
    if op in ("lt", "lte", "gt", "gte") and kind is str:
        d.error(where, f"{op} needs a numeric field, {name} is text")
        return False
    return True


def _metric_filter(d: _Doc, ratio: dict, part: str, base: str) -> Filter | None:
    if part not in ratio:
        return None
    where = f"{base}.{part}"
    metric = d.get(ratio, part, where, dict)
    d.known_keys(metric, METRIC_KEYS, where)
    source = d.mapping(metric, "metricSource", f"{where}.metricSource", METRIC_SOURCE_KEYS) if metric is not None else None
    if source is None:
        return None
    kind = source.get("type")
    if kind != "logs":
        d.error(f"{where}.metricSource.type", f"must be 'logs' (slo-assets reads access logs), not {shown(kind)}")
        return None
    spec = d.mapping(source, "spec", f"{where}.metricSource.spec", LOGS_SPEC_KEYS)
    if spec is None:
        return None
    return _filter(d, spec.get("filter"), f"{where}.metricSource.spec.filter")


def _indicator(d: _Doc, raw: dict, base: str, name: str) -> Indicator | None:
    spec = d.mapping(raw, "spec", _path(base, "spec"), SLI_SPEC_KEYS)
    if spec is None:
        return None
    d.get(spec, "description", _path(base, "spec.description"), str, required=False)
    if "thresholdMetric" in spec and "ratioMetric" in spec:
        d.error(_path(base, "spec"), "has both thresholdMetric and ratioMetric; use one")
        return None
    if "thresholdMetric" in spec:  # a throughput: the requests the filter selects, counted per slice
        total = _metric_filter(d, spec, "thresholdMetric", _path(base, "spec"))
        return None if total is None else Indicator(name=name, total=total, throughput=True)
    where = _path(base, "spec.ratioMetric")
    ratio = d.mapping(spec, "ratioMetric", where, RATIO_KEYS)
    if ratio is None:
        return None
    d.get(ratio, "counter", f"{where}.counter", bool, required=False)
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


def _rolling_days(text) -> int | None:
    try:
        days = duration_days(text)
    except DurationError:
        return None
    return days if days <= MAX_ROLLING_DAYS else None


def _windows(d: _Doc, spec: dict, annotations: dict) -> tuple[TimeWindow, ...]:
    if "timeWindow" not in spec:  # the default: a calendar month
        raw = [{"duration": "1M", "isRolling": False}]
    else:
        raw = spec["timeWindow"]
        if not isinstance(raw, list) or not raw:
            d.error("spec.timeWindow", f"must be a list of one window (or more, an extension), not {shown(raw)}; "
                                       "leave it out for the calendar month")
            return ()
    windows, ok = [], True
    for i, item in enumerate(raw):
        where = f"spec.timeWindow[{i}]"
        if not isinstance(item, dict):
            d.error(where, f"must be a mapping like {{duration: 28d, isRolling: true}}, not {shown(item)}")
            ok = False
            continue
        d.known_keys(item, WINDOW_KEYS, where)
        duration = d.get(item, "duration", f"{where}.duration", str)
        rolling = d.get(item, "isRolling", f"{where}.isRolling", bool, required=False, default=None)
        if duration is None or ("isRolling" in item and rolling is None):
            ok = False
            continue
        if not rolling:
            calendar = d.mapping(item, "calendar", f"{where}.calendar", CALENDAR_KEYS, required=False) or {}
            if duration != "1M":
                d.error(f"{where}.duration", "calendar windows support 1M (a calendar month); use isRolling: true for Nd windows")
                ok = False
                continue
            zone = d.get(calendar, "timeZone", f"{where}.calendar.timeZone", str, required=False, default="Etc/UTC")
            d.get(calendar, "startTime", f"{where}.calendar.startTime", str, required=False)
            if zone not in ("Etc/UTC", "UTC", "Etc/GMT"):
                d.error(f"{where}.calendar.timeZone", f"{shown(zone)}: months are UTC months here; use Etc/UTC")
                ok = False
                continue
            windows.append(TimeWindow("1M", False, 30))
            continue
        if "calendar" in item:
            d.error(f"{where}.calendar", "applies to calendar windows (isRolling: false) only")
        days = _rolling_days(duration)
        if days is None:
            d.error(f"{where}.duration", f"{shown(duration)}: rolling windows are whole days up to {MAX_ROLLING_DAYS}d, like 7d, 28d, 30d")
            ok = False
            continue
        windows.append(TimeWindow(duration, True, days))
    extra = annotations.get(ANNOTATION_WINDOWS)
    if extra is not None:
        for token in str(extra).split(","):
            token = token.strip()
            days = _rolling_days(token)
            if days is None:
                d.error(f"metadata.annotations.{ANNOTATION_WINDOWS}", f"{shown(token)} is not a rolling window like 7d (up to {MAX_ROLLING_DAYS}d)")
                ok = False
                continue
            windows.append(TimeWindow(token, True, days))
    return tuple(dict.fromkeys(windows)) if ok else ()


def _deploy_gate(d: _Doc, annotations: dict) -> DeployGate | None:
    floor_text, page_text = annotations.get(ANNOTATION_FREEZE_BELOW), annotations.get(ANNOTATION_FREEZE_ON_PAGE)
    if floor_text is None and page_text is None:
        return None
    floor = None
    if floor_text is not None:
        text = str(floor_text).strip()
        try:
            floor = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            floor = None
        if floor is None or not 0 <= floor <= 1:
            d.error(f"metadata.annotations.{ANNOTATION_FREEZE_BELOW}",
                    f"must be a share of the budget like \"25%\" or \"0.25\", not {shown(floor_text)}")
            floor = None
    if page_text is not None and str(page_text).lower() not in ("true", "false"):
        d.error(f"metadata.annotations.{ANNOTATION_FREEZE_ON_PAGE}", f"must be \"true\" or \"false\", not {shown(page_text)}")
    return DeployGate(floor, str(page_text).lower() != "false" if page_text is not None else True)


def _annotations(d: _Doc, metadata: dict) -> dict:
    """metadata.annotations: free-form, but a key in our namespace must be one we read (else a warning)."""
    annotations = d.get(metadata, "annotations", "metadata.annotations", dict, required=False, default={})
    for key in annotations:
        where = f"metadata.annotations.{key}"
        if not (isinstance(key, str) and key.startswith(ANNOTATION_PREFIX)):
            continue
        if key not in ANNOTATIONS:
            d.warn(where, f"unknown slo-assets annotation{did_you_mean(key, ANNOTATIONS)}")
        elif d.kind != "SLO":
            d.warn(where, f"is read on kind SLO only; it has no effect on kind {d.kind}")
    if d.kind != "SLO":
        return annotations
    promql = [key for key in (ANNOTATION_ERRORS, ANNOTATION_TOTAL) if key in annotations]
    for key in promql:
        other = ANNOTATION_TOTAL if key == ANNOTATION_ERRORS else ANNOTATION_ERRORS
        if other not in annotations:  # with one alone the rules would silently fall back to the default query
            d.error(f"metadata.annotations.{key}", f"needs {other} too")
        value = annotations[key]
        if not isinstance(value, str) or "{{window}}" not in value:
            d.error(f"metadata.annotations.{key}",
                    f"must contain {{{{window}}}} where the range goes, e.g. rate(x[{{{{window}}}}]); got {shown(value)}")
    if ANNOTATION_RUNBOOK in annotations and not isinstance(annotations[ANNOTATION_RUNBOOK], str):
        d.error(f"metadata.annotations.{ANNOTATION_RUNBOOK}", f"must be a string URL, not {shown(annotations[ANNOTATION_RUNBOOK])}")
    return annotations


def _maintenance(d: _Doc, annotations: dict) -> tuple[BudgetAdjustment, ...]:
    """The maintenance annotation as what it is sugar for: one-off Exclude adjustments of this SLO."""
    raw = annotations.get(ANNOTATION_MAINTENANCE)
    if not raw:
        return ()
    where = f"metadata.annotations.{ANNOTATION_MAINTENANCE}"
    windows = parse_maintenance(str(raw), lambda message: d.error(where, message))
    return maintenance_adjustments(windows, ANNOTATION_MAINTENANCE, f"{d.path.name}:{d.number} {where}")


def maintenance_adjustments(windows: tuple[tuple[datetime, datetime], ...], name: str, source: str) -> tuple[BudgetAdjustment, ...]:
    """Maintenance windows (start, end) as one-off Exclude adjustments named name[0], name[1], ..."""
    return tuple(BudgetAdjustment(f"{name}[{i}]", EXCLUDE, _ms(start), _ms(end) - _ms(start), source=source)
                 for i, (start, end) in enumerate(windows))


_LAST_INSTANT = datetime(9999, 12, 31, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _budget_adjustment(d: _Doc) -> tuple[BudgetAdjustment, tuple[str, ...], dict[str, str] | None] | None:
    """A kind: BudgetAdjustment document: the adjustment, the SLO names it gives and its label selector."""
    spec = d.mapping(d.doc, "spec", "spec", BUDGET_ADJUSTMENT_SPEC_KEYS)
    if spec is None:
        return None
    description = d.get(spec, "description", "spec.description", str, required=False, default="")
    start_text = d.get(spec, "startTime", "spec.startTime", str)
    start = None
    if start_text is not None:
        try:
            start = _instant(start_text)
        except ValueError:
            d.error("spec.startTime", f"{shown(start_text)} is not an ISO-8601 instant like 2026-01-31T23:00:00Z (the first event's start)")
    duration_ms = None
    if ("endTime" in spec) == ("duration" in spec):
        d.error("spec", "needs exactly one of endTime and duration (each event's length)")
    elif "duration" in spec:
        text = d.get(spec, "duration", "spec.duration", str)
        try:
            duration_ms = parse_duration(text) // _MILLISECOND if text is not None else None
        except DurationError as exc:
            d.error("spec.duration", str(exc))
        # Every event's end is written as a date (the compliance document's windows); past the last
        # date Python has, the run failed with an OverflowError after validate had said the file was fine.
        if duration_ms is not None and start is not None and _ms(start) + duration_ms > _ms(_LAST_INSTANT):
            d.error("spec.duration", f"{shown(text)} from startTime {start_text} ends after {_LAST_INSTANT.date().isoformat()}")
            duration_ms = None
    else:
        end_text = d.get(spec, "endTime", "spec.endTime", str)
        try:
            end = _instant(end_text) if end_text is not None else None
        except ValueError:
            d.error("spec.endTime", f"{shown(end_text)} is not an ISO-8601 instant like 2026-02-01T01:00:00Z")
            end = None
        if end is not None and start is not None:
            if end <= start:
                d.error("spec.endTime", f"{shown(end_text)} is not after startTime {shown(start_text)}")
            else:
                duration_ms = _ms(end) - _ms(start)
    rule = d.get(spec, "rrule", "spec.rrule", str, required=False)
    rule_ok = True
    if rule is not None and start is not None:
        try:
            parse_rrule(rule, start)
        except ValueError as exc:
            d.error("spec.rrule", str(exc))
            rule_ok = False
    effect = d.get(spec, "effect", "spec.effect", str)
    if effect is not None and effect not in EFFECTS:
        d.error("spec.effect", f"unknown effect {shown(effect)}{did_you_mean(effect, EFFECTS)} "
                               f"({EFFECTS[0]}: its minutes count neither as good nor as total; {EFFECTS[1]}: their events count as good)")
        effect = None
    names = d.get(spec, "slos", "spec.slos", list, required=False, default=[])
    for i, name in enumerate(names):
        if not isinstance(name, str):
            d.error(f"spec.slos[{i}]", f"must be an SLO name, not {shown(name)}")
    selector = d.mapping(spec, "sloSelector", "spec.sloSelector", SLO_SELECTOR_KEYS, required=False)
    labels = None
    if selector is not None:
        labels = d.get(selector, "matchLabels", "spec.sloSelector.matchLabels", dict)
        for key, value in (labels or {}).items():
            if not isinstance(value, str):
                d.error(f"spec.sloSelector.matchLabels.{key}", f"must be a label value (a string), not {shown(value)}")
    if not names and not selector:
        d.error("spec", "needs slos (SLO names) or sloSelector ({matchLabels: {label: value}}): the SLOs it adjusts")
    if None in (start, duration_ms, effect) or not rule_ok:
        return None
    adjustment = BudgetAdjustment(d.name, effect, _ms(start), duration_ms, rule, description, f"{d.path.name}:{d.number}")
    return adjustment, tuple(n for n in names if isinstance(n, str)), labels


def _labels_match(labels, selector: dict) -> bool:
    """Every selector label on the SLO: its value, or one of its values (OpenSLO labels may be lists)."""
    labels = labels if isinstance(labels, dict) else {}
    for key, value in selector.items():
        have = labels.get(key)
        if not (have == value or (isinstance(have, list) and value in have)):
            return False
    return True


def _attach_adjustments(specs: SpecSet, slo_docs: list[_Doc], adjustment_docs: list[_Doc]) -> None:
    """Each BudgetAdjustment onto the SLOs it names or selects (in document order)."""
    defined = {d.name: d.doc.get("metadata", {}).get("labels") for d in slo_docs}
    chosen: dict[str, list[BudgetAdjustment]] = {}
    for d in adjustment_docs:
        read = _budget_adjustment(d)
        names = d.doc.get("spec", {}).get("slos") if isinstance(d.doc.get("spec"), dict) else None
        for i, name in enumerate(names if isinstance(names, list) else []):
            if isinstance(name, str) and name not in defined:
                d.error(f"spec.slos[{i}]", f"no kind: SLO named {shown(name)}{did_you_mean(name, defined) if defined else ''}")
        if read is None:
            continue
        adjustment, named, selector = read
        targets = [n for n in defined if n in named or (selector is not None and _labels_match(defined[n], selector))]
        if selector is not None and not any(_labels_match(labels, selector) for labels in defined.values()):
            d.warn("spec.sloSelector", f"selects no SLO: no SLO has the labels {selector}")
        for name in targets:
            chosen.setdefault(name, []).append(adjustment)
    for found in (specs.slos, specs.composites):  # a composite is adjusted as a whole, beside its components' own
        found[:] = [dataclasses.replace(s, adjustments=s.adjustments + tuple(chosen[s.name])) if s.name in chosen else s
                    for s in found]


def parse_maintenance(text: str, error) -> tuple[tuple[datetime, datetime], ...]:
    """'start/end,start/end' ISO-8601 instants (UTC if no offset) -> [(start, end)]."""
    windows = []
    for item in text.split(","):
        item = item.strip()
        try:
            start_text, end_text = item.split("/")
            start, end = (_instant(start_text), _instant(end_text))
        except ValueError:
            error(f"{shown(item)} is not start/end ISO-8601 instants")
            continue
        if end <= start:
            error(f"{shown(item)} ends before it starts")
            continue
        windows.append((start, end))
    return tuple(windows)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _decimal(value) -> Decimal:
    """Exact decimal of a YAML number: 0.999 stays 0.999 (its shortest repr), never 0.99899999..."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _slice_minutes(window) -> int:
    """timeSliceWindow as whole minutes: a duration like 5m, or a number of seconds."""
    if isinstance(window, bool) or not isinstance(window, str | int | float):
        raise ValueError(f"{shown(window)} is not a duration like 1m or a number of seconds")
    if isinstance(window, str):
        return duration_minutes(window)
    if not math.isfinite(window) or window <= 0 or window % 60:
        raise ValueError(f"{shown(window)} seconds is not a whole number of minutes")
    return int(window) // 60


def _threshold(d: _Doc, item: dict, where: str) -> tuple[str, Decimal] | None:
    """A throughput objective's op and value (requests per second)."""
    op = d.get(item, "op", f"{where}.op", str)
    value = d.get(item, "value", f"{where}.value", float)
    if op is not None and op not in THRESHOLD_OPS:
        d.error(f"{where}.op", f"{shown(op)} is not one of {', '.join(THRESHOLD_OPS)}{did_you_mean(op, THRESHOLD_OPS)}")
        return None
    if value is not None and value < 0:
        d.error(f"{where}.value", f"{value} requests per second cannot be negative")
        return None
    return None if op is None or value is None else (op, _decimal(value))


def _objectives(d: _Doc, spec: dict, method: str, throughput: bool = False) -> tuple[Objective, ...]:
    raw = d.get(spec, "objectives", "spec.objectives", list)
    if not raw:
        if raw == []:
            d.error("spec.objectives", "needs at least one objective")
        return ()
    objectives, ok = [], True
    for i, item in enumerate(raw):
        where = f"spec.objectives[{i}]"
        if not isinstance(item, dict):
            d.error(where, f"must be a mapping like {{displayName: ok, target: 0.999}}, not {shown(item)}")
            ok = False
            continue
        d.known_keys(item, OBJECTIVE_KEYS, where)
        threshold = None
        if throughput:
            threshold = _threshold(d, item, where)
            if threshold is None:
                ok = False
                continue
        for key in ("op", "value"):
            if key in item and not throughput:  # OpenSLO's threshold-metric objectives; a ratio has no use for them
                d.warn(f"{where}.{key}", "applies to thresholdMetric (throughput) SLIs, not ratioMetric; ignored")
        target = d.get(item, "target", f"{where}.target", float)
        display = d.get(item, "displayName", f"{where}.displayName", str, required=False)
        if target is None or ("displayName" in item and display is None):
            ok = False
            continue
        if not 0 < target < 1:
            d.error(f"{where}.target", f"{target} must be between 0 and 1 (exclusive), e.g. 0.999")
            ok = False
            continue
        display = display or f"{_decimal(target) * 100:g}%"
        slice_target, slice_minutes = None, 1
        if method in ("Timeslices", "RatioTimeslices"):
            if method == "Timeslices":
                tst = d.get(item, "timeSliceTarget", f"{where}.timeSliceTarget", float)
                if tst is None:
                    ok = False
                    continue
                if not 0 < tst <= 1:
                    d.error(f"{where}.timeSliceTarget", f"{tst} must be in (0, 1]")
                    ok = False
                    continue
                slice_target = _decimal(tst)
            elif "timeSliceTarget" in item:
                d.warn(f"{where}.timeSliceTarget", "RatioTimeslices averages the slice ratios and has no slice target; ignored")
            try:
                slice_minutes = _slice_minutes(item.get("timeSliceWindow", "1m"))
            except ValueError as exc:
                d.error(f"{where}.timeSliceWindow", str(exc))
                ok = False
                continue
        elif "timeSliceTarget" in item or "timeSliceWindow" in item:
            d.warn(where, f"timeSliceTarget and timeSliceWindow apply to Timeslices budgeting, not {method}; ignored")
        key = re.sub(r"[^a-z0-9]+", "-", display.lower()).strip("-") or f"objective-{i}"
        op, value = threshold or (None, None)
        objectives.append(Objective(key, display, _decimal(target), slice_target, slice_minutes, op, value))
    keys = [o.key for o in objectives]
    if len(set(keys)) != len(keys):
        d.error("spec.objectives", f"objectives need distinct displayNames, got {keys}")
    return tuple(objectives) if ok else ()


def _alert_condition(d: _Doc, raw: dict, where: str, name: str) -> AlertCondition | None:
    spec = d.mapping(raw, "spec", _path(where, "spec"), ALERT_CONDITION_SPEC_KEYS)
    if spec is None:
        return None
    d.get(spec, "description", _path(where, "spec.description"), str, required=False)
    severity = d.get(spec, "severity", _path(where, "spec.severity"), str)
    base = _path(where, "spec.condition")
    condition = d.mapping(spec, "condition", base, CONDITION_KEYS)
    if condition is None or severity is None:
        return None
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
    if threshold <= 0:
        d.error(f"{base}.threshold", f"{threshold} must be above 0 (a burn rate of 1 spends the budget exactly by the period's end)")
        return None
    try:
        lookback_minutes = duration_minutes(lookback)
    except ValueError as exc:
        d.error(f"{base}.lookbackWindow", str(exc))
        return None
    try:
        after_minutes = duration_minutes(after)
    except ValueError as exc:
        d.error(f"{base}.alertAfter", str(exc))
        return None
    return AlertCondition(name, severity, op, float(threshold), lookback_minutes, after_minutes)


def _read_file(path: Path, problems: list[str]) -> tuple[bytes, list] | None:
    try:
        return path.read_bytes(), yaml_stream(path)
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}")
    except yaml.YAMLError as exc:
        problems.append(f"{path}: invalid YAML: {' '.join(str(exc).split())}")
    return None


def _document(d: _Doc, doc) -> str | None:
    """The checks every document gets; its name when it is worth reading further."""
    if not isinstance(doc, dict):
        d.error("(document)", f"must be a mapping, not {type(doc).__name__}")
        return None
    expected = API_V2ALPHA if doc.get("kind") == "BudgetAdjustment" else API_V1
    if doc.get("apiVersion") != expected:
        why = {API_V2ALPHA: " (BudgetAdjustment is an OpenSLO v2alpha kind)", API_V1: f" ({API_V2ALPHA} is read for kind BudgetAdjustment only)"}
        d.error("apiVersion", f"must be {expected}, not {shown(doc.get('apiVersion'))}"
                + (why[expected] if doc.get("apiVersion") in (API_V1, API_V2ALPHA) else ""))
        return None
    d.known_keys(doc, DOCUMENT_KEYS, "")
    kind = doc.get("kind")
    if kind not in KINDS:
        d.error("kind", f"unknown kind {shown(kind)}{did_you_mean(str(kind), KINDS)}")
        return None
    metadata = d.mapping(doc, "metadata", "metadata", METADATA_KEYS)
    name = d.get(metadata, "name", "metadata.name", str) if metadata is not None else None
    if metadata is not None:
        d.get(metadata, "displayName", "metadata.displayName", str, required=False)
        d.get(metadata, "labels", "metadata.labels", dict, required=False)
        _annotations(d, metadata)
    if name is not None and not NAME_PATTERN.match(name):
        d.error("metadata.name", f"{shown(name)}: lowercase letters, digits, '.', '-' (OpenSLO name)")
    return name


def load_specs(paths: list[Path]) -> SpecSet:
    """Load and check every document of every file; raise SpecError listing all problems.

    Warnings (specs.warnings) flag what works but is probably not meant: an unknown annotation in our
    namespace, ignored fields, an SLO the Prometheus rules cannot express."""
    problems: list[str] = []
    specs = SpecSet()
    # None marks a document that has problems of its own: a reference to it adds no second message
    slis: dict[str, Indicator | None] = {}
    conditions: dict[str, AlertCondition | None] = {}
    broken_policies: set[str] = set()
    slo_docs, policy_docs, adjustment_docs = [], [], []
    first_seen: dict[tuple[str, str], _Doc] = {}
    for path in paths:
        path = Path(path)
        read = _read_file(path, problems)
        if read is None:
            continue
        content, documents = read
        specs.files[str(path)] = hashlib.sha256(content).hexdigest()
        for number, doc in enumerate(documents, start=1):
            if doc is None:  # an empty document (e.g. a trailing ---) still counts in the numbering
                continue
            d = _Doc(path, number, doc, problems, specs.warnings)
            name = _document(d, doc)
            if name is None:
                continue
            kind = doc["kind"]
            first = first_seen.setdefault((kind, name), d)
            if first is not d and (kind == "SLO" or first.doc != doc):  # a shared Service repeated verbatim is harmless
                d.error("metadata.name", f"{kind} {name} is defined more than once, first in {first.place}")
                continue
            if first is not d:
                continue
            if kind == "SLO":
                slo_docs.append(d)
            elif kind == "SLI":
                slis[name] = _indicator(d, doc, "", name)
            elif kind == "AlertPolicy":
                policy_docs.append(d)
            elif kind == "AlertCondition":
                conditions[name] = _alert_condition(d, doc, "", name)
            elif kind == "Service":
                spec = d.mapping(doc, "spec", "spec", SERVICE_SPEC_KEYS, required=False) or {}
                specs.services[name] = d.get(spec, "description", "spec.description", str, required=False, default="")
            elif kind == "DataSource":
                d.mapping(doc, "spec", "spec", DATASOURCE_SPEC_KEYS)
            elif kind == "BudgetAdjustment":
                adjustment_docs.append(d)
            else:
                d.mapping(doc, "spec", "spec", NOTIFICATION_TARGET_SPEC_KEYS)
    for d in policy_docs:
        policy = _policy(d, conditions)
        if policy:
            specs.policies[policy.name] = policy
        else:
            broken_policies.add(d.name)
    # composites after the SLOs they name: their components must be measured SLOs
    composite_docs = [d for d in slo_docs if is_composite(d.doc)]
    broken_slos = set()
    for d in slo_docs:
        if d in composite_docs:
            continue
        slo = _slo(d, slis, specs, broken_policies)
        if slo:
            specs.slos.append(slo)
        else:
            broken_slos.add(d.name)
    for d in composite_docs:
        composite = _composite(d, specs, broken_slos, {c.name for c in composite_docs}, broken_policies)
        if composite:
            specs.composites.append(composite)
    _attach_adjustments(specs, slo_docs, adjustment_docs)
    if problems:
        raise SpecError(problems)
    if not specs.slos:
        raise SpecError([f"{', '.join(str(p) for p in paths)}: no kind: SLO document found"])
    return specs


def _policy(d: _Doc, conditions: dict[str, AlertCondition | None]) -> AlertPolicy | None:
    spec = d.mapping(d.doc, "spec", "spec", ALERT_POLICY_SPEC_KEYS)
    if spec is None:
        return None
    d.get(spec, "description", "spec.description", str, required=False)
    for key in ("alertWhenNoData", "alertWhenResolved", "alertWhenBreaching"):
        d.get(spec, key, f"spec.{key}", bool, required=False)
    for i, item in enumerate(d.get(spec, "notificationTargets", "spec.notificationTargets", list, required=False) or []):
        if isinstance(item, dict):
            d.known_keys(item, TARGET_ITEM_KEYS, f"spec.notificationTargets[{i}]")
    raw = d.get(spec, "conditions", "spec.conditions", list)
    if raw == []:
        d.error("spec.conditions", "needs at least one condition (a conditionRef or an inline AlertCondition)")
    found, ok = [], True
    for i, item in enumerate(raw or []):
        where = f"spec.conditions[{i}]"
        if not isinstance(item, dict) or not ("conditionRef" in item or "spec" in item):
            d.error(where, f"must be {{conditionRef: NAME}} or an inline AlertCondition with metadata and spec, not {shown(item)}")
            ok = False
            continue
        d.known_keys(item, POLICY_ITEM_KEYS, where)
        if "conditionRef" in item:
            ref = item["conditionRef"]
            if ref not in conditions:
                d.error(f"{where}.conditionRef", f"no AlertCondition named {shown(ref)}")
                ok = False
                continue
            if conditions[ref] is None:
                ok = False
                continue
            found.append(conditions[ref])
        else:
            metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
            d.known_keys(metadata, METADATA_KEYS, f"{where}.metadata")
            condition = _alert_condition(d, item, where, str(metadata.get("name", f"{d.name}-{i + 1}")))
            if condition is None:
                ok = False
                continue
            found.append(condition)
    return AlertPolicy(d.name, tuple(found)) if found and ok else None


def _slo(d: _Doc, slis: dict[str, Indicator | None], specs: SpecSet, broken_policies: set[str]) -> Slo | None:
    doc = d.doc
    spec = d.mapping(doc, "spec", "spec", SLO_SPEC_KEYS)
    if spec is None:
        return None
    metadata = doc["metadata"]
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    service = d.get(spec, "service", "spec.service", str)
    description = d.get(spec, "description", "spec.description", str, required=False, default="")
    method = d.get(spec, "budgetingMethod", "spec.budgetingMethod", str)
    if method is not None and method not in BUDGETING_METHODS:
        d.error("spec.budgetingMethod", f"{shown(method)} is not one of {', '.join(BUDGETING_METHODS)}")
        method = None
    indicator = None
    if "indicator" in spec and "indicatorRef" in spec:
        d.error("spec", "has both indicator and indicatorRef; use one")
    elif "indicator" in spec:
        raw = d.mapping(spec, "indicator", "spec.indicator", INDICATOR_KEYS)
        if raw is not None:
            inline = d.mapping(raw, "metadata", "spec.indicator.metadata", METADATA_KEYS, required=False) or {}
            name = inline.get("name") if isinstance(inline.get("name"), str) else d.name
            indicator = _indicator(d, raw, "spec.indicator", name)
    elif "indicatorRef" in spec:
        ref = d.get(spec, "indicatorRef", "spec.indicatorRef", str)
        if ref is not None and ref not in slis:
            d.error("spec.indicatorRef", f"no kind: SLI named {shown(ref)} in the loaded files")
        elif ref is not None:
            indicator = slis[ref]  # its own problems are reported on its document
    else:
        d.error("spec", "needs indicator or indicatorRef")
    windows = _windows(d, spec, annotations)
    if isinstance(spec.get("timeWindow"), list) and len(spec["timeWindow"]) > 1:
        d.warn("spec.timeWindow", "several timeWindow items are a slo-assets extension (the OpenSLO v1 schema allows one); "
                                  f"the {ANNOTATION_WINDOWS} annotation is portable")
    throughput = indicator is not None and indicator.throughput
    if throughput and method is not None and method != "Timeslices":
        d.error("spec.budgetingMethod", f"{method}: a throughput SLI (thresholdMetric) is budgeted in Timeslices only "
                                        "(a slice is good when its request rate meets the objective's op and value)")
        method = None
    objectives = _objectives(d, spec, method or "Occurrences", throughput)
    policies = _alert_policy_names(d, spec, specs, broken_policies)
    maintenance = _maintenance(d, annotations)
    if None in (service, method, indicator) or not objectives or not windows:
        return None
    if indicator.kind() == "latency" and indicator.latency_bound_ms() is None and ANNOTATION_ERRORS not in annotations:
        # Batch figures work; only the Prometheus rules (outputs/rules.py) cannot be derived, so `rules` skips it.
        d.warn("spec.indicator" if "indicator" in spec else "spec.indicatorRef",
               f"no Prometheus rules for this SLO: {LATENCY_RULES_NEED}; or give {ANNOTATION_ERRORS} and {ANNOTATION_TOTAL}")
    return Slo(
        name=d.name,
        display_name=str(metadata.get("displayName", d.name)),
        service=service,
        description=description,
        budgeting_method=method,
        indicator=indicator,
        objectives=objectives,
        windows=windows,
        alert_policies=tuple(policies),
        adjustments=maintenance,
        source=f"{d.path.name}:{d.number}",
        deploy_gate=_deploy_gate(d, annotations),
        annotations=dict(annotations),
    )


def _alert_policy_names(d: _Doc, spec: dict, specs: SpecSet, broken_policies: set[str]) -> list:
    policies = d.get(spec, "alertPolicies", "spec.alertPolicies", list, required=False, default=[])
    for i, policy in enumerate(policies):
        if not isinstance(policy, str):
            d.error(f"spec.alertPolicies[{i}]", f"must be an AlertPolicy name, not {shown(policy)}")
        elif policy not in specs.policies and policy not in broken_policies:
            d.error(f"spec.alertPolicies[{i}]", f"no kind: AlertPolicy named {shown(policy)}")
    return policies


def is_composite(doc: dict) -> bool:
    """OpenSLO v1: a composite SLO moves its indicators into objectives[] (indicator, indicatorRef, compositeWeight)."""
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    objectives = spec.get("objectives") if isinstance(spec.get("objectives"), list) else []
    return any(isinstance(item, dict) and any(key in item for key in COMPOSITE_KEYS) for item in objectives)


def _composite(d: _Doc, specs: SpecSet, broken_slos: set[str], composites: set[str],
               broken_policies: set[str]) -> CompositeSlo | None:
    """A composite SLO: each objective names a measured SLO of the loaded files in indicatorRef, with
    an optional compositeWeight; they share one budgeting method, one target and one slice width."""
    doc = d.doc
    spec = d.mapping(doc, "spec", "spec", SLO_SPEC_KEYS)
    if spec is None:
        return None
    metadata = doc["metadata"]
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    service = d.get(spec, "service", "spec.service", str)
    description = d.get(spec, "description", "spec.description", str, required=False, default="")
    for key in ("indicator", "indicatorRef"):
        if key in spec:
            d.error(f"spec.{key}", "a composite SLO has no indicator of its own: each objective names its component "
                                   "SLO in indicatorRef (OpenSLO v1 moves the indicator into objectives[])")
    method = d.get(spec, "budgetingMethod", "spec.budgetingMethod", str)
    if method is not None and method not in COMPOSITE_METHODS:
        d.error("spec.budgetingMethod", f"{shown(method)}: a composite SLO budgets {' or '.join(COMPOSITE_METHODS)}")
        method = None
    windows = _windows(d, spec, annotations)
    objectives = _objectives(d, spec, method or "Occurrences")
    components, ok = [], True
    for i, item in enumerate(spec.get("objectives") if isinstance(spec.get("objectives"), list) else []):
        where = f"spec.objectives[{i}]"
        if not isinstance(item, dict):
            continue  # _objectives reported it
        if "indicator" in item:
            d.error(f"{where}.indicator", "a composite's component is an SLO of the loaded files, measured once: "
                                          "declare it as its own SLO and give its name in indicatorRef")
            ok = False
            continue
        ref = d.get(item, "indicatorRef", f"{where}.indicatorRef", str)
        weight = d.get(item, "compositeWeight", f"{where}.compositeWeight", float, required=False, default=1)
        if weight is not None and weight <= 0:
            d.error(f"{where}.compositeWeight", f"{weight} must be above 0 (OpenSLO v1: (0.0, inf]; default 1)")
            weight = None
        if ref is None or weight is None:
            ok = False
            continue
        component = next((s for s in specs.slos if s.name == ref), None)
        if component is None:
            ok = False
            if ref in composites:
                d.error(f"{where}.indicatorRef", f"{shown(ref)} is a composite SLO; a component is a measured SLO")
            elif ref not in broken_slos:  # a broken SLO has its own message
                d.error(f"{where}.indicatorRef", f"no kind: SLO named {shown(ref)} in the loaded files (a composite's components are SLOs)")
            continue
        if method is not None and component.budgeting_method != method:
            d.error(f"{where}.indicatorRef", f"SLO {ref} budgets {component.budgeting_method} (its spec.budgetingMethod), "
                                             f"this composite {method}: every component shares one budgeting method")
            ok = False
            continue
        if any(c.slo == ref for c in components):
            d.error(f"{where}.indicatorRef", f"names SLO {ref} a second time")
            ok = False
            continue
        if method == "Timeslices" and weight != 1:
            d.warn(f"{where}.compositeWeight", "has no effect under Timeslices: a composite slice is bad when it is bad in any component")
        slice_target = objectives[i].time_slice_target if len(objectives) > i else None
        components.append(Component(ref, _decimal(weight), slice_target))
    if objectives and len(objectives) < 2:
        d.error("spec.objectives", "a composite SLO needs at least two objectives, one per component")
        ok = False
    for i, objective in enumerate(objectives[1:], start=1):
        if objective.target != objectives[0].target:
            d.error(f"spec.objectives[{i}].target", f"{objective.target}: a composite has one target, every objective gives "
                                                    f"the same ({objectives[0].target} in objectives[0])")
            ok = False
        if objective.time_slice_minutes != objectives[0].time_slice_minutes:
            d.error(f"spec.objectives[{i}].timeSliceWindow", f"{objective.time_slice_minutes}m: the components' slices are judged "
                                                             f"together, so they share one width ({objectives[0].time_slice_minutes}m)")
            ok = False
    policies = _alert_policy_names(d, spec, specs, broken_policies)
    maintenance = _maintenance(d, annotations)
    for key in (ANNOTATION_FREEZE_BELOW, ANNOTATION_FREEZE_ON_PAGE, ANNOTATION_ERRORS, ANNOTATION_TOTAL):
        if key in annotations:  # the gate and the rules' queries belong to the measured SLOs
            d.warn(f"metadata.annotations.{key}", "has no effect on a composite SLO: give it on its component SLOs")
    if None in (service, method) or not objectives or not windows or not ok:
        return None
    if method == "Timeslices":  # validate and rules agree: the rules file lists it as skipped
        d.warn("spec.budgetingMethod", f"no Prometheus rules for this composite: {TIMESLICES_COMPOSITE_NOTE}")
    first = objectives[0]
    objective = Objective("composite", f"composite {(first.target * 100).normalize():f}%", first.target, None, first.time_slice_minutes)
    return CompositeSlo(d.name, str(metadata.get("displayName", d.name)), service, description, method, objective,
                        tuple(components), windows, tuple(policies), maintenance, f"{d.path.name}:{d.number}", dict(annotations))
