"""HTTP delivery of notify, webhook, slack and pagerduty actions.

HTTP goes through requests, one POST per attempt (retried on 5xx, connection errors and timeouts,
with exponential backoff), never following a redirect, within a total deadline per attempt that a
watchdog enforces by cutting the connection (`_CuttableAdapter`), reading at most 64 KiB of the
answer. The answer's excerpt is kept raw here; outcomes redact it before cutting it (redaction.py).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from slo_assets.remediation.attempts import FAILED, OK, TryAgain, with_retries
from slo_assets.remediation.channels import PAGERDUTY_EVENTS_URL, pagerduty_event, pagerduty_follow_up
from slo_assets.remediation.models import Delivery, HttpAction, PagerDutyAction, PlanEntry, WebhookAction
from slo_assets.remediation.runbooks import Action

RETRY_STATUSES = (500, 502, 503, 504)
THROTTLED_RETRY_STATUSES = (429, *RETRY_STATUSES)
MAX_BODY_BYTES = 64 * 1024
# Of the answer, this much is kept to be redacted, then cut to EXCERPT_CHARS: cutting first could
# keep the head of a secret that straddles the cut.
EXCERPT_KEPT_BYTES = 4096


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


def post_action(action: Action, body: dict[str, Any], env: Mapping[str, str], retry_statuses: tuple[int, ...] = RETRY_STATUSES) -> Delivery:
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
    return post_with_retries(action, url, {"url_env": spec.url_env}, body, headers, retry_statuses)


def post_with_retries(action: Action, url: str, where: dict[str, Any], body: dict[str, Any], headers: dict[str, str],
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
    return post_with_retries(action, pagerduty_url(action, env), where, event, {"Content-Type": "application/json"},
                              THROTTLED_RETRY_STATUSES)
