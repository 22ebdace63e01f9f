"""A latency SLO over requests logged without a request time (Apache/nginx combined logs log none):
they are no event (neither fast nor slow, so never failed), but they are counted per minute
(`untimed`) and the window says the logs carry no request time, how many, and how to log one,
instead of "no event in this window"."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from slo_assets.openslo.spec import Condition, Filter, Indicator, Objective, Slo, TimeWindow, load_specs
from slo_assets.slo import chain as C
from slo_assets.slo.evaluation import MonthEvaluations, WindowEvaluation
from slo_assets.slo.sli import MINUTE_FILE_SCHEMA, MINUTE_SCHEMA, day_inputs

SPEC = Path(__file__).resolve().parents[1] / "data" / "matrix" / "slos.yaml"
MONTH = "2026-10"
START, END = C.month_range_ms(MONTH)
CALENDAR = TimeWindow("1M", False, 31)


def _latency_slo() -> tuple[Slo, Objective]:
    objective = Objective("o", "95% under 250 ms", Decimal("0.95"))
    indicator = Indicator("lat", Filter(()), good=Filter((Condition("duration_ms", "lte", 250),)))
    return Slo("lat", "Latency", "svc", "", "Occurrences", indicator, (objective,), (CALENDAR,), (), (), "t:0"), objective


def _minutes(timed: np.ndarray, untimed: np.ndarray) -> pl.DataFrame:
    """A day file's rows of the month from per-minute timed (all fast) and untimed request counts."""
    keep = (timed > 0) | (untimed > 0)
    index = np.flatnonzero(keep)
    return pl.DataFrame({"slo": "lat", "minute": pl.Series(START + index * C.MINUTE_MS).cast(pl.Datetime("ms", "UTC")),
                         "good": timed[keep], "total": timed[keep], "server_errors": 0, "untimed": untimed[keep]},
                        schema=MINUTE_FILE_SCHEMA)


def _evaluate(minutes: pl.DataFrame) -> WindowEvaluation:
    slo, objective = _latency_slo()
    return C.evaluate(slo, objective, CALENDAR, minutes, C.Period(MONTH, START, END, END), C.Settings(simulations=100))


def test_day_inputs_count_a_latency_slos_untimed_requests_and_keep_minutes_holding_only_them():
    slos = {slo.name: slo for slo in load_specs([SPEC]).slos}
    at = [datetime(2026, 11, 2, 10, m, tzinfo=UTC) for m in (0, 0, 1, 1, 2)]
    rows = pl.DataFrame({"ts": at, "service": "site", "operation": "GET /site/page/{id}", "status": [200, 200, 200, 503, 200],
                         "duration_ms": [120.0, None, None, None, 900.0]})
    minutes = day_inputs(rows, [slos["site-latency"], slos["site-availability"]]).minutes
    assert minutes.columns == list(MINUTE_FILE_SCHEMA)
    by_slo = {slo: part.select("minute", "good", "total", "untimed").rows() for (slo,), part in minutes.partition_by("slo", as_dict=True).items()}
    first, second, third = (datetime(2026, 11, 2, 10, m, tzinfo=UTC) for m in range(3))
    # 10:01 holds no latency event, only two untimed requests: the row stays, or the count would be lost
    assert by_slo["site-latency"] == [(first, 1, 1, 1), (second, 0, 0, 2), (third, 0, 1, 0)]
    assert by_slo["site-availability"] == [(first, 2, 2, 0), (second, 1, 2, 0), (third, 1, 1, 0)]  # it counts them all


def test_a_latency_window_over_untimed_requests_says_the_logs_carry_no_request_time():
    size = 31 * 1440
    untimed = np.zeros(size, dtype=np.int64)
    untimed[: 10_000 * 2: 2] = 1  # 10,000 requests, none with a time
    window = _evaluate(_minutes(np.zeros(size, dtype=np.int64), untimed))
    assert (window.events, window.untimed, window.total, window.sli) == (0, 10_000, 0, None)
    assert window.status == "insufficient_data"  # never failed: an untimed request is neither fast nor slow
    note = window.status_note or ""
    assert note.startswith("these logs carry no request time: the 10,000 requests selected have none")
    assert all(how in note for how in ("$request_time", "--log-format upstreaminfo", "%D (microseconds)", "%T", "docs/log-formats.md"))
    period = C.Period(MONTH, START, END, END)
    provenance = {"spec_hash": "h", "code_version": "c"}
    compliance = C.compliance([window], {}, period, {}, provenance, [])
    entry = compliance["slos"][0]
    assert (entry["events"], entry["untimed"], entry["status_note"]) == (0, 10_000, note)
    read_back = MonthEvaluations.from_documents({**compliance, "generated_at": "g"}, C.error_budgets_document([window], period, provenance))
    assert read_back.windows == (window,)


def test_a_window_of_mostly_untimed_requests_says_the_sli_judges_the_timed_ones():
    size = 31 * 1440
    timed, untimed = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
    timed[:200] = 1
    untimed[:800] = 1
    window = _evaluate(_minutes(timed, untimed))
    assert (window.events, window.untimed, window.sli) == (200, 800, 1)
    assert window.status != "failed"
    assert "800 of the 1,000 requests selected carry no request time: the SLI judges the 200 timed ones" in (window.status_note or "")
    timed[:2000] = 1  # most timed: nothing to say
    assert "request time" not in (_evaluate(_minutes(timed, untimed)).status_note or "")


def test_minute_rows_without_the_untimed_column_count_none():
    """A day file written before the column, or a frame of MINUTE_SCHEMA: no untimed request, no note."""
    window = _evaluate(pl.DataFrame(schema=MINUTE_SCHEMA))
    assert (window.events, window.untimed, window.status_note) == (0, 0, None)
    assert WindowEvaluation.from_json({k: v for k, v in window.to_json().items() if k != "untimed"}).untimed == 0


def test_a_day_file_written_before_the_untimed_column_reads_beside_a_new_one(tmp_path):
    from slo_assets.defs.warehouse_io import read_days
    from slo_assets.warehouse import layout
    from slo_assets.warehouse.storage import Warehouse

    store = Warehouse(tmp_path)
    new = _minutes(np.array([0, 3]), np.array([5, 0]))
    store.write_table(layout.SLI_MINUTELY.path(store, "2026-10-01"), new.drop("untimed").to_arrow())  # the older format
    store.write_table(layout.SLI_MINUTELY.path(store, "2026-10-02"), new.to_arrow())
    for days in (["2026-10-01", "2026-10-02"], ["2026-10-02", "2026-10-01"]):
        frame, present = read_days(store, layout.SLI_MINUTELY, days, MINUTE_FILE_SCHEMA)
        assert present == days and frame.schema == pl.Schema(MINUTE_FILE_SCHEMA)
        assert frame["untimed"].to_list() == ([None, None, 5, 0] if days[0] == "2026-10-01" else [5, 0, None, None])
        assert read_days(store, layout.SLI_MINUTELY, days, MINUTE_SCHEMA)[0].columns == list(MINUTE_SCHEMA)


def test_the_reports_window_line_says_the_logs_carry_no_request_time_instead_of_no_event():
    from slo_assets.outputs.report_text import NO_EVENT, no_event_text

    size = 31 * 1440
    untimed = np.zeros(size, dtype=np.int64)
    untimed[:3] = 1
    line = no_event_text(_evaluate(_minutes(np.zeros(size, dtype=np.int64), untimed)))
    assert line.startswith("These logs carry no request time: the 3 requests selected have none") and "No event" not in line
    assert no_event_text(_evaluate(pl.DataFrame(schema=MINUTE_SCHEMA))) == NO_EVENT
