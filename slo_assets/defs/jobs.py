"""The jobs of the code location. Selections name assets by key, so a job does not change when an asset
moves into a multi_asset; the sibling outputs a multi_asset cannot leave out come along."""

import warnings

import dagster as dg

from slo_assets.defs.outputs import OUTPUT_KEYS

# daily_job joins the file index (an observation, which has no backfill policy) to the single-run daily
# assets; Dagster then warns, at every load, that it falls back to one partition per run. The job is
# launched for one day (its schedule), where the two agree.
warnings.filterwarnings("ignore", message="Asset job daily_job materializes assets with varying BackfillPolicies")


def _assets(*keys: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*keys).required_multi_asset_neighbors()


DAILY_KEYS = ("parsed_logs", "sli_minutely")
MONTHLY_KEYS = ("sli_metrics", "slo_targets", "error_budgets", "compliance_report", "remediation_plan", "deploy_gate", "alert_backtest",
                *OUTPUT_KEYS)

# Every job executes in its run's own process: a process per step would only re-import the code
# (seconds per step, measured: a month's chain took 23-27 s multiprocess, 8-9 s in process). The daily
# assets take a backfill's whole range of days in one run (BackfillPolicy.single_run, day_runs.py).
observe_specs_job = dg.define_asset_job("observe_specs_job", selection=_assets("slo_specs"), description="hash the OpenSLO spec files",
                                        executor_def=dg.in_process_executor)
observe_job = dg.define_asset_job("observe_job", selection=_assets("slo_specs", "log_file_index"), executor_def=dg.in_process_executor,
                                  description="hash the OpenSLO spec files and index the log files, in one run")
index_job = dg.define_asset_job("index_job", selection=_assets("log_file_index"),
                                description="index log files, parsing new or changed ones", executor_def=dg.in_process_executor)
ingest_job = dg.define_asset_job("ingest_job", selection=_assets(*DAILY_KEYS),
                                 description="parse a day of logs, or a range of days in one run, and compute their SLI inputs", executor_def=dg.in_process_executor)
daily_job = dg.define_asset_job("daily_job", selection=_assets("log_file_index", *DAILY_KEYS), executor_def=dg.in_process_executor,
                                description="refresh the file index, then parse one day and compute its SLI inputs")
monthly_chain_job = dg.define_asset_job(
    "monthly_chain_job", selection=_assets(*MONTHLY_KEYS), executor_def=dg.in_process_executor,
    description="SLI metrics, targets, error budgets, compliance, remediation plan and the published outputs for one month (to date)")
remediation_job = dg.define_asset_job("remediation_job", selection=_assets("remediation_runs", "learning_record"),
                                      executor_def=dg.in_process_executor,
                                      description="carry out the remediation plan of a month (dry run unless remediation.execute)")

quarterly_review_job = dg.define_asset_job("quarterly_review_job", selection=_assets("quarterly_review"), executor_def=dg.in_process_executor,
                                           description="review a quarter (partition: its first month) from its evaluated months")
yearly_review_job = dg.define_asset_job("yearly_review_job", selection=_assets("yearly_review"), executor_def=dg.in_process_executor,
                                        description="review a year from its evaluated months")
JOBS = [observe_specs_job, observe_job, index_job, ingest_job, daily_job, monthly_chain_job, remediation_job,
        quarterly_review_job, yearly_review_job]
