"""Burn-rate windows are declared once (slo/burn_rate_windows.yaml); the math, the rules and the docs read them."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from slo_assets.core.errors import DefinitionError
from slo_assets.openslo.spec import load_specs
from slo_assets.outputs import rules
from slo_assets.slo import budget as B
from slo_assets.slo.burn_windows import AlertTier, BurnWindow, BurnWindowsError, load_burn_windows, parse_burn_windows

ROOT = Path(__file__).resolve().parents[2]
YAML = ROOT / "slo_assets" / "slo" / "burn_rate_windows.yaml"
CONCEPTS = ROOT / "docs" / "concepts.md"


def test_the_project_file_loads_as_typed_tiers_and_windows():
    loaded = load_burn_windows(YAML)
    assert loaded == load_burn_windows()
    assert all(isinstance(t, AlertTier) for t in loaded.tiers) and all(isinstance(w, BurnWindow) for w in loaded.windows)
    page = loaded.tiers[0]
    assert (page.severity, page.long, page.long_minutes, page.short, page.short_minutes, page.budget_fraction) == (
        "page", "1h", 60, "5m", 5, Decimal("0.02"))
    assert page.factor(30) == Decimal("14.4")
    minutes = [w.minutes for w in loaded.windows]
    assert minutes == sorted(set(minutes))


def test_budget_math_and_rules_use_the_files_windows():
    loaded = load_burn_windows(YAML)
    assert B.BURN_WINDOWS_MINUTES == {w.label: w.minutes for w in loaded.windows}
    assert B.alert_tiers() == loaded.tiers
    assert rules.ALERT_WINDOWS == tuple(w.label for w in loaded.windows)


def test_rules_record_every_window_and_alert_on_every_tier():
    specs = load_specs([ROOT / "tests" / "data" / "specs" / "valid.yaml"])
    built = rules.build_rules(specs)
    names = [r.get("record") or r.get("alert") for g in built["groups"] for r in g["rules"]]
    periods = {f"{slo.windows[0].days}d" for slo in specs.slos}  # the budget-state alerts' window
    assert {n for n in names if n.startswith("slo:sli_error")} == {f"slo:sli_error:ratio_rate{w}" for w in
                                                                  {w.label for w in load_burn_windows().windows} | periods}
    pairs = {(r["labels"]["long_window"], r["labels"]["short_window"]) for g in built["groups"] for r in g["rules"]
             if r.get("alert", "").startswith("SLOBurnRate")}
    assert pairs == {(t.long, t.short) for t in load_burn_windows().tiers}


def _docs_tiers() -> list[tuple[str, str, str, str, str]]:
    return re.findall(r"^\s*\| (page|ticket) \| (\S+) / (\S+) \| (\S+) % \| (\S+) \| (\S+) \|$", CONCEPTS.read_text(), re.M)


def test_the_docs_table_lists_exactly_the_files_tiers_and_their_factors():
    # the docs round factors to 2 decimals (13.44, 0.93)
    expected = [(t.severity, t.long, t.short, float(t.budget_fraction * 100), round(float(t.factor(30)), 2), round(float(t.factor(28)), 2))
                for t in load_burn_windows().tiers]
    listed = [(s, lw, sw, float(f), float(f30), float(f28)) for s, lw, sw, f, f30, f28 in _docs_tiers()]
    assert listed == expected


def test_the_docs_list_exactly_the_files_windows():
    text = " ".join(CONCEPTS.read_text().split())
    (listed,) = re.findall(r"Reported at the end of the data for ((?:\w+, )+\w+) and the period", text)
    assert listed.split(", ") == [w.label for w in load_burn_windows().windows]


@pytest.mark.parametrize(("text", "problem"), [
    ("- {severity: page, long: 1h, short: 5m}", "burn.yaml: tier 0: budget_fraction: is required"),
    ('- {severity: pager, long: 1h, short: 5m, budget_fraction: "0.02"}', "burn.yaml: tier 0: severity: 'pager' is not one of page, ticket"),
    ('- {severity: page, long: 1 h, short: 5m, budget_fraction: "0.02"}', "burn.yaml: tier 0: long: '1 h' is not a duration like 30s, 5m, 1h, 28d"),
    ('- {severity: page, long: 5m, short: 1h, budget_fraction: "0.02"}', "burn.yaml: tier 0: short: 1h must be shorter than long (5m)"),
    ("- {severity: page, long: 1h, short: 5m, budget_fraction: 0.02}", "burn.yaml: tier 0: budget_fraction: 0.02 must be a quoted decimal"),
    ('- {severity: page, long: 1h, short: 5m, budget_fraction: "0.02", for: 2m}', "burn.yaml: tier 0: for: unknown field"),
    ('- {severity: page, long: 1h, short: 5m, budget_fraction: "0.02"}\n- {severity: page, long: 60m, short: 5m, budget_fraction: "0.05"}',
     "burn.yaml: windows 1h and 60m are the same; write one of them"),
    ("page: 1h", "burn.yaml: must be a list of tiers"),
    ("- [", "burn.yaml: not YAML"),
])
def test_a_bad_file_names_the_file_the_tier_and_the_field(text, problem):
    with pytest.raises(BurnWindowsError) as caught:
        parse_burn_windows(text, "burn.yaml")
    assert isinstance(caught.value, DefinitionError)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
