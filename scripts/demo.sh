#!/usr/bin/env bash
# Install into .venv if needed, then materialize a generated sample month end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The instance is this folder's dagster.yaml (its storage under .dagster_home/), unless DAGSTER_HOME says otherwise.
export GX_ANALYTICS_ENABLED=false DAGSTER_HOME="${DAGSTER_HOME:-$PWD}"
exec .venv/bin/slo-assets demo "$@"
