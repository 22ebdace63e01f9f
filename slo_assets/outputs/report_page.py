"""The view data of report.html: what outputs/report.py prepares from a month's documents and
templates/report.html.j2 lays out (its macros: templates/_report.html.j2).

Text is text here: numbers already formatted for people, names and log lines as they are (the template
escapes them). The only HTML is Markup: the SVG charts svg_charts draws and its stylesheet. A table cell
is text, a number, or one of Link, Anchor, Status and Details, which the template's cell macro draws by
their cell_kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from markupsafe import Markup


@dataclass(frozen=True)
class Link:
    """A link: to an anchor of the page, or to a review draft beside it (css "review")."""

    href: str
    text: str
    css: str | None = None
    cell_kind: ClassVar[str] = "link"


@dataclass(frozen=True)
class Anchor:
    """A window's name carrying its anchor, for the windows without a section of their own."""

    id: str
    text: str
    cell_kind: ClassVar[str] = "anchor"


@dataclass(frozen=True)
class Status:
    """The status badge, and the coverage note when the window is under its coverage floor."""

    status: str
    label: str
    note: str | None = None
    cell_kind: ClassVar[str] = "status"


@dataclass(frozen=True)
class Details:
    """A disclosure: its summary, then a paragraph per line."""

    summary: str
    lines: tuple[str, ...]
    cell_kind: ClassVar[str] = "details"


@dataclass(frozen=True)
class Table:
    headers: Sequence[object]
    rows: Sequence[Sequence[object]]
    css: str = ""


@dataclass(frozen=True)
class More:
    """Under a capped table: how many rows it shows of how many, and which document lists them all."""

    shown: str
    total: str
    where: str


@dataclass(frozen=True)
class Figure:
    svg: Markup
    caption: str


@dataclass(frozen=True)
class Summary:
    cards: tuple[tuple[str, int, str], ...]  # (status, windows, label)
    compliance_percent: str | None  # None: no window could be judged
    judged: str  # what the compliance figure is over: "1 judged SLO window"
    not_judged: str | None  # "2 of 3 SLO windows could not be judged: 2 insufficient data"; None when every one was
    quality: str
    services: Table
    attention: str  # how many windows failed, are at risk or under the coverage floor
    attention_table: Table | None
    attention_more: More | None
    chart: Figure


@dataclass(frozen=True)
class HeldBack:
    """The alerts the low-traffic gate held back in a window."""

    min_bad_events: str
    count: str
    table: Table
    more: More | None


@dataclass(frozen=True)
class Alerts:
    period: str
    table: Table | None  # None: no alert fired
    more: More | None
    held: HeldBack | None


@dataclass(frozen=True)
class BudgetAlerts:
    period: str
    table: Table | None  # None: none would have fired
    more: More | None


@dataclass(frozen=True)
class Incident:
    severity: str
    start: str
    end: str
    bad_events: str
    peak_burn_rate: str
    draft: Link
    status_codes: str
    operations: str
    clients: str
    sample_lines: str


@dataclass(frozen=True)
class Incidents:
    period: str
    count: int
    shown: tuple[Incident, ...]
    more: More | None


@dataclass(frozen=True)
class WindowSection:
    """A failed or at-risk window in full."""

    anchor: str
    label: str
    status: Status
    budget: str
    no_event: str | None
    figures: tuple[Figure, ...]
    forecast: str
    thresholds: str
    alerts: Alerts
    budget_alerts: BudgetAlerts
    incidents: Incidents | None  # None: the plan has no entry for the SLO


@dataclass(frozen=True)
class SloTables:
    """What belongs to an SLO rather than to one of its windows; None: nothing to show."""

    slo: str
    drafts: Table | None
    plan: Table | None
    runs: Table | None
    learning: Table | None


@dataclass(frozen=True)
class ServiceSection:
    service: str
    anchor: str
    windows: str
    attention: int
    table: Table
    latency: Table | None
    sections: tuple[WindowSection, ...]
    slos: tuple[SloTables, ...]


@dataclass(frozen=True)
class CappedSection:
    """A section that is one capped table (targets, budget adjustments)."""

    table: Table
    more: More | None


@dataclass(frozen=True)
class Backtest:
    noise_below: str
    miss_above: str
    table: Table


@dataclass(frozen=True)
class Page:
    month: str
    state: str
    generated_at: str
    spec_hash: str
    code_version: str
    nav: tuple[Link, ...]
    summary: Summary
    targets: CappedSection | None
    adjustments: CappedSection | None
    services: tuple[ServiceSection, ...]
    backtest: Backtest | None
    input_data_versions: str
    svg_css: Markup  # svg_charts.SVG_CSS
