"""OpenSLO v1 specs with a `logs` metric source: the import surface of slo_assets.openslo.

Filters are data (field -> value, or field -> {lt, lte, gt, gte, eq, ne, in, regex}); they become
polars expressions and are never evaluated as code. Every error names the file, the document
(counted from 1, with its kind and name) and the field path: `FILE: document N (KIND NAME): field: message`.

The loader is strict where a typo would otherwise pass: an unknown key at any level it reads is an
error with a "did you mean" (the keys OpenSLO v1 defines there, plus our extensions), an unknown
annotation in our namespace a warning. It rejects at load what the chain, the rules or polars would
reject later (validate and run agree).

Where it lives: schema.py and schemas/overlay.yaml (the loader's schema, derived from the official
v1 schema, and its messages), documents.py (YAML, and the errors of one document), loader.py
(load_specs, the alerting kinds, BudgetAdjustment), slos.py (what an SLO means), models.py (the results).
"""

from slo_assets.openslo.documents import SpecError, load_yaml_documents, yaml_stream
from slo_assets.openslo.loader import load_specs
from slo_assets.openslo.models import (
    LATENCY_RULES_NEED,
    TIMESLICES_COMPOSITE_NOTE,
    AlertCondition,
    AlertPolicy,
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
from slo_assets.openslo.schema import FILTER_FIELDS, FILTER_OPS, MAX_ROLLING_DAYS
from slo_assets.openslo.slos import (
    ANNOTATION_ERRORS,
    ANNOTATION_FREEZE_BELOW,
    ANNOTATION_FREEZE_ON_PAGE,
    ANNOTATION_MAINTENANCE,
    ANNOTATION_PREFIX,
    ANNOTATION_RUNBOOK,
    ANNOTATION_TOTAL,
    ANNOTATION_WINDOWS,
    ANNOTATIONS,
    is_composite,
    parse_maintenance,
)

__all__ = [
    "ANNOTATIONS", "ANNOTATION_ERRORS", "ANNOTATION_FREEZE_BELOW", "ANNOTATION_FREEZE_ON_PAGE", "ANNOTATION_MAINTENANCE",
    "ANNOTATION_PREFIX", "ANNOTATION_RUNBOOK", "ANNOTATION_TOTAL", "ANNOTATION_WINDOWS", "FILTER_FIELDS", "FILTER_OPS",
    "LATENCY_RULES_NEED", "MAX_ROLLING_DAYS", "TIMESLICES_COMPOSITE_NOTE", "AlertCondition", "AlertPolicy", "Component",
    "CompositeSlo", "Condition", "DeployGate", "Filter", "Indicator", "Objective", "Slo", "SpecError", "SpecSet", "TimeWindow",
    "is_composite", "load_specs", "load_yaml_documents", "parse_maintenance", "yaml_stream",
]
