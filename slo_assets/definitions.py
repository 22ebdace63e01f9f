"""The code location: every asset, check, job and resource slo-assets defines."""

import dagster as dg

from slo_assets.defs.ingestion import INDEX_CHECKS, log_file_index, parsed_logs
from slo_assets.defs.outputs import OUTPUT_ASSETS
from slo_assets.defs.resources import default_resources
from slo_assets.defs.remediation import (
    Remediation,
    daily_ingest_schedule,
    learning_record,
    month_close_schedule,
    month_to_date_schedule,
    remediation_job,
    remediation_plan,
    remediation_runs,
    remediation_sensor,
)
from slo_assets.defs.slo_chain import compliance_report, error_budgets, sli_metrics, sli_minutely, slo_specs, slo_targets

DAILY_ASSETS = [parsed_logs, sli_minutely]
MONTHLY_ASSETS = [sli_metrics, slo_targets, error_budgets, compliance_report, remediation_plan, *OUTPUT_ASSETS]
ALL_ASSETS = [log_file_index, *DAILY_ASSETS, slo_specs, *MONTHLY_ASSETS, remediation_runs, learning_record]

# A day's steps run one after another, so its jobs execute in the run's own process: a process per
# step would only re-import the code (seconds per step). Days run in parallel as separate runs, as
# many at once as the instance's run queue allows (concurrency.runs.max_concurrent_runs in
# dagster.yaml). The monthly chain keeps the multiprocess executor: its branches run side by side.
JOBS = [
    dg.define_asset_job("observe_specs_job", selection=[slo_specs], description="hash the OpenSLO spec files",
                        executor_def=dg.in_process_executor),
    dg.define_asset_job("index_job", selection=[log_file_index], description="index log files, parsing new or changed ones",
                        executor_def=dg.in_process_executor),
    dg.define_asset_job("ingest_job", selection=DAILY_ASSETS, description="parse one day of logs and compute its SLI inputs",
                        executor_def=dg.in_process_executor),
    dg.define_asset_job("daily_job", selection=[log_file_index, *DAILY_ASSETS], executor_def=dg.in_process_executor,
                        description="refresh the file index, then parse one day and compute its SLI inputs"),
    dg.define_asset_job("monthly_chain_job", selection=MONTHLY_ASSETS,
                        description="SLI metrics, targets, error budgets, compliance, remediation plan and the published outputs for one month (to date)"),
    remediation_job,
]
SCHEDULES = [daily_ingest_schedule, month_to_date_schedule, month_close_schedule]


def build_definitions(resources: dict) -> dg.Definitions:
    """The same graph bound to other resources (the CLI's logs, specs and warehouse)."""
    return dg.Definitions(assets=ALL_ASSETS, asset_checks=INDEX_CHECKS, jobs=JOBS, schedules=SCHEDULES, sensors=[remediation_sensor],
                          resources={"remediation": Remediation(), **resources})


defs = build_definitions(default_resources())
