"""slo_metrics.prom: written with prometheus_client and parsed back with its parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from slo_assets.outputs.prometheus import exposition

COMPLIANCE = {
    "period": "2026-02", "as_of": "2026-03-01T00:00:00Z",
    "slos": [{"slo": "api", "service": "web", "objective": "o", "window": "1M-calendar", "sli": 0.9985, "target": 0.999,
              "good": 9985, "total": 10000, "status": "failed",
              "error_budget": {"allowed": 10, "consumed": 15, "consumed_ratio": 1.5, "remaining_ratio": -0.5}}],
    "services": [{"service": "web", "health_score": 0.0}],
}
BUDGETS = {"slos": [{"slo": "api", "objective": "o", "window": "1M-calendar",
                     "burn_rates": {"5m": 0.0, "1h": 15.0, "period": 1.5},
                     "alerts": [{"severity": "page"}, {"severity": "page"}, {"severity": "ticket"}]}]}


def test_exposition_parses_back_with_the_expected_values():
    families = {f.name: f for f in text_string_to_metric_families(exposition(COMPLIANCE, BUDGETS).decode())}
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
    idle = {**COMPLIANCE["slos"][0], "sli": None, "good": 0, "total": 0, "status": "insufficient_data",
            "error_budget": {"allowed": 0, "consumed": 0, "consumed_ratio": None, "remaining_ratio": None}}
    compliance = {**COMPLIANCE, "slos": [idle], "services": [{"service": "web", "health_score": None}]}
    budgets = {"slos": [{**BUDGETS["slos"][0], "burn_rates": {"1h": 0.0, "period": None}, "alerts": [],
                         "alerts_held_back": [{"severity": "page"}]}]}
    text = exposition(compliance, budgets).decode()
    assert "NaN" not in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["slo_sli_ratio"].samples == [] and families["slo_error_budget_remaining_ratio"].samples == []
    assert families["slo_service_health_score"].samples == []
    assert [s.labels["burn_window"] for s in families["slo_burn_rate"].samples] == ["1h"]
    status = {s.labels["status"]: s.value for s in families["slo_status"].samples}
    assert status["insufficient_data"] == 1 and status["met"] == 0
    held = {s.labels["severity"]: s.value for s in families["slo_alerts_held_back"].samples if not s.name.endswith("_created")}
    assert held == {"page": 1.0, "ticket": 0.0}
