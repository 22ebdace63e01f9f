"""Prometheus recording and alerting rules from OpenSLO specs: multiwindow multi-burn-rate alerts.

So a team that scrapes live metrics gets paged between batch runs. Per SLO, recording rules give the
error ratio over every alert window; per SLO objective and tier (slo/burn_rate_windows.yaml), an
alert fires when both windows burn faster than budget_fraction x period_hours / long_window_hours,
i.e. 14.4/6 (page) and 3/1 (ticket) for a 30-day period, scaled for 28-day and 7-day periods.

The SLI queries: an SLO may give its own PromQL in the annotations
`slo-assets.dev/promql-errors` and `slo-assets.dev/promql-total` (rates with `{{window}}` where
the range goes); otherwise a default template: availability SLOs count 5xx in
`http_requests_total{service, code}`, latency SLOs (a duration_ms lte filter) count requests above
the threshold from `http_request_duration_seconds_bucket{service, le}` (the threshold must be a
histogram bucket boundary, in seconds). A latency SLO with no such bound (only a gt/gte in good)
cannot be expressed with `le` buckets: it gets no rules, and the rules file says so in a comment
(`load_specs` warns about it too, so `validate` and `rules` agree).

A composite SLO of Occurrences records the weighted ratio of its components' queries,
sum(w x errors) / sum(w x total), and alerts on it as on any SLO; a Timeslices composite gets a
`# skipped` comment (spec.TIMESLICES_COMPOSITE_NOTE says why).
"""

from __future__ import annotations

from decimal import Decimal

import yaml

from slo_assets.core.errors import DefinitionError
from slo_assets.openslo.spec import (
    ANNOTATION_ERRORS,
    ANNOTATION_RUNBOOK,
    ANNOTATION_TOTAL,
    LATENCY_RULES_NEED,
    TIMESLICES_COMPOSITE_NOTE,
    CompositeSlo,
    Slo,
    SpecSet,
)
from slo_assets.slo import budget as B
from slo_assets.slo.burn_windows import alert_tiers, burn_window_minutes

__all__ = ["ANNOTATION_ERRORS", "ANNOTATION_RUNBOOK", "ANNOTATION_TOTAL", "RulesError", "build_rules", "render",
           "sli_queries"]
ALERT_WINDOWS = tuple(burn_window_minutes())  # every window a tier uses (burn_rate_windows.yaml), recorded once each


class RulesError(DefinitionError):
    """An SLO whose queries cannot be derived; the message names it and what to add."""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def sli_queries(slo: Slo, annotations: dict) -> tuple[str, str]:
    """(errors rate, total rate) PromQL with {{window}} placeholders."""
    if ANNOTATION_ERRORS in annotations and ANNOTATION_TOTAL in annotations:
        return annotations[ANNOTATION_ERRORS], annotations[ANNOTATION_TOTAL]
    service = _label(slo.service)
    if slo.indicator.kind() == "latency":
        threshold = slo.indicator.latency_bound_ms()
        if threshold is None:
            raise RulesError(f"{slo.name} ({slo.source}): {LATENCY_RULES_NEED}; or give {ANNOTATION_ERRORS} and {ANNOTATION_TOTAL}")
        le = f"{Decimal(repr(threshold)) / 1000:f}".rstrip("0").rstrip(".")
        total = f'sum(rate(http_request_duration_seconds_count{{service="{service}"}}[{{{{window}}}}]))'
        fast = f'sum(rate(http_request_duration_seconds_bucket{{service="{service}",le="{le}"}}[{{{{window}}}}]))'
        return f"({total} - {fast})", total
    total = f'sum(rate(http_requests_total{{service="{service}"}}[{{{{window}}}}]))'
    errors = f'sum(rate(http_requests_total{{service="{service}",code=~"5.."}}[{{{{window}}}}]))'
    return errors, total


def _record_name(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


REMAINING_RECORD = "slo:error_budget_remaining:ratio"
THROUGHPUT_RECORD = "slo:requests:rate"  # + the slice, e.g. slo:requests:rate1h
THROUGHPUT_BAD_RECORD = "slo:throughput_slice_bad:bool"
# A throughput slice is bad when its rate fails `op value`: the comparison that says so, per op.
_BAD_WHEN = {"gte": "<", "gt": "<=", "lte": ">", "lt": ">="}


def _number(value: Decimal) -> str:
    return f"{value:f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:f}"


def _slice_label(minutes: int) -> str:
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _throughput_records(slo: Slo, labels: dict, windows: tuple[str, ...]) -> list[dict]:
    """A throughput SLO's recording rules: the request rate per slice (from the request counter the
    other rules read), 1 where a slice's rate fails its objective, and its share over each window,
    which stands in for the error ratio (the live form of the batch's slices: a trailing slice at
    every evaluation)."""
    service = _label(slo.service)
    records, seen = [], set()
    for objective in slo.objectives:
        width = _slice_label(objective.time_slice_minutes)
        if width not in seen:
            seen.add(width)
            records.append({"record": f"{THROUGHPUT_RECORD}{width}",
                            "expr": f'sum(rate(http_requests_total{{service="{service}"}}[{width}]))', "labels": labels})
        own = {**labels, "objective": objective.key}
        selector = f'{{slo="{_label(slo.name)}"}}'
        records.append({"record": THROUGHPUT_BAD_RECORD,
                        "expr": f"{THROUGHPUT_RECORD}{width}{selector} {_BAD_WHEN[objective.op]} bool {_number(objective.value)}",
                        "labels": own})
        bad = f'{THROUGHPUT_BAD_RECORD}{{slo="{_label(slo.name)}",objective="{objective.key}"}}'
        records += [{"record": _record_name(window), "expr": f"avg_over_time({bad}[{window}])", "labels": own} for window in windows]
    return records


def _kind(slo: Slo | CompositeSlo) -> str:
    """The indicator's kind; a composite's is its components' ratio ("ratio")."""
    return slo.indicator.kind() if isinstance(slo, Slo) else "ratio"


def _selector(slo: Slo | CompositeSlo, objective) -> str:
    """The series of one objective: a throughput SLO records its error ratios per objective, others per SLO."""
    if _kind(slo) == "throughput":
        return f'{{slo="{_label(slo.name)}",objective="{objective.key}"}}'
    return f'{{slo="{_label(slo.name)}"}}'


def _budget_alerts(slo: Slo | CompositeSlo, objective, period: str, labels: dict, notes: dict) -> tuple[list[dict], list[dict]]:
    """(recording, alerting) rules of the budget-state alerts of one objective, over its period's
    error ratio (docs/concepts.md, "Budget-state alerts"). The alerts compare the error ratio with
    exact decimal limits: remaining < r  <=>  error ratio > (1 - r) x (1 - target)."""
    budget = 1 - objective.target
    selector = _selector(slo, objective)
    ratio = f"{_record_name(period)}{selector}"
    own = {**labels, "objective": objective.key}
    records = [{"record": REMAINING_RECORD, "expr": f"1 - {ratio} / {_number(budget)}", "labels": own}]
    critical = _number((1 - B.BUDGET_CRITICAL_BELOW) * budget)
    warning = _number((1 - B.BUDGET_WARNING_BELOW) * budget)
    burn = _number(B.HIGH_BURN_RATE * budget)
    name = slo.display_name

    def alert(alert: str, key: str, expr: str, summary: str) -> dict:
        annotations = {"summary": f"{name}: {summary}",
                       "description": f"SLO {slo.name} ({objective.display_name}, target {objective.target}) over {period}."}
        if ANNOTATION_RUNBOOK in notes:
            annotations["runbook_url"] = notes[ANNOTATION_RUNBOOK]
        return {"alert": alert, "expr": expr, "labels": {**own, "severity": B.BUDGET_ALERTS[key]}, "annotations": annotations}

    alerts = [
        alert("SLOErrorBudgetCritical", "budget_critical", f"{ratio} > {critical}",
              f"under {float(B.BUDGET_CRITICAL_BELOW) * 100:g}% of the error budget left"),
        alert("SLOErrorBudgetWarning", "budget_warning", f"{ratio} > {warning}\nand\n{ratio} <= {critical}",
              f"{float(B.BUDGET_CRITICAL_BELOW) * 100:g}-{float(B.BUDGET_WARNING_BELOW) * 100:g}% of the error budget left"),
        alert("SLOViolated", "slo_violated", f"{ratio} > {_number(budget)}", "SLI below target over the window so far"),
        alert("SLOHighBurnRate", "high_burn_rate",
              f"{_record_name(B.HIGH_BURN_LONG)}{selector} > {burn}\nand\n{_record_name(B.HIGH_BURN_SHORT)}{selector} > {burn}",
              f"burn rate over {float(B.HIGH_BURN_RATE):g}x for {B.HIGH_BURN_LONG}, still over {B.HIGH_BURN_SHORT}"),
    ]
    if _kind(slo) == "latency":
        alerts.append(alert("SLOLatencyThresholdViolated", "latency_threshold_violated",
                            f"{_record_name(B.LATENCY_WINDOW)}{selector} > {_number(budget)}",
                            f"fewer than {float(objective.target) * 100:g}% of requests within the threshold over {B.LATENCY_WINDOW}"))
    return records, alerts


def build_rules(specs: SpecSet, page: bool = True, ticket: bool = True) -> dict:
    """{"groups": [...], "skipped": ["SLO: why", ...]}, each SLO's own PromQL and runbook URL read from its
    annotations. `render` writes the groups as YAML and each skipped SLO as a comment."""
    groups, skipped = [], []
    queries: dict[str, tuple[str, str]] = {}  # the composites' components: each SLO's queries, derived once
    for slo in specs.slos:
        notes = slo.annotations
        if slo.indicator.kind() == "throughput":
            groups += _groups(slo, lambda labels, windows, slo=slo: _throughput_records(slo, labels, windows), notes, page, ticket)
            continue
        try:
            queries[slo.name] = sli_queries(slo, notes)
        except RulesError:
            # the batch chain still judges this SLO; only live rules cannot express it
            skipped.append(f"{slo.name} ({slo.source.replace(':', ' document ')}): {LATENCY_RULES_NEED}")
            continue
        groups += _groups(slo, _ratio_records(*queries[slo.name]), notes, page, ticket)
    for composite in specs.composites:
        where = f"{composite.name} ({composite.source.replace(':', ' document ')})"
        if composite.budgeting_method != "Occurrences":
            skipped.append(f"{where}: {TIMESLICES_COMPOSITE_NOTE}")
            continue
        missing = [c.slo for c in composite.components if c.slo not in queries]
        if missing:
            skipped.append(f"{where}: its component {', '.join(missing)} has no rules")
            continue
        errors, total = (_weighted(composite, [queries[c.slo][part] for c in composite.components]) for part in (0, 1))
        groups += _groups(composite, _ratio_records(errors, total), composite.annotations, page, ticket)
    return {"groups": groups, "skipped": skipped}


def _weighted(composite: CompositeSlo, terms: list[str]) -> str:
    """sum of weight x term: a component without a series counts 0 (`or vector(0)`), not the whole sum absent."""
    lines = [f"{c.weight.normalize():f} * ({term} or vector(0))" for c, term in zip(composite.components, terms, strict=True)]
    return "\n  " + "\n  + ".join(lines) + "\n"  # one term a line, inside the ratio's parentheses


def _ratio_records(errors: str, total: str):
    """The error ratio's recording rules over each window, from its errors and total queries."""
    def records(labels: dict, windows: tuple[str, ...]) -> list[dict]:
        return [{"record": _record_name(window),
                 "expr": f"({errors.replace('{{window}}', window)})\n/\n({total.replace('{{window}}', window)})",
                 "labels": labels} for window in windows]
    return records


def _groups(slo: Slo | CompositeSlo, make_records, notes: dict, page: bool, ticket: bool) -> list[dict]:
    """The SLO's recording rules (its error ratio over every alert window and its period, from
    `make_records(labels, windows)`), its burn-rate alerts and its budget-state alerts, as rule groups."""
    labels = {"slo": slo.name, "service": slo.service}
    period = f"{slo.windows[0].days}d"  # the budget-state alerts' window: the SLO's own period, as a range
    records = make_records(labels, tuple(dict.fromkeys((*ALERT_WINDOWS, period))))
    budget_records, budget_alerts = [], []
    for objective in slo.objectives:
        more_records, more_alerts = _budget_alerts(slo, objective, period, labels, notes)
        budget_records += more_records
        budget_alerts += more_alerts
    alerts = []
    for objective in slo.objectives:
        budget = 1 - objective.target
        for window in slo.windows[:1]:  # alerts follow the SLO's own period (its first window)
            for tier in alert_tiers():
                if (tier.severity == "page" and not page) or (tier.severity == "ticket" and not ticket):
                    continue
                factor = tier.factor(window.days)
                limit = f"{factor * budget:f}".rstrip("0").rstrip(".")
                selector = _selector(slo, objective)
                expr = (f"{_record_name(tier.long)}{selector} > {limit}\n"
                        f"and\n{_record_name(tier.short)}{selector} > {limit}")
                annotations_out = {
                    "summary": f"{slo.display_name}: error budget burning over {float(factor):g}x "
                               f"({tier.long} and {tier.short} windows)",
                    "description": f"SLO {slo.name} ({objective.display_name}, target {objective.target}) would spend "
                                   f"{float(tier.budget_fraction) * 100:g}% of its {window.duration} error budget within {tier.long}.",
                }
                if ANNOTATION_RUNBOOK in notes:
                    annotations_out["runbook_url"] = notes[ANNOTATION_RUNBOOK]
                alerts.append({
                    "alert": "SLOBurnRatePage" if tier.severity == "page" else "SLOBurnRateTicket",
                    "expr": expr,
                    "labels": {**labels, "objective": objective.key, "severity": tier.severity,
                               "long_window": tier.long, "short_window": tier.short},
                    "annotations": annotations_out,
                })
    groups = [{"name": f"slo-{slo.name}-sli", "rules": records + budget_records}]
    if alerts:
        groups.append({"name": f"slo-{slo.name}-alerts", "rules": alerts})
    groups.append({"name": f"slo-{slo.name}-budget", "rules": budget_alerts})
    return groups


class _Literal(str):
    """A string dumped as a YAML literal block."""


# libyaml's emitter when PyYAML has it (the same text, measured on 500 SLOs: ten times faster than the Python one)
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_SafeDumper):
    """SafeDumper plus literal blocks and no anchors, without touching the global SafeDumper."""

    def ignore_aliases(self, data) -> bool:
        return True


_Dumper.add_representer(_Literal, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|"))


def render(rules: dict) -> str:
    """YAML with multi-line expressions as literal blocks, as a person would write them; skipped SLOs as comments."""
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "\n" in rule["expr"]:
                rule["expr"] = _Literal(rule["expr"])
    header = "# Generated by slo-assets from OpenSLO specs: multiwindow multi-burn-rate SLO alerts.\n"
    header += "".join(f"# skipped {' '.join(note.split())}\n" for note in rules.get("skipped", ()))  # one line each
    return header + yaml.dump({"groups": rules["groups"]}, Dumper=_Dumper, sort_keys=False, width=200)
