"""Small files staged in batches read exactly as each file staged alone, and a re-run reads only what changed."""

from __future__ import annotations

import gzip
import os
import time

import pytest

import slo_assets.ingest.batch as batch_module
import slo_assets.ingest.index as index_module
from slo_assets.ingest.batch import locate
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.index import assemble_day, build_index
from slo_assets.ingest.index_table import day_key
from tests.conftest import day_ms

COMBINED = '10.0.{n}.1 - - [{day:02d}/Nov/2026:{hour:02d}:{minute:02d}:00 {zone}] "GET /api/items/{n} HTTP/1.1" {status} 512 "-" "ua" 0.0{n:02d}'


def _combined(n: int, lines: int, zone: str = "+0000", end: str = "\n") -> bytes:
    text = [COMBINED.format(n=n % 90, day=1 + (n + k) % 3, hour=(n * 7 + k) % 24, minute=k % 60, zone=zone,
                            status=503 if (n + k) % 11 == 0 else 200) for k in range(lines)]
    return (end.join(text) + end).encode()


def _folder(logs) -> None:
    """Small files of every kind the batches meet, beside files that take the ordinary path."""
    logs.mkdir()
    for n in range(40):
        data = _combined(n, 1 + n % 4, "+0100" if n % 5 == 0 else "+0000", "\r\n" if n % 7 == 0 else "\n")
        if n % 6 == 0:
            data = b"\n" + data.replace(b"\n", b"\n  \n", 1)  # blank lines, one of whitespace
        if n % 9 == 0:
            data = data.replace(b'"ua"', b'"caf\xe9 \xff"')  # invalid UTF-8, kept as a row
        (logs / f"c{n:03d}.log").write_bytes(data)
    (logs / "dup.log").write_bytes((logs / "c001.log").read_bytes())  # the same bytes: read once
    # quarantined lines, placed by their own file's lines in a batch as alone
    (logs / "bad.log").write_bytes(_combined(3, 2) + b"not a log line\n" + _combined(4, 1))
    (logs / "bad-first.log").write_bytes(b"\x16\x03\x01 a TLS probe\n" + _combined(10, 2))  # before any valid line: the first one's day
    (logs / "bad-own.log").write_bytes(_combined(11, 1) + _combined(12, 1).replace(b'" 200 ', b'" 999 ').replace(b'" 503 ', b'" 999 '))
    (logs / "bad-nul.log").write_bytes(_combined(13, 1) + b"a hole \0\0 here\n" + _combined(14, 1))
    (logs / "bad-only.log").write_bytes(_combined(16, 3).replace(b"/Nov/", b"/Nox/") + b"[02/Nov/2026:10:00:00 +0000] ?\n")  # no valid line: alone
    (logs / "bad-outlier.log").write_bytes(_combined(15, 30).replace(b"/Nov/", b"/Nov/", 1)
                                           + COMBINED.format(n=1, day=15, hour=1, minute=0, zone="+0000", status=200)
                                           .replace("/Nov/", "/Jan/").replace("2026", "2027").encode() + b"\nnoise\n")  # outlying: alone
    (logs / "no-newline.log").write_bytes(_combined(5, 2).rstrip(b"\n"))  # an incomplete last line: the ordinary path
    (logs / "empty.log").write_bytes(b"")
    (logs / "blank.log").write_bytes(b"\n \n")
    (logs / "old.log.gz").write_bytes(gzip.compress(_combined(6, 3)))
    (logs / "nul-head.log").write_bytes(b"\0\0" + _combined(7, 1))
    (logs / "bom.log").write_bytes(b"\xef\xbb\xbf" + _combined(8, 1))
    # JSON lines: whether every line names its service is decided per file, in a batch as alone
    (logs / "j-named.jsonl").write_text('{"ts":"2026-11-02T10:00:00Z","service":"","path":"/api/x","status":200}\n'
                                        '{"ts":"2026-11-02T11:00:00Z","service":"cart","path":"/api/x","status":500}\n')
    (logs / "j-unnamed.jsonl").write_text('{"ts":"2026-11-02T10:30:00Z","path":"/api/y","status":200}\n')
    (logs / "j-mixed.jsonl").write_text('{"ts":1793613600,"service":"s","path":"/b/1","status":200}\n'
                                        '{"ts":1793613601000,"path":"/b/2","status":404,"duration_ms":"7"}\n')
    (logs / "j-bad.jsonl").write_text('{"ts":"2026-11-02T12:00:00Z","path":"/api/z","status":"2OO"}\n{"ts":"2026-11-02T12:00:01Z",'
                                      '"path":"/api/z","status":200,"duration_ms":-1e999}\n{not json\n{"ts":"2026-11-02T12:00:02Z","status":204}\n')


def _no_batches(monkeypatch) -> None:
    monkeypatch.setattr(batch_module, "SMALL_FILE_BYTES", 0)
    monkeypatch.setattr(index_module, "SMALL_FILE_BYTES", 0)


def _days(build, stage) -> dict[str, tuple]:
    days = sorted({day for days in build.index["days"].to_list() for day in days})
    out = {}
    for day in days:
        assembled = assemble_day(build.index, stage, day * 86_400_000)
        out[day_key(day)] = (assembled.rows, assembled.quarantine, assembled.files_read)
    return out


@pytest.mark.parametrize("batch_files", [4096, 7])
def test_small_files_read_in_batches_give_the_rows_and_days_of_each_file_staged_alone(tmp_path, monkeypatch, batch_files):
    _folder(tmp_path / "logs")
    monkeypatch.setattr(index_module, "BATCH_FILES", batch_files)
    batched = build_index(tmp_path / "logs", tmp_path / "batched", ParseConfig())
    keys = [locate(tmp_path / "batched", key) for key in batched.index["stage_key"].drop_nulls()]
    assert sum("#" in key for key in keys) == 49  # the 40 small combined files, their duplicate, 4 with quarantined lines, 4 JSON
    assert len({key.split("#")[0] for key in keys if "#" in key}) == (2 if batch_files > 44 else 7 + 1)  # a batch per format
    _no_batches(monkeypatch)
    alone = build_index(tmp_path / "logs", tmp_path / "alone", ParseConfig())
    assert not any("#" in locate(tmp_path / "alone", key) for key in alone.index["stage_key"].drop_nulls())
    assert batched.index.equals(alone.index)  # stage keys too: a file's own, wherever its parse is
    assert batched.duplicates == alone.duplicates == [("dup.log", "c001.log")]
    assert sorted(batched.staged) == sorted(alone.staged)
    ours, theirs = _days(batched, tmp_path / "batched"), _days(alone, tmp_path / "alone")
    assert ours.keys() == theirs.keys() and len(ours) >= 4
    for day, (rows, quarantine, files) in ours.items():
        assert rows.equals(theirs[day][0]), day
        assert quarantine.equals(theirs[day][1]), day
        assert files == theirs[day][2], day
    quarantined = {f for _, quarantine, _ in ours.values() for f in quarantine["source_file"].to_pylist()}
    assert {"bad.log", "bad-first.log", "bad-own.log", "bad-nul.log", "j-bad.jsonl"} <= quarantined  # placed from a batch
    services = dict(zip(ours["2026-11-02"][0]["source_file"].to_pylist(), ours["2026-11-02"][0]["service"].to_pylist(), strict=False))
    assert services["j-named.jsonl"] == "cart" and services["j-unnamed.jsonl"] == "api"
    named = [s for f, s in zip(ours["2026-11-02"][0]["source_file"].to_pylist(), ours["2026-11-02"][0]["service"].to_pylist(),
                               strict=True) if f == "j-named.jsonl"]
    assert named == ["unknown", "cart"]  # alone, every line names one: an empty name is the default, not the path's


def test_the_same_folder_gives_the_same_index_and_the_same_stage_bytes(tmp_path):
    _folder(tmp_path / "logs")
    one = build_index(tmp_path / "logs", tmp_path / "one", ParseConfig())
    two = build_index(tmp_path / "logs", tmp_path / "two", ParseConfig())
    assert one.index.equals(two.index)

    def files(root):
        return {str(p.relative_to(root)): os.readlink(p) if p.is_symlink() else p.read_bytes()
                for p in sorted(root.rglob("*")) if p.is_symlink() or p.is_file()}

    assert files(tmp_path / "one") == files(tmp_path / "two")


def test_an_unchanged_folder_is_read_no_more_and_a_changed_file_among_many_is_read_alone(tmp_path, monkeypatch):
    logs, stage = tmp_path / "logs", tmp_path / "stage"
    _folder(logs)
    first = build_index(logs, stage, ParseConfig())
    folders = {p.name for p in stage.iterdir()}

    def no_read(*args, **kwargs):
        if args and args[0]:
            raise AssertionError(f"an unchanged file was read: {args[0]}")
        return {}

    with monkeypatch.context() as patch:
        for name in ("read_small", "_safe_scan", "_scan_all", "stage_batch", "_stage_one"):
            patch.setattr(index_module, name, no_read)
        again = build_index(logs, stage, ParseConfig(), previous=first.index, checkpoints=first.checkpoints)
    assert again.staged == [] and again.index.equals(first.index)

    time.sleep(0.01)
    (logs / "c012.log").write_bytes(_combined(77, 2))  # one file of a batch of 40 changes
    read = []
    real_read = index_module.read_small
    monkeypatch.setattr(index_module, "read_small", lambda path, *rest: read.append(path.name) or real_read(path, *rest))
    changed = build_index(logs, stage, ParseConfig(), previous=again.index, checkpoints=again.checkpoints)
    assert read == ["c012.log"] and changed.staged == ["c012.log"]
    assert {p.name for p in stage.iterdir()} - folders == {changed.index.filter(changed.index["path"] == "c012.log")["stage_key"][0]}
    before = dict(zip(first.index["path"], first.index["stage_key"], strict=True))
    after = dict(zip(changed.index["path"], changed.index["stage_key"], strict=True))
    assert {path for path in after if after[path] != before[path]} == {"c012.log"}
    fresh = build_index(logs, tmp_path / "fresh", ParseConfig())
    assert changed.index.equals(fresh.index)  # a fresh build batches differently: the index is the same
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        ours, theirs = assemble_day(changed.index, stage, day_ms(day)), assemble_day(fresh.index, tmp_path / "fresh", day_ms(day))
        assert ours.rows.equals(theirs.rows) and ours.quarantine.equals(theirs.quarantine)


def test_a_changed_setting_restages_batched_files(tmp_path):
    _folder(tmp_path / "logs")
    first = build_index(tmp_path / "logs", tmp_path / "stage", ParseConfig())
    other = build_index(tmp_path / "logs", tmp_path / "stage", ParseConfig(default_service="other"), previous=first.index)
    assert sorted(other.staged) == sorted(first.staged)
    rows = assemble_day(other.index, tmp_path / "stage", day_ms("2026-11-02")).rows
    assert "other" in rows["service"].to_pylist()


def test_progress_is_told_while_files_are_indexed(tmp_path, monkeypatch):
    _folder(tmp_path / "logs")
    monkeypatch.setattr(index_module, "PROGRESS_FILES", 10)
    heard: list[tuple[str, int, int]] = []
    build = build_index(tmp_path / "logs", tmp_path / "stage", ParseConfig(), progress=lambda *told: heard.append(told))
    files = [told for told in heard if told[0] == "files read"]
    assert [done for _, done, _ in files] == [10, 20, 30, 40, 50, 57] and {total for _, _, total in files} == {57}
    parsed = [told for told in heard if told[0] == "files parsed alone"]
    alone = [path for path, key in zip(build.index["path"], build.index["stage_key"], strict=True)
             if key and "#" not in locate(tmp_path / "stage", key)]
    assert sorted(alone) == ["bad-only.log", "bad-outlier.log", "bom.log", "no-newline.log", "nul-head.log", "old.log.gz"]
    assert parsed == [("files parsed alone", done, 6) for done in range(1, 7)]  # the files staged alone, one by one


def test_a_lost_batch_is_said_when_read_and_staged_again_by_the_next_build(tmp_path):
    import shutil

    from slo_assets.ingest.index import MissingStageError

    logs, stage = tmp_path / "logs", tmp_path / "stage"
    _folder(logs)
    first = build_index(logs, stage, ParseConfig())
    key = first.index.filter(first.index["path"] == "c003.log")["stage_key"][0]
    shutil.rmtree(stage / locate(stage, key).split("#")[0])  # the parse cache lost a batch
    with pytest.raises(MissingStageError, match="bad-first.log: indexed, but its parse .* is missing"):  # in the same batch
        assemble_day(first.index, stage, day_ms("2026-11-02"))
    again = build_index(logs, stage, ParseConfig(), previous=first.index)
    assert "c003.log" in again.staged and "bad-outlier.log" not in again.staged and again.index.equals(first.index)
    fresh = build_index(logs, tmp_path / "fresh", ParseConfig())
    day = day_ms("2026-11-02")
    assert assemble_day(again.index, stage, day).rows.equals(assemble_day(fresh.index, tmp_path / "fresh", day).rows)


def test_a_link_in_the_parse_cache_names_a_place_only_in_the_form_a_batch_writes(tmp_path):
    (tmp_path / "abc-123").symlink_to("../../etc#0")
    (tmp_path / "def-456").symlink_to(f"b{'0' * 31}-{'1' * 12}#7")
    assert locate(tmp_path, "abc-123") == "abc-123" and locate(tmp_path, "def-456") == f"b{'0' * 31}-{'1' * 12}#7"
    assert locate(tmp_path, "missing") == "missing"


def test_many_small_files_cost_one_parse_and_one_stage_folder_per_batch_not_per_file(tmp_path, monkeypatch):
    """Counted, not timed: a stage of its own cost ~15 ms a file however few its lines (50,000 hourly
    files: more than 25 minutes); 300 one-line files are one parse and one folder, and each file is
    opened once."""
    import builtins

    import slo_assets.ingest.staging as staging_module

    logs = tmp_path / "logs"
    logs.mkdir()
    for n in range(300):
        (logs / f"access-{n:04d}.log").write_bytes(_combined(n, 1))
    parses, opened = [], []
    real_parse, real_open = batch_module.parse_chunk, builtins.open
    monkeypatch.setattr(batch_module, "parse_chunk", lambda *a, **k: parses.append(1) or real_parse(*a, **k))
    monkeypatch.setattr(staging_module, "parse_chunk", lambda *a, **k: parses.append(1) or real_parse(*a, **k))
    monkeypatch.setattr(builtins, "open", lambda file, *a, **k: opened.append(str(file)) or real_open(file, *a, **k))
    build = build_index(logs, tmp_path / "stage", ParseConfig())
    monkeypatch.undo()
    assert build.index.height == 300 and len(parses) == 1
    batch = locate(tmp_path / "stage", build.index["stage_key"][0]).split("#")[0]
    assert [p.name for p in (tmp_path / "stage").iterdir() if not p.is_symlink()] == [batch]
    assert sum(name.startswith(str(logs)) for name in opened) == 300
