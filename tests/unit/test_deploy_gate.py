"""The error-budget policy gate (issue 15, part 4): the policy in the spec, the gate per service from a
month's window evaluations (hand-built cases), `slo-assets gate` exit codes and JSON, and the asset."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from slo_assets.cli import main
from slo_assets.core.calendar import epoch_ms
from slo_assets.openslo.spec import DeployGate, SpecError, load_specs
from slo_assets.slo.gate import gate_document, service_gates
from slo_assets.warehouse import layout

END = epoch_ms("2026-02-20T12:00:00Z")  # the end of the data evaluated

SPEC = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: NAME
  annotations: ANNOTATIONS
spec:
  service: SERVICE
  budgetingMethod: Occurrences
  timeWindow: [{duration: 1M, isRolling: false, calendar: {startTime: "2026-01-01 00:00:00", timeZone: Etc/UTC}}]
  indicator:
    metadata: {name: NAME}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: logs, spec: {filter: {service: SERVICE, status: {lt: 500}}}}}
        total: {metricSource: {type: logs, spec: {filter: {service: SERVICE}}}}
  objectives: [{target: 0.999}]
"""


def _spec(tmp_path: Path, docs: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "slos.yaml"
    path.write_text("---\n".join(SPEC.replace("NAME", n).replace("SERVICE", s).replace("ANNOTATIONS", a) for n, s, a in docs))
    return path


def _window(slo: str, service: str, window: str, remaining: float | None, pages: list[tuple[str, str]] = ()):
    alerts = [SimpleNamespace(severity="page", start_ms=epoch_ms(start), end_ms=epoch_ms(end) if end else END) for start, end in pages]
    return SimpleNamespace(slo=slo, service=service, window=window, window_end_ms=END, alerts=alerts,
                           error_budget=SimpleNamespace(remaining_ratio=remaining))


@pytest.fixture
def slos(tmp_path):
    path = _spec(tmp_path, [("pay", "checkout", '{slo-assets.dev/deploy-freeze-below: "25%"}'),
                            ("pay-latency", "checkout", '{slo-assets.dev/deploy-freeze-on-page: "true"}'),
                            ("search", "search", "{}")])
    return {s.name: s for s in load_specs([path]).slos}


def test_the_policy_is_read_from_the_spec_and_bad_values_name_the_field(tmp_path, slos):
    assert slos["pay"].deploy_gate == DeployGate(0.25, True)  # freezing on pages is the default once a policy is declared
    assert slos["pay-latency"].deploy_gate == DeployGate(None, True) and slos["search"].deploy_gate is None
    path = _spec(tmp_path, [("a", "x", '{slo-assets.dev/deploy-freeze-below: "150%", slo-assets.dev/deploy-freeze-on-page: maybe}')])
    with pytest.raises(SpecError) as error:
        load_specs([path])
    text = str(error.value)
    assert "metadata.annotations.slo-assets.dev/deploy-freeze-below" in text and "150%" in text
    assert "metadata.annotations.slo-assets.dev/deploy-freeze-on-page" in text and "slos.yaml" in text


def test_a_window_below_the_floor_or_a_firing_page_freezes_the_service(slos):
    evaluations = [_window("pay", "checkout", "1M", 0.30), _window("pay", "checkout", "7d", 0.20),
                   _window("pay-latency", "checkout", "1M", 0.9, pages=[("2026-02-20T11:30:00Z", None)]),
                   _window("search", "search", "1M", -1.5, pages=[("2026-02-20T11:00:00Z", None)])]
    checkout, search = service_gates(list(slos.values()), evaluations)
    assert checkout.decision == "freeze"
    assert [(r.slo, r.window, r.kind) for r in checkout.reasons] == [("pay", "7d", "budget_below_floor"), ("pay-latency", "1M", "page_firing")]
    assert checkout.reasons[0].message == "pay (7d): 20.0% of the error budget left, below the policy's floor of 25.0%"
    assert checkout.reasons[1].page_since == "2026-02-20T11:30:00Z"
    assert (search.decision, search.reasons) == ("go", [])  # overspent, but no policy: deploys go on
    assert checkout.for_slo("pay-latency").decision == "freeze" and len(checkout.for_slo("pay").reasons) == 1


def test_a_page_that_ended_and_a_budget_at_the_floor_let_deploys_go(slos):
    evaluations = [_window("pay", "checkout", "1M", 0.25),
                   _window("pay-latency", "checkout", "1M", 0.5, pages=[("2026-02-20T10:00:00Z", "2026-02-20T11:00:00Z")])]
    (checkout, _) = service_gates(list(slos.values()), evaluations)
    assert checkout.decision == "go" and checkout.reasons == []


def test_a_go_without_any_event_says_that_nothing_was_judged(slos):
    from slo_assets.slo.gate import verdict

    idle = [_window("pay", "checkout", "1M", None), _window("pay-latency", "checkout", "1M", None)]
    (checkout, search) = service_gates(list(slos.values()), idle)
    assert checkout.decision == "go"
    assert verdict(checkout, "2026-02")["note"] == "no event in any window of the service's SLOs with a policy: nothing was judged"
    assert verdict(search, "2026-02")["note"].startswith("no SLO of this service declares a deploy policy")
    busy = [_window("pay", "checkout", "1M", 0.9), _window("pay-latency", "checkout", "1M", None)]
    assert verdict(service_gates(list(slos.values()), busy)[0], "2026-02")["note"] is None


def _warehouse(tmp_path: Path, slos, evaluations) -> Path:
    warehouse = tmp_path / "wh"
    path = warehouse / layout.DEPLOY_GATE.relative("2026-02")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(gate_document("2026-02", service_gates(list(slos.values()), evaluations))))
    return warehouse


def test_gate_exits_1_with_the_reason_0_when_deploys_go_and_2_on_bad_input(tmp_path, slos, capsys):
    warehouse = str(_warehouse(tmp_path, slos, [_window("pay", "checkout", "1M", 0.1), _window("search", "search", "1M", 0.9)]))
    assert main(["gate", "--service", "checkout", "--warehouse", warehouse]) == 1
    frozen = json.loads(capsys.readouterr().out)
    assert (frozen["decision"], frozen["deploy"], frozen["period"]) == ("freeze", False, "2026-02")
    assert frozen["reasons"][0]["kind"] == "budget_below_floor" and frozen["reasons"][0]["remaining_ratio"] == 0.1
    assert main(["gate", "--service", "checkout", "--slo", "pay-latency", "--warehouse", warehouse]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "go"
    assert main(["gate", "--service", "search", "--warehouse", warehouse]) == 0
    assert "no SLO of this service declares a deploy policy" in json.loads(capsys.readouterr().out)["note"]
    assert main(["gate", "--service", "nope", "--warehouse", warehouse]) == 2
    assert "not a service of the 2026-02 gate (checkout, search)" in capsys.readouterr().err
    assert main(["gate", "--service", "checkout", "--month", "2026-03", "--warehouse", warehouse]) == 2


def test_a_gate_on_data_older_than_a_day_and_two_hours_says_it_is_stale():
    from datetime import UTC, datetime

    from slo_assets.slo.gate import staleness

    until = "2026-02-04T00:00:00Z"
    assert staleness(until, datetime(2026, 2, 5, 2, 0, 0, tzinfo=UTC)) is None  # exactly 26 h: still fresh
    late = staleness(until, datetime(2026, 2, 5, 2, 0, 1, tzinfo=UTC))
    assert late.startswith("the gate judges data until 2026-02-04T00:00:00Z, 26 h before now")
    assert staleness(None, datetime(2026, 2, 5, tzinfo=UTC)) is None  # nothing evaluated: the note says so already
