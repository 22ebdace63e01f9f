from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared"
APACHE_LOG = SHARED / "data" / "real" / "apache_semicomplete" / "apache_logs"


def day_ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="session")
def sample_month(tmp_path_factory) -> Path:
    """A small generated month of JSON lines with injected incidents and malformed lines."""
    from slo_assets.generate import write_logs

    out = tmp_path_factory.mktemp("sample_logs")
    write_logs(out, "2026-10", 60_000, "jsonl", seed=11, malformed_ratio=0.002)
    return out
