"""OpenSLO v1 documents for tests, from the few fields a test varies: one place for the form, so a
test's spec reads as what it is (an availability SLO of a service, its target, its method)."""

from __future__ import annotations

CALENDAR_MONTH = '[{duration: 1M, isRolling: false, calendar: {startTime: "2020-01-01 00:00:00", timeZone: Etc/UTC}}]'


def availability_slo(name: str, service: str, objective: str, target: float, *, slice_target: float | None = None) -> str:
    """An SLO on a calendar month whose good requests are those under 500: Occurrences, or
    Timeslices of one minute when `slice_target` is given."""
    method = "Occurrences" if slice_target is None else "Timeslices"
    slices = "" if slice_target is None else f", timeSliceTarget: {slice_target}, timeSliceWindow: 1m"
    return f"""apiVersion: openslo/v1
kind: SLO
metadata: {{name: {name}}}
spec:
  service: {service}
  budgetingMethod: {method}
  timeWindow: {CALENDAR_MONTH}
  indicator:
    metadata: {{name: {name}}}
    spec:
      ratioMetric:
        counter: true
        good: {{metricSource: {{type: logs, spec: {{filter: {{service: {service}, status: {{lt: 500}}}}}}}}}}
        total: {{metricSource: {{type: logs, spec: {{filter: {{service: {service}}}}}}}}}
  objectives: [{{displayName: {objective}, target: {target}{slices}}}]
"""


def spec_file(*documents: str) -> str:
    """Documents as one multi-document YAML file."""
    return "---\n".join(documents)
