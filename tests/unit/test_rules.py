"""alerts.rules.yml: promtool accepts it, and its unit tests show the page firing at 15x and not at 10x."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from slo_assets.cli import main
from slo_assets.openslo.spec import load_specs
from slo_assets.outputs.rules import build_rules, render
from tests.tools import needs, tool_path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "slos.yaml"
PROMTOOL = tool_path("promtool")
needs_promtool = needs("promtool")


def _rules(**options) -> dict:
    return build_rules(load_specs([SPEC]), **options)


def test_factors_thresholds_and_switches():
    rules = _rules()
    alerts = [r for g in rules["groups"] for r in g["rules"] if r.get("alert", "").startswith("SLOBurnRate")]
    checkout = {(a["labels"]["long_window"]): a for a in alerts if a["labels"]["slo"] == "checkout-availability"}
    assert "> 0.0144\nand" in checkout["1h"]["expr"] and "> 0.006\n" in checkout["6h"]["expr"]
    assert "> 0.003\n" in checkout["1d"]["expr"] and "> 0.001\n" in checkout["3d"]["expr"]
    auth = {a["labels"]["long_window"]: a for a in alerts if a["labels"]["slo"] == "auth-availability"}  # 28d, 99.95 %
    assert "> 0.00672\n" in auth["1h"]["expr"]  # 13.44 x 0.0005
    assert {a["labels"]["severity"] for a in _rules(ticket=False)["groups"][1]["rules"]} == {"page"}
    latency = [r for g in rules["groups"] for r in g["rules"] if r.get("record") == "slo:sli_error:ratio_rate5m"
               and r["labels"]["slo"] == "catalog-item-latency"][0]
    assert 'le="0.15"' in latency["expr"] and "http_request_duration_seconds_count" in latency["expr"]


@needs_promtool
def test_promtool_checks_the_generated_rules(tmp_path, capsys):
    assert main(["rules", str(SPEC)]) == 0
    path = tmp_path / "alerts.rules.yml"
    path.write_text(capsys.readouterr().out)
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def _page(long_window: str, short_window: str) -> dict:
    return {"exp_labels": {"slo": "checkout-availability", "service": "checkout", "objective": "99-9-of-requests-succeed",
                           "severity": "page", "long_window": long_window, "short_window": short_window}}


@needs_promtool
def test_promtool_unit_tests_page_at_15x_not_at_10x(tmp_path):
    rules = _rules(ticket=False)
    (tmp_path / "alerts.rules.yml").write_text(render(rules))
    annotations = {a["labels"]["long_window"]: a["annotations"] for g in rules["groups"] for a in g["rules"]
                   if a.get("labels", {}).get("slo") == "checkout-availability" and a.get("alert", "").startswith("SLOBurnRate")}

    def expected(*windows):
        return [{**_page(long, short), "exp_annotations": annotations[long]} for long, short in windows]

    def case(errors_per_minute: int, alerts: list) -> dict:
        return {
            "interval": "1m",
            "input_series": [
                {"series": 'http_requests_total{service="checkout",code="200"}', "values": f"0+{1000 - errors_per_minute}x120"},
                {"series": 'http_requests_total{service="checkout",code="500"}', "values": f"0+{errors_per_minute}x120"},
                # healthy searches, weighted 2 in the composite storefront-journey, keep it under its page tiers:
                # 15 / (1000 + 2 x 1000) = 0.5 %, a burn of 5
                {"series": 'http_requests_total{service="search",code="200"}', "values": "0+1000x120"},
            ],
            "alert_rule_test": [{"eval_time": "90m", "alertname": "SLOBurnRatePage", "exp_alerts": alerts}],
        }

    tests = {
        "rule_files": ["alerts.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            case(15, expected(("1h", "5m"), ("6h", "30m"))),  # 15x: both page tiers fire
            case(10, expected(("6h", "30m"))),  # 10x: not the 14.4x tier; the 6x/6h tier pages, by design
            case(1, []),  # 1x: no page
        ],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@needs_promtool
def test_promtool_accepts_rules_with_a_skipped_slo(tmp_path):
    """A latency SLO no le bucket expresses becomes a comment; the file stays valid for promtool."""
    specs_dir = ROOT / "tests" / "data" / "specs"
    paths = [specs_dir / "latency_lower_bound_only.yaml", SPEC]
    text = render(build_rules(load_specs(paths)))
    assert "# skipped api-latency" in text
    path = tmp_path / "alerts.rules.yml"
    path.write_text(text)
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _promtool_test(tmp_path, groups: list[dict], tests: list[dict]) -> None:
    """Run `tests` (their expected alerts by labels) on `groups`; each expected alert gets its rule's annotations."""
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    for test in tests:
        for check in test["alert_rule_test"]:
            for expected in check["exp_alerts"]:
                (rule,) = [r for r in alerts if r["alert"] == check["alertname"] and r["labels"] == expected["exp_labels"]]
                expected["exp_annotations"] = rule["annotations"]
    (tmp_path / "alerts.rules.yml").write_text(render({"groups": groups}))
    document = {"rule_files": ["alerts.rules.yml"], "evaluation_interval": "1m", "group_eval_order": [g["name"] for g in groups],
                "tests": tests}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    done = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_budget_alerts_at_exactly_ten_percent_left(tmp_path):
    """Over the recorded period error ratio of checkout-availability (99.9 %, allowed 0.001): 0.0009 leaves exactly
    10 % of the budget, a warning (critical is under 10 %); 0.00091 leaves 9 %: critical; 0.0007 leaves 30 %: nothing;
    0.0011 is over the budget: critical and violated."""
    rules = _rules()
    budget = [g for g in rules["groups"] if g["name"] == "slo-checkout-availability-budget"]
    labels = {"slo": "checkout-availability", "service": "checkout", "objective": "99-9-of-requests-succeed"}

    def case(ratio: str, firing: dict[str, str]) -> dict:
        return {"interval": "1m",
                "input_series": [{"series": 'slo:sli_error:ratio_rate30d{slo="checkout-availability",service="checkout"}',
                                  "values": f"{ratio}x10"}],
                "alert_rule_test": [{"eval_time": "5m", "alertname": name,
                                     "exp_alerts": [{"exp_labels": {**labels, "severity": firing[name]}}] if name in firing else []}
                                    for name in ("SLOErrorBudgetCritical", "SLOErrorBudgetWarning", "SLOViolated")]}

    _promtool_test(tmp_path, budget, [
        case("0.0009", {"SLOErrorBudgetWarning": "ticket"}),
        case("0.00091", {"SLOErrorBudgetCritical": "page"}),
        case("0.0007", {}),
        case("0.00071", {"SLOErrorBudgetWarning": "ticket"}),
        case("0.0011", {"SLOErrorBudgetCritical": "page", "SLOViolated": "page"}),
    ])


@needs_promtool
def test_promtool_sustained_high_burn_and_latency_threshold(tmp_path):
    """catalog-item-latency (99 % within 150 ms): 2 % of requests slow is a burn of 2 over 1h and 5m (high burn rate,
    and the 5-minute latency threshold violated); 1 % slow is neither (burn 1 is not above 1.5, 1 % is not above 1 %)."""
    rules = _rules()
    slo = "catalog-item-latency"
    groups = [g for g in rules["groups"] if g["name"] in (f"slo-{slo}-sli", f"slo-{slo}-budget")]
    labels = {"slo": slo, "service": "catalog", "objective": "99-of-item-pages-within-150-ms"}

    def case(slow_per_minute: int, alerts: list[str]) -> dict:
        base = 'http_request_duration_seconds_{}{{service="catalog"{}}}'
        return {"interval": "1m",
                "input_series": [{"series": base.format("count", ""), "values": "0+6000x120"},
                                 {"series": base.format("bucket", ',le="0.15"'), "values": f"0+{6000 - slow_per_minute}x120"}],
                "alert_rule_test": [{"eval_time": "90m", "alertname": name,
                                     "exp_alerts": [{"exp_labels": {**labels, "severity": "ticket"}}] if name in alerts else []}
                                    for name in ("SLOHighBurnRate", "SLOLatencyThresholdViolated")]}

    _promtool_test(tmp_path, groups, [case(120, ["SLOHighBurnRate", "SLOLatencyThresholdViolated"]), case(60, [])])


THROUGHPUT_SPEC = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: api-throughput, displayName: API throughput}
spec:
  service: api
  budgetingMethod: Timeslices
  indicator:
    metadata: {name: api-throughput}
    spec:
      thresholdMetric:
        metricSource: {type: logs, spec: {filter: {service: api}}}
  objectives:
    - {displayName: 100 rps, op: gte, value: 100, target: 0.99, timeSliceTarget: 1, timeSliceWindow: 5m}
"""


@needs_promtool
def test_promtool_throughput_rules_rate_per_slice(tmp_path):
    """100 requests/second over 5-minute slices: at 120 rps every slice is good; at 50 rps every slice is bad, so the
    error ratio is 1 over every window: the page tier, the violated SLO and the sustained high burn fire."""
    path = tmp_path / "slos.yaml"
    path.write_text(THROUGHPUT_SPEC)
    rules = build_rules(load_specs([path]))
    records = {r["record"]: r for g in rules["groups"] for r in g["rules"] if "record" in r}
    assert records["slo:requests:rate5m"]["expr"] == 'sum(rate(http_requests_total{service="api"}[5m]))'
    assert records["slo:throughput_slice_bad:bool"]["expr"] == 'slo:requests:rate5m{slo="api-throughput"} < bool 100'
    labels = {"slo": "api-throughput", "service": "api", "objective": "100-rps"}

    def case(per_minute: int, firing: dict[str, dict], names=("SLOBurnRatePage", "SLOViolated", "SLOHighBurnRate")) -> dict:
        return {"interval": "1m",
                "input_series": [{"series": 'http_requests_total{service="api",code="200"}', "values": f"0+{per_minute}x120"}],
                "alert_rule_test": [{"eval_time": "90m", "alertname": name,
                                     "exp_alerts": [{"exp_labels": {**labels, **extra}} for extra in firing.get(name, [])]}
                                    for name in names]}

    page = [{"severity": "page", "long_window": "1h", "short_window": "5m"},
            {"severity": "page", "long_window": "6h", "short_window": "30m"}]
    (tmp_path / "rules").mkdir()
    _promtool_test(tmp_path / "rules", rules["groups"], [
        # not SLOViolated: the 30d window holds the counter's first minutes, where rate() over a 5m range that
        # the series only partly covers reads low (docs/outputs.md, "Throughput rules")
        case(7200, {}, ("SLOBurnRatePage", "SLOHighBurnRate")),
        case(3000, {"SLOBurnRatePage": page, "SLOViolated": [{"severity": "page"}], "SLOHighBurnRate": [{"severity": "ticket"}]}),
    ])
