"""Who gets which task, decided in code: a pure core, no I/O.

The orchestrator's model may propose an assignee, but the decision is scored here, so the board
stays balanced whatever the model says. For each task, most urgent first, every eligible agent
is scored:

    eligible  the agent is available (not blocked, not paused), has room (open tasks below its
              capacity) and has the task's required capability (if the task names one)
    score     CAPABILITY  if it has the required capability (a task needing none: everyone equal)
            + LOAD_WEIGHT * (1 - open / capacity)        the emptier the better
            + IDLE_BONUS   if it has no open task at all
            + HINT_BONUS   if the model proposed it      a nudge, never enough to overload
            - SPECIALIST_PENALTY * extra capabilities     keep generalists free for odd jobs

The best score wins; ties go to the agent with fewer open tasks, then by name, so the result is
deterministic. Each assignment counts against the winner's load before the next task is scored.
A task no agent is eligible for stays unassigned (the caller escalates it).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

CAPABILITY = 10.0
LOAD_WEIGHT = 4.0
IDLE_BONUS = 1.0
HINT_BONUS = 0.5
SPECIALIST_PENALTY = 0.05
PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


@dataclass(frozen=True, slots=True)
class Candidate:
    """An agent as assignment sees it."""

    agent_id: uuid.UUID
    name: str
    capabilities: frozenset[str]
    open_tasks: int = 0
    capacity: int = 3
    is_available: bool = True


@dataclass(frozen=True, slots=True)
class Need:
    """A task waiting for an assignee."""

    task_id: uuid.UUID
    capability: str | None = None
    priority: str = "normal"
    proposed_agent_id: uuid.UUID | None = None


def is_eligible(agent: Candidate, need: Need, open_tasks: int) -> bool:
    """Whether the agent may take the task now."""
    if not agent.is_available or open_tasks >= agent.capacity:
        return False
    return need.capability is None or need.capability in agent.capabilities


def score(agent: Candidate, need: Need, open_tasks: int) -> float | None:
    """How well the agent fits the task (higher is better), or None when it is not eligible."""
    if not is_eligible(agent, need, open_tasks):
        return None
    points = CAPABILITY if need.capability is not None else 0.0
    points += LOAD_WEIGHT * (1 - open_tasks / agent.capacity)
    points += IDLE_BONUS if open_tasks == 0 else 0.0
    points += HINT_BONUS if need.proposed_agent_id == agent.agent_id else 0.0
    extra = len(agent.capabilities) - (1 if need.capability in agent.capabilities else 0)
    return points - SPECIALIST_PENALTY * max(extra, 0)


def assign(needs: Sequence[Need], agents: Sequence[Candidate]) -> dict[uuid.UUID, uuid.UUID | None]:
    """An assignee (or None) for every task, most urgent first, each counted as it is given."""
    load = {agent.agent_id: agent.open_tasks for agent in agents}
    ordered = sorted(
        enumerate(needs), key=lambda item: (PRIORITY_ORDER.get(item[1].priority, 2), item[0])
    )
    chosen: dict[uuid.UUID, uuid.UUID | None] = {}
    for _index, need in ordered:
        ranked = [
            (points, -load[agent.agent_id], agent.name, agent)
            for agent in agents
            if (points := score(agent, need, load[agent.agent_id])) is not None
        ]
        if not ranked:
            chosen[need.task_id] = None
            continue
        best = max(ranked, key=lambda r: (r[0], r[1], _reverse(r[2])))[3]
        load[best.agent_id] += 1
        chosen[need.task_id] = best.agent_id
    return chosen


def _reverse(name: str) -> tuple[int, ...]:
    """Sorts names descending under `max`, so the alphabetically first name wins a tie."""
    return tuple(-ord(c) for c in name)
