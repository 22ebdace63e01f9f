#!/usr/bin/env bash
# The test command: installs everything the tests need, then runs the whole suite (CI runs exactly this).
# - the Python packages: .venv with slo-assets[test] (scripts/bootstrap.sh);
# - the programs some tests run (tests/tools.py: promtool, redis-server, chromium, PostgreSQL): where
#   this runs as root with apt-get, the missing ones are installed from Debian's packages; elsewhere it
#   stops before pytest with one line per missing program and its install command, unless
#   SLO_ASSETS_TEST_SKIP_MISSING=1, which skips exactly the tests that need them, each saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
export GX_ANALYTICS_ENABLED=false DAGSTER_DISABLE_TELEMETRY=1

missing="$(.venv/bin/python -m tests.tools packages)"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the Debian packages the tests run: $(echo $missing) ..." >&2
    # shellcheck disable=SC2086  # one package a word
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; } \
            > .venv/apt.log 2>&1; then
        tail -n 20 .venv/apt.log >&2
        echo "apt-get could not install: $(echo $missing) (the log: .venv/apt.log)" >&2
    fi
fi
if ! .venv/bin/python -m tests.tools check >&2; then
    case "${SLO_ASSETS_TEST_SKIP_MISSING:-}" in
        1|true|yes|on) echo "SLO_ASSETS_TEST_SKIP_MISSING is set: the tests that need them are skipped, each saying why" >&2 ;;
        *) echo "install them (as root: the commands above), or set SLO_ASSETS_TEST_SKIP_MISSING=1 to skip the tests that need them" >&2
           exit 1 ;;
    esac
fi

# Lint and types first: a minute of pytest is not spent on code that ruff or mypy rejects.
.venv/bin/ruff check --quiet .
.venv/bin/mypy --no-error-summary

# Scratch (instances, warehouses, sockets) goes to tmpfs when there is one: most tests wait on
# SQLite commits of Dagster's event log, and there each fsync costs nothing (a month's run took
# 63 s against 83 s on this machine's disk). It is removed after a green run, kept after a red one.
if [ -z "${SLO_ASSETS_TEST_TMP:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    SLO_ASSETS_TEST_TMP="$(mktemp -d /dev/shm/slo-assets-tests.XXXXXX)"
    chmod 755 "$SLO_ASSETS_TEST_TMP"  # the throwaway PostgreSQL server runs as user postgres
    trap 'status=$?; if [ "$status" = 0 ]; then rm -rf "$SLO_ASSETS_TEST_TMP"; else echo "test scratch kept in $SLO_ASSETS_TEST_TMP" >&2; fi' EXIT
fi
scratch="${SLO_ASSETS_TEST_TMP:-.pytest_tmp}"
mkdir -p "$scratch/tmp"
export TMPDIR="$(cd "$scratch" && pwd)/tmp"
# Two workers (pytest-xdist): most tests wait on subprocesses and daemons, so two overlap well even on
# 2 cores. A module stays on one worker (tests/conftest.py); SLO_ASSETS_TEST_WORKERS=0 runs serially.
.venv/bin/python -m pytest -p no:cacheprovider --basetemp="$scratch/run" \
    -n "${SLO_ASSETS_TEST_WORKERS:-2}" --dist loadgroup "$@"
