"""Prometheus text exposition of a month's SLO figures, built with prometheus_client (not by hand).

Metric names (labels slo, service, objective, window; window is the SLO window, e.g. 1M-calendar):

| metric | type | meaning |
| --- | --- | --- |
| slo_sli_ratio | gauge | SLI (good / total units) over the window |
| slo_target_ratio | gauge | the objective's target |
| slo_error_budget_remaining_ratio | gauge | 1 - consumed / allowed (negative when overspent) |
| slo_error_budget_consumed_ratio | gauge | consumed / allowed |
| slo_burn_rate | gauge | burn rate at the end of the data, label burn_window (5m ... 3d, period) |
| slo_good_events_total, slo_events_total | counter | good and total budget units in the window |
| slo_status | gauge | 1 for the window's status (label status), 0 for the others |
| slo_alert_firings_total | counter | replayed multiwindow alert firings, label severity |
| slo_alerts_held_back_total | counter | firings the low-traffic gate held back, label severity |
| slo_budget_alert_firings_total | counter | replayed budget-state alert firings, labels alert (budget_critical, budget_warning, slo_violated, high_burn_rate, latency_threshold_violated) and severity |
| slo_throughput_requests_per_second | gauge | a throughput objective's mean request rate over the window (events / window seconds) |
| slo_throughput_threshold_requests_per_second | gauge | a throughput objective's slice threshold, label op (gte, gt, lte, lt) |
| slo_sli_lower_ratio, slo_sli_upper_ratio | gauge | the SLI's 95 % Wilson interval (over events, or over slices) |
| slo_sli_significant | gauge | 0 when the interval holds the target (the status could go either way), else 1 |
| slo_window_minutes, slo_unmeasured_minutes | gauge | the window's minutes, and those without data although traffic was expected |
| slo_unmeasured_ratio | gauge | unmeasured / window minutes |
| slo_quarantine_ratio | gauge | quarantined lines / lines read on the window's days |
| slo_coverage_below_floor | gauge | 1 when the measured share of the window is under the coverage floor |

A window without an SLI (no event: insufficient_data) has no slo_sli_ratio and no budget ratio
samples, and a null burn rate has no slo_burn_rate sample: absent, never NaN. Its slo_status has
status="insufficient_data" at 1 and its event counters are 0. A window under the coverage floor whose
measured minutes meet the target has status="insufficient_coverage" at 1 (and slo_coverage_below_floor
1): its SLI and budget samples are those of the measured minutes.
| slo_service_health_score | gauge | 0-100 per service |
| slo_report_as_of_timestamp_seconds | gauge | end of the data the figures describe |
| slo_latency_seconds | gauge | a latency SLO's exact p50/p95/p99 over the month (labels slo, service, quantile 0.5/0.95/0.99); none without a timed request |
| slo_composite_weight | gauge | a composite SLO's compositeWeight per component (labels slo, service, component) |

A composite SLO's windows carry the same metrics as any SLO's, over its weighted units.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from slo_assets.slo.budget import BUDGET_ALERTS
from slo_assets.slo.evaluation import STATUSES, MonthEvaluations
from slo_assets.slo.quantiles import LatencyPercentiles

LABELS = ["slo", "service", "objective", "window"]


class _SloCollector:
    def __init__(self, month: MonthEvaluations, latency: Mapping[str, LatencyPercentiles]) -> None:
        self.month = month
        self.latency = latency

    def collect(self):
        window_families = _window_families()
        latency_slos = set(self.latency)  # only latency SLOs have a latency threshold alert
        for window in self.month.windows:
            _add_window(window_families, window, latency_slos)
        yield from window_families.values()
        yield from self._month_families()

    def _month_families(self):
        """The per-service, per-month and per-composite families, after the per-window ones."""
        health = GaugeMetricFamily("slo_service_health_score", "Service health 0-100 (mean remaining budget)", labels=["service"])
        for service in self.month.services:
            if service.health_score is not None:
                health.add_metric([service.service], float(service.health_score))
        as_of = GaugeMetricFamily("slo_report_as_of_timestamp_seconds", "End of the data the figures describe", labels=["period"])
        as_of.add_metric([self.month.period], self.month.as_of_ms / 1000)
        percentiles = GaugeMetricFamily("slo_latency_seconds", "Exact latency percentile of the latency SLO's timed requests "
                                        "over the month", labels=["slo", "service", "quantile"])
        services = {w.slo: w.service for w in self.month.windows}
        for slo, measured in sorted(self.latency.items()):
            for quantile, milliseconds in measured.values():
                if milliseconds is not None and slo in services:
                    percentiles.add_metric([slo, services[slo], quantile], milliseconds / 1000)
        weights = GaugeMetricFamily("slo_composite_weight", "compositeWeight of each component of a composite SLO",
                                    labels=["slo", "service", "component"])
        for slo, window in {w.slo: w for w in self.month.windows if w.components}.items():
            for component in window.components:
                weights.add_metric([slo, window.service, component.slo], float(component.weight))
        return health, as_of, percentiles, weights


def _window_families() -> dict[str, GaugeMetricFamily | CounterMetricFamily]:
    """The families with a sample per SLO window, in the order the exposition lists them."""
    return {
        "sli": GaugeMetricFamily("slo_sli_ratio", "SLI over the SLO window (good / total)", labels=LABELS),
        "target": GaugeMetricFamily("slo_target_ratio", "Objective target", labels=LABELS),
        "remaining": GaugeMetricFamily("slo_error_budget_remaining_ratio", "Error budget remaining (1 - consumed/allowed)", labels=LABELS),
        "consumed": GaugeMetricFamily("slo_error_budget_consumed_ratio", "Error budget consumed (consumed/allowed)", labels=LABELS),
        "burn": GaugeMetricFamily("slo_burn_rate", "Burn rate at the end of the data", labels=[*LABELS, "burn_window"]),
        "good": CounterMetricFamily("slo_good_events", "Good budget units in the SLO window", labels=LABELS),
        "total": CounterMetricFamily("slo_events", "Budget units in the SLO window", labels=LABELS),
        "status": GaugeMetricFamily("slo_status", "1 for the SLO window's status", labels=[*LABELS, "status"]),
        "firings": CounterMetricFamily("slo_alert_firings", "Replayed multiwindow burn-rate alert firings", labels=[*LABELS, "severity"]),
        "held": CounterMetricFamily("slo_alerts_held_back", "Alert firings the low-traffic gate held back", labels=[*LABELS, "severity"]),
        "budget_alerts": CounterMetricFamily("slo_budget_alert_firings", "Replayed budget-state alert firings",
                                             labels=[*LABELS, "alert", "severity"]),
        "mean_rate": GaugeMetricFamily("slo_throughput_requests_per_second", "Mean request rate over the SLO window (throughput SLOs)",
                                       labels=LABELS),
        "threshold": GaugeMetricFamily("slo_throughput_threshold_requests_per_second",
                                       "Request rate a throughput slice is judged against", labels=[*LABELS, "op"]),
        "low": GaugeMetricFamily("slo_sli_lower_ratio", "Lower end of the SLI's 95% Wilson interval", labels=LABELS),
        "high": GaugeMetricFamily("slo_sli_upper_ratio", "Upper end of the SLI's 95% Wilson interval", labels=LABELS),
        "significant": GaugeMetricFamily("slo_sli_significant", "0 when the SLI's interval holds the target", labels=LABELS),
        "minutes": GaugeMetricFamily("slo_window_minutes", "Minutes in the SLO window", labels=LABELS),
        "unmeasured": GaugeMetricFamily("slo_unmeasured_minutes", "Minutes without data although traffic was expected", labels=LABELS),
        "unmeasured_ratio": GaugeMetricFamily("slo_unmeasured_ratio", "Unmeasured share of the window's minutes", labels=LABELS),
        "quarantine": GaugeMetricFamily("slo_quarantine_ratio", "Quarantined share of the lines of the window's days", labels=LABELS),
        "below_floor": GaugeMetricFamily("slo_coverage_below_floor", "1 when the window is under the coverage floor", labels=LABELS),
    }


def _add_window(families: dict, window, latency_slos: set[str]) -> None:
    """One SLO window's samples, in each family that has a value for it."""
    labels = [window.slo, window.service, window.objective, window.window]
    for key, value in (("sli", window.sli), ("target", window.target),
                       ("remaining", window.error_budget.remaining_ratio), ("consumed", window.error_budget.consumed_ratio)):
        if value is not None:
            families[key].add_metric(labels, float(value))
    families["good"].add_metric(labels, float(window.good))
    families["total"].add_metric(labels, float(window.total))
    for name in STATUSES:
        families["status"].add_metric([*labels, name], 1.0 if window.status == name else 0.0)
    for burn_window, rate in window.burn_rates.items():
        if rate is not None:
            families["burn"].add_metric([*labels, burn_window], float(rate))
    if window.confidence is not None:
        families["low"].add_metric(labels, window.confidence.low)
        families["high"].add_metric(labels, window.confidence.high)
        families["significant"].add_metric(labels, 1.0 if window.confidence.significant else 0.0)
    if window.coverage is not None:
        coverage = window.coverage
        families["minutes"].add_metric(labels, float(coverage.window_minutes))
        families["unmeasured"].add_metric(labels, float(coverage.unmeasured_minutes))
        families["unmeasured_ratio"].add_metric(labels, float(coverage.unmeasured_ratio))
        if coverage.quarantine_ratio is not None:
            families["quarantine"].add_metric(labels, float(coverage.quarantine_ratio))
        families["below_floor"].add_metric(labels, 1.0 if coverage.below_floor else 0.0)
    for severity in ("page", "ticket"):
        families["firings"].add_metric([*labels, severity], float(window.alert_count(severity)))
        families["held"].add_metric([*labels, severity], float(window.held_back_count(severity)))
    for name, severity in BUDGET_ALERTS.items():
        if name != "latency_threshold_violated" or window.slo in latency_slos or any(a.alert == name for a in window.budget_alerts):
            families["budget_alerts"].add_metric([*labels, name, severity], float(sum(a.alert == name for a in window.budget_alerts)))
    if window.throughput is not None:
        if window.throughput.mean_rate is not None:
            families["mean_rate"].add_metric(labels, float(window.throughput.mean_rate))
        families["threshold"].add_metric([*labels, window.throughput.op], float(window.throughput.value))


def exposition(month: MonthEvaluations, latency: Mapping[str, LatencyPercentiles] | None = None) -> bytes:
    """The Prometheus text format of a month's evaluations (MonthEvaluations.from_documents reads the documents)
    and of its latency SLOs' percentiles (quantiles.latency_percentiles reads sli_metrics)."""
    registry = CollectorRegistry()
    registry.register(_SloCollector(month, latency or {}))
    return generate_latest(registry)
