"""quarterly_review and yearly_review: a period's months read back from the warehouse and reviewed
(slo/review.py), written as review.json and review.html (outputs/review_report.py).

Partitioned by quarter (the key is the quarter's first month) and by year; each depends on the
months' compliance, budgets and plans and on the days' minute aggregates, so the UI shows a review
stale when a month of it is re-run. A month not evaluated yet is listed as such, not guessed.
"""

import hashlib
import json

import dagster as dg
import polars as pl

from slo_assets.core.calendar import month_days, period_label, period_months
from slo_assets.core.markdown import table
from slo_assets.defs.metadata import OWNERS
from slo_assets.defs.partitions import QUARTERLY, YEARLY
from slo_assets.defs.resources import WarehouseResource
from slo_assets.defs.warehouse_io import read_days, written
from slo_assets.outputs.review_report import render_html, to_json
from slo_assets.slo.evaluation import MonthEvaluations
from slo_assets.slo.review import PeriodReview, review
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse

REVIEWS_CODE_VERSION = "reviews-1"
MONTHLY_INPUTS = ("compliance_report", "error_budgets", "remediation_plan")


def _document(store: Warehouse, dataset: layout.Dataset, month: str) -> dict | None:
    path = dataset.path(store, month)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_bytes())
    except ValueError as error:
        raise dg.Failure(f"{path}: not JSON ({error}); re-run the month {month}") from error


def daily_sli(store: Warehouse, days: list[str]) -> dict[str, dict[str, float]]:
    """SLO -> day -> SLI (good / total events of the day) from the days' minute aggregates."""
    minutes, _ = read_days(store, layout.SLI_MINUTELY, days, {"slo": pl.String, "minute": pl.Datetime("ms", "UTC"),
                                                               "good": pl.Int64, "total": pl.Int64})
    if minutes.is_empty():
        return {}
    per_day = (minutes.group_by("slo", pl.col("minute").dt.date().alias("day"))
               .agg(pl.col("good").sum(), pl.col("total").sum()).filter(pl.col("total") > 0).sort("slo", "day"))
    found: dict[str, dict[str, float]] = {}
    for slo, day, good, total in per_day.iter_rows():
        found.setdefault(slo, {})[day.isoformat()] = good / total
    return found


def build_review(store: Warehouse, key: str) -> tuple[PeriodReview, dict[str, dict[str, float]], list[str]]:
    months, plans = {}, {}
    for month in period_months(key):
        compliance, budgets = _document(store, layout.COMPLIANCE_REPORT, month), _document(store, layout.ERROR_BUDGETS, month)
        if compliance is not None and budgets is not None:
            months[month] = MonthEvaluations.from_documents(compliance, budgets, f"{month}: compliance.json / error_budgets.json")
            plans[month] = _document(store, layout.REMEDIATION_PLAN, month)
    days = [d for m in period_months(key) for d in month_days(m)]
    daily = daily_sli(store, days)
    return review(key, months, plans, daily), daily, days


def _review_asset(name: str, partitions: dg.PartitionsDefinition, json_dataset: layout.Dataset, html_dataset: layout.Dataset,
                  grain: str) -> dg.AssetsDefinition:
    @dg.asset(name=name, group_name="reviews", partitions_def=partitions, deps=[*MONTHLY_INPUTS, "sli_minutely"],
              kinds={"html", "json"}, code_version=REVIEWS_CODE_VERSION, owners=OWNERS,
              description=f"The {grain}'s review: compliance, budget consumed, incidents, time to recover, trend and anomalies "
                          "per SLO, with an executive summary (review.json, review.html)")
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        store = warehouse.store()
        key = context.partition_key
        period, daily, days = build_review(store, key)
        document, page = to_json(period), render_html(period, daily, days).encode()
        store.write_bytes_atomic(json_dataset.path(store, key), document)
        store.write_bytes_atomic(html_dataset.path(store, key), page)
        rows = [(r.slo, r.objective, r.window, " ".join((c.status or "-")[:1] for c in r.months),
                 "n/a" if r.budget_consumed is None else f"{r.budget_consumed:.0%}", r.incidents, r.trend.direction)
                for r in period.slos]
        return dg.MaterializeResult(
            data_version=dg.DataVersion(hashlib.sha256(document).hexdigest()[:24]),
            metadata={
                **written(store, html_dataset, key, len(page)),
                "period": period_label(key),
                "months_evaluated": len(period.evaluated_months),
                "compliance_percent": period.compliance_percent if period.compliance_percent is not None else "n/a",
                "incidents": period.incidents,
                "degrading": ", ".join(sorted({r.slo for r in period.degrading()})) or "none",
                "slos": dg.MetadataValue.md(table(["slo", "objective", "window", "months (m/a/f/i)", "budget consumed",
                                                   "incidents", "trend"], rows) if rows else "no SLO window was evaluated"),
            },
        )

    return _asset


quarterly_review = _review_asset("quarterly_review", QUARTERLY, layout.QUARTERLY_REVIEW, layout.QUARTERLY_REVIEW_HTML,
                                 "quarter")
yearly_review = _review_asset("yearly_review", YEARLY, layout.YEARLY_REVIEW, layout.YEARLY_REVIEW_HTML, "year")
REVIEW_ASSETS = [quarterly_review, yearly_review]
