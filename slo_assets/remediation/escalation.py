"""Escalation policies: levels of a runbook's actions with delays, walked on every sensor tick.

An episode is one SLO burning in one period: it opens at the first evaluation (a compliance_report
and the plan written from it) whose plan entry for the SLO is still burning at the end of its data
(an alert firing at the last evaluated minute), and it resolves at the first later evaluation where
the SLO no longer burns or has no plan entry. Level 0 (no `after`) is what the remediation run does
at once. Level n fires at the first evaluation made at or after open + `after` in which the SLO
still burns, once per episode, unless the episode was acknowledged (`slo-assets ack`) after it
opened. An acknowledged episode asks for an acknowledge run, a resolved one for a resolve run (the
PagerDuty events for the alerts its actions triggered).

`tick` is a pure function of the episodes so far, the newest evaluation of each month, the acks and
the runbooks: the same inputs give the same episodes and the same steps, whose run keys make a
repeated step harmless. The state lives in the sensor's cursor (the instance).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from slo_assets.remediation.models import PlanEntry
from slo_assets.remediation.runbooks import Runbook


@dataclass(frozen=True)
class Evaluation:
    """The newest compliance_report of a month that has its plan, as the escalation sensor sees it."""
    period: str
    storage_id: int
    evaluated_s: float  # when the report was materialized
    entries: tuple[PlanEntry, ...]


@dataclass(frozen=True)
class Ack:
    breach: str  # a fingerprint, or "period/slo"
    at_s: float
    by: str


class Episode(BaseModel):
    """One SLO burning in one period, as the escalation sensor's cursor keeps it (tick updates it)."""
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    period: str
    slo: str
    number: int
    opened_s: float
    opened_storage_id: int
    fingerprints: list[str] = Field(default_factory=list)
    fired: list[str] = Field(default_factory=list)  # "runbook#level"
    acked_s: float | None = None
    acked_by: str | None = None
    resolved_s: float | None = None

    @property
    def key(self) -> str:
        return f"{self.period}/{self.slo}"


@dataclass(frozen=True)
class Step:
    """A remediation run to launch: a level's actions for one SLO, or the resolve of an episode."""
    run_key: str
    period: str
    slo: str
    kind: str  # "level", "acknowledge" or "resolve"
    actions: tuple[str, ...]  # "runbook/action"
    note: str
    service: str = ""
    marker: str = ""  # "runbook#level" of a level step


def grouped(steps: list[Step]) -> list[tuple[str, list[Step]]]:
    """Level steps of one service, runbook and level in one tick go out as one run (its messages
    grouped, like the first level's); acknowledge and resolve steps stay one per episode. Each group
    has a run key made of its steps' keys, so the same tick's group is never launched twice."""
    groups: dict[tuple, list[Step]] = {}
    for step in steps:
        key = (step.period, step.service, step.marker) if step.kind == "level" else (step.run_key,)
        groups.setdefault(key, []).append(step)
    out = []
    for key, members in groups.items():
        if len(members) == 1:
            out.append((members[0].run_key, members))
        else:
            digest = hashlib.sha256("|".join(sorted(s.run_key for s in members)).encode()).hexdigest()[:16]
            out.append((f"escalation:{key[0]}:{key[1]}:{key[2]}:{digest}", members))
    return out


def burning(entry: PlanEntry | None) -> bool:
    return entry is not None and entry.burning_at_end


def _matches(ack: Ack, episode: Episode) -> bool:
    return ack.at_s >= episode.opened_s and (ack.breach == episode.key or ack.breach in episode.fingerprints)


def tick(episodes: dict[str, Episode], evaluations: list[Evaluation], acks: list[Ack],
         runbooks: list[Runbook]) -> tuple[dict[str, Episode], list[Step]]:
    """The episodes after this tick, and the runs it asks for. Time is the evaluations' own (when each
    report was made) and the acks': no clock is read. An episode climbs on any evaluation at or after
    its level's delay, and resolves only on an evaluation newer than the one that opened it."""
    by_name = {r.name: r for r in runbooks}
    episodes = {k: v.model_copy(deep=True) for k, v in episodes.items()}
    steps: list[Step] = []
    for evaluation in sorted(evaluations, key=lambda e: e.storage_id):
        entries = {e.slo: e for e in evaluation.entries}
        open_here = [e for e in episodes.values() if e.period == evaluation.period and e.resolved_s is None]
        for episode in open_here:
            entry = entries.get(episode.slo)
            if evaluation.storage_id <= episode.opened_storage_id or burning(entry):
                continue
            episode.resolved_s = evaluation.evaluated_s
            steps.append(Step(f"escalation:{episode.key}:{episode.number}:resolve", episode.period, episode.slo, "resolve", (),
                              f"{episode.key} no longer burns (evaluation {evaluation.storage_id}): resolved"))
        for slo, entry in entries.items():
            if not burning(entry):
                continue
            episode = episodes.get(f"{evaluation.period}/{slo}")
            if episode is None or episode.resolved_s is not None:
                if episode is not None and evaluation.storage_id <= episode.opened_storage_id:
                    continue
                number = 1 if episode is None else episode.number + 1
                episode = Episode(period=evaluation.period, slo=slo, number=number, opened_s=evaluation.evaluated_s,
                                  opened_storage_id=evaluation.storage_id)
                episodes[episode.key] = episode
            if entry.fingerprint not in episode.fingerprints:
                episode.fingerprints.append(entry.fingerprint)
            for ack in acks:
                if episode.acked_s is None and _matches(ack, episode):
                    episode.acked_s, episode.acked_by = ack.at_s, ack.by
                    steps.append(Step(f"escalation:{episode.key}:{episode.number}:acknowledge", episode.period, slo, "acknowledge", (),
                                      f"{episode.key} acknowledged by {ack.by or 'someone'}: the escalation stops"))
            if episode.acked_s is not None:
                continue
            for runbook_name in entry.runbooks:
                runbook = by_name.get(runbook_name)
                for number, level in enumerate(runbook.escalation if runbook else ()):
                    marker = f"{runbook_name}#{number}"
                    if level.after_s <= 0 or marker in episode.fired or evaluation.evaluated_s < episode.opened_s + level.after_s:
                        continue
                    episode.fired.append(marker)
                    steps.append(Step(f"escalation:{episode.key}:{episode.number}:{marker}", episode.period, slo, "level",
                                      tuple(f"{runbook_name}/{a}" for a in level.actions),
                                      f"{episode.key} still burns {(evaluation.evaluated_s - episode.opened_s) / 60:.0f} min after "
                                      f"it opened: level {number} of {runbook_name}", entry.service, marker))
    return episodes, steps


def episodes_from_json(data: dict[str, Any] | None) -> dict[str, Episode]:
    return {key: Episode.model_validate(value) for key, value in (data or {}).items()}


def episodes_to_json(episodes: dict[str, Episode]) -> dict[str, Any]:
    return {key: episode.model_dump() for key, episode in sorted(episodes.items())}
