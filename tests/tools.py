"""The programs some tests need besides Python packages: one table, read by the tests (the `needs`
marker) and by scripts/test.sh (which installs the missing ones where it can, before pytest).

A test marked `@needs("promtool")` fails when promtool is missing, naming what to install, unless
SLO_ASSETS_TEST_SKIP_MISSING=1: then it is skipped with that same reason. Nothing is skipped silently.

    python -m tests.tools packages   # the Debian packages of the missing programs, one a line
    python -m tests.tools check      # one line per missing program and its install command; exit 1 if any
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pytest

from tests import postgres_server

SKIP_MISSING_SETTING = "SLO_ASSETS_TEST_SKIP_MISSING"


@dataclass(frozen=True)
class Tool:
    name: str
    debian_package: str
    purpose: str
    programs: tuple[str, ...] = ()  # any one of them on the PATH will do
    finder: Callable[[], str | None] | None = None  # or this says where it is

    def path(self) -> str | None:
        if self.finder is not None:
            return self.finder()
        return next((shutil.which(p) for p in self.programs if shutil.which(p)), None)

    def install(self) -> str:
        return f"apt-get install {self.debian_package}"

    def missing_line(self) -> str:
        return f"{self.name} is not installed ({self.purpose}): {self.install()}"


TOOLS = {tool.name: tool for tool in (
    Tool("promtool", "prometheus", "checks, unit-tests and proves the generated Prometheus rules", ("promtool",)),
    Tool("redis-server", "redis-server", "the Celery broker of the scale-out test", ("redis-server",)),
    Tool("chromium", "chromium", "renders report.html and the UI pages headless", ("chromium", "chromium-browser", "google-chrome")),
    Tool("postgresql", "postgresql", "the PostgreSQL Dagster instance of the daemon test", finder=postgres_server.initdb_path),
)}


@cache
def tool_path(name: str) -> str | None:
    return TOOLS[name].path()


def needs(name: str) -> pytest.MarkDecorator:
    """Mark a test as needing the program `name` of TOOLS (tests/conftest.py acts on the mark)."""
    if name not in TOOLS:
        raise KeyError(f"unknown tool {name!r}: add it to tests/tools.py TOOLS")
    return pytest.mark.needs(name)


def skip_missing() -> bool:
    return os.environ.get(SKIP_MISSING_SETTING, "").strip().lower() in ("1", "true", "yes", "on")


def missing_reason(name: str) -> str | None:
    """None when `name` is installed, else the one line that says what to install."""
    return None if tool_path(name) else TOOLS[name].missing_line()


def main(argv: list[str]) -> int:
    missing = [tool for tool in TOOLS.values() if tool.path() is None]
    if argv == ["packages"]:
        print("\n".join(tool.debian_package for tool in missing))
        return 0
    if argv == ["check"]:
        for tool in missing:
            print(tool.missing_line())
        return 1 if missing else 0
    print("usage: python -m tests.tools packages|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
