"""Pandera models of the tables other tools read, generated from their one declaration (canonical.py)."""

from __future__ import annotations

from slo_assets.warehouse import canonical

ParsedLogs = canonical.PARSED_LOGS.pandera_model("ParsedLogs")
