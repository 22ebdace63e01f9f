"""The code location: every asset, check, job and resource slo-assets defines."""

from __future__ import annotations

import dagster as dg

from slo_assets.defs.ingestion import log_file_index, parsed_logs
from slo_assets.defs.resources import default_resources

ingest_job = dg.define_asset_job("ingest_job", selection=[parsed_logs], description="parse one day of logs")

defs = dg.Definitions(
    assets=[log_file_index, parsed_logs],
    jobs=[ingest_job],
    resources=default_resources(),
)
