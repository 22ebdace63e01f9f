"""Carry out runbook actions: notify, webhook, command, annotate. Dry-run unless told to execute.

HTTP goes through requests with urllib3's Retry (POST included, backoff, on 5xx and connection
errors); commands run as argument lists without a shell, with a timeout and an environment built
from an allow-list. Secrets come from environment variables named in the runbook and never appear
in an outcome.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from slo_assets.remediation.runbooks import Action
from slo_assets.slo.budget import epoch_ms

OK, FAILED, DRY_RUN, COOLDOWN, DONE_BEFORE = "ok", "failed", "dry_run", "skipped_cooldown", "skipped_already_done"
RETRY_STATUSES = (500, 502, 503, 504)


def now_iso(moment: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if moment is None else moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Outcome:
    period: str
    slo: str
    runbook: str
    action: str
    kind: str
    status: str
    reason: str | None
    attempts: int
    started_at: str
    finished_at: str
    idempotency_key: str
    run_key: str
    dry_run: bool
    detail: dict = field(default_factory=dict)

    def to_row(self) -> dict:
        return asdict(self)


def idempotency_key(run_key: str, runbook: str, action: str) -> str:
    """Same breach (run key), same runbook action: same key."""
    return hashlib.sha256(f"{run_key}|{runbook}|{action}".encode()).hexdigest()[:24]


def _summary(entry: dict, period: str) -> str:
    incidents = entry.get("incidents") or []
    first = incidents[0] if incidents else None
    where = f", first incident {first['start']}..{first['end']} ({first['bad_events']} bad events)" if first else ""
    return f"[{period}] SLO {entry['slo']} ({entry['service']}) is {entry['status']}{where}"


def payload(action: Action, entry: dict, period: str) -> dict:
    """What notify and webhook send: facts about the breach, never secrets or raw log lines."""
    if action.kind == "notify" and action.spec.get("format", "slack") == "slack":
        return {"text": _summary(entry, period)}
    return {
        "period": period, "slo": entry["slo"], "service": entry["service"], "status": entry["status"],
        "severity": entry["severity"], "fingerprint": entry["fingerprint"],
        "incidents": [{k: i[k] for k in ("start", "end", "bad_events", "peak_burn_rate")} for i in entry.get("incidents", [])],
        "summary": _summary(entry, period),
    }


def argv_for(action: Action, entry: dict) -> list[str]:
    """The command's argv; a mapped placeholder becomes exactly one argument holding the field's value."""
    incidents = entry.get("incidents") or [{}]
    fields = {
        "service": entry["service"], "slo": entry["slo"], "status": entry["status"],
        "incident_start": incidents[0].get("start", ""), "incident_end": incidents[0].get("end", ""),
        "top_operation": ((incidents[0].get("top_operations") or [{}])[0]).get("operation", ""),
    }
    mapping = action.spec.get("map_fields") or {}
    return [str(fields[mapping[arg]]) if arg in mapping else arg for arg in action.spec["argv"]]


def _session(action: Action) -> requests.Session:
    retry = Retry(total=action.attempts - 1, connect=action.attempts - 1, read=action.attempts - 1,
                  status=action.attempts - 1, backoff_factor=action.backoff_s, status_forcelist=RETRY_STATUSES,
                  allowed_methods=frozenset({"POST"}), raise_on_status=False)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def _post(action: Action, body: dict, env: Mapping[str, str]) -> tuple[str, str | None, int, dict]:
    url_env = action.spec["url_env"]
    url = env.get(url_env)
    if not url:
        return FAILED, f"environment variable {url_env} is not set", 0, {}
    headers = {"Content-Type": "application/json"}
    for header, name in (action.spec.get("headers_env") or {}).items():
        if name not in env:
            return FAILED, f"environment variable {name} (header {header}) is not set", 0, {}
        headers[header] = env[name]
    try:
        with _session(action) as session:
            response = session.post(url, json=body, headers=headers, timeout=action.timeout_s)
            attempts = 1 + len(response.raw.retries.history) if response.raw is not None and response.raw.retries else 1
    except requests.RequestException as exc:
        # urllib3 wraps a read timeout that exhausted its retries in a ConnectionError: name it.
        timed_out = isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower()
        kind = f"Timeout ({action.timeout_s:g} s)" if timed_out else type(exc).__name__
        return FAILED, f"{kind} after {action.attempts} attempt(s)", action.attempts, {"url_env": url_env}
    detail = {"url_env": url_env, "http_status": response.status_code}
    if response.status_code >= 400:
        return FAILED, f"HTTP {response.status_code}", attempts, detail
    return OK, None, attempts, detail


def _command(action: Action, entry: dict, env: Mapping[str, str]) -> tuple[str, str | None, int, dict]:
    argv = argv_for(action, entry)
    allowed = {name: env[name] for name in action.spec.get("env_allow", []) if name in env}
    last_reason, attempts = None, 0
    for attempt in range(1, action.attempts + 1):
        attempts = attempt
        try:
            done = subprocess.run(argv, shell=False, cwd=action.spec.get("cwd"), env=allowed, capture_output=True,
                                  timeout=action.timeout_s, check=False)
        except subprocess.TimeoutExpired:
            last_reason = f"timed out after {action.timeout_s:g} s"
        except OSError as exc:
            return FAILED, f"cannot start {argv[0]!r}: {exc.strerror}", attempt, {"argv": argv}
        else:
            detail = {"argv": argv, "exit_code": done.returncode,
                      "stdout": done.stdout[-2000:].decode("utf-8", "replace"), "stderr": done.stderr[-2000:].decode("utf-8", "replace")}
            if done.returncode == 0:
                return OK, None, attempt, detail
            last_reason = f"exit code {done.returncode}"
        if attempt < action.attempts:
            time.sleep(action.backoff_s * 2 ** (attempt - 1))
    return FAILED, last_reason, attempts, {"argv": argv}


def _in_cooldown(action: Action, slo: str, history: list[dict], now: float, dry_run: bool) -> bool:
    if action.cooldown_s <= 0:
        return False
    counted = (OK, DRY_RUN) if dry_run else (OK,)
    for past in history:
        if (past["runbook"], past["action"], past["slo"]) == (action.runbook, action.name, slo) and past["status"] in counted:
            if now - epoch_ms(past["finished_at"]) / 1000 < action.cooldown_s:
                return True
    return False


def carry_out(action: Action, entry: dict, period: str, run_key: str, history: list[dict], execute: bool,
              env: Mapping[str, str] | None = None, clock=time.time) -> Outcome:
    """One action for one plan entry: done before (same idempotency key), cooldown, dry run, or for real."""
    env = os.environ if env is None else env
    key = idempotency_key(run_key, action.runbook, action.name)
    started = clock()

    def outcome(status: str, reason: str | None, attempts: int, detail: dict) -> Outcome:
        return Outcome(period, entry["slo"], action.runbook, action.name, action.kind, status, reason, attempts,
                       now_iso(started), now_iso(clock()), key, run_key, not execute, detail)

    if any(p["idempotency_key"] == key and p["status"] == OK for p in history):
        return outcome(DONE_BEFORE, "this action already ran for this breach", 0, {})
    if _in_cooldown(action, entry["slo"], history, started, not execute):
        return outcome(COOLDOWN, f"ran for {entry['slo']} less than {action.cooldown_s:g} s ago", 0, {})
    if not execute:
        would = {"notify": lambda: {"would_post_to_env": action.spec["url_env"], "payload": payload(action, entry, period)},
                 "webhook": lambda: {"would_post_to_env": action.spec["url_env"], "payload": payload(action, entry, period)},
                 "command": lambda: {"would_run": argv_for(action, entry)},
                 "annotate": lambda: {"text": action.spec.get("text", "")}}[action.kind]()
        return outcome(DRY_RUN, None, 0, would)
    if action.kind in ("notify", "webhook"):
        return outcome(*_post(action, payload(action, entry, period), env))
    if action.kind == "command":
        return outcome(*_command(action, entry, env))
    return outcome(OK, None, 1, {"text": action.spec.get("text", "")})


def missing_action(described: dict, entry: dict, period: str, run_key: str, dry_run: bool) -> Outcome:
    """The outcome of a planned action that the runbooks no longer define: failed, with the reason."""
    moment = now_iso()
    key = idempotency_key(run_key, described["runbook"], described["name"])
    return Outcome(period, entry["slo"], described["runbook"], described["name"], described["kind"], FAILED,
                   "the action is no longer in the runbooks; re-materialize remediation_plan", 0, moment, moment, key,
                   run_key, dry_run)
