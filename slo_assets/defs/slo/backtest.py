"""alert_backtest: every alert policy replayed over a month's minute aggregates and scored against the
month's burn episodes (slo/backtest.py), written as a JSON table with the same table as Markdown.

Partitioned by month like error_budgets, whose inputs it reads (the month's days and the previous
month's, for the alert windows' lookback): a new day makes one month stale, not the whole history,
and a month's table is computed once. `slo-assets backtest` pools the months.
"""

import json

import dagster as dg
from pydantic import Field

from slo_assets.defs.mappings import days_of_month
from slo_assets.defs.metadata import OWNERS
from slo_assets.defs.partitions import MONTHLY
from slo_assets.defs.resources import SloSettings, WarehouseResource
from slo_assets.defs.warehouse_io import month_period, partition_month, read_days, written
from slo_assets.outputs import sparklines, svg_charts
from slo_assets.slo import backtest as T
from slo_assets.slo import chain as C
from slo_assets.slo.sli import MINUTE_SCHEMA
from slo_assets.warehouse import layout

BACKTEST_CODE_VERSION = "backtest-2"


class BacktestConfig(dg.Config):
    pairs: list[str] = Field(default_factory=list, description="extra window pairs LONG/SHORT:FACTOR, e.g. 30m/5m:10")


@dg.asset(
    group_name="slo",
    partitions_def=MONTHLY,
    deps=[days_of_month("sli_minutely", months_before=1), "slo_specs"],
    kinds={"json"},
    code_version=BACKTEST_CODE_VERSION,
    owners=OWNERS,
    description="Each alert policy (the burn-rate tiers with the low-traffic gate on and off, extra window pairs, the "
                "budget-state alerts) scored against the month's burn episodes: alerts and pages per week, detection delay, "
                "noise, misses",
)
def alert_backtest(context: dg.AssetExecutionContext, config: BacktestConfig, warehouse: WarehouseResource,
                   slo_settings: SloSettings) -> dg.MaterializeResult:
    month = partition_month(context)
    store = warehouse.store()
    specs = slo_settings.load()
    try:
        pairs = [T.parse_pair(text) for text in config.pairs]
    except T.PairError as error:
        raise dg.Failure(f"alert_backtest config: pairs: {error}") from None
    minutes, present = read_days(store, layout.SLI_MINUTELY, C.lookback_days(month.key), MINUTE_SCHEMA)
    period = month_period(month, present)
    settings = slo_settings.chain_settings()
    result = T.backtest_month(specs, minutes, period, settings, T.policies(pairs, settings))
    payload = json.dumps(T.document(result, {"spec_hash": specs.content_hash, "code_version": BACKTEST_CODE_VERSION}), indent=1).encode()
    store.write_bytes_atomic(layout.ALERT_BACKTEST.path(store, month.key), payload)
    scores = result.scores()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(scores),
        **written(store, layout.ALERT_BACKTEST, month.key, len(payload)),
        "as_of": C.B.iso(period.as_of_ms),
        "backtest": dg.MetadataValue.md(T.markdown(scores)),
        "pages_per_week": dg.MetadataValue.md(sparklines.markdown(svg_charts.standalone(svg_charts.policy_bars(
            [(s.policy, s.pages_per_week, s.noise_pages, s.misses) for s in scores])), "pages per week by alert policy")),
    })
