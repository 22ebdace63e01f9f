"""The check that the published alert rules page when the replay says they would (slo_assets.slo.rules_proof).

Always declared, and proven only where a user asks: `prove_rules_job` (what `run --prove-rules`
launches), or a run tagged `slo_assets/prove_rules` (the month-close schedule sets it, so each
closed month is proven once). promtool evaluates every rule at every 15 minutes of the month,
seconds per month: a UI backfill that includes alert_rules paid it for every month (84 s of a
240 s month backfill). Elsewhere the check is planned with alert_rules and not executed, which the
UI shows as skipped: the rules were not proven in that run. Where promtool is not installed and
the proof is asked for, the check does not pass: it warns that the rules were not proven, why, and
what to install.

The check is not partitioned (Dagster's partitioned checks cannot be left out of a run that plans
them); its metadata names the month it proved.
"""

import tempfile
from pathlib import Path

import dagster as dg

from slo_assets.core.markdown import table
from slo_assets.defs.resources import SloSettings, WarehouseResource
from slo_assets.defs.sources import sibling
from slo_assets.defs.warehouse_io import month_period, partition_month, read_days, required_file
from slo_assets.slo import chain as C
from slo_assets.slo.rules_proof import PROMTOOL_INSTALL, find_promtool, run_promtool, slo_proof
from slo_assets.slo.sli import MINUTE_SCHEMA
from slo_assets.warehouse import layout

CHECK_RULES_AGREE = "rules_agree_with_replay"
RULES_CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("alert_rules"), CHECK_RULES_AGREE)
PROVE_TAG = "slo_assets/prove_rules"  # a run carrying it (any value but "0") proves its month's rules
PROVE_JOB = "prove_rules_job"
SHOWN = 100


def proof_asked(job_name: str, tags: dict[str, str]) -> bool:
    """Whether a run proves the rules: prove_rules_job (a source's too), or a run tagged PROVE_TAG."""
    return job_name == PROVE_JOB or job_name.endswith(f"__{PROVE_JOB}") or tags.get(PROVE_TAG, "0") not in ("", "0")


def _rules_agree_with_replay(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                             slo_settings: SloSettings) -> dg.AssetCheckResult:
    from slo_assets.outputs.rules import build_rules

    promtool = find_promtool()
    if promtool is None:
        return dg.AssetCheckResult(
            check_name=CHECK_RULES_AGREE, asset_key=sibling(context, "alert_rules"), passed=False, severity=dg.AssetCheckSeverity.WARN,
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
        check_name=CHECK_RULES_AGREE, asset_key=sibling(context, "alert_rules"), passed=outcome.agreed,
        description=(f"{len(found)} disagreement(s); first: {found[0].text()}" if found else
                     outcome.errors[0] if outcome.errors else None),
        metadata={
            "month": month.key, "slos_proven": len(proven), "slos_not_provable": len(proofs) - len(proven),
            "alert_tests": outcome.checks, "firings": sum(p.firings for p in proven),
            "firings_not_sampled": sum(p.unsampled_firings for p in proven),
            "disagreements": dg.MetadataValue.md(table(["SLO", "minute", "alert", "replay", "rules"],
                                                       [(d.slo, d.minute, d.alertname, d.replay, d.rules) for d in found[:SHOWN]])
                                                 if found else "none"),
            "not_provable": dg.MetadataValue.md(table(["SLO", "why"], [(p.slo, p.skipped) for p in proofs if p.skipped][:SHOWN])),
        },
    )


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(CHECK_RULES_AGREE, asset="alert_rules",
                             description="promtool test rules: the published rules fire exactly where the replay (without its "
                                         "low-traffic gate) fires, at sampled minutes inside and around each firing; proven "
                                         f"by {PROVE_JOB}, run --prove-rules and the month close, skipped elsewhere")],
    can_subset=True, name="alert_rules_proof")
def rules_agree_with_replay(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, slo_settings: SloSettings):
    """The proof of the run's month when the run asks for it; nothing (skipped in the UI) otherwise."""
    if proof_asked(context.run.job_name, dict(context.run.tags)):
        yield _rules_agree_with_replay(context, warehouse, slo_settings)
