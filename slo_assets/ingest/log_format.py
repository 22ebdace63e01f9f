"""Log formats as the user wrote them: an nginx `log_format` or an Apache `LogFormat` string.

A format string is compiled once into one anchored regex (named groups for the fields we use,
non-capturing groups for the rest) that polars runs over every line; no Python per line. Each
variable's value runs up to the literal that follows it in the format (`[^ ]*` before a space,
an escaped-quote-aware run inside quotes), so `$request_time` may sit anywhere on the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from slo_assets.core.regex_engine import regex_problem


class LogFormatError(ValueError):
    """A format string cannot be compiled; the message names the variable or directive."""


# Presets: "combined" is today's tolerant parser (extra quoted fields and a trailing request time);
# the string here documents it. "main" is nginx's default `main` plus a trailing $request_time.
PRESETS: dict[str, str] = {
    "combined": '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
    "upstreaminfo": (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
        '"$http_user_agent" $request_length $request_time [$proxy_upstream_name] '
        '[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length '
        '$upstream_response_time $upstream_status $req_id'
    ),
    "main": (
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
        '"$http_user_agent" "$http_x_forwarded_for" $request_time'
    ),
}

# Roles a variable can play; everything else known is matched and skipped.
TIME_CLF, TIME_ISO, TIME_EPOCH_S = "clf", "iso", "epoch_s"

_NGINX_ROLES: dict[str, tuple[str, str | None]] = {
    "time_local": ("time", TIME_CLF),
    "time_iso8601": ("time", TIME_ISO),
    "msec": ("time", TIME_EPOCH_S),
    "request": ("request", None),
    "request_method": ("method", None),
    "request_uri": ("target", None),
    "uri": ("target", None),
    "document_uri": ("target", None),
    "status": ("status", None),
    "request_time": ("duration", "s"),
    "upstream_response_time": ("duration_list", "s"),
    "remote_addr": ("client", None),
}
_NGINX_SKIPPED = {
    "remote_user", "remote_port", "realip_remote_addr", "binary_remote_addr", "body_bytes_sent",
    "bytes_sent", "request_length", "connection", "connection_requests", "pipe", "host", "hostname", "server_name",
    "server_addr", "server_port", "server_protocol", "scheme", "https", "args", "query_string", "is_args",
    "request_id", "req_id", "proxy_upstream_name", "proxy_alternative_upstream_name", "proxy_add_x_forwarded_for",
    "gzip_ratio", "ssl_protocol", "ssl_cipher", "ssl_session_reused", "ssl_server_name", "content_type",
    "content_length", "nginx_version", "pid", "time_local_ms", "namespace", "ingress_name", "service_name",
    "service_port", "geoip_country_code", "limit_rate", "request_completion", "tcpinfo_rtt", "remote_addr_real",
}
_NGINX_PREFIXES = ("http_", "sent_http_", "sent_trailer_", "cookie_", "arg_", "upstream_")

_APACHE_ROLES: dict[str, tuple[str, str | None]] = {
    "t": ("time_bracketed", TIME_CLF),
    "r": ("request", None),
    "m": ("method", None),
    "U": ("target", None),
    ">s": ("status", None),
    "s": ("status", None),
    "<s": ("status", None),
    "D": ("duration", "us"),
    "T": ("duration", "s"),
    "a": ("client", None),  # the client IP
    "h": ("client", None),  # the remote host (its IP unless HostnameLookups)
}
_APACHE_SKIPPED = set("ABbfHklLpPqRSuvVXIO") | {"%"}
_APACHE_HEADERS = set("ioenCxaPp")  # %{Name}i and friends
_APACHE_T_UNITS = {"ms": "ms", "us": "us", "s": "s"}

_NGINX_VARIABLE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_APACHE_DIRECTIVE = re.compile(r"%([<>])?(?:!?[0-9]+(?:,[0-9]+)*)?(?:\{([^}]*)\})?([A-Za-z%^])")

# nginx joins the values of several upstreams with ", " (and " : " across internal redirects).
_LIST_VALUE = r"[^ ,]*(?:(?:, | : )[^ ,]*)*"
_QUOTED_VALUE = r'(?:[^"\\]|\\.)*'


@dataclass(frozen=True)
class LineFormat:
    """A compiled format: `regex` has the named groups `_m` (always, to tell a match), and those of
    `fields` (time, request, method, target, status, duration, client)."""

    source: str
    dialect: str  # "nginx" or "apache"
    regex: str
    fields: tuple[str, ...]
    time_kind: str
    duration_unit: str | None  # unit of the duration group
    duration_is_list: bool  # $upstream_response_time: "0.100, 0.004", summed


def _value_pattern(next_literal: str, is_list: bool) -> str:
    if not next_literal:
        return ".*"
    first = next_literal[0]
    if first == '"':
        return _QUOTED_VALUE
    if is_list and first == " ":
        return _LIST_VALUE
    return f"[^{re.escape(first)}]*"


def _tokens(text: str, dialect: str) -> list[tuple[str, str]]:
    """('lit', text) and ('var', name) in order; Apache names keep their modifiers (`>s`, `{Referer}i`)."""
    pattern = _NGINX_VARIABLE if dialect == "nginx" else _APACHE_DIRECTIVE
    out, position = [], 0
    for match in pattern.finditer(text):
        if match.start() > position:
            out.append(("lit", text[position:match.start()]))
        if dialect == "nginx":
            out.append(("var", match.group(1) or match.group(2)))
        elif match.group(3) == "%":
            out.append(("lit", "%"))
        else:
            out.append(("var", (match.group(1) or "") + (f"{{{match.group(2)}}}" if match.group(2) is not None else "") + match.group(3)))
        position = match.end()
    if position < len(text):
        out.append(("lit", text[position:]))
    merged: list[tuple[str, str]] = []
    for kind, value in out:  # "%%" became a literal: join neighbouring literals
        if kind == "lit" and merged and merged[-1][0] == "lit":
            merged[-1] = ("lit", merged[-1][1] + value)
        else:
            merged.append((kind, value))
    return merged


def _role(name: str, dialect: str) -> tuple[str, str | None]:
    """(role, unit or time kind); role 'skip' for known fields we do not use."""
    if dialect == "nginx":
        if name in _NGINX_ROLES:
            return _NGINX_ROLES[name]
        if name in _NGINX_SKIPPED or name.startswith(_NGINX_PREFIXES):
            return ("skip_list" if name.startswith("upstream_") and not name.startswith(("upstream_http_", "upstream_cookie_")) else "skip", None)
        raise LogFormatError(f"unknown nginx variable ${name}")
    if name in _APACHE_ROLES:
        return _APACHE_ROLES[name]
    match = re.fullmatch(r"([<>]?)(?:\{([^}]*)\})?(.)", name)
    modifier, argument, letter = match.groups() if match else ("", None, name)
    if letter == "T" and argument is not None:
        if argument not in _APACHE_T_UNITS:
            raise LogFormatError(f"unknown Apache directive %{name}: %{{UNIT}}T takes ms, us or s")
        return ("duration", _APACHE_T_UNITS[argument])
    if argument is not None and letter in _APACHE_HEADERS:
        return ("skip", None)
    if argument is None and letter in _APACHE_SKIPPED:
        return ("skip", None)
    raise LogFormatError(f"unknown Apache directive %{name}")


def _unescape_apache(text: str) -> str:
    """LogFormat strings are written inside a quoted config value: \\" is a quote."""
    return re.sub(r'\\(["\\])', r"\1", text).replace("\\t", "\t")


# Preference when a format logs several candidates for one role (first wins within a rank).
_DURATION_RANK = {"duration": 0, "duration_list": 1}


# Variables holding a byte count (what a misplaced request time most often is): captured only when asked.
BYTE_VARIABLES = frozenset({"body_bytes_sent", "bytes_sent", "request_length", "upstream_response_length", "b", "B", "I", "O"})


def _read_spec(spec: str) -> tuple[str, str, list, list]:
    """The format's text, dialect, tokens and their roles."""
    text = PRESETS.get(spec, spec)
    if not text.strip():
        raise LogFormatError("empty format")
    if _NGINX_VARIABLE.search(text):
        dialect = "nginx"
    elif "%" in text:
        dialect, text = "apache", _unescape_apache(text)
    else:
        raise LogFormatError(f"{spec!r} is neither a preset ({', '.join(PRESETS)}) nor a format with $variables or %directives")
    tokens = _tokens(text, dialect)
    return text, dialect, tokens, [_role(value, dialect) if kind == "var" else ("lit", None) for kind, value in tokens]


@lru_cache(maxsize=64)
def byte_count_regex(spec: str) -> tuple[str, tuple[str, ...]]:
    """The format's regex with its byte-count variables captured as well, as groups `bytes0`, `bytes1`,
    ...; with the variables' names in that order (`request_length`, `b`). For judging a reading
    (plausibility.py), never for parsing: captures slow the regex polars runs over every line."""
    _text, dialect, tokens, roles = _read_spec(spec)
    chosen = _choose_variables(roles)
    used = {index: key for key, index in chosen.items()}
    names: list[str] = []
    for index, (kind, value) in enumerate(tokens):
        if kind == "var" and value in BYTE_VARIABLES and index not in used:
            used[index] = f"bytes{len(names)}"
            names.append(value)
    return "".join(_regex_parts(tokens, roles, used, dialect)), tuple(names)


@lru_cache(maxsize=64)
def compile_log_format(spec: str) -> LineFormat:
    """Compile a preset name or a format string; LogFormatError names what is wrong."""
    text, dialect, tokens, roles = _read_spec(spec)
    chosen = _choose_variables(roles)
    parts = _regex_parts(tokens, roles, {index: key for key, index in chosen.items()}, dialect)
    regex = "".join(parts)
    problem = regex_problem(regex)
    if problem:  # cannot happen for the patterns built above; a guard, not a path
        raise LogFormatError(f"compiled to a regex polars cannot run: {problem}")
    duration_index = chosen.get("duration")
    time_kind = roles[chosen["time"]][1]
    return LineFormat(
        source=text,
        dialect=dialect,
        regex=regex,
        fields=tuple(sorted(chosen)),
        time_kind=time_kind or TIME_CLF,
        duration_unit=roles[duration_index][1] if duration_index is not None else None,
        duration_is_list=duration_index is not None and roles[duration_index][0] == "duration_list",
    )


def _choose_variables(roles: list) -> dict[str, int]:
    """One variable per role (its index): the duration with the best rank, else the first of each; a
    format without a time or a status is refused."""
    chosen: dict[str, int] = {}
    for index, (role, _) in enumerate(roles):
        key = "duration" if role in _DURATION_RANK else "time" if role in ("time", "time_bracketed") else role
        if key in ("lit", "skip", "skip_list"):
            continue
        if key not in chosen or (key == "duration" and _DURATION_RANK[role] < _DURATION_RANK[roles[chosen[key]][0]]):
            chosen[key] = index
    if "time" not in chosen:
        raise LogFormatError("the format has no time variable ($time_local, $time_iso8601, $msec or %t)")
    if "status" not in chosen:
        raise LogFormatError("the format has no status variable ($status or %>s)")
    return chosen


def _regex_parts(tokens: list, roles: list, used: dict[int, str], dialect: str) -> list[str]:
    """The regex of the line, a part per token: literals escaped, the chosen variables as named groups
    (`used`: index -> canonical column), the others matched and dropped."""
    parts = ["^(?P<_m>)"]
    previous_var = None
    for index, ((kind, value), (role, _unit)) in enumerate(zip(tokens, roles, strict=True)):
        if kind == "lit":
            parts.append(re.escape(value))
            previous_var = None
            continue
        if previous_var is not None:
            raise LogFormatError(f"{previous_var} and {_show(value, dialect)} need a separator between them")
        previous_var = _show(value, dialect)
        next_literal = tokens[index + 1][1] if index + 1 < len(tokens) and tokens[index + 1][0] == "lit" else ""
        group = used.get(index)
        if role == "time_bracketed":  # Apache %t prints its own brackets
            parts.append(r"\[(?P<time>[^\]]*)\]" if group else r"\[" + "[^\\]]*" + r"\]")
            continue
        value_regex = _value_pattern(next_literal, role in ("duration_list", "skip_list"))
        parts.append(f"(?P<{group}>{value_regex})" if group else f"(?:{value_regex})")
    parts.append("$")
    return parts


def _show(name: str, dialect: str) -> str:
    return f"${name}" if dialect == "nginx" else f"%{name}"
