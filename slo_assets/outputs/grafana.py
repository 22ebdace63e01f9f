"""Grafana dashboards from the spec: SLO tracking and compliance reporting, built with the Grafana
Foundation SDK (its builders and models, not hand-written JSON).

Both query a Prometheus data source (a dashboard variable) that scrapes:
- the month's exposition, `slo_metrics.prom` (outputs/prometheus.py): the batch figures computed from
  the logs, refreshed with each report (through the node exporter's textfile collector);
- the recording rules of `alerts.rules.yml` (outputs/rules.py): the live error ratio over each alert
  window, and the `ALERTS` series of its burn-rate alerts.

The SLO tracking dashboard: SLI against target, error budget remaining, burn rates (batch at the end
of the data, and live from the recording rules over the page tier's windows), alerts firing. The
compliance dashboard: compliance of the period (met or at risk among the judged windows, as
compliance.json counts it), each SLO's status over time (a month per report), the period per SLO, the
budget consumed and the service health score. Variables: data source, service and SLO (multi-value),
each listing what the exposition holds; a spec's SLOs are their default options.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from grafana_foundation_sdk.builders import bargauge, stat, statushistory, table, timeseries
from grafana_foundation_sdk.builders import common as gcommon
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from slo_assets.openslo.spec import SpecSet
from slo_assets.slo.burn_windows import alert_tiers

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
SELECT = 'service=~"$service",slo=~"$slo"'
ALERT_NAMES = "SLOBurnRatePage|SLOBurnRateTicket"  # the alerts of outputs/rules.py
# Budget remaining, as the budget-state levels read it: critical under 10 %, warning from 10 % to 30 %.
BUDGET_STEPS = [dm.Threshold(value=None, color="red"), dm.Threshold(value=0.1, color="orange"),
                dm.Threshold(value=0.3, color="green")]
# Each SLO's worst window as one number, for the status history: the higher, the worse.
# insufficient_coverage is worse than no data: the logs held traffic, then lost it
STATUS_CODES = {"met": (0, "green"), "insufficient_data": (1, "gray"), "insufficient_coverage": (2, "purple"), "at_risk": (3, "orange"),
                "failed": (4, "red")}


@dataclass(frozen=True)
class Dashboards:
    tracking: dict
    compliance: dict


def _query(expr: str, legend: str = "", ref: str = "A", instant: bool = False, as_table: bool = False) -> prom.Dataquery:
    query = prom.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    if instant:
        query = query.instant()
    if as_table:
        query = query.format(PromQueryFormat.TABLE)
    return query


def _thresholds(steps: list[dm.Threshold]) -> gd.ThresholdsConfig:
    return gd.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(steps)


def _variables(board: gd.Dashboard) -> gd.Dashboard:
    every = dm.VariableOption(selected=True, text=["All"], value=["$__all"])
    source = gd.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
    service = (gd.QueryVariable("service").label("Service").datasource(DATASOURCE)
               .query({"query": "label_values(slo_target_ratio, service)", "refId": "service"})
               .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).multi(True).include_all(True).all_value(".*").current(every))
    slo = (gd.QueryVariable("slo").label("SLO").datasource(DATASOURCE)
           .query({"query": 'label_values(slo_target_ratio{service=~"$service"}, slo)', "refId": "slo"})
           .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED).multi(True).include_all(True).all_value(".*").current(every))
    return board.with_variable(source).with_variable(service).with_variable(slo)


def _board(title: str, uid: str, description: str, time_from: str) -> gd.Dashboard:
    board = (gd.Dashboard(title).uid(uid).description(description).tags(["slo", "slo-assets"]).editable()
             .time(time_from, "now").refresh("5m").timezone("utc").tooltip(dm.DashboardCursorSync.CROSSHAIR))
    return _variables(board)


def tracking_dashboard(specs: SpecSet) -> gd.Dashboard:
    page = next(t for t in alert_tiers() if t.severity == "page")  # the fastest page tier: 1h and 5m
    # the page's threshold for each SLO period of the spec (14.4 for 30 days, 13.44 for 28 ...)
    factors = sorted({float(page.factor(slo.windows[0].days)) for slo in specs.slos if slo.windows})
    lines = _thresholds([dm.Threshold(value=None, color="transparent")] + [dm.Threshold(value=f, color="red") for f in factors])
    # live burn rate: the recorded error ratio over the error budget (1 - target; the strictest objective)
    budget = f'on(slo) group_left() (1 - max by (slo) (slo_target_ratio{{{SELECT}}}))'
    board = _board("SLO tracking", "slo-assets-tracking",
                   "SLI against target, error budget and burn rates per SLO (slo-assets: slo_metrics.prom and alerts.rules.yml)",
                   "now-7d")
    board = board.with_row(gd.Row("Objectives"))
    board = board.with_panel(
        timeseries.Panel().title("SLI against target").span(12).height(8).unit("percentunit").decimals(3)
        .description("SLI over the SLO window, from the logs (each report refresh), against the objective's target")
        .with_target(_query(f"slo_sli_ratio{{{SELECT}}}", "{{slo}} SLI ({{window}})", "A"))
        .with_target(_query(f"slo_target_ratio{{{SELECT}}}", "{{slo}} target {{objective}}", "B")))
    board = board.with_panel(
        bargauge.Panel().title("Error budget remaining").span(12).height(8).unit("percentunit").min(0).max(1)
        .description("1 - consumed / allowed over the SLO window; under 10 % is critical, under 30 % a warning")
        .thresholds(_thresholds(BUDGET_STEPS)).display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
        .with_target(_query(f"slo_error_budget_remaining_ratio{{{SELECT}}}", "{{slo}} {{objective}} ({{window}})", instant=True)))
    board = board.with_row(gd.Row("Burn rates"))
    board = board.with_panel(
        timeseries.Panel().title(f"Burn rate now ({page.long} and {page.short}, recording rules)").span(12).height(8)
        .description("Error ratio over the window (alerts.rules.yml's recording rules) divided by the error budget; the page "
                     f"fires when both exceed the line ({', '.join(f'{f:g}' for f in factors) or 'none'}: the spec's periods)")
        .thresholds(lines).thresholds_style(gcommon.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
        .with_target(_query(f"slo:sli_error:ratio_rate{page.long}{{{SELECT}}} / {budget}", f"{{{{slo}}}} {page.long}", "A"))
        .with_target(_query(f"slo:sli_error:ratio_rate{page.short}{{{SELECT}}} / {budget}", f"{{{{slo}}}} {page.short}", "B")))
    board = board.with_panel(
        timeseries.Panel().title("Burn rate at the end of the data (batch)").span(12).height(8)
        .description("Burn rate over each alert window at the end of the report's data, from the logs")
        .with_target(_query(f"slo_burn_rate{{{SELECT}}}", "{{slo}} {{burn_window}}")))
    board = board.with_panel(
        timeseries.Panel().title("Latency percentiles (latency SLOs)").span(24).height(7).unit("s")
        .description("Exact p50, p95 and p99 of each latency SLO's timed requests over the month, from the logs")
        .with_target(_query(f"slo_latency_seconds{{{SELECT}}}", "{{slo}} p{{quantile}}")))
    board = board.with_row(gd.Row("Alerts"))
    board = board.with_panel(
        table.Panel().title("Burn-rate alerts firing").span(12).height(8)
        .description("Prometheus' ALERTS series of the generated rules, firing now")
        .with_target(_query(f'ALERTS{{alertname=~"{ALERT_NAMES}",alertstate="firing",{SELECT}}}', instant=True, as_table=True)))
    board = board.with_panel(
        bargauge.Panel().title("Alert firings this period (replayed from the logs)").span(12).height(8)
        .display_mode(common.BarGaugeDisplayMode.BASIC).orientation(common.VizOrientation.HORIZONTAL)
        .with_target(_query(f"slo_alert_firings_total{{{SELECT}}} > 0", "{{slo}} {{severity}}", instant=True)))
    return board


def _status_code() -> str:
    """Each SLO's worst status over its windows (STATUS_CODES): slo_status is 1 for a window's status and
    0 for the others, so each status contributes its code or 0, and the largest is the worst."""
    terms = [f'slo_status{{status="{status}",{SELECT}}} * {code}' for status, (code, _) in STATUS_CODES.items()]
    return f"max by (slo) ({' or '.join(terms)})"


def compliance_dashboard() -> gd.Dashboard:
    judged = f'count(slo_status{{status=~"met|at_risk|failed",{SELECT}}} == 1)'
    compliant = f'count(slo_status{{status=~"met|at_risk",{SELECT}}} == 1)'
    mapping = dm.ValueMap(options={str(code): dm.ValueMappingResult(text=status.replace("_", " "), color=color, index=code)
                                   for status, (code, color) in STATUS_CODES.items()})
    board = _board("SLO compliance", "slo-assets-compliance",
                   "Compliance by period, status per SLO and budget consumed (slo-assets: slo_metrics.prom)", "now-1y")
    board = board.with_row(gd.Row("This period"))
    board = board.with_panel(
        stat.Panel().title("Compliance").span(6).height(6).unit("percent").decimals(1).min(0).max(100)
        .description("SLO windows met or at risk among those judged (insufficient data is not judged), as compliance.json counts")
        .thresholds(_thresholds([dm.Threshold(value=None, color="red"), dm.Threshold(value=90, color="orange"),
                                 dm.Threshold(value=99, color="green")]))
        .with_target(_query(f"100 * ({compliant} or vector(0)) / {judged}", instant=True)))
    board = board.with_panel(
        bargauge.Panel().title("Service health").span(6).height(6).min(0).max(100)
        .description("Mean error budget remaining of the service's SLO windows, 0-100")
        .thresholds(_thresholds([dm.Threshold(value=None, color="red"), dm.Threshold(value=10, color="orange"),
                                 dm.Threshold(value=30, color="green")]))
        .with_target(_query('slo_service_health_score{service=~"$service"}', "{{service}}", instant=True)))
    board = board.with_panel(
        bargauge.Panel().title("Error budget consumed").span(12).height(6).unit("percentunit").min(0)
        .thresholds(_thresholds([dm.Threshold(value=None, color="green"), dm.Threshold(value=0.7, color="orange"),
                                 dm.Threshold(value=1, color="red")]))
        .orientation(common.VizOrientation.HORIZONTAL)
        .with_target(_query(f"slo_error_budget_consumed_ratio{{{SELECT}}}", "{{slo}} {{objective}} ({{window}})", instant=True)))
    board = board.with_row(gd.Row("Over time"))
    board = board.with_panel(
        statushistory.Panel().title("Status by SLO").span(24).height(8).interval("1d").mappings([mapping])
        .description("Each SLO window's status as each report refresh published it: a month per report period")
        .with_target(_query(_status_code(), "{{slo}}")))
    board = board.with_panel(
        timeseries.Panel().title("Compliance by period").span(12).height(8).unit("percent").min(0).max(100).interval("1d")
        .draw_style(common.GraphDrawStyle.BARS)
        .with_target(_query(f"100 * ({compliant} or vector(0)) / {judged}", "compliance")))
    board = board.with_panel(
        table.Panel().title("The period per SLO").span(12).height(8)
        .description("SLI, target, budget consumed and events of each SLO window, from the latest report")
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .with_target(_query(f"slo_sli_ratio{{{SELECT}}}", ref="SLI", instant=True, as_table=True))
        .with_target(_query(f"slo_target_ratio{{{SELECT}}}", ref="target", instant=True, as_table=True))
        .with_target(_query(f"slo_error_budget_consumed_ratio{{{SELECT}}}", ref="consumed", instant=True, as_table=True))
        .with_target(_query(f"slo_events_total{{{SELECT}}}", ref="events", instant=True, as_table=True)))
    return board


def dashboards(specs: SpecSet) -> Dashboards:
    """Both dashboards as Grafana's JSON model (dicts), from the SDK's models."""
    def as_json(builder: gd.Dashboard) -> dict:
        board = builder.build()
        for number, panel in enumerate(board.panels or [], start=1):
            panel.id_val = number  # Grafana keys panel state and links by id
        return json.loads(json.dumps(board, cls=JSONEncoder))
    return Dashboards(as_json(tracking_dashboard(specs)), as_json(compliance_dashboard()))


def render(board: dict) -> bytes:
    return (json.dumps(board, indent=2, sort_keys=True) + "\n").encode()


def queries(board: dict) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every panel target and every query variable."""
    found = [(panel.get("title", ""), target["expr"]) for panel in board.get("panels", [])
             for target in panel.get("targets", []) if target.get("expr")]
    for variable in board.get("templating", {}).get("list", []):
        query = variable.get("query")
        if variable.get("type") == "query" and isinstance(query, dict):
            found.append((f"${variable['name']}", query["query"]))
    return found
