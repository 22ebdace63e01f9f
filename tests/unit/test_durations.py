"""Durations: one regex, one parser (slo_assets/core/durations.py), read by specs, runbooks and burn windows."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_assets.core.durations import (
    DURATION_PATTERN,
    UNIT_SECONDS,
    DurationError,
    duration_days,
    duration_minutes,
    duration_seconds,
    parse_duration,
    render_duration,
)

texts = st.builds(lambda n, unit: f"{n}{unit}", st.integers(1, 10**6), st.sampled_from(sorted(UNIT_SECONDS)))
deltas = st.integers(1, 10**12).map(lambda s: timedelta(seconds=s))


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("1h", timedelta(hours=1)),
    ("28d", timedelta(days=28)), ("1w", timedelta(days=7)), ("90s", timedelta(seconds=90)),
])
def test_parses_each_unit(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "m", "0m", "05m", "-5m", "+5m", "1.5h", "5 m", " 5m", "5m ", "5M", "1M", "5ms", "1y", 5, None, ["5m"]])
def test_anything_else_is_a_clear_error(text):
    with pytest.raises(DurationError, match=r"is not a duration like 30s, 5m, 1h, 28d"):
        parse_duration(text)


def test_a_duration_past_what_a_timedelta_holds_is_named_not_an_overflow():
    with pytest.raises(DurationError, match=r"'99999999999999999999d' is too long a duration \(at most 999999999d\)"):
        parse_duration("99999999999999999999d")


@given(deltas)
def test_render_then_parse_round_trips(delta):
    assert parse_duration(render_duration(delta)) == delta


@given(texts)
def test_parse_then_render_gives_the_shortest_text_of_the_same_duration(text):
    rendered = render_duration(parse_duration(text))
    assert parse_duration(rendered) == parse_duration(text)
    assert len(rendered) <= len(text) or text.endswith("w")  # weeks are written in days
    assert render_duration(parse_duration(rendered)) == rendered


@pytest.mark.parametrize(("delta", "text"), [(timedelta(days=7), "7d"), (timedelta(days=28), "28d"), (timedelta(minutes=60), "1h"),
                                              (timedelta(seconds=90), "90s"), (timedelta(hours=36), "36h")])
def test_renders_in_the_largest_exact_unit_without_weeks(delta, text):
    assert render_duration(delta) == text


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-60), timedelta(milliseconds=1500)])
def test_only_positive_whole_seconds_render(delta):
    with pytest.raises(DurationError):
        render_duration(delta)


def test_the_typed_readers():
    assert duration_minutes("1d") == 1440 and duration_minutes("120s") == 2
    assert duration_seconds("2m") == 120.0
    assert duration_days("28d") == 28
    with pytest.raises(DurationError, match="'90s' is not a whole number of minutes"):
        duration_minutes("90s")
    with pytest.raises(DurationError, match="'4w' is not a number of days like 7d, 28d"):
        duration_days("4w")


def test_the_published_runbook_schema_uses_the_one_pattern():
    schema = json.loads(resources.files("slo_assets.remediation").joinpath("runbook.schema.json").read_text())
    assert schema["definitions"]["duration"]["pattern"] == f"^{DURATION_PATTERN}$"


RUNBOOK = """apiVersion: slo-assets/v1
kind: Runbook
metadata: {{name: slow}}
spec:
  match: {{severity: page}}
  cooldown: {cooldown}
  actions:
    - {{kind: annotate, name: note, text: paged, timeout: 90s, retry: {{attempts: 2, backoff: {backoff}}}}}
"""


def test_runbook_durations_are_read_by_the_one_parser(tmp_path):
    from slo_assets.remediation.runbooks import load_runbooks

    path = tmp_path / "rb.yaml"
    path.write_text(RUNBOOK.format(cooldown="1w", backoff="2s"))
    (action,) = load_runbooks([path])[0].actions
    assert (action.cooldown_s, action.timeout_s, action.backoff_s) == (7 * 86400.0, 90.0, 2.0)


def test_a_runbook_duration_too_long_names_file_document_and_field(tmp_path):
    # It used to pass as some 10**25 seconds; the one parser names it instead of crashing on it.
    from slo_assets.remediation.runbooks import RunbookError, load_runbooks

    path = tmp_path / "rb.yaml"
    path.write_text(RUNBOOK.format(cooldown="99999999999999999999d", backoff="99999999999999999999d"))
    with pytest.raises(RunbookError) as caught:
        load_runbooks([path])
    too_long = "'99999999999999999999d' is too long a duration (at most 999999999d)"
    assert caught.value.problems == [f"{path}: document 1 (slow): spec.cooldown: {too_long}",
                                     f"{path}: document 1 (slow): spec.actions.0.retry.backoff: {too_long}"]
