"""The check that the published alert rules page when the replay says they would (slo_assets.slo.rules_proof).

Always declared, and run by its own job, `prove_rules_job`, for a month already materialized:
promtool evaluates every rule at every 15 minutes of the month, seconds per month, which every run
of the monthly chain would pay. Where promtool is not installed the check does not pass: it warns
that the rules were not proven, why, and what to install.
"""

import tempfile
import warnings
from pathlib import Path

import dagster as dg

from slo_assets.core.markdown import table
from slo_assets.defs.resources import SloSettings, WarehouseResource
from slo_assets.defs.warehouse_io import month_period, partition_month, read_days, required_file
from slo_assets.slo import chain as C
from slo_assets.slo.rules_proof import PROMTOOL_INSTALL, find_promtool, run_promtool, slo_proof
from slo_assets.slo.sli import MINUTE_SCHEMA
from slo_assets.warehouse import layout

CHECK_RULES_AGREE = "rules_agree_with_replay"
RULES_CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("alert_rules"), CHECK_RULES_AGREE)
SHOWN = 100


def _rules_agree_with_replay(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                            slo_settings: SloSettings) -> dg.AssetCheckResult:
    from slo_assets.outputs.rules import build_rules

    promtool = find_promtool()
    if promtool is None:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN,
            description=f"not proven: promtool is not installed; to prove the rules: {PROMTOOL_INSTALL}",
            metadata={"promtool": "not installed", "install": PROMTOOL_INSTALL})
    month = partition_month(context)
    store = warehouse.store()
    published = required_file(store, layout.ALERT_RULES, month.key)
    specs = slo_settings.load()
    rules = build_rules(specs)
    minutes, present = read_days(store, layout.SLI_MINUTELY, C.lookback_days(month.key), MINUTE_SCHEMA)
    period = month_period(month, present)
    parts = C.by_slo(minutes)
    settings = slo_settings.chain_settings()
    alerts = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                alerts.setdefault(rule["labels"]["slo"], []).append(rule)
    proofs = [slo_proof(slo, alerts.get(slo.name, []), parts.get(slo.name), period, settings)
              for slo in specs.slos if slo.name in alerts]
    with tempfile.TemporaryDirectory(prefix="slo-rules-proof-") as folder:
        outcome = run_promtool(promtool, Path(folder), published.read_text(), proofs)
    proven = [p for p in proofs if p.skipped is None]
    found = outcome.disagreements
    return dg.AssetCheckResult(
        passed=outcome.agreed,
        description=(f"{len(found)} disagreement(s); first: {found[0].text()}" if found else
                     outcome.errors[0] if outcome.errors else None),
        metadata={
            "slos_proven": len(proven), "slos_not_provable": len(proofs) - len(proven),
            "alert_tests": outcome.checks, "firings": sum(p.firings for p in proven),
            "firings_not_sampled": sum(p.unsampled_firings for p in proven),
            "disagreements": dg.MetadataValue.md(table(["SLO", "minute", "alert", "replay", "rules"],
                                                       [(d.slo, d.minute, d.alertname, d.replay, d.rules) for d in found[:SHOWN]])
                                                 if found else "none"),
            "not_provable": dg.MetadataValue.md(table(["SLO", "why"], [(p.slo, p.skipped) for p in proofs if p.skipped][:SHOWN])),
        },
    )


def rules_proof_check(monthly: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """The check, partitioned by `monthly`: the definitions of the load (definitions.py), or partitions.MONTHLY
    where a test builds it alone. Built per load, as a check's partitions cannot be replaced afterwards."""
    # A partitioned asset check is a preview in Dagster 1.13; the proof is per month, so it is the means, and
    # its PreviewWarning is silenced here and only here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.asset_check(asset="alert_rules", name=CHECK_RULES_AGREE, partitions_def=monthly,
                              description="promtool test rules: the published rules fire exactly where the replay (without "
                                          "its low-traffic gate) fires, at sampled minutes inside and around each firing"
                              )(_rules_agree_with_replay)
