"""Every command the docs show runs: each ```bash block of docs/*.md is executed by bash, verbatim,
in a scratch project holding a month already run (logs/, out/, out/warehouse, examples/) laid out as
the checkout is for `dg` (pyproject.toml and the package). Long-running servers are not started; they
are checked for a loopback bind (and a workspace, for the dagster-* servers)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("incident_month")  # shares the session fixture: one worker builds it

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
SERVERS = ("dagster-daemon run", "dagster-webserver", "dagster dev", "dg dev", "serve-metrics")
# Superseded by `dg dev`, `dg launch` and `dg check defs`: they print a SupersessionWarning.
SUPERSEDED = ("dagster dev", "dagster asset materialize", "dagster job execute", "dagster definitions validate")


def bash_blocks(path: Path) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", path.read_text(), re.DOTALL | re.MULTILINE)


def split_servers(block: str) -> tuple[str, list[str]]:
    """The block without its server commands, and those commands."""
    kept, servers = [], []
    for line in block.splitlines():
        (servers if any(s in line for s in SERVERS) else kept).append(line)
    return "\n".join(kept) + "\n", servers


def test_the_docs_have_commands_and_every_page_is_indexed():
    index = (ROOT / "docs" / "README.md").read_text()
    assert all(doc.name in index for doc in DOCS if doc.name != "README.md")
    assert sum(len(bash_blocks(doc)) for doc in DOCS) >= 6


@pytest.fixture(scope="module")
def project(incident_month, tmp_path_factory) -> Path:
    base = incident_month[4]
    project = tmp_path_factory.mktemp("docs_project")
    shutil.copytree(base / "logs", project / "logs")
    shutil.copytree(base / "out", project / "out", symlinks=True)  # the stage cache links each batched file to its batch
    for name in ("examples", "workspace.yaml", "dagster.yaml", "deploy", "pyproject.toml"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / name)
    shutil.copytree(ROOT / "tests" / "data" / "real", project / "tests" / "data" / "real")  # the real log the docs run on
    (project / "slo_assets").symlink_to(ROOT / "slo_assets")  # dg finds the project's package beside pyproject.toml
    (project / ".venv").symlink_to(ROOT / ".venv")
    return project


@pytest.mark.parametrize("doc", [d for d in DOCS if bash_blocks(d)], ids=lambda d: d.name)
def test_every_command_in_the_docs_runs(doc, project):
    for block in bash_blocks(doc):
        script, servers = split_servers(block)
        assert not any(old in block for old in SUPERSEDED), block
        for server in servers:
            if "serve-metrics" in server:  # the exposition's server binds 127.0.0.1 unless told otherwise
                assert "--allow-remote" not in server and ("--host" not in server or "--host 127.0.0.1" in server), server
                continue
            if "dg dev" not in server:  # dg reads the project from pyproject.toml, not a workspace file
                assert "-w workspace.yaml" in server, server
            if "webserver" in server or " dev" in server:
                assert "-h 127.0.0.1" in server, server
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_HOME", "SLO_ASSETS_"))}
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=project, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{doc.name}:\n{script}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def test_the_asset_table_names_every_asset_and_check_of_the_definitions():
    """docs/assets.md is written by hand; its table cannot drift from the code location: each asset and
    each check is named there (a check in its asset's row, beside which it may name assets and jobs), and
    nothing that is neither."""
    from slo_assets.definitions import defs as load_defs

    defs = load_defs()

    named_assets, named_in_checks = set(), set()
    for row in (ROOT / "docs" / "assets.md").read_text().splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if row.startswith("| `") and len(cells) == 4:
            named_assets |= set(re.findall(r"`([a-z_]+)`", cells[0]))
            named_in_checks |= set(re.findall(r"`([a-z_]+)`", cells[3]))
    graph = defs.resolve_asset_graph()
    assets = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert named_assets == assets
    jobs = {job.name for job in defs.resolve_all_job_defs()}
    assert named_in_checks - assets - jobs == {key.name for key in graph.asset_check_keys}
