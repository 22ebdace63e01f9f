"""The code location: every asset, check, job, schedule, sensor and resource slo-assets defines.

This module only assembles: the assets and checks of each domain folder under slo_assets/defs/, and
the jobs, schedules, sensors, automation and resources of their own modules there. Importing it reads
nothing: Dagster calls `defs` when it loads the code location, and the settings (the environment),
the partitions' range (the warehouse's file index) and the executor are resolved then.
"""

import warnings
from collections.abc import Mapping
from dataclasses import replace

import dagster as dg

import slo_assets.defs as domains
from slo_assets.defs import partitions as P
from slo_assets.defs.automation import with_automation
from slo_assets.defs.ingest.assets import log_file_index_asset
from slo_assets.defs.jobs import JOBS, job_executor
from slo_assets.defs.remediation.sensors import breach_acks
from slo_assets.defs.resources import default_resources
from slo_assets.defs.schedules import SCHEDULES
from slo_assets.defs.sensors import sensors
from slo_assets.defs.settings import LocationSettings

# Dagster copies every sensor when it binds the resources (SensorDefinition.with_attributes), passing
# its empty `owners` on, and warns at every load that the parameter is in beta: no sensor here sets it.
warnings.filterwarnings("ignore", message=r"Parameter `owners` of initializer `SensorDefinition.__init__` is currently in beta")

# Every asset and check written under defs/, found by Dagster's loader: adding one is adding its module.
# The loader collects assets and checks, not AssetSpecs: breach_acks, a spec only observed, is named here;
# log_file_index is built per load with its partitions (build_definitions).
ALL_ASSETS = [*dg.load_assets_from_package_module(domains), breach_acks]
ALL_CHECKS = dg.load_asset_checks_from_package_module(domains)


def build_definitions(overrides: Mapping[str, dg.ConfigurableResource] | None = None,
                      settings: LocationSettings | None = None, partitions: P.Partitions | None = None) -> dg.Definitions:
    """The graph for `settings` (the environment's unless given: the CLI passes its own), its resources
    replaced by key where `overrides` says (the CLI's logs, specs and warehouse).

    The executor is also the default of the implicit asset job, which runs what the UI materializes and
    its backfills: without it they ran a process per step, each re-importing the code location.
    `partitions`: those of `settings`, when the caller resolved them already (their range reads the file index)."""
    settings = settings or LocationSettings.from_environ()
    warehouse = getattr((overrides or {}).get("warehouse"), "base", None)
    if warehouse and warehouse != settings.warehouse:  # the range is read from the warehouse the runs write
        settings = replace(settings, warehouse=warehouse)
    partitions = partitions or P.build_partitions(P.resolve_range(settings))
    assets = P.with_partitions(with_automation(ALL_ASSETS), partitions) + [log_file_index_asset(partitions.daily)]
    return dg.Definitions(assets=assets, asset_checks=ALL_CHECKS, jobs=JOBS,
                          schedules=SCHEDULES, sensors=sensors(settings), resources={**default_resources(settings), **(overrides or {})},
                          executor=job_executor(settings))


@dg.definitions
def defs() -> dg.Definitions:
    """The code location as Dagster loads it (`dg dev`, the daemon, each run's process)."""
    return build_definitions()


def job_named(name: str) -> dg.JobDefinition:
    """A job of the code location, rebuilt by name in another process (dg.build_reconstructable_job):
    how the Celery executor's workers and the run that feeds them load the same job."""
    return build_definitions().resolve_job_def(name)
