"""Targets with a stated risk: per SLO objective and per rung of the target ladder, the probability
of meeting it next month and the budget the rung allows.

Bootstrap over the history's days: each simulated month is 30 days drawn with replacement from the
days of the history (the month and up to two before, as far as they have SLI inputs: at least 3
months when there are), with a numpy Generator seeded by the settings (the same history gives the
same figures). A simulated month's SLI is its good / total budget units (events, or slices for the
timeslice methods); the probability of a rung is the share of simulated months whose SLI reaches
it. The budget a rung allows is (1 - rung) x the mean simulated month's units: events for
Occurrences, minutes for the timeslice methods (slices x slice length).

Days drawn whole keep each day's own mix of good and bad, so a bad day (an incident) weighs what it
weighed; what the bootstrap cannot know is a failure worse than any day of the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from slo_assets.slo.values import FloatArray, UnitArray

MONTH_DAYS = 30


@dataclass(frozen=True)
class RungRisk:
    target: Decimal
    probability: float | None  # None: no simulated month had a unit
    budget: float | None  # bad units (events or minutes) the rung allows in the mean simulated month


@dataclass(frozen=True)
class TargetRisk:
    slo: str
    objective: str
    days: int  # days the months were drawn from
    unit: str  # "events" or "minutes"
    rungs: tuple[RungRisk, ...]


def rung_label(target: Decimal) -> str:
    """'99.95' for 0.9995: the column suffix and what the tables show."""
    return format((target * 100).normalize(), "f")


def bootstrap_rungs(daily_good: npt.ArrayLike, daily_total: npt.ArrayLike, ladder: tuple[Decimal, ...], seed: int,
                    simulations: int = 10_000, unit_minutes: int = 1, month_days: int = MONTH_DAYS) -> tuple[RungRisk, ...]:
    """Each rung's probability of being met by a month of `month_days` days drawn from the given days,
    and its allowed budget (in units x `unit_minutes`)."""
    good = np.asarray(daily_good, dtype=float)
    total = np.asarray(daily_total, dtype=float)
    if len(total) == 0:
        return tuple(RungRisk(rung, None, None) for rung in ladder)
    picks = np.random.default_rng(seed).integers(0, len(total), size=(simulations, month_days))
    month_good, month_total = good[picks].sum(axis=1), total[picks].sum(axis=1)
    counted = month_total > 0
    sli = np.divide(month_good, month_total, out=np.zeros(simulations), where=counted)
    mean_units = float(month_total.mean())
    risks = []
    for rung in ladder:
        probability = float((sli[counted] >= float(rung)).mean()) if counted.any() else None
        risks.append(RungRisk(rung, None if probability is None else round(probability, 6),
                              round(float(1 - rung) * mean_units * unit_minutes, 3) if counted.any() else None))
    return tuple(risks)


def daily_sums(values: UnitArray, days: int) -> FloatArray:
    """Per-minute values summed per day (the first minute is the first day's 00:00)."""
    sums = np.bincount(np.arange(len(values)) // 1440, weights=values.astype(float), minlength=days)[:days]
    return np.asarray(sums, dtype=np.float64)  # weighted counts are float64 already (no copy); numpy's stubs say intp


def risk_headers(ladder: tuple[Decimal, ...]) -> list[str]:
    return ["SLO", "objective", "days", *(f"{rung_label(r)}%: P(met), budget" for r in ladder)]


def risk_rows(risks: list[TargetRisk]) -> list[list[str]]:
    """One row per SLO objective: each rung as 'probability, budget unit' (what the UI and the report show)."""
    def cell(rung: RungRisk, unit: str) -> str:
        if rung.probability is None:
            return "n/a"
        return f"{rung.probability * 100:.1f}%, {rung.budget:,.1f} {unit}"

    return [[r.slo, r.objective, str(r.days), *(cell(rung, r.unit) for rung in r.rungs)] for r in risks]
