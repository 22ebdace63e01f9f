"""The report's headline counts what was judged: a month with one SLO window met and two without
enough events does not read '100 % SLO windows met' (issue: coverage says what was not measured)."""

from __future__ import annotations

import re
from decimal import Decimal

import polars as pl

from slo_assets.openslo.spec import Filter, Indicator, Objective, Slo, SpecSet, TimeWindow
from slo_assets.outputs.report import MonthDocuments, render
from slo_assets.slo import chain as C
from slo_assets.slo.evaluation import MonthEvaluations
from slo_assets.slo.sli import MINUTE_SCHEMA

MONTH = "2026-12"


def _documents(minutes: pl.DataFrame, specs: SpecSet) -> MonthDocuments:
    start, end = C.month_range_ms(MONTH)
    period = C.Period(MONTH, start, end, end)
    evaluations, series = C.evaluate_with_series(specs, minutes, period, C.Settings(simulations=100))
    quality = {"lines_read": 0, "rows": 0, "quarantined_lines": 0, "quarantine_ratio": 0.0, **C.day_coverage(C.month_days(MONTH), {})}
    provenance = {"spec_hash": "h", "code_version": "c", "input_data_versions": {}}
    compliance = C.compliance(evaluations, {}, period, quality, provenance, [])
    budgets = C.error_budgets_document(evaluations, period, provenance)
    return MonthDocuments(MONTH, MonthEvaluations.from_documents(compliance, budgets), series)


def _slo(name: str, windows: tuple[TimeWindow, ...]) -> Slo:
    objective = (Objective("ok", "99% succeed", Decimal("0.99")),)
    return Slo(name, name, name, "", "Occurrences", Indicator("i", Filter(())), objective, windows, (), (), f"t:{name}")


def test_the_headline_counts_the_judged_windows_and_says_how_many_were_not():
    start, end = C.month_range_ms(MONTH)
    minute = pl.datetime_range(pl.from_epoch(pl.lit(start), "ms"), pl.from_epoch(pl.lit(end - 60_000), "ms"), "1m", eager=True)
    minutes = pl.DataFrame({"slo": "api", "minute": minute, "good": 10, "total": 10, "server_errors": 0}).cast(MINUTE_SCHEMA)
    month_window, week = TimeWindow("1M", False, 31), TimeWindow("7d", True, 7)
    docs = _documents(minutes, SpecSet(slos=[_slo("api", (month_window,)), _slo("idle", (month_window, week))]))
    assert [w.status for w in docs.evaluations.windows] == ["met", "insufficient_data", "insufficient_data"]
    assert docs.evaluations.compliance_percent == 100.0
    html = render(docs)
    headline = re.search(r'<div class="card"><div class="n">100%</div><div>([^<]*)</div>', html)
    assert headline and headline[1] == "of 1 judged SLO window met", html[:3000]
    assert "2 of 3 SLO windows could not be judged: 2 insufficient data" in html
    assert "<div>SLO windows met</div>" not in html
