"""What a window says of the requests a latency SLO selects that carry no request time.

A request logged without a time (Apache's and nginx's combined formats log none) is neither fast nor
slow: it is no event of a latency SLI (openslo.models.Indicator.total_expr) and never fails one.
sli_minutely counts them per minute (`untimed`); a window whose selected requests have no time, or
mostly none, says so, how many, and how to log one, instead of "no event".
"""

from __future__ import annotations

HOW_TO_LOG = ("to log one: nginx $request_time in log_format (ingress-nginx: --log-format upstreaminfo), "
              "Apache %D (microseconds) or %T (docs/log-formats.md)")


def untimed_note(events: int, untimed: int) -> str | None:
    """The window's word on its untimed requests when they are all or most of what it selects (`events`:
    the timed ones, its latency events); None when most have a time."""
    if untimed <= events:
        return None
    if events == 0:
        selected = "the one request selected has" if untimed == 1 else f"the {untimed:,} requests selected have"
        return f"these logs carry no request time: {selected} none, so none is a latency event (neither fast nor slow); {HOW_TO_LOG}"
    return (f"{untimed:,} of the {events + untimed:,} requests selected carry no request time: the SLI judges "
            f"the {events:,} timed ones; {HOW_TO_LOG}")


def joined_note(*notes: str | None) -> str | None:
    """A window's status note from its parts (coverage, untimed requests): '; '-joined, None when none."""
    return "; ".join(note for note in notes if note) or None
