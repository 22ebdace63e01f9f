"""The alert-policy backtest on a hand-built month whose every figure is computed by hand below, and
once through `slo-assets run` and `slo-assets backtest` on a small generated month."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from slo_assets.core.calendar import MINUTE_MS, iso, month_range_ms
from slo_assets.openslo.spec import load_specs
from slo_assets.slo import backtest as T
from slo_assets.slo import budget as B
from slo_assets.slo import chain as C
from tests.openslo import availability_slo

MONTH = "2026-11"  # 30 days, 43 200 minutes
SPEC = availability_slo("api-availability", "api", "99% succeed", 0.99)


def minute(text: str) -> int:
    """The minute index in the month of an instant like '11-10T12:00'."""
    start = month_range_ms(MONTH)[0]
    return (int(datetime.fromisoformat(f"2026-{text}:00+00:00").timestamp() * 1000) - start) // MINUTE_MS


def hand_month() -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """100 requests a minute, all good, except:
    A  11-10 12:00, 20 minutes with 50 of 100 bad: a page 17 minutes in;
    B  11-20 07:00 and 07:01, one request each, both bad, in a silent stretch (no traffic 00:00-08:00
       but these two): a page without the low-traffic gate (noise), held back with it;
    C  11-25 00:00, 900 minutes with 5 of 100 bad: below every page factor, 10.5 % of the budget (a miss)."""
    size = 30 * 1440
    total = np.full(size, 100, dtype=np.int64)
    bad = np.zeros(size, dtype=np.int64)
    a = minute("11-10T12:00")
    bad[a:a + 20] = 50
    quiet = minute("11-20T00:00")
    total[quiet:quiet + 8 * 60] = 0
    b = minute("11-20T07:00")
    total[b:b + 2] = bad[b:b + 2] = 1
    c = minute("11-25T00:00")
    bad[c:c + 900] = 5
    return minute_frame(total, bad), total, bad


def minute_frame(total: np.ndarray, bad: np.ndarray) -> pl.DataFrame:
    """The month's minute rows of api-availability from its minute series."""
    start = month_range_ms(MONTH)[0]
    return pl.DataFrame({"slo": ["api-availability"] * len(total),
                         "minute": pl.Series(start + np.arange(len(total)) * MINUTE_MS).cast(pl.Datetime("ms", "UTC")),
                         "good": total - bad, "total": total, "server_errors": bad})


def backtest(frame: pl.DataFrame, spec_dir: Path) -> T.MonthBacktest:
    spec = spec_dir / "slos.yaml"
    spec.write_text(SPEC)
    period = C.Period(MONTH, *month_range_ms(MONTH), month_range_ms(MONTH)[1])
    settings = C.Settings()
    chosen = T.policies([T.parse_pair("30m/5m:10")], settings)
    return T.backtest_month(load_specs([spec]), frame, period, settings, chosen)


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> T.MonthBacktest:
    return backtest(hand_month()[0], tmp_path_factory.mktemp("spec"))


def test_the_policies_side_by_side():
    chosen = T.policies([T.parse_pair("30m/5m:10")], C.Settings())
    assert [p.name for p in chosen] == ["tiers, gate 3", "tiers, no gate", "pair 30m/5m:10, gate 3", "budget-state alerts"]
    # the gate 'on' is the default when the configured one is off
    assert T.policies([], C.Settings(alert_min_bad_events=0))[0].min_bad_events == C.DEFAULT_ALERT_MIN_BAD_EVENTS
    # the budget-state alerts take the chain's settings as they are: its gate (0 stays off) and judging floor
    budget_state = T.policies([], C.Settings(alert_min_bad_events=0, min_events=50))[-1]
    assert (budget_state.kind, budget_state.tiers, budget_state.min_bad_events, budget_state.min_events) == (T.BUDGET_STATE, (), 0, 50)
    assert budget_state.to_json() == {
        "name": "budget-state alerts", "kind": "budget_state", "low_traffic_gate": {"min_bad_events": 0}, "min_events": 50,
        "alerts": [{"alert": "budget_critical", "severity": "page"}, {"alert": "budget_warning", "severity": "ticket"},
                   {"alert": "slo_violated", "severity": "page"}, {"alert": "high_burn_rate", "severity": "ticket"},
                   {"alert": "latency_threshold_violated", "severity": "ticket"}]}
    assert chosen[0].to_json()["kind"] == "tiers"


def test_episodes_are_found_at_their_minutes(result):
    outcomes = {o.start_ms: o for o in result.records["tiers, gate 3"].outcomes}
    assert [iso(ms) for ms in sorted(outcomes)] == ["2026-11-10T12:00:00Z", "2026-11-20T07:00:00Z", "2026-11-25T00:00:00Z"]
    a, b, c = (outcomes[k] for k in sorted(outcomes))
    assert iso(a.end_ms) == "2026-11-10T12:20:00Z" and iso(b.end_ms) == "2026-11-20T07:02:00Z" and iso(c.end_ms) == "2026-11-25T15:00:00Z"
    _, total, _ = hand_month()
    allowed = 0.01 * int(total.sum())  # a calendar month: the month's own budget
    assert int(total.sum()) == 30 * 1440 * 100 - 8 * 60 * 100 + 2
    assert a.spent == pytest.approx(1000 / allowed) and b.spent == pytest.approx(2 / allowed)
    assert c.spent == pytest.approx(4500 / allowed) and c.spent > 0.10


def test_a_page_with_a_known_detection_delay(result):
    """1h/5m at 14.4: the 5m window is above from minute 1; the hour holds 50 (k + 1) bad of 6000,
    above 864 from k = 17. The 6h/30m tier (6 %) needs 2160 bad in 6 h: never."""
    a = min(result.records["tiers, gate 3"].outcomes, key=lambda o: o.start_ms)
    assert iso(a.paged_at_ms) == "2026-11-10T12:17:00Z" and a.delay_minutes == 17
    _, total, _ = hand_month()
    assert a.spent_before_page == pytest.approx(18 * 50 / (0.01 * int(total.sum())))  # minutes 0..17 inclusive
    # the pair 30m/5m at 10: the 30 minutes hold 50 (k + 1) bad of 3000, above 300 from k = 6
    pair = min(result.records["pair 30m/5m:10, gate 3"].outcomes, key=lambda o: o.start_ms)
    assert pair.delay_minutes == 6 and pair.spent_before_page == pytest.approx(7 * 50 / (0.01 * int(total.sum())))


def test_a_noise_page_only_without_the_gate_and_a_miss_under_every_policy(result):
    scores = {s.policy: s for s in result.scores()}
    gated, ungated, pair = scores["tiers, gate 3"], scores["tiers, no gate"], scores["pair 30m/5m:10, gate 3"]
    budget_state = scores["budget-state alerts"]
    # A pages once (1h/5m); C tickets twice (1d/2h and 3d/6h both above at minute 864: 5 x 865 > 4320)
    assert (gated.alerts, gated.pages, gated.noise_pages, gated.misses) == (3, 1, 0, 1)
    # B pages on both page tiers (1h/5m and 6h/30m see 2 of 2 bad) from 07:00 until traffic returns at 08:00
    assert (ungated.alerts, ungated.pages, ungated.noise_pages, ungated.misses) == (5, 3, 2, 1)
    assert (pair.alerts, pair.pages, pair.noise_pages, pair.misses) == (1, 1, 0, 1)
    # the budget of the month so far never runs low (A and C spend 2.3 % and 10.5 % of the month's budget by
    # the 10th and the 25th: far from 70 % of the budget so far); two high_burn_rate tickets, A from its
    # second minute (1 h: 100 bad of 6000 > 1.5 x 1 %) and C from its 19th (5 x 19 > 90); B is held back (2 bad < 3)
    assert (budget_state.alerts, budget_state.pages, budget_state.paged_episodes, budget_state.misses) == (2, 0, 0, 1)
    assert budget_state.delay_median_minutes is None and budget_state.noise_pages == 0
    assert gated.episodes == ungated.episodes == 3 and (gated.paged_episodes, ungated.paged_episodes) == (1, 2)
    assert (gated.delay_median_minutes, gated.delay_p90_minutes) == (17, 17)
    assert (ungated.delay_median_minutes, ungated.delay_p90_minutes) == (8.5, pytest.approx(15.3))  # delays 0 and 17
    assert gated.weeks == pytest.approx(30 / 7, abs=1e-4) and gated.pages_per_week == round(7 / 30, 2)
    b = [o for o in result.records["tiers, no gate"].outcomes if iso(o.start_ms) == "2026-11-20T07:00:00Z"]
    assert b[0].delay_minutes == 0
    document = T.document(result, {})
    assert [T.PolicyScore.from_json(row) for row in document["rows"]] == result.scores()  # what the run's summary prints back
    assert [m["start"] for m in document["misses"]] == ["2026-11-25T00:00:00Z"] * 4
    assert [r["policy"] for r in document["rows"]][-1] == "budget-state alerts" and document["policies"][-1]["kind"] == "budget_state"
    assert "| 2026-11 | tiers, no gate | 1.17 | 0.7 | 3 | 2 | 8.5 | 15.3 |" in T.markdown(result.scores())


def test_the_gated_tiers_fire_what_the_chain_replays(result, tmp_path):
    """One replay: the backtest's 'tiers, gate 3' alerts are error_budgets' alerts for the calendar window."""
    spec = tmp_path / "slos.yaml"
    spec.write_text(SPEC)
    frame, _, _ = hand_month()
    period = C.Period(MONTH, *month_range_ms(MONTH), month_range_ms(MONTH)[1])
    (evaluation,) = C.evaluate_all(load_specs([spec]), frame, period, C.Settings())
    assert len(evaluation.alerts) == result.records["tiers, gate 3"].alerts == 3
    assert len(evaluation.alerts_held_back) == 2  # B, on both page tiers
    # and the budget-state row fires exactly the chain's budget alerts
    assert [a.alert for a in evaluation.budget_alerts] == ["high_burn_rate"] * 2 == ["high_burn_rate"] * result.records["budget-state alerts"].alerts


def test_a_budget_critical_page_with_a_known_detection_delay(tmp_path):
    """100 requests a minute, all good, except D, 11-01 01:00, 40 minutes with 50 of 100 bad, and E,
    11-01 12:00, 3 minutes with 10 of 100 bad. The budget so far at D's minute k is 1 % of 100 (61 + k):
    critical when bad so far 50 (k + 1) > 0.9 (61 + k), i.e. from k = 1 (100 > 55.8; at k = 0, 50 < 54.9);
    violated when 50 (k + 1) > 61 + k, from k = 1 too (100 > 62). Critical holds while 2030 > 0.9 (m + 1):
    through E (minute 720), which it detects at once."""
    total = np.full(30 * 1440, 100, dtype=np.int64)
    bad = np.zeros_like(total)
    d, e = minute("11-01T01:00"), minute("11-01T12:00")
    bad[d:d + 40] = 50
    bad[e:e + 3] = 10
    outcome = backtest(minute_frame(total, bad), tmp_path)
    allowed = 0.01 * 100 * 30 * 1440
    first, second = sorted(outcome.records["budget-state alerts"].outcomes, key=lambda o: o.start_ms)
    assert iso(first.start_ms) == "2026-11-01T01:00:00Z" and iso(first.paged_at_ms) == "2026-11-01T01:01:00Z"
    assert first.delay_minutes == 1 and first.spent_before_page == pytest.approx(2 * 50 / allowed)
    assert first.spent == pytest.approx(2000 / allowed)
    assert iso(second.start_ms) == "2026-11-01T12:00:00Z" and second.delay_minutes == 0
    assert second.spent_before_page == pytest.approx(10 / allowed)
    # warning at 01:00 (50 > 0.7 x 61) and again from critical's end; critical and violated page at 01:01; one high_burn_rate
    budget_state = next(s for s in outcome.scores() if s.policy == "budget-state alerts")
    assert (budget_state.alerts, budget_state.pages, budget_state.noise_pages, budget_state.misses) == (5, 2, 0, 0)
    # (100 + 10) / 2, rounded to 6 digits
    assert (budget_state.delay_median_minutes, budget_state.spent_before_page_median) == (0.5, pytest.approx(55 / allowed, abs=1e-6))
    # side by side: the tiers page D later, at k = 8 on 6h/30m (factor 6: the 6 h hold the month's first
    # 61 + k minutes only, 50 (k + 1) > 6 x 1 % x 100 (61 + k) from k = 8), and E not at all
    tiers = sorted(outcome.records["tiers, gate 3"].outcomes, key=lambda o: o.start_ms)
    assert [o.delay_minutes for o in tiers] == [8, None]


def test_a_page_overlapping_no_episode_is_noise():
    """A page whose run holds no minute above the allowance (burn built up by minutes at the allowance)."""
    page = B.Firing("page", "1h", "5m", Decimal("14.4"), 10 * MINUTE_MS, 20 * MINUTE_MS, 20.0)
    ticket = B.Firing("ticket", "1d", "2h", Decimal(3), 10 * MINUTE_MS, 20 * MINUTE_MS, 20.0)
    policy = T.policies([], C.Settings())[0]
    found = [T.Episode(30, 31, 8.0)]  # after the page ended
    record = T.score_window(policy, [page, ticket], found, np.zeros(40), 100.0, 0, ("s", "o", "w"))
    assert (record.alerts, record.pages, record.noise_pages) == (2, 1, 1)
    assert record.outcomes[0].paged_at_ms is None and record.outcomes[0].spent == pytest.approx(0.08)
    touching = T.score_window(policy, [page], [T.Episode(19, 25, 2.0)], np.zeros(40), 100.0, 0, ("s", "o", "w"))
    assert touching.noise_pages == 0 and touching.outcomes[0].delay_minutes == 0  # already paging at its first minute


def test_minutes_without_traffic_neither_extend_nor_break_an_episode():
    total = np.array([10, 0, 0, 10, 10, 0, 10, 10], dtype=np.int64)
    bad = np.array([5, 0, 0, 5, 0, 0, 5, 0], dtype=np.int64)
    found = T.episodes(total - bad, total, Decimal("0.99"), gap_minutes=1)  # one healthy minute breaks
    assert [(e.first, e.last, e.bad) for e in found] == [(0, 3, 10), (6, 6, 5)]  # the silent minutes 1-2 join 0 and 3
    assert T.episodes(total - bad, total, Decimal("0.99"), evaluate_from=1)[0].first == 3  # the lookback is not the month's
    # by default minute 4 (healthy) and 5 (silent) are fewer than 5 healthy minutes: one episode
    assert [(e.first, e.last, e.bad) for e in T.episodes(total - bad, total, Decimal("0.99"))] == [(0, 6, 15)]


def test_an_episode_ends_after_five_healthy_minutes():
    """Bad minutes 0, 5 and 12, minute 8 silent: the four healthy minutes 1-4 join 0 and 5; the five
    healthy minutes 6, 7, 9, 10, 11 end the episode (the silent one is not counted)."""
    total = np.full(13, 10, dtype=np.int64)
    total[8] = 0  # silent: neither extends nor breaks
    bad = np.zeros_like(total)
    bad[[0, 5, 12]] = 5
    found = T.episodes(total - bad, total, Decimal("0.99"))
    assert [(e.first, e.last, e.bad) for e in found] == [(0, 5, 10), (12, 12, 5)]  # minutes 6, 7, 9, 10, 11 are healthy
    bad[11], bad[12] = 5, 0  # minutes 6, 7, 9, 10 are four healthy minutes: one episode
    assert [(e.first, e.last) for e in T.episodes(total - bad, total, Decimal("0.99"))] == [(0, 11)]
    exactly = np.array([100], dtype=np.int64)  # 1 bad of 100 at 99 %: at the allowance, not above it
    assert T.episodes(exactly - 1, exactly, Decimal("0.99")) == []


@pytest.mark.parametrize("text, message", [
    ("30m-5m:10", "write LONG/SHORT:FACTOR"), ("5m/30m:10", "must be shorter"), ("30x/5m:10", "long window"),
    ("30m/5m:0", "above 0"), ("30m/5m:abc", "above 0"), ("30m/5m:nan", "above 0")])
def test_bad_pairs_are_named(text, message):
    with pytest.raises(T.PairError, match=message) as caught:
        T.parse_pair(text)
    assert text in str(caught.value)


def test_a_pair_keeps_its_factor_exact():
    pair = T.parse_pair("2h/10m:14.4")
    assert (pair.long_minutes, pair.short_minutes, pair.exact_factor(28)) == (120, 10, Fraction(72, 5))


def cli(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    environment = {**os.environ, "DAGSTER_HOME": str(tmp_path / ".dagster_home"), "GX_ANALYTICS_ENABLED": "false", **(env or {})}
    for name in ("SLO_ASSETS_START_DATE", "SLO_ASSETS_WAREHOUSE", "SLO_ASSETS_SPECS"):
        environment.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", *args], check=False, capture_output=True, text=True, cwd=tmp_path,
                          env=environment, timeout=600)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


@pytest.mark.xdist_group("backtest_cli")
def test_backtest_through_the_cli_on_a_generated_month(tmp_path):
    from slo_assets.ingest.generate import write_logs

    root = Path(__file__).resolve().parents[2]
    spec = root / "examples" / "slos.yaml"
    truth = write_logs(tmp_path / "logs", "2026-02", 4000, "jsonl", 7)
    assert truth["events"] == 4000
    warehouse = tmp_path / "wh"
    now = {"SLO_ASSETS_NOW": "2026-03-02T00:00:00Z"}
    done = cli(tmp_path, "run", "--logs", str(tmp_path / "logs"), "--spec", str(spec), "--month", "2026-02",
               "--out", str(tmp_path / "out"), "--warehouse", str(warehouse), env=now)
    assert done.returncode == 0, done.stdout + done.stderr
    # the run's summary (the demo's too) ends with the month's table, read from the asset's document
    assert "alert-policy backtest" in done.stdout and "| 2026-02 | budget-state alerts |" in done.stdout
    written = json.loads((warehouse / "alert_backtest" / "2026-02.json").read_text())  # the asset ran with the month
    assert written["period"] == "2026-02" and written["code_version"] == "backtest-2"
    assert [r["policy"] for r in written["rows"]] == ["tiers, gate 3", "tiers, no gate", "budget-state alerts"]
    done = cli(tmp_path, "backtest", "--warehouse", str(warehouse), "--spec", str(spec), "--pair", "30m/5m:10", "--json", env=now)
    assert done.returncode == 0, done.stderr
    rows = {r["policy"]: r for r in json.loads(done.stdout)["rows"]}
    assert list(rows) == ["tiers, gate 3", "tiers, no gate", "pair 30m/5m:10, gate 3", "budget-state alerts"]
    # the CLI and the asset replay the same month the same way
    for policy in ("tiers, no gate", "budget-state alerts"):
        assert rows[policy] == next(r for r in written["rows"] if r["policy"] == policy)
    gated, ungated = rows["tiers, gate 3"], rows["tiers, no gate"]
    assert gated["weeks"] == pytest.approx(28 / 7) and gated["episodes"] == ungated["episodes"] > 0
    assert gated["pages"] <= ungated["pages"] and gated["noise_pages"] <= ungated["noise_pages"]
    table = cli(tmp_path, "backtest", "--warehouse", str(warehouse), "--spec", str(spec), "--month", "2026-02", env=now)
    assert table.returncode == 0 and "| 2026-02 | tiers, gate 3 |" in table.stdout and "| 2026-02 | budget-state alerts |" in table.stdout
    for args, message in ((("--pair", "5m/30m:10"), "--pair '5m/30m:10'"), (("--month", "2026-05"), "--month 2026-05"),
                          (("--warehouse", str(tmp_path / "nothing")), "does not exist"),
                          (("--warehouse", str(tmp_path)), "no sli_minutely")):  # a folder, but no month run into it
        bad = cli(tmp_path, "backtest", "--warehouse", str(warehouse), "--spec", str(spec), *args, env=now)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
    # another spec than the month was run with: one line naming both sides, not a table of zeros
    from tests.openslo import availability_slo, spec_file

    other = tmp_path / "other.yaml"
    other.write_text(spec_file(availability_slo("payments-availability", "payments", "ok", 0.99)))
    wrong = cli(tmp_path, "backtest", "--warehouse", str(warehouse), "--spec", str(other), env=now)
    assert wrong.returncode == 2 and "none of its SLOs (payments-availability) has minutes" in wrong.stderr, wrong.stderr
    assert "which holds" in wrong.stderr and "checkout-availability" in wrong.stderr, wrong.stderr


@pytest.mark.xdist_group("incident_month")  # shares the session's generated February with its four injected incidents
def test_the_injected_error_bursts_are_paged_episodes(incident_month):
    from slo_assets.core.calendar import epoch_ms, month_days
    from slo_assets.defs.warehouse_io import read_days
    from slo_assets.slo.sli import MINUTE_SCHEMA
    from slo_assets.warehouse import layout
    from slo_assets.warehouse.storage import Warehouse

    truth, _, _, _, base = incident_month
    store = Warehouse(base / "out" / "warehouse")
    written = json.loads(layout.ALERT_BACKTEST.path(store, "2026-02").read_bytes())
    specs = load_specs([Path(__file__).resolve().parents[2] / "examples" / "slos.yaml"])
    minutes, days = read_days(store, layout.SLI_MINUTELY, month_days("2026-01") + month_days("2026-02"), MINUTE_SCHEMA)
    settings = C.Settings()
    result = T.backtest_month(specs, minutes, C.data_period("2026-02", days), settings, T.policies([], settings))
    assert [s.to_json() for s in result.scores()] == written["rows"]  # the asset wrote what the core computes
    service = {slo.name: slo.service for slo in specs.slos}
    bursts = [i for i in truth["incidents"] if i["kind"] == "error_burst"]
    assert len(bursts) == 3
    for burst in bursts:
        start, end = epoch_ms(burst["start"]), epoch_ms(burst["end"])
        inside = [o for o in result.records["tiers, gate 3"].outcomes if service[o.slo] == burst["service"] and start <= o.start_ms < end]
        assert inside, burst
        paged = [o.paged_at_ms for o in inside if o.paged_at_ms is not None]
        assert paged and start <= min(paged) < end, burst  # paged during the burst, never before it


def test_the_chart_shows_every_policy_side_by_side(result):
    from slo_assets.outputs import svg_charts

    image = svg_charts.policy_bars([(s.policy, s.pages_per_week, s.noise_pages, s.misses) for s in result.scores()])
    assert image.count('<rect class="pw"') == 4 and "tiers, no gate" in image and "budget-state alerts" in image
    assert "0.7 pages/week, 2 noise, 1 missed" in image and "0.23 pages/week, 0 noise, 1 missed" in image
    assert "no policy" in svg_charts.policy_bars([])


def test_months_are_pooled_not_averaged(result):
    later = T.MonthBacktest("2026-12", result.as_of_ms, result.policies, result.records)
    (gated, *_) = T.pooled([result, later])
    assert gated.months == "2026-11..2026-12" and (gated.alerts, gated.pages, gated.episodes, gated.misses) == (6, 2, 6, 2)
    assert gated.weeks == pytest.approx(60 / 7, abs=1e-4) and gated.delay_median_minutes == 17
    assert T.pooled([]) == []


@pytest.mark.parametrize("command", ["backtest", "run"])
def test_a_negative_or_fractional_event_floor_is_refused_by_name(command, capsys):
    from slo_assets.cli import build_parser

    for value in ("-5", "1.5", "many"):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([command, "--alert-min-bad-events", value] +
                                      (["--logs", "l", "--spec", "s", "--month", "2026-10", "--out", "o"] if command == "run" else []))
        assert exit_.value.code == 2
        assert "--alert-min-bad-events: expected a whole number, 0 or more" in capsys.readouterr().err
