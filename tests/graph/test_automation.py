"""Declarative automation, evaluated with Dagster's own API against a test instance: a changed day
version requests exactly that day, an updated day requests its month, nothing changed requests nothing."""

from __future__ import annotations

import dagster as dg
import pytest

from slo_assets.definitions import build_definitions
from slo_assets.defs.automation import (
    AUTOMATION_TAG,
    FRESH_KEYS,
    daily_automation_sensor,
    monthly_automation_sensor,
)
from slo_assets.defs.resources import WarehouseResource

DAYS = ["2026-02-01", "2026-02-02", "2026-02-03"]
# What automation refreshes, written out here: the code derives it from the partitions (automation.py).
DAILY_KEYS = {"parsed_logs", "quarantine", "sli_minutely", "sli_latency", "sli_operations"}
MONTHLY_KEYS = {
    "sli_metrics", "sli_operations_monthly", "sli_latency_monthly", "slo_targets", "budget_series", "window_evaluations",
    "error_budget_table", "error_budgets", "compliance_report", "remediation_plan", "deploy_gate", "alert_backtest",
    "report_html", "prometheus_exposition", "alert_rules", "grafana_slo_tracking", "grafana_slo_compliance", "incident_reviews",
}


class Ticks:
    """Successive automation ticks over one instance, each continuing from the previous cursor."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance, self.cursor = defs, instance, None

    def __call__(self) -> dict[str, set[str]]:
        result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return {key.to_user_string(): set(result.get_requested_partitions(key)) for key in self.defs.resolve_asset_graph().get_all_asset_keys()
                if result.get_num_requested(key)}


def _observe(instance, key: str, version: str, partition: str | None = None) -> None:
    instance.report_runless_asset_event(dg.AssetObservation(asset_key=key, partition=partition, tags={"dagster/data_version": version}))


def _materialize(instance, keys, partitions) -> None:
    for key in keys:
        for partition in partitions:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))


@pytest.fixture
def ticks(tmp_path):
    defs = build_definitions({"warehouse": WarehouseResource(base=str(tmp_path / "wh"))})
    with dg.instance_for_test() as instance:
        tick = Ticks(defs, instance)
        assert tick() == {}  # the first tick, on an instance that a CLI run may already have filled
        _observe(instance, "slo_specs", "specs-1")
        for day in DAYS:
            _observe(instance, "log_file_index", f"{day}-v1", day)
        yield tick, instance, defs


def _present(defs, keys) -> list[str]:
    return sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys() if k.to_user_string() in keys)


def test_a_changed_day_version_requests_exactly_that_day_even_when_it_is_not_the_latest(ticks):
    tick, instance, defs = ticks
    daily = _present(defs, DAILY_KEYS)
    first = tick()
    assert {key: first[key] for key in daily} == {key: set(DAYS) for key in daily}  # every observed day, once
    _materialize(instance, daily, DAYS)  # the requested runs ran
    tick()
    assert not set(daily) & set(tick())  # nothing changed: no day again

    _observe(instance, "log_file_index", "2026-02-02-v2", "2026-02-02")  # a late file lands on an old day
    late = tick()
    assert {key: late[key] for key in daily} == {key: {"2026-02-02"} for key in daily}


def test_an_updated_day_requests_its_month_and_nothing_changed_requests_nothing(ticks):
    tick, instance, defs = ticks
    daily, monthly = _present(defs, DAILY_KEYS), _present(defs, MONTHLY_KEYS)
    tick()
    _materialize(instance, daily, DAYS)
    after_days = tick()
    assert after_days["sli_metrics"] == {"2026-02"}  # the month of those days
    # slo_targets bootstraps next month's risk over its month and the two before: February's days feed April's
    assert after_days["slo_targets"] == {"2026-02", "2026-03", "2026-04"}
    # Rolling windows of March's budgets reach back into February: lineage says so, and so does automation.
    assert after_days["error_budgets"] == {"2026-02", "2026-03"}
    assert after_days["compliance_report"] == {"2026-02", "2026-03", "2026-04"}  # it shows April's slo_targets
    assert set(after_days) == set(monthly)  # and no day again
    _materialize(instance, monthly, ["2026-02", "2026-03", "2026-04"])
    assert tick() == {} and tick() == {}  # everything handled, nothing changed

    _materialize(instance, ["sli_minutely"], ["2026-02-03"])  # one day re-written by hand
    assert tick()["sli_metrics"] == {"2026-02"}


def test_daily_automation_runs_by_default_monthly_is_turned_on_and_outputs_have_a_freshness_policy(tmp_path):
    assert daily_automation_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert monthly_automation_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    graph = build_definitions({"warehouse": WarehouseResource(base=str(tmp_path))}).resolve_asset_graph()
    report = graph.get(dg.AssetKey("compliance_report"))
    assert report.freshness_policy.fail_window.to_timedelta().total_seconds() == 26 * 3600
    fresh = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).freshness_policy}
    assert fresh == FRESH_KEYS & {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert graph.get(dg.AssetKey("log_file_index")).automation_condition is None  # observed by index_job / the schedule


def test_the_automated_sets_follow_the_partitions_and_the_jobs_select_them(tmp_path):
    defs = build_definitions({"warehouse": WarehouseResource(base=str(tmp_path))})
    graph = defs.resolve_asset_graph()
    tagged = {value: {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).tags.get(AUTOMATION_TAG) == value}
              for value in ("daily", "monthly")}
    assert tagged == {"daily": DAILY_KEYS, "monthly": MONTHLY_KEYS}  # remediation_runs and learning_record act: never automated
    selected = {name: {k.to_user_string() for k in defs.resolve_job_def(name).asset_layer.selected_asset_keys}
                for name in ("ingest_job", "daily_job", "monthly_chain_job")}
    assert selected == {"ingest_job": DAILY_KEYS, "daily_job": DAILY_KEYS | {"log_file_index"}, "monthly_chain_job": MONTHLY_KEYS}
