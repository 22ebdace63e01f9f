"""How raw log lines map to the canonical request table: formats, field names, units, services."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

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

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"format: {self.format!r} is not one of {', '.join(FORMATS)}")
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
        if self.service_source in ("auto", "regex") and "service" not in compiled.groupindex:
            raise ConfigError("service_regex: needs a named group (?P<service>...)")
        if self.service_source == "fixed" and not self.service_name:
            raise ConfigError("service_name: required when service_source is 'fixed'")
        if not self.default_service:
            raise ConfigError("default_service: must not be empty")

    def json_field(self, canonical: str) -> str:
        return {**DEFAULT_JSON_FIELDS, **self.json_fields}[canonical]

    def fingerprint(self) -> str:
        """Stable hash of the settings, so a changed setting re-parses files."""
        payload = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
