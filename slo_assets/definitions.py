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
from slo_assets.defs.jobs import all_jobs, job_executor
from slo_assets.defs.remediation.sensors import breach_acks
from slo_assets.defs.resources import default_resources
from slo_assets.defs.schedules import SCHEDULES
from slo_assets.defs.sensors import sensors
from slo_assets.defs.settings import LocationSettings
from slo_assets.defs.sources import DEFAULT_SOURCE, SourceEntry, read_registry, scoped_config, tag_source

# Dagster copies every sensor when it binds the resources (SensorDefinition.with_attributes), passing
# its empty `owners` on, and warns at every load that the parameter is in beta: no sensor here sets it.
warnings.filterwarnings("ignore", message=r"Parameter `owners` of initializer `SensorDefinition.__init__` is currently in beta")

# Every asset and check written under defs/, found by Dagster's loader: adding one is adding its module.
# The loader collects assets and checks, not AssetSpecs: breach_acks, a spec only observed, is named here;
# log_file_index is built per load with its partitions (build_definitions).
ALL_ASSETS = [*dg.load_assets_from_package_module(domains), breach_acks]
ALL_CHECKS = dg.load_asset_checks_from_package_module(domains)


def build_definitions(overrides: Mapping[str, dg.ConfigurableResource] | None = None,
                      settings: LocationSettings | None = None, partitions: P.Partitions | None = None,
                      pending: SourceEntry | None = None) -> dg.Definitions:
    """The graph for `settings` (the environment's unless given: the CLI passes its own), its resources
    replaced by key where `overrides` says (the CLI's logs, specs and warehouse).

    The executor is also the default of the implicit asset job, which runs what the UI materializes and
    its backfills: without it they ran a process per step, each re-importing the code location.
    `partitions`: those of `settings`, when the caller resolved them already (their range reads the file index).
    `pending`: a source the CLI runs before it is recorded in the registry (it is once its month is published)."""
    settings = settings or LocationSettings.from_environ()
    warehouse = getattr((overrides or {}).get("warehouse"), "base", None)
    if warehouse and warehouse != settings.warehouse:  # the range is read from the warehouse the runs write
        settings = replace(settings, warehouse=warehouse)
    # the CLI's month widens the partitions of the source it runs, not the default source's
    partitions = partitions or P.build_partitions(P.resolve_range(replace(settings, earliest_month="") if settings.source else settings))
    assets = tag_source(P.with_partitions(with_automation(ALL_ASSETS), partitions), DEFAULT_SOURCE) + [log_file_index_asset(partitions.daily)]
    sources = {**read_registry(settings.home), **({pending.name: pending} if pending else {})}
    families = [source_family(entry, settings) for entry in sources.values()]
    resources = scoped({**default_resources(settings), **(overrides or {})}, sources)
    return dg.Definitions(assets=assets + [a for family in families for a in family[0]],
                          asset_checks=[*ALL_CHECKS, *[c for family in families for c in family[1]]], jobs=all_jobs(sorted(sources)),
                          schedules=SCHEDULES, sensors=sensors(settings), resources=resources, executor=job_executor(settings))


def source_family(entry: SourceEntry, settings: LocationSettings) -> tuple[list, list]:
    """A registered source's assets and checks: the default graph under the key prefix and group of its
    name, on partitions that follow its own data (defs/sources.py)."""
    mine = replace(settings, warehouse=entry.warehouse, start_date="",
                   earliest_month=settings.earliest_month if settings.source == entry.name else "")
    partitions = P.build_partitions(P.resolve_range(mine))
    automated = with_automation(ALL_ASSETS, dg.AssetKey([entry.name, "slo_specs"]))
    graph = tag_source(P.with_partitions(automated, partitions), entry.name) + [log_file_index_asset(partitions.daily)]
    keys = {key for item in graph for key in (item.keys if isinstance(item, dg.AssetsDefinition) else [item.key])}
    moved = {key: dg.AssetKey([entry.name, *key.path]) for key in keys}
    assets = []
    for item in graph:
        if isinstance(item, dg.AssetsDefinition):
            assets += dg.map_asset_specs(lambda spec: spec.replace_attributes(group_name=entry.name),
                                         [item.with_attributes(asset_key_replacements=moved)])
        elif isinstance(item, dg.AssetSpec):
            assets.append(item.replace_attributes(key=moved[item.key], group_name=entry.name,
                                                  deps=[dg.AssetDep(moved.get(d.asset_key, d.asset_key)) for d in item.deps]))
        else:  # an observable source (slo_specs, log_file_index)
            assets.append(item.with_attributes(key=moved[item.key]))  # keeps its group: Dagster will not move a source asset
    return assets, [check.with_attributes(asset_key_replacements=moved) for check in ALL_CHECKS]


def scoped(resources: dict, sources: Mapping[str, SourceEntry]) -> dict:
    """The resources with each registered source's own fields (SourceScoped.by_source)."""
    if not sources:
        return resources
    own = {"log_source": {name: e.log_source for name, e in sources.items()},
           "warehouse": {name: {"base": e.warehouse, "stage_dir": e.stage_dir} for name, e in sources.items()},
           "slo_settings": {name: {"spec_paths": e.spec_paths} for name, e in sources.items()}}
    scoped_resources = dict(resources)
    for key, fields in own.items():
        resource = resources[key]
        scoped_resources[key] = type(resource)(**{**resource.model_dump(), "by_source": scoped_config(resource, fields)})
    return scoped_resources


@dg.definitions
def defs() -> dg.Definitions:
    """The code location as Dagster loads it (`dg dev`, the daemon, each run's process)."""
    return build_definitions()


def job_named(name: str, pending: str = "", month: str = "") -> dg.JobDefinition:
    """A job of the code location, rebuilt by name in another process (dg.build_reconstructable_job):
    how the Celery executor's workers and the run that feeds them load the same job. `pending`: the JSON
    of a source the CLI runs before it is recorded, `month` the month it runs (its partitions cover it)."""
    if not pending:
        return build_definitions().resolve_job_def(name)
    entry = SourceEntry.model_validate_json(pending)
    settings = replace(LocationSettings.from_environ(), source=entry.name, earliest_month=month)
    return build_definitions(settings=settings, pending=entry).resolve_job_def(name)
