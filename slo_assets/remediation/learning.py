"""Learning record: did the SLO recover after an action, and how fast; what worked, per action.

Recovered means one thing everywhere: the 1h burn rate fell below 1 within HORIZON_MINUTES after the
reference (`minutes_to_recover` is then how long that took). It is False only when the data covers
the whole horizon without that happening, and None (unknown yet) when the data ends first; the SLI
of the hour after is reported beside it, not mixed into it.

Each outcome is placed at a reference time: when it finished, if the minute series reaches that
far (live operation), else when its incident started (a replayed month, where automation would
have acted at the first alert). Before/after windows are read from the minute series, so a record
improves as later days arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import polars as pl

from slo_assets.core.calendar import DAY_MS, MINUTE_MS, epoch_ms, iso
from slo_assets.remediation.models import Outcome, PlanEntry
from slo_assets.slo import budget as B
from slo_assets.slo.chain import dense

WINDOW_MINUTES = 60
HORIZON_MINUTES = DAY_MS // MINUTE_MS
LEARNED = ("ok", "dry_run")


def _sli(good: np.ndarray, total: np.ndarray) -> float | None:
    return None if total.sum() == 0 else float(good.sum() / total.sum())


def learn(outcomes: Sequence[Outcome], entries: Sequence[PlanEntry], minutes_by_slo: dict[str, pl.DataFrame], targets: dict[str, Decimal],
          data_end_ms: int) -> list[dict]:
    """One record per learnable outcome (ok or dry run) with before/after SLI and burn rate; `entries`:
    the month's plan entries (an outcome after the data ends is placed at its SLO's first incident)."""
    by_slo = {e.slo: e for e in entries}
    records = []
    for outcome in outcomes:
        if outcome.status not in LEARNED or outcome.slo not in targets:
            continue
        finished = epoch_ms(outcome.finished_at)
        entry = by_slo.get(outcome.slo)
        incidents = entry.incidents if entry is not None else ()
        if finished < data_end_ms:
            reference, basis = finished, "action_finished"
        elif incidents:
            reference, basis = epoch_ms(incidents[0].start), "incident_start"
        else:
            continue
        start = reference - WINDOW_MINUTES * MINUTE_MS
        good, total, _ = dense(minutes_by_slo.get(outcome.slo), start, reference + HORIZON_MINUTES * MINUTE_MS)
        target = targets[outcome.slo]
        burn = B.burn_rate_series(good, total, target, WINDOW_MINUTES)
        before = slice(0, WINDOW_MINUTES)
        after = slice(WINDOW_MINUTES, 2 * WINDOW_MINUTES)
        available = max(0, min(len(total), (data_end_ms - start) // MINUTE_MS))
        recovered_at = next((m for m in range(WINDOW_MINUTES, available) if burn[m] < 1), None)
        sli_after = _sli(good[after], total[after]) if available > WINDOW_MINUTES else None
        horizon_seen = available >= WINDOW_MINUTES + HORIZON_MINUTES
        recovered = True if recovered_at is not None else (False if horizon_seen else None)
        records.append({
            "idempotency_key": outcome.idempotency_key,
            "period": outcome.period, "slo": outcome.slo, "runbook": outcome.runbook, "action": outcome.action,
            "kind": outcome.kind, "dry_run": outcome.status == "dry_run",
            "reference": iso(reference), "reference_basis": basis,
            "sli_before": _sli(good[before], total[before]),
            "burn_rate_before": round(float(burn[WINDOW_MINUTES - 1]), 6),
            "sli_after": sli_after,
            "burn_rate_after": round(float(burn[2 * WINDOW_MINUTES - 1]), 6) if available >= 2 * WINDOW_MINUTES else None,
            "recovered": recovered,
            "minutes_to_recover": None if recovered_at is None else recovered_at - WINDOW_MINUTES,
        })
    return records


def effectiveness(records: pl.DataFrame) -> pl.DataFrame:
    """Per runbook and action: how often the SLO recovered (burn rate below 1 within the horizon), and how fast."""
    if records.is_empty():
        return pl.DataFrame(schema={"runbook": pl.String, "action": pl.String, "kind": pl.String, "outcomes": pl.UInt32,
                                    "recovered_share": pl.Float64, "median_minutes_to_recover": pl.Float64})
    return (
        records.group_by("runbook", "action", "kind")
        .agg(pl.len().alias("outcomes"), pl.col("recovered").cast(pl.Float64).mean().alias("recovered_share"),
             pl.col("minutes_to_recover").median().cast(pl.Float64).alias("median_minutes_to_recover"))
        .sort(["recovered_share", "median_minutes_to_recover", "runbook", "action"], descending=[True, False, False, False], nulls_last=True)
    )


def runbook_scores(stats: pl.DataFrame) -> dict[str, float]:
    """Mean recovered share per runbook, for ranking runbooks in the next plan."""
    if stats.is_empty():
        return {}
    frame = stats.group_by("runbook").agg(pl.col("recovered_share").mean())
    return {r: s for r, s in frame.iter_rows() if s is not None}

