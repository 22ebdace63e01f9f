"""A range of days in one run: each day's evidence survives the folding of checks, the expectations'
sample keeps every day in it, and the CLI makes one run for a month of days."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from slo_assets.cli.orchestrate import contiguous_ranges
from slo_assets.defs.ingest.assets import day_sample
from slo_assets.defs.ingest.day_runs import combine_checks, range_version


def _result(passed: bool, severity=dg.AssetCheckSeverity.ERROR, **metadata) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name="c", passed=passed, severity=severity, description=None if passed else "bad", metadata=metadata)


def test_one_day_keeps_its_own_result():
    only = _result(False, rows=3)
    assert combine_checks("c", {"2026-10-01": only}) is only


def test_a_failing_day_fails_the_run_and_is_named_with_its_evidence():
    by_day = {"2026-10-01": _result(True, ratio=0.0), "2026-10-02": _result(False, ratio=0.5, examples=dg.MetadataValue.md("| a |")),
              "2026-10-03": _result(True, ratio=0.0)}
    combined = combine_checks("c", by_day)
    assert not combined.passed and combined.severity == dg.AssetCheckSeverity.ERROR
    assert combined.description == "1 of 3 days failed: 2026-10-02 (bad)"
    assert combined.metadata["failed_days"].value == ["2026-10-02"]
    table = combined.metadata["by_day"].value
    assert all(day in table for day in by_day) and "| 2026-10-02 | FAIL | bad | 0.5 |" in table
    assert "2026-10-02 examples" in combined.metadata  # the failing day's non-scalar evidence, kept whole


def test_warnings_only_fold_into_a_warning():
    combined = combine_checks("c", {"a": _result(False, dg.AssetCheckSeverity.WARN), "b": _result(True)})
    assert not combined.passed and combined.severity == dg.AssetCheckSeverity.WARN


def test_all_days_passing_pass():
    combined = combine_checks("c", {f"2026-10-0{i}": _result(True) for i in range(1, 4)})
    assert combined.passed and combined.description == "all 3 days passed"


def test_range_version_is_the_days_digest_for_one_day_and_depends_on_every_day():
    assert range_version(["ab" * 20]).value == ("ab" * 20)[:24]
    assert range_version(["a", "b"]) != range_version(["a", "c"]) != range_version(["b", "a"])


@given(st.lists(st.integers(0, 5000), min_size=1, max_size=40), st.integers(1, 3000))
def test_the_sample_stays_within_its_limit_and_keeps_every_day_with_rows(sizes, limit):
    samples = [day_sample(pa.table({"i": list(range(n))}), len(sizes), limit) for n in sizes]
    assert sum(s.num_rows for s in samples) <= max(limit, len(sizes))
    assert all(s.num_rows > 0 for s, n in zip(samples, sizes, strict=True) if n)
    for sample, n in zip(samples, sizes, strict=True):  # every k-th row, from the first
        values = sample["i"].to_pylist()
        assert values == sorted(values) and (not values or values[0] == 0) and all(v < n for v in values)


def test_contiguous_ranges():
    assert contiguous_ranges([]) == []
    assert contiguous_ranges(["2026-10-03", "2026-10-01", "2026-10-02", "2026-10-05"]) == [
        ("2026-10-01", "2026-10-03"), ("2026-10-05", "2026-10-05")]
    assert contiguous_ranges(["2026-02-28", "2026-03-01"]) == [("2026-02-28", "2026-03-01")]


def test_a_failed_check_is_named_with_its_asset_and_the_days_it_failed_on():
    """The run summary read 'slo_specs, log_file_index: log_file_lines_accepted', the run's label first, as if the
    spec had failed; now the check, then its asset and partitions."""
    import dagster as dg

    from slo_assets.cli.orchestrate import failed_check_text

    def evaluation(asset: str, check: str, metadata: dict) -> dg.AssetCheckEvaluation:
        return dg.AssetCheckEvaluation(asset_key=dg.AssetKey(asset), check_name=check, passed=False, metadata=metadata)

    assert failed_check_text(evaluation("log_file_index", "log_file_lines_accepted", {}), None) == \
        "log_file_lines_accepted (log_file_index)"
    days = {"failed_days": dg.MetadataValue.json(["2015-05-17", "2015-05-18"])}
    assert failed_check_text(evaluation("parsed_logs", "quarantine_ratio_below_threshold", days), None) == \
        "quarantine_ratio_below_threshold (parsed_logs 2015-05-17, 2015-05-18)"
    assert failed_check_text(evaluation("compliance_report", "coverage_above_floor", {}), "2015-05") == \
        "coverage_above_floor (compliance_report 2015-05)"
