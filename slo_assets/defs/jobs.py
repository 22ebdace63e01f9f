"""The jobs of the code location. The day and month jobs select the automation tags, which follow the
partitions (automation.py); the others name assets by key, with the sibling outputs a multi_asset
cannot leave out."""

import warnings
from collections.abc import Sequence

import dagster as dg

from slo_assets.core.clock import SettingError
from slo_assets.defs.automation import DAILY_ASSETS, MONTHLY_ASSETS
from slo_assets.defs.live.alerts import live_alert_job  # a job of ops, beside the sensor that launches it
from slo_assets.defs.outputs.rules_proof import PROVE_JOB
from slo_assets.defs.settings import CELERY_BROKER_SETTING, EXECUTOR_SETTING, LocationSettings
from slo_assets.defs.sources import DEFAULT_SOURCE, SOURCE_TAG

# daily_job (and each source's) joins the file index (an observation, which has no backfill policy) to the single-run daily
# assets; Dagster then warns, at every load, that it falls back to one partition per run. The job is
# launched for one day (its schedule), where the two agree.
warnings.filterwarnings("ignore", message=r"Asset job (\w+__)?daily_job materializes assets with varying BackfillPolicies")


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


def asset_jobs(source: str | None = None) -> list:
    """The asset jobs of one log source (defs/sources.py): the default source's by their plain names; a
    registered source's as `<source>__<job>`, selecting its family and tagged with it, so each run knows its source."""
    prefix = [source] if source else []
    mine = dg.AssetSelection.tag(SOURCE_TAG, source or DEFAULT_SOURCE)  # every asset carries its source's tag (definitions.py)

    def named(*keys: str) -> dg.AssetSelection:
        return dg.AssetSelection.assets(*[dg.AssetKey([*prefix, key]) for key in keys]).required_multi_asset_neighbors()

    def job(name: str, selection: dg.AssetSelection, description: str):
        return dg.define_asset_job(f"{source}__{name}" if source else name, selection=selection, description=description,
                                   tags={SOURCE_TAG: source} if source else None)

    return [
        job("observe_specs_job", named("slo_specs"), "hash the OpenSLO spec files"),
        job("observe_job", named("slo_specs", "log_file_index"), "hash the OpenSLO spec files and index the log files, in one run"),
        job("index_job", named("log_file_index"), "index log files, parsing new or changed ones"),
        job("ingest_job", DAILY_ASSETS & mine, "parse a day of logs, or a range of days in one run, and compute their SLI inputs"),
        job("daily_job", named("log_file_index") | (DAILY_ASSETS & mine), "refresh the file index, then parse one day and compute its SLI inputs"),
        # the rules proof (defs/outputs/rules_proof.py) is planned with alert_rules and runs only where asked: promtool
        # costs seconds per month
        job("monthly_chain_job", MONTHLY_ASSETS & mine,
            "SLI metrics, targets, error budgets, compliance, remediation plan and the published outputs for one month (to date)"),
        job("remediation_job", named("remediation_runs", "learning_record", "incident_reviews"),
            "carry out the remediation plan of a month (dry run unless remediation.execute), and write its incident review drafts "
            "again with the actions"),
        # alert_rules again (its rendering is cheap) with its proof: a job of a check alone has no partitions to run
        job(PROVE_JOB, named("alert_rules"), "render a month's alert rules and prove them against its replay with promtool test rules"),
        job("quarterly_review_job", named("quarterly_review"), "review a quarter (partition: its first month) from its evaluated months"),
        job("yearly_review_job", named("yearly_review"), "review a year from its evaluated months"),
    ]


DEFAULT_JOBS = asset_jobs()
_BY_NAME = {job.name: job for job in DEFAULT_JOBS}
# the default source's jobs the sensors and schedules launch (and tests name)
ingest_job, daily_job, monthly_chain_job, remediation_job = (_BY_NAME[n] for n in ("ingest_job", "daily_job", "monthly_chain_job",
                                                                                   "remediation_job"))
JOBS = [live_alert_job, *DEFAULT_JOBS]


def all_jobs(sources: Sequence[str] = ()) -> list:
    """Every job of the code location: the live alert job, the default source's asset jobs and each registered source's."""
    return [*JOBS, *[job for source in sources for job in asset_jobs(source)]]
