"""Typed contracts of the remediation layer: the remediation plan and its entries, the runbook actions
(a union on `kind`), the outcome of carrying one out, and what one delivery came to.

Every model is frozen and refuses a field it does not declare; pydantic validates and serializes them.

- The plan (remediation_plan.json) is `RemediationPlan.model_dump(mode="json")`: fields in the order
  they are declared here, figures as computed (`Number`: an integral budget figure stays an int). A
  field only a live alert's entry has (`live_alert`, an incident's `alert` and `window`) is left out
  of a month's entry. Defaults are only for what plans of older code versions lack (remediation-2
  added `burning_at_end` and `evaluated_until`, remediation-3 an incident's `clients`) and for what a
  live alert's entry has no figure for.
- A runbook action is parsed from its runbook after runbook.schema.json validated it (runbooks.py),
  into the model of its `kind`. It, and each part of it, dumps the keys its runbook gave, in the
  runbook's order (`kind` and `name` first): the plan shows each action as it was written.
- An `Outcome` dumps as its row of remediation_runs, its detail as JSON text, and is read back from one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

# A JSON figure: an int when integral, else a float (slo.budget.as_number); kept as it came.
Number = int | float
Severity = Literal["page", "ticket", "none"]
Status = Literal["failed", "at_risk", "met", "insufficient_coverage", "insufficient_data"]
Shape = Literal["error_burst", "latency"]
ActionKind = Literal["notify", "webhook", "command", "annotate", "slack", "pagerduty", "email"]
OutcomeStatus = Literal["ok", "failed", "dry_run", "skipped_cooldown", "skipped_already_done", "skipped_quiet_hours",
                        "skipped_rate_limit"]
PlanField = Literal["service", "slo", "status", "incident_start", "incident_end", "top_operation"]
PagerDutySeverity = Literal["critical", "error", "warning", "info"]


def _absent(value: object) -> bool:
    return value is None


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Runbook actions ---------------------------------------------------------------------------------

class Written(Contract):
    """A part of a runbook document: it dumps the keys it was given, in the order given (the names in
    LEADING first, given or not)."""
    LEADING: ClassVar[tuple[str, ...]] = ()
    _keys: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_keys(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        part = handler(data)
        if isinstance(data, Mapping) and isinstance(part, Written):
            part._keys = tuple(data)
        return part

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        given = self._keys or tuple(self._written_name(name) for name in type(self).model_fields if name in self.model_fields_set)
        order = [*self.LEADING, *(key for key in given if key not in self.LEADING)]
        return {key: dumped[key] for key in order if key in dumped}

    @classmethod
    def _written_name(cls, name: str) -> str:
        alias = cls.model_fields[name].serialization_alias or cls.model_fields[name].alias
        return alias or name


class Retry(Written):
    attempts: int = 1
    backoff: str | None = None


class RateLimitSpec(Written):
    messages: int
    per: str


class QuietHoursSpec(Written):
    start: str
    end: str
    timezone: str = "UTC"
    allow_severity: tuple[Severity, ...] = ("page",)


class AllowedEnv(Written):
    name: str
    secret: bool = False


class PagerDutySeverities(Written):
    """Plan severity -> PagerDuty severity, for those the runbook names."""
    page: PagerDutySeverity | None = None
    ticket: PagerDutySeverity | None = None
    none: PagerDutySeverity | None = None


class ActionSpec(Written):
    """What every action kind has: its name, and the cooldown, timeout and retry as written (durations)."""
    LEADING: ClassVar[tuple[str, ...]] = ("kind", "name")
    name: str
    cooldown: str | None = None
    timeout: str | None = None
    retry: Retry | None = None

    def secret_env_names(self) -> set[str]:
        """Variables whose values are secrets, redacted from every outcome."""
        return set()


class HttpAction(ActionSpec):
    """A kind that POSTs to the URL held by the variable `url_env` (notify, webhook, slack)."""
    url_env: str

    def secret_env_names(self) -> set[str]:
        return {self.url_env}


class NotifyAction(HttpAction):
    kind: Literal["notify"] = "notify"
    format: Literal["slack", "json"] = "slack"
    rate_limit: RateLimitSpec | None = None
    quiet_hours: QuietHoursSpec | None = None


class WebhookAction(HttpAction):
    kind: Literal["webhook"] = "webhook"
    headers_env: dict[str, str] = Field(default_factory=dict)  # header -> variable holding its value

    def secret_env_names(self) -> set[str]:
        return {self.url_env, *self.headers_env.values()}


class CommandAction(ActionSpec):
    kind: Literal["command"] = "command"
    argv: tuple[str, ...]
    cwd: str | None = None
    env_allow: tuple[str | AllowedEnv, ...] = ()
    secret_env: tuple[str, ...] = ()
    values_after: Literal["--", "reject"] = "reject"
    map_fields: dict[str, PlanField] = Field(default_factory=dict)  # placeholder -> plan field

    def env_names(self) -> list[str]:
        """The variables the command gets: env_allow (names or {name, secret}) and secret_env."""
        allowed = [e.name if isinstance(e, AllowedEnv) else e for e in self.env_allow]
        return list(dict.fromkeys(allowed + list(self.secret_env)))

    def secret_env_names(self) -> set[str]:
        return {e.name for e in self.env_allow if isinstance(e, AllowedEnv) and e.secret} | set(self.secret_env)


class AnnotateAction(ActionSpec):
    kind: Literal["annotate"] = "annotate"
    text: str = ""


class SlackAction(HttpAction):
    kind: Literal["slack"] = "slack"
    rate_limit: RateLimitSpec | None = None
    quiet_hours: QuietHoursSpec | None = None


class PagerDutyAction(ActionSpec):
    kind: Literal["pagerduty"] = "pagerduty"
    routing_key_env: str
    url_env: str | None = None  # unset or empty: the Events API's own endpoint
    severity: PagerDutySeverities | None = None
    source: str = "slo-assets"
    rate_limit: RateLimitSpec | None = None
    quiet_hours: QuietHoursSpec | None = None

    def secret_env_names(self) -> set[str]:
        return {self.routing_key_env} | ({self.url_env} if self.url_env else set())


class EmailAction(ActionSpec):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)
    kind: Literal["email"] = "email"
    server_env: str  # host:port
    sender: str = Field(alias="from")
    to: tuple[str, ...]
    starttls: bool = False
    ca_file_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    rate_limit: RateLimitSpec | None = None
    quiet_hours: QuietHoursSpec | None = None

    def secret_env_names(self) -> set[str]:
        return {self.password_env} if self.password_env else set()


RunbookAction = Annotated[NotifyAction | WebhookAction | CommandAction | AnnotateAction | SlackAction | PagerDutyAction | EmailAction,
                          Field(discriminator="kind")]
RUNBOOK_ACTION: TypeAdapter[RunbookAction] = TypeAdapter(RunbookAction)


def runbook_action(data: Mapping[str, Any]) -> RunbookAction:
    """The model of one `spec.actions` item of a runbook, by its kind."""
    return RUNBOOK_ACTION.validate_python(data)


class PlannedAction(Contract):
    """A runbook action as the plan lists it: its runbook, the action as written, its place in the
    entry's order, and the runbook's recovered share so far (None untried). Its JSON is flat:
    runbook, the action's keys, order, recovered_share."""
    runbook: str
    action: RunbookAction
    order: int
    recovered_share: Number | None

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "action" not in data:
            placed = {key: data[key] for key in ("runbook", "order", "recovered_share") if key in data}
            return {**placed, "action": {key: value for key, value in data.items() if key not in placed}}
        return data

    @model_serializer(mode="wrap")
    def _flat(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {"runbook": dumped["runbook"], **dumped["action"], "order": dumped["order"], "recovered_share": dumped["recovered_share"]}


# The remediation plan ----------------------------------------------------------------------------

class OperationCount(Contract):
    operation: str
    bad_events: int


class StatusCount(Contract):
    status: int
    bad_events: int


class ClientCount(Contract):
    client: str
    bad_events: int


class Clients(Contract):
    """Distinct clients among an incident's bad requests; `distinct` is None when none of them has a
    client (the logs carry none)."""
    distinct: int | None
    bad_requests_without_client: int
    top: tuple[ClientCount, ...]


class SampleLine(Contract):
    source: str  # file:line
    raw: str | None  # the line's first 512 bytes; None when the file is gone


class Incident(Contract):
    """One incident of an SLO: its alert firings merged (plan.incident_windows) and diagnosed; a live
    alert's entry has one, the episode, naming its alert and window and no diagnosis."""
    service: str
    slo: str
    start: str
    end: str
    severity: Severity
    bad_events: int
    peak_burn_rate: Number
    alert: str | None = Field(default=None, exclude_if=_absent)
    window: str | None = Field(default=None, exclude_if=_absent)
    top_operations: tuple[OperationCount, ...] = ()
    top_status_codes: tuple[StatusCount, ...] = ()
    clients: Clients | None = None
    sample_lines: tuple[SampleLine, ...] = ()


class PlanWindow(Contract):
    """One evaluated window of the SLO; a live alert's has no SLI or target."""
    objective: str
    window: str
    status: Status
    sli: Number | None = None
    target: Number | None = None
    remaining_ratio: Number | None


class PlanEntry(Contract):
    """One SLO that failed, is at risk or paged (or one live alert episode): its incidents and the runbook actions matched."""
    slo: str
    service: str
    status: Status
    severity: Severity
    shape: Shape
    windows: tuple[PlanWindow, ...]
    fingerprint: str
    # An alert still firing at the last minute evaluated: escalation climbs only while this holds.
    burning_at_end: bool = False
    evaluated_until: str | None = None
    incidents: tuple[Incident, ...]
    live_alert: str | None = Field(default=None, exclude_if=_absent)
    runbooks: tuple[str, ...]
    actions: tuple[PlannedAction, ...]
    note: str | None


class PlanSummary(Contract):
    entries: int
    with_actions: int
    incidents: int


class RemediationPlan(Contract):
    """remediation_plan.json; the asset writing it adds the data version of the compliance_report it
    was written from, and its code version."""
    schema_version: int
    period: str
    entries: tuple[PlanEntry, ...]
    summary: PlanSummary
    compliance_data_version: str | None = None
    code_version: str | None = None


# Outcomes ----------------------------------------------------------------------------------------

class Delivery(Contract):
    """What one action came to: ok or failed (or skipped), why not, after how many attempts, and what to record."""
    status: OutcomeStatus
    reason: str | None = None
    attempts: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)


class Outcome(Contract):
    """One action carried out (or skipped) for one breach: a row of remediation_runs."""
    period: str
    slo: str
    runbook: str
    action: str
    kind: ActionKind
    status: OutcomeStatus
    reason: str | None
    attempts: int
    started_at: str
    finished_at: str
    idempotency_key: str
    run_key: str
    dry_run: bool
    detail: dict[str, Any] = Field(default_factory=dict)

    @field_validator("detail", mode="before")
    @classmethod
    def _stored_detail(cls, value: Any) -> Any:
        """A row read back from the warehouse holds its detail as JSON text; unreadable counts as none."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return {}
        return value if isinstance(value, dict) else {}

    @field_serializer("detail")
    def _detail_text(self, detail: dict[str, Any]) -> str:
        return json.dumps(detail)


def outcomes_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """The outcomes of remediation_runs rows (as `polars.DataFrame.to_dicts()` gives them)."""
    return [Outcome.model_validate(row) for row in rows]
