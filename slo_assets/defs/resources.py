"""Every resource of the code location, set here only: where logs and the warehouse live, how lines are
parsed, which SLOs judge them and how remediation acts. Their values for a load of the code location
come from its settings (defs/settings.py), never from the environment at import."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from slo_assets.defs.settings import DEFAULT_LOG_DIR, DEFAULT_WAREHOUSE, LocationSettings
from slo_assets.ingest.config import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, DEFAULT_JSON_FIELDS, DEFAULT_SERVICE_REGEX, ParseConfig
from slo_assets.outputs.refresh import DEFAULT_MINUTES, MAX_MINUTES, MIN_MINUTES
from slo_assets.remediation.runbooks import load_runbooks
from slo_assets.warehouse.storage import Warehouse

SOURCE_ROOT = Path(__file__).resolve().parents[2]


def project_file(relative: str) -> str:
    """A default file of the project: under the working folder if there, else in the source checkout."""
    here = Path(relative)
    return str(here if here.exists() or here.is_absolute() else SOURCE_ROOT / relative)
class SourceScoped(dg.ConfigurableResource):
    """A resource that acts as the run's log source's (defs/sources.py): `by_source` holds each registered
    source's fields; when a run works for one of them, `active()` is that source's resource."""

    by_source: dict[str, str] = Field(default_factory=dict, description="registered source -> its fields (JSON); "
                                      "set by the code location from slo-sources.json")
    _active: SourceScoped | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from slo_assets.defs.sources import run_source

        name = run_source(context.dagster_run, self.by_source) if self.by_source else None
        self._active = type(self)(**json.loads(self.by_source[name])) if name else None

    def active(self):
        """This resource as the run's source has it (itself for the default source)."""
        return self._active or self


class LogSource(SourceScoped):
    """A folder of access logs and how to read them."""

    root: str = Field(default=DEFAULT_LOG_DIR, description="folder searched recursively for log files")
    include: list[str] = Field(default=list(DEFAULT_INCLUDE),
                               description="glob patterns (file name, or relative path if it has '/') of files to sniff; default every file")
    exclude: list[str] = Field(default=list(DEFAULT_EXCLUDE), description="glob patterns of files never read (listed as skipped)")
    format: str = Field(default="auto", description="auto (sniffed per file), jsonl or combined")
    log_format: str = Field(default="", description="preset (combined, upstreaminfo, main) or an nginx log_format / Apache LogFormat "
                                                     "string; files not read as JSON use it")
    json_fields: dict[str, str] = Field(default_factory=dict, description=f"canonical -> JSON field; defaults {DEFAULT_JSON_FIELDS}")
    json_duration_unit: str = Field(default="ms", description="unit of the JSON duration field: s, ms or us")
    epoch_unit: str = Field(default="auto", description="numeric timestamps: s, ms, or auto (>= 1e11 means ms)")
    request_time_unit: str = Field(default="s", description="unit of the trailing request time in combined logs")
    service_source: str = Field(default="auto", description="auto (field, then path regex), field, regex or fixed")
    service_regex: str = Field(default=DEFAULT_SERVICE_REGEX, description="path regex with a (?P<service>...) group")
    service_name: str = Field(default="", description="the service when service_source is fixed")
    default_service: str = Field(default="unknown", description="service for paths the regex does not match")
    follow_symlinks: bool = Field(default=True, description="follow symlinks that stay inside the root (a link outside "
                                                                       "it, or with this off any link, is listed as skipped)")
    max_quarantine_ratio: float = Field(default=0.01, description="quarantined / lines above this fails the day's check")

    def parse_config(self) -> ParseConfig:
        source = self.active()  # the run's source's fields
        return ParseConfig(
            format=source.format,
            log_format=source.log_format,
            json_fields={**DEFAULT_JSON_FIELDS, **source.json_fields},
            json_duration_unit=source.json_duration_unit,
            epoch_unit=source.epoch_unit,
            request_time_unit=source.request_time_unit,
            service_source=source.service_source,
            service_regex=source.service_regex,
            service_name=source.service_name,
            default_service=source.default_service,
        )


class WarehouseResource(SourceScoped):
    """Base folder (local path or fsspec URL) of the Parquet warehouse, and the local parse cache."""

    base: str = Field(default=DEFAULT_WAREHOUSE, description="local folder or fsspec URL for Parquet outputs")
    stage_dir: str = Field(default="", description="local folder for parsed-file stages; default <base>/_staging")

    def store(self) -> Warehouse:
        return Warehouse(self.active().base)

    def stage_root(self) -> Path:
        if self.active().stage_dir:
            return Path(self.active().stage_dir)
        store = self.store()
        if not store.is_local:
            raise ValueError("stage_dir must be a local folder when the warehouse base is not local")
        return Path(str(store.root)) / "_staging"


DEFAULT_SPECS = "examples/slos.yaml"


_LOADED_SPECS: dict[tuple[str, ...], tuple[tuple[bytes, ...], object]] = {}  # paths -> (their bytes, SpecSet)


class SloSettings(SourceScoped):
    """Which OpenSLO files define the SLOs, and how the month is judged."""

    spec_paths: list[str] = Field(default=[DEFAULT_SPECS], description="OpenSLO v1 YAML files")
    min_events: int = Field(default=100, description="fewer events in a window: insufficient_data")
    alert_min_events: int = Field(default=0, description="low-traffic gate for the alert replay: events in the long window; 0 = off")
    alert_min_bad_events: int = Field(default=3, description="low-traffic gate: a burn-rate alert fires only with this many bad events "
                                                             "in its long window; 0 = off")
    maintenance: list[str] = Field(default_factory=list, description="'start/end' ISO-8601 instants excluded from every budget")
    forecast_seed: int = Field(default=20260101, description="seed of the Monte Carlo forecast")
    simulations: int = Field(default=10_000, description="Monte Carlo runs")
    coverage_floor: float = Field(default=0.95, ge=0, le=1, description="measured share of a window's minutes below this: "
                                  "a window the measured minutes call met or at risk is insufficient_coverage, every "
                                  "status carries a note, and the coverage_above_floor check fails")
    coverage_min_missing_events: float = Field(default=10.0, gt=0, description="a run of empty minutes is unmeasured when its "
                                               "history expected this many requests in it")
    block_outputs_below_coverage_floor: bool = Field(default=False, description="a window under the coverage floor stops "
                                                     "report.html, slo_metrics.prom and alerts.rules.yml from being published")

    def load(self):
        """The spec set, parsed once per process while the files' bytes stay the same: every asset of
        every run asks (31 daily steps a month), and 500 SLOs take seconds to check."""
        from slo_assets.openslo.spec import load_specs

        paths = tuple(self.active().spec_paths)
        try:
            contents = tuple(Path(p).read_bytes() for p in paths)
        except OSError:
            return load_specs([Path(p) for p in paths])  # the loader names the file it cannot read
        cached = _LOADED_SPECS.get(paths)
        if cached is None or cached[0] != contents:
            cached = _LOADED_SPECS[paths] = (contents, load_specs([Path(p) for p in paths]))
        return cached[1]

    def chain_settings(self):
        from slo_assets.openslo.spec import SpecError, parse_maintenance
        from slo_assets.slo.chain import Settings

        source = self.active()  # the run's source's fields
        problems: list[str] = []
        windows = parse_maintenance(",".join(source.maintenance), problems.append) if source.maintenance else ()
        if problems:
            raise SpecError([f"slo_settings.maintenance: {p}" for p in problems])
        return Settings(
            min_events=source.min_events,
            alert_min_events=source.alert_min_events,
            alert_min_bad_events=source.alert_min_bad_events,
            forecast_seed=source.forecast_seed,
            simulations=source.simulations,
            coverage_floor=source.coverage_floor,
            coverage_min_missing_events=source.coverage_min_missing_events,
            maintenance=tuple((int(a.timestamp() * 1000), int(b.timestamp() * 1000)) for a, b in windows),
        )


DEFAULT_RUNBOOKS = "examples/runbooks.yaml"


class Remediation(dg.ConfigurableResource):
    """Runbook files and the switch between recording what would be done (default) and doing it."""

    runbook_paths: list[str] = Field(default_factory=lambda: [project_file(DEFAULT_RUNBOOKS)], description="runbook YAML files")
    execute: bool = Field(default=False, description="really run actions; false records a dry run")
    allowed_cwd_root: str | None = Field(default=None, description="folder a command's cwd must stay inside; "
                                         "default each runbook file's own folder")
    plan_wait_minutes: float = Field(default=15.0, ge=0, description="how long the sensor waits for the plan of a report "
                                     "before skipping that report (it then handles the later ones)")

    def runbooks(self):
        return load_runbooks([Path(p) for p in self.runbook_paths], self.allowed_cwd_root)


class LiveOutputs(dg.ConfigurableResource):
    """How often live_outputs_sensor refreshes the running month's chain and outputs while its days change."""

    refresh_minutes: int = Field(default=DEFAULT_MINUTES, ge=MIN_MINUTES, le=MAX_MINUTES,
                                 description="at most one refresh of the month to date per this many minutes")


def default_resources(settings: LocationSettings | None = None) -> dict[str, dg.ConfigurableResource]:
    """The one resource set: what the code location binds (from its settings; the defaults without), and
    what the CLI and tests override by key."""
    settings = settings or LocationSettings()
    runbooks = {"runbook_paths": list(settings.runbook_paths)} if settings.runbook_paths else {}
    return {
        "log_source": LogSource(root=settings.log_dir),
        "warehouse": WarehouseResource(base=settings.warehouse, stage_dir=settings.stage_dir),
        "slo_settings": SloSettings(spec_paths=list(settings.spec_paths) or [project_file(DEFAULT_SPECS)]),
        "remediation": Remediation(**runbooks, execute=settings.remediation_execute),
        "live_outputs": LiveOutputs(refresh_minutes=settings.live_refresh_minutes),
    }
