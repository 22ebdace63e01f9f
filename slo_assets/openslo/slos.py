"""What an SLO document means, once the loader's schema has checked its shape: its indicator (the
`logs` filters, as polars can run them), windows, objectives, composite components and the
slo-assets annotations. Each check here is one the schema cannot state (it depends on other fields,
other documents or what polars and the chain accept); every message names its field."""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from slo_assets.core.regex_engine import regex_problem
from slo_assets.core.safe_yaml import shown
from slo_assets.openslo.adjustments import EXCLUDE, BudgetAdjustment, instant, ms
from slo_assets.openslo.documents import Doc
from slo_assets.openslo.models import (
    LATENCY_RULES_NEED,
    TIMESLICES_COMPOSITE_NOTE,
    Component,
    CompositeSlo,
    Condition,
    DeployGate,
    Filter,
    Indicator,
    Objective,
    Slo,
    SpecSet,
    TimeWindow,
)
from slo_assets.openslo.schema import FILTER_FIELDS, MAX_ROLLING_DAYS, did_you_mean, rolling_days, slice_minutes, validator

COMPOSITE_KEYS = ("indicator", "indicatorRef", "compositeWeight")  # an objective with one of these makes a composite SLO
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


def is_composite(doc: Any) -> bool:
    """OpenSLO v1: a composite SLO moves its indicators into objectives[] (indicator, indicatorRef, compositeWeight)."""
    spec = doc.get("spec") if isinstance(doc, dict) else None
    objectives = spec.get("objectives") if isinstance(spec, dict) else None
    return isinstance(objectives, list) and any(isinstance(item, dict) and any(key in item for key in COMPOSITE_KEYS) for item in objectives)


def _value_problem(name: str, op: str, value: Any) -> str | None:
    """What is wrong with `name op value` as a filter condition, or None."""
    kind = FILTER_FIELDS[name]
    if op == "regex":
        if kind is not str or not isinstance(value, str):
            return "regex applies to text fields and takes a string"
        try:
            re.compile(value)
        except re.error as exc:
            return f"invalid regex: {exc}"
        return regex_problem(value)  # the filter runs in polars, which lacks look-around and back-references
    if op == "in" and not isinstance(value, list):
        return "takes a list"
    for item in value if op == "in" else [value]:
        fraction = kind is int and isinstance(item, float) and not item.is_integer()
        if not (isinstance(item, str) if kind is str else isinstance(item, int | float) and not isinstance(item, bool) and not fraction):
            return f"{shown(item)} is not a {'number' if kind is not str else 'string'} for field {name}"
        if isinstance(item, float) and not math.isfinite(item):
            return f"must be a finite number, not {shown(item)}"
    return f"{op} needs a numeric field, {name} is text" if op in ("lt", "lte", "gt", "gte") and kind is str else None


def _filter(d: Doc, metric: dict[str, Any], base: str) -> Filter | None:
    """A metric's `logs` filter; missing, null or {} selects every request (an empty Filter)."""
    where = f"{base}.metricSource.spec.filter"
    conditions, ok = [], True
    for name, spec in (metric["metricSource"]["spec"].get("filter") or {}).items():
        for op, value in spec.items() if isinstance(spec, dict) else [("eq", spec)]:
            problem = _value_problem(name, op, value)
            if problem:
                d.error(f"{where}.{name}.{op}", problem)
                ok = False
            else:
                conditions.append(Condition(name, op, tuple(value) if op == "in" else value))
    # a filter with a bad condition is no filter: dropping just that condition would widen it
    return Filter(tuple(conditions)) if ok else None


def indicator(d: Doc, spec: dict[str, Any], base: str, name: str) -> Indicator | None:
    """An SLI spec (a kind: SLI's, or an SLO's inline indicator's at field path `base`)."""
    if "thresholdMetric" in spec:  # a throughput: the requests the filter selects, counted per slice
        total = _filter(d, spec["thresholdMetric"], f"{base}.thresholdMetric")
        return None if total is None else Indicator(name=name, total=total, throughput=True)
    ratio, where = spec["ratioMetric"], f"{base}.ratioMetric"
    total, good, bad = (_filter(d, ratio[part], f"{where}.{part}") if part in ratio else None for part in ("total", "good", "bad"))
    if total is None or (good is None and bad is None):  # the schema asks for total and one of good or bad
        return None
    return Indicator(name=name, total=total, good=good, bad=bad)


def _windows(d: Doc, spec: dict[str, Any]) -> tuple[TimeWindow, ...]:
    """spec.timeWindow (by default a calendar month; the schema checked each) and the report-windows annotation's."""
    windows = [TimeWindow(item["duration"], True, rolling_days(item["duration"])) if item.get("isRolling") else TimeWindow("1M", False, 30)
               for item in spec.get("timeWindow", [{"duration": "1M"}])]
    extra = d.annotations.get(ANNOTATION_WINDOWS)
    for token in (token.strip() for token in str(extra).split(",")) if extra is not None else []:
        try:
            windows.append(TimeWindow(token, True, rolling_days(token)))
        except ValueError:
            d.error(f"metadata.annotations.{ANNOTATION_WINDOWS}", f"{shown(token)} is not a rolling window like 7d (up to {MAX_ROLLING_DAYS}d)")
    return tuple(dict.fromkeys(windows))


def decimal(value: Any) -> Decimal:
    """Exact decimal of a YAML number: 0.999 stays 0.999 (its shortest repr), never 0.99899999..."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _objectives(d: Doc, spec: dict[str, Any], method: str, throughput: bool = False) -> tuple[Objective, ...]:
    objectives = []
    for i, item in enumerate(spec["objectives"]):
        where = f"spec.objectives[{i}]"
        if throughput and not d.check(validator("threshold"), item, where):
            continue
        for key in ("op", "value"):
            if key in item and not throughput:  # OpenSLO's threshold-metric objectives; a ratio has no use for them
                d.warn(f"{where}.{key}", "applies to thresholdMetric (throughput) SLIs, not ratioMetric; ignored")
        display = item.get("displayName") or f"{decimal(item['target']) * 100:g}%"
        slice_target, minutes = None, 1
        if method in ("Timeslices", "RatioTimeslices"):
            if method == "Timeslices":  # the schema requires it under Timeslices
                slice_target = decimal(item["timeSliceTarget"])
            elif "timeSliceTarget" in item:
                d.warn(f"{where}.timeSliceTarget", "RatioTimeslices averages the slice ratios and has no slice target; ignored")
            minutes = slice_minutes(item.get("timeSliceWindow", "1m"))  # the schema checked it
        elif "timeSliceTarget" in item or "timeSliceWindow" in item:
            d.warn(where, f"timeSliceTarget and timeSliceWindow apply to Timeslices budgeting, not {method}; ignored")
        key = re.sub(r"[^a-z0-9]+", "-", display.lower()).strip("-") or f"objective-{i}"
        op, value = (item["op"], decimal(item["value"])) if throughput else (None, None)
        objectives.append(Objective(key, display, decimal(item["target"]), slice_target, minutes, op, value))
    keys = [o.key for o in objectives]
    if len(set(keys)) != len(keys):
        d.error("spec.objectives", f"objectives need distinct displayNames, got {shown(keys)}")
    return tuple(objectives)


def _alert_policies(d: Doc, known: set[str]) -> tuple[str, ...]:
    """spec.alertPolicies, each the name of an AlertPolicy (`known`: those of the loaded files)."""
    names = d.spec.get("alertPolicies", [])
    for i, policy in enumerate(names):
        if policy not in known:
            d.error(f"spec.alertPolicies[{i}]", f"no kind: AlertPolicy named {shown(policy)}")
    return tuple(names)


def slo(d: Doc, slis: dict[str, Indicator | None], policies: set[str]) -> Slo | None:
    """A measured SLO; `policies` are the AlertPolicy names it may give (broken ones included)."""
    spec, method = d.spec, d.spec["budgetingMethod"]
    sli = None
    if "indicator" in spec:
        name = (spec["indicator"].get("metadata") or {}).get("name")
        sli = indicator(d, spec["indicator"]["spec"], "spec.indicator.spec", name if isinstance(name, str) else d.name)
    elif spec["indicatorRef"] not in slis:
        d.error("spec.indicatorRef", f"no kind: SLI named {shown(spec['indicatorRef'])} in the loaded files")
    else:
        sli = slis[spec["indicatorRef"]]  # None when that SLI is broken: its own document says why
    windows = _windows(d, spec)
    if len(spec.get("timeWindow", [])) > 1:
        d.warn("spec.timeWindow", "several timeWindow items are a slo-assets extension (the OpenSLO v1 schema allows one); "
                                  f"the {ANNOTATION_WINDOWS} annotation is portable")
    throughput = sli is not None and sli.throughput
    if throughput and method != "Timeslices":
        d.error("spec.budgetingMethod", f"{method}: a throughput SLI (thresholdMetric) is budgeted in Timeslices only "
                                        "(a slice is good when its request rate meets the objective's op and value)")
    objectives = _objectives(d, spec, method, throughput)
    names = _alert_policies(d, policies)
    maintenance = _maintenance(d)
    if d.errors or sli is None:
        return None
    if sli.kind() == "latency" and sli.latency_bound_ms() is None and ANNOTATION_ERRORS not in d.annotations:
        # Batch figures work; only the Prometheus rules (outputs/rules.py) cannot be derived, so `rules` skips it.
        d.warn("spec.indicator" if "indicator" in spec else "spec.indicatorRef",
               f"no Prometheus rules for this SLO: {LATENCY_RULES_NEED}; or give {ANNOTATION_ERRORS} and {ANNOTATION_TOTAL}")
    return Slo(name=d.name, display_name=str(d.doc["metadata"].get("displayName", d.name)), service=spec["service"],
               description=spec.get("description", ""), budgeting_method=method, indicator=sli, objectives=objectives,
               windows=windows, alert_policies=names, adjustments=maintenance, source=d.source,
               deploy_gate=_deploy_gate(d), annotations=dict(d.annotations))


def _component(d: Doc, where: str, ref: str, specs: SpecSet, method: str, broken: set[str], composites: set[str]) -> Slo | None:
    """The measured SLO a composite's objective names in indicatorRef, or None: with a message, unless
    that SLO is broken (its own document says why)."""
    component = next((s for s in specs.slos if s.name == ref), None)
    if component is None and ref in composites:
        d.error(f"{where}.indicatorRef", f"{shown(ref)} is a composite SLO; a component is a measured SLO")
    elif component is None and ref not in broken:
        d.error(f"{where}.indicatorRef", f"no kind: SLO named {shown(ref)} in the loaded files (a composite's components are SLOs)")
    elif component is not None and component.budgeting_method != method:
        d.error(f"{where}.indicatorRef", f"SLO {ref} budgets {component.budgeting_method} (its spec.budgetingMethod), "
                                         f"this composite {method}: every component shares one budgeting method")
    else:
        return component
    return None


def composite(d: Doc, specs: SpecSet, broken: set[str], composites: set[str], policies: set[str]) -> CompositeSlo | None:
    """A composite SLO: each objective names a measured SLO of the loaded files in indicatorRef, with an
    optional compositeWeight; they share one budgeting method, one target and one slice width. `broken`
    names the measured SLOs that have problems, `composites` every composite."""
    spec, method = d.spec, d.spec["budgetingMethod"]
    windows = _windows(d, spec)
    objectives = _objectives(d, spec, method)
    components: list[Component] = []
    for i, item in enumerate(spec["objectives"]):
        where = f"spec.objectives[{i}]"
        found = _component(d, where, item["indicatorRef"], specs, method, broken, composites)
        if found is not None and any(c.slo == found.name for c in components):
            d.error(f"{where}.indicatorRef", f"names SLO {found.name} a second time")
        elif found is not None:
            if method == "Timeslices" and item.get("compositeWeight", 1) != 1:
                d.warn(f"{where}.compositeWeight", "has no effect under Timeslices: a composite slice is bad when it is bad in any component")
            slice_target = objectives[i].time_slice_target if len(objectives) > i else None
            components.append(Component(found.name, decimal(item.get("compositeWeight", 1)), slice_target))
    if objectives and len(objectives) < 2:
        d.error("spec.objectives", "a composite SLO needs at least two objectives, one per component")
    for i, objective in enumerate(objectives[1:], start=1):
        if objective.target != objectives[0].target:
            d.error(f"spec.objectives[{i}].target", f"{objective.target}: a composite has one target, every objective gives "
                                                    f"the same ({objectives[0].target} in objectives[0])")
        if objective.time_slice_minutes != objectives[0].time_slice_minutes:
            d.error(f"spec.objectives[{i}].timeSliceWindow", f"{objective.time_slice_minutes}m: the components' slices are judged "
                                                             f"together, so they share one width ({objectives[0].time_slice_minutes}m)")
    names = _alert_policies(d, policies)
    maintenance = _maintenance(d)
    for key in (ANNOTATION_FREEZE_BELOW, ANNOTATION_FREEZE_ON_PAGE, ANNOTATION_ERRORS, ANNOTATION_TOTAL):
        if key in d.annotations:  # the gate and the rules' queries belong to the measured SLOs
            d.warn(f"metadata.annotations.{key}", "has no effect on a composite SLO: give it on its component SLOs")
    if d.errors or len(components) < len(spec["objectives"]):  # fewer: a component is broken
        return None
    if method == "Timeslices":  # validate and rules agree: the rules file lists it as skipped
        d.warn("spec.budgetingMethod", f"no Prometheus rules for this composite: {TIMESLICES_COMPOSITE_NOTE}")
    first = objectives[0]
    objective = Objective("composite", f"composite {(first.target * 100).normalize():f}%", first.target, None, first.time_slice_minutes)
    return CompositeSlo(d.name, str(d.doc["metadata"].get("displayName", d.name)), spec["service"], spec.get("description", ""), method,
                        objective, tuple(components), windows, names, maintenance, d.source, dict(d.annotations))


def check_annotations(d: Doc) -> None:
    """metadata.annotations are free-form, but a key in our namespace must be one we read, on a kind
    that reads it (else a warning; the schema checks the values an SLO's rules read)."""
    for key in d.annotations:
        where = f"metadata.annotations.{key}"
        if not (isinstance(key, str) and key.startswith(ANNOTATION_PREFIX)):
            continue
        if key not in ANNOTATIONS:
            d.warn(where, f"unknown slo-assets annotation{did_you_mean(key, ANNOTATIONS)}")
        elif d.kind != "SLO":
            d.warn(where, f"is read on kind SLO only; it has no effect on kind {d.kind}")


def _deploy_gate(d: Doc) -> DeployGate | None:
    floor_text, page_text = d.annotations.get(ANNOTATION_FREEZE_BELOW), d.annotations.get(ANNOTATION_FREEZE_ON_PAGE)
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


def _maintenance(d: Doc) -> tuple[BudgetAdjustment, ...]:
    """The maintenance annotation as what it is sugar for: one-off Exclude adjustments of this SLO."""
    raw = d.annotations.get(ANNOTATION_MAINTENANCE)
    if not raw:
        return ()
    where = f"metadata.annotations.{ANNOTATION_MAINTENANCE}"
    windows = parse_maintenance(str(raw), lambda message: d.error(where, message))
    return maintenance_adjustments(windows, ANNOTATION_MAINTENANCE, f"{d.source} {where}")


def maintenance_adjustments(windows: tuple[tuple[datetime, datetime], ...], name: str, source: str) -> tuple[BudgetAdjustment, ...]:
    """Maintenance windows (start, end) as one-off Exclude adjustments named name[0], name[1], ..."""
    return tuple(BudgetAdjustment(f"{name}[{i}]", EXCLUDE, ms(start), ms(end) - ms(start), source=source)
                 for i, (start, end) in enumerate(windows))


def parse_maintenance(text: str, error: Any) -> tuple[tuple[datetime, datetime], ...]:
    """'start/end,start/end' ISO-8601 instants (UTC if no offset) -> [(start, end)]; `error(message)` for each bad one."""
    windows = []
    for item in text.split(","):
        item = item.strip()
        try:
            start_text, end_text = item.split("/")
            start, end = (instant(start_text), instant(end_text))
        except ValueError:
            error(f"{shown(item)} is not start/end ISO-8601 instants")
            continue
        if end <= start:
            error(f"{shown(item)} ends before it starts")
            continue
        windows.append((start, end))
    return tuple(windows)
