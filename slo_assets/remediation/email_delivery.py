"""Email delivery of email actions over SMTP: the server from server_env (host:port), STARTTLS and
login when the runbook asks; a 4xx answer, a dropped connection or a timeout is retried, a 5xx
answer, a refused recipient or a TLS failure is not. The message itself is built in channels.py."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage

from slo_assets.remediation.attempts import FAILED, OK, TryAgain, with_retries
from slo_assets.remediation.models import Delivery, EmailAction
from slo_assets.remediation.runbooks import Action


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
