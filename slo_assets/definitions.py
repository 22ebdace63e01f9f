"""The code location: every asset, check, job, schedule, sensor and resource slo-assets defines.

This module only assembles: the assets and checks of each domain folder under slo_assets/defs/, and
the jobs, schedules, sensors, automation and resources of their own modules there.
"""

import warnings
from collections.abc import Mapping

import dagster as dg

import slo_assets.defs as domains
from slo_assets.defs.automation import with_automation
from slo_assets.defs.jobs import EXECUTOR, JOBS
from slo_assets.defs.remediation.sensors import breach_acks
from slo_assets.defs.resources import default_resources
from slo_assets.defs.schedules import SCHEDULES
from slo_assets.defs.sensors import SENSORS

# Dagster copies every sensor when it binds the resources (SensorDefinition.with_attributes), passing
# its empty `owners` on, and warns at every load that the parameter is in beta: no sensor here sets it.
warnings.filterwarnings("ignore", message=r"Parameter `owners` of initializer `SensorDefinition.__init__` is currently in beta")

# Every asset and check written under defs/, found by Dagster's loader: adding one is adding its module.
# The loader collects assets and checks, not AssetSpecs: breach_acks, a spec only observed, is named here.
ALL_ASSETS = [*dg.load_assets_from_package_module(domains), breach_acks]
ALL_CHECKS = dg.load_asset_checks_from_package_module(domains)


def build_definitions(overrides: Mapping[str, dg.ConfigurableResource] | None = None) -> dg.Definitions:
    """The same graph bound to the default resources, some replaced by key (the CLI's logs, specs and warehouse).

    The executor is also the default of the implicit asset job, which runs what the UI materializes and
    its backfills: without it they ran a process per step, each re-importing the code location."""
    return dg.Definitions(assets=with_automation(ALL_ASSETS), asset_checks=ALL_CHECKS, jobs=JOBS,
                          schedules=SCHEDULES, sensors=SENSORS, resources={**default_resources(), **(overrides or {})}, executor=EXECUTOR)


defs = build_definitions()


def job_named(name: str) -> dg.JobDefinition:
    """A job of the code location, rebuilt by name in another process (dg.build_reconstructable_job):
    how the Celery executor's workers and the run that feeds them load the same job."""
    return defs.resolve_job_def(name)
