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
    plain = build_index(logs, tmp_path / "s1", ParseConfig(), exclude=("*.txt",), follow_symlinks=False).index
    assert _read_paths(plain) == ["nested/app.log"]
    assert _problems(plain) == {
        ".hidden/": ("skipped", "hidden (name starts with '.')"),
        "escape.log": ("skipped", "symlink (follow_symlinks is off)"),
        "inside-link.log": ("skipped", "symlink (follow_symlinks is off)"),
        "notes.txt": ("skipped", "excluded by pattern '*.txt'"),
    }
    followed = build_index(logs, tmp_path / "s2", ParseConfig(), include=("*.log",)).index  # the default: follow inside the root
    assert _read_paths(followed) == ["inside-link.log", "nested/app.log"]
    assert _problems(followed)["escape.log"] == ("skipped", f"symlink to a path outside the log folder: {outside}")
    assert _problems(followed)["notes.txt"] == ("skipped", "matches no include pattern")


def test_symlinked_folders_are_followed_inside_the_root_and_every_other_link_is_named(tmp_path):
    """k8s /var/log/containers and logrotate's dated folders are symlinks: a link inside the root is
    read, one leading outside is refused with its target named, and a loop is listed once, never walked."""
    logs, elsewhere = tmp_path / "logs", tmp_path / "elsewhere"
    (logs / "pods" / "web-1").mkdir(parents=True)
    elsewhere.mkdir()
    write(logs / "pods" / "web-1" / "0.log", range(50))
    write(elsewhere / "secret.log", [1])
    os.symlink(logs / "pods" / "web-1", logs / "current")  # a second name for a folder read under its own
    os.symlink(logs / "pods", logs / "all-pods")
    os.symlink(elsewhere, logs / "outside")
    os.symlink("..", logs / "pods" / "up")  # a loop: leads back to the folder holding it
    os.symlink("loop-b", logs / "loop-a")
    os.symlink("loop-a", logs / "loop-b")
    index = build_index(logs, tmp_path / "stage", ParseConfig(), follow_symlinks=True).index  # a loop used to abort the index
    assert _read_paths(index) == ["pods/web-1/0.log"]
    assert index.filter(index["path"] == "pods/web-1/0.log")["rows"].to_list() == [50]
    assert _problems(index) == {
        "all-pods/": ("skipped", "the folder read as pods/ (read once)"),
        "current/": ("skipped", "the folder read as pods/web-1/ (read once)"),
        "outside/": ("skipped", f"symlink to a path outside the log folder: {elsewhere}"),
        "pods/up/": ("skipped", "symlink loop: leads back to the log folder, which holds it"),
        "loop-a": ("skipped", "symlink loop"),
        "loop-b": ("skipped", "symlink loop"),
    }
    # Not following: a symlinked folder is listed, as a symlinked file is; nothing vanishes unseen.
    plain = build_index(logs, tmp_path / "stage", ParseConfig(), follow_symlinks=False).index
    assert _read_paths(plain) == ["pods/web-1/0.log"]
    assert _problems(plain) == {name: ("skipped", "symlink (follow_symlinks is off)")
                                for name in ("all-pods/", "current/", "outside/", "pods/up/", "loop-a", "loop-b")}


def test_a_folder_reached_only_through_a_link_inside_the_root_is_read_under_the_links_name(tmp_path):
    logs = tmp_path / "logs"
    (logs / ".versions" / "v2").mkdir(parents=True)  # hidden: not walked itself
    write(logs / ".versions" / "v2" / "app.log", [1, 2, 3])
    os.symlink(".versions/v2", logs / "live")
    os.symlink("live", logs / "live-again")  # a link to a link: the same folder, read once
    index = build_index(logs, tmp_path / "stage", ParseConfig()).index
    assert _read_paths(index) == ["live/app.log"]
    assert _problems(index) == {".versions/": ("skipped", "hidden (name starts with '.')"),
                                "live-again/": ("skipped", "the folder read as live/ (read once)")}


def test_file_of_unknown_format_is_skipped_with_its_reason_and_forced_format_lines_are_unplaced(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "weird.log").write_text("alpha beta\n\ngamma\n")
    build = build_index(logs, tmp_path / "stage", ParseConfig())
    row = build.index.row(0, named=True)
    assert (row["status"], row["lines"]) == ("skipped", None)
    assert row["problem"].startswith("neither JSON lines nor common/combined") and "alpha beta" in row["problem"]
    # Forced to JSON lines, a text of no log shape is still skipped (a LICENSE beside the logs)...
    assert build_index(logs, tmp_path / "stage", ParseConfig(format="jsonl")).index.row(0, named=True)["status"] == "skipped"
    # ...and JSON lines without a time are read and quarantined; with no time anywhere they are
    # unplaced: counted, and in no day (they used to land on the day of the file's mtime).
    (logs / "weird.log").write_text('{"service": "s"}\n\n{"status": 200}\n')
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


def _count_work(tmp_path, monkeypatch, files: int) -> dict[str, int]:
    """Index `files` new one-line files, then `files` more beside them (with the first build's
    checkpoints); count the checkpoints compared with a file and the path comparisons, per build."""
    from pathlib import PurePath

    import slo_assets.ingest.index as index_module

    logs = tmp_path / f"logs-{files}"
    logs.mkdir()
    counts = {"fresh_paths": 0, "added_paths": 0, "added_checkpoints": 0}
    phase = "fresh"
    real_candidates, real_eq = index_module.candidates, PurePath.__eq__

    def counting_candidates(path, rel, stat, checkpoints):
        counts[f"{phase}_checkpoints"] = counts.get(f"{phase}_checkpoints", 0) + len(checkpoints)
        return real_candidates(path, rel, stat, checkpoints)

    def counting_eq(self, other):
        counts[f"{phase}_paths"] += 1
        return real_eq(self, other)

    monkeypatch.setattr(index_module, "candidates", counting_candidates)
    monkeypatch.setattr(PurePath, "__eq__", counting_eq)
    line = '{{"ts":"2025-03-04T10:00:00Z","service":"s{n}","status":200}}\n'
    for n in range(files):
        (logs / f"{n:05d}.log").write_text(line.format(n=n))
    first = build_index(logs, tmp_path / f"stage-{files}", ParseConfig())
    phase = "added"
    for n in range(files, 2 * files):
        (logs / f"{n:05d}.log").write_text(line.format(n=n))
    added = build_index(logs, tmp_path / f"stage-{files}", ParseConfig(), previous=first.index, checkpoints=first.checkpoints)
    monkeypatch.undo()
    assert (len(first.staged), len(added.staged), added.reused) == (files, files, files)
    return counts


def test_indexing_many_new_files_costs_the_same_per_file_however_many_there_are(tmp_path, monkeypatch):
    """Each new file used to be compared with every file queued before it (is its stage already
    queued?) and with every checkpoint of the last build: 5,000 files took 100 s, 10,000 took 231 s.
    Counted, not timed: the work per file must not grow with the number of files."""
    small, large = _count_work(tmp_path, monkeypatch, 30), _count_work(tmp_path, monkeypatch, 60)
    for name in ("fresh_paths", "added_paths", "added_checkpoints"):
        assert large[name] <= 2 * small[name] + 2, (name, small, large)
    assert large["added_checkpoints"] == 0  # the new files' names, inodes and first bytes match no checkpoint
