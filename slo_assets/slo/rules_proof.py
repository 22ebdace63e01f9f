"""Rules proven against the replay: a `promtool test rules` file per month whose input series are
the month's minute aggregates, in the metric names the generated rules read, and whose expected
alerts are the replay's firings at sampled evaluation times.

What is compared. The generated rules (slo_assets.outputs.rules) page on
`http_requests_total{service, code}`: 5xx over all. So an SLO is proven when the rules' query is its
SLI: Occurrences, the default query (no PromQL annotations), no maintenance (the rules know none),
and in every minute good = total - 5xx. The others are listed with the reason they are not.

The series. Two counters per service, `code="200"` (requests without a 5xx) and `code="500"`,
sampled every 5 minutes from the replay's first minute (3 days before the window): the sample at
t = 5k minutes holds every request of the minutes before t. The replay judges minute m with the
minutes up to and including m; Prometheus at eval time t = m + 1 minutes with a range [t - w, t]
(closed at both ends in Prometheus 2) sees the samples at t - w and t, exactly the w minutes
ending with m: no extrapolation, since both ends hold a sample, and the same ratio.

The tolerance at the edges, by construction:
- evaluation every 5 minutes (a sample every minute over 3-day ranges makes promtool far too slow):
  only minutes m with (m + 1) divisible by 5 are sampled; a firing shorter than 5 minutes that holds
  no such minute is not checked (`unsampled_firings`);
- the replay compares exact fractions, the rules a float ratio against a decimal threshold: a burn
  exactly on the threshold may compare differently (never seen on the fixtures; it would show as a
  disagreement naming the minute);
- Prometheus 3 opens ranges on the left, (t - w, t]: it would see w - 5 minutes and disagree at the
  firings' edges; promtool 2 is what is checked here;
- the rules carry no low-traffic gate: the expected alerts are the replay's firings and those its
  gate held back (the replay without the gate).

Sampled times: per firing, its first, middle and last sampled minutes and the sampled minutes just
before and after it; and 12 evenly spread over the window.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np
import polars as pl
import yaml

from slo_assets.core.calendar import DAY_MS, MINUTE_MS, iso
from slo_assets.openslo.spec import ANNOTATION_ERRORS, ANNOTATION_TOTAL, Slo
from slo_assets.slo import budget as B
from slo_assets.slo.period import Period
from slo_assets.slo.units import dense
from slo_assets.slo.values import BoolArray, IntArray, JsonObject
from slo_assets.slo.windows import LOOKBACK_DAYS, Settings, window_bounds

STEP_MINUTES = 5  # a counter sample every 5 minutes: the shortest alert window (5m) spans two
EVAL_MINUTES = 15  # promtool evaluates every rule at every step: 15 minutes keeps a month to seconds
SPREAD_SAMPLES = 12
ALERT_NAMES = {"page": "SLOBurnRatePage", "ticket": "SLOBurnRateTicket"}
PROMTOOL_TIMEOUT_S = 600
PROMTOOL_INSTALL = "apt-get install prometheus (Debian, Ubuntu), or Prometheus' own promtool on the PATH"


def find_promtool() -> str | None:
    """promtool's path, looked up when a proof is asked for: what is defined never depends on it."""
    return shutil.which("promtool")


class InputSeries(TypedDict):
    """A counter of the test document: its series selector and its samples every STEP_MINUTES."""

    series: str
    values: str


@dataclass(frozen=True, eq=False)
class SloProof:
    """What one SLO adds to the month's promtool test document, or why it adds nothing."""

    slo: str
    input_series: tuple[InputSeries, ...] = ()
    sampled: tuple[int, ...] = ()  # replay minute indices this SLO asks to check
    rules: tuple[tuple[BoolArray, JsonObject], ...] = ()  # (firing per minute, its alerting rule) per objective and tier
    firings: int = 0
    unsampled_firings: int = 0
    replay_start_ms: int = 0
    skipped: str | None = None


@dataclass(frozen=True)
class Disagreement:
    slo: str
    minute: str  # ISO-8601: the replay minute judged
    alertname: str
    replay: str  # the alerts the replay expects there
    rules: str  # the alerts promtool's evaluation of the rules gave

    def text(self) -> str:
        return f"{self.slo} at {self.minute} ({self.alertname}): replay {self.replay}, rules {self.rules}"


def why_not_provable(slo: Slo, good: IntArray, total: IntArray, errors: IntArray,
                     maintenance: tuple[tuple[int, int], ...]) -> str | None:
    if slo.budgeting_method != "Occurrences":
        return f"{slo.budgeting_method}: the replay counts slices, the rules requests"
    if slo.indicator.kind() == "latency":
        return "latency SLO: the rules read histogram buckets the minute aggregates do not hold"
    if ANNOTATION_ERRORS in slo.annotations or ANNOTATION_TOTAL in slo.annotations:
        return "its own PromQL: the series it reads are not known"
    if maintenance or slo.adjustments:
        return "budget adjustments (maintenance windows): the rules know none"
    if not np.array_equal(good, total - errors):
        return "its good events are not the requests without a 5xx, which the rules count"
    return None


def _cumulative_samples(counts: IntArray) -> str:
    """Counter samples every STEP_MINUTES: the value at t = 5k minutes is the sum of minutes < 5k."""
    padded = np.concatenate([counts, np.zeros(-len(counts) % STEP_MINUTES, dtype=counts.dtype)])
    per_step = padded.reshape(-1, STEP_MINUTES).sum(axis=1)
    return " ".join(str(int(v)) for v in np.concatenate([[0], np.cumsum(per_step)]))


def _aligned(minute: int) -> bool:
    return (minute + 1) % EVAL_MINUTES == 0


def _up(minute: int) -> int:
    """The first sampled minute at or after `minute` (promtool evaluates at t = minute + 1)."""
    return minute + (-(minute + 1)) % EVAL_MINUTES


def _down(minute: int) -> int:
    return minute - (minute + 1) % EVAL_MINUTES


def sampled_minutes(runs: list[tuple[int, int]], first: int, end: int) -> tuple[list[int], int]:
    """Minute indices to evaluate at (inside and around each run [start, stop), and spread over
    [first, end)), and how many runs hold no sampled minute."""
    chosen: set[int] = set()
    unsampled = 0
    for start, stop in runs:
        inside = [m for m in (_up(start), _up((start + stop) // 2), _down(stop - 1)) if start <= m < stop]
        if not inside:
            unsampled += 1
        chosen.update(inside)
        chosen.update((_down(start - 1), _up(stop)))
    if end > first:
        chosen.update(_up(int(m)) for m in np.linspace(first, end - 1, SPREAD_SAMPLES))
    return sorted(m for m in chosen if first <= m < end and _aligned(m)), unsampled


def slo_proof(slo: Slo, alert_rules: list[JsonObject], part: pl.DataFrame | None, period: Period,
              settings: Settings) -> SloProof:
    """This SLO's series and expected alerts: `alert_rules` (its alerting rules, as build_rules gives
    them) against the replay without the gate over the SLO's first window. The replay's first minute
    is the document's time 0: every SLO of a month shares it (the month's windows reach back the same)."""
    window = slo.windows[0]
    win_start, win_end = window_bounds(window, period)
    replay_start = min(win_start, period.start_ms) - LOOKBACK_DAYS * DAY_MS
    good, total, errors = dense(part, replay_start, win_end)
    reason = why_not_provable(slo, good, total, errors, settings.maintenance)
    if reason is not None:
        return SloProof(slo.name, skipped=reason)
    offset = (win_start - replay_start) // MINUTE_MS
    firing: dict[tuple[str, str, str], BoolArray] = {}  # (objective, severity, long window) -> firing per minute
    runs = []
    for objective in slo.objectives:
        replay = B.replay_with_gate(good, total, replay_start, offset, objective.target, window.days)
        for tier in B.alert_tiers():
            firing[(objective.key, tier.severity, tier.long)] = np.zeros(len(total), dtype=bool)
        for f in replay.firings:
            start, stop = (f.start_ms - replay_start) // MINUTE_MS, (f.end_ms - replay_start) // MINUTE_MS
            firing[(objective.key, f.severity, f.long_window)][start:stop] = True
            runs.append((start, stop))
    minutes, unsampled = sampled_minutes(runs, offset, len(total))
    by_key = {(r["labels"]["objective"], r["labels"]["severity"], r["labels"]["long_window"]): r for r in alert_rules
              if "long_window" in r["labels"]}  # the burn-rate tiers; the budget-state alerts have no tier
    rules = tuple((firing[key], rule) for key, rule in by_key.items() if key in firing)
    service = slo.service.replace("\\", "\\\\").replace('"', '\\"')
    series: tuple[InputSeries, ...] = (
        {"series": f'http_requests_total{{service="{service}",code="200"}}', "values": _cumulative_samples(total - errors)},
        {"series": f'http_requests_total{{service="{service}",code="500"}}', "values": _cumulative_samples(errors)})
    return SloProof(slo.name, series, tuple(minutes), rules, len(runs), unsampled, replay_start)


def month_document(proofs: list[SloProof]) -> JsonObject | None:
    """One promtool test group for the month: every proven SLO's series and checks (promtool evaluates
    every rule of the file at every step, so one group costs the month once). None: nothing to prove.
    SLOs of one service share its series (the rules select by service): the first one's are kept."""
    proven = [p for p in proofs if p.skipped is None]
    if not proven:
        return None
    series: dict[str, InputSeries] = {}
    for proof in proven:
        for item in proof.input_series:
            series.setdefault(item["series"], item)
    # a minute one SLO samples is checked for every SLO: what each expects there comes from its own replay
    minutes = sorted({m for proof in proven for m in proof.sampled})
    checks = []
    for minute in minutes:
        for severity, name in ALERT_NAMES.items():
            expected = [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}
                        for proof in proven for firing, rule in proof.rules
                        if rule["labels"]["severity"] == severity and minute < len(firing) and firing[minute]]
            checks.append({"eval_time": f"{minute + 1}m", "alertname": name, "exp_alerts": expected})
    return {
        "rule_files": ["alerts.rules.yml"],
        "evaluation_interval": f"{EVAL_MINUTES}m",
        "tests": [{
            "interval": f"{STEP_MINUTES}m",
            "input_series": list(series.values()),
            "alert_rule_test": checks,
        }],
    }


_UNITS_MS = {"y": 365 * DAY_MS, "w": 7 * DAY_MS, "d": DAY_MS, "h": 3_600_000, "m": MINUTE_MS, "s": 1000, "ms": 1}


def duration_ms(text: str) -> int:
    """A Prometheus duration as promtool prints it ('1d2h35m') in milliseconds."""
    parts = re.findall(r"(\d+)(ms|y|w|d|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS_MS[u] for n, u in parts)


_FAILURE = re.compile(r"alertname: (?P<name>\S+), time: (?P<time>\S+?),\s*exp:(?P<exp>.*?),\s*got:(?P<got>.*?)(?=\n\s*alertname:|\n\s*name:|\Z)",
                      re.DOTALL)


def _squash(text: str) -> str:
    labels = re.findall(r"Labels:\{([^}]*)\}", text)
    return "[" + "; ".join(labels) + "]" if labels else " ".join(text.split())


def _slo_of(text: str) -> str | None:
    found = re.search(r'slo="((?:[^"\\]|\\.)*)"', text)
    return found[1] if found else None


def disagreements(output: str, replay_start_ms: int) -> list[Disagreement]:
    """promtool's failures, each as the SLO, the replay minute and both answers."""
    found = []
    for match in _FAILURE.finditer(output):
        minute_ms = replay_start_ms + duration_ms(match["time"]) - MINUTE_MS
        slo = _slo_of(match["exp"]) or _slo_of(match["got"]) or "?"
        found.append(Disagreement(slo, iso(minute_ms), match["name"], _squash(match["exp"]), _squash(match["got"])))
    return found


@dataclass(frozen=True)
class ProofOutcome:
    proofs: tuple[SloProof, ...]
    disagreements: tuple[Disagreement, ...]
    errors: tuple[str, ...]  # promtool could not run the document (a broken file, not a disagreement)
    checks: int  # alert tests in the document

    @property
    def agreed(self) -> bool:
        return not self.disagreements and not self.errors


def proven_groups(rules_text: str, slos: set[str]) -> tuple[str, list[str]]:
    """The rule groups of `slos` from a rules file, and their names in the file's order: an SLO not
    proven (e.g. timeslices) reads the same service series, and its alerts would show up beside the
    proven ones."""
    document = yaml.safe_load(rules_text) or {}
    groups = [g for g in document.get("groups") or [] if {r.get("labels", {}).get("slo") for r in g.get("rules") or []} <= slos]
    return yaml.safe_dump({"groups": groups}, sort_keys=False, width=1 << 30), [g["name"] for g in groups]


def run_promtool(promtool: str, folder: Path, rules_text: str, proofs: list[SloProof]) -> ProofOutcome:
    """Write the proven SLOs' groups of the rules and the month's test document into `folder` and run
    `promtool test rules` on it."""
    document = month_document(proofs)
    if document is None:
        return ProofOutcome(tuple(proofs), (), (), 0)
    folder.mkdir(parents=True, exist_ok=True)
    text, names = proven_groups(rules_text, {p.slo for p in proofs if p.skipped is None})
    (folder / "alerts.rules.yml").write_text(text)
    # promtool evaluates groups in no fixed order unless told: an alert group evaluated before its recording
    # rules at a step would read them 15 minutes old, beyond the 5-minute lookback, and never fire
    document["group_eval_order"] = names
    (folder / "proof.yml").write_text(yaml.safe_dump(document, sort_keys=False, width=1 << 30))
    checks = len(document["tests"][0]["alert_rule_test"])
    done = subprocess.run([promtool, "test", "rules", "proof.yml"], cwd=folder, capture_output=True, text=True,
                          timeout=PROMTOOL_TIMEOUT_S, check=False)
    if done.returncode == 0:
        return ProofOutcome(tuple(proofs), (), (), checks)
    replay_start = next(p.replay_start_ms for p in proofs if p.skipped is None)
    found = disagreements(done.stdout + done.stderr, replay_start)
    errors = () if found else (f"promtool failed: {' '.join((done.stdout + done.stderr).split())[:500]}",)
    return ProofOutcome(tuple(proofs), tuple(found), errors, checks)
