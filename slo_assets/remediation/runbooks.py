"""Runbooks: YAML match rules -> ordered actions, validated against runbook.schema.json."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from jsonschema import Draft7Validator

from slo_assets.core.durations import DurationError, duration_seconds
from slo_assets.core.errors import DefinitionError
from slo_assets.core.safe_yaml import SHOWN_CHARACTERS, GuardedSafeLoader, shown

DEFAULT_TIMEOUT_S = 10.0
# A problem line shows at most this much (a value from the file may be huge).
PROBLEM_CHARS = 300
# `{field}`-like text: in a command's program it could only be a placeholder, never a fixed path.
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# Kinds that send a message to people: grouped per service and channel, rate-limited, quiet hours.
MESSAGE_KINDS = ("notify", "slack", "email", "pagerduty")


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
    runbook: str
    kind: str
    name: str
    spec: dict = field(hash=False, compare=False)
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

    def channel(self) -> str:
        """Where a message goes, by the variables naming it: actions sharing it share its rate limit
        and their messages about one service are sent once."""
        if self.kind == "email":
            return f"email:{self.spec['server_env']}:{','.join(sorted(self.spec['to']))}"
        if self.kind == "pagerduty":
            return f"pagerduty:{self.spec['routing_key_env']}"
        return f"{self.kind}:{self.spec.get('url_env', '')}"

    def env_names(self) -> list[str]:
        """The variables a command gets: env_allow (names or {name, secret}) and secret_env."""
        allowed = [e["name"] if isinstance(e, dict) else e for e in self.spec.get("env_allow") or []]
        return list(dict.fromkeys(allowed + list(self.spec.get("secret_env") or [])))

    def secret_env_names(self) -> set[str]:
        """Variables whose values are secrets: url_env, headers_env, env_allow entries marked secret, secret_env."""
        names = {self.spec[k] for k in ("url_env", "routing_key_env", "password_env") if self.spec.get(k)}
        names |= set((self.spec.get("headers_env") or {}).values())
        names |= {e["name"] for e in self.spec.get("env_allow") or [] if isinstance(e, dict) and e.get("secret")}
        return names | set(self.spec.get("secret_env") or [])

    def describe(self) -> dict:
        """What the plan shows: never the secret values, only the variable names."""
        shown = {k: v for k, v in self.spec.items() if k not in ("kind", "name")}
        return {"runbook": self.runbook, "kind": self.kind, "name": self.name, **shown}


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


def _command_cwd(action: dict, folder: Path, root: Path) -> tuple[str, str | None]:
    """(absolute cwd, problem or None): cwd is relative to the runbook's folder and must stay in the root."""
    cwd = Path(os.path.normpath(folder / action.get("cwd", ".")))
    if not inside_root(cwd, root):
        return str(cwd), f"{action['cwd']!r} is outside the allowed root {root} (allowed_cwd_root)"
    return str(cwd), None


def _program_problem(action: dict) -> str | None:
    """Why a command's argv[0] is not a fixed program, or None: a value from the logs must never
    choose what runs, so a placeholder (mapped or not) may only be a later argument."""
    program = action["argv"][0]
    mapped = [key for key in action.get("map_fields") or {} if key and key in program]
    if mapped or PLACEHOLDER.search(program):
        return (f"{shown(program)} (action {action['name']}) holds a placeholder; the program must be fixed, "
                f"placeholders may only be later arguments")
    if not program.strip():
        return f"the program of action {action['name']} is empty"
    return None


def load_runbooks(paths: list[Path], allowed_cwd_root: Path | str | None = None) -> list[Runbook]:
    """`allowed_cwd_root`: where commands may run; default each runbook file's own folder."""
    problems: list[str] = []
    runbooks: list[Runbook] = []
    for path in map(Path, paths):
        try:
            documents = [d for d in yaml.load_all(path.read_text(), Loader=GuardedSafeLoader) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        folder = path.resolve().parent
        root = Path(allowed_cwd_root).resolve() if allowed_cwd_root is not None else folder
        for index, doc in enumerate(documents, start=1):
            meta = doc.get("metadata") if isinstance(doc, dict) else None
            name = _bounded(meta["name"], SHOWN_CHARACTERS) if isinstance(meta, dict) and isinstance(meta.get("name"), str) else "?"
            errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
            for error in errors:
                where = _bounded(".".join(str(p) for p in error.absolute_path) or "(document)")
                problems.append(f"{path}: document {index} ({name}): {where}: {_problem(error)}")
            if errors:
                continue
            spec = doc["spec"]
            place = f"{path}: document {index} ({name})"

            def duration(value, default: float, field_path: str, place=place) -> float:
                # The schema checks the form; a form past what a timedelta holds ("99999999999999999999d") is named here.
                try:
                    return seconds(value, default)
                except DurationError as too_long:
                    problems.append(f"{place}: {field_path}: {too_long}")
                    return default

            default_cooldown = duration(spec.get("cooldown"), 0.0, "spec.cooldown")

            def quiet(value: dict | None, field_path: str, place=place) -> QuietHours | None:
                if not value:
                    return None
                zone = value.get("timezone", "UTC")
                try:
                    ZoneInfo(zone)
                except (ZoneInfoNotFoundError, ValueError):
                    problems.append(f"{place}: {field_path}.timezone: {zone!r} is not an IANA time zone")
                    return None
                return QuietHours(_clock_minutes(value["start"]), _clock_minutes(value["end"]), zone,
                                  tuple(value.get("allow_severity", ["page"])))

            actions = []
            for number, a in enumerate(spec["actions"]):
                cwd, problem = _command_cwd(a, folder, root) if a["kind"] == "command" else (None, None)
                if problem:
                    problems.append(f"{path}: document {index} ({name}): spec.actions.{number}.cwd: {problem}")
                if a["kind"] == "command" and (problem := _program_problem(a)):
                    problems.append(f"{place}: spec.actions.{number}.argv.0: {problem}")
                actions.append(Action(
                    runbook=name, kind=a["kind"], name=a["name"], spec=a,
                    cooldown_s=duration(a.get("cooldown"), default_cooldown, f"spec.actions.{number}.cooldown"),
                    timeout_s=duration(a.get("timeout"), DEFAULT_TIMEOUT_S, f"spec.actions.{number}.timeout"),
                    attempts=(a.get("retry") or {}).get("attempts", 1),
                    backoff_s=duration((a.get("retry") or {}).get("backoff"), 1.0, f"spec.actions.{number}.retry.backoff"),
                    cwd=cwd, cwd_root=str(root) if cwd is not None else None,
                    rate_limit=RateLimit(a["rate_limit"]["messages"], duration(a["rate_limit"]["per"], 0.0, f"spec.actions.{number}.rate_limit.per"))
                    if a.get("rate_limit") else None,
                    quiet_hours=quiet(a.get("quiet_hours"), f"spec.actions.{number}.quiet_hours"),
                ))
            levels = []
            names_seen: list[str] = []
            for number, level in enumerate(spec.get("escalation") or []):
                after = duration(level.get("after"), 0.0, f"spec.escalation.{number}.after")
                if levels and after <= levels[-1].after_s:
                    problems.append(f"{place}: spec.escalation.{number}.after: each level must come after the one before it")
                for action_name in level["actions"]:
                    if action_name not in {a.name for a in actions}:
                        problems.append(f"{place}: spec.escalation.{number}.actions: {action_name!r} is not an action of this runbook")
                    elif action_name in names_seen:
                        problems.append(f"{place}: spec.escalation.{number}.actions: {action_name!r} is in an earlier level")
                    names_seen.append(action_name)
                levels.append(Level(after, tuple(level["actions"])))
            runbooks.append(Runbook(name, doc["metadata"].get("description", ""), spec["match"], tuple(actions), tuple(levels)))
    names = [r.name for r in runbooks]
    problems += [f"runbook name {n!r} is defined more than once" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise RunbookError(problems)
    return runbooks
