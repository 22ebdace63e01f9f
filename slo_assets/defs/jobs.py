"""The jobs of the code location. Selections name assets by key, so a job does not change when an asset
moves into a multi_asset; the sibling outputs a multi_asset cannot leave out come along."""

import dagster as dg


def _assets(*keys: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*keys).required_multi_asset_neighbors()


DAILY_KEYS = ("parsed_logs", "sli_minutely")
MONTHLY_KEYS = ("sli_metrics", "slo_targets", "error_budgets", "compliance_report", "remediation_plan",
                "report_html", "prometheus_exposition", "alert_rules")

# A day's steps run one after another, so its jobs execute in the run's own process: a process per
# step would only re-import the code (seconds per step). Days run in parallel as separate runs, as
# many at once as the instance's run queue allows (concurrency.runs.max_concurrent_runs in
# dagster.yaml). The monthly chain keeps the multiprocess executor: its branches run side by side.
observe_specs_job = dg.define_asset_job("observe_specs_job", selection=_assets("slo_specs"), description="hash the OpenSLO spec files",
                                        executor_def=dg.in_process_executor)
index_job = dg.define_asset_job("index_job", selection=_assets("log_file_index"),
                                description="index log files, parsing new or changed ones", executor_def=dg.in_process_executor)
ingest_job = dg.define_asset_job("ingest_job", selection=_assets(*DAILY_KEYS),
                                 description="parse one day of logs and compute its SLI inputs", executor_def=dg.in_process_executor)
daily_job = dg.define_asset_job("daily_job", selection=_assets("log_file_index", *DAILY_KEYS), executor_def=dg.in_process_executor,
                                description="refresh the file index, then parse one day and compute its SLI inputs")
monthly_chain_job = dg.define_asset_job(
    "monthly_chain_job", selection=_assets(*MONTHLY_KEYS),
    description="SLI metrics, targets, error budgets, compliance, remediation plan and the published outputs for one month (to date)")
remediation_job = dg.define_asset_job("remediation_job", selection=_assets("remediation_runs", "learning_record"),
                                      description="carry out the remediation plan of a month (dry run unless remediation.execute)")

JOBS = [observe_specs_job, index_job, ingest_job, daily_job, monthly_chain_job, remediation_job]
