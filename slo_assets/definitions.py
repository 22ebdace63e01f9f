"""The code location: every asset, check, job, schedule, sensor and resource slo-assets defines.

This module only assembles: jobs, schedules, sensors, automation and resources each live in their own
module under slo_assets/defs/.
"""

import warnings
from collections.abc import Mapping

import dagster as dg

from slo_assets.defs.automation import AUTOMATION_SENSORS, with_automation
from slo_assets.defs.backtest import alert_backtest
from slo_assets.defs.incident_reviews import incident_reviews
from slo_assets.defs.ingestion import INDEX_CHECKS, log_file_index, parsed_logs
from slo_assets.defs.jobs import EXECUTOR, JOBS
from slo_assets.defs.live import live_alert_job, live_tick_sensor
from slo_assets.defs.live_outputs import live_outputs_sensor
from slo_assets.defs.outputs import OUTPUT_ASSETS
from slo_assets.defs.remediation import deploy_gate, learning_record, remediation_plan, remediation_runs
from slo_assets.defs.resources import default_resources
from slo_assets.defs.reviews import REVIEW_ASSETS
from slo_assets.defs.rules_proof import RULES_CHECKS
from slo_assets.defs.schedules import SCHEDULES
from slo_assets.defs.sensors import breach_acks, escalation_sensor, remediation_sensor
from slo_assets.defs.slo_chain import compliance_report, error_budgets, sli_metrics, sli_minutely, slo_specs, slo_targets

# Dagster copies every sensor when it binds the resources (SensorDefinition.with_attributes), passing
# its empty `owners` on, and warns at every load that the parameter is in beta: no sensor here sets it.
warnings.filterwarnings("ignore", message=r"Parameter `owners` of initializer `SensorDefinition.__init__` is currently in beta")

ALL_ASSETS = [log_file_index, parsed_logs, sli_minutely, slo_specs, sli_metrics, slo_targets, error_budgets, compliance_report,
              remediation_plan, deploy_gate, alert_backtest, *OUTPUT_ASSETS, remediation_runs, learning_record, incident_reviews, breach_acks, *REVIEW_ASSETS]
SENSORS = [remediation_sensor, escalation_sensor, live_tick_sensor, *AUTOMATION_SENSORS, live_outputs_sensor]


def build_definitions(overrides: Mapping[str, dg.ConfigurableResource] | None = None) -> dg.Definitions:
    """The same graph bound to the default resources, some replaced by key (the CLI's logs, specs and warehouse).

    The executor is also the default of the implicit asset job, which runs what the UI materializes and
    its backfills: without it they ran a process per step, each re-importing the code location."""
    return dg.Definitions(assets=with_automation(ALL_ASSETS), asset_checks=[*INDEX_CHECKS, *RULES_CHECKS], jobs=[*JOBS, live_alert_job],
                          schedules=SCHEDULES, sensors=SENSORS, resources={**default_resources(), **(overrides or {})}, executor=EXECUTOR)


defs = build_definitions()


def job_named(name: str) -> dg.JobDefinition:
    """A job of the code location, rebuilt by name in another process (dg.build_reconstructable_job):
    how the Celery executor's workers and the run that feeds them load the same job."""
    return defs.resolve_job_def(name)
