"""Targets: the declared ones beside recommendations from the months' SLIs (slo_targets), and the
risk of each rung of the target ladder next month (slo_assets.slo.risk), as columns of one table.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import polars as pl

from slo_assets.core.calendar import DAY_MS, day_start_ms
from slo_assets.openslo import adjustments as A
from slo_assets.openslo.spec import SpecSet
from slo_assets.slo import budget as B
from slo_assets.slo import risk as R
from slo_assets.slo.quantiles import Chunks, latency_sources, quantiles_by_slo
from slo_assets.slo.units import by_slo, dense, units
from slo_assets.slo.values import FrameSchema, JsonObject
from slo_assets.slo.windows import Settings, slo_adjustments

LADDER = (Decimal("0.99"), Decimal("0.995"), Decimal("0.999"), Decimal("0.9995"), Decimal("0.9999"))
AVAILABILITY_MARGIN = Decimal("0.0005")  # 0.05 percentage points
ERROR_RATE_MARGIN = Decimal("1.5")
LATENCY_MARGIN = Decimal("1.1")
TARGET_SCHEMA: FrameSchema = {
    "actual_sli": pl.Float64, "recommended_target": pl.Float64, "declared_target": pl.Float64,
    "recommended_latency_threshold_ms": pl.Float64, "achieved_in_all_months": pl.Boolean, "basis": pl.String}


def _ladder_floor(value: Decimal) -> tuple[Decimal, str]:
    below = [step for step in LADDER if step <= value]
    if below:
        return below[-1], "ladder"
    return (value * 100).to_integral_value(rounding="ROUND_FLOOR") / 100, "below the ladder: whole percent"


def _recommendation(actual: Decimal, monthly: dict[str, Decimal | None]) -> tuple[Decimal, str, list[str]]:
    """(target, basis, months below it): the margins' floor on the ladder, stepped down until every
    past month achieved it (or the ladder's bottom)."""
    candidate = min(actual - AVAILABILITY_MARGIN, 1 - ERROR_RATE_MARGIN * (1 - actual))
    recommended, basis = _ladder_floor(candidate)
    failing = [m for m, v in monthly.items() if v is not None and v < recommended]
    while failing and basis == "ladder" and LADDER.index(recommended) > 0:
        recommended = LADDER[LADDER.index(recommended) - 1]
        failing = [m for m, v in monthly.items() if v is not None and v < recommended]
    return recommended, basis, failing


def recommend_targets(specs: SpecSet, history: pl.DataFrame, latency: pl.DataFrame | Sequence[Chunks]) -> pl.DataFrame:
    """Declared targets beside recommendations from the months in `history` (slo, month, good, total).

    Availability-like SLIs: min(actual - 0.05 points, 1 - 1.5 x error rate), floored to the ladder
    (99, 99.5, 99.9, 99.95, 99.99 %) and stepped down until every past month achieved it. Latency
    SLOs also get a threshold: the latency at the declared target's quantile x 1.1 (this month).
    `latency`: (slo, duration_ms, count) rows, a value may repeat (e.g. one row per day): a frame
    or sources streamed in bounded memory (slo_assets.slo.quantiles)."""
    records = []
    latencies = quantiles_by_slo(latency_sources(latency), {slo.name: tuple(float(o.target) for o in slo.objectives)
                                                            for slo in specs.slos if slo.indicator.kind() == "latency"})
    for slo in specs.slos:
        months = history.filter(pl.col("slo") == slo.name).sort("month")
        good, total = int(months["good"].sum()), int(months["total"].sum())
        actual = B.sli(good, total)
        monthly = {r["month"]: B.sli(r["good"], r["total"]) for r in months.iter_rows(named=True) if r["total"]}
        for index, objective in enumerate(slo.objectives):
            record: JsonObject = {
                "slo": slo.name, "service": slo.service, "objective": objective.key,
                "declared_target": B.as_number(objective.target), "months_used": len(monthly),
                "actual_sli": B.as_number(actual), "recommended_target": None, "basis": None,
                "achieved_in_all_months": None, "months_below_recommendation": "",
                "recommended_latency_threshold_ms": None}
            if actual is not None:
                recommended, basis, failing = _recommendation(actual, monthly)
                record.update(recommended_target=B.as_number(recommended), basis=basis,
                              achieved_in_all_months=not failing, months_below_recommendation=",".join(failing))
            if slo.indicator.kind() == "latency":
                value = latencies[slo.name].values[index]
                if value is not None:
                    record["recommended_latency_threshold_ms"] = float(
                        (Decimal(repr(value)) * LATENCY_MARGIN).quantize(Decimal("1"), rounding="ROUND_CEILING"))
            records.append(record)
    return pl.DataFrame(records, schema_overrides=TARGET_SCHEMA)


def _column(prefix: str, rung: Decimal) -> str:
    return f"{prefix}_{R.rung_label(rung).replace('.', '_')}"


RISK_COLUMNS: FrameSchema = {
    "risk_days": pl.Int64, "budget_unit": pl.String,
    **{_column("p_meet", rung): pl.Float64 for rung in LADDER}, **{_column("budget", rung): pl.Float64 for rung in LADDER}}


def target_risks(specs: SpecSet, minutes: pl.DataFrame, days: list[str], settings: Settings) -> list[R.TargetRisk]:
    """Per SLO objective, each ladder rung's probability of being met next month and the budget it
    allows, bootstrapped over `days` (the days with SLI inputs; slo_assets.slo.risk)."""
    days = sorted(days)
    start = day_start_ms(days[0]) if days else 0
    span = (day_start_ms(days[-1]) + DAY_MS - start) // DAY_MS if days else 0
    present = np.array([(day_start_ms(d) - start) // DAY_MS for d in days], dtype=np.int64)
    parts = by_slo(minutes)
    risks = []
    for slo in specs.slos:
        good, total, _ = dense(parts.get(slo.name), start, start + span * DAY_MS)
        effects = A.minute_effects(slo_adjustments(slo, settings), start, len(total))
        for objective in slo.objectives:
            u = units(slo.budgeting_method, objective, effects.good(good, total), total, effects.excluded)
            slices = slo.budgeting_method != "Occurrences"
            rungs = R.bootstrap_rungs(R.daily_sums(u.good, span)[present], R.daily_sums(u.total, span)[present], LADDER,
                                      settings.forecast_seed, settings.simulations,
                                      objective.time_slice_minutes if slices else 1)
            risks.append(R.TargetRisk(slo.name, objective.key, len(days), "minutes" if slices else "events", rungs))
    return risks


def with_risks(targets: pl.DataFrame, risks: list[R.TargetRisk]) -> pl.DataFrame:
    """slo_targets' rows with each rung's probability (p_meet_99_9 ...) and allowed budget (budget_99_9 ...)."""
    rows = [{"slo": r.slo, "objective": r.objective, "risk_days": r.days, "budget_unit": r.unit,
             **{_column("p_meet", rung.target): rung.probability for rung in r.rungs},
             **{_column("budget", rung.target): rung.budget for rung in r.rungs}} for r in risks]
    frame = pl.DataFrame(rows, schema={"slo": pl.String, "objective": pl.String, **RISK_COLUMNS})
    return targets.join(frame, on=["slo", "objective"], how="left")


def risks_from_targets(targets: pl.DataFrame) -> list[R.TargetRisk]:
    """The TargetRisk rows back from slo_targets' table (with_risks' columns), for the report."""
    if "risk_days" not in targets.columns:
        return []
    return [R.TargetRisk(row["slo"], row["objective"], row["risk_days"] or 0, row["budget_unit"] or "events",
                         tuple(R.RungRisk(rung, row[_column("p_meet", rung)], row[_column("budget", rung)]) for rung in LADDER))
            for row in targets.iter_rows(named=True)]
