"""The statuses an action's outcome ends in, and the attempts of one delivery: `with_retries` repeats
an attempt that failed in a way worth retrying (`TryAgain`), with exponential backoff, up to the
action's number of attempts. HTTP, SMTP and commands all go through it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slo_assets.remediation.models import Delivery
from slo_assets.remediation.runbooks import Action

OK, FAILED, DRY_RUN, COOLDOWN, DONE_BEFORE = "ok", "failed", "dry_run", "skipped_cooldown", "skipped_already_done"
QUIET_HOURS, RATE_LIMITED = "skipped_quiet_hours", "skipped_rate_limit"


@dataclass(frozen=True)
class TryAgain:
    """An attempt that failed in a way worth retrying: why, and what to record if it was the last."""

    reason: str
    detail: dict[str, Any]


def with_retries(action: Action, attempt_once: Callable[[int], Delivery | TryAgain]) -> Delivery:
    """`attempt_once(n)` for n = 1 .. action.attempts, sleeping backoff x 2^(n-1) between them, until it
    returns a Delivery; after the last TryAgain the action failed with that attempt's reason and detail."""
    last = TryAgain("no attempt", {})
    for attempt in range(1, action.attempts + 1):
        result = attempt_once(attempt)
        if isinstance(result, Delivery):
            return result
        last = result
        if attempt < action.attempts:
            time.sleep(action.backoff_s * 2 ** (attempt - 1))
    return Delivery(status=FAILED, reason=last.reason, attempts=action.attempts, detail=last.detail)
