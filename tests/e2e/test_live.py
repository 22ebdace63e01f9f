"""Live mode: a tick reads only the appended lines, counts them into their minutes, and judges the
alerts at the latest minutes exactly as the month's replay judges those minutes."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from slo_assets.core.calendar import MINUTE_MS, iso, month_range_ms
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.parse import parse_chunk
from slo_assets.openslo.spec import load_specs
from slo_assets.slo import chain as C
from slo_assets.slo import live as L
from slo_assets.slo.sli import day_inputs
from slo_assets.warehouse.storage import Warehouse
from tests.openslo import availability_slo, spec_file

MONTH = "2026-11"
START = month_range_ms(MONTH)[0] + 9 * 86_400_000  # 2026-11-10T00:00Z
SETTINGS = C.Settings()


def line(ms: int, status: int = 200, service: str = "api") -> str:
    return f'{{"ts":"{iso(ms)}","service":"{service}","status":{status},"duration_ms":12}}\n'


def minute_lines(minute: int, requests: int, bad: int) -> str:
    """`requests` lines spread over minute `minute` after START, the first `bad` of them 5xx."""
    base = START + minute * MINUTE_MS
    return "".join(line(base + i * (MINUTE_MS // requests), 503 if i < bad else 200) for i in range(requests))


@pytest.fixture
def specs(tmp_path):
    path = tmp_path / "slos.yaml"
    path.write_text(spec_file(availability_slo("api-availability", "api", "99.9% succeed", 0.999)))
    return load_specs([path])


@pytest.fixture
def logs(tmp_path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder


def source(logs: Path) -> L.TailSource:
    return L.TailSource(logs, ParseConfig())


def no_history(day: str) -> None:
    return None


def append(path: Path, text: str) -> None:
    with open(path, "a") as handle:
        handle.write(text)


def counts(state: L.LiveState) -> dict[tuple[str, int], tuple[int, int]]:
    return {(slo, m): (c[0], c[1]) for slo, by_minute in state.minutes.items() for m, c in by_minute.items()}


def full_parse_counts(logs: Path, specs) -> dict[tuple[str, int], tuple[int, int]]:
    found = {}
    for path in sorted(logs.iterdir()):
        rows = parse_chunk(path.read_bytes(), 1, "jsonl", ParseConfig()).rows
        minutes = day_inputs(rows, specs.slos).minutes.with_columns(pl.col("minute").dt.epoch("ms"))
        # the live state keeps minutes with events; a day's table also keeps minutes of untimed requests only
        for slo, minute, good, total in minutes.filter(pl.col("total") > 0).select("slo", "minute", "good", "total").iter_rows():
            g, t = found.get((slo, minute), (0, 0))
            found[(slo, minute)] = (g + good, t + total)
    return found


def test_a_file_grown_over_ticks_counts_as_one_full_parse(logs, specs):
    log = logs / "access.log"
    text = minute_lines(0, 50, 3) + minute_lines(1, 40, 0) + minute_lines(2, 60, 10)
    cuts = [0, 1234, 1235, 4000, len(text) - 7, len(text)]  # mid-line cuts: the partial line is held
    state, reads = None, []
    for number, (a, b) in enumerate(itertools.pairwise(cuts)):
        append(log, text[a:b])
        result = L.tick(state, source(logs), specs, SETTINGS, START + (number + 1) * 1000, no_history)
        state = result.state
        reads += result.files
    assert counts(state) == full_parse_counts(logs, specs)
    assert sum(r.lines for r in reads) == 150 and sum(r.accepted for r in reads) == 150
    held = [r.held_bytes for r in reads]
    assert held[0] == 1234 - text.rfind("\n", 0, 1234) - 1 and held[-1] == 0
    # every byte read once: the reads tile the file
    assert [(r.start, r.end) for r in reads] == [(0, reads[0].end), *((reads[i - 1].end, reads[i].end) for i in range(1, len(reads)))]


def test_bad_appended_lines_name_file_line_and_field(logs, specs):
    log = logs / "access.log"
    log.write_text(minute_lines(0, 3, 0))
    state = L.tick(None, source(logs), specs, SETTINGS, START + 1000, no_history).state
    append(log, line(START + 2000).replace('"status":200', '"status":"two hundred"') + line(START + 3000))
    result = L.tick(state, source(logs), specs, SETTINGS, START + 4000, no_history)
    (read,) = result.files
    assert (read.lines, read.accepted, read.rejected) == (2, 1, 1)
    assert read.problems == ["access.log:4: status_not_integer: status: two hundred"]


def test_rotation_and_copytruncate_lose_and_repeat_nothing(logs, specs):
    log = logs / "access.log"
    log.write_text(minute_lines(0, 20, 0))
    state = L.tick(None, source(logs), specs, SETTINGS, START + 1000, no_history).state
    append(log, minute_lines(1, 10, 1))  # written before the rename, read after it from access.log.1
    os.rename(log, logs / "access.log.1")
    log.write_text(minute_lines(2, 30, 2))
    state = L.tick(state, source(logs), specs, SETTINGS, START + 2000, no_history).state
    assert counts(state) == full_parse_counts(logs, specs)
    # copytruncate: the copy holds what was appended before it; the truncated file starts over
    append(log, minute_lines(3, 5, 0))
    (logs / "access.log.1").unlink()
    (logs / "access.log.1").write_bytes(log.read_bytes())
    log.write_text(minute_lines(4, 7, 7))
    state = L.tick(state, source(logs), specs, SETTINGS, START + 3000, no_history).state
    expected = {("api-availability", START + m * MINUTE_MS): c for m, c in {0: (20, 20), 1: (9, 10), 2: (28, 30), 3: (5, 5), 4: (0, 7)}.items()}
    assert counts(state) == expected


def test_a_ticks_work_grows_with_the_appended_lines_not_the_day(logs, specs):
    log = logs / "access.log"
    log.write_text("".join(minute_lines(m, 20, 0) for m in range(600)))  # 10 hours, 12,000 lines, read once
    state = L.tick(None, source(logs), specs, SETTINGS, START + 600 * MINUTE_MS, no_history).state
    work = {}
    for appended in (100, 1000):
        text = "".join(line(START + 600 * MINUTE_MS + i * 50) for i in range(appended))
        append(log, text)
        result = L.tick(state, source(logs), specs, SETTINGS, START + 601 * MINUTE_MS, no_history)
        state = result.state
        work[appended] = (result.lines_read, result.bytes_read, result.minutes_updated, len(result.hours_touched))
        assert result.bytes_read == len(text.encode())
    assert work[100] == (100, work[100][1], 1, 1)  # 100 lines 50 ms apart: one minute, one hour file
    assert work[1000][:2] == (1000, work[100][1] * 10) and work[1000][2] == 1  # 50 s: still that minute


def replay_runs(specs, frame: pl.DataFrame, as_of_ms: int) -> list[tuple[L.AlertKey, int, int]]:
    """Every alert run the month's replay (chain.evaluate over the same minutes) shows up to `as_of_ms`."""
    month_start, month_end = month_range_ms(MONTH)
    period = C.Period(MONTH, month_start, month_end, as_of_ms)
    runs = []
    for slo in specs.slos:
        for objective in slo.objectives:
            for window in slo.windows:
                e = C.evaluate(slo, objective, window, frame, period, SETTINGS)
                named = [(f"{a.severity} {a.long_window}/{a.short_window}", a.start_ms, a.end_ms) for a in e.alerts]
                named += [(b.alert, b.start_ms, b.end_ms) for b in e.budget_alerts]
                runs += [(L.AlertKey(slo.name, objective.key, window.label, name), start, end) for name, start, end in named]
    return runs


@pytest.mark.parametrize(("seed", "slice_target"), [(1, None), (2, None), (3, None), (4, 0.95)])
def test_live_tick_by_tick_is_the_replay_of_the_same_minutes(logs, tmp_path, seed, slice_target):
    """Random traffic with bursts; the lines of each minute written in two halves, a tick after each:
    at every closed minute the alerts open live are those the replay shows then, with the same start
    (or the first minute live mode judged), and every episode of the replay was fired live. Occurrences,
    and Timeslices of one minute (good when 95 % succeed)."""
    path = tmp_path / "slices.yaml"
    path.write_text(spec_file(availability_slo("api-availability", "api", "99.9% succeed", 0.999, slice_target=slice_target)))
    specs = load_specs([path])
    rng = np.random.default_rng(seed)
    minutes, first = 180, 100
    requests = rng.integers(20, 60, minutes)
    bad = np.zeros(minutes, dtype=np.int64)
    for _ in range(4):
        at, length = int(rng.integers(first - 30, minutes - 5)), int(rng.integers(1, 25))
        bad[at:at + length] = rng.integers(0, requests[at:at + length] // 2 + 1)
    log = logs / "access.log"
    log.write_text("".join(minute_lines(m, int(requests[m]), int(bad[m])) for m in range(first)))  # today so far
    first_ms = START + first * MINUTE_MS
    state, fired, resolved, final_open = None, [], [], {}
    for m in range(first, minutes):
        lines = minute_lines(m, int(requests[m]), int(bad[m])).splitlines(keepends=True)
        for part, second in ((lines[:len(lines) // 2], 0), (lines[len(lines) // 2:], 30)):
            result = L.tick(state, source(logs), specs, SETTINGS, START + m * MINUTE_MS + second * 1000, no_history)
            state = result.state
            fired += result.fired
            resolved += result.resolved
            append(log, "".join(part))
        final_open[m - 1] = {k: e.start_ms for k, e in state.final_open.items()}
    frame = full_parse_frame(logs, specs)
    runs = replay_runs(specs, frame, START + minutes * MINUTE_MS)
    assert any(key.alert.startswith("page") for key, _, _ in runs), "the bursts page"
    for m in range(first, minutes - 1):
        minute_ms = START + m * MINUTE_MS
        expected = {key: max(start, first_ms) for key, start, end in runs if start <= minute_ms < end}
        assert final_open[m] == expected, iso(minute_ms)
    starts = {(e.key, e.start_ms) for e in fired}
    assert len({e.run_key for e in fired}) == len(fired)
    for key, start, end in runs:
        if end > first_ms and start < START + (minutes - 1) * MINUTE_MS:
            assert (key, max(start, first_ms)) in starts, (key, iso(start))
    # an episode the replay ends before the last closed minute was resolved live at the same minute
    ends = {(e.key, e.start_ms): e.end_ms for e in resolved}
    ended = [(key, start, end) for key, start, end in runs if first_ms < end < START + (minutes - 1) * MINUTE_MS]
    assert ended, "some episode ends"
    for key, start, end in ended:
        assert ends.get((key, max(start, first_ms))) == end, (key, iso(start), iso(end))


def full_parse_frame(logs: Path, specs) -> pl.DataFrame:
    rows = pl.concat([parse_chunk(p.read_bytes(), 1, "jsonl", ParseConfig()).rows for p in sorted(logs.iterdir())])
    return day_inputs(rows, specs.slos).minutes


def burst_ticks(logs: Path, specs, store: L.LiveStore | None = None, ticks: int = 10) -> list[L.TickResult]:
    """An hour of clean traffic, then every 30 s half a minute of 100 requests, 60 of them failing."""
    log = logs / "access.log"
    log.write_text("".join(minute_lines(m, 100, 0) for m in range(60)))
    state, results = None, []
    for number in range(ticks):
        base = START + 60 * MINUTE_MS + number * 30_000
        append(log, "".join(line(base + i * 600, 503 if i < 30 else 200) for i in range(50)))
        if store is not None:
            state = store.load()
        result = L.tick(state, source(logs), specs, SETTINGS, base + 29_999, no_history)
        if store is not None:
            store.save(result.state, result.hours_touched)
        state = result.state
        results.append(result)
    return results


def test_a_burst_fires_once_over_ten_ticks(logs, specs):
    results = burst_ticks(logs, specs)
    fired = [e for r in results for e in r.fired]
    page = [e for e in fired if e.key.alert == "page 1h/5m"]
    # By hand, 99.9 %: the 1h window pages above 14.4 x 0.1 % = 1.44 % failing. At 60:30, 30 of 6,050 (0.5 %);
    # at 61:30, 90 of 6,150 = 1.46 %: the tick in minute 61 fires it, judging the minute as far as it went.
    assert len(page) == 1 and page[0].start_ms == START + 61 * MINUTE_MS
    assert page[0] in results[2].fired
    assert len({e.run_key for e in fired}) == len(fired)
    # every later tick still sees it firing, under the same run key (what the sensor asks Dagster again, which skips it)
    assert all(page[0].run_key in {e.run_key for e in r.firing} for r in results[2:])
    assert not any(r.resolved for r in results)


def test_the_state_survives_a_restart_between_every_tick(logs, specs, tmp_path):
    kept = burst_ticks(logs, specs)
    (logs / "access.log").unlink()
    store = L.LiveStore(Warehouse(tmp_path / "warehouse"))
    restarted = burst_ticks(logs, specs, store)
    assert [[e.run_key for e in r.fired] for r in restarted] == [[e.run_key for e in r.fired] for r in kept]
    assert counts(store.load()) == counts(kept[-1].state)
    files = sorted(p.name for p in (tmp_path / "warehouse" / "_staging" / "live" / "minutes").iterdir())
    assert files == [f"{START // 3_600_000 * 3_600_000 + h * 3_600_000}.{g}.json" for h, g in ((0, 1), (1, 10))]


def test_the_episodes_a_tick_fires_on_a_service_share_one_run_and_keep_it(logs, tmp_path):
    """One run per service and tick: its key is made of the episodes it notifies, so it is the same at
    every later tick and after a restart; episodes fired at another tick, or on another service, have
    their own run. A state saved before runs were grouped keeps each episode's own key."""
    path = tmp_path / "slos.yaml"
    path.write_text(spec_file(availability_slo("api-availability", "api", "99.9% succeed", 0.999),
                              availability_slo("api-lenient", "api", "99% succeed", 0.99)))
    specs = load_specs([path])
    results = burst_ticks(logs, specs)
    run_of = {}
    for number, result in enumerate(results):
        assert {e.run_key for g in result.groups for e in g.episodes} == {e.run_key for e in [*result.fired, *result.firing]}
        for group in result.groups:
            assert group.service == "api"
            new = [e for e in group.episodes if e in result.fired]
            if new:  # made at this tick, of the episodes it fired
                assert new == list(group.episodes) and group.run_key == L.group_run_key("api", new)
            for episode in group.episodes:
                assert run_of.setdefault(episode.run_key, group.run_key) == group.run_key, (number, episode.key.text())
        fired_groups = {g.run_key for g in result.groups if any(e in result.fired for e in g.episodes)}
        assert len(fired_groups) == (1 if result.fired else 0), number
    fired = [(number, e) for number, r in enumerate(results) for e in r.fired]
    assert {e.key.slo for _, e in fired} == {"api-availability", "api-lenient"}
    assert len({number for number, _ in fired}) > 1  # some tick fires after another: a run of its own
    for (n1, e1), (n2, e2) in itertools.combinations(fired, 2):
        assert (run_of[e1.run_key] == run_of[e2.run_key]) == (n1 == n2), (e1.key.text(), e2.key.text())
    store = L.LiveStore(Warehouse(tmp_path / "warehouse"))
    (logs / "access.log").unlink()
    restarted = burst_ticks(logs, specs, store)
    assert [[g.run_key for g in r.groups] for r in restarted] == [[g.run_key for g in r.groups] for r in results]
    old = L.state_to_json(results[-1].state)
    del old["groups"]
    before = L.state_from_json(old, "state.json")
    episodes = results[-1].firing
    assert [g.run_key for g in L.alert_groups(before, episodes, {"api-availability": "api"})] == [e.run_key for e in episodes]


WEBHOOK_RUNBOOK = """apiVersion: slo-assets/v1
kind: Runbook
metadata: {name: live-pages}
spec:
  match: {severity: page}
  actions:
    - {kind: webhook, name: page-hook, url_env: T_LIVE_HOOK}
    - {kind: slack, name: chat, url_env: T_LIVE_SLACK}
"""


def test_the_sensor_asks_one_run_per_service_and_tick_and_it_sends_each_episode_once(logs, specs, tmp_path, monkeypatch):
    """The sensor under a real instance: one run request for the episodes a tick fired on a service,
    keyed by them; the run posts the webhook once per page episode, one Slack message naming every
    page's alert and window, records them in remediation_runs, and never sends the same burst twice."""
    import dagster as dg

    from slo_assets.definitions import build_definitions
    from slo_assets.defs.live import alerts as live_defs
    from slo_assets.defs.live.alerts import live_alert_job, live_tick_sensor
    from slo_assets.defs.resources import (
        LogSource,
        Remediation,
        SloSettings,
        WarehouseResource,
    )
    from slo_assets.defs.settings import LocationSettings
    from slo_assets.warehouse import layout
    from tests.channel_servers import HttpChannel

    hook, slack = HttpChannel("webhook"), HttpChannel("slack")
    monkeypatch.setenv("T_LIVE_HOOK", hook.url)
    monkeypatch.setenv("T_LIVE_SLACK", slack.url)
    runbooks = tmp_path / "runbooks.yaml"
    runbooks.write_text(WEBHOOK_RUNBOOK)
    warehouse = tmp_path / "warehouse"
    resources = {"warehouse": WarehouseResource(base=str(warehouse)), "log_source": LogSource(root=str(logs)),
                 "slo_settings": SloSettings(spec_paths=[str(tmp_path / "slos.yaml")]),
                 "remediation": Remediation(runbook_paths=[str(runbooks)], execute=True)}
    log = logs / "access.log"
    minute = START + 600 * MINUTE_MS
    now = minute + 30_000
    monkeypatch.setattr(live_defs, "now_ms", lambda: now)
    log.write_text("".join(line(minute - 60 * MINUTE_MS + i * 600) for i in range(6000)))  # a clean hour, 100 a minute
    sensor = live_tick_sensor(LocationSettings())
    try:
        with dg.instance_for_test() as instance:
            def tick():
                with dg.build_sensor_context(instance=instance, resources=resources) as context:
                    return sensor(context)

            assert tick().run_requests == []
            append(log, "".join(line(now - 1000 + i, 503) for i in range(200)))  # 200 failures in the last second
            first = tick()
            (request,) = first.run_requests  # every episode the burst fired on service api: one run
            assert request.run_key.startswith(f"live:api:{iso(minute)}:") and request.tags["slo_assets/service"] == "api"
            alerts = request.run_config["ops"]["live_alert_actions"]["config"]["alerts"]
            pages = [a for a in alerts if a["severity"] == "page"]
            assert any(a["alert"] == "page 1h/5m" for a in pages) and len({a["alert"] for a in pages}) > 1
            assert len({a["run_key"] for a in alerts}) == len(alerts) == int(request.tags["slo_assets/alerts"])
            assert int(first.cursor) == 2  # the state's generation: saved in the warehouse before the runs are asked for
            assert [r.run_key for r in tick().run_requests] == [request.run_key]  # asked again; Dagster launches a run key once
            job = build_definitions(resources).resolve_job_def(live_alert_job.name)
            assert job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags).success
            assert job.execute_in_process(run_config=request.run_config, instance=instance).success  # a repeat: done before
            # the webhook runs once per episode; each body tells its page from the burst's other windows and alerts
            assert sorted((b["alert"], b["window"]) for b in hook.received) == sorted((a["alert"], a["window"]) for a in pages)
            for body in hook.received:
                assert body["slo"] == "api-availability" and body["severity"] == "page" and body["incidents"][0]["bad_events"] > 0
                assert f"live alert {body['alert']} over the {body['window']} window" in body["summary"]
            (message,) = slack.received  # the service's pages of this tick in one message
            assert message["text"].startswith(f"[{MONTH}] api: api-availability ({len(pages)} alerts)")
            sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
            assert len(sections) == len(pages)
            for a in pages:
                assert sum(f"live alert {a['alert']} over the {a['window']} window" in t for t in sections) == 1
            runs = pl.from_arrow(Warehouse(warehouse).read_table(layout.REMEDIATION_RUNS.path(Warehouse(warehouse), iso(minute)[:7])))
            assert runs["status"].to_list() == ["ok"] * 2 * len(pages) + ["skipped_already_done"] * 2 * len(pages)
            assert set(runs["run_key"]) == {request.run_key}
    finally:
        hook.close()
        slack.close()


def test_the_interval_is_30_s_to_1_h_and_live_mode_is_off_unless_asked():
    from slo_assets.core.clock import SettingError
    from slo_assets.defs.live.alerts import live_tick_sensor
    from slo_assets.defs.settings import LocationSettings, live_enabled, live_interval_seconds

    assert live_interval_seconds({}) == 60
    assert [live_interval_seconds({"SLO_ASSETS_LIVE_INTERVAL": v}) for v in ("30", "3600")] == [30, 3600]
    for wrong in ("29", "3601", "1m", "-30", "30.5"):
        with pytest.raises(SettingError) as error:
            live_interval_seconds({"SLO_ASSETS_LIVE_INTERVAL": wrong})
        assert "SLO_ASSETS_LIVE_INTERVAL" in str(error.value) and repr(wrong) in str(error.value)
    assert not live_enabled({}) and live_enabled({"SLO_ASSETS_LIVE": "on"})
    assert live_tick_sensor(LocationSettings()).default_status.value == "STOPPED"
    on = live_tick_sensor(LocationSettings.from_environ({"SLO_ASSETS_LIVE": "on", "SLO_ASSETS_LIVE_INTERVAL": "30"}))
    assert (on.default_status.value, on.minimum_interval_seconds) == ("RUNNING", 30)
