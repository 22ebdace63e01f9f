#!/usr/bin/env bash
# Install what the tests need into .venv and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
export GX_ANALYTICS_ENABLED=false DAGSTER_DISABLE_TELEMETRY=1
mkdir -p .pytest_tmp
exec .venv/bin/python -m pytest -p no:cacheprovider --basetemp=.pytest_tmp/run "$@"
