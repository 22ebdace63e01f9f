"""`dagster-daemon run` over this project's code location, for tests and benchmarks: its own
process group, output to a log file, stopped by SIGINT (then SIGKILL) when the block ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_workspace(folder: Path, text: str | None = None) -> Path:
    """A workspace.yaml in `folder` loading slo_assets.definitions from this checkout (or `text`)."""
    workspace = folder / "workspace.yaml"
    workspace.write_text(text or f"load_from:\n  - python_module:\n      module_name: slo_assets.definitions\n      working_directory: {ROOT}\n")
    return workspace


@contextmanager
def running_daemon(folder: Path, env: dict, log_path: Path, workspace_text: str | None = None) -> Iterator[tuple[subprocess.Popen, Path]]:
    """The daemon over a workspace written in `folder`; yields the process and the workspace file."""
    workspace = write_workspace(folder, workspace_text)
    with open(log_path, "w") as log:
        daemon = subprocess.Popen([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(workspace)],
                                  env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield daemon, workspace
        finally:
            os.killpg(daemon.pid, signal.SIGINT)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
