#!/usr/bin/env bash
# Install what the tests need into .venv and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
export GX_ANALYTICS_ENABLED=false DAGSTER_DISABLE_TELEMETRY=1
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
