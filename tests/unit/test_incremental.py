"""Growing, rotated and replaced log files: a refresh parses only what was appended, and every day's
parsed_logs and quarantine files and data versions are byte for byte those of a full re-parse."""

from __future__ import annotations

import os
import shutil

import pytest

from slo_assets.ingest import checkpoint as C
from slo_assets.ingest import staging
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.files import ChainPoint, ContentDigest, fingerprint, scan_plain
from slo_assets.ingest.index import assemble_day, build_index, day_versions
from slo_assets.warehouse.storage import Warehouse
from tests.conftest import day_ms

DAYS = ["2026-10-04", "2026-10-05"]


def line(number: int) -> str:
    """Line `number` of the live log: two days, a bad status every 17th line, garbage every 41st."""
    if number % 41 == 0:
        return f"garbage {number}\n"
    day = DAYS[0] if number < 400 else DAYS[1]
    status = 999 if number % 17 == 0 else 200 + number % 3
    return f'{{"ts":"{day}T{number // 60 % 24:02d}:{number % 60:02d}:00Z","service":"api","status":{status},"duration_ms":{number % 50}}}\n'


def text(first: int, last: int) -> str:
    return "".join(line(n) for n in range(first, last + 1))


class Live:
    """The incremental side: one stage cache, the previous index and checkpoints carried over."""

    def __init__(self, tmp_path):
        self.root = tmp_path / "logs"
        self.root.mkdir()
        self.stage = tmp_path / "stage"
        self.tmp = tmp_path
        self.index, self.checkpoints, self.count = None, [], 0

    def refresh(self):
        build = build_index(self.root, self.stage, ParseConfig(), previous=self.index, checkpoints=self.checkpoints)
        self.index, self.checkpoints = build.index, build.checkpoints
        return build

    def full(self):
        """The same folder parsed from nothing: a fresh stage cache, no index, no checkpoint."""
        self.count += 1
        return build_index(self.root, self.tmp / f"full-stage-{self.count}", ParseConfig()), self.tmp / f"full-stage-{self.count}"


def day_files(build, stage, folder) -> dict[str, tuple[bytes, bytes]]:
    """Each day's parsed_logs and quarantine Parquet as the ingest asset writes them."""
    store = Warehouse(folder)
    written = {}
    for day in DAYS:
        assembled = assemble_day(build.index, stage, day_ms(day))
        store.write_table(store.path("parsed_logs", f"{day}.parquet"), assembled.rows)
        store.write_table(store.path("quarantine", f"{day}.parquet"), assembled.quarantine)
        written[day] = ((folder / "parsed_logs" / f"{day}.parquet").read_bytes(), (folder / "quarantine" / f"{day}.parquet").read_bytes())
    return written


def assert_same_as_full(live: Live, build) -> dict[str, tuple[bytes, bytes]]:
    full, full_stage = live.full()
    assert build.index.equals(full.index)
    assert day_versions(build.index) == day_versions(full.index)
    incremental = day_files(build, live.stage, live.tmp / f"wh-incremental-{live.count}")
    assert incremental == day_files(full, full_stage, live.tmp / f"wh-full-{live.count}")
    return incremental


@pytest.fixture()
def parsed(monkeypatch):
    """(first line number, lines) of every chunk parsed."""
    seen = []
    original = staging.parse_chunk

    def recording(chunk, first_line_no, *args, **kwargs):
        result = original(chunk, first_line_no, *args, **kwargs)
        seen.append((first_line_no, result.lines))
        return result

    monkeypatch.setattr(staging, "parse_chunk", recording)
    return seen


def rows_of(build, stage, day):
    return assemble_day(build.index, stage, day_ms(day)).rows


@pytest.mark.parametrize("merge_bytes", [0, staging.MERGE_SEGMENT_BYTES], ids=["every-segment-kept", "small-segments-merged"])
def test_a_file_growing_in_appends_one_cutting_a_line_is_parsed_from_its_checkpoint(tmp_path, parsed, monkeypatch, merge_bytes):
    monkeypatch.setattr(staging, "MERGE_SEGMENT_BYTES", merge_bytes)
    live = Live(tmp_path)
    access = live.root / "access.log"
    access.write_text(text(1, 300))
    first = live.refresh()
    assert first.extended == [] and parsed == [(1, 300)]
    assert_same_as_full(live, first)

    parsed.clear()
    with open(access, "a") as log:
        log.write(text(301, 380))
    grown = live.refresh()
    assert grown.extended == ["access.log"] and parsed == [(301, 80)]  # only the appended lines
    assert_same_as_full(live, grown)

    parsed.clear()
    cut = line(381)
    with open(access, "a") as log:
        log.write(cut[:20])  # half a line: parsed as the full parse does, but not past
    half = live.refresh()
    # the small segment 301-380 is parsed again with what follows it when segments are merged
    assert half.extended == ["access.log"] and parsed == ([(381, 1)] if merge_bytes == 0 else [(301, 80), (381, 1)])
    assert live.checkpoints[0].offset == len(text(1, 380).encode()) and live.checkpoints[0].lines == 380
    assert_same_as_full(live, half)

    parsed.clear()
    with open(access, "a") as log:
        log.write(cut[20:] + text(382, 460))
    whole = live.refresh()
    # merging re-parses the small segment 301-380 with the appended bytes; else only from line 381
    assert whole.extended == ["access.log"] and parsed == ([(381, 80)] if merge_bytes == 0 else [(301, 160)])
    files = assert_same_as_full(live, whole)
    assert files[DAYS[1]][0]  # written
    # Source lines continue from the checkpoint: the second day holds lines 400-460, minus the bad ones.
    expected = [n for n in range(400, 461) if n % 41 and n % 17]
    assert rows_of(whole, live.stage, DAYS[1])["source_line"].to_pylist() == expected
    assert live.checkpoints[0].lines == 460


def test_rotation_by_rename_reads_each_line_once(tmp_path, parsed):
    live = Live(tmp_path)
    access = live.root / "access.log"
    access.write_text(text(1, 300))
    live.refresh()
    with open(access, "a") as log:
        log.write(text(301, 350))  # written after the last refresh, before the rotation
    os.rename(access, live.root / "access.log.1")
    access.write_text(text(351, 420))
    parsed.clear()
    rotated = live.refresh()
    assert rotated.extended == ["access.log.1"]  # found by its inode: only lines 301-350 parsed
    assert sorted(parsed) == [(1, 70), (301, 50)]  # and the new access.log from its first line
    assert_same_as_full(live, rotated)
    rows = sum(rows_of(rotated, live.stage, day).num_rows for day in DAYS)
    assert rows == sum(1 for n in range(1, 421) if n % 41 and n % 17)  # every valid line once


def test_copytruncate_reads_the_copy_from_the_checkpoint_and_the_truncated_file_in_full(tmp_path, parsed):
    live = Live(tmp_path)
    access = live.root / "access.log"
    access.write_text(text(1, 300))
    live.refresh()
    with open(access, "a") as log:
        log.write(text(301, 320))
    inode = os.stat(access).st_ino
    shutil.copyfile(access, live.root / "access.log.1")
    with open(access, "r+") as log:  # same inode, shorter
        log.truncate(0)
        log.write(text(321, 330))
    assert os.stat(access).st_ino == inode
    parsed.clear()
    build = live.refresh()
    assert build.extended == ["access.log.1"]  # a new inode, known by its first KiB
    assert sorted(parsed) == [(1, 10), (301, 20)]
    assert_same_as_full(live, build)


def test_a_new_inode_under_the_same_name_with_other_content_is_parsed_in_full(tmp_path, parsed):
    live = Live(tmp_path)
    access = live.root / "access.log"
    access.write_text(text(1, 300))
    live.refresh()
    replacement = live.root / "access.log.new.tmp"
    replacement.write_text(text(500, 900))
    os.replace(replacement, access)
    parsed.clear()
    build = live.refresh()
    assert build.extended == [] and parsed == [(1, 401)]
    assert_same_as_full(live, build)


def test_a_file_replaced_by_one_of_the_same_size_is_parsed_in_full(tmp_path, parsed):
    live = Live(tmp_path)
    access = live.root / "access.log"
    access.write_text(text(1, 300))
    live.refresh()
    size = access.stat().st_size
    access.write_text(text(1, 300).replace('"status":200', '"status":503'))  # other first KiB
    assert access.stat().st_size == size
    parsed.clear()
    first_changed = live.refresh()
    assert first_changed.extended == [] and parsed == [(1, 300)]
    assert_same_as_full(live, first_changed)
    # The same first KiB, another last KiB: a replacement too.
    body = access.read_text()
    access.write_text(body[:-200] + body[-200:].replace("503", "504"))
    assert access.stat().st_size == size
    parsed.clear()
    last_changed = live.refresh()
    assert last_changed.extended == [] and parsed == [(1, 300)]
    assert_same_as_full(live, last_changed)


def test_a_file_without_a_valid_line_yet_is_parsed_in_full_when_it_grows(tmp_path, parsed):
    """Lines before the first valid one are placed by it: an append can move them, so no checkpoint shortcut."""
    live = Live(tmp_path)
    access = live.root / "access.log"
    access.write_text("".join(f'{{"ts":"{DAYS[0]}T00:00:0{n}Z","service":"api","status":999}}\n' for n in range(5)))
    live.refresh()
    with open(access, "a") as log:
        log.write(text(1, 50))
    parsed.clear()
    build = live.refresh()
    assert build.extended == [] and parsed == [(1, 55)]
    assert_same_as_full(live, build)


def test_the_chained_fingerprint_extends_from_any_block_boundary(tmp_path):
    path = tmp_path / "big.log"
    payload = os.urandom(3 * (1 << 20) + 12345)
    path.write_bytes(payload)
    whole = scan_plain(path)
    assert fingerprint(path) == whole.hexdigest()
    assert [p.offset for p in whole.points] == [0, 1 << 20, 2 << 20, 3 << 20]
    for point in whole.points:
        assert scan_plain(path, point).hexdigest() == whole.hexdigest()
    fed = ContentDigest()
    for start in range(0, len(payload), 777_777):  # blocks of any size
        fed.update(payload[start:start + 777_777])
    assert fed.hexdigest() == whole.hexdigest()
    assert scan_plain(path, stop=len(payload) - 1).hexdigest() != whole.hexdigest()


def test_checkpoints_round_trip_and_a_damaged_file_is_named(tmp_path):
    entry = C.FileCheckpoint(path="access.log", device=1, inode=2, offset=30, lines=3, head_sha256="a", tail_sha256="b",
                             chain=ChainPoint(0, "c"), stage_key="k")
    assert C.loads(C.dumps([entry]), "x.json") == [entry]
    with pytest.raises(C.CheckpointError, match="wh/log_file_checkpoints.json: not a checkpoint file"):
        C.loads(b"{not json", "wh/log_file_checkpoints.json")
    with pytest.raises(C.CheckpointError, match="entry 1: fields"):
        C.loads(b'{"version": 1, "files": [{"path": "a"}]}', "wh/log_file_checkpoints.json")


def _data_version(instance, asset: str, day: str) -> str:
    import dagster as dg

    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[day]), limit=1)
    return records.records[0].asset_materialization.tags["dagster/data_version"]


def test_through_the_assets_a_grown_file_gives_the_versions_and_files_of_a_fresh_warehouse(tmp_path):
    """index_job and parsed_logs, as a refresh runs them: the grown file is read from the checkpoint
    the warehouse holds, and the day's versions and Parquet equal those of a warehouse that never saw it."""
    from slo_assets.defs.ingest.assets import _last_observed, read_checkpoints
    from tests.graph.test_late_files import Logs

    (tmp_path / "live").mkdir()
    live = Logs(tmp_path / "live")
    access = live.root / "access.log"
    access.write_text(text(1, 300))
    assert live.observe() == {DAYS[0]}
    live.ingest(DAYS[0])
    known, problem = read_checkpoints(live.resources["warehouse"])
    assert problem is None and [(c.path, c.lines) for c in known] == [("access.log", 300)]
    with open(access, "a") as log:
        log.write(text(301, 460) + line(461)[:15])
    assert live.observe() == set(DAYS)
    assert live.stale() == {DAYS[0]}  # its file grew; the second day is new
    for day in DAYS:
        live.ingest(day)
    known, _ = read_checkpoints(live.resources["warehouse"])
    assert [(c.path, c.lines) for c in known] == [("access.log", 460)]

    (tmp_path / "fresh").mkdir()
    fresh = Logs(tmp_path / "fresh")
    shutil.copyfile(access, fresh.root / "access.log")
    assert fresh.observe() == set(DAYS)
    for day in DAYS:
        fresh.ingest(day)
    assert _last_observed(live.instance, DAYS) == _last_observed(fresh.instance, DAYS)
    for day in DAYS:
        for folder in ("parsed_logs", "quarantine"):
            assert (live.warehouse / folder / f"{day}.parquet").read_bytes() == (fresh.warehouse / folder / f"{day}.parquet").read_bytes()
        assert _data_version(live.instance, "parsed_logs", day) == _data_version(fresh.instance, "parsed_logs", day)
    assert live.rows(DAYS[1]) == sum(1 for n in range(400, 461) if n % 41 and n % 17)


def test_an_unreadable_checkpoint_file_means_full_parses_with_a_warning(tmp_path):
    from slo_assets.defs.ingest.assets import read_checkpoints
    from slo_assets.defs.resources import WarehouseResource

    (tmp_path / "log_file_checkpoints.json").write_text('{"version": 9, "files": []}')
    known, problem = read_checkpoints(WarehouseResource(base=str(tmp_path)))
    assert known == [] and problem == (f"{tmp_path}/log_file_checkpoints.json: version 9, expected 1; "
                                       "every changed file is parsed in full")


def combined(number: int) -> str:
    """Line `number` of a combined-format access.log on the first day; every 23rd is cut short."""
    if number % 23 == 0:
        return f'10.0.0.1 - - [04/Oct/2026:10:{number % 60:02d}:00 +0000] "GET /a/{number}\n'
    return (f'10.0.0.{number % 250} - - [04/Oct/2026:{number // 60 % 24:02d}:{number % 60:02d}:00 +0000] '
            f'"GET /shop/item/{number} HTTP/1.1" {500 if number % 7 == 0 else 200} 512 "-" "curl/8"\n')


def test_a_growing_combined_log_equals_its_full_parse(tmp_path, parsed):
    live = Live(tmp_path)
    access = live.root / "access.log"
    access.write_text("".join(combined(n) for n in range(1, 201)))
    live.refresh()
    appended = "".join(combined(n) for n in range(201, 260))
    for piece in (appended[:1000], appended[1000:1001], appended[1001:]):  # the first two cut a line
        with open(access, "a") as log:
            log.write(piece)
        parsed.clear()
        build = live.refresh()
        assert build.extended == ["access.log"] and parsed[0][0] > 200  # never from the first line
        assert_same_as_full(live, build)
    day = assemble_day(live.index, live.stage, day_ms(DAYS[0]))
    assert day.rows.num_rows == sum(1 for n in range(1, 260) if n % 23)
    assert day.quarantine["source_line"].to_pylist() == [n for n in range(1, 260) if n % 23 == 0]
