"""The burn-rate windows and alert tiers, read from their one declaration (burn_rate_windows.yaml),
as sloth keeps them: data, not code. The budget math, the rules and the docs all read them here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from slo_assets.core.durations import DurationError, duration_minutes
from slo_assets.core.errors import DefinitionError

SEVERITIES = ("page", "ticket")
TIER_KEYS = ("severity", "long", "short", "budget_fraction")
DEFAULT_FILE = "burn_rate_windows.yaml"


class BurnWindowsError(DefinitionError):
    """An invalid burn-rate windows file; each problem names the file, the tier and the field."""


@dataclass(frozen=True)
class BurnWindow:
    label: str  # as written: 5m, 1h, 3d
    minutes: int


@dataclass(frozen=True)
class AlertTier:
    severity: str
    long_minutes: int
    short_minutes: int
    long: str
    short: str
    budget_fraction: Decimal

    @property
    def windows(self) -> tuple[BurnWindow, BurnWindow]:
        return BurnWindow(self.long, self.long_minutes), BurnWindow(self.short, self.short_minutes)

    def factor(self, period_days: int) -> Decimal:
        return self.budget_fraction * period_days * 24 * 60 / self.long_minutes

    def exact_factor(self, period_days: int) -> Fraction:
        """The factor as an exact fraction (7/30 for the 3d tier of a 7-day window, where the Decimal
        is 0.2333...3 with a denominator of 10**28, too large for an exact integer comparison)."""
        return Fraction(self.budget_fraction) * period_days * 24 * 60 / self.long_minutes


@dataclass(frozen=True)
class BurnWindows:
    tiers: tuple[AlertTier, ...]

    @property
    def windows(self) -> tuple[BurnWindow, ...]:
        """Every window some tier uses, shortest first, each once."""
        found = {w.minutes: w for tier in self.tiers for w in tier.windows}
        return tuple(found[m] for m in sorted(found))

    def minutes(self) -> dict[str, int]:
        """label -> minutes, shortest first: {'5m': 5, ..., '3d': 4320}."""
        return {w.label: w.minutes for w in self.windows}


def parse_burn_windows(text: str, source: str) -> BurnWindows:
    """The tiers of a burn-rate windows file; BurnWindowsError lists every problem, naming `source`."""
    problems: list[str] = []
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise BurnWindowsError([f"{source}: not YAML: {' '.join(str(error).split())}"]) from None
    if not isinstance(raw, list) or not raw:
        raise BurnWindowsError([f"{source}: must be a list of tiers like {{severity: page, long: 1h, short: 5m, budget_fraction: \"0.02\"}}"])
    tiers = []
    for number, item in enumerate(raw):
        where = f"{source}: tier {number}"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping with {', '.join(TIER_KEYS)}, not {item!r}")
            continue
        found = len(problems)
        problems += [f"{where}: {key}: unknown field (known: {', '.join(TIER_KEYS)})" for key in item if key not in TIER_KEYS]
        problems += [f"{where}: {key}: is required" for key in TIER_KEYS if key not in item]
        if len(problems) > found:
            continue
        if item["severity"] not in SEVERITIES:
            problems.append(f"{where}: severity: {item['severity']!r} is not one of {', '.join(SEVERITIES)}")
        minutes = {}
        for key in ("long", "short"):
            try:
                minutes[key] = duration_minutes(item[key])
            except DurationError as error:
                problems.append(f"{where}: {key}: {error}")
        if len(minutes) == 2 and minutes["short"] >= minutes["long"]:
            problems.append(f"{where}: short: {item['short']} must be shorter than long ({item['long']})")
        fraction = _fraction(item["budget_fraction"])
        if fraction is None:
            problems.append(f"{where}: budget_fraction: {item['budget_fraction']!r} must be a quoted decimal above 0 and at most 1, like \"0.02\"")
        if len(problems) == found and fraction is not None:  # a fraction of None is a problem above
            tiers.append(AlertTier(item["severity"], minutes["long"], minutes["short"], item["long"], item["short"], fraction))
    labels: dict[int, str] = {}
    for tier in tiers:
        for window in tier.windows:
            if labels.setdefault(window.minutes, window.label) != window.label:
                problems.append(f"{source}: windows {labels[window.minutes]} and {window.label} are the same; write one of them")
    if problems:
        raise BurnWindowsError(problems)
    return BurnWindows(tuple(tiers))


def _fraction(value: object) -> Decimal | None:
    # A string keeps the decimal exact (a YAML float 0.1 would be read as 0.1000000000000000055...).
    if not isinstance(value, str):
        return None
    try:
        fraction = Decimal(value)
    except InvalidOperation:
        return None
    return fraction if fraction.is_finite() and 0 < fraction <= 1 else None


def load_burn_windows(path: Path | None = None) -> BurnWindows:
    """The windows of `path`, or of the project's own file."""
    if path is None:
        return _project_windows()
    return parse_burn_windows(Path(path).read_text(), str(path))


@cache
def _project_windows() -> BurnWindows:
    source = resources.files("slo_assets.slo").joinpath(DEFAULT_FILE)
    return parse_burn_windows(source.read_text(), f"slo_assets/slo/{DEFAULT_FILE}")


def alert_tiers() -> tuple[AlertTier, ...]:
    return _project_windows().tiers


def burn_window_minutes() -> dict[str, int]:
    return _project_windows().minutes()
