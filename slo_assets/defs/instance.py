"""The project's instance keeps all it stores in one ignored folder of the project.

`dagster.yaml` sits at the project root, and DAGSTER_HOME is the project root (the scripts and
`slo-assets` set it; `dg dev` is started with it): Dagster reads the file only in DAGSTER_HOME,
and `dg dev` warns at start-up about a dagster.yaml in its folder that is not DAGSTER_HOME's.
Dagster's own storage would then write history/, storage/ and schedules/ beside the code; these
classes are Dagster's SQLite storage, artifact storage and compute-log manager with a `base_dir`
that may be relative: it is read against DAGSTER_HOME, in every process that opens the instance
(the CLI, the webserver, the daemon, each run), whatever its working folder.
"""

import os

from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._core.storage.root import LocalArtifactStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage


def under_home(base_dir: str) -> str:
    """`base_dir` as an absolute path: relative ones are read against $DAGSTER_HOME."""
    if os.path.isabs(base_dir):
        return base_dir
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise RuntimeError(f"dagster.yaml names the relative folder {base_dir!r}, read against DAGSTER_HOME, which is not set: "
                           "set DAGSTER_HOME to the folder holding that dagster.yaml")
    return os.path.join(home, base_dir)


class ProjectSqliteStorage(DagsterSqliteStorage):
    """Runs, event log and schedules in SQLite under `base_dir` (relative to DAGSTER_HOME)."""

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(under_home(config_value["base_dir"]), inst_data=inst_data)


class ProjectArtifactStorage(LocalArtifactStorage):
    """The instance's root folder (its `root_directory`): `base_dir`, relative to DAGSTER_HOME."""

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(under_home(config_value["base_dir"]), inst_data=inst_data)


class ProjectComputeLogManager(LocalComputeLogManager):
    """Captured step output under `base_dir`, relative to DAGSTER_HOME."""

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **{**config_value, "base_dir": under_home(config_value["base_dir"])})
