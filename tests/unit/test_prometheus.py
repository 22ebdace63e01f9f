"""slo_metrics.prom: written with prometheus_client and parsed back with its parser."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client.parser import text_string_to_metric_families

from slo_assets.core.calendar import epoch_ms
from slo_assets.outputs.prometheus import exposition
from slo_assets.slo.evaluation import (
    Alert,
    BurnRates,
    ErrorBudget,
    Forecast,
    HeldBackAlert,
    LowTrafficGate,
    MonthEvaluations,
    ServiceHealth,
    WindowEvaluation,
)

START, END = epoch_ms("2026-02-01T00:00:00Z"), epoch_ms("2026-03-01T00:00:00Z")


def _alert(severity: str) -> Alert:
    return Alert(severity, "1h", "5m", 14.4, START, START + 60_000, 1, 15.0)


WINDOW = WindowEvaluation(
    slo="api", display_name=None, service="web", objective="o", objective_name=None, window="1M-calendar",
    label="api · o · 1M-calendar", window_start_ms=START, window_end_ms=END, target=0.999, budgeting_method="Occurrences",
    events=10000, good=9985, total=10000, sli=0.9985, error_budget=ErrorBudget(10, 15, 1.5, -0.5), status="failed",
    deficit=None, slices=None, maintenance_excluded_events=0, burn_rates=BurnRates((("5m", 0.0), ("1h", 15.0)), 1.5),
    alerts=(_alert("page"), _alert("page"), _alert("ticket")), low_traffic_gate=LowTrafficGate(3, 0, 0), alerts_held_back=(),
    policy_alerts=(), thresholds=(), forecast=Forecast(0.0, None, None, False, 0.0, None, "none"))
MONTH = MonthEvaluations(
    period="2026-02", as_of_ms=END, period_complete=True, generated_at="2026-03-01T00:00:00Z", spec_hash="h", code_version="c",
    input_data_versions={}, status_counts={"met": 0, "at_risk": 0, "failed": 1, "insufficient_data": 0}, compliance_percent=0.0,
    services=(ServiceHealth("web", 0.0, 1, 1),), data_quality={}, windows=(WINDOW,))


def test_exposition_parses_back_with_the_expected_values():
    families = {f.name: f for f in text_string_to_metric_families(exposition(MONTH).decode())}
    labels = {"slo": "api", "service": "web", "objective": "o", "window": "1M-calendar"}

    def value(family: str, **extra) -> float:
        (sample,) = [s for s in families[family].samples if s.labels == {**labels, **extra} and not s.name.endswith("_created")]
        return sample.value

    assert families["slo_sli_ratio"].type == "gauge" and value("slo_sli_ratio") == 0.9985
    assert value("slo_target_ratio") == 0.999
    assert value("slo_error_budget_remaining_ratio") == -0.5 and value("slo_error_budget_consumed_ratio") == 1.5
    assert families["slo_good_events"].type == "counter" and value("slo_good_events") == 9985 and value("slo_events") == 10000
    assert value("slo_burn_rate", burn_window="1h") == 15.0
    assert value("slo_status", status="failed") == 1 and value("slo_status", status="met") == 0
    assert value("slo_alert_firings", severity="page") == 2 and value("slo_alert_firings", severity="ticket") == 1
    assert [s.value for s in families["slo_service_health_score"].samples] == [0.0]
    assert [s.value for s in families["slo_report_as_of_timestamp_seconds"].samples] == [1772323200.0]
    assert all(s.name.startswith("slo_") for f in families.values() for s in f.samples)


def test_an_idle_window_has_absent_ratios_not_nan_and_counts_held_back_alerts():
    held = HeldBackAlert(**{f: getattr(_alert("page"), f) for f in Alert.__dataclass_fields__}, bad_in_long_window=1)
    idle = replace(WINDOW, sli=None, good=0, total=0, events=0, status="insufficient_data", error_budget=ErrorBudget(0, 0, None, None),
                   burn_rates=BurnRates((("1h", 0.0),), None), alerts=(), alerts_held_back=(held,))
    text = exposition(replace(MONTH, windows=(idle,), services=(ServiceHealth("web", None, 1, 0),))).decode()
    assert "NaN" not in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["slo_sli_ratio"].samples == [] and families["slo_error_budget_remaining_ratio"].samples == []
    assert families["slo_service_health_score"].samples == []
    assert [s.labels["burn_window"] for s in families["slo_burn_rate"].samples] == ["1h"]
    status = {s.labels["status"]: s.value for s in families["slo_status"].samples}
    assert status["insufficient_data"] == 1 and status["met"] == 0
    held = {s.labels["severity"]: s.value for s in families["slo_alerts_held_back"].samples if not s.name.endswith("_created")}
    assert held == {"page": 1.0, "ticket": 0.0}


def test_latency_percentiles_are_exposed_in_seconds_and_absent_without_a_timed_request():
    from slo_assets.slo.quantiles import LatencyPercentiles

    latency = {"api": LatencyPercentiles("api", 40.0, 120.5, 300.0, 1000),
               "idle": LatencyPercentiles("idle", None, None, None, 0),
               "elsewhere": LatencyPercentiles("elsewhere", 1.0, 2.0, 3.0, 3)}  # no window of the month: not exposed
    families = {f.name: f for f in text_string_to_metric_families(exposition(MONTH, latency).decode())}
    samples = {(s.labels["slo"], s.labels["service"], s.labels["quantile"]): s.value for s in families["slo_latency_seconds"].samples}
    assert samples == {("api", "web", "0.5"): 0.04, ("api", "web", "0.95"): 0.1205, ("api", "web", "0.99"): 0.3}
    assert "slo_latency_seconds" in exposition(MONTH).decode()  # declared even when there are none (HELP and TYPE)
