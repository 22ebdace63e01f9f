"""How raw log lines map to the canonical request table: formats, field names, units, services."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property

from slo_assets.core.regex_engine import regex_problem
from slo_assets.ingest.log_format import PRESETS, LogFormatError, compile_log_format

FORMATS = ("auto", "jsonl", "combined")
TIME_UNITS = {"s": 1000.0, "ms": 1.0, "us": 0.001}
EPOCH_UNITS = ("auto", "s", "ms")
SERVICE_SOURCES = ("auto", "field", "regex", "fixed")

DEFAULT_JSON_FIELDS = {
    "ts": "ts",
    "service": "service",
    "operation": "operation",
    "method": "method",
    "path": "path",
    "status": "status",
    "duration": "duration_ms",
    "client": "client",  # the client address or user: e.g. remote_addr, ip, user
}
DEFAULT_SERVICE_REGEX = r"^/(?P<service>[^/?#]+)/"
# Every file is sniffed by content (logs rotate under any name); the exclusions are files that are
# never logs yet could look like one: the generator's answer key and documentation.
DEFAULT_INCLUDE = ("*",)
DEFAULT_EXCLUDE = ("_truth.json", "*.md", "*.rst", "*.sha256", "*.asc", "*.sig")


class ConfigError(ValueError):
    """A parse setting is invalid; the message names the setting."""


@dataclass(frozen=True)
class ParseConfig:
    """Everything that decides how a line becomes a row. Its hash keys the per-file parse cache."""

    format: str = "auto"
    json_fields: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_JSON_FIELDS))
    json_duration_unit: str = "ms"
    epoch_unit: str = "auto"
    request_time_unit: str = "s"
    service_source: str = "auto"
    service_regex: str = DEFAULT_SERVICE_REGEX
    service_name: str = ""
    default_service: str = "unknown"
    # A preset name or an nginx log_format / Apache LogFormat string; "" = today's combined parser.
    log_format: str = ""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            hint = f"; {self.format!r} is a log_format preset: set log_format" if self.format in PRESETS else ""
            raise ConfigError(f"format: {self.format!r} is not one of {', '.join(FORMATS)}"
                              f" (line formats go in log_format: a preset {', '.join(PRESETS)} or a format string){hint}")
        if self.log_format:
            if self.format == "jsonl":
                raise ConfigError("log_format: set, but format is 'jsonl'; a log_format describes text lines (use format auto or combined)")
            try:
                compile_log_format(self.log_format)
            except LogFormatError as exc:
                raise ConfigError(f"log_format: {exc}") from exc
        for name in ("json_duration_unit", "request_time_unit"):
            if getattr(self, name) not in TIME_UNITS:
                raise ConfigError(f"{name}: {getattr(self, name)!r} is not one of {', '.join(TIME_UNITS)}")
        if self.epoch_unit not in EPOCH_UNITS:
            raise ConfigError(f"epoch_unit: {self.epoch_unit!r} is not one of {', '.join(EPOCH_UNITS)}")
        if self.service_source not in SERVICE_SOURCES:
            raise ConfigError(f"service_source: {self.service_source!r} is not one of {', '.join(SERVICE_SOURCES)}")
        unknown = set(self.json_fields) - set(DEFAULT_JSON_FIELDS)
        if unknown:
            raise ConfigError(f"json_fields: unknown canonical field(s) {sorted(unknown)}; expected {sorted(DEFAULT_JSON_FIELDS)}")
        try:
            compiled = re.compile(self.service_regex)
        except re.error as exc:
            raise ConfigError(f"service_regex: {exc}") from exc
        problem = regex_problem(self.service_regex)  # it runs in polars' engine, not Python's
        if problem:
            raise ConfigError(f"service_regex: {problem}")
        if self.service_source in ("auto", "regex") and "service" not in compiled.groupindex:
            raise ConfigError("service_regex: needs a named group (?P<service>...)")
        if self.service_source == "fixed" and not self.service_name:
            raise ConfigError("service_name: required when service_source is 'fixed'")
        if not self.default_service:
            raise ConfigError("default_service: must not be empty")

    def line_format(self):
        """The compiled log_format (cached per string), or None for today's combined parser."""
        return compile_log_format(self.log_format) if self.log_format and self.log_format != "combined" else None

    def json_field(self, canonical: str) -> str:
        return {**DEFAULT_JSON_FIELDS, **self.json_fields}[canonical]

    def fingerprint(self) -> str:
        """Stable hash of the settings, so a changed setting re-parses files."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:  # once per config: every file's stage key holds it (asdict took 0.1 ms a file)
        payload = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
