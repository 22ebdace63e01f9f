"""The Grafana dashboards: Grafana's own models read them back whole, every query is PromQL that promtool
accepts and names only series that slo_metrics.prom or alerts.rules.yml give, and the compliance,
status and burn-rate queries compute, in promtool's own evaluator, the values worked out by hand."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm
from prometheus_client.parser import text_string_to_metric_families

from slo_assets.openslo.spec import load_specs
from slo_assets.outputs import grafana
from slo_assets.outputs.prometheus import exposition
from slo_assets.outputs.rules import build_rules
from tests.unit.test_prometheus import MONTH
from tests.unit.test_rules import PROMTOOL, needs_promtool

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "slos.yaml"
BOARDS = grafana.dashboards(load_specs([SPEC]))
# What Grafana puts in a variable before Prometheus sees the query (an "All" selection is the all value).
VARIABLES = {"$service": ".*", "$slo": ".*"}


def _promql(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def _every_query() -> list[tuple[str, str]]:
    return [(f"{board['title']}: {title}", expr) for board in (BOARDS.tracking, BOARDS.compliance)
            for title, expr in grafana.queries(board)]


@pytest.mark.parametrize("board", [BOARDS.tracking, BOARDS.compliance], ids=["tracking", "compliance"])
def test_grafanas_models_read_each_dashboard_back_whole(board):
    back = json.loads(json.dumps(dm.Dashboard.from_json(board), cls=JSONEncoder))
    assert back == board  # a field the model does not know would be dropped here
    assert json.loads(grafana.render(board)) == board
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    assert all(p["targets"] and all(t["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for t in p["targets"])
               for p in panels)
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource", "service", "slo"]
    # the grid: panels of a row side by side, never overlapping, within Grafana's 24 columns
    cells = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & area, panel["title"]
        cells |= area


def test_a_field_grafana_does_not_know_is_caught_by_the_round_trip():
    board = json.loads(json.dumps(BOARDS.tracking))
    board["panels"][1]["gridPoz"] = board["panels"][1].pop("gridPos")
    assert json.loads(json.dumps(dm.Dashboard.from_json(board), cls=JSONEncoder)) != board


def test_the_page_threshold_line_follows_the_specs_periods():
    (panel,) = [p for p in BOARDS.tracking["panels"] if p["title"].startswith("Burn rate now")]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    # examples/slos.yaml has 30-day and 28-day periods: 0.02 x 720 h / 1 h and 0.02 x 672 h / 1 h
    assert [s["value"] for s in steps[1:]] == [13.44, 14.4]
    assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "dashed"}


def test_every_query_names_only_series_the_outputs_give():
    exposed = {family.name for family in text_string_to_metric_families(exposition(MONTH).decode())}
    exposed |= {f"{name}_total" for name in exposed}  # counters are exposed with their _total samples
    rules = build_rules(load_specs([SPEC]))
    recorded = {rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule}
    known = exposed | recorded | {"ALERTS"}
    for where, expr in _every_query():
        names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", _selectors_only(expr))) - {"or", "and", "unless"}
        assert names and names <= known, (where, names - known)


def _selectors_only(expr: str) -> str:
    """The query without strings, label matchers, grouping label lists and function names: metric names remain."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\b(by|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"[a-zA-Z_]+\s*\(", "(", expr)  # functions and aggregations
    return re.sub(r",\s*[a-zA-Z_]+\s*\)", ")", expr)  # label_values(metric, label): the label


@needs_promtool
def test_promtool_accepts_every_panel_query(tmp_path):
    rules = {"groups": [{"name": "grafana-panels", "rules": [
        {"record": f"grafana:query_{i}", "expr": _promql(expr)} for i, (_, expr) in enumerate(_every_query())
        if not expr.startswith("label_values(")]}]}
    path = tmp_path / "panels.rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(rules['groups'][0]['rules'])} rules found" in done.stdout


def _panel_query(board: dict, title: str, index: int = 0) -> str:
    (panel,) = [p for p in board["panels"] if p.get("title") == title]
    return _promql(panel["targets"][index]["expr"])


@needs_promtool
def test_compliance_status_and_burn_queries_give_the_hand_computed_values(tmp_path):
    """Four SLOs: a met, b failed, c without data, e under its coverage floor; d has two windows, met and at risk.
    Compliance is met or at risk among the judged windows (neither c nor e is judged): (a, d met, d at risk) of
    (a, b, d, d) = 75 %. Each SLO's status code is its worst window's: a met 0, b failed 4, c insufficient data 1,
    e insufficient coverage 2, d at risk 3. A 1h error ratio of 0.25 against an
    87.5 % target (a budget of 0.125) is a burn rate of 2; of two objectives (50 % and 87.5 %) the strictest counts."""
    def status(slo: str, window: str, current: str) -> list[dict]:
        return [{"series": f'slo_status{{slo="{slo}",service="s",objective="o",window="{window}",status="{s}"}}',
                 "values": "1" if s == current else "0"} for s in grafana.STATUS_CODES]
    series = (status("a", "w", "met") + status("b", "w", "failed") + status("c", "w", "insufficient_data")
              + status("d", "w1", "met") + status("d", "w2", "at_risk") + status("e", "w", "insufficient_coverage"))
    series += [{"series": 'slo_target_ratio{slo="a",service="s",objective="o",window="w"}', "values": "0.875"},
               {"series": 'slo_target_ratio{slo="a",service="s",objective="o2",window="w"}', "values": "0.5"},
               {"series": 'slo:sli_error:ratio_rate1h{slo="a",service="s"}', "values": "0.25"}]
    queries = {"compliance": _panel_query(BOARDS.compliance, "Compliance"),
               "status": _panel_query(BOARDS.compliance, "Status by SLO"),
               "burn": _panel_query(BOARDS.tracking, "Burn rate now (1h and 5m, recording rules)")}
    (tmp_path / "q.rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": [
        {"record": f"q:{name}", "expr": expr} for name, expr in queries.items()]}]}, sort_keys=False))
    tests = {"rule_files": ["q.rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [
            {"expr": "q:compliance", "eval_time": "0m", "exp_samples": [{"labels": "q:compliance", "value": 75}]},
            {"expr": "q:status", "eval_time": "0m", "exp_samples": [
                {"labels": f'q:status{{slo="{slo}"}}', "value": code} for slo, code in (("a", 0), ("b", 4), ("c", 1), ("d", 3), ("e", 2))]},
            {"expr": "q:burn", "eval_time": "0m", "exp_samples": [{"labels": 'q:burn{service="s",slo="a"}', "value": 2}]},
        ]}]}
    (tmp_path / "q.test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run([PROMTOOL, "test", "rules", "q.test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
