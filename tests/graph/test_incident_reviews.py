"""Incident review drafts on a tiny month whose figures are computed by hand.

2026-02-10, two services, 10 requests a minute each, all 200, all day (14,400 a service):
- shop (JSON with a client field): 10:00-10:09 every request fails (6 x 503, 4 x 500 a minute),
  sent by 10.0.0.1-3 in turn; so the first bad minute is 10:00, recovery 10:10, 100 bad requests,
  3 distinct clients, top status 503 (60). The 3d/6h ticket (1 x: over 1 % of the requests since
  midnight, the logs' start) first holds at 10:06 (70 of 6,070; at 10:05 60 of 6,060 is not over):
  detection took 6 minutes. The 1h/5m page (14.4 % of the hour's 600 requests, i.e. 87 bad) holds
  from 10:08. The ticket clears at 16:06, when the 6h window holds 3 failing minutes (30 of 3,600),
  356 minutes after recovery. The month allows 1 % of 14,400 = 144 bad requests: the incident
  spent 100 / 144 = 69.4 % of it.
- plain (the same at 14:00-14:09, no client field): clients unknown, never 0.
A runbook matches shop (an annotation, dry run); none matches plain.
2026-03-05 has the same traffic without a failure: no incident, no draft.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import numpy as np
import pytest

from slo_assets.cli import run as cli  # the run command: its request, its outputs
from slo_assets.cli.orchestrate import materialize_month
from slo_assets.definitions import build_definitions
from slo_assets.defs.resources import (
    LogSource,
    Remediation,
    SloSettings,
    WarehouseResource,
)
from slo_assets.outputs.incident_review import md, render
from slo_assets.remediation.incident_review import (
    NO_CLIENT,
    QUIET_MINUTES,
    IncidentReview,
    bad_runs,
    impact_span,
    incident_id,
    over_allowance,
)
from slo_assets.warehouse import layout
from slo_assets.warehouse.storage import Warehouse

MONTH, QUIET_MONTH = "2026-02", "2026-03"
SPEC = """apiVersion: openslo/v1
kind: SLO
metadata: {{name: {service}-availability}}
spec:
  service: {service}
  budgetingMethod: Occurrences
  timeWindow: [{{duration: 1M, isRolling: false, calendar: {{startTime: "2026-01-01 00:00:00", timeZone: Etc/UTC}}}}]
  indicator:
    metadata: {{name: {service}-availability}}
    spec:
      ratioMetric:
        counter: true
        good: {{metricSource: {{type: logs, spec: {{filter: {{service: {service}, status: {{lt: 500}}}}}}}}}}
        total: {{metricSource: {{type: logs, spec: {{filter: {{service: {service}}}}}}}}}
  objectives: [{{displayName: 99% succeed, target: 0.99}}]
"""
RUNBOOK = """apiVersion: slo-assets/v1
kind: Runbook
metadata: {name: shop-burst}
spec:
  match: {service: shop}
  actions:
    - {kind: annotate, name: mark-incident, text: "shop failing"}
"""


def _day(day: str, burst_hour: dict[str, int]) -> list[str]:
    """Every minute of the day, 10 requests a service; a service's burst hour fails its first 10 minutes."""
    lines = []
    for minute in range(1440):
        hh, mm = divmod(minute, 60)
        for service in ("shop", "plain"):
            for j in range(10):
                failing = burst_hour.get(service) == hh and mm < 10
                status = (503 if j < 6 else 500) if failing else 200
                client = f',"client":"10.0.0.{j % 3 + 1}"' if failing else f',"client":"10.0.1.{j}"'
                lines.append(f'{{"ts":"{day}T{hh:02d}:{mm:02d}:{j * 5:02d}Z","service":"{service}","method":"GET",'
                             f'"path":"/{service}/items","status":{status}' + (client if service == "shop" else "") + "}")
    return lines


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    base = tmp_path_factory.mktemp("reviews")
    logs = base / "logs"
    logs.mkdir()
    (logs / "feb.jsonl").write_text("\n".join(_day("2026-02-10", {"shop": 10, "plain": 14})) + "\n")
    (logs / "mar.jsonl").write_text("\n".join(_day("2026-03-05", {})) + "\n")
    (base / "slos.yaml").write_text("---\n".join(SPEC.format(service=s) for s in ("shop", "plain")))
    (base / "runbooks.yaml").write_text(RUNBOOK)
    resources = {"log_source": LogSource(root=str(logs)), "warehouse": WarehouseResource(base=str(base / "wh")),
                 "slo_settings": SloSettings(spec_paths=[str(base / "slos.yaml")]),
                 "remediation": Remediation(runbook_paths=[str(base / "runbooks.yaml")])}
    instance = dg.DagsterInstance.ephemeral()
    for month, day in ((MONTH, "2026-02-10"), (QUIET_MONTH, "2026-03-05")):
        outcome = materialize_month(month, resources, instance, days=[day])
        assert not outcome.failed_runs, outcome.failed_runs
    return base, Warehouse(base / "wh"), resources, instance


def _draft(store: Warehouse, slo: str) -> str:
    names = [n for n in layout.INCIDENT_REVIEWS.members(store, MONTH) if n.startswith(slo)]
    assert len(names) == 1, names
    return layout.INCIDENT_REVIEWS.path(store, MONTH, names[0]).read_text()


def test_the_draft_holds_the_hand_computed_timeline_and_impact(reviewed):
    _, store, _, _ = reviewed
    assert layout.INCIDENT_REVIEWS.members(store, MONTH) == ["plain-availability-20260210T1408Z", "shop-availability-20260210T1006Z"]
    text = _draft(store, "shop-availability")
    assert "- `2026-02-10T10:00:00Z` **First bad minute**: more than 1% of the SLO's requests were bad (6 min before the first alert)." in text
    assert "- `2026-02-10T10:06:00Z` **ticket alert fires**: 3d/6h burn rate above 1×" in text
    assert "- `2026-02-10T10:08:00Z` **page alert fires**: 1h/5m burn rate above 14.4×" in text
    assert "- `2026-02-10T16:06:00Z` ticket alert 3d/6h clears" in text
    assert "- `2026-02-10T10:10:00Z` **Recovery**" in text
    assert "- bad requests: 100\n" in text
    assert "- share of the budget: 69.4% of the month's error budget (144 bad requests allowed)" in text
    assert "- clients: 3\n" in text
    assert "- detection: 6 min after the first bad minute" in text
    status = text.split("Top status codes:")[1]
    assert status.index("| 503 | 60 | 60% |") < status.index("| 500 | 40 | 40% |")
    assert "| GET /shop/items | 100 | 100% |" in text
    assert "feb.jsonl:" in text.split("Sample lines")[1]


def test_open_questions_come_from_the_data(reviewed):
    _, store, _, _ = reviewed
    shop = _draft(store, "shop-availability").split("## Open questions")[1]
    shop = shop.replace("\\", "")
    assert ("Why did detection take 6 minutes? The first minute over the allowance was 2026-02-10T10:00:00Z; "
            "the first alert (ticket, 3d/6h) fired at 2026-02-10T10:06:00Z.") in shop
    assert "The alerts kept firing 356 minutes after recovery (2026-02-10T10:10:00Z to 2026-02-10T16:06:00Z)" in shop
    assert "This incident alone spent 69% of the month's error budget" in shop
    assert "No runbook matches" not in shop and "Was one caller" not in shop  # 10.0.0.1 sent 40 of 100
    plain = _draft(store, "plain-availability").split("## Open questions")[1]
    assert "No runbook matches plain-availability" in plain.replace("\\", "")


def test_logs_without_a_client_field_say_unknown_not_zero(reviewed):
    _, store, _, _ = reviewed
    text = _draft(store, "plain-availability")
    assert f"- clients: {NO_CLIENT}\n" in text and "clients: 0" not in text
    assert "- bad requests: 100\n" in text and "- `2026-02-10T14:10:00Z` **Recovery**" in text


def test_a_month_without_an_incident_writes_no_draft_and_says_so(reviewed):
    _, store, _, instance = reviewed
    assert layout.INCIDENT_REVIEWS.members(store, QUIET_MONTH) == []
    event = instance.get_latest_materialization_event(dg.AssetKey("incident_reviews"))
    records = instance.fetch_materializations(dg.AssetKey("incident_reviews"), limit=10).records
    quiet = next(r for r in records if r.partition_key == QUIET_MONTH).asset_materialization.metadata
    assert quiet["drafts"].value == 0 and quiet["reviews"].value == f"no incident in {QUIET_MONTH}: no draft written"
    assert event is not None


def test_the_report_links_each_incident_to_its_draft(reviewed):
    _, store, _, _ = reviewed
    report = layout.REPORT_HTML.path(store, MONTH).read_text()
    for name in layout.INCIDENT_REVIEWS.members(store, MONTH):
        assert f'href="reviews/{name}.md"' in report


def test_the_remediation_job_adds_the_actions_and_what_was_learned(reviewed):
    _, store, resources, instance = reviewed
    result = build_definitions(resources).resolve_job_def("remediation_job").execute_in_process(
        instance=instance, partition_key=MONTH, raise_on_error=False)
    assert result.success
    actions = _draft(store, "shop-availability").split("## Actions taken")[1].split("##")[0]
    assert "shop-burst/mark-incident" in actions.replace("\\", "") and "dry_run" in actions.replace("\\", "")
    assert "recovered: the 1h burn rate fell below 1" in actions or "not recovered" in actions or "unknown yet" in actions
    assert "(finished after the data ends: a replayed month)" in _draft(store, "shop-availability")


def test_run_publishes_the_drafts_beside_the_report(reviewed, tmp_path):
    base, _, _, _ = reviewed
    request = cli.RunRequest(month=MONTH, logs=base / "logs", specs=[base / "slos.yaml"], out=tmp_path / "out",
                             warehouse=str(base / "wh"))
    _, target = cli._write_outputs(request)
    assert sorted(p.name for p in (target / "reviews").iterdir()) == ["plain-availability-20260210T1408Z.md",
                                                                      "shop-availability-20260210T1006Z.md"]
    assert "/ (2 incident review drafts: plain-availability-20260210T1408Z.md, shop-availability-20260210T1006Z.md)" \
        == cli._members_text(layout.INCIDENT_REVIEWS, target)


def test_rerunning_the_month_rewrites_the_same_drafts(reviewed):
    _, store, resources, instance = reviewed
    before = {n: layout.INCIDENT_REVIEWS.path(store, MONTH, n).read_bytes() for n in layout.INCIDENT_REVIEWS.members(store, MONTH)}
    stale = layout.INCIDENT_REVIEWS.path(store, MONTH, "gone-20260201T0000Z")
    stale.write_text("an incident a changed spec no longer has")
    result = build_definitions(resources).resolve_job_def("remediation_job").execute_in_process(
        instance=instance, partition_key=MONTH, raise_on_error=False)
    assert result.success
    after = {n: layout.INCIDENT_REVIEWS.path(store, MONTH, n).read_bytes() for n in layout.INCIDENT_REVIEWS.members(store, MONTH)}
    assert after.keys() == before.keys() and not stale.exists()


# ---------------------------------------------------------------- the pure parts, by hand


def test_over_allowance_is_exact_at_the_boundary():
    good, total = np.array([99, 98, 0, 999]), np.array([100, 100, 0, 1000])
    # 1 of 100 is exactly the 1 % allowed (not over); 2 of 100 is; no traffic is not; 1 of 1000 is not
    assert over_allowance(good, total, Decimal("0.99")).tolist() == [False, True, False, False]


def test_runs_chain_across_fewer_quiet_minutes_than_the_gap():
    bad = np.zeros(60, dtype=bool)
    bad[[2, 3, 3 + QUIET_MINUTES, 40]] = True  # 3 -> 18 chained (15 apart); 40 is 22 after 18: a new run
    assert bad_runs(bad) == [(2, 3 + QUIET_MINUTES), (40, 40)]


def test_recovery_is_not_claimed_before_the_data_shows_the_quiet_minutes():
    good, total = np.full(30, 10), np.full(30, 10)
    good[5:8] = 0
    minute = 60_000
    assert impact_span(good, total, Decimal("0.99"), 0, 7 * minute, 9 * minute, 30 * minute) == (5 * minute, 8 * minute)
    # the data ends 10 minutes after the last bad minute: not yet 15 within the allowance
    assert impact_span(good, total, Decimal("0.99"), 0, 7 * minute, 9 * minute, 18 * minute) == (5 * minute, None)


def test_names_from_the_logs_stay_text():
    assert md("<script>alert(1)</script> [x](javascript:y) |a|") == "\\<script\\>alert(1)\\</script\\> \\[x\\](javascript:y) \\|a\\|"
    assert incident_id("a/b c", "2026-02-10T10:08:00Z") == "a_b_c-20260210T1008Z"


def test_a_sample_line_cannot_close_its_fence():
    review = IncidentReview(**{**_minimal(), "sample_lines": (("x.log:1", "``` # not a heading"),)})
    assert "````text\nx.log:1  ``` # not a heading\n````" in render(review)


def test_clients_unknown_is_said_in_words():
    assert IncidentReview(**_minimal()).clients_text == NO_CLIENT
    assert IncidentReview(**{**_minimal(), "distinct_clients": 0, "bad_requests_without_client": 0}).clients_text == "0"


def _minimal() -> dict:
    return {"incident_id": "s-20260210T1008Z", "period": MONTH, "slo": "s", "service": "svc", "severity": "page", "status": "failed",
            "target": Decimal("0.99"), "first_bad_ms": 0, "detected_ms": 60_000, "recovered_ms": 120_000, "data_end_ms": 10**9,
            "impact_end_ms": 120_000, "bad_events": 1, "budget_allowed": 10.0, "budget_share": 0.1, "budget_note": None,
            "distinct_clients": None, "bad_requests_without_client": 1, "top_clients": (), "top_operations": (), "top_status_codes": (),
            "sample_lines": (), "firings": (), "thresholds": (), "actions": (), "runbooks_matched": (), "questions": ()}
