"""`slo-assets run` over every kind of log rotation a server leaves: gzip, bz2, xz (without its suffix)
and zstd, UTF-16 and UTF-8 with byte order marks, a copytruncate sparse head, a line of NULs, and a
symlinked folder: every line is read or named, and the run exits 0."""

from __future__ import annotations

import json
import os

from tests.e2e.test_real_logs import run
from tests.unit.test_files_hostile import write_rotations


def test_every_rotation_kind_is_read_and_a_symlinked_folder_is_named(tmp_path):
    logs = tmp_path / "logs"
    sizes = write_rotations(logs / "pods", scale=5, days=2)
    os.symlink("pods", logs / "k8s")  # followed or not, it is named in the summary, never silently dropped
    done = run(tmp_path, logs, now="2015-05-02T12:00:00Z")  # the files hold May 1 and 2: two day runs
    assert done.returncode == 0, done.stdout + done.stderr
    lines = sum(sizes.values())
    assert lines == 4_000
    assert f"{lines:,} lines: {lines - 1:,} rows, 1 quarantined, 0 blank" in done.stdout, done.stdout
    assert "skipped: k8s/: " in done.stdout
    assert "skipped: pods/" not in done.stdout and "unreadable" not in done.stdout and "salvaged" not in done.stdout
    quality = json.loads((tmp_path / "out" / "2015-05" / "compliance.json").read_text())["data_quality"]
    assert (quality["rows"], quality["quarantined_lines"]) == (lines - 1, 1)
