"""Quarterly and yearly reviews: the math by hand (trend, robust anomalies, budget over months, compliance,
incidents), an idle quarter, and `slo-assets review` on months run through `slo-assets run`, one of them
before 2020."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from slo_assets.cli.reports import _period
from slo_assets.core.calendar import period_label, period_months
from slo_assets.ingest.generate import write_logs
from slo_assets.outputs.review_report import render_html, to_json
from slo_assets.slo.evaluation import ErrorBudget
from slo_assets.slo.review import anomalies, review, trend
from tests.unit.test_prometheus import MONTH, WINDOW

ROOT = Path(__file__).resolve().parents[2]


def test_periods_and_their_keys():
    assert period_months("2026-10") == ["2026-10", "2026-11", "2026-12"]
    assert period_months("2015")[0] == "2015-01" and len(period_months("2015")) == 12
    assert (period_label("2026-10"), period_label("2026")) == ("2026 Q4", "2026")
    assert (_period("2026-Q4"), _period("2015-Q1"), _period("2024")) == ("2026-10", "2015-01", "2024")
    with pytest.raises(ValueError):
        period_months("2026-11")  # not a quarter's first month
    with pytest.raises(Exception, match="YYYY-Qn"):
        _period("2026-Q5")


def test_trend_is_the_least_squares_slope_in_points_per_month():
    assert trend([0.99, 0.995, 1.0]) == trend([0.99, 0.995, 1.0])
    rising = trend([0.99, 0.995, 1.0])
    assert rising.direction == "improving" and rising.slope_pp_per_month == pytest.approx(0.5)
    # None is skipped, the months keep their place: (0, 99.9) and (2, 99.7) fall by 0.1 point a month
    assert trend([0.999, None, 0.997]).slope_pp_per_month == pytest.approx(-0.1)
    assert trend([0.999, None, 0.997]).direction == "degrading"
    assert trend([0.99, 0.99004]).direction == "flat"  # 0.004 points: under TREND_FLAT_PP
    assert trend([0.99, None, None]).direction == "n/a" and trend([]).slope_pp_per_month is None


def test_anomalies_by_robust_deviation_by_hand():
    days = {"d1": 0.99, "d2": 0.991, "d3": 0.992, "d4": 0.993, "d5": 0.994, "d6": 0.95}
    # median 0.9915, MAD 0.0015: d6 scores 0.6745 x -0.0415 / 0.0015 = -18.66, d5 0.6745 x 0.0025 / 0.0015 = 1.12
    (found,) = anomalies("day", days)
    assert (found.key, found.direction) == ("d6", "below") and found.score == pytest.approx(-18.6612, abs=1e-3)
    # most days perfect: MAD 0, the mean absolute deviation (0.02) stands in: -0.1 / (1.253314 x 0.02) = -3.99
    (dip,) = anomalies("day", {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 0.9})
    assert dip.key == "e" and dip.score == pytest.approx(-3.9894, abs=1e-3)
    # a hair below perfect is measured against the 0.0001 floor: -0.00005 / 0.0001 = -0.5, not news
    assert anomalies("day", {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 0.99995}) == []
    assert anomalies("day", dict.fromkeys("abcdef", 0.99)) == []  # no spread, nothing to flag
    assert anomalies("month", {"a": 0.5, "b": 1.0, "c": 1.0, "d": 1.0}) == []  # under MIN_HISTORY values


def _month(status: str, allowed: float, consumed: float, sli: float | None, window: str = "1M-calendar"):
    evaluated = replace(WINDOW, window=window, status=status, sli=sli,
                        error_budget=ErrorBudget(allowed, consumed, consumed / allowed if allowed else None, None))
    return replace(MONTH, windows=(evaluated,))


def _plan(*incidents: tuple[str, str]) -> dict:
    return {"entries": [{"slo": "api", "incidents": [{"start": s, "end": e, "bad_events": 5} for s, e in incidents]}]}


def test_a_quarter_by_hand():
    months = {"2026-10": _month("met", 10, 5, 0.9995), "2026-11": _month("failed", 10, 20, 0.998)}  # December not run
    plans = {"2026-10": _plan(("2026-10-03T10:00:00Z", "2026-10-03T11:00:00Z")),
             "2026-11": _plan(("2026-11-20T00:00:00Z", "2026-11-20T03:00:00Z"), ("2026-11-21T00:00:00Z", "2026-11-21T00:30:00Z")),
             "2026-09": _plan(("2026-09-30T23:00:00Z", "2026-10-01T01:00:00Z"))}  # began last quarter: not this one's
    period = review("2026-10", months, plans, {})
    (api,) = period.slos
    assert period.label == "2026 Q4" and period.evaluated_months == ("2026-10", "2026-11")
    assert [c.status for c in api.months] == ["met", "failed", None]
    assert api.budget_consumed == pytest.approx(25 / 20)  # (5 + 20) consumed of (10 + 10) allowed
    assert (period.judged, period.compliant, period.compliance_percent) == (2, 1, 50.0)
    assert api.incidents == 3 and api.time_to_recover_minutes == 60  # median of 60, 180 and 30 minutes
    assert api.trend.direction == "degrading" and api.trend.slope_pp_per_month == pytest.approx(-0.15)
    document = json.loads(to_json(period))
    assert document["summary"]["compliance_percent"] == 50.0 and document["slos"][0]["budget_consumed"] == 1.25
    page = render_html(period, {}, [])
    assert "<b>50%</b> compliance: 1 of 2" in page and "2026-12" in page and "125%" in page


def test_a_rolling_window_counts_its_months_but_has_no_period_budget():
    months = {"2026-10": _month("met", 10, 5, 0.9995, window="28d-rolling")}
    (rolling,) = review("2026-10", months, {}, {}).slos
    assert rolling.budget_consumed is None and rolling.count("met") == 1


def test_an_idle_quarter_has_no_compliance_budget_or_trend():
    idle = {m: _month("insufficient_data", 0, 0, None) for m in ("2026-10", "2026-11", "2026-12")}
    period = review("2026-10", idle, {}, {})
    (api,) = period.slos
    assert period.compliance_percent is None and period.judged == 0
    assert api.budget_consumed is None and api.trend.direction == "n/a" and api.anomalies == ()
    assert "No SLO window was judged" in render_html(period, {}, [])


def test_the_review_escapes_names_from_the_spec():
    hostile = replace(WINDOW, slo="<script>x</script>", service="<b>s</b>")
    period = review("2026-10", {"2026-10": replace(MONTH, windows=(hostile,))}, {}, {})
    page = render_html(period, {}, [])
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def _cli(tmp_path: Path, *args: str, now: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "GX_ANALYTICS_ENABLED": "false", "SLO_ASSETS_NOW": now}
    for name in ("SLO_ASSETS_START_DATE", "SLO_ASSETS_WAREHOUSE", "SLO_ASSETS_EARLIEST_MONTH"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "slo_assets.cli", *args], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=600)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def test_review_of_months_run_before_2020_through_the_cli(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    now = "2026-11-15T00:00:00Z"
    for seed, month in enumerate(("2015-01", "2015-02")):
        write_logs(tmp_path / "logs" / month, month, 400, "jsonl", 11 + seed, incidents=1)
        done = _cli(tmp_path, "run", "--logs", str(tmp_path / "logs" / month), "--spec", str(ROOT / "examples" / "slos.yaml"),
                    "--month", month, "--out", "out", "--warehouse", "wh", now=now)
        assert done.returncode in (0, 1), done.stdout + done.stderr
    done = _cli(tmp_path, "review", "--period", "2015-Q1", "--out", "out", "--warehouse", "wh", now=now)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("2015 Q1: 2 of 3 months run; compliance ")
    document = json.loads((tmp_path / "out" / "reviews" / "2015-Q1" / "review.json").read_text())
    compliance = json.loads((tmp_path / "out" / "2015-01" / "compliance.json").read_text())
    assert document["evaluated_months"] == ["2015-01", "2015-02"]
    assert len(document["slos"]) == len(compliance["slos"])  # every SLO window of the spec
    assert {m["month"]: m["status"] for m in document["slos"][0]["months"]}["2015-03"] is None
    assert "SLO review: 2015 Q1" in (tmp_path / "out" / "reviews" / "2015-Q1" / "review.html").read_text()
    year = _cli(tmp_path, "review", "--period", "2015", "--out", "out", "--warehouse", "wh", now=now)
    assert year.returncode == 0 and year.stdout.startswith("2015: 2 of 12 months run"), year.stdout + year.stderr
    # a period with no month run, and one the command cannot read, end as one line and exit 2
    empty = _cli(tmp_path, "review", "--period", "2016-Q2", "--out", "out", "--warehouse", "wh", now=now)
    assert empty.returncode == 2 and "no month of 2016 Q2" in empty.stderr
    wrong = _cli(tmp_path, "review", "--period", "Q1-2015", "--out", "out", "--warehouse", "wh", now=now)
    assert wrong.returncode == 2 and "YYYY-Qn" in wrong.stderr
    missing = _cli(tmp_path, "review", "--period", "2015-Q1", "--out", "out", "--warehouse", "nowhere", now=now)
    assert missing.returncode == 2 and "--warehouse nowhere: does not exist" in missing.stderr
    (tmp_path / "a-file").write_text("not a folder")
    blocked = _cli(tmp_path, "review", "--period", "2015-Q1", "--out", "a-file", "--warehouse", "wh", now=now)
    assert blocked.returncode == 2 and "--out a-file: cannot write there" in blocked.stderr
