"""A forced --format reads every log, even one of another format, but no text that is no log at all."""

from __future__ import annotations

import shutil
from pathlib import Path

from slo_assets.ingest.sniffing import sniff

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def test_a_forced_format_skips_a_license_and_a_yaml_but_reads_a_log_of_another_format(tmp_path):
    shutil.copy(REAL / "LICENSE.elastic-examples", tmp_path / "LICENSE")
    shutil.copy(REAL / "semicomplete.yaml", tmp_path / "slos.yaml")
    shutil.copy(REAL / "apache_logs", tmp_path / "access.log")
    for name in ("LICENSE", "slos.yaml"):
        found = sniff(tmp_path / name, forced_format="jsonl")
        assert found.format == "unknown" and found.skip_reason.startswith("neither JSON lines nor common/combined"), name
    assert sniff(tmp_path / "access.log", forced_format="jsonl").format == "jsonl"  # read, rejected, and the run says so
    assert sniff(tmp_path / "slos.yaml", forced_format="combined", log_format="$remote_addr $request").format == "combined"
