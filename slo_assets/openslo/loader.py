"""load_specs: every document of every file through the loader's schema (slo_assets/openslo/schema.py),
then what it means (slos.py for SLOs), the references between documents, the alerting kinds and the
v2alpha BudgetAdjustment. It rejects at load what the chain, the rules or polars would reject later,
so validate and run agree; all problems are collected and raised at once as one SpecError.

A document the schema refuses builds nothing and its references are not judged; what refers to it
adds no second message (its name maps to None). Warnings (SpecSet.warnings) flag what works but is
probably not meant: an unknown annotation in our namespace, ignored fields, an SLO the Prometheus
rules cannot express."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slo_assets.core.durations import duration_minutes, parse_duration
from slo_assets.core.safe_yaml import shown
from slo_assets.openslo import slos
from slo_assets.openslo.adjustments import BudgetAdjustment, instant, ms, parse_rrule
from slo_assets.openslo.documents import Doc, SpecError, read_file
from slo_assets.openslo.models import AlertCondition, AlertPolicy, Indicator, SpecSet
from slo_assets.openslo.schema import API_V1, API_V2ALPHA, KINDS, did_you_mean, validator

# Every event's end is written as a date (the compliance document's windows): past the last date
# Python has, the run failed with an OverflowError after validate had said the file was fine.
_LAST_INSTANT = datetime(9999, 12, 31, tzinfo=UTC)


def _header(d: Doc) -> bool:
    """The checks every document gets, the loader's schema first; True when it has a name to be known by."""
    doc = d.doc
    if not isinstance(doc, dict):
        d.error("(document)", f"must be a mapping, not {type(doc).__name__}")
        return False
    expected = API_V2ALPHA if doc.get("kind") == "BudgetAdjustment" else API_V1
    if doc.get("apiVersion") != expected:
        why = {API_V2ALPHA: " (BudgetAdjustment is an OpenSLO v2alpha kind)", API_V1: f" ({API_V2ALPHA} is read for kind BudgetAdjustment only)"}
        d.error("apiVersion", f"must be {expected}, not {shown(doc.get('apiVersion'))}"
                + (why[expected] if doc.get("apiVersion") in (API_V1, API_V2ALPHA) else ""))
        return False
    if doc.get("kind") not in KINDS:
        d.check(validator("document"), doc)  # its keys still: `kinx:` is a typo of kind
        d.error("kind", f"unknown kind {shown(doc.get('kind'))}{did_you_mean(str(doc.get('kind')), KINDS)}")
        return False
    d.checked = d.check(validator(doc["kind"]), doc)
    if d.checked:
        slos.check_annotations(d)
    return d.named


def _alert_condition(spec: dict[str, Any], name: str) -> AlertCondition:
    """An AlertCondition's spec (its own document's, or inline in a policy), once the schema has checked it."""
    condition = spec["condition"]
    return AlertCondition(name, spec["severity"], condition["op"], float(condition["threshold"]),
                          duration_minutes(condition["lookbackWindow"]), duration_minutes(condition["alertAfter"]))


def _policy(d: Doc, conditions: dict[str, AlertCondition | None]) -> AlertPolicy | None:
    found = []
    for i, item in enumerate(d.spec["conditions"]):
        where = f"spec.conditions[{i}]"
        if "conditionRef" in item:
            if item["conditionRef"] not in conditions:
                d.error(f"{where}.conditionRef", f"no AlertCondition named {shown(item['conditionRef'])}")
            found.append(conditions.get(item["conditionRef"]))  # None: unknown, or broken (its document says why)
        else:
            metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
            found.append(_alert_condition(item["spec"], str(metadata.get("name", f"{d.name}-{i + 1}"))))
    return AlertPolicy(d.name, tuple(c for c in found if c is not None)) if None not in found and not d.errors else None


def _budget_adjustment(d: Doc) -> tuple[BudgetAdjustment, tuple[str, ...], dict[str, str] | None] | None:
    """A kind: BudgetAdjustment document (its instants and durations checked by the schema): the
    adjustment, the SLO names it gives and its label selector."""
    spec = d.spec
    start = instant(spec["startTime"])
    if "duration" in spec:
        duration_ms = parse_duration(spec["duration"]) // timedelta(milliseconds=1)
        if ms(start) + duration_ms > ms(_LAST_INSTANT):
            d.error("spec.duration", f"{shown(spec['duration'])} from startTime {spec['startTime']} ends after {_LAST_INSTANT.date().isoformat()}")
    else:
        end = instant(spec["endTime"])
        duration_ms = ms(end) - ms(start)
        if end <= start:
            d.error("spec.endTime", f"{shown(spec['endTime'])} is not after startTime {shown(spec['startTime'])}")
    if "rrule" in spec:
        try:
            parse_rrule(spec["rrule"], start)
        except ValueError as exc:
            d.error("spec.rrule", str(exc))
    if d.errors:
        return None
    adjustment = BudgetAdjustment(d.name, spec["effect"], ms(start), duration_ms, spec.get("rrule"), spec.get("description", ""), d.source)
    return adjustment, tuple(spec.get("slos", [])), spec["sloSelector"]["matchLabels"] if "sloSelector" in spec else None


def _labels_match(labels: Any, selector: dict[str, str]) -> bool:
    """Every selector label on the SLO: its value, or one of its values (OpenSLO labels may be lists)."""
    labels = labels if isinstance(labels, dict) else {}
    return all(labels.get(key) == value or (isinstance(labels.get(key), list) and value in labels[key]) for key, value in selector.items())


def _attach_adjustments(specs: SpecSet, slo_docs: list[Doc], adjustment_docs: list[Doc]) -> None:
    """Each BudgetAdjustment onto the SLOs it names or selects (in document order)."""
    defined = {d.name: d.doc["metadata"].get("labels") for d in slo_docs}
    chosen: dict[str, list[BudgetAdjustment]] = {}
    for d in adjustment_docs:
        read = _budget_adjustment(d)
        for i, name in enumerate(d.spec.get("slos", [])):
            if name not in defined:
                d.error(f"spec.slos[{i}]", f"no kind: SLO named {shown(name)}{did_you_mean(name, defined) if defined else ''}")
        if read is None:
            continue
        adjustment, named, selector = read
        targets = [n for n in defined if n in named or (selector is not None and _labels_match(defined[n], selector))]
        if selector is not None and not any(_labels_match(labels, selector) for labels in defined.values()):
            d.warn("spec.sloSelector", f"selects no SLO: no SLO has the labels {shown(selector)}")
        for name in targets:
            chosen.setdefault(name, []).append(adjustment)
    # a composite is adjusted as a whole, beside its components' own
    specs.slos = [dataclasses.replace(s, adjustments=s.adjustments + tuple(chosen.get(s.name, ()))) for s in specs.slos]
    specs.composites = [dataclasses.replace(s, adjustments=s.adjustments + tuple(chosen.get(s.name, ()))) for s in specs.composites]


def load_specs(paths: list[Path]) -> SpecSet:
    """Load and check every document of every file; raise SpecError listing all problems."""
    problems: list[str] = []
    specs = SpecSet()
    # None marks a document that has problems of its own: a reference to it adds no second message
    slis: dict[str, Indicator | None] = {}
    conditions: dict[str, AlertCondition | None] = {}
    docs: dict[str, list[Doc]] = {"SLO": [], "AlertPolicy": [], "BudgetAdjustment": []}
    first_seen: dict[tuple[str, str], Doc] = {}
    for path in map(Path, paths):
        read = read_file(path, problems)
        if read is None:
            continue
        content, documents = read
        specs.files[str(path)] = hashlib.sha256(content).hexdigest()
        for number, doc in enumerate(documents, start=1):
            if doc is None:  # an empty document (e.g. a trailing ---) still counts in the numbering
                continue
            d = Doc(path, number, doc, problems, specs.warnings)
            if not _header(d):
                continue
            first = first_seen.setdefault((d.kind, d.name), d)
            if first is not d and (d.kind == "SLO" or first.doc != doc):  # a shared Service repeated verbatim is harmless
                d.error("metadata.name", f"{d.kind} {d.name} is defined more than once, first in {first.place}")
            if first is not d:
                continue
            if d.kind in docs:
                docs[d.kind].append(d)
            elif d.kind == "SLI":
                slis[d.name] = slos.indicator(d, d.spec, "spec", d.name) if d.checked else None
            elif d.kind == "AlertCondition":
                conditions[d.name] = _alert_condition(d.spec, d.name) if d.checked else None
            elif d.kind == "Service" and d.checked:
                specs.services[d.name] = d.spec.get("description", "")
    for d in docs["AlertPolicy"]:
        policy = _policy(d, conditions) if d.checked else None
        if policy:
            specs.policies[policy.name] = policy
    policies = {d.name for d in docs["AlertPolicy"]}  # broken ones too: an SLO naming one adds no second message
    # composites after the SLOs they name: their components must be measured SLOs
    composites = [d for d in docs["SLO"] if slos.is_composite(d.doc)]
    for d in docs["SLO"]:
        slo = slos.slo(d, slis, policies) if d.checked and d not in composites else None
        if slo:
            specs.slos.append(slo)
    broken = {d.name for d in docs["SLO"] if d not in composites} - {s.name for s in specs.slos}
    for d in composites:
        made = slos.composite(d, specs, broken, {c.name for c in composites}, policies) if d.checked else None
        if made:
            specs.composites.append(made)
    _attach_adjustments(specs, docs["SLO"], [d for d in docs["BudgetAdjustment"] if d.checked])
    if problems:
        raise SpecError(problems)
    if not specs.slos:
        raise SpecError([f"{', '.join(str(p) for p in paths)}: no kind: SLO document found"])
    return specs
