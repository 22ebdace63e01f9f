"""The generated alert rules proven against the replay with `promtool test rules`
(slo_assets/slo/rules_proof.py): a month where both agree at every sampled minute, a deliberately
changed threshold that makes them disagree, naming the SLO, the minute and both answers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import yaml

from slo_assets.openslo.spec import load_specs
from slo_assets.outputs.rules import build_rules, render
from slo_assets.slo import chain as C
from slo_assets.slo.rules_proof import (
    duration_ms,
    month_document,
    run_promtool,
    sampled_minutes,
    slo_proof,
)
from tests.openslo import availability_slo, spec_file
from tests.tools import needs, tool_path

PROMTOOL = tool_path("promtool")
needs_promtool = needs("promtool")
SPEC = spec_file(availability_slo("shop-availability", "shop", "99.9% succeed", 0.999),
                 availability_slo("shop-minutes", "shop", "99% of minutes", 0.99, slice_target=0.9))
START, END = C.month_range_ms("2026-11")
AS_OF = START + 12 * C.DAY_MS  # the month to 2026-11-13: 3 + 12 days of series keep promtool to seconds
INCIDENT = 10 * 1440 + 600  # 2026-11-11 10:00, minutes from the month start


def _minutes(slo: str) -> pl.DataFrame:
    """100 requests a minute; one 5xx every 97th minute; 20 % 5xx on 2026-11-11 10:00-10:39 (a page);
    1 % for 5 hours from 2026-11-12 08:00 (10x a 99.9 % budget: the 6h page tier and tickets)."""
    replay_start = START - 3 * C.DAY_MS
    size = (AS_OF - replay_start) // C.MINUTE_MS
    errors = np.zeros(size, dtype=np.int64)
    errors[::97] = 1
    first = 3 * 1440 + INCIDENT
    errors[first:first + 40] = 20
    errors[first + 1320:first + 1320 + 300] = 1
    total = np.full(size, 100, dtype=np.int64)
    minute = pl.Series(replay_start + np.arange(size) * C.MINUTE_MS).cast(pl.Datetime("ms", "UTC"))
    return pl.DataFrame({"slo": slo, "minute": minute, "good": total - errors, "total": total, "server_errors": errors})


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "slos.yaml"
    path.write_text(SPEC)
    specs = load_specs([path])
    rules = build_rules(specs)
    period = C.Period("2026-11", START, END, AS_OF)
    proofs = []
    for slo in specs.slos:
        alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r and r["labels"]["slo"] == slo.name]
        proofs.append(slo_proof(slo, alerts, _minutes(slo.name), period, C.Settings()))
    return proofs, rules


def test_the_proof_samples_inside_and_around_each_firing(month):
    proofs, _ = month
    shop, minutes = proofs
    assert minutes.skipped == "Timeslices: the replay counts slices, the rules requests"
    assert shop.skipped is None and shop.firings >= 3 and shop.unsampled_firings == 0
    document = month_document(proofs)
    checks = document["tests"][0]["alert_rule_test"]
    pages = [c for c in checks if c["alertname"] == "SLOBurnRatePage"]
    assert any(c["exp_alerts"] for c in pages) and any(not c["exp_alerts"] for c in pages)
    assert all(int(c["eval_time"][:-1]) % 15 == 0 for c in checks)  # evaluated on the 15-minute grid
    # the series: a counter sample every 5 minutes, the first 0, the next the 5 minutes before it
    values = document["tests"][0]["input_series"][1]["values"].split()
    assert values[:2] == ["0", "1"] and len(values) == (AS_OF - START + 3 * C.DAY_MS) // (5 * C.MINUTE_MS) + 1


def test_sampled_minutes_by_hand():
    # a run [100, 140): inside 104 (first on the grid), 119 (middle), 134 (last); around 89 and 149; spread from 0
    minutes, unsampled = sampled_minutes([(100, 140), (200, 203)], 0, 300)
    assert {89, 104, 119, 134, 149} <= set(minutes) and unsampled == 1  # [200, 203) holds no minute of the grid
    assert duration_ms("1d2h35m") == ((24 + 2) * 60 + 35) * 60_000


@needs_promtool
def test_rules_and_replay_agree_at_every_sampled_minute(month, tmp_path):
    proofs, rules = month
    outcome = run_promtool(PROMTOOL, tmp_path, render(rules), proofs)
    assert outcome.agreed, [d.text() for d in outcome.disagreements] + list(outcome.errors)
    assert outcome.checks == 2 * len(proofs[0].sampled)
    # the sli group before the alerts group at every step (promtool's own order is arbitrary)
    written = yaml.safe_load((tmp_path / "proof.yml").read_text())
    assert written["group_eval_order"] == ["slo-shop-availability-sli", "slo-shop-availability-alerts",
                                           "slo-shop-availability-budget"]


@needs_promtool
def test_a_changed_threshold_fails_naming_the_slo_the_minute_and_both_answers(month, tmp_path):
    proofs, rules = month
    text = render(rules)
    assert "> 0.0144\n" in text
    outcome = run_promtool(PROMTOOL, tmp_path, text.replace("> 0.0144\n", "> 0.144\n"), proofs)  # the 1h page tier at 144x
    assert not outcome.agreed and not outcome.errors
    first = outcome.disagreements[0]
    # 20 % errors burn 200x, but the 1h window reaches 14.4 % only after 43 of its minutes: at 10:14 (the first minute on
    # the grid) it holds 15 x 20 + 1 bad of 6,000 (5 %): the replay pages at 14.4x, the changed rule does not
    assert (first.slo, first.minute, first.alertname) == ("shop-availability", "2026-11-11T10:14:00Z", "SLOBurnRatePage")
    assert 'long_window="1h"' in first.replay and 'long_window="1h"' not in first.rules
    assert "shop-availability at 2026-11-11T10:14:00Z (SLOBurnRatePage): replay [" in first.text()
