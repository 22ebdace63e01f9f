"""Secrets of runbook actions and their redaction. Secrets come from environment variables named in
the runbook (`secret_values`) and are redacted from every outcome by one function, `redact`, with the
pieces of a URL a server may echo on their own (its path, a token in it, its query values, its
credentials: `secret_pieces`). `stored_detail` redacts a detail before cutting the answer's excerpt.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

EXCERPT_CHARS = 300
# A piece of a secret shorter than this is not redacted on its own: it would mangle ordinary words
# ("services", "v2") in every outcome. A whole secret value always is, whatever its length.
MIN_PIECE_CHARS = 8


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
