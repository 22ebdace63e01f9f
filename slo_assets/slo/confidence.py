"""How sure an SLI is: a Wilson score interval per SLO window.

Occurrences: the window's good and total events are n Bernoulli trials; the Wilson score interval
for p = good / total at 95 % (z = 1.959963984540054, the 0.975 normal quantile) is

    centre = (p + z² / 2n) / (1 + z² / n)
    half   = z / (1 + z² / n) · sqrt(p (1 - p) / n + z² / 4n²)

It stays inside [0, 1] and is honest at small n and at p = 1, where the normal approximation
collapses to a zero-width interval.

Timeslices: the budget units are slices, each good or bad, so the same interval over good / total
slices (n = slices, empty slices counted good as the SLI counts them). RatioTimeslices: the SLI is
the mean of per-slice ratios in [0, 1]; a variable in [0, 1] with mean p has variance at most
p (1 - p), so the Wilson interval with n = slices is at least as wide as the ratio mean's own.

The status stays on the point estimate; a window whose interval holds the target (low < target <= high)
is marked not significant: its traffic cannot tell met from failed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slo_assets.slo.values import JsonObject

Z_95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
CONFIDENCE_LEVEL = 0.95


def wilson_interval(good: float, total: float, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of good / total; total must be > 0."""
    if total <= 0:
        raise ValueError("a Wilson interval needs total > 0")
    p = good / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z / denominator * math.sqrt(max(0.0, p * (1 - p) / total + z2 / (4 * total * total)))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Confidence:
    """The interval of one window's SLI, and whether it tells the status apart from the target."""

    method: str  # "wilson" over events, or "wilson over slices"
    level: float
    trials: float  # n: events or slices
    low: float
    high: float
    significant: bool  # False: low < target <= high

    def to_json(self) -> JsonObject:
        return {"method": self.method, "level": self.level, "trials": self.trials, "low": self.low, "high": self.high,
                "significant": self.significant}

    @classmethod
    def from_json(cls, data: JsonObject | None) -> Confidence | None:
        return None if data is None else cls(data["method"], data["level"], data["trials"], data["low"], data["high"],
                                             data["significant"])


def straddles(low: float, high: float, target: float) -> bool:
    """The target lies inside the interval: the window could be met or failed."""
    return low < target <= high


def window_confidence(budgeting_method: str, good: float, total: float, target: float, z: float = Z_95) -> Confidence | None:
    """The interval for a window's SLI = good / total budget units; None when there is no unit."""
    if total <= 0:
        return None
    # Occurrences: events; Timeslices: good slices; RatioTimeslices: good is the sum of slice ratios (n = slices)
    low, high = wilson_interval(good, total, z)
    method = "wilson" if budgeting_method == "Occurrences" else "wilson over slices"
    return Confidence(method, CONFIDENCE_LEVEL, total, round(low, 9), round(high, 9), not straddles(low, high, target))
