"""Whether a day's parsed rows look like what their format says they are: request times and statuses.

A format can match every line and still read the wrong field: ingress-nginx lines read as combined
take `$request_length` (89) for the request time (89 s), every line parses, nothing is quarantined,
and the latency SLO is wrong. These are the tell-tale figures, judged per file (a format is per file):

- durations whose median is over a minute;
- durations that are mostly whole numbers, as written, equal to a byte count of their own line
  (`$body_bytes_sent`, `$request_length`, `%b`, ... under the reading or a preset that matches it);
- statuses mostly outside 100-599 (those lines are quarantined, so the quarantine counts them);
- a latency SLO's service none of whose requests has a request time (the format logs none).

A finding names the preset to try when one reads the file's sampled lines without any of these.
Pure functions: the caller reads the rows, the quarantine counts and the sampled lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import polars as pl

from slo_assets.ingest.config import TIME_UNITS, ParseConfig
from slo_assets.ingest.log_format import PRESETS, byte_count_regex, compile_log_format
from slo_assets.ingest.parse import parse_chunk
from slo_assets.ingest.parse_lines import STATUS_NOT_INTEGER, STATUS_OUT_OF_RANGE
from slo_assets.ingest.parse_text import COMBINED_REGEX
from slo_assets.ingest.sniffing import READ_AS_COMBINED

MEDIAN_LIMIT_MS = 60_000.0  # a median request over a minute is a misread field (or no web service)
MOSTLY = 0.5
MIN_ROWS = 10  # fewer requests of a file in a day prove nothing either way
STATUS_PROBLEMS = (STATUS_OUT_OF_RANGE, STATUS_NOT_INTEGER)  # quarantine reasons of a status outside 100-599

MEDIAN_OVER_LIMIT = "median_over_limit"
BYTE_COUNTS = "byte_counts_as_durations"
STATUS_OUTSIDE = "status_outside_100_599"
NO_REQUEST_TIME = "no_request_time"

# Presets, the most specific (most fields) first: the first that reads a sample plausibly is suggested.
PRESET_ORDER = tuple(sorted(PRESETS, key=lambda name: (-PRESETS[name].count(" "), name)))


@dataclass(frozen=True)
class LineSample:
    """The first lines of a file (`path`, relative to the log folder) and the format the index read it
    with ('combined', 'jsonl' or a sniffed preset)."""

    path: str
    fmt: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Finding:
    """One implausible field: where (`source`: a file, or `service NAME`), the problem's code, its
    figures in words, and the preset that reads the lines plausibly, when one does."""

    field: str
    problem: str
    figures: str
    source: str
    preset: str | None = None

    def message(self) -> str:
        if self.preset:
            hint = f"; its lines read plausibly with the preset {self.preset}: try --log-format {self.preset} (log_format: {self.preset})"
        elif self.problem == NO_REQUEST_TIME:
            hint = "; log one ($request_time, %D) and give the format with --log-format (docs/log-formats.md)"
        else:
            hint = "; no preset reads its lines plausibly: give the format with --log-format (docs/log-formats.md)"
        return f"{self.source}: {self.field} implausible: {self.figures}{hint}"


def judge_day(rows: pl.DataFrame, config: ParseConfig, samples: Mapping[str, LineSample] | None = None,
              status_rejected: Mapping[str, int] | None = None, latency_services: Collection[str] = ()) -> list[Finding]:
    """The findings of one day: `rows` (source_file, service, status, duration_ms) as parsed with
    `config`; `samples` of their files by path; `status_rejected`: lines per file quarantined for their
    status (STATUS_PROBLEMS); `latency_services`: the services a latency SLO measures."""
    samples, status_rejected = samples or {}, status_rejected or {}
    findings: list[Finding] = []
    by_file = {str(key[0]): group for key, group in rows.group_by("source_file")} if rows.height else {}
    for path in sorted(set(by_file) | {p for p, n in status_rejected.items() if n}):
        sample = samples.get(path)
        problems = judge_rows(by_file.get(path, rows.clear()), status_rejected.get(path, 0), sample, config)
        preset = suggest_preset(sample, config) if problems and sample is not None else None
        findings += [Finding(field, problem, figures, path, preset) for field, problem, figures in problems]
    for service in sorted(latency_services):
        mine = rows.filter(pl.col("service") == service)
        if mine.height and mine["duration_ms"].null_count() == mine.height:
            files = sorted(mine["source_file"].unique().to_list())
            preset = next((p for p in (suggest_preset(samples[f], config, need_durations=True) for f in files if f in samples) if p), None)
            figures = (f"none of the {mine.height:,} requests of {service} has a request time (in {', '.join(files[:3])}"
                       f"{' ...' if len(files) > 3 else ''}): its latency SLO counts none of them")
            findings.append(Finding("duration_ms", NO_REQUEST_TIME, figures, f"service {service}", preset))
    return findings


def judge_rows(rows: pl.DataFrame, status_rejected: int = 0, sample: LineSample | None = None,
               config: ParseConfig | None = None) -> list[tuple[str, str, str]]:
    """(field, problem, figures) of one file's rows: durations with a median over a minute or mostly
    byte counts (judged on `sample`, read with `config`), statuses mostly outside 100-599."""
    found: list[tuple[str, str, str]] = []
    durations = rows["duration_ms"].drop_nulls()
    if len(durations) >= MIN_ROWS:
        middle = durations.median()
        median = float(middle) if isinstance(middle, (int, float)) else 0.0
        if median > MEDIAN_LIMIT_MS:
            found.append(("duration_ms", MEDIAN_OVER_LIMIT, f"median {median / 1000:,.4g} s over {len(durations):,} requests "
                                                            f"(over {MEDIAN_LIMIT_MS / 1000:g} s)"))
    config = config or ParseConfig()
    # Most request times whole numbers as written (never so for nginx's 0.001 s): then see if they are byte counts.
    matched = None
    if sample is not None and len(durations):
        written = durations / _factor(sample, config)
        if int(((written >= 1) & (written == written.floor())).sum()) > MOSTLY * len(durations):
            matched = byte_counts(sample, config)
    if matched is not None and matched[0] > MOSTLY * matched[1]:
        share, total, variable = matched
        found.append(("duration_ms", BYTE_COUNTS, f"{share} of {total} sampled request times are whole numbers equal to their "
                                                  f"line's byte count {_shown(variable)}"))
    statuses = rows["status"]
    lines = rows.height + status_rejected
    outside = status_rejected + int(((statuses < 100) | (statuses > 599)).sum())
    if lines >= MIN_ROWS and outside > MOSTLY * lines:
        found.append(("status", STATUS_OUTSIDE, f"{outside:,} of {lines:,} lines have a status outside 100-599"))
    return found


def _shown(variable: str) -> str:
    return f"%{variable}" if len(variable) == 1 else f"${variable}"  # Apache's %b, nginx's $request_length


def reading_of(sample: LineSample, config: ParseConfig) -> str:
    """The format the sample's lines were read with: the user's log_format, else the sniffed one."""
    return config.log_format if config.log_format and sample.fmt != "jsonl" else sample.fmt


def _factor(sample: LineSample, config: ParseConfig) -> float:
    """Milliseconds per unit of the request time as the sample's reading writes it."""
    current = reading_of(sample, config)
    if current in ("combined", "unknown", "jsonl"):
        return TIME_UNITS[config.json_duration_unit if current == "jsonl" else config.request_time_unit]
    return TIME_UNITS[compile_log_format(current).duration_unit or "ms"]


def _parse(sample: LineSample, config: ParseConfig) -> tuple[pl.DataFrame, int]:
    """The sample's rows as `config` reads them, and its lines quarantined for their status."""
    result = parse_chunk("\n".join(sample.lines).encode() + b"\n", 1, sample.fmt, config)
    return result.rows, int(result.quarantine["reason"].is_in(STATUS_PROBLEMS).sum())


@lru_cache(maxsize=32)
def _byte_readers(current: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """(regex, ((group, variable), ...)) of every reading whose byte counts a line can be checked
    against: the tolerant combined one, the presets, and the user's format string."""
    readers: list[tuple[str, tuple[tuple[str, str], ...]]] = [(COMBINED_REGEX, (("bytes", "body_bytes_sent"),))]
    for spec in dict.fromkeys([*PRESET_ORDER, current]):
        if spec not in ("combined", "jsonl", "unknown"):
            regex, names = byte_count_regex(spec)
            readers.append((regex, tuple((f"bytes{i}", name) for i, name in enumerate(names))))
    return tuple(readers)


def _byte_values(line: str, readers: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]) -> dict[str, str]:
    """Byte count as written -> the variable holding it, under every reading the line matches."""
    values: dict[str, str] = {}
    for regex, groups in readers:
        match = re.match(regex, line)
        if match:
            for group, variable in groups:
                values.setdefault(match.group(group), variable)
    return values


def byte_counts(sample: LineSample, config: ParseConfig) -> tuple[int, int, str] | None:
    """Of the sample's rows with a request time, how many hold a whole number (as written, > 0) equal to
    a byte count of their own line, out of how many, and the variable most often equal; None for JSON."""
    if sample.fmt == "jsonl" or not sample.lines:
        return None
    current, factor = reading_of(sample, config), _factor(sample, config)
    rows = _parse(sample, config)[0].filter(pl.col("duration_ms").is_not_null())
    readers, variables = _byte_readers(current), Counter[str]()
    for line_no, duration in rows.select("source_line", "duration_ms").iter_rows():
        written = duration / factor
        if written >= 1 and float(written).is_integer():
            variable = _byte_values(sample.lines[line_no - 1], readers).get(str(int(written)))
            if variable is not None:
                variables[variable] += 1
    if not rows.height:
        return None
    return variables.total(), rows.height, variables.most_common(1)[0][0] if variables else ""


def suggest_preset(sample: LineSample, config: ParseConfig, need_durations: bool = False) -> str | None:
    """The first preset (most specific first) other than the current reading that parses most of the
    sample's lines with plausible request times and statuses (and some request time, when needed)."""
    if sample.fmt == "jsonl" or not sample.lines:
        return None
    current = reading_of(sample, config)
    for name in PRESET_ORDER:
        if name == current or (name in READ_AS_COMBINED and current in READ_AS_COMBINED):
            continue
        trial = replace(config, format="combined", log_format=name)
        candidate = LineSample(sample.path, "combined", sample.lines)
        rows, rejected = _parse(candidate, trial)
        if rows.height * 2 <= len(sample.lines) or judge_rows(rows, rejected, candidate, trial):
            continue
        if need_durations and rows["duration_ms"].null_count() == rows.height:
            continue
        return name
    return None
