"""Carry out runbook actions: notify, webhook, command, annotate, and the channels slack, pagerduty
and email (messages built in channels.py). Dry-run unless told to execute. Message actions of one
service and channel go out as one message (`carry_out_group`), after the checks against fatigue:
done before, cooldown, quiet hours, the channel's rate limit.

HTTP goes through requests, one POST per attempt (retried on 5xx, connection errors and timeouts,
with exponential backoff), never following a redirect, within a total deadline per attempt that a
watchdog enforces by cutting the connection, reading at most 64 KiB of the answer. Commands run as
argument lists without a shell, in their own process group (killed whole on timeout), in a working
directory inside the allowed root, with an environment built from an allow-list; a value from the
logs never chooses the program and never becomes an option. Secrets come from environment variables
named in the runbook and are redacted from every outcome by one function, `redact`, with the pieces
of a URL a server may echo on their own (its path, a token in it, its query values, its credentials).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from slo_assets.remediation.channels import (
    INCIDENT_FACTS,
    PAGERDUTY_EVENTS_URL,
    breach_id,
    email_message,
    live_alert,
    pagerduty_event,
    pagerduty_follow_up,
    slack_message,
)
from slo_assets.remediation.models import (
    AnnotateAction,
    CommandAction,
    Delivery,
    EmailAction,
    HttpAction,
    NotifyAction,
    Outcome,
    PagerDutyAction,
    PlanEntry,
    PlannedAction,
    SlackAction,
    WebhookAction,
)
from slo_assets.remediation.runbooks import Action, inside_root
from slo_assets.slo.budget import epoch_ms

OK, FAILED, DRY_RUN, COOLDOWN, DONE_BEFORE = "ok", "failed", "dry_run", "skipped_cooldown", "skipped_already_done"
QUIET_HOURS, RATE_LIMITED = "skipped_quiet_hours", "skipped_rate_limit"
RETRY_STATUSES = (500, 502, 503, 504)
THROTTLED_RETRY_STATUSES = (429, *RETRY_STATUSES)
MAX_BODY_BYTES = 64 * 1024
OUTPUT_CHARS = 2000
EXCERPT_CHARS = 300
# Of the answer, this much is kept to be redacted, then cut to EXCERPT_CHARS: cutting first could
# keep the head of a secret that straddles the cut.
EXCERPT_KEPT_BYTES = 4096
# A piece of a secret shorter than this is not redacted on its own: it would mangle ordinary words
# ("services", "v2") in every outcome. A whole secret value always is, whatever its length.
MIN_PIECE_CHARS = 8


def now_iso(moment: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if moment is None else moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def idempotency_key(breach: str, runbook: str, action: str) -> str:
    """Same breach (channels.breach_id: period, SLO, fingerprint), same runbook action: same key,
    whichever run carries it out."""
    return hashlib.sha256(f"{breach}|{runbook}|{action}".encode()).hexdigest()[:24]


def _summary(entry: PlanEntry, period: str) -> str:
    first = entry.incidents[0] if entry.incidents else None
    where = f", first incident {first.start}..{first.end} ({first.bad_events} bad events)" if first else ""
    live = live_alert(entry)
    alert = f": live alert {live['alert']} over the {live['window']} window" if live else ""
    return f"[{period}] SLO {entry.slo} ({entry.service}) is {entry.status}{alert}{where}"


def payload(action: Action, entry: PlanEntry, period: str) -> dict[str, Any]:
    """What notify and webhook send: facts about the breach, never secrets or raw log lines."""
    if isinstance(action.spec, NotifyAction) and action.spec.format == "slack":
        return {"text": _summary(entry, period)}
    return {
        "period": period, "slo": entry.slo, "service": entry.service, "status": entry.status,
        "severity": entry.severity, "fingerprint": entry.fingerprint, **live_alert(entry),
        "incidents": [i.model_dump(include=INCIDENT_FACTS) for i in entry.incidents],
        "summary": _summary(entry, period),
    }


def _looks_like_token(piece: str) -> bool:
    """A lone path segment worth redacting: long, or with a digit (a word such as "services" is not)."""
    return len(piece) >= 16 or (len(piece) >= MIN_PIECE_CHARS and any(c.isdigit() for c in piece))


def secret_pieces(value: str) -> set[str]:
    """`value` and what a server or an error may echo of it alone. For an http(s) URL (the whole URL
    is a secret, e.g. a Slack hook .../services/T.../B.../token): its path, each tail of the path, the
    path with the query, token-like segments, query values, the user-info's password and the Basic
    credentials requests builds from it, each also percent-decoded. For "Scheme credentials" (an
    Authorization value): the credentials."""
    pieces = {value}
    scheme, _, credentials = value.partition(" ")
    if credentials and scheme.isalpha() and " " not in credentials:
        pieces.add(credentials)
    try:
        parts = urlsplit(value)
        user, password = parts.username, parts.password
    except ValueError:
        return pieces
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return pieces
    segments = [s for s in parts.path.split("/") if s]
    found = [value, parts.path, f"{parts.path}?{parts.query}" if parts.query else ""]
    found += [tail for i in range(len(segments) - 1) for tail in ("/".join(segments[i:]), "/" + "/".join(segments[i:]))]
    found += [s for s in segments if _looks_like_token(unquote(s))]
    found += [v for pair in parts.query.split("&") for v in pair.split("=", 1)[1:]]
    found += [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
    if user is not None or password is not None:
        login = f"{unquote(user or '')}:{unquote(password or '')}"
        found += [login, base64.b64encode(login.encode("latin-1", "replace")).decode()]
        if password:  # a password is a secret whatever its length
            pieces |= {password, unquote(password)}
    pieces |= {p for piece in found for p in (piece, unquote(piece)) if len(p) >= MIN_PIECE_CHARS}
    return pieces


def redact(value, secrets: Mapping[str, str]):
    """`value` (str, or dicts/lists of them, keys included) with each secret's value, and each piece
    of it a server may echo alone (`secret_pieces`), replaced by [redacted:NAME]. One pass, longest
    first, so a secret holding another is replaced whole."""
    markers: dict[str, str] = {}
    for name, secret in sorted(secrets.items(), key=lambda item: -len(item[1] or "")):
        for piece in secret_pieces(secret) if secret else ():
            markers.setdefault(piece, f"[redacted:{name}]")
    if not markers:
        return value
    pattern = re.compile("|".join(map(re.escape, sorted(markers, key=len, reverse=True))))

    def clean(item):
        if isinstance(item, str):
            return pattern.sub(lambda m: markers[m.group()], item)
        if isinstance(item, dict):
            return {clean(k): clean(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return type(item)(clean(i) for i in item)
        return item
    return clean(value)


def secret_values(names: Iterable[str], env: Mapping[str, str]) -> dict[str, str]:
    return {name: env[name] for name in names if env.get(name)}


def stored_detail(detail: dict, secrets: Mapping[str, str]) -> dict:
    """A detail as stored: redacted, then the answer's excerpt cut, so no cut keeps a piece of a secret."""
    detail = redact(detail, secrets)
    if isinstance(detail.get("response_excerpt"), str):
        detail = {**detail, "response_excerpt": detail["response_excerpt"][:EXCERPT_CHARS]}
    return detail


class UnsafeValue(ValueError):
    """A mapped value from the logs that could change what the command does; nothing runs."""


def argv_for(command: CommandAction, entry: PlanEntry) -> list[str]:
    """The command's argv; a mapped placeholder becomes exactly one argument holding the field's value.
    The program (argv[0]) is never mapped: load_runbooks refuses that, and so does this for an
    Action built in code. A value starting with '-' would be read as an option: refused (default),
    or, with `values_after: "--"`, every mapped value comes after a '--' that ends the options."""
    first = entry.incidents[0] if entry.incidents else None
    fields = {
        "service": entry.service, "slo": entry.slo, "status": entry.status,
        "incident_start": first.start if first else "", "incident_end": first.end if first else "",
        "top_operation": first.top_operations[0].operation if first and first.top_operations else "",
    }
    mapping = command.map_fields
    program = command.argv[0]
    if any(key and key in program for key in mapping):
        raise UnsafeValue(f"the program {program!r} holds a placeholder: a value from the logs would choose what runs; refused")
    after_dashes = command.values_after == "--"
    argv: list[str] = []
    for arg in command.argv:
        if arg not in mapping:
            argv.append(arg)
            continue
        value = str(fields[mapping[arg]])
        if "\0" in value:
            raise UnsafeValue(f"field {mapping[arg]} ({arg}) holds a NUL byte; refused")
        if value.startswith("-") and not after_dashes:
            raise UnsafeValue(f"field {mapping[arg]} ({arg}) starts with '-' and would be read as an option; refused "
                              f"(set values_after: \"--\" to pass it after '--')")
        if after_dashes and "--" not in argv:
            argv.append("--")
        argv.append(value)
    return argv


def _shut(sock: socket.socket) -> None:
    try:  # the plain socket's shutdown (under TLS too): wakes a blocked recv with EOF
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _CuttableAdapter(HTTPAdapter):
    """No retries, and every socket it opens can be cut from another thread: a blocked read (a server
    trickling headers or body) then ends at once, so a deadline bounds the whole attempt. Sockets are
    kept from the moment they connect, not looked up on the connection: once an answer says
    `Connection: close` (or is HTTP/1.0), http.client drops the connection's socket and the body is
    read through the response alone."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.cut_done = False
        self.lock = threading.Lock()
        super().__init__(max_retries=0)

    def _opened(self, sock) -> None:
        with self.lock:
            self.sockets.append(sock)
            if self.cut_done:  # connected just as the deadline passed
                _shut(sock)

    def _tracking(self, base: type) -> type:
        opened = self._opened

        class TrackedConnection(base.ConnectionCls):
            def _new_conn(self):
                sock = super()._new_conn()
                opened(sock)  # the plain socket: cut even while TLS is being set up
                return sock

            def connect(self):
                super().connect()
                if isinstance(self.sock, socket.socket):
                    opened(self.sock)  # under TLS, the socket that wraps the plain one

        class Tracked(base):
            ConnectionCls = TrackedConnection
        return Tracked

    def _track(self, manager):
        manager.pool_classes_by_scheme = {"http": self._tracking(HTTPConnectionPool), "https": self._tracking(HTTPSConnectionPool)}
        return manager

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._track(self.poolmanager)

    def proxy_manager_for(self, proxy, **kwargs):
        return self._track(super().proxy_manager_for(proxy, **kwargs))

    def cut(self) -> None:
        with self.lock:
            self.cut_done = True
            for sock in self.sockets:
                _shut(sock)


@dataclass
class _Answer:
    status: int | None = None
    location_host: str | None = None
    body_bytes_read: int = 0
    excerpt: bytes = b""
    error: str | None = None
    timed_out: bool = False


def _location_host(url: str, location: str | None) -> str:
    if not location:
        return "(no Location header)"
    target = urlsplit(urljoin(url, location))
    return f"{target.hostname}:{target.port}" if target.port else str(target.hostname)


def _post_once(url: str, body: dict, headers: dict, timeout_s: float) -> _Answer:
    """One POST within `timeout_s` in total (connect, send, headers, body), redirects not followed."""
    deadline = time.monotonic() + timeout_s
    adapter = _CuttableAdapter()
    expired = threading.Event()

    def on_deadline() -> None:
        expired.set()
        adapter.cut()
    watchdog = threading.Timer(timeout_s, on_deadline)
    watchdog.daemon = True
    answer = _Answer()
    watchdog.start()
    try:
        with requests.Session() as session:
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            with session.post(url, json=body, headers=headers, timeout=timeout_s, allow_redirects=False, stream=True) as response:
                answer.status = response.status_code
                if 300 <= response.status_code < 400:
                    answer.location_host = _location_host(url, response.headers.get("Location"))
                    return answer
                # The answer counts once its body is read to the end or to the cap, within the deadline.
                while answer.body_bytes_read < MAX_BODY_BYTES:
                    if time.monotonic() >= deadline:
                        answer.timed_out = True
                        break
                    chunk = response.raw.read(min(8192, MAX_BODY_BYTES - answer.body_bytes_read), decode_content=False)
                    if not chunk:
                        break
                    if len(answer.excerpt) < EXCERPT_KEPT_BYTES:
                        answer.excerpt += chunk[:EXCERPT_KEPT_BYTES - len(answer.excerpt)]
                    answer.body_bytes_read += len(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:  # ValueError: a malformed URL
        # A cut connection surfaces as a protocol or connection error: the deadline is the reason.
        answer.timed_out = expired.is_set() or isinstance(exc, requests.Timeout) or "timed out" in str(exc).lower()
        answer.error = type(exc).__name__
    finally:
        watchdog.cancel()
    if expired.is_set():
        answer.timed_out = True
    return answer


@dataclass(frozen=True)
class TryAgain:
    """An attempt that failed in a way worth retrying: why, and what to record if it was the last."""

    reason: str
    detail: dict[str, Any]


def with_retries(action: Action, attempt_once: Callable[[int], Delivery | TryAgain]) -> Delivery:
    """`attempt_once(n)` for n = 1 .. action.attempts, sleeping backoff x 2^(n-1) between them, until it
    returns a Delivery; after the last TryAgain the action failed with that attempt's reason and detail."""
    last = TryAgain("no attempt", {})
    for attempt in range(1, action.attempts + 1):
        result = attempt_once(attempt)
        if isinstance(result, Delivery):
            return result
        last = result
        if attempt < action.attempts:
            time.sleep(action.backoff_s * 2 ** (attempt - 1))
    return Delivery(status=FAILED, reason=last.reason, attempts=action.attempts, detail=last.detail)


def _post(action: Action, body: dict[str, Any], env: Mapping[str, str], retry_statuses: tuple[int, ...] = RETRY_STATUSES) -> Delivery:
    """notify, webhook and slack: the URL in url_env, headers from headers_env."""
    spec = action.spec_as(HttpAction)
    url = env.get(spec.url_env)
    if not url:
        return Delivery(status=FAILED, reason=f"environment variable {spec.url_env} is not set")
    headers = {"Content-Type": "application/json"}
    for header, name in (spec.headers_env if isinstance(spec, WebhookAction) else {}).items():
        if name not in env:
            return Delivery(status=FAILED, reason=f"environment variable {name} (header {header}) is not set")
        headers[header] = env[name]
    return _post_with_retries(action, url, {"url_env": spec.url_env}, body, headers, retry_statuses)


def _post_with_retries(action: Action, url: str, where: dict[str, Any], body: dict[str, Any], headers: dict[str, str],
                       retry_statuses: tuple[int, ...]) -> Delivery:
    def attempt_once(attempt: int) -> Delivery | TryAgain:
        answer = _post_once(url, body, headers, action.timeout_s)
        if answer.timed_out:
            return TryAgain(f"Timeout ({action.timeout_s:g} s for the whole attempt) after {attempt} attempt(s)", dict(where))
        if answer.error or answer.status is None:
            return TryAgain(f"{answer.error} after {attempt} attempt(s)", dict(where))
        detail = {**where, "http_status": answer.status, "body_bytes_read": answer.body_bytes_read}
        if answer.location_host is not None:
            # Following could carry the configured headers (secrets) to another host: never.
            return Delivery(status=FAILED, reason=f"HTTP {answer.status}: redirect to {answer.location_host} not followed",
                            attempts=attempt, detail=detail)
        if answer.status < 400:
            return Delivery(status=OK, attempts=attempt, detail=detail)
        detail["response_excerpt"] = answer.excerpt.decode("utf-8", "replace")
        if answer.status not in retry_statuses:
            return Delivery(status=FAILED, reason=f"HTTP {answer.status}", attempts=attempt, detail=detail)
        return TryAgain(f"HTTP {answer.status}", detail)

    return with_retries(action, attempt_once)


def pagerduty_url(action: Action, env: Mapping[str, str]) -> str:
    url_env = action.spec_as(PagerDutyAction).url_env
    return (env.get(url_env) if url_env else None) or PAGERDUTY_EVENTS_URL


def send_pagerduty(action: Action, event_action: str, entry: PlanEntry | None, period: str, env: Mapping[str, str],
                   dedup: str | None = None) -> Delivery:
    """One Events API v2 event (trigger, acknowledge or resolve); 429 and 5xx are retried, as PagerDuty
    asks; the same dedup_key makes a repeated trigger update the one alert. `dedup`: the key of an
    acknowledge or resolve for a breach whose entry is gone (the key recorded at its trigger)."""
    spec = action.spec_as(PagerDutyAction)
    if not env.get(spec.routing_key_env):
        return Delivery(status=FAILED, reason=f"environment variable {spec.routing_key_env} is not set")
    routing_key = env[spec.routing_key_env]
    if dedup is not None and event_action != "trigger":
        event = pagerduty_follow_up(event_action, routing_key, dedup)
    elif entry is not None:
        event = pagerduty_event(event_action, routing_key, period, entry, spec.severity, spec.source)
    else:
        raise ValueError(f"a PagerDuty {event_action} event names its breach: a plan entry, or the dedup key of its trigger")
    where = {"routing_key_env": spec.routing_key_env, "event_action": event_action, "dedup_key": event["dedup_key"]}
    return _post_with_retries(action, pagerduty_url(action, env), where, event, {"Content-Type": "application/json"},
                              THROTTLED_RETRY_STATUSES)


def _smtp_server(action: Action, env: Mapping[str, str]) -> tuple[str, int] | str:
    """(host, port) from server_env, or the reason it cannot be used."""
    name = action.spec_as(EmailAction).server_env
    value = env.get(name)
    host, _, port = (value or "").rpartition(":")
    if not value:
        return f"environment variable {name} is not set"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"environment variable {name} is not host:port"
    return host.strip("[]"), int(port)


def send_email(action: Action, message: EmailMessage, env: Mapping[str, str]) -> Delivery:
    """One message over SMTP (STARTTLS first when asked, then login when asked). A 4xx answer, a
    dropped connection or a timeout is retried; a 5xx answer or a refused recipient is not."""
    server = _smtp_server(action, env)
    if isinstance(server, str):
        return Delivery(status=FAILED, reason=server)
    spec = action.spec_as(EmailAction)
    login = (env.get(spec.username_env), env.get(spec.password_env or "")) if spec.username_env else None
    if login and not all(login):
        return Delivery(status=FAILED, reason=f"environment variable {spec.username_env} or {spec.password_env} is not set")
    where = {"server_env": spec.server_env, "recipients": len(spec.to), "starttls": spec.starttls}

    def attempt_once(attempt: int) -> Delivery | TryAgain:
        try:
            with smtplib.SMTP(server[0], server[1], timeout=action.timeout_s) as smtp:
                if spec.starttls:
                    cafile = env.get(spec.ca_file_env) if spec.ca_file_env else None
                    smtp.starttls(context=ssl.create_default_context(cafile=cafile))
                if login:
                    smtp.login(*login)
                refused = smtp.send_message(message, from_addr=spec.sender, to_addrs=list(spec.to))
            return Delivery(status=OK, attempts=attempt, detail={**where, "refused": sorted(refused)})
        except smtplib.SMTPRecipientsRefused as exc:
            return Delivery(status=FAILED, reason=f"every recipient refused ({len(exc.recipients)})", attempts=attempt, detail=where)
        except smtplib.SMTPNotSupportedError as exc:
            return Delivery(status=FAILED, reason=f"SMTP: {exc} (nothing was sent)", attempts=attempt, detail=where)
        except smtplib.SMTPResponseException as exc:
            reason = f"SMTP {exc.smtp_code} after {attempt} attempt(s)"
            return TryAgain(reason, where) if 400 <= exc.smtp_code < 500 else Delivery(status=FAILED, reason=reason, attempts=attempt, detail=where)
        except ssl.SSLError as exc:
            return Delivery(status=FAILED, reason=f"TLS: {exc.reason or type(exc).__name__} (nothing was sent)", attempts=attempt, detail=where)
        except (OSError, smtplib.SMTPException) as exc:  # SMTPServerDisconnected, refused connections, timeouts
            return TryAgain(f"{type(exc).__name__} after {attempt} attempt(s)", where)

    return with_retries(action, attempt_once)


def _kill_group(process: subprocess.Popen) -> tuple[bytes, bytes]:
    """Kill the command and everything it started (its own session), then collect what it wrote."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        return process.communicate(timeout=2)
    except subprocess.TimeoutExpired:  # a descendant left the group and holds the pipes open
        for stream in (process.stdout, process.stderr):
            stream.close()
        process.wait()
        return b"", b""


def _tail(output: bytes, secrets: Mapping[str, str]) -> str:
    # Redact before cutting, so the cut never keeps a piece of a secret.
    return redact(output.decode("utf-8", "replace"), secrets)[-OUTPUT_CHARS:]


def _command(action: Action, argv: list[str], env: Mapping[str, str], secrets: Mapping[str, str]) -> Delivery:
    if action.cwd_root is not None:
        cwd = action.cwd or action.cwd_root
        if not inside_root(Path(cwd), Path(action.cwd_root)):  # checked at load; a symlink may have changed since
            return Delivery(status=FAILED, reason=f"cwd {cwd} is outside the allowed root {action.cwd_root}", detail={"argv": argv})
    elif action.spec_as(CommandAction).cwd:
        return Delivery(status=FAILED, reason="cwd is set but no allowed root is known (load the runbook with load_runbooks)",
                        detail={"argv": argv})
    else:
        cwd = None
    allowed = {name: env[name] for name in action.env_names() if name in env}

    def attempt_once(attempt: int) -> Delivery | TryAgain:
        try:
            process = subprocess.Popen(argv, shell=False, cwd=cwd, env=allowed, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            return Delivery(status=FAILED, reason=f"cannot start {argv[0]!r}: {exc.strerror}", attempts=attempt, detail={"argv": argv})
        except ValueError as exc:  # e.g. a NUL byte in a fixed argument
            return Delivery(status=FAILED, reason=f"cannot start {argv[0]!r}: {exc}", attempts=attempt, detail={"argv": argv})
        try:
            stdout, stderr = process.communicate(timeout=action.timeout_s)
        except subprocess.TimeoutExpired:
            stdout, stderr = _kill_group(process)
            return TryAgain(f"timed out after {action.timeout_s:g} s; its process group was killed",
                            {"argv": argv, "stdout": _tail(stdout, secrets), "stderr": _tail(stderr, secrets)})
        detail = {"argv": argv, "exit_code": process.returncode, "stdout": _tail(stdout, secrets), "stderr": _tail(stderr, secrets)}
        if process.returncode == 0:
            return Delivery(status=OK, attempts=attempt, detail=detail)
        return TryAgain(f"exit code {process.returncode}", detail)

    return with_retries(action, attempt_once)


def _in_cooldown(action: Action, slo: str, history: Sequence[Outcome], now: float, dry_run: bool) -> bool:
    if action.cooldown_s <= 0:
        return False
    counted = (OK, DRY_RUN) if dry_run else (OK,)
    for past in history:
        if (past.runbook, past.action, past.slo) == (action.runbook, action.name, slo) and past.status in counted:
            if now - epoch_ms(past.finished_at) / 1000 < action.cooldown_s:
                return True
    return False


def _done_before(key: str, history: Sequence[Outcome]) -> bool:
    return any(past.idempotency_key == key and past.status == OK for past in history)


def messages_sent(channel: str, history: Sequence[Outcome], since_s: float, dry_run: bool) -> int:
    """Distinct messages to `channel` finished at or after `since_s` (a grouped message counts once)."""
    counted = (OK, DRY_RUN) if dry_run else (OK,)
    ids = {p.detail.get("message_id") for p in history
           if p.status in counted and p.detail.get("channel") == channel and epoch_ms(p.finished_at) / 1000 >= since_s}
    return len(ids - {None})


def _recorded(period: str, slo: str, action: Action, delivery: Delivery, started: float, finished: float, key: str, run_key: str,
              execute: bool, secrets: Mapping[str, str]) -> Outcome:
    """The outcome as stored: its reason and detail redacted, the answer's excerpt cut after that."""
    return Outcome(period=period, slo=slo, runbook=action.runbook, action=action.name, kind=action.kind, status=delivery.status,
                   reason=redact(delivery.reason, secrets), attempts=delivery.attempts, started_at=now_iso(started),
                   finished_at=now_iso(finished), idempotency_key=key, run_key=run_key, dry_run=not execute,
                   detail=stored_detail(delivery.detail, secrets))


def _group_message(action: Action, entries: list[PlanEntry], period: str, message_id: str, moment_s: float):
    """What a message action sends for these entries (one service's breaches)."""
    spec = action.spec
    if isinstance(spec, SlackAction):
        return slack_message(entries, period)
    if isinstance(spec, EmailAction):
        return email_message(entries, period, spec.sender, list(spec.to), message_id, moment_s)
    if len(entries) == 1:  # notify
        return payload(action, entries[0], period)
    return {"text": "\n".join(_summary(e, period) for e in entries)}


def _dry_message(action: Action, message, entry: PlanEntry, period: str) -> dict[str, Any]:
    spec = action.spec
    if isinstance(spec, EmailAction):
        return {"would_send_via_env": spec.server_env, "to": list(spec.to), "subject": message["Subject"],
                "text": message.get_body(("plain",)).get_content()}
    if isinstance(spec, PagerDutyAction):
        event = pagerduty_event("trigger", f"[from {spec.routing_key_env}]", period, entry, spec.severity, spec.source)
        return {"would_post_to_env": spec.url_env or PAGERDUTY_EVENTS_URL, "event": event}
    return {"would_post_to_env": action.spec_as(HttpAction).url_env, "payload": message}


def carry_out_group(items: Sequence[tuple[Action, PlanEntry]], period: str, run_key: str, history: Sequence[Outcome], execute: bool,
                    env: Mapping[str, str] | None = None, clock=time.time, secret_names: Iterable[str] = ()) -> list[Outcome]:
    """Message actions of one channel for the breaches of one service in one evaluation.

    Each (action, entry) is checked on its own (done before, cooldown, quiet hours); those left go
    out as one message (PagerDuty: one event per breach, its dedup_key being the breach's) unless the
    channel's rate limit is reached. Every item gets its outcome; the message's detail names the
    channel, the message id and the SLOs it carried."""
    env = os.environ if env is None else env
    names = set(secret_names).union(*(a.secret_env_names() for a, _ in items))
    secrets = secret_values(names, env)
    started = clock()
    outcomes: list[Outcome | None] = [None] * len(items)

    def outcome(index: int, delivery: Delivery, about: Mapping[str, Any] | None = None) -> Outcome:
        """Item `index`'s outcome; `about`: what the message adds to the delivery's detail."""
        action, entry = items[index]
        if about:
            delivery = delivery.model_copy(update={"detail": {**delivery.detail, **about}})
        key = idempotency_key(breach_id(period, entry), action.runbook, action.name)
        return _recorded(period, entry.slo, action, delivery, started, clock(), key, run_key, execute, secrets)

    going: list[int] = []
    for index, (action, entry) in enumerate(items):
        key = idempotency_key(breach_id(period, entry), action.runbook, action.name)
        quiet_until = action.quiet_hours.quiet_until(started) if action.quiet_hours else None
        if _done_before(key, history):
            outcomes[index] = outcome(index, Delivery(status=DONE_BEFORE, reason="this action already ran for this breach"))
        elif _in_cooldown(action, entry.slo, history, started, not execute):
            outcomes[index] = outcome(index, Delivery(status=COOLDOWN, reason=f"ran for {entry.slo} less than {action.cooldown_s:g} s ago"))
        elif quiet_until is not None and action.quiet_hours is not None and entry.severity not in action.quiet_hours.allow_severity:
            outcomes[index] = outcome(index, Delivery(status=QUIET_HOURS, reason=f"quiet hours until {quiet_until.isoformat(timespec='minutes')} "
                                                                                 f"({action.quiet_hours.timezone}); severity {entry.severity} waits"))
        else:
            going.append(index)
    if going:
        lead = items[going[0]][0]
        channel = lead.channel()
        limits = [a.rate_limit for a, _ in (items[i] for i in going) if a.rate_limit]
        limit = min(limits, key=lambda r: r.messages / r.per_s) if limits else None
        already = messages_sent(channel, history, started - limit.per_s, not execute) if limit else 0
        if limit and already >= limit.messages:
            for index in going:
                outcomes[index] = outcome(index, Delivery(status=RATE_LIMITED, reason=f"channel {channel}: {already} messages in the last "
                                                                                      f"{limit.per_s:g} s (limit {limit.messages})",
                                                          detail={"channel": channel}))
        else:
            _deliver(lead, [items[i] for i in going], going, period, execute, env, started, channel, outcome, outcomes)
    return [o for o in outcomes if o is not None]


def _deliver(lead: Action, group: list[tuple[Action, PlanEntry]], indexes: list[int], period: str, execute: bool,
             env: Mapping[str, str], started: float, channel: str, outcome: Callable[..., Outcome], outcomes: list[Outcome | None]) -> None:
    """Send the group's message with the lead action's settings (timeout, retry); record each item."""
    # One line per breach (a month's SLO, or a live episode: several may share an SLO), however many
    # of the service's runbooks matched it.
    entries = list({breach_id(period, e): e for _, e in group}.values())
    slos = list(dict.fromkeys(e.slo for e in entries))
    if isinstance(lead.spec, PagerDutyAction):  # one event per breach: PagerDuty groups alerts by its dedup_key
        for entry in entries:
            mine = [i for i, (_, e) in zip(indexes, group, strict=True) if breach_id(period, e) == breach_id(period, entry)]
            message_id = idempotency_key(breach_id(period, entry), channel, "trigger")
            if execute:
                delivery = send_pagerduty(lead, "trigger", entry, period, env)
            else:
                delivery = Delivery(status=DRY_RUN, detail=_dry_message(lead, None, entry, period))
            for index in mine:
                outcomes[index] = outcome(index, delivery, {"channel": channel, "message_id": message_id, "group": [entry.slo]})
        return
    message_id = hashlib.sha256("|".join(sorted(breach_id(period, e) for e in entries) + [channel]).encode()).hexdigest()[:24]
    message = _group_message(lead, entries, period, message_id, started)
    if not execute:
        delivery = Delivery(status=DRY_RUN, detail=_dry_message(lead, message, entries[0], period))
    elif isinstance(lead.spec, EmailAction):
        delivery = send_email(lead, message, env)
    else:  # Slack answers 429 when it throttles a webhook: worth another attempt, as PagerDuty's
        delivery = _post(lead, message, env, THROTTLED_RETRY_STATUSES if isinstance(lead.spec, SlackAction) else RETRY_STATUSES)
    for index in indexes:
        outcomes[index] = outcome(index, delivery, {"channel": channel, "message_id": message_id, "group": slos})


def carry_out(action: Action, entry: PlanEntry, period: str, run_key: str, history: Sequence[Outcome], execute: bool,
              env: Mapping[str, str] | None = None, clock=time.time, secret_names: Iterable[str] = ()) -> Outcome:
    """One action for one plan entry: done before (same idempotency key), cooldown, dry run, or for real.
    `secret_names`: further secret variables (e.g. of every runbook) to redact besides the action's own."""
    if action.grouped:
        return carry_out_group([(action, entry)], period, run_key, history, execute, env, clock, secret_names)[0]
    env = os.environ if env is None else env
    secrets = secret_values(action.secret_env_names() | set(secret_names), env)
    key = idempotency_key(breach_id(period, entry), action.runbook, action.name)
    started = clock()

    def outcome(delivery: Delivery) -> Outcome:
        return _recorded(period, entry.slo, action, delivery, started, clock(), key, run_key, execute, secrets)

    if _done_before(key, history):
        return outcome(Delivery(status=DONE_BEFORE, reason="this action already ran for this breach"))
    if _in_cooldown(action, entry.slo, history, started, not execute):
        return outcome(Delivery(status=COOLDOWN, reason=f"ran for {entry.slo} less than {action.cooldown_s:g} s ago"))
    spec = action.spec
    if isinstance(spec, CommandAction):
        try:
            argv = argv_for(spec, entry)
        except UnsafeValue as refused:
            return outcome(Delivery(status=FAILED, reason=str(refused), detail={"argv_template": list(spec.argv)}))
        return outcome(_command(action, argv, env, secrets) if execute else Delivery(status=DRY_RUN, detail={"would_run": argv}))
    if isinstance(spec, AnnotateAction):
        return outcome(Delivery(status=OK if execute else DRY_RUN, attempts=1 if execute else 0, detail={"text": spec.text}))
    # notify in JSON format, webhook
    if not execute:
        return outcome(Delivery(status=DRY_RUN, detail={"would_post_to_env": action.spec_as(HttpAction).url_env,
                                                        "payload": payload(action, entry, period)}))
    return outcome(_post(action, payload(action, entry, period), env))


def groups_in_plan(entries: Sequence[PlanEntry], actions: Mapping[tuple[str, str], Action]) -> list[tuple[str, list]]:
    """The plan's (action, entry) pairs in the order they run: each command, webhook and annotate
    alone, each message action with the others of its service and channel (placed at the first). A
    planned action the runbooks no longer define comes as ("missing", [(planned action, entry)])."""
    order: list[tuple[str, list]] = []
    grouped: dict[tuple[str, str], list] = {}
    for entry in entries:
        for planned in entry.actions:
            action = actions.get((planned.runbook, planned.action.name))
            if action is None:
                order.append(("missing", [(planned, entry)]))
            elif action.grouped:
                key = (entry.service, action.channel())
                if key not in grouped:
                    grouped[key] = []
                    order.append(("group", grouped[key]))
                grouped[key].append((action, entry))
            else:
                order.append(("single", [(action, entry)]))
    return order


def follow_up_pagerduty(action: Action, event_action: str, period: str, slo: str, run_key: str, history: Sequence[Outcome], execute: bool,
                        env: Mapping[str, str] | None = None, clock=time.time, secret_names: Iterable[str] = ()) -> list[Outcome]:
    """An acknowledge or resolve event for each alert this PagerDuty action triggered for the SLO in
    the period (its dedup_key as recorded), once each: an escalation episode was acknowledged or ended."""
    env = os.environ if env is None else env
    secrets = secret_values(action.secret_env_names() | set(secret_names), env)
    triggered = sorted({p.detail.get("dedup_key") for p in history
                        if (p.period, p.slo, p.runbook, p.action, p.status) == (period, slo, action.runbook, action.name, OK)
                        and p.detail.get("event_action") == "trigger"} - {None})
    outcomes = []
    for dedup in triggered:
        key = idempotency_key(dedup, action.runbook, f"{action.name}#{event_action}")
        started = clock()
        if _done_before(key, history):
            delivery = Delivery(status=DONE_BEFORE, reason=f"{event_action} already sent")
        elif not execute:
            delivery = Delivery(status=DRY_RUN, detail={f"would_{event_action}": dedup})
        else:
            delivery = send_pagerduty(action, event_action, None, period, env, dedup=dedup)
        delivery = delivery.model_copy(update={"detail": {**delivery.detail, "channel": action.channel(), "dedup_key": dedup,
                                                          "event_action": event_action}})
        outcomes.append(_recorded(period, slo, action, delivery, started, clock(), key, run_key, execute, secrets))
    return outcomes


def missing_action(planned: PlannedAction, entry: PlanEntry, period: str, run_key: str, dry_run: bool) -> Outcome:
    """The outcome of a planned action that the runbooks no longer define: failed, with the reason."""
    moment = now_iso()
    key = idempotency_key(breach_id(period, entry), planned.runbook, planned.action.name)
    return Outcome(period=period, slo=entry.slo, runbook=planned.runbook, action=planned.action.name, kind=planned.action.kind,
                   status=FAILED, reason="the action is no longer in the runbooks; re-materialize remediation_plan", attempts=0,
                   started_at=moment, finished_at=moment, idempotency_key=key, run_key=run_key, dry_run=dry_run)
