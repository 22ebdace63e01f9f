"""The typed results of loading specs: what the chain, the rules and the outputs read (`SpecSet` and
what it holds). Frozen dataclasses, built by the loader from documents its schema has checked; a
filter is data that becomes a polars expression, never code."""

from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from slo_assets.openslo.adjustments import BudgetAdjustment

# Prometheus histograms count requests at or under a bucket bound (`le`), so that is what rules can express.
LATENCY_RULES_NEED = "a latency SLO needs a duration_ms lte/lt bound in good (or gt/gte in bad) to match an le histogram bucket"
# A Timeslices composite's slice is bad when it is bad in any component: each component's ratio over
# the slice compared with its slice target, then the share of bad slices over each alert window. The
# slices are cut from the window start; rule evaluations are not aligned to them, so no recording rule
# gives the batch figures.
TIMESLICES_COMPOSITE_NOTE = ("a Timeslices composite needs each slice judged in every component at the slice boundaries, "
                             "which rule evaluations do not align to; the batch chain judges it")

COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any

    def expr(self) -> pl.Expr:
        column, value = pl.col(self.field), self.value
        if self.op == "in":
            return column.is_in(list(value))
        if self.op == "regex":
            return column.str.contains(str(value))
        expr: pl.Expr = COMPARISONS[self.op](column, value)
        return expr


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

    def untimed_expr(self) -> pl.Expr:
        """The requests `total` selects that total_expr leaves out of a latency SLI for want of a
        duration (a combined log line has none): counted apart, so the SLO can say why it has no
        event. None for an availability or throughput SLI, which counts them all."""
        if self.kind() == "latency":
            return self.total.expr() & pl.col("duration_ms").is_null()
        return pl.lit(False)

    def good_expr(self) -> pl.Expr:
        """Good events are total events that pass `good` (or fail `bad`); a throughput counts every
        selected request (no request is bad: its slices are judged by their rate)."""
        if self.throughput:
            return self.total_expr()
        if self.good is not None:
            return self.total_expr() & self.good.expr()
        return self.total_expr() & ~self._bad().expr()

    def _bad(self) -> Filter:
        if self.bad is None:  # the loader gives a ratio exactly one of good and bad
            raise ValueError(f"indicator {self.name} has neither good nor bad")
        return self.bad

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
            bounds = [c.value for c in self._bad().conditions if c.field == "duration_ms" and c.op in ("gt", "gte")]
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

    def slice_good(self, requests: Any, live_minutes: Any) -> Any:
        """A throughput slice is good when its rate, requests / (live minutes x 60 s), `op` `value`;
        exact in integers (an empty slice has rate 0). Works on numpy arrays and on ints."""
        if self.op is None or self.value is None:
            raise ValueError(f"objective {self.key} is no throughput objective (it has no op and value)")
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
class DeployGate:
    """Freeze deploys while any window's remaining budget ratio is below `budget_floor` (None: no
    floor), or while a page alert fires at the end of the data (`freeze_on_page`)."""
    budget_floor: float | None
    freeze_on_page: bool


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
    annotations: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


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
    annotations: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # metadata.annotations as written

    @property
    def objectives(self) -> tuple[Objective, ...]:
        return (self.objective,)

    @property
    def weighted(self) -> bool:
        """Occurrences with a weight other than 1: the budget units are weighted events."""
        return self.budgeting_method == "Occurrences" and any(c.weight != 1 for c in self.components)


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

    def annotations(self) -> dict[str, dict[str, Any]]:
        """SLO name -> its metadata.annotations, composites included, as the loader read them."""
        every: list[Slo | CompositeSlo] = [*self.slos, *self.composites]
        return {slo.name: dict(slo.annotations) for slo in every}
