"""`slo-assets report` and `slo-assets review`: a month's report again, and a quarter's or a year's review."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import replace
from pathlib import Path

from slo_assets.cli.common import (
    INSTANCE_CONFIG,
    InputError,
    _check_writable,
    _guarded,
    _month,
    _project_root,
    existing_warehouse,
    warehouse_location,
    warehouse_option,
)


def _period(value: str) -> str:
    """YYYY-Qn or YYYY, as the review's partition key: a quarter's first month (2026-Q4 -> 2026-10), or the year."""
    quarter = re.fullmatch(r"(\d{4})-Q([1-4])", value)
    if quarter:
        return f"{quarter.group(1)}-{(int(quarter.group(2)) - 1) * 3 + 1:02d}"
    if re.fullmatch(r"\d{4}", value):
        return value
    raise argparse.ArgumentTypeError(f"period must be YYYY-Qn (a quarter) or YYYY (a year), not {value!r}")


def cmd_report(args: argparse.Namespace) -> int:
    from slo_assets.outputs.report import ReportError, write_report

    out = Path(args.out)
    target = out if out.suffix in (".html", ".htm") else out / args.month / "report.html"
    try:
        store = existing_warehouse(args.warehouse)
        _check_writable("--out", target.parent)
        size = write_report(store, args.month, target)
    except (ReportError, InputError) as error:
        print(f"slo-assets report: {error}", file=sys.stderr)
        return 2
    print(f"wrote {target} ({size / 1024:.0f} KiB)")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    """Materialize quarterly_review or yearly_review from the months already run, then copy its two files out."""
    key, warehouse, out = args.period, Path(args.warehouse), Path(args.out)

    def body() -> int:
        from slo_assets.core.calendar import period_label, period_months
        from slo_assets.defs.settings import LocationSettings
        from slo_assets.warehouse import layout
        from slo_assets.warehouse.storage import write_file_atomic

        store = existing_warehouse(warehouse)
        _check_writable("--out", out)
        months = period_months(key)
        run_months = [m for m in months if layout.COMPLIANCE_REPORT.path(store, m).exists()]
        if not run_months:
            raise InputError(f"no month of {period_label(key)} ({months[0]} to {months[-1]}) was run into {warehouse}: "
                             "run `slo-assets run --month YYYY-MM` for its months first")
        location = warehouse_location(str(warehouse))  # a local folder made absolute, an object store URL as it is
        settings = replace(LocationSettings.from_environ(), warehouse=location, earliest_month=months[0])
        from slo_assets.cli.orchestrate import instance_from_env, materialize_review
        from slo_assets.defs.resources import WarehouseResource

        instance = instance_from_env(_project_root() / INSTANCE_CONFIG)
        failed = materialize_review(key, {"warehouse": WarehouseResource(base=location)}, instance, settings=settings)
        if failed:
            raise InputError(f"the review run failed: {failed}")
        yearly = len(key) == 4
        target = out / "reviews" / period_label(key).replace(" ", "-")
        document, page = (layout.YEARLY_REVIEW, layout.YEARLY_REVIEW_HTML) if yearly else (layout.QUARTERLY_REVIEW, layout.QUARTERLY_REVIEW_HTML)
        review = document.path(store, key).read_bytes()
        write_file_atomic(target / layout.file_name(document), review)
        write_file_atomic(target / layout.file_name(page), page.path(store, key).read_bytes())
        summary = json.loads(review)["summary"]
        compliance = "n/a" if summary["compliance_percent"] is None else f"{summary['compliance_percent']:g}%"
        print(f"{period_label(key)}: {len(run_months)} of {len(months)} months run; compliance {compliance}; "
              f"{summary['incidents']} incidents; degrading: {', '.join(summary['degrading']) or 'none'}")
        print(f"  {target / layout.file_name(page)}\n  {target / layout.file_name(document)}")
        return 0

    return _guarded("review", body)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """The commands of this module and their arguments."""
    report = commands.add_parser("report", help="write the self-contained HTML report of a month already run")
    report.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    report.add_argument("--out", required=True, help="an .html file, or a folder: OUT/YYYY-MM/report.html")
    warehouse_option(report, "the warehouse the month was run into")
    report.set_defaults(func=cmd_report)

    review = commands.add_parser("review", help="review a quarter or a year of months already run: compliance, budget, "
                                                "incidents, trend, anomalies (the quarterly_review / yearly_review assets)")
    review.add_argument("--period", type=_period, required=True, help="YYYY-Qn (a quarter) or YYYY (a year)")
    review.add_argument("--out", required=True, help="writes OUT/reviews/PERIOD/review.html and review.json")
    warehouse_option(review, "the warehouse the months were run into")
    review.set_defaults(func=cmd_review)
