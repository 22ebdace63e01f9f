"""The log file index: reuse, change detection, duplicates, discovery rules, formats."""

from __future__ import annotations

import os
import time

from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.index import assemble_day, build_index
from tests.conftest import day_ms

LINE = '{{"ts":"2025-03-04T10:00:{sec:02d}Z","service":"s","status":200}}'


def write(path, seconds):
    path.write_text("\n".join(LINE.format(sec=s) for s in seconds) + "\n")


def test_unchanged_files_are_reused_and_changed_ones_restaged(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    write(logs / "a.jsonl", [1, 2])
    write(logs / "b.jsonl", [3])
    first = build_index(logs, tmp_path / "stage", ParseConfig())
    assert sorted(first.staged) == ["a.jsonl", "b.jsonl"]
    again = build_index(logs, tmp_path / "stage", ParseConfig(), previous=first.index)
    assert again.staged == [] and again.reused == 2
    assert again.index.equals(first.index)

    time.sleep(0.01)
    write(logs / "a.jsonl", [1, 2, 4])  # the live file grew
    grown = build_index(logs, tmp_path / "stage", ParseConfig(), previous=again.index)
    assert grown.staged == ["a.jsonl"]
    assert grown.index.filter(grown.index["path"] == "a.jsonl")["rows"].to_list() == [3]
    changed_settings = build_index(logs, tmp_path / "stage", ParseConfig(default_service="other"), previous=grown.index)
    assert sorted(changed_settings.staged) == ["a.jsonl", "b.jsonl"]


def test_same_bytes_under_two_names_are_read_once(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    write(logs / "access.log.1", [1, 2])
    (logs / "access.log.1.bak.log").write_bytes((logs / "access.log.1").read_bytes())
    build = build_index(logs, tmp_path / "stage", ParseConfig())
    assert build.duplicates == [("access.log.1.bak.log", "access.log.1")]
    day = assemble_day(build.index, tmp_path / "stage", day_ms("2025-03-04"))
    assert day.rows.num_rows == 2
    assert day.files_read == ["access.log.1"]


def _read_paths(index) -> list[str]:
    return index.filter(index["status"] == "read")["path"].to_list()


def _problems(index) -> dict[str, tuple[str, str]]:
    return {r["path"]: (r["status"], r["problem"]) for r in index.filter(index["status"] != "read").iter_rows(named=True)}


def test_discovery_skips_hidden_excluded_and_escaping_symlinks_and_lists_each_with_its_reason(tmp_path):
    logs = tmp_path / "logs"
    (logs / "nested").mkdir(parents=True)
    (logs / ".hidden").mkdir()
    outside = tmp_path / "outside.log"
    write(outside, [9])
    write(logs / "nested" / "app.log", [1])
    write(logs / ".hidden" / "x.log", [2])
    write(logs / "notes.txt", [3])
    os.symlink(outside, logs / "escape.log")
    os.symlink(logs / "nested" / "app.log", logs / "inside-link.log")
    plain = build_index(logs, tmp_path / "s1", ParseConfig(), exclude=("*.txt",)).index
    assert _read_paths(plain) == ["nested/app.log"]
    assert _problems(plain) == {
        ".hidden/": ("skipped", "hidden (name starts with '.')"),
        "escape.log": ("skipped", "symlink (follow_symlinks is off)"),
        "inside-link.log": ("skipped", "symlink (follow_symlinks is off)"),
        "notes.txt": ("skipped", "excluded by pattern '*.txt'"),
    }
    followed = build_index(logs, tmp_path / "s2", ParseConfig(), follow_symlinks=True, include=("*.log",)).index
    assert _read_paths(followed) == ["inside-link.log", "nested/app.log"]
    assert _problems(followed)["escape.log"] == ("skipped", "symlink to a path outside the log folder")
    assert _problems(followed)["notes.txt"] == ("skipped", "matches no include pattern")


def test_file_of_unknown_format_is_skipped_with_its_reason_and_forced_format_lines_are_unplaced(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "weird.log").write_text("alpha beta\n\ngamma\n")
    build = build_index(logs, tmp_path / "stage", ParseConfig())
    row = build.index.row(0, named=True)
    assert (row["status"], row["lines"]) == ("skipped", None)
    assert row["problem"].startswith("neither JSON lines nor common/combined") and "alpha beta" in row["problem"]
    # Forced to JSON lines, the lines are read and quarantined; with no time anywhere they are
    # unplaced: counted, and in no day (they used to land on the day of the file's mtime).
    forced = build_index(logs, tmp_path / "stage", ParseConfig(format="jsonl")).index.row(0, named=True)
    assert (forced["status"], forced["lines"], forced["quarantined"], forced["blank_lines"], forced["unplaced"]) == ("read", 3, 2, 1, 2)
    assert forced["days"] == []
    mtime_day = time.strftime("%Y-%m-%d", time.gmtime(os.stat(logs / "weird.log").st_mtime))
    forced_index = build_index(logs, tmp_path / "stage", ParseConfig(format="jsonl")).index
    assert assemble_day(forced_index, tmp_path / "stage", day_ms(mtime_day)).quarantine.num_rows == 0


def test_quarantined_line_takes_the_day_of_the_previous_valid_line(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text(
        "broken first line\n"
        '{"ts":"2025-03-04T23:59:59Z","service":"s","status":200}\n'
        "broken after the 4th\n"
        '{"ts":"2025-03-05T00:00:01Z","service":"s","status":200}\n'
        "broken after the 5th\n"
    )
    build = build_index(logs, tmp_path / "stage", ParseConfig())
    fourth = assemble_day(build.index, tmp_path / "stage", day_ms("2025-03-04"))
    fifth = assemble_day(build.index, tmp_path / "stage", day_ms("2025-03-05"))
    assert fourth.quarantine["source_line"].to_pylist() == [1, 3]
    assert fifth.quarantine["source_line"].to_pylist() == [5]


def test_chunked_reading_keeps_line_numbers_across_chunks(tmp_path):
    from slo_assets.ingest.staging import stage_file

    path = tmp_path / "big.jsonl"
    lines = [LINE.format(sec=i % 60) for i in range(5000)]
    lines[2500] = "bad"
    lines[4000] = ""
    path.write_text("\n".join(lines))  # no final newline
    stats = stage_file(path, "jsonl", ParseConfig(), tmp_path / "stage", chunk_bytes=4096)
    assert (stats.lines, stats.rows, stats.quarantined, stats.blank_lines) == (5000, 4998, 1, 1)
    build = build_index(tmp_path, tmp_path / "s2", ParseConfig(), include=("big.jsonl",))
    day = assemble_day(build.index, tmp_path / "s2", day_ms("2025-03-04"))
    assert day.quarantine["source_line"].to_pylist() == [2501]
    assert day.rows["source_line"].to_pylist() == [n for n in range(1, 5001) if n not in (2501, 4001)]
