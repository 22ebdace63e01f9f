"""Local servers on 127.0.0.1 standing in for the paging channels in tests: a PagerDuty Events API v2
endpoint, a Slack incoming webhook and an SMTP server (aiosmtpd). Each validates what it receives
the way the real service documents it, records it, and can be told to fail the first requests.

PagerDuty (developer.pagerduty.com, Events API v2 "Send an Alert Event"): POST /v2/enqueue, JSON with
routing_key (32 characters), event_action (trigger, acknowledge, resolve), dedup_key (at most 255,
required but for trigger), and for trigger a payload with summary (at most 1024), source, severity
(critical, error, warning, info) and optional timestamp, component, group, class, custom_details;
202 {"status": "success", "dedup_key"} or 400 {"status": "invalid event", "errors"}.
Slack (api.slack.com, Block Kit): JSON with text and at most 50 blocks; a header's plain_text at
most 150 characters, a section's text at most 3000; answers "ok" or 400 "invalid_blocks".
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

PD_EVENT_KEYS = {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"}
PD_PAYLOAD_KEYS = {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}


def pagerduty_errors(event) -> list[str]:
    """The Events API v2 rules an event breaks (empty: valid)."""
    if not isinstance(event, dict):
        return ["the event is not an object"]
    errors = [f"unknown field {k}" for k in sorted(set(event) - PD_EVENT_KEYS)]
    if not isinstance(event.get("routing_key"), str) or len(event["routing_key"]) != 32:
        errors.append("routing_key must be a 32-character string")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("event_action must be trigger, acknowledge or resolve")
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255):
        errors.append("dedup_key must be a string of 1 to 255 characters")
    if action in ("acknowledge", "resolve") and key is None:
        errors.append(f"dedup_key is required for {action}")
    if action == "trigger":
        body = event.get("payload")
        if not isinstance(body, dict):
            return errors + ["payload is required for trigger"]
        errors += [f"unknown payload field {k}" for k in sorted(set(body) - PD_PAYLOAD_KEYS)]
        if not isinstance(body.get("summary"), str) or not 0 < len(body["summary"]) <= 1024:
            errors.append("payload.summary must be a string of 1 to 1024 characters")
        if not isinstance(body.get("source"), str) or not body["source"]:
            errors.append("payload.source is required")
        if body.get("severity") not in ("critical", "error", "warning", "info"):
            errors.append("payload.severity must be critical, error, warning or info")
        if "timestamp" in body:
            try:
                dt.datetime.fromisoformat(body["timestamp"])
            except (AttributeError, ValueError):
                errors.append("payload.timestamp must be ISO 8601")
        if "custom_details" in body and not isinstance(body["custom_details"], dict):
            errors.append("payload.custom_details must be an object")
    return errors


def slack_errors(message) -> list[str]:
    """The Block Kit rules a webhook message breaks (empty: valid)."""
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return ["text (the notification fallback) is required"]
    blocks = message.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return ["blocks must be a list of at most 50"]
    errors = []
    for number, block in enumerate(blocks):
        kind = block.get("type")
        text = block.get("text") or {}
        if kind == "header":
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                errors.append(f"blocks[{number}]: a header needs plain_text of 1 to 150 characters")
        elif kind == "section":
            if text.get("type") not in ("mrkdwn", "plain_text") or not 0 < len(text.get("text", "")) <= 3000:
                errors.append(f"blocks[{number}]: a section needs text of 1 to 3000 characters")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= 10 or any(
                    e.get("type") not in ("mrkdwn", "plain_text") or not e.get("text") for e in elements):
                errors.append(f"blocks[{number}]: a context needs 1 to 10 text elements")
        elif kind != "divider":
            errors.append(f"blocks[{number}]: unknown block type {kind!r}")
    return errors


WEBHOOK_FIELDS = ("period", "slo", "service", "status", "severity", "fingerprint", "incidents", "summary")


def webhook_errors(body) -> list[str]:
    """What a runbook webhook's JSON body (actions.payload) lacks (empty: valid)."""
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    return [f"{name} is required" for name in WEBHOOK_FIELDS if name not in body]


@dataclass
class HttpChannel:
    """A threaded HTTP server; `fail_with` answers the first requests with these statuses."""
    kind: str  # "pagerduty", "slack" or "webhook" (a runbook webhook's JSON body)
    fail_with: list[int] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)  # every valid body, in order
    received_at: list[float] = field(default_factory=list)  # time.time() of each, for delivery delays
    rejected: list[list[str]] = field(default_factory=list)
    echo: bool = False  # answer a 400 that repeats the body (as some services do), to test redaction

    def __post_init__(self):
        channel = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if channel.fail_with:
                    self._answer(channel.fail_with.pop(0), b'{"status": "try again"}')
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                errors = ["Content-Type must be application/json"] if self.headers.get("Content-Type") != "application/json" else []
                errors += {"pagerduty": pagerduty_errors, "webhook": webhook_errors}.get(channel.kind, slack_errors)(body)
                if errors or channel.echo:
                    channel.rejected.append(errors)
                    answer = {"status": "invalid event", "errors": errors, "echo": raw.decode()} if channel.echo else {"errors": errors}
                    self._answer(400, json.dumps(answer).encode())
                    return
                channel.received.append(body)
                channel.received_at.append(time.time())
                if channel.kind == "pagerduty":
                    self._answer(202, json.dumps({"status": "success", "message": "Event processed",
                                                  "dedup_key": body.get("dedup_key")}).encode())
                else:
                    self._answer(200, b"ok")

            def _answer(self, code: int, body: bytes):
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        path = "/v2/enqueue" if self.kind == "pagerduty" else "/services/T000/B000/XXXX"
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def open_alerts(self) -> set[str]:
        """dedup keys triggered and not resolved (acknowledged ones stay open), as PagerDuty would keep them."""
        open_keys: set[str] = set()
        for event in self.received:
            if event["event_action"] == "trigger":
                open_keys.add(event["dedup_key"])
            elif event["event_action"] == "resolve":
                open_keys.discard(event["dedup_key"])
        return open_keys

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (IP SAN) and its key, so the client can verify it."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


class SmtpChannel:
    """aiosmtpd on 127.0.0.1. `tls` = (cert, key) offers STARTTLS and requires it; `login` = (user,
    password) requires that login (only over TLS); `fail_with` answers the first DATA with these replies."""

    def __init__(self, tls: tuple[Path, Path] | None = None, login: tuple[str, str] | None = None, fail_with: list[str] | None = None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.fail_with = list(fail_with or [])
        self.logins: list[str] = []
        channel = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if channel.fail_with:
                    return channel.fail_with.pop(0)
                parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
                channel.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            channel.logins.append(user)
            return AuthResult(success=(user, password) == login, handled=False)  # unhandled: the server answers 535

        options: dict = {}
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, tls))
            options |= {"tls_context": context, "require_starttls": True}
        if login:
            options |= {"authenticator": authenticate, "auth_required": True, "auth_require_tls": True}
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self):
        self.controller.stop()
