"""live_tick_sensor: live mode, off unless turned on. Each tick reads the lines appended to the logs,
updates today's minutes they fall in, judges the alerts at the latest minutes (slo_assets.slo.live)
and launches live_alert_job once per service for the episodes that began firing in that tick (one
message per channel, not one per episode), by a run key made of those episodes.

The interval is SLO_ASSETS_LIVE_INTERVAL seconds (30 to 3600, default 60); SLO_ASSETS_LIVE=on makes
the sensor start running with the daemon, else it is started in the UI or with
`dagster sensor start live_tick_sensor`.
"""

import time
from dataclasses import fields
from pathlib import Path

import dagster as dg

from slo_assets.core.calendar import MINUTE_MS, iso
from slo_assets.core.errors import DefinitionError
from slo_assets.defs.remediation.assets import (
    act_on,
    action_history,
    learning_history,
    record_outcomes,
)
from slo_assets.defs.resources import (
    LogSource,
    Remediation,
    SloSettings,
    WarehouseResource,
)
from slo_assets.defs.settings import LocationSettings
from slo_assets.defs.warehouse_io import read_frame
from slo_assets.ingest.config import ConfigError
from slo_assets.ingest.files import LogDiscoveryError
from slo_assets.remediation.learning import effectiveness, runbook_scores
from slo_assets.remediation.live import LiveAlert, live_plan_entry
from slo_assets.slo import live as L
from slo_assets.warehouse import layout

PROBLEMS_LOGGED = 20


class LiveAlertConfig(dg.Config):
    run_key: str  # the episode's
    slo: str
    objective: str
    window: str
    alert: str
    severity: str
    status: str
    start_ms: int
    evaluated_until_ms: int
    value: float
    bad_events: int


class LiveAlertsConfig(dg.Config):
    run_key: str  # the group's: the run's own key
    service: str
    month: str  # where the outcomes are recorded
    alerts: list[LiveAlertConfig]


@dg.op(description="send a service's live alerts of one tick through the runbooks' actions matching them (one message "
                   "per channel); outcomes go to remediation_runs")
def live_alert_actions(context: dg.OpExecutionContext, config: LiveAlertsConfig, warehouse: WarehouseResource,
                       slo_settings: SloSettings, remediation: Remediation) -> None:
    store = warehouse.store()
    slos = {s.name: s for s in slo_settings.load().slos}
    runbooks = remediation.runbooks()
    learned = learning_history(store)
    scores = runbook_scores(effectiveness(learned)) if learned is not None else None
    entries = []
    for given in config.alerts:
        alert = LiveAlert(**{f.name: getattr(given, f.name) for f in fields(LiveAlert)})
        if alert.slo not in slos:
            context.log.warning(f"{alert.slo}: no such SLO in the specs any more; nothing sent for {alert.run_key}")
            continue
        entry = live_plan_entry(alert, slos[alert.slo], runbooks, scores)
        if not entry.actions:
            context.log.warning(f"{alert.run_key}: {entry.note}")
        entries.append(entry)
    actions = {(a.runbook, a.name): a for runbook in runbooks for a in runbook.actions}
    secret_names = set().union(*(a.secret_env_names() for a in actions.values()))
    outcomes = act_on(context, entries, actions, config.month, config.run_key, action_history(store), remediation.execute, secret_names)
    if outcomes:
        record_outcomes(store, config.month, outcomes)


# Always in process, whatever SLO_ASSETS_EXECUTOR says: one op that sends a page, where a hop through a
# Celery queue would only delay it.
@dg.job(executor_def=dg.in_process_executor, tags={"slo_assets/live": "alert"},
        description="notify a service's live alert episodes that began firing in one tick (launched by live_tick_sensor "
                    "with a run key made of those episodes)")
def live_alert_job():
    live_alert_actions()


def now_ms() -> int:
    """The tick's clock (a test sets its own)."""
    return int(time.time() * 1000)


_STATES: dict[str, L.LiveState] = {}  # warehouse base -> the state after this process's last tick (with its dense minutes)


def _state(live: L.LiveStore, base: str) -> L.LiveState | None:
    """The state as saved; the one kept in memory when it is that generation (no re-read of the minutes)."""
    kept = _STATES.get(base)
    if kept is not None and kept.generation == live.generation():
        return kept
    _STATES.pop(base, None)
    return live.load()


def _day_reader(store):
    """A day's sli_minutely rows, None when it is not materialized (read once per month and process)."""
    def read(day: str):
        return read_frame(store, layout.SLI_MINUTELY, day) if layout.SLI_MINUTELY.exists(store, day) else None
    return read


def alert_request(result: L.TickResult, group: L.AlertGroup) -> dg.RunRequest:
    alerts = [LiveAlert(e.run_key, e.key.slo, e.key.objective, e.key.window, e.key.alert, e.severity,
                        L.episode_status(e, result.firing), e.start_ms, result.evaluated_to_ms + MINUTE_MS, e.value,
                        round(e.bad_units)) for e in group.episodes]
    config = {"run_key": group.run_key, "service": group.service, "month": group.month, "alerts": [a.to_config() for a in alerts]}
    severity = "page" if any(a.severity == "page" for a in alerts) else alerts[0].severity
    return dg.RunRequest(run_key=group.run_key, run_config={"ops": {"live_alert_actions": {"config": config}}},
                         tags={"slo_assets/service": group.service, "slo_assets/slo": ",".join(sorted({a.slo for a in alerts}))[:200],
                               "slo_assets/alerts": str(len(alerts)), "slo_assets/severity": severity,
                               "slo_assets/month": group.month})


def run_tick(warehouse: WarehouseResource, log_source: LogSource, slo_settings: SloSettings, now_ms: int) -> L.TickResult:
    """One tick over the resources' logs, specs and warehouse; the state saved before the runs are asked for."""
    store = warehouse.store()
    live = L.LiveStore(store)
    try:
        source = L.TailSource(Path(log_source.root), log_source.parse_config(), tuple(log_source.include),
                              tuple(log_source.exclude), log_source.follow_symlinks)
        result = L.tick(_state(live, warehouse.base), source, slo_settings.load(), slo_settings.chain_settings(), now_ms,
                        _day_reader(store))
        live.save(result.state, result.hours_touched)
    except BaseException:
        _STATES.pop(warehouse.base, None)  # the next tick starts again from what is saved
        raise
    _STATES[warehouse.base] = result.state
    return result


def _live_tick(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, log_source: LogSource,
                     slo_settings: SloSettings) -> dg.SensorResult:
    started = time.perf_counter()
    try:
        result = run_tick(warehouse, log_source, slo_settings, now_ms())
    except (L.LiveStateError, DefinitionError, ConfigError, LogDiscoveryError) as error:
        context.log.error(f"live tick not run: {error}")
        return dg.SensorResult(skip_reason=dg.SkipReason(f"live tick not run: {error}"), cursor=context.cursor)
    summary = result.summary()
    context.log.info(f"live tick in {time.perf_counter() - started:.3f} s: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    for read in result.files:
        if read.lines or read.restarted:
            context.log.info(f"{read.path}: bytes {read.start}..{read.end}{' (read again from 0)' if read.restarted else ''}, "
                             f"{read.lines} lines: {read.accepted} accepted, {read.rejected} rejected, {read.blank} blank; "
                             f"{read.held_bytes} bytes held (a line still being written)")
    for problem in [p for read in result.files for p in read.problems][:PROBLEMS_LOGGED]:
        context.log.warning(f"rejected line {problem}")
    for path, why in result.skipped:
        context.log.info(f"not tailed: {path}: {why}")
    for episode in result.resolved:
        context.log.info(f"resolved: {episode.key.text()} from {iso(episode.start_ms)} to {iso(episode.end_ms)}")
    # The run of every open episode is asked for each tick: Dagster launches a run key once, so a run lost
    # between this tick's save and its launch is asked for again, and the same burst never notifies twice.
    requests = [alert_request(result, g) for g in result.groups]
    run_of = {e.run_key: g.run_key for g in result.groups for e in g.episodes}
    for episode in result.fired:
        context.log.info(f"firing: {episode.key.text()} ({episode.severity}) since {iso(episode.start_ms)}: run key {run_of[episode.run_key]}")
    return dg.SensorResult(run_requests=requests, cursor=str(result.state.generation),
                           skip_reason=None if requests else dg.SkipReason(f"no alert firing; {summary['lines_read']} lines read"))


def live_tick_sensor(settings: LocationSettings) -> dg.SensorDefinition:
    """The live sensor of a load: its interval and whether it starts running are settings, which a
    sensor holds from its definition."""
    return dg.sensor(name="live_tick_sensor", job=live_alert_job, minimum_interval_seconds=settings.live_interval_s,
                     default_status=dg.DefaultSensorStatus.RUNNING if settings.live_enabled else dg.DefaultSensorStatus.STOPPED,
                     description="live mode: reads the appended log lines, judges the burn-rate and budget alerts at the latest "
                                 "minutes and notifies each new firing once")(_live_tick)
