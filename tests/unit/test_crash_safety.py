"""Crash safety: a killed writer never leaves half a partition; concurrent writers leave one valid result."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

WRITER = textwrap.dedent("""
    import sys, numpy as np, pyarrow as pa
    from slo_assets.warehouse.storage import Warehouse
    store, seed, rounds = Warehouse(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(seed)
    table = pa.table({"x": rng.random(3_000_000), "y": rng.integers(0, 1 << 40, 3_000_000)})
    print("ready", flush=True)
    for _ in range(rounds):
        store.write_table(store.path("parsed_logs", "2026-10-10.parquet"), table)
    print("done", flush=True)
""")


def _writer(base: Path, seed: int, rounds: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(base), str(seed), str(rounds)], stdout=subprocess.PIPE, text=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkill_mid_write_leaves_the_previous_file_intact_and_a_rerun_matches(tmp_path):
    target = tmp_path / "parsed_logs" / "2026-10-10.parquet"
    complete = {}
    for seed in (1, 2):
        assert _writer(tmp_path / f"clean-{seed}", seed, 1).wait(timeout=120) == 0
        complete[seed] = _digest(tmp_path / f"clean-{seed}" / "parsed_logs" / "2026-10-10.parquet")
    reference = complete[1]

    first = _writer(tmp_path, 1, 1)
    assert first.wait(timeout=120) == 0
    assert _digest(target) == complete[1]
    for delay in (0.05, 0.2, 0.5):
        victim = _writer(tmp_path, 2, 50)
        assert victim.stdout.readline().strip() == "ready"
        time.sleep(delay)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        # Whatever instant the kill came, the partition is a whole Parquet file: the old one or a new one.
        assert pq.read_table(target).num_rows == 3_000_000
        assert _digest(target) in (complete[1], complete[2])
    visible = [p.name for p in target.parent.iterdir() if not p.name.startswith(".")]
    assert visible == ["2026-10-10.parquet"]  # leftovers of killed writers are hidden temporary names

    rerun = _writer(tmp_path, 1, 1)
    assert rerun.wait(timeout=120) == 0
    assert _digest(target) == reference  # the same content as an uninterrupted run


def test_concurrent_writers_of_one_partition_leave_one_valid_result(tmp_path):
    writers = [_writer(tmp_path, seed, 3) for seed in (3, 4)]
    assert all(w.wait(timeout=180) == 0 for w in writers)
    target = tmp_path / "parsed_logs" / "2026-10-10.parquet"
    candidates = set()
    for seed in (3, 4):
        alone = tmp_path / f"alone-{seed}"
        assert _writer(alone, seed, 1).wait(timeout=120) == 0
        candidates.add(_digest(alone / "parsed_logs" / "2026-10-10.parquet"))
    assert _digest(target) in candidates
    assert pq.read_table(target).schema == pa.schema([("x", pa.float64()), ("y", pa.int64())])
