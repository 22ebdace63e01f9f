"""Late, grown, replaced, copied and removed log files mark exactly their days' parsed_logs stale."""

from __future__ import annotations

import shutil

import dagster as dg
import pyarrow.parquet as pq
import pytest

from slo_assets.definitions import build_definitions
from slo_assets.defs.ingest.assets import CHECK_FILES_UNIQUE, log_file_index_asset, parsed_logs
from slo_assets.defs.partitions import DAILY
from slo_assets.defs.resources import LogSource, SloSettings, WarehouseResource
from tests.conftest import stale_statuses

log_file_index = log_file_index_asset(DAILY)  # on the calendar, as a test materializes it alone
DAYS = ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"]


def _lines(day: str, count: int, status: int = 200, minute: int = 0) -> str:
    return "".join(f'{{"ts":"{day}T10:{minute:02d}:{i:02d}Z","service":"api","status":{status},"duration_ms":5}}\n'
                   for i in range(count))


class Logs:
    def __init__(self, tmp_path):
        self.root = tmp_path / "logs"
        self.root.mkdir()
        self.resources = {"log_source": LogSource(root=str(self.root)), "warehouse": WarehouseResource(base=str(tmp_path / "wh")),
                          "slo_settings": SloSettings()}
        self.defs = build_definitions(self.resources)
        self.instance = dg.DagsterInstance.ephemeral()
        self.warehouse = tmp_path / "wh"

    def observe(self) -> set[str]:
        """Run index_job; the days it gave a new data version."""
        result = self.defs.resolve_job_def("index_job").execute_in_process(instance=self.instance)
        assert result.success
        # The observation without a partition carries the index summary, not a day's version.
        return {event.partition for event in result.get_asset_observation_events() if event.partition is not None}

    def ingest(self, day: str):
        result = dg.materialize([log_file_index, parsed_logs], selection=[parsed_logs], partition_key=day,
                                resources=self.resources, instance=self.instance)
        assert result.success
        return result

    def stale(self) -> set[str]:
        statuses = stale_statuses(self.instance, self.defs, [("parsed_logs", day) for day in DAYS])
        return {day for day, status in zip(DAYS, statuses, strict=True) if status == "STALE"}

    def rows(self, day: str) -> int:
        return pq.read_metadata(self.warehouse / "parsed_logs" / f"{day}.parquet").num_rows

    def refresh(self) -> set[str]:
        """Observe, then re-ingest exactly the stale days (what a refresh does); returns those days."""
        self.observe()
        stale = self.stale()
        for day in stale:
            self.ingest(day)
        assert self.stale() == set()
        return stale


@pytest.fixture()
def logs(tmp_path):
    logs = Logs(tmp_path)
    (logs.root / "a.jsonl").write_text(_lines("2026-10-01", 5) + _lines("2026-10-02", 3))
    (logs.root / "b.jsonl").write_text(_lines("2026-10-03", 4))
    (logs.root / "access.log").write_text(_lines("2026-10-04", 2))
    assert logs.observe() == set(DAYS)
    for day in DAYS:
        logs.ingest(day)
    assert logs.stale() == set()
    return logs


def test_a_late_file_marks_only_its_days_stale(logs):
    (logs.root / "late.jsonl").write_text(_lines("2026-10-02", 7, minute=30))
    assert logs.observe() == {"2026-10-02"}  # one observation event, for the changed day only
    assert logs.stale() == {"2026-10-02"}
    logs.ingest("2026-10-02")
    assert logs.rows("2026-10-02") == 3 + 7
    assert logs.stale() == set()
    assert logs.observe() == set()  # nothing changed: no new versions, nothing stale


def test_a_growing_live_file_marks_its_day_stale(logs):
    with open(logs.root / "access.log", "a") as live:
        live.write(_lines("2026-10-04", 6, minute=20))
    assert logs.refresh() == {"2026-10-04"}
    assert logs.rows("2026-10-04") == 8


def test_a_replaced_file_marks_its_old_and_new_days_stale(logs):
    (logs.root / "b.jsonl").write_text(_lines("2026-10-03", 1) + _lines("2026-10-04", 9, status=503, minute=40))
    assert logs.refresh() == {"2026-10-03", "2026-10-04"}
    assert (logs.rows("2026-10-03"), logs.rows("2026-10-04")) == (1, 2 + 9)


def test_a_rotated_copy_changes_nothing_and_is_counted_once_with_a_warning(logs):
    shutil.copy(logs.root / "a.jsonl", logs.root / "a.jsonl.1")
    assert logs.refresh() == set()
    check = {e.check_name: e for e in logs.ingest("2026-10-01").get_asset_check_evaluations()}[CHECK_FILES_UNIQUE]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["duplicates"].value == 1 and "a.jsonl.1" in check.metadata["detail"].value
    assert logs.rows("2026-10-01") == 5


def test_a_removed_file_marks_its_days_stale_and_empties_them(logs):
    (logs.root / "b.jsonl").unlink()
    assert logs.refresh() == {"2026-10-03"}
    assert logs.rows("2026-10-03") == 0


def test_last_observed_versions_read_in_batches_agree(logs):
    from slo_assets.defs.ingest.assets import _last_observed

    whole = _last_observed(logs.instance, DAYS)
    assert set(whole) == set(DAYS)
    assert _last_observed(logs.instance, DAYS, batch=3) == whole
