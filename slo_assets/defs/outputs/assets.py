"""The files people open, as monthly assets: report.html, slo_metrics.prom, alerts.rules.yml and the
two Grafana dashboards.

Each output is one `Output` row: its dataset (where the file goes), what it is built from and a
pure renderer returning the file's bytes. Adding an output is a renderer module under
slo_assets/outputs/ plus one row in OUTPUTS. The JSON documents (compliance.json,
error_budgets.json, remediation_plan.json) are written by their own assets into the same folder;
`slo-assets run` copies the folder into OUT/YYYY-MM/.
"""


import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import polars as pl

from slo_assets.core.calendar import iso
from slo_assets.defs.metadata import OWNERS
from slo_assets.defs.partitions import MONTHLY
from slo_assets.defs.resources import SloSettings, WarehouseResource
from slo_assets.defs.warehouse_io import partition_month, required_file, written
from slo_assets.slo.evaluation import MonthEvaluations
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse

# 2: confidence, coverage and target risk shown; 3: latency percentiles; 4: review drafts linked; 5: budget-state alerts,
# throughput, budget adjustments; 6: the alert-policy backtest in the report
OUTPUTS_CODE_VERSION = "outputs-6"


@dataclass(frozen=True)
class Inputs:
    """What a renderer may read: the month, the warehouse and the SLO settings."""

    month: str
    store: Warehouse
    slo_settings: SloSettings

    def document(self, dataset: layout.Dataset) -> dict:
        return json.loads(required_file(self.store, dataset, self.month).read_bytes())


@dataclass(frozen=True)
class Rendered:
    payload: bytes
    summary: str


@dataclass(frozen=True)
class Output:
    dataset: layout.Dataset
    description: str
    deps: tuple[str, ...]
    render: Callable[[Inputs], Rendered]
    kinds: frozenset[str]


def _status_line(month: MonthEvaluations) -> str:
    counts = month.status_counts
    judged = "n/a" if month.compliance_percent is None else f"{month.compliance_percent:g}% compliant"
    state = "closed" if month.period_complete else f"to date, as of {iso(month.as_of_ms)}"
    return (f"{month.period} ({state}): {counts['met']} met, {counts['at_risk']} at risk, {counts['failed']} failed, "
            f"{counts['insufficient_coverage']} insufficient coverage, {counts['insufficient_data']} insufficient data "
            f"of {len(month.windows)} SLO windows; {judged}")


def render_report(inputs: Inputs) -> Rendered:
    from slo_assets.outputs.report import load_month, render

    docs = load_month(inputs.store, inputs.month)
    return Rendered(render(docs).encode(), _status_line(docs.evaluations))


def render_exposition(inputs: Inputs) -> Rendered:
    from slo_assets.outputs.prometheus import exposition
    from slo_assets.slo.quantiles import latency_percentiles

    month = MonthEvaluations.from_documents(inputs.document(layout.COMPLIANCE_REPORT), inputs.document(layout.ERROR_BUDGETS))
    metrics = layout.SLI_METRICS.path(inputs.store, inputs.month)
    latency = latency_percentiles(pl.from_arrow(inputs.store.read_table(metrics))) if metrics.exists() else {}
    payload = exposition(month, latency)
    samples = sum(1 for line in payload.splitlines() if line and not line.startswith(b"#"))
    return Rendered(payload, f"{samples} samples for {len(month.windows)} SLO windows")


def render_rules(inputs: Inputs) -> Rendered:
    from slo_assets.outputs.rules import build_rules, render

    rules = build_rules(inputs.slo_settings.load())
    count = sum(len(group["rules"]) for group in rules["groups"])
    skipped = f", {len(rules['skipped'])} SLOs without a rule" if rules.get("skipped") else ""
    return Rendered(render(rules).encode(), f"{count} rules in {len(rules['groups'])} groups{skipped}")


def _render_dashboard(pick: Callable) -> Callable[[Inputs], Rendered]:
    def render_dashboard(inputs: Inputs) -> Rendered:
        from slo_assets.outputs.grafana import dashboards, queries, render

        board = pick(dashboards(inputs.slo_settings.load()))
        return Rendered(render(board), f"{len(board['panels'])} panels, {len(queries(board))} Prometheus queries")
    return render_dashboard


OUTPUTS: tuple[Output, ...] = (
    Output(layout.REPORT_HTML, "The month's self-contained HTML report: status, budget burn-down and SLI charts, alerts, "
           "incidents and actions per SLO window, latency percentiles", ("compliance_report", "error_budgets", "budget_series",
                                                    "slo_targets", "sli_metrics", "remediation_plan", "remediation_runs",
                                                    "learning_record", "alert_backtest"),
           render_report, frozenset({"html"})),
    Output(layout.PROMETHEUS_EXPOSITION, "Prometheus text exposition of the month's SLIs, budgets, burn rates and "
           "statuses, and the latency SLOs' percentiles (for the node exporter's textfile collector)",
           ("compliance_report", "error_budgets", "sli_metrics"),
           render_exposition, frozenset({"prometheus"})),
    # published with the month's report, so it is refreshed (and automated) with it
    Output(layout.ALERT_RULES, "Prometheus recording and multiwindow burn-rate alerting rules for the spec in force",
           ("slo_specs", "compliance_report"), render_rules, frozenset({"prometheus", "yaml"})),
    # dashboards over slo_metrics.prom and alerts.rules.yml: refreshed with them
    Output(layout.GRAFANA_TRACKING, "Grafana dashboard, SLO tracking: SLI against target, error budget remaining, burn "
           "rates (batch and live from the recording rules) and alerts firing", ("slo_specs", "compliance_report"),
           _render_dashboard(lambda boards: boards.tracking), frozenset({"grafana", "json"})),
    Output(layout.GRAFANA_COMPLIANCE, "Grafana dashboard, compliance reporting: compliance by period, status by SLO, "
           "budget consumed and service health", ("slo_specs", "compliance_report"),
           _render_dashboard(lambda boards: boards.compliance), frozenset({"grafana", "json"})),
)
OUTPUT_KEYS: tuple[str, ...] = tuple(output.dataset.key for output in OUTPUTS)


def output_asset(output: Output) -> dg.AssetsDefinition:
    name = output.dataset.key

    @dg.asset(name=name, group_name="outputs", partitions_def=MONTHLY, deps=list(output.deps),
              kinds=set(output.kinds), code_version=OUTPUTS_CODE_VERSION, owners=OWNERS, description=output.description)
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings) -> dg.MaterializeResult:
        store = warehouse.store()
        month = partition_month(context).key
        rendered = output.render(Inputs(month, store, slo_settings))
        store.write_bytes_atomic(output.dataset.path(store, month), rendered.payload)
        return dg.MaterializeResult(
            data_version=dg.DataVersion(hashlib.sha256(rendered.payload).hexdigest()[:24]),
            metadata={**written(store, output.dataset, month, len(rendered.payload)), "summary": rendered.summary},
        )

    return _asset


OUTPUT_ASSETS = [output_asset(output) for output in OUTPUTS]
