"""The jobs of the code location. The day and month jobs select the automation tags, which follow the
partitions (automation.py); the others name assets by key, with the sibling outputs a multi_asset
cannot leave out."""

import warnings

import dagster as dg

from slo_assets.core.clock import SettingError
from slo_assets.defs.automation import DAILY_ASSETS, MONTHLY_ASSETS
from slo_assets.defs.live.alerts import live_alert_job  # a job of ops, beside the sensor that launches it
from slo_assets.defs.outputs.rules_proof import PROVE_JOB
from slo_assets.defs.settings import CELERY_BROKER_SETTING, EXECUTOR_SETTING, LocationSettings

# daily_job joins the file index (an observation, which has no backfill policy) to the single-run daily
# assets; Dagster then warns, at every load, that it falls back to one partition per run. The job is
# launched for one day (its schedule), where the two agree.
warnings.filterwarnings("ignore", message="Asset job daily_job materializes assets with varying BackfillPolicies")


def _assets(*keys: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*keys).required_multi_asset_neighbors()


def job_executor(settings: LocationSettings) -> dg.ExecutorDefinition:
    """The executor of every job (definitions.py sets it as the location's default): in process by
    default; with SLO_ASSETS_EXECUTOR=celery, dagster-celery sends each step to the Celery workers
    listening on the broker named by SLO_ASSETS_CELERY_BROKER (results through SLO_ASSETS_CELERY_BACKEND,
    default the broker); the executor's config names the variables, read when a run starts, rather
    than holding the URLs.

    Every job executes in its run's own process unless told otherwise: a process per step would only
    re-import the code (seconds per step, measured: a month's chain took 23-27 s multiprocess, 8-9 s in
    process). The daily assets take a backfill's whole range of days in one run (BackfillPolicy.single_run,
    day_runs.py), so on Celery a month's days are one step per asset."""
    if settings.executor == "in_process":
        return dg.in_process_executor
    try:
        from dagster_celery import celery_executor
    except ImportError as error:
        raise SettingError(f"{EXECUTOR_SETTING}=celery needs dagster-celery: pip install -e '.[celery]'") from error
    return celery_executor.configured({"broker": {"env": CELERY_BROKER_SETTING}, "backend": {"env": settings.celery_backend_setting}},
                                      name="celery")


observe_specs_job = dg.define_asset_job("observe_specs_job", selection=_assets("slo_specs"), description="hash the OpenSLO spec files")
observe_job = dg.define_asset_job("observe_job", selection=_assets("slo_specs", "log_file_index"),
                                  description="hash the OpenSLO spec files and index the log files, in one run")
index_job = dg.define_asset_job("index_job", selection=_assets("log_file_index"),
                                description="index log files, parsing new or changed ones")
ingest_job = dg.define_asset_job("ingest_job", selection=DAILY_ASSETS,
                                 description="parse a day of logs, or a range of days in one run, and compute their SLI inputs")
daily_job = dg.define_asset_job("daily_job", selection=_assets("log_file_index") | DAILY_ASSETS,
                                description="refresh the file index, then parse one day and compute its SLI inputs")
# the rules proof (defs/outputs/rules_proof.py) is planned with alert_rules and runs only where asked: promtool
# costs seconds per month
monthly_chain_job = dg.define_asset_job(
    "monthly_chain_job", selection=MONTHLY_ASSETS,
    description="SLI metrics, targets, error budgets, compliance, remediation plan and the published outputs for one month (to date)")
remediation_job = dg.define_asset_job("remediation_job", selection=_assets("remediation_runs", "learning_record", "incident_reviews"),
                                      description="carry out the remediation plan of a month (dry run unless remediation.execute), "
                                                  "and write its incident review drafts again with the actions")

# alert_rules again (its rendering is cheap) with its proof: a job of a check alone has no partitions to run
prove_rules_job = dg.define_asset_job(PROVE_JOB, selection=_assets("alert_rules"),
                                      description="render a month's alert rules and prove them against its replay with promtool test rules")
quarterly_review_job = dg.define_asset_job("quarterly_review_job", selection=_assets("quarterly_review"),
                                           description="review a quarter (partition: its first month) from its evaluated months")
yearly_review_job = dg.define_asset_job("yearly_review_job", selection=_assets("yearly_review"),
                                        description="review a year from its evaluated months")
JOBS = [live_alert_job, prove_rules_job, observe_specs_job, observe_job, index_job, ingest_job, daily_job, monthly_chain_job, remediation_job,
        quarterly_review_job, yearly_review_job]
