"""The action layer: runbooks, the plan on a month with known incidents, actions, the job and the sensor."""

from __future__ import annotations

import http.server
import json
import threading
import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from slo_assets.cli.orchestrate import materialize_month
from slo_assets.definitions import build_definitions
from slo_assets.defs.remediation.sensors import remediation_sensor
from slo_assets.defs.resources import LogSource, Remediation, SloSettings, WarehouseResource
from slo_assets.ingest.generate import write_logs
from slo_assets.remediation import actions as A
from slo_assets.remediation.models import AnnotateAction, Incident, OperationCount, Outcome, PlanEntry, runbook_action
from slo_assets.remediation.runbooks import Action, RunbookError, load_runbooks
from slo_assets.slo.evaluation import load_evaluations
from slo_assets.warehouse import layout

ROOT = Path(__file__).resolve().parents[2]
INCIDENT = Incident(service="checkout", slo="checkout-availability", start="2026-02-10T10:00:00Z", end="2026-02-10T11:00:00Z", severity="page",
                    bad_events=42, peak_burn_rate=30.0, top_operations=[OperationCount(operation="POST /checkout/api/v1/orders", bad_events=40)])
ENTRY = PlanEntry(slo="checkout-availability", service="checkout", status="failed", severity="page", shape="error_burst", windows=(),
                  fingerprint="f1", incidents=[INCIDENT], runbooks=(), actions=(), note=None)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_shipped_runbooks_load_and_bad_ones_name_file_and_field(tmp_path):
    assert [r.name for r in load_runbooks([ROOT / "examples" / "runbooks.yaml"])] == ["checkout-error-burst", "any-page", "latency-regression"]
    bad = tmp_path / "rb.yaml"
    bad.write_text("""apiVersion: slo-assets/v1
kind: Runbook
metadata: {name: broken}
spec:
  match: {status: exploded}
  actions:
    - {kind: command, name: run, argv: "rm -rf /"}
""")
    with pytest.raises(RunbookError) as error:
        load_runbooks([bad])
    problems = "\n".join(error.value.problems)
    assert f"{bad}: document 1 (broken): spec.match.status" in problems  # documents count from 1
    assert f"{bad}: document 1 (broken): spec.actions.0.argv" in problems


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    base = tmp_path_factory.mktemp("remediation")
    truth = write_logs(base / "logs", "2026-02", 80_000, "jsonl", seed=5)
    spec = base / "slos.yaml"
    spec.write_text((ROOT / "examples" / "slos.yaml").read_text())
    resources = {"log_source": LogSource(root=str(base / "logs")), "warehouse": WarehouseResource(base=str(base / "wh")),
                 "slo_settings": SloSettings(spec_paths=[str(spec)]),
                 "remediation": Remediation(runbook_paths=[str(ROOT / "examples" / "runbooks.yaml")])}
    instance = dg.DagsterInstance.ephemeral()
    outcome = materialize_month("2026-02", resources, instance)
    assert not outcome.failed_runs
    plan = json.loads((base / "wh" / layout.REMEDIATION_PLAN.relative("2026-02")).read_text())
    return base, truth, resources, instance, plan


def test_plan_names_the_injected_incidents_with_their_log_lines(month):
    base, truth, _, _, plan = month
    entries = {e["slo"]: e for e in plan["entries"]}
    checkout = entries["checkout-availability"]
    assert checkout["status"] == "failed" and checkout["runbooks"][0] == "checkout-error-burst"
    assert [a["name"] for a in checkout["actions"]][:3] == ["page-checkout-oncall", "open-incident-ticket", "capture-diagnostics"]
    burst = next(i for i in truth["incidents"] if i["service"] == "checkout")
    incident = next(i for i in checkout["incidents"] if _ts(i["start"]) < _ts(burst["end"]) and _ts(i["end"]) > _ts(burst["start"]))
    assert incident["severity"] == "page" and incident["bad_events"] > 0
    assert (incident["service"], incident["slo"]) == ("checkout", "checkout-availability")
    assert {s["status"] for s in incident["top_status_codes"]} <= {500, 502, 503, 504}
    assert len(incident["sample_lines"]) == 5
    for sample in incident["sample_lines"]:
        name, line = sample["source"].rsplit(":", 1)
        assert name in truth["files"] and int(line) >= 1
        record = json.loads(sample["raw"])
        assert record["service"] == "checkout" and record["status"] >= 500
        assert _ts(burst["start"]) <= _ts(record["ts"]) <= _ts(incident["end"])
    for entry in plan["entries"]:
        assert entry["actions"] or entry["note"]


def test_deploy_gate_asset_freezes_checkout_by_the_policy_in_its_spec(month, capsys):
    from slo_assets.cli import main

    base = month[0]
    gate = json.loads((base / "wh" / layout.DEPLOY_GATE.relative("2026-02")).read_text())
    services = {g["service"]: g for g in gate["services"]}
    path = base / "wh" / layout.WINDOW_EVALUATIONS.relative("2026-02")
    windows = [e for e in load_evaluations(path.read_bytes(), str(path)) if e.slo == "checkout-availability"]
    # examples/slos.yaml: checkout-availability freezes below 25 % of its budget left, or while paging.
    below = sorted(e.window for e in windows if e.error_budget.remaining_ratio is not None and e.error_budget.remaining_ratio < 0.25)
    paging = sorted(e.window for e in windows if any(a.severity == "page" and a.end_ms >= e.window_end_ms for a in e.alerts))
    reasons = services["checkout"]["reasons"]
    assert sorted(r["window"] for r in reasons if r["kind"] == "budget_below_floor") == below and below  # the month failed
    assert sorted(r["window"] for r in reasons if r["kind"] == "page_firing") == paging
    assert services["checkout"]["decision"] == "freeze" and services["search"]["decision"] == "go"  # search declares no policy
    assert main(["gate", "--service", "checkout", "--warehouse", str(base / "wh")]) == 1
    assert json.loads(capsys.readouterr().out)["reasons"][0]["kind"] == "budget_below_floor"
    assert main(["gate", "--service", "search", "--warehouse", str(base / "wh")]) == 0


def run_remediation(resources: dict, instance, run_key: str, slo: str) -> bool:
    job = build_definitions(resources).resolve_job_def("remediation_job")
    config = {"ops": {"remediation_runs": {"config": {"run_key": run_key, "slos": [slo]}}}}
    return job.execute_in_process(instance=instance, partition_key="2026-02", run_config=config).success


def test_remediation_job_records_a_dry_run_then_skips_for_cooldown(month):
    base, _, resources, instance, plan = month
    assert run_remediation(resources, instance, "k1", "checkout-availability")
    import polars as pl

    runs = pl.read_parquet(base / "wh" / "remediation_runs" / "2026-02.parquet")
    assert set(runs["status"]) == {"dry_run"} and runs.height == len(plan["entries"][0]["actions"])
    assert runs["idempotency_key"].n_unique() == runs.height
    detail = json.loads(runs.filter(pl.col("action") == "capture-diagnostics")["detail"][0])
    assert detail["would_run"][:2] == ["echo", "diagnostics for"] and detail["would_run"][2] == "checkout"
    assert run_remediation(resources, instance, "k2", "checkout-availability")
    second = pl.read_parquet(base / "wh" / "remediation_runs" / "2026-02.parquet").tail(runs.height)
    assert set(second["status"]) == {"skipped_cooldown"}


def test_sensor_launches_once_per_breach_and_again_when_worse(month):
    base, _, resources, instance, plan = month
    sensor_resources = {"warehouse": resources["warehouse"], "remediation": resources["remediation"]}
    # The sensor was running before the month was materialized (cursor at the start of the instance);
    # tests/graph/test_actions_sensor.py covers a sensor started after the report.
    with dg.build_sensor_context(instance=instance, resources=sensor_resources, cursor="0") as context:
        first = remediation_sensor(context)
    keys = [r.run_key for r in first.run_requests]
    # One run per service with breaches, covering each of its SLOs with actions (their messages are grouped).
    services = {e["service"] for e in plan["entries"] if e["actions"]}
    assert len(keys) == len(services) and len(set(keys)) == len(keys)
    assert sorted(s for r in first.run_requests for s in r.run_config["ops"]["remediation_runs"]["config"]["slos"]) == \
        sorted(e["slo"] for e in plan["entries"] if e["actions"])
    assert all(k.startswith("remediation:2026-02:") for k in keys)
    with dg.build_sensor_context(instance=instance, resources=sensor_resources, cursor=first.cursor) as context:
        again = remediation_sensor(context)
    assert again.run_requests == []

    # A re-materialized, unchanged report gives the same run keys (Dagster skips keys it launched).
    defs = build_definitions(resources)
    defs.resolve_job_def("monthly_chain_job").execute_in_process(instance=instance, partition_key="2026-02")
    with dg.build_sensor_context(instance=instance, resources=sensor_resources, cursor=first.cursor) as context:
        unchanged = remediation_sensor(context)
    assert sorted(r.run_key for r in unchanged.run_requests) == sorted(keys)

    # A worse breach: the search SLO's target tightened until it fails -> new fingerprint, new run key.
    spec = base / "slos.yaml"
    spec.write_text(spec.read_text().replace("target: 0.999}]\n---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {name: auth",
                                             "target: 0.99999}]\n---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {name: auth"))
    defs.resolve_job_def("monthly_chain_job").execute_in_process(instance=instance, partition_key="2026-02")
    with dg.build_sensor_context(instance=instance, resources=sensor_resources, cursor=unchanged.cursor) as context:
        worse = remediation_sensor(context)
    new_keys = [r.run_key for r in worse.run_requests if r.run_key not in keys]
    assert len(new_keys) == 1 and new_keys[0].startswith("remediation:2026-02:search:")
    assert next(r for r in worse.run_requests if r.run_key == new_keys[0]).tags["slo_assets/status"] == "failed"


class _Recorder(http.server.BaseHTTPRequestHandler):
    plan: list[int] = []
    seen: list[dict] = []
    delay = 0.0

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"body": body, "auth": self.headers.get("Authorization")})
        time.sleep(type(self).delay)
        code = type(self).plan.pop(0) if type(self).plan else 200
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    _Recorder.plan, _Recorder.seen, _Recorder.delay = [], [], 0.0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    httpd.shutdown()


def _action(kind: str, **spec) -> Action:
    timeout = spec.pop("timeout_s", 2.0)
    attempts = spec.pop("attempts", 1)
    cwd = spec.get("cwd")  # the runbook loader resolves cwd and its allowed root; here the root is the cwd itself
    return Action(runbook="rb", spec=runbook_action({"kind": kind, "name": f"{kind}-action", **spec}),
                  timeout_s=timeout, attempts=attempts, backoff_s=0.01, cwd=cwd, cwd_root=cwd)


def test_webhook_retries_on_500_sends_headers_from_env_and_keeps_secrets_out(server):
    _Recorder.plan = [500, 500, 200]
    env = {"HOOK_URL": server, "HOOK_TOKEN": "Bearer s3cr3t-planted"}
    action = _action("webhook", url_env="HOOK_URL", headers_env={"Authorization": "HOOK_TOKEN"}, attempts=3)
    outcome = A.carry_out(action, ENTRY, "2026-02", "key", [], execute=True, env=env)
    assert (outcome.status, outcome.attempts) == ("ok", 3)
    assert len(_Recorder.seen) == 3 and _Recorder.seen[-1]["auth"] == "Bearer s3cr3t-planted"
    assert _Recorder.seen[-1]["body"]["slo"] == "checkout-availability" and _Recorder.seen[-1]["body"]["incidents"][0]["bad_events"] == 42
    assert "s3cr3t" not in outcome.model_dump_json() and server not in outcome.model_dump_json()
    _Recorder.plan = [500, 500, 500]
    failed = A.carry_out(action, ENTRY, "2026-02", "other", [], execute=True, env=env)
    assert failed.status == "failed" and failed.reason == "HTTP 500" and failed.attempts == 3


def test_notify_posts_a_slack_payload_and_times_out(server):
    outcome = A.carry_out(_action("notify", url_env="SLACK", format="slack"), ENTRY, "2026-02", "k", [], execute=True, env={"SLACK": server})
    assert outcome.status == "ok"
    assert _Recorder.seen[0]["body"] == {"text": "[2026-02] SLO checkout-availability (checkout) is failed, first incident "
                                                 "2026-02-10T10:00:00Z..2026-02-10T11:00:00Z (42 bad events)"}
    _Recorder.delay = 1.0
    slow = A.carry_out(_action("notify", url_env="SLACK", timeout_s=0.2), ENTRY, "2026-02", "k2", [], execute=True, env={"SLACK": server})
    assert slow.status == "failed" and "Timeout" in slow.reason
    missing = A.carry_out(_action("notify", url_env="NOT_SET"), ENTRY, "2026-02", "k3", [], execute=True, env={})
    assert missing.status == "failed" and "NOT_SET" in missing.reason


def test_command_gets_a_log_field_as_one_argument_and_no_shell(tmp_path):
    hostile = "x; touch pwned && echo $(id) | cat `whoami` > out"
    incident = INCIDENT.model_copy(update={"top_operations": (OperationCount(operation=hostile, bad_events=1),)})
    entry = ENTRY.model_copy(update={"incidents": (incident,)})
    action = _action("command", argv=["python3", "-c", "import sys, json; print(json.dumps(sys.argv[1:]))", "{op}"],
                     map_fields={"{op}": "top_operation"}, cwd=str(tmp_path), env_allow=["PATH"])
    outcome = A.carry_out(action, entry, "2026-02", "k", [], execute=True, env={"PATH": "/usr/bin:/bin", "SECRET": "no"})
    assert outcome.status == "ok"
    assert json.loads(outcome.detail["stdout"]) == [hostile]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out").exists()
    env_check = _action("command", argv=["python3", "-c", "import os; print(sorted(os.environ))"], env_allow=["PATH"])
    seen = A.carry_out(env_check, entry, "2026-02", "k2", [], execute=True, env={"PATH": "/usr/bin:/bin", "SECRET": "no"})
    assert "SECRET" not in seen.detail["stdout"]
    slow = _action("command", argv=["sleep", "5"], timeout_s=0.3, attempts=2)
    timed_out = A.carry_out(slow, entry, "2026-02", "k3", [], execute=True, env={"PATH": "/usr/bin:/bin"})
    assert timed_out.status == "failed" and "timed out" in timed_out.reason and timed_out.attempts == 2


def test_a_planned_action_missing_from_the_runbooks_fails_without_stopping_the_others(month, tmp_path):
    import polars as pl

    base, _, resources, instance, plan = month
    trimmed = tmp_path / "runbooks.yaml"
    text = (ROOT / "examples" / "runbooks.yaml").read_text()
    trimmed.write_text(text.replace("    - {kind: notify, name: page-checkout-oncall, url_env: SLO_ASSETS_SLACK_WEBHOOK, format: slack}\n", ""))
    changed = {**resources, "remediation": Remediation(runbook_paths=[str(trimmed)])}
    assert run_remediation(changed, instance, "trimmed", "checkout-availability")
    runs = pl.read_parquet(base / "wh" / "remediation_runs" / "2026-02.parquet").filter(pl.col("run_key") == "trimmed")
    status = dict(zip(runs["action"], runs["status"], strict=True))
    assert status["page-checkout-oncall"] == "failed"
    assert len(status) == len(next(e for e in plan["entries"] if e["slo"] == "checkout-availability")["actions"])


def test_same_breach_twice_is_done_once():
    action = _action("annotate", text="noted")
    first = A.carry_out(action, ENTRY, "2026-02", "key", [], execute=True)
    again = A.carry_out(action, ENTRY, "2026-02", "key", [first], execute=True)
    assert (first.status, again.status) == ("ok", "skipped_already_done")


def test_learning_record_before_after_and_recovery_time():
    from decimal import Decimal

    import numpy as np
    import polars as pl

    from slo_assets.remediation.learning import effectiveness, learn, runbook_scores

    start = int(datetime.fromisoformat("2026-02-10T09:00:00+00:00").timestamp() * 1000)
    minutes = 180
    total = np.full(minutes, 100)
    good = total.copy()
    good[30:70] = 50  # outage 09:30-10:10; the action lands at 10:00
    frame = pl.DataFrame({"slo": ["s"] * minutes,
                          "minute": pl.Series([start + i * 60_000 for i in range(minutes)]).cast(pl.Datetime("ms", "UTC")),
                          "good": good, "total": total, "server_errors": total - good})
    outcome = Outcome(status="ok", slo="s", started_at="2026-02-10T10:00:00Z", finished_at="2026-02-10T10:00:00Z", idempotency_key="k",
                      period="2026-02", runbook="rb", action="restart", kind="command", reason=None, attempts=1, run_key="k", dry_run=False)
    (record,) = learn([outcome], (), {"s": frame}, {"s": Decimal("0.99")}, start + minutes * 60_000)
    assert record["reference_basis"] == "action_finished"
    assert record["sli_before"] == pytest.approx((30 * 100 + 30 * 50) / 6000)  # 09:00-10:00: half the hour in the outage
    assert record["sli_after"] == pytest.approx((10 * 50 + 50 * 100) / 6000)
    assert record["sli_after"] < 0.99  # 10:00-11:00 still holds 10 outage minutes: 0.9167 < 0.99
    # The 1h burn rate drops below 1 once under 1 % of the last hour failed: one outage minute left
    # in the window (50 of 6000) at 11:08, 68 minutes after the action: recovered, and when.
    assert record["recovered"] is True and record["minutes_to_recover"] == 68
    stats = effectiveness(pl.DataFrame([record]))
    assert stats.row(0, named=True)["outcomes"] == 1 and runbook_scores(stats) == {"rb": 1.0}


def test_plan_ranks_runbooks_by_what_worked(month):
    from slo_assets.remediation.plan import build_plan
    from slo_assets.remediation.runbooks import Runbook

    base, _, resources, _, _ = month
    specs = resources["slo_settings"].load()
    evaluations = load_evaluations((base / "wh" / layout.WINDOW_EVALUATIONS.relative("2026-02")).read_bytes())
    def note(runbook: str) -> Action:
        return Action(runbook=runbook, spec=AnnotateAction(name="note"))

    runbooks = [Runbook("slow-fix", "", {"slo": "checkout-availability"}, (note("slow-fix"),)),
                Runbook("good-fix", "", {"slo": "checkout-availability"}, (note("good-fix"),))]
    import polars as pl

    def empty(slo, start_ms, end_ms):
        return pl.DataFrame(schema={"ts": pl.Datetime("ms", "UTC"), "operation": pl.String, "status": pl.Int32,
                                    "source_file": pl.String, "source_line": pl.Int64})

    plain = build_plan("2026-02", specs.slos, evaluations, {}, empty, runbooks, base / "logs")
    ranked = build_plan("2026-02", specs.slos, evaluations, {}, empty, runbooks, base / "logs", {"good-fix": 0.9, "slow-fix": 0.1})
    def entry(plan):
        return next(e for e in plan.entries if e.slo == "checkout-availability")

    assert list(entry(plain).runbooks) == ["slow-fix", "good-fix"]
    assert list(entry(ranked).runbooks) == ["good-fix", "slow-fix"]
    assert [a.recovered_share for a in entry(ranked).actions] == [0.9, 0.1]


def test_learning_record_is_written_by_the_remediation_job(month):
    import polars as pl

    base, _, resources, instance, plan = month
    assert run_remediation(resources, instance, "learn", "auth-availability")
    records = pl.read_parquet(base / "wh" / layout.LEARNING_RECORD.relative("2026-02"))
    auth = records.filter(pl.col("slo") == "auth-availability")
    entry = next(e for e in plan["entries"] if e["slo"] == "auth-availability")
    assert auth.height == len(entry["actions"]) and set(auth["reference_basis"]) == {"incident_start"}
    assert set(auth["reference"]) == {entry["incidents"][0]["start"]}
    assert auth["sli_before"].is_not_null().all() and auth["sli_after"].is_not_null().all()


def test_plan_reads_exactly_each_slos_bad_rows_from_the_days_it_keeps(tmp_path):
    """The plan's reader keeps only rows bad for some SLO; for each SLO and window it must still return exactly
    what filtering the whole parsed day gives (availability and latency SLOs, rows without a duration, edges)."""
    import polars as pl

    from slo_assets.defs.remediation.assets import _bad_rows
    from slo_assets.openslo.spec import load_specs
    from slo_assets.warehouse import canonical
    from slo_assets.warehouse.storage import Warehouse

    slos = load_specs([ROOT / "examples" / "slos.yaml"]).slos
    store = Warehouse(tmp_path / "wh")
    day_ms = int(_ts("2026-02-10T00:00:00Z").timestamp() * 1000)
    services = ["checkout", "search", "auth", "catalog", "other"]
    n = 2000
    rows = pl.DataFrame({
        "ts": pl.Series([day_ms + i * 43_000 for i in range(n)], dtype=pl.Int64).cast(pl.Datetime("ms", "UTC")),
        "service": [services[i % 5] for i in range(n)],
        "operation": ["GET /catalog/api/v1/items/{id}" if i % 3 else "POST /checkout/api/v1/orders" for i in range(n)],
        "method": ["GET"] * n, "path": ["/x"] * n,
        "status": pl.Series([(200, 503, 404, 500, 201, 502, 200)[i % 7] for i in range(n)], dtype=pl.Int32),
        "duration_ms": [None if i % 11 == 0 else float((i * 37) % 400) for i in range(n)],
        "client": [None if i % 13 == 0 else f"10.0.0.{i % 4}" for i in range(n)],
        "source_file": ["access.log"] * n,
        "source_line": pl.Series(range(1, n + 1), dtype=pl.Int64),
    })
    path = layout.PARSED_LOGS.path(store, "2026-02-10")
    store.write_table(path, rows.to_arrow().cast(canonical.PARSED_LOGS.arrow_schema()))
    read = _bad_rows(store, slos)
    windows = [(day_ms, day_ms + 86_400_000), (day_ms + 3_600_000, day_ms + 7_200_000), (day_ms - 86_400_000, day_ms + 1)]
    for slo in slos:
        for start, end in windows:
            expected = rows.filter(pl.col("ts").dt.epoch("ms").is_between(start, end - 1)
                                   & slo.indicator.total_expr() & ~slo.indicator.good_expr())
            got = read(slo, start, end)
            assert got.height == expected.height, (slo.name, start, end)
            assert got["source_line"].to_list() == expected["source_line"].to_list()
            assert got["client"].to_list() == expected["client"].to_list()
    assert any(read(slo, *windows[0]).height for slo in slos)



def test_sample_lines_are_read_by_number_across_blocks_gzip_or_not(tmp_path):
    import gzip

    from slo_assets.remediation.plan import lines_at, read_source_lines

    content = b"one\ntwo\r\n\nfour" + b"x" * 600 + b"\nfive"  # CRLF, an empty line, a long line, no final newline
    expected = {1: b"one", 2: b"two\r", 3: b"", 4: b"four" + b"x" * 600, 5: b"five"}
    for size in (1, 2, 3, 5, 7, len(content)):  # block edges inside lines, on newlines, the whole at once
        blocks = [content[i:i + size] for i in range(0, len(content), size)]
        assert dict(lines_at(blocks, [1, 2, 3, 4, 5, 9])) == expected, size
        assert list(lines_at(blocks, [3, 5])) == [(3, b""), (5, b"five")]
    assert list(lines_at([b"a\n", b"b\n"], [2, 3])) == [(2, b"b")]  # a last line ending in a newline is not followed by an empty one
    read = iter([b"a\nb\n", b"c\n"])
    assert list(lines_at(read, [1])) == [(1, b"a")] and next(read) == b"c\n"  # stops at the last line asked for
    (tmp_path / "plain.log").write_bytes(content)
    # invalid UTF-8 (not \xff\xfe, which starts a UTF-16 file: the ingestion decodes it so, and so do the samples)
    (tmp_path / "rotated.log.gz").write_bytes(gzip.compress(b"\xc3\x28 bad utf-8\nsecond\n"))
    found = read_source_lines(tmp_path, {"plain.log": {2, 4}, "rotated.log.gz": {1, 2}, "gone.log": {1}})
    assert found == {("plain.log", 2): "two", ("plain.log", 4): "four" + "x" * 508, ("rotated.log.gz", 1): "\\xc3( bad utf-8",
                     ("rotated.log.gz", 2): "second"}


APPEND_OUTCOMES = """
import sys
from slo_assets.defs.remediation.assets import record_outcomes
from slo_assets.remediation.models import Outcome
from slo_assets.warehouse.storage import Warehouse
base, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    outcome = Outcome(period="2026-02", slo="s", runbook="rb", action="annotate", kind="annotate", status="ok", reason=None, attempts=1,
                      started_at="2026-02-10T10:00:00Z", finished_at="2026-02-10T10:00:00Z", idempotency_key=f"{writer}-{i}",
                      run_key=f"{writer}-{i}", dry_run=False, detail={"n": i})
    record_outcomes(Warehouse(base), "2026-02", [outcome])
"""


def test_runs_appending_outcomes_at_once_lose_none(tmp_path):
    """remediation_job and live_alert_job runs may record at the same moment: every row stays."""
    import subprocess
    import sys

    import polars as pl

    writers = [subprocess.Popen([sys.executable, "-c", APPEND_OUTCOMES, str(tmp_path / "wh"), name, "25"])
               for name in ("monthly", "live")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    keys = pl.read_parquet(tmp_path / "wh" / "remediation_runs" / "2026-02.parquet")["run_key"].to_list()
    assert sorted(keys) == sorted(f"{name}-{i}" for name in ("monthly", "live") for i in range(25))


def test_the_daemon_takes_its_runbooks_and_the_execute_switch_from_the_environment(monkeypatch, tmp_path):
    from slo_assets.core.clock import SettingError
    from slo_assets.defs.resources import default_resources
    from slo_assets.defs.settings import LocationSettings

    def default_remediation():
        return default_resources(LocationSettings.from_environ())["remediation"]

    monkeypatch.delenv("SLO_ASSETS_RUNBOOKS", raising=False)
    monkeypatch.delenv("SLO_ASSETS_REMEDIATION_EXECUTE", raising=False)
    default = default_remediation()
    assert default.execute is False and default.runbook_paths == Remediation().runbook_paths
    monkeypatch.setenv("SLO_ASSETS_RUNBOOKS", f"{tmp_path}/a.yaml, {tmp_path}/b.yaml")
    monkeypatch.setenv("SLO_ASSETS_REMEDIATION_EXECUTE", "On")
    chosen = default_remediation()
    assert chosen.execute is True and chosen.runbook_paths == [f"{tmp_path}/a.yaml", f"{tmp_path}/b.yaml"]
    monkeypatch.setenv("SLO_ASSETS_REMEDIATION_EXECUTE", "maybe")
    with pytest.raises(SettingError, match="SLO_ASSETS_REMEDIATION_EXECUTE='maybe': expected on or off"):
        default_remediation()
