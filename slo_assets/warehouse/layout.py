"""Where every dataset lives in the warehouse: one table from (asset key, partition) to a path.

Each table the project writes is a Dagster asset of the same name, and its files are found only
through this module. Anything else under the warehouse root is private scratch under `_staging/`
(the parse cache) or the atomic writer's temporary files. `tests/graph/test_layout.py` walks a
materialized warehouse and checks that every file belongs to one of these datasets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from slo_assets.warehouse.storage import SCRATCH, Warehouse

if TYPE_CHECKING:
    from upath import UPath

Grain = Literal["day", "month", "quarter", "year", "none"]
# The published files of a month: what `slo-assets run` copies into OUT/YYYY-MM/.
OUTPUTS = "outputs"
# a quarter's key is its first month
_PARTITION = {"day": r"\d{4}-\d{2}-\d{2}", "month": r"\d{4}-\d{2}", "quarter": r"\d{4}-(?:01|04|07|10)", "year": r"\d{4}", "none": ""}


# A file among several of one partition (an incident's review draft): `{member}` in the template.
MEMBER = "{member}"
MEMBER_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"


@dataclass(frozen=True)
class Dataset:
    """One asset's files: `template` holds `{partition}` unless the asset has one file, and `{member}`
    when a partition has several files in one folder."""

    key: str
    grain: Grain
    template: str

    @property
    def has_members(self) -> bool:
        return MEMBER in self.template

    def relative(self, partition: str | None = None, member: str | None = None) -> str:
        """The file's path; for a dataset with members and no `member`, the folder holding them."""
        template = self.template
        if self.has_members:
            if member is None:
                template = template.rsplit("/", 1)[0]
            elif not re.fullmatch(MEMBER_NAME, member):
                raise ValueError(f"{self.key}: {member!r} is not a file name ({MEMBER_NAME})")
        if self.grain == "none":
            return template.format(member=member)
        if not partition or not re.fullmatch(_PARTITION[self.grain], partition):
            raise ValueError(f"{self.key}: partition {partition!r} is not a {self.grain} key")
        return template.format(partition=partition, member=member)

    def path(self, store: Warehouse, partition: str | None = None, member: str | None = None) -> UPath:
        return store.path(*self.relative(partition, member).split("/"))

    def members(self, store: Warehouse, partition: str | None = None) -> list[str]:
        """The members written for a partition, sorted (a dataset with members only)."""
        folder = self.path(store, partition)
        if not folder.exists():
            return []
        head, _, tail = self.template.rsplit("/", 1)[-1].partition(MEMBER)
        pattern = re.compile(re.escape(head) + f"({MEMBER_NAME})" + re.escape(tail))
        return sorted(m.group(1) for p in folder.iterdir() if (m := pattern.fullmatch(p.name)))

    def exists(self, store: Warehouse, partition: str | None = None) -> bool:
        return self.path(store, partition).exists()

    def _pattern(self) -> re.Pattern:
        """The template as a regex whose one group is the partition."""
        return re.compile(re.escape(self.template).replace(re.escape("{partition}"), f"({_PARTITION[self.grain]})")
                          .replace(re.escape(MEMBER), f"(?:{MEMBER_NAME})"))

    def partitions(self, store: Warehouse) -> list[str]:
        """The partitions with a file, sorted (for readers of every month so far)."""
        head, _, tail = self.template.partition("{partition}")
        folder = store.path(*head.strip("/").split("/")) if head.strip("/") else store.root
        if not folder.exists():
            return []
        if self.has_members:  # a partition is there when it has a member
            return sorted(p.name for p in folder.glob("*") if re.fullmatch(_PARTITION[self.grain], p.name) and self.members(store, p.name))
        # a file per partition (sli_metrics/<month>.parquet), or a folder per partition (outputs/<month>/<file>)
        per_folder = tail if "/" in tail else ""
        found = (m.group(1) for p in folder.glob("*") if (m := self._pattern().fullmatch(head + p.name + per_folder)))
        return sorted(partition for partition in found if not per_folder or self.path(store, partition).exists())

    def matches(self, relative: str) -> bool:
        """Whether a warehouse-relative path is one of this dataset's files."""
        return self._pattern().fullmatch(relative) is not None


def _day(key: str, folder: str | None = None) -> Dataset:
    return Dataset(key, "day", f"{folder or key}/{{partition}}.parquet")


def _month(key: str, suffix: str = "parquet", folder: str | None = None) -> Dataset:
    return Dataset(key, "month", f"{folder or key}/{{partition}}.{suffix}")


def _published(key: str, file: str) -> Dataset:
    return Dataset(key, "month", f"{OUTPUTS}/{{partition}}/{file}")


LOG_FILE_INDEX = Dataset("log_file_index", "none", "log_file_index.parquet")
# Where each plain log file was parsed to, so a grown one is parsed from there (ingest/checkpoint.py).
LOG_FILE_CHECKPOINTS = Dataset("log_file_index", "none", "log_file_checkpoints.json")
PARSED_LOGS = _day("parsed_logs")
QUARANTINE = _day("quarantine")
SLI_MINUTELY = _day("sli_minutely")
SLI_LATENCY = _day("sli_latency")
SLI_OPERATIONS = _day("sli_operations")
SLI_METRICS = _month("sli_metrics")
SLI_OPERATIONS_MONTHLY = _month("sli_operations_monthly")
SLI_LATENCY_MONTHLY = _month("sli_latency_monthly")
SLO_TARGETS = _month("slo_targets")
BUDGET_SERIES = _month("budget_series")
WINDOW_EVALUATIONS = _month("window_evaluations", "json")
ERROR_BUDGET_TABLE = _month("error_budget_table")
REMEDIATION_RUNS = _month("remediation_runs")
LEARNING_RECORD = _month("learning_record")
DEPLOY_GATE = _month("deploy_gate", "json")  # per service: may it deploy (slo-assets gate reads it)
ALERT_BACKTEST = _month("alert_backtest", "json")  # each alert policy scored against the month's burn episodes
# The documents and files people open, one folder per month.
ERROR_BUDGETS = _published("error_budgets", "error_budgets.json")
COMPLIANCE_REPORT = _published("compliance_report", "compliance.json")
REMEDIATION_PLAN = _published("remediation_plan", "remediation_plan.json")
REPORT_HTML = _published("report_html", "report.html")
PROMETHEUS_EXPOSITION = _published("prometheus_exposition", "slo_metrics.prom")
ALERT_RULES = _published("alert_rules", "alerts.rules.yml")
GRAFANA_TRACKING = _published("grafana_slo_tracking", "grafana-slo-tracking.json")
GRAFANA_COMPLIANCE = _published("grafana_slo_compliance", "grafana-slo-compliance.json")
# One Markdown review draft per incident of the month, beside the report that links to them.
INCIDENT_REVIEWS = _published("incident_reviews", f"reviews/{MEMBER}.md")
# The reviews of a quarter and of a year: a document and its page, written together by one asset.
QUARTERLY_REVIEW = Dataset("quarterly_review", "quarter", "reviews/quarters/{partition}/review.json")
QUARTERLY_REVIEW_HTML = Dataset("quarterly_review", "quarter", "reviews/quarters/{partition}/review.html")
YEARLY_REVIEW = Dataset("yearly_review", "year", "reviews/years/{partition}/review.json")
YEARLY_REVIEW_HTML = Dataset("yearly_review", "year", "reviews/years/{partition}/review.html")

DATASETS: tuple[Dataset, ...] = (
    LOG_FILE_INDEX, LOG_FILE_CHECKPOINTS, PARSED_LOGS, QUARANTINE, SLI_MINUTELY, SLI_LATENCY, SLI_OPERATIONS, SLI_METRICS,
    SLI_OPERATIONS_MONTHLY, SLI_LATENCY_MONTHLY, SLO_TARGETS, BUDGET_SERIES, WINDOW_EVALUATIONS, ERROR_BUDGET_TABLE,
    REMEDIATION_RUNS, LEARNING_RECORD, DEPLOY_GATE, ALERT_BACKTEST, ERROR_BUDGETS, COMPLIANCE_REPORT, REMEDIATION_PLAN, REPORT_HTML,
    PROMETHEUS_EXPOSITION, ALERT_RULES, GRAFANA_TRACKING, GRAFANA_COMPLIANCE, INCIDENT_REVIEWS,
    QUARTERLY_REVIEW, QUARTERLY_REVIEW_HTML, YEARLY_REVIEW, YEARLY_REVIEW_HTML,
)
# In the order `slo-assets run` lists them. Each is one file, but INCIDENT_REVIEWS: the month's drafts,
# none in a month without an incident.
PUBLISHED: tuple[Dataset, ...] = (COMPLIANCE_REPORT, ERROR_BUDGETS, REMEDIATION_PLAN, PROMETHEUS_EXPOSITION, ALERT_RULES,
                                  GRAFANA_TRACKING, GRAFANA_COMPLIANCE, REPORT_HTML, INCIDENT_REVIEWS)


def by_key(key: str) -> Dataset:
    for dataset in DATASETS:
        if dataset.key == key:
            return dataset
    raise KeyError(f"no dataset is declared for asset {key!r}")


def published_folder(store: Warehouse, month: str) -> UPath:
    return store.path(OUTPUTS, month)


def file_name(dataset: Dataset, member: str | None = None) -> str:
    """The file's name; with members, the member's path below the month's folder (reviews/<id>.md)."""
    if dataset.has_members:
        below = dataset.template.split("{partition}/", 1)[1]
        return below.rsplit("/", 1)[0] if member is None else below.format(member=member)
    return dataset.template.rsplit("/", 1)[-1]


def owner_of(relative: str) -> str | None:
    """The asset a warehouse-relative path belongs to, SCRATCH for private scratch, None when unknown."""
    if relative.split("/", 1)[0] == SCRATCH:
        return SCRATCH
    return next((d.key for d in DATASETS if d.matches(relative)), None)
