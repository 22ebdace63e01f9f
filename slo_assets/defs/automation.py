"""Declarative automation: what Dagster materializes on its own, and how fresh the outputs must be.

Attached by asset key in definitions.py (`with_automation`), so the asset decorators stay as they are.
Two sensors evaluate the conditions: `daily_automation_sensor` (running by default) re-ingests the
days whose logs changed; `monthly_automation_sensor` (stopped by default) refreshes a month when its
days or inputs update. Cron stays where a fixed time is the point (schedules.py: the month close).
"""

from datetime import timedelta

import dagster as dg

from slo_assets.defs import partitions as P
from slo_assets.defs.outputs.assets import OUTPUT_KEYS
from slo_assets.slo.gate import STALE_AFTER

# Every day- and month-partitioned asset is automated, but for these two: the remediation job writes
# them when remediation_sensor asks, since carrying out a plan acts on the world (pages, commands),
# which a refresh of the month must never do.
NOT_AUTOMATED = frozenset({"remediation_runs", "learning_record"})
# What people open: the compliance report and the published outputs of a month; and the deploy gate CI/CD reads.
FRESH_KEYS = frozenset({"compliance_report", "error_budgets", "remediation_plan", "deploy_gate", *OUTPUT_KEYS})
# The month to date is refreshed once a day (00:45 UTC); 26 h leaves two hours for a late run.
FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=STALE_AFTER, warn_window=STALE_AFTER - timedelta(hours=1))

AUTOMATION_TAG = "slo_assets/automation"
DAILY, MONTHLY = "daily", "monthly"


SPECS = dg.AssetKey("slo_specs")  # the default source's spec files


def _inputs_updated(specs: dg.AssetKey) -> dg.AutomationCondition:
    """A dependency updated since the last tick, the spec files aside: an edited spec makes every
    partition stale (the UI shows it) and is re-run on purpose, with a backfill or `slo-assets run`,
    instead of requesting every day and month there is at once."""
    return dg.AutomationCondition.any_deps_updated().ignore(dg.AssetSelection.assets(specs))


def day_data_changed(specs: dg.AssetKey = SPECS) -> dg.AutomationCondition:
    """A day whose inputs changed since it was last handled, on any day.

    Unlike `eager()` it is not limited to the latest partition: a late or replaced file changes the
    data version of old days in log_file_index, and exactly those days are requested. A day whose
    input was never observed (no lines that day) is not."""
    return (
        _inputs_updated(specs).since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("day_data_changed")


def month_inputs_updated(specs: dg.AssetKey = SPECS) -> dg.AutomationCondition:
    """A month whose days or monthly inputs updated, once none of them is still being written."""
    return (
        _inputs_updated(specs).since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("month_inputs_updated")


def automate(spec: dg.AssetSpec, specs: dg.AssetKey = SPECS) -> dg.AssetSpec:
    """The spec with its condition, freshness policy and sensor tag, by its partitions; other specs unchanged.
    The tag is also what ingest_job and monthly_chain_job select (jobs.py), so the key sets are never listed."""
    if not isinstance(spec, dg.AssetSpec):  # log_file_index, an observable source: observed by index_job and the schedule
        return spec
    key = spec.key.to_user_string()
    if spec.partitions_def == P.DAILY and key not in NOT_AUTOMATED:
        spec = spec.replace_attributes(automation_condition=day_data_changed(specs)).merge_attributes(tags={AUTOMATION_TAG: DAILY})
    elif spec.partitions_def == P.MONTHLY and key not in NOT_AUTOMATED:
        spec = spec.replace_attributes(automation_condition=month_inputs_updated(specs)).merge_attributes(tags={AUTOMATION_TAG: MONTHLY})
    if key in FRESH_KEYS:
        spec = spec.replace_attributes(freshness_policy=FRESHNESS)
    return spec


def with_automation(assets: list, specs: dg.AssetKey = SPECS) -> list:
    """The assets with `automate` applied to every spec (keys never change); `specs`: the spec files' key of
    their log source (defs/sources.py), whose change they leave to a deliberate re-run."""
    return list(dg.map_asset_specs(lambda spec: automate(spec, specs), assets))


# Sensors select by tag, not key, so an asset added to a domain needs no edit here.
daily_automation_sensor = dg.AutomationConditionSensorDefinition(
    "daily_automation_sensor", target=dg.AssetSelection.tag(AUTOMATION_TAG, DAILY),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="re-ingests exactly the days whose log files changed (once log_file_index is observed)")
monthly_automation_sensor = dg.AutomationConditionSensorDefinition(
    "monthly_automation_sensor", target=dg.AssetSelection.tag(AUTOMATION_TAG, MONTHLY),
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="refreshes a month (chain and outputs) when its days or inputs update; turn on in Automation")

AUTOMATION_SENSORS = [daily_automation_sensor, monthly_automation_sensor]
DAILY_ASSETS = dg.AssetSelection.tag(AUTOMATION_TAG, DAILY)
MONTHLY_ASSETS = dg.AssetSelection.tag(AUTOMATION_TAG, MONTHLY)
