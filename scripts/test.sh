#!/usr/bin/env bash
# Install what the tests need into .venv and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
export GX_ANALYTICS_ENABLED=false DAGSTER_DISABLE_TELEMETRY=1
mkdir -p .pytest_tmp
# Two workers (pytest-xdist): most tests wait on subprocesses and daemons, so two overlap well even on
# 2 cores. A module stays on one worker (tests/conftest.py); SLO_ASSETS_TEST_WORKERS=0 runs serially.
exec .venv/bin/python -m pytest -p no:cacheprovider --basetemp=.pytest_tmp/run \
    -n "${SLO_ASSETS_TEST_WORKERS:-2}" --dist loadgroup "$@"
