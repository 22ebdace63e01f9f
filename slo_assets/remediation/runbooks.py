"""Runbooks: YAML match rules -> ordered actions, validated against runbook.schema.json, each action
then parsed into the model of its kind (models.RunbookAction)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from jsonschema import Draft7Validator
from pydantic import ValidationError

from slo_assets.core.durations import DurationError, duration_seconds
from slo_assets.core.errors import DefinitionError
from slo_assets.core.safe_yaml import SHOWN_CHARACTERS, GuardedSafeLoader, shown
from slo_assets.remediation.models import (
    ActionKind,
    ActionSpec,
    CommandAction,
    EmailAction,
    HttpAction,
    NotifyAction,
    PagerDutyAction,
    PlannedAction,
    QuietHoursSpec,
    RunbookAction,
    SlackAction,
    runbook_action,
)

DEFAULT_TIMEOUT_S = 10.0
# A problem line shows at most this much (a value from the file may be huge).
PROBLEM_CHARS = 300
# `{field}`-like text: in a command's program it could only be a placeholder, never a fixed path.
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# Kinds that send a message to people: grouped per service and channel, rate-limited, quiet hours.
MESSAGE_ACTIONS = (NotifyAction, SlackAction, PagerDutyAction, EmailAction)
Spec = TypeVar("Spec", bound=ActionSpec)


class RunbookError(DefinitionError):
    """Invalid runbooks; `problems` lists 'file: document N (name): field.path: message' lines."""


def seconds(text: str | None, default: float) -> float:
    """A duration the schema has checked, in seconds; `default` when it is not given."""
    return duration_seconds(text) if text else default


def inside_root(directory: Path, root: Path) -> bool:
    """Is `directory`, symlinks and `..` resolved, the root or below it?"""
    return Path(os.path.realpath(directory)).is_relative_to(os.path.realpath(root))


@dataclass(frozen=True)
class RateLimit:
    messages: int
    per_s: float


@dataclass(frozen=True)
class QuietHours:
    """[start, end) local minutes of the day in `timezone`; end <= start wraps past midnight."""
    start_min: int
    end_min: int
    timezone: str = "UTC"
    allow_severity: tuple[str, ...] = ("page",)

    def _inside(self, minute: int) -> bool:
        if self.start_min < self.end_min:
            return self.start_min <= minute < self.end_min
        return minute >= self.start_min or minute < self.end_min

    def quiet_until(self, moment_s: float) -> datetime | None:
        """The end of the quiet period `moment_s` falls in (aware, local), or None outside one."""
        local = datetime.fromtimestamp(moment_s, UTC).astimezone(ZoneInfo(self.timezone))
        if not self._inside(local.hour * 60 + local.minute):
            return None
        end = local.replace(hour=self.end_min // 60, minute=self.end_min % 60, second=0, microsecond=0)
        return end if end > local else end + timedelta(days=1)


def _clock_minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class Action:
    """A runbook action as loaded: the action as written (`spec`, of its kind's model) and its settings in seconds."""
    runbook: str
    spec: RunbookAction = field(hash=False)
    cooldown_s: float = 0.0
    timeout_s: float = DEFAULT_TIMEOUT_S
    attempts: int = 1
    backoff_s: float = 1.0
    # A command runs in `cwd` (absolute, default the root), which must stay inside `cwd_root`;
    # without a root (an Action built in code) a command runs where the process runs and may not set cwd.
    cwd: str | None = None
    cwd_root: str | None = None
    rate_limit: RateLimit | None = None
    quiet_hours: QuietHours | None = None

    @property
    def kind(self) -> ActionKind:
        return self.spec.kind

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def grouped(self) -> bool:
        """A message action: its messages about one service go out as one per channel (a notify in
        JSON format is a webhook's payload, sent alone)."""
        return isinstance(self.spec, MESSAGE_ACTIONS) and not (isinstance(self.spec, NotifyAction) and self.spec.format == "json")

    def channel(self) -> str:
        """Where a message goes, by the variables naming it: actions sharing it share its rate limit
        and their messages about one service are sent once."""
        spec = self.spec
        if isinstance(spec, EmailAction):
            return f"email:{spec.server_env}:{','.join(sorted(spec.to))}"
        if isinstance(spec, PagerDutyAction):
            return f"pagerduty:{spec.routing_key_env}"
        return f"{self.kind}:{spec.url_env if isinstance(spec, HttpAction) else ''}"

    def spec_as(self, model: type[Spec]) -> Spec:
        """The spec as the model of the kinds the caller handles; a TypeError for another kind."""
        if not isinstance(self.spec, model):
            raise TypeError(f"{self.runbook}/{self.name} is a {self.kind} action, not a {model.__name__}")
        return self.spec

    def env_names(self) -> list[str]:
        """The variables a command gets: env_allow (names or {name, secret}) and secret_env."""
        return self.spec.env_names() if isinstance(self.spec, CommandAction) else []

    def secret_env_names(self) -> set[str]:
        """Variables whose values are secrets: url_env, routing_key_env, password_env, headers_env,
        env_allow entries marked secret, secret_env."""
        return self.spec.secret_env_names()

    def planned(self, order: int, recovered_share: float | None = None) -> PlannedAction:
        """What the plan shows: the action as written (never the secret values, only the variable names)."""
        return PlannedAction(runbook=self.runbook, action=self.spec, order=order, recovered_share=recovered_share)


@dataclass(frozen=True)
class Level:
    """An escalation level: its actions run once the SLO still burns `after_s` after the episode opened (0: at once)."""
    after_s: float
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Runbook:
    name: str
    description: str
    match: dict = field(hash=False, compare=False)
    actions: tuple[Action, ...] = ()
    escalation: tuple[Level, ...] = ()

    def level_of(self, action: str) -> int:
        """The level an action belongs to; 0 (at once) when no escalation names it."""
        return next((n for n, level in enumerate(self.escalation) if action in level.actions and level.after_s > 0), 0)

    def matches(self, facts: dict) -> bool:
        """facts: service, slo, status, severity (page/ticket/none), shape, peak_burn_rate."""
        for key, wanted in self.match.items():
            if key == "min_burn_rate":
                if (facts.get("peak_burn_rate") or 0) < wanted:
                    return False
                continue
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if facts.get(key) not in allowed:
                return False
        return True


def _bounded(text: str, limit: int = PROBLEM_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _problem(error) -> str:
    """jsonschema's message with the value it quotes shortened: the value is whatever the file holds."""
    message = error.message
    if len(message) > PROBLEM_CHARS:
        message = message.replace(repr(error.instance), shown(error.instance))
    return _bounded(message)


@cache
def _validator() -> Draft7Validator:
    schema = json.loads(resources.files("slo_assets.remediation").joinpath("runbook.schema.json").read_text())
    return Draft7Validator(schema)


def _command_cwd(action: CommandAction, folder: Path, root: Path) -> tuple[str, str | None]:
    """(absolute cwd, problem or None): cwd is relative to the runbook's folder and must stay in the root."""
    cwd = Path(os.path.normpath(folder / (action.cwd or ".")))
    if not inside_root(cwd, root):
        return str(cwd), f"{action.cwd or '.'!r} is outside the allowed root {root} (allowed_cwd_root)"
    return str(cwd), None


def _program_problem(action: CommandAction) -> str | None:
    """Why a command's argv[0] is not a fixed program, or None: a value from the logs must never
    choose what runs, so a placeholder (mapped or not) may only be a later argument."""
    program = action.argv[0]
    mapped = [key for key in action.map_fields if key and key in program]
    if mapped or PLACEHOLDER.search(program):
        return (f"{shown(program)} (action {action.name}) holds a placeholder; the program must be fixed, "
                f"placeholders may only be later arguments")
    if not program.strip():
        return f"the program of action {action.name} is empty"
    return None


@dataclass
class _Document:
    """A runbook document being loaded: where its problems are told ('file: document N (name)') and
    the list they join, in the order they are found."""
    place: str
    problems: list[str]

    def duration(self, value, default: float, field_path: str) -> float:
        # The schema checks the form; a form past what a timedelta holds ("99999999999999999999d") is named here.
        try:
            return seconds(value, default)
        except DurationError as too_long:
            self.problems.append(f"{self.place}: {field_path}: {too_long}")
            return default

    def quiet(self, value: QuietHoursSpec | None, field_path: str) -> QuietHours | None:
        if value is None:
            return None
        try:
            ZoneInfo(value.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.problems.append(f"{self.place}: {field_path}.timezone: {value.timezone!r} is not an IANA time zone")
            return None
        return QuietHours(_clock_minutes(value.start), _clock_minutes(value.end), value.timezone, tuple(value.allow_severity))


def _read_documents(path: Path, problems: list[str]) -> list | None:
    """The file's YAML documents (empty ones left out), or None when it cannot be read or parsed."""
    try:
        return [d for d in yaml.load_all(path.read_text(), Loader=GuardedSafeLoader) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path}: {exc}")
        return None


def _document_name(doc) -> str:
    """metadata.name as shown in problems (bounded), or '?' when the document has none."""
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    return _bounded(meta["name"], SHOWN_CHARACTERS) if isinstance(meta, dict) and isinstance(meta.get("name"), str) else "?"


def _schema_problems(path: Path, index: int, name: str, doc) -> list[str]:
    """What runbook.schema.json finds wrong in the document, in the order of the fields' paths."""
    problems = []
    for error in sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = _bounded(".".join(str(p) for p in error.absolute_path) or "(document)")
        problems.append(f"{path}: document {index} ({name}): {where}: {_problem(error)}")
    return problems


def _load_action(number: int, written: dict, name: str, default_cooldown: float, folder: Path, root: Path, document: _Document) -> Action | None:
    """spec.actions.<number> as loaded, its problems told; None when it does not parse into its kind's model."""
    try:
        a = runbook_action(written)
    except ValidationError as invalid:  # the schema above admits what the models do: a mismatch is named, not raised
        document.problems.append(f"{document.place}: spec.actions.{number}: {_bounded(str(invalid).replace(chr(10), ' '))}")
        return None
    cwd, problem = _command_cwd(a, folder, root) if isinstance(a, CommandAction) else (None, None)
    if problem:
        document.problems.append(f"{document.place}: spec.actions.{number}.cwd: {problem}")
    if isinstance(a, CommandAction) and (problem := _program_problem(a)):
        document.problems.append(f"{document.place}: spec.actions.{number}.argv.0: {problem}")
    message = a if isinstance(a, MESSAGE_ACTIONS) else None
    duration = document.duration
    return Action(
        runbook=name, spec=a,
        cooldown_s=duration(a.cooldown, default_cooldown, f"spec.actions.{number}.cooldown"),
        timeout_s=duration(a.timeout, DEFAULT_TIMEOUT_S, f"spec.actions.{number}.timeout"),
        attempts=a.retry.attempts if a.retry else 1,
        backoff_s=duration(a.retry.backoff if a.retry else None, 1.0, f"spec.actions.{number}.retry.backoff"),
        cwd=cwd, cwd_root=str(root) if cwd is not None else None,
        rate_limit=RateLimit(message.rate_limit.messages, duration(message.rate_limit.per, 0.0, f"spec.actions.{number}.rate_limit.per"))
        if message and message.rate_limit else None,
        quiet_hours=document.quiet(message.quiet_hours if message else None, f"spec.actions.{number}.quiet_hours"),
    )


def _escalation(written: list, actions: list[Action], document: _Document) -> list[Level]:
    """spec.escalation as loaded: each level later than the one before, naming actions of this runbook once."""
    place = document.place
    levels: list[Level] = []
    names_seen: list[str] = []
    for number, level in enumerate(written):
        after = document.duration(level.get("after"), 0.0, f"spec.escalation.{number}.after")
        if levels and after <= levels[-1].after_s:
            document.problems.append(f"{place}: spec.escalation.{number}.after: each level must come after the one before it")
        for action_name in level["actions"]:
            if action_name not in {a.name for a in actions}:
                document.problems.append(f"{place}: spec.escalation.{number}.actions: {action_name!r} is not an action of this runbook")
            elif action_name in names_seen:
                document.problems.append(f"{place}: spec.escalation.{number}.actions: {action_name!r} is in an earlier level")
            names_seen.append(action_name)
        levels.append(Level(after, tuple(level["actions"])))
    return levels


def _load_runbook(doc: dict, name: str, folder: Path, root: Path, document: _Document) -> Runbook:
    """A document the schema accepted, as a Runbook; its problems are told to `document`."""
    spec = doc["spec"]
    default_cooldown = document.duration(spec.get("cooldown"), 0.0, "spec.cooldown")
    actions = []
    for number, written in enumerate(spec["actions"]):
        action = _load_action(number, written, name, default_cooldown, folder, root, document)
        if action is not None:
            actions.append(action)
    levels = _escalation(spec.get("escalation") or [], actions, document)
    return Runbook(name, doc["metadata"].get("description", ""), spec["match"], tuple(actions), tuple(levels))


def _load_file(path: Path, allowed_cwd_root: Path | str | None, problems: list[str]) -> list[Runbook]:
    """The runbooks of one file; its problems join `problems`."""
    documents = _read_documents(path, problems)
    if documents is None:
        return []
    folder = path.resolve().parent
    root = Path(allowed_cwd_root).resolve() if allowed_cwd_root is not None else folder
    runbooks = []
    for index, doc in enumerate(documents, start=1):
        name = _document_name(doc)
        errors = _schema_problems(path, index, name, doc)
        problems.extend(errors)
        if errors:
            continue
        runbooks.append(_load_runbook(doc, name, folder, root, _Document(f"{path}: document {index} ({name})", problems)))
    return runbooks


def load_runbooks(paths: list[Path], allowed_cwd_root: Path | str | None = None) -> list[Runbook]:
    """`allowed_cwd_root`: where commands may run; default each runbook file's own folder."""
    problems: list[str] = []
    runbooks = [runbook for path in map(Path, paths) for runbook in _load_file(path, allowed_cwd_root, problems)]
    names = [r.name for r in runbooks]
    problems += [f"runbook name {n!r} is defined more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise RunbookError(problems)
    return runbooks
