"""report.html: self-contained, complete, escaped, reproducible, and rendered by headless Chromium."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from slo_assets.outputs.report import load_month, render
from slo_assets.warehouse.storage import Warehouse
from tests.conftest import run_cli
from tests.tools import needs, tool_path

pytestmark = pytest.mark.xdist_group("incident_month")  # shares the session fixture: one worker builds it

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _report(incident_month) -> tuple[str, Path]:
    base = incident_month[4]
    path = base / "out" / "2026-02" / "report.html"
    return path.read_text(), base


def test_report_is_self_contained_and_covers_the_month(incident_month):
    html, _ = _report(incident_month)
    _, compliance, budgets, _, _ = incident_month
    assert "<script" not in html.lower()
    # nothing fetched at view time: no src/href to a URL (SVG namespace declarations are not fetched)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html, re.IGNORECASE)
    assert "default-src 'none'" in html
    windows = compliance["slos"]
    # the summary chart, then burn-down, burn rate and SLI by day for each window that failed, is at risk or under its coverage floor
    assert html.count("<svg") == 1 + 3 * _needing_attention(windows)
    summary = compliance["summary"]
    for status in ("met", "at_risk", "failed"):
        assert re.search(rf'class="card {status}"><div class="n">{summary[status]}</div>', html)
    for window in windows:
        assert f'id="slo-{window["slo"]}-{window["objective"]}-{window["window"]}"' in html
    assert "Incidents in this window, " in html and "Remediation plan for " in html
    assert "No burn-rate alert fired this month" not in html  # every list names its own period
    assert re.search(r"<h4>Alerts, \d{4}-\d\d-\d\dT[\d:]+Z → ", html)
    first_page = next(a for w in budgets["slos"] if w["status"] in ("failed", "at_risk") for a in w["alerts"] if a["severity"] == "page")
    assert first_page["start"] in html


def test_report_audits_the_budget_adjustments(incident_month):
    """examples/slos.yaml's weekly reindex (Sundays 03:00-04:00 UTC) adjusts both search SLOs: in
    February 2026 its events are on the 1st, 8th, 15th and 22nd."""
    html, _ = _report(incident_month)
    _, compliance, _, _, _ = incident_month
    adjusted = [e for e in compliance["slos"] if e["budget_adjustments"] is not None]
    assert sorted(e["slo"] for e in adjusted) == ["search-availability", "search-minutes-healthy"]
    for entry in adjusted:
        (audit,) = entry["budget_adjustments"]["adjustments"]
        assert (audit["adjustment"], audit["effect"], audit["events"], audit["minutes"]) == ("search-weekly-reindex", "Exclude", 4, 240)
        assert audit["requests"] > 0 and entry["maintenance_excluded_events"] == audit["requests"]
        unadjusted = entry["budget_adjustments"]["unadjusted_error_budget"]
        assert unadjusted["consumed"] - audit["budget_returned"] == pytest.approx(entry["error_budget"]["consumed"])
    (listed,) = compliance["budget_adjustments"]
    assert (listed["name"], listed["slos"]) == ("search-weekly-reindex", ["search-availability", "search-minutes-healthy"])
    assert [e["start"] for e in listed["events"]] == ["2026-02-01T03:00:00Z", "2026-02-08T03:00:00Z", "2026-02-15T03:00:00Z",
                                                       "2026-02-22T03:00:00Z"]
    assert '<section id="adjustments"><h2>Budget adjustments</h2>' in html and '<a href="#adjustments">' in html
    assert html.count("<td>search-weekly-reindex</td>") == 2


def _needing_attention(windows: list[dict]) -> int:
    return sum(w["status"] in ("failed", "at_risk", "insufficient_coverage") for w in windows)


def test_sample_log_lines_are_shown_escaped(incident_month):
    base = incident_month[4]
    docs = load_month(Warehouse(base / "out" / "warehouse"), "2026-02")
    entry = docs.plan["entries"][0]
    hostile = '{"path":"/<script>alert(1)</script>","ua":"\\"><img src=x onerror=alert(2)>"}'
    entry["incidents"][0]["sample_lines"] = [{"source": "evil.log:1", "raw": hostile}]
    html = render(docs)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_report_command_rewrites_the_same_bytes(incident_month):
    html, base = _report(incident_month)
    again = base / "again.html"
    done = run_cli(["report", "--month", "2026-02", "--out", str(again), "--warehouse", str(base / "out" / "warehouse")], base)
    assert done.returncode == 0, done.stderr
    assert again.read_text() == html
    missing = run_cli(["report", "--month", "2025-01", "--out", str(base / "x.html"), "--warehouse", str(base / "out" / "warehouse")], base)
    assert missing.returncode == 2 and "2025-01" in missing.stderr


def _idle_month_inputs():
    """An idle month's compliance and error budgets documents and chart series: no event in any
    window (an idle service, a filter matching nothing)."""
    from decimal import Decimal

    import polars as pl

    from slo_assets.openslo.spec import Filter, Indicator, Objective, Slo, SpecSet, TimeWindow
    from slo_assets.slo import chain as C
    from slo_assets.slo.sli import MINUTE_SCHEMA

    windows = (TimeWindow("1M", False, 30), TimeWindow("7d", True, 7), TimeWindow("28d", True, 28))
    two = (Objective("fast", "99% within 150 ms", Decimal("0.99")), Objective("ok", "95% within 150 ms", Decimal("0.95")))
    slices = (Objective("minutes", "99.5% of good minutes", Decimal("0.995"), time_slice_target=Decimal("0.99")),)
    specs = SpecSet(slos=[Slo("api-latency", "API latency", "api", "", "Occurrences", Indicator("i", Filter(())), two, windows, (), (), "t:0"),
                          Slo("api-minutes", "API minutes", "api", "", "Timeslices", Indicator("i", Filter(())), slices, windows[:1], (), (), "t:1")])
    start, end = C.month_range_ms("2026-12")
    period = C.Period("2026-12", start, end, end)
    evaluations, series = C.evaluate_with_series(specs, pl.DataFrame(schema=MINUTE_SCHEMA), period, C.Settings(simulations=100))
    quality = {"lines_read": 0, "rows": 0, "quarantined_lines": 0, "quarantine_ratio": 0.0, **C.day_coverage(C.month_days("2026-12"), {})}
    provenance = {"spec_hash": "h", "code_version": "c", "input_data_versions": {}}
    compliance = C.compliance(evaluations, {}, period, quality, provenance, [])
    budgets = C.error_budgets_document(evaluations, period, provenance)
    return compliance, budgets, series


def _idle_month_documents() -> MonthDocuments:  # noqa: F821 (imported in the body, read as a string)
    """The idle month as the report reads it."""
    from slo_assets.outputs.report import MonthDocuments
    from slo_assets.slo.evaluation import MonthEvaluations

    compliance, budgets, series = _idle_month_inputs()
    return MonthDocuments("2026-12", MonthEvaluations.from_documents(compliance, budgets), series)


@needs("chromium")
def test_an_idle_month_renders_and_says_why_there_is_no_figure(tmp_path):
    docs = _idle_month_documents()
    assert docs.evaluations.compliance_percent is None
    assert {w.status for w in docs.evaluations.windows} == {"insufficient_data"}
    html = render(docs)  # raised TypeError on compliance_percent None
    count = len(docs.evaluations.windows)
    assert f"No compliance figure this month: {count} of {count} SLO windows could not be judged: {count} insufficient data" in html
    assert html.count("No event in this window") == len(docs.evaluations.windows)
    assert "1970" not in html  # an empty chart keeps the window's own axis
    assert "API latency · 99% within 150 ms · 1M-calendar" in html and "API latency · 95% within 150 ms · 1M-calendar" in html
    assert "0 of 31 days with data; no data: 2026-12-01 → 2026-12-31 (31 days)" in html
    (tmp_path / "idle.html").write_text(html)
    _screenshot(tmp_path / "idle.html", tmp_path, "idle.png", 1)  # the summary chart: no window needs attention


def test_the_backtest_table_closes_the_report_when_the_month_has_one(tmp_path):
    import dataclasses
    import json

    from slo_assets.outputs.report import ReportError
    from slo_assets.slo import backtest as T
    from slo_assets.warehouse import layout

    docs = _idle_month_documents()
    assert 'id="backtest"' not in render(docs)  # a month without alert_backtest
    rows = [T.PolicyScore("tiers, gate 3", "2026-12", 4.4286, 56, 38, 214, 10, 4.0, 15.7, 0.0585, 0.2443, 0, 7),
            T.PolicyScore("budget-state alerts", "2026-12", 4.4286, 65, 10, 214, 26, 0.0, 9.0, 0.0276, 0.2978, 0, 3)]
    html = render(dataclasses.replace(docs, backtest=tuple(rows)))
    section = html[html.index('<section id="backtest">'):]
    assert '<a href="#backtest">' in html and section.index("</section>") < section.index("<footer")
    assert "<td>budget-state alerts</td><td>14.68</td><td>2.26</td><td>214</td><td>26</td><td>0</td><td>9</td><td>2.76%</td>" in section
    assert "<td>tiers, gate 3</td><td>12.65</td><td>8.58</td>" in section and "under 1% of the budget" in section
    # the document read back from the warehouse; a damaged one is named
    compliance, budgets, series = _idle_month_inputs()
    store = Warehouse(tmp_path)
    store.write_table(layout.BUDGET_SERIES.path(store, "2026-12"), series.to_arrow())
    for dataset, document in ((layout.COMPLIANCE_REPORT, compliance), (layout.ERROR_BUDGETS, budgets)):
        store.write_bytes_atomic(dataset.path(store, "2026-12"), json.dumps(document).encode())
    path = layout.ALERT_BACKTEST.path(store, "2026-12")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": [r.to_json() for r in rows]}))
    assert load_month(store, "2026-12").backtest == tuple(rows)
    path.write_text(json.dumps({"rows": [{"policy": "tiers"}]}))
    with pytest.raises(ReportError, match="alert_backtest/2026-12.json: rows"):
        load_month(store, "2026-12")


def _screenshot(page: Path, tmp_path: Path, name: str, charts: int) -> Path:
    """Render `page` in headless Chromium: a screenshot (kept under SLO_ASSETS_SCREENSHOTS if set) and the DOM."""
    browser = tool_path("chromium")
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    keep = os.environ.get("SLO_ASSETS_SCREENSHOTS")
    screenshot = Path(keep) / name if keep else tmp_path / name
    shot = subprocess.run([*common, f"--screenshot={screenshot}", "--window-size=1280,2400", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert screenshot.exists() and screenshot.stat().st_size > 20_000, shot.stderr[-2000:]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0 and dom.stdout.count("<svg") == charts, dom.stderr[-2000:]
    return screenshot


@needs("chromium")
def test_report_renders_in_headless_chromium(incident_month, tmp_path):
    browser = tool_path("chromium")
    _, base = _report(incident_month)
    url = (base / "out" / "2026-02" / "report.html").as_uri()
    profile = tmp_path / "profile"
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    screenshot = tmp_path / "report.png"
    shot = subprocess.run([*common, f"--screenshot={screenshot}", "--window-size=1280,2400", url],
                          capture_output=True, text=True, timeout=120)
    assert screenshot.exists() and screenshot.stat().st_size > 20_000, shot.stderr[-2000:]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    _, compliance, _, _, _ = incident_month
    assert dom.stdout.count("<svg") == 1 + 3 * _needing_attention(compliance["slos"])  # the browser parsed every chart
    assert "<title>SLO report 2026-02</title>" in dom.stdout
    console = [line for line in (shot.stderr + dom.stderr).splitlines()
               if "CONSOLE" in line or "Uncaught" in line or "Refused to" in line]
    assert console == [], console


def test_drawn_points_keep_every_burn_rate_spike():
    import polars as pl

    from slo_assets.outputs.report import _coarsen

    series = pl.DataFrame({"ts": [0, 300_000, 600_000, 900_000, 1_200_000], "remaining_ratio": [1.0, 0.9, 0.8, 0.8, 0.7],
                           "burn_1h": [0.0, 50.0, 1.0, 2.0, 0.0], "burn_6h": [0.0, 5.0, 1.0, 0.0, 3.0]})
    drawn = _coarsen(series, every=3)
    assert drawn["ts"].to_list() == [0, 900_000]
    assert drawn["burn_1h"].to_list() == [50.0, 2.0] and drawn["burn_6h"].to_list() == [5.0, 3.0]
    assert drawn["remaining_ratio"].to_list() == [0.8, 0.7]  # the budget left at each point's end


def test_the_burn_down_overview_has_one_colour_and_one_legend_entry_per_window():
    import re
    from urllib.parse import unquote

    from slo_assets.core.calendar import month_range_ms
    from slo_assets.outputs import charts, svg_charts

    docs = _idle_month_documents()
    windows = list(docs.evaluations.windows)
    start, end = month_range_ms("2026-12")
    panels = [([start + i * 300_000 for i in range(3)], [1.0, 0.9 - n / 100, 0.8 - n / 100], w) for n, w in enumerate(windows)]
    panels.append(([], [], windows[0]))  # a window without data is still named
    chart = svg_charts.burn_down_overview(panels, start, end)
    legend = re.findall(r'<text class="t" x="\d+" y="\d+" text-anchor="start">([^<]*)</text>', chart)
    assert legend == [f"{w.label}: insufficient data" for w in windows] + [f"{windows[0].label}: insufficient data (no data)"]
    colours = re.findall(r"svg\.c \.w\d+\{fill:none;stroke:(#[0-9a-f]{6})", chart)
    assert len(set(colours)) == len(panels)  # one colour each, not one per status
    assert chart.count("<polyline") == len(windows)
    markdown = charts.burn_down_markdown(windows, docs.series, end)
    assert markdown.startswith("![chart](<data:image/svg+xml;utf8,") and "burn-down per SLO window" in markdown
    image = unquote(markdown[len("![chart](<data:image/svg+xml;utf8,"):markdown.index(">) ")])
    assert image.startswith('<svg class="c"') and "<style>" in image and image.endswith("</svg>")  # stands alone
    bars = unquote(charts.summary_markdown(windows))
    assert "<style>" in bars and bars.count("<rect class=") == len(windows)


def test_a_damaged_document_is_named_not_a_traceback(tmp_path):
    from slo_assets.outputs.report import ReportError
    from slo_assets.warehouse import layout

    docs = _idle_month_documents()
    store = Warehouse(tmp_path)
    store.write_table(layout.BUDGET_SERIES.path(store, "2026-12"), docs.series.to_arrow())
    for dataset in (layout.COMPLIANCE_REPORT, layout.ERROR_BUDGETS):
        store.write_bytes_atomic(dataset.path(store, "2026-12"), b"{}")
    with pytest.raises(ReportError, match=r"outputs/2026-12/compliance.json / .*outputs/2026-12/error_budgets.json: KeyError: 'slos'"):
        load_month(store, "2026-12")
    store.write_bytes_atomic(layout.COMPLIANCE_REPORT.path(store, "2026-12"), b"{not json")
    with pytest.raises(ReportError, match=r"outputs/2026-12/compliance.json: not JSON"):
        load_month(store, "2026-12")


def test_only_windows_needing_attention_are_drawn_and_long_alert_lists_are_capped():
    from dataclasses import replace

    from slo_assets.outputs import report
    from slo_assets.slo.evaluation import Alert

    docs = _idle_month_documents()
    first, *rest = docs.evaluations.windows
    alerts = tuple(Alert("ticket", "1d", "2h", 3, first.window_start_ms + i * 3_600_000, first.window_start_ms + i * 3_600_000 + 60_000,
                         1, 3.5) for i in range(report.MAX_ALERT_ROWS + 7))
    failing = replace(first, status="failed", label="<script>x</script> window", alerts=alerts)
    html = render(replace(docs, evaluations=replace(docs.evaluations, windows=(failing, *rest))))
    assert html.count("<svg") == 1 + 3  # the summary, then the failing window's three charts
    alerts_table = html.split("<h4>Alerts, ")[1].split("</table>")[0]
    assert alerts_table.count("<tr>") == 1 + report.MAX_ALERT_ROWS  # the header, then the first rows
    assert f"{report.MAX_ALERT_ROWS} of {report.MAX_ALERT_ROWS + 7} alerts shown; error_budgets.json lists all." in html
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt; window" in html
    for window in docs.evaluations.windows:  # every window keeps its anchor
        assert html.count(f'id="{report._anchor(window)}"') == 1


def test_charts_have_a_bounded_number_of_points_whatever_the_series_length():
    from slo_assets.outputs import svg_charts

    ts = list(range(0, 9000 * 300_000, 300_000))
    chart = svg_charts.burn_down(ts[::56], [1 - i / 160 for i in range(len(ts[::56]))], 0, ts[-1], ts[-1], 0.0, 1.0, 1.0)
    points = chart.split('points="')[1].split('"')[0].split()
    assert len(points) == len(ts[::56]) and chart.startswith("<svg") and chart.endswith("</svg>")
    spans = svg_charts.merged_spans([(0, 10), (12, 20), (100, 110)], gap_ms=5)
    assert spans == [(0, 20), (100, 110)]


def test_latency_slos_show_their_exact_percentiles_in_the_report_and_the_exposition(incident_month):
    """p50/p95/p99 of each latency SLO, as sli_metrics computed them, in report.html and slo_metrics.prom."""
    import polars as pl
    from prometheus_client.parser import text_string_to_metric_families

    html, base = _report(incident_month)
    metrics = pl.read_parquet(base / "out" / "warehouse" / "sli_metrics" / "2026-02.parquet").filter(pl.col("kind") == "latency")
    assert metrics.height >= 1 and "<h3>Latency percentiles</h3>" in html
    exposed = {(s.labels["slo"], s.labels["quantile"]): s.value
               for f in text_string_to_metric_families((base / "out" / "2026-02" / "slo_metrics.prom").read_text())
               if f.name == "slo_latency_seconds" for s in f.samples}
    for row in metrics.iter_rows(named=True):
        cells = "".join(f"<td>{row[c]:,.1f} ms</td>" for c in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms"))
        assert f"<td>{row['slo']}</td>{cells}<td>{row['latency_samples']:,}</td>" in html
        for quantile, column in (("0.5", "latency_p50_ms"), ("0.95", "latency_p95_ms"), ("0.99", "latency_p99_ms")):
            assert exposed[(row["slo"], quantile)] == pytest.approx(row[column] / 1000)
    assert {slo for slo, _ in exposed} == set(metrics["slo"])  # availability SLOs have none
