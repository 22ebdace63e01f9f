"""The code location's settings from the environment, read once, when the definitions load.

Nothing reads the environment at import: `slo_assets.definitions` is a `@dg.definitions` function,
Dagster calls it when it loads the code location (`dg dev`, the daemon, a run's process), and it
reads `LocationSettings.from_environ()` then. The CLI builds the same object from its options
instead of setting variables for an import to find. Every variable's name is here, once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from slo_assets.core.clock import SettingError
from slo_assets.outputs.refresh import DEFAULT_MINUTES, check_minutes

DEFAULT_WAREHOUSE = "data/warehouse"
DEFAULT_LOG_DIR = "data/sample/logs"

WAREHOUSE_SETTING = "SLO_ASSETS_WAREHOUSE"
STAGE_SETTING = "SLO_ASSETS_STAGE_DIR"  # the local parse cache; required when the warehouse is an object store
LOG_DIR_SETTING = "SLO_ASSETS_LOG_DIR"
SPECS_SETTING = "SLO_ASSETS_SPECS"  # comma-separated spec files
START_SETTING = "SLO_ASSETS_START_DATE"  # the first day partition, instead of the first month with data
EARLIEST_MONTH_SETTING = "SLO_ASSETS_EARLIEST_MONTH"  # a month the partitions must cover (the CLI's --month)
RUNBOOKS_SETTING = "SLO_ASSETS_RUNBOOKS"
EXECUTE_SETTING = "SLO_ASSETS_REMEDIATION_EXECUTE"
LIVE_REFRESH_SETTING = "SLO_ASSETS_LIVE_REFRESH_MINUTES"
EXECUTOR_SETTING = "SLO_ASSETS_EXECUTOR"
CELERY_BROKER_SETTING = "SLO_ASSETS_CELERY_BROKER"
CELERY_BACKEND_SETTING = "SLO_ASSETS_CELERY_BACKEND"
LIVE_INTERVAL_SETTING = "SLO_ASSETS_LIVE_INTERVAL"
LIVE_SETTING = "SLO_ASSETS_LIVE"
HOME_SETTING = "DAGSTER_HOME"  # Dagster's own: the instance, and beside it the source registry
ACTIVE_DAYS_SETTING = "SLO_ASSETS_ACTIVE_DAYS"  # logs whose newest line is this many days old or newer run to today
DEFAULT_ACTIVE_DAYS = 2

EXECUTORS = ("in_process", "celery")
SWITCH_VALUES = {"1": True, "on": True, "true": True, "yes": True, "0": False, "off": False, "false": False, "no": False}
DEFAULT_LIVE_INTERVAL_S = 60
LIVE_INTERVAL_RANGE_S = (30, 3600)


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _text(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip()


def default_warehouse(environ: Mapping[str, str] | None = None) -> str:
    """The warehouse the code location and the CLI share unless told otherwise."""
    return _text(_environ(environ), WAREHOUSE_SETTING) or DEFAULT_WAREHOUSE


def executor_choice(environ: Mapping[str, str] | None = None) -> str:
    """Which executor every job runs on, from $SLO_ASSETS_EXECUTOR: in_process (the default) or celery."""
    choice = _text(_environ(environ), EXECUTOR_SETTING) or "in_process"
    if choice not in EXECUTORS:
        raise SettingError(f"{EXECUTOR_SETTING}={choice!r}: must be one of {', '.join(EXECUTORS)}")
    return choice


def live_interval_seconds(environ: Mapping[str, str] | None = None) -> int:
    """The live tick interval from SLO_ASSETS_LIVE_INTERVAL: whole seconds, 30 to 3600."""
    text = _text(_environ(environ), LIVE_INTERVAL_SETTING)
    if not text:
        return DEFAULT_LIVE_INTERVAL_S
    low, high = LIVE_INTERVAL_RANGE_S
    if not text.isdigit() or not low <= int(text) <= high:
        raise SettingError(f"{LIVE_INTERVAL_SETTING}: {text!r} must be whole seconds from {low} to {high} (a tick every 30 s to 1 h)")
    return int(text)


def active_days(environ: Mapping[str, str] | None = None) -> int:
    """SLO_ASSETS_ACTIVE_DAYS: whole days, 0 to 3650."""
    text = _text(_environ(environ), ACTIVE_DAYS_SETTING)
    if not text:
        return DEFAULT_ACTIVE_DAYS
    if not text.isdigit() or int(text) > 3650:
        raise SettingError(f"{ACTIVE_DAYS_SETTING}: {text!r} must be whole days from 0 to 3650")
    return int(text)


def live_enabled(environ: Mapping[str, str] | None = None) -> bool:
    return _text(_environ(environ), LIVE_SETTING).lower() in ("1", "on", "true", "yes")


def live_refresh_minutes(environ: Mapping[str, str] | None = None) -> int:
    """$SLO_ASSETS_LIVE_REFRESH_MINUTES, else the default; a bad value is a SettingError naming it."""
    text = _text(_environ(environ), LIVE_REFRESH_SETTING)
    try:
        return check_minutes(LIVE_REFRESH_SETTING, text) if text else DEFAULT_MINUTES
    except ValueError as error:
        raise SettingError(str(error)) from error


def remediation_execute(environ: Mapping[str, str] | None = None) -> bool:
    """$SLO_ASSETS_REMEDIATION_EXECUTE: on carries the actions out; default off, a dry run."""
    switch = _text(_environ(environ), EXECUTE_SETTING).lower()
    if switch and switch not in SWITCH_VALUES:
        raise SettingError(f"{EXECUTE_SETTING}={switch!r}: expected on or off")
    return SWITCH_VALUES.get(switch, False)


def _paths(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


@dataclass(frozen=True)
class LocationSettings:
    """What the environment sets for one load of the code location; the defaults are the sample project's."""

    warehouse: str = DEFAULT_WAREHOUSE
    stage_dir: str = ""
    log_dir: str = DEFAULT_LOG_DIR
    spec_paths: tuple[str, ...] = ()  # empty: the project's example specs
    start_date: str = ""  # SLO_ASSETS_START_DATE as written (partitions.py reads it)
    earliest_month: str = ""  # YYYY-MM the partitions must cover, besides the months with data
    runbook_paths: tuple[str, ...] = ()
    remediation_execute: bool = False
    live_refresh_minutes: int = DEFAULT_MINUTES
    executor: str = "in_process"
    celery_backend_setting: str = CELERY_BROKER_SETTING  # the variable naming the result backend's URL
    live_interval_s: int = DEFAULT_LIVE_INTERVAL_S
    live_enabled: bool = False
    active_days: int = DEFAULT_ACTIVE_DAYS  # the partitions run to today while the newest line is this recent
    home: str = ""  # $DAGSTER_HOME: the instance's home, holding the source registry (defs/sources.py)
    source: str = ""  # the registered source the CLI runs (its month widens that source's partitions), else ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LocationSettings:
        """Every setting from the environment (os.environ unless given); a bad value is a SettingError naming it."""
        env = _environ(environ)
        executor = executor_choice(env)
        if executor == "celery" and not _text(env, CELERY_BROKER_SETTING):
            raise SettingError(f"{EXECUTOR_SETTING}=celery needs {CELERY_BROKER_SETTING}, the broker URL (e.g. redis://127.0.0.1:6379/0)")
        return cls(
            warehouse=default_warehouse(env), stage_dir=_text(env, STAGE_SETTING), log_dir=_text(env, LOG_DIR_SETTING) or DEFAULT_LOG_DIR,
            spec_paths=_paths(env.get(SPECS_SETTING, "")), start_date=_text(env, START_SETTING),
            earliest_month=_text(env, EARLIEST_MONTH_SETTING), runbook_paths=_paths(env.get(RUNBOOKS_SETTING, "")),
            remediation_execute=remediation_execute(env), live_refresh_minutes=live_refresh_minutes(env), executor=executor,
            celery_backend_setting=CELERY_BACKEND_SETTING if _text(env, CELERY_BACKEND_SETTING) else CELERY_BROKER_SETTING,
            live_interval_s=live_interval_seconds(env), live_enabled=live_enabled(env), active_days=active_days(env),
            home=_text(env, HOME_SETTING))
