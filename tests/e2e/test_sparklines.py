"""The asset page's inline charts: each short enough for the UI to show in place, one colour per
window, the same colour for a window in every chart, and no chart breaks on an idle window."""

from __future__ import annotations

from urllib.parse import unquote

import polars as pl
import pytest

from slo_assets.outputs import sparklines as S

pytestmark = pytest.mark.xdist_group("incident_month")  # shares the session fixture: one worker builds it


def test_a_long_series_stays_under_the_inline_limit_and_gaps_break_the_line():
    values = [1 - i / 9000 for i in range(6000)] + [None] * 2000 + [0.0] * 900  # a day without data
    text = S.markdown(S.svg(values, S.colour(0), -0.5, 1.0, guide=0.0), "failed, 0.0% of the budget left")
    assert S.fits_inline(text)
    image = unquote(text[text.index("utf8,") + 5:text.index(">)")])
    assert image.count("<polyline") == 2  # the gap splits it
    assert image.startswith("<svg") and image.endswith("</svg>")


def test_values_outside_the_scale_are_clipped_into_the_picture():
    image = S.svg([5.0, -5.0], "#000000", 0.0, 1.0)
    ys = [int(point.split(",")[1]) for point in image.split("points='")[1].split("'")[0].split()]
    assert all(S.PAD <= y <= S.HEIGHT - S.PAD for y in ys)


def test_each_window_has_its_own_colour_in_both_charts(incident_month):
    from slo_assets.slo.evaluation import load_evaluations
    from slo_assets.warehouse import layout
    from slo_assets.warehouse.storage import Warehouse

    *_, base = incident_month
    store = Warehouse(base / "out" / "warehouse")
    evaluations = load_evaluations(layout.WINDOW_EVALUATIONS.path(store, "2026-02").read_bytes())
    series = pl.read_parquet(str(layout.BUDGET_SERIES.path(store, "2026-02")))
    burn, sli = S.burn_down_charts(evaluations, series), S.sli_charts(evaluations, series)
    assert len(burn) == len(sli) == min(len(evaluations), S.MAX_WINDOWS)
    assert [c.name for c in burn] == [f"burn_down · {e.label}" for e in evaluations[:S.MAX_WINDOWS]]
    for index, (a, b) in enumerate(zip(burn, sli, strict=True)):
        assert S.fits_inline(a.markdown) and S.fits_inline(b.markdown), a.name
        colour = S.colour(index).replace("#", "%23")
        assert colour in a.markdown and colour in b.markdown


def test_an_idle_window_draws_an_empty_frame():
    from slo_assets.slo import chain as C

    assert "<polyline" not in S.svg([], S.colour(1), 0.0, 1.0)
    assert S.sli_charts([], pl.DataFrame(schema=C.SERIES_SCHEMA)) == []


def test_a_month_of_many_windows_charts_the_worst_ones_in_spec_order():
    from dataclasses import replace

    from slo_assets.slo.evaluation import ErrorBudget
    from tests.e2e.test_report import _idle_month_documents

    template = _idle_month_documents().evaluations.windows[0]
    windows = [replace(template, slo=f"s{i}", label=f"s{i}", error_budget=ErrorBudget(1, i % 7, (i % 7) / 7, 1 - (i % 7) / 7))
               for i in range(60)]
    series = pl.DataFrame(schema={"slo": pl.String, "objective": pl.String, "window": pl.String} | {
        "ts": pl.Int64, "good": pl.Float64, "total": pl.Float64, "remaining_ratio": pl.Float64, "burn_1h": pl.Float64, "burn_6h": pl.Float64})
    charts = S.burn_down_charts(windows, series)
    worst = sorted(range(60), key=lambda i: (-(i % 7), i))[:S.MAX_WINDOWS]  # most consumed, then spec order
    assert [c.name for c in charts] == [f"burn_down · s{i}" for i in sorted(worst)]
