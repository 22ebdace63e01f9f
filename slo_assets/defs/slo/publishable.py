"""The blocking check that keeps a misleading month from being published through the UI and the daemon,
as `slo-assets run` refuses it on the command line (ingest/publishable.py judges both).

It runs on sli_metrics, the first monthly asset: when it fails, Dagster materializes nothing downstream
in that run (error_budgets, compliance_report, the report, the exposition and the rules), so the last
good month's outputs stay published, and the check's description in the UI says why.
"""

import dagster as dg

from slo_assets.core import clock
from slo_assets.core.calendar import Month
from slo_assets.defs.ingest.assets import read_index
from slo_assets.defs.resources import WarehouseResource
from slo_assets.ingest.index_report import index_summary
from slo_assets.ingest.publishable import refusal

CHECK_PUBLISHABLE = "month_is_publishable"


def _month(context: dg.AssetCheckExecutionContext) -> Month:
    """The run's month: the check is not partitioned (a partitioned check cannot follow the load's range)."""
    key = context.run.tags.get("dagster/partition") or context.run.tags.get("dagster/asset_partition_range_start", "")
    return Month.parse(key[:7])


@dg.asset_check(asset="sli_metrics", name=CHECK_PUBLISHABLE, blocking=True,
                description="the month's logs were read as what they are and hold lines of it: otherwise nothing "
                            "downstream is published in this run and the last good month's outputs stay")
def month_is_publishable(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    month = _month(context)
    index = read_index(warehouse)
    if index is None:  # SLI inputs written without the file index (a warehouse filled by other means): nothing to judge
        return dg.AssetCheckResult(passed=True, description="no file index to judge the month by", metadata={"month": month.key})
    found = refusal(index_summary(index), month.key, clock.now_ms())
    if found is None:
        return dg.AssetCheckResult(passed=True, metadata={"month": month.key})
    return dg.AssetCheckResult(passed=False, description=f"{month.key} not published: {found.text()}",
                               metadata={"month": month.key, "reason": found.kind, "index": found.detail})
