"""The task state machine: a pure core, no I/O.

    inbox ──▶ assigned ──▶ in_progress ──▶ review ──▶ done
      ▲  ◀──────┘ ▲ ◀──────────┘   ▲ ◀──────┘        │
      │           │                └─────────────────┘ (reopen)
      └───────── blocked ◀── any open status ──▶ blocked

Guards on top of the graph: assigned, in_progress and review need an assignee; inbox needs none;
in_progress needs every dependency done; done needs every subtask done.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from missionctl.errors import InvalidTransition


class TaskStatus(StrEnum):
    """Where a task is on the board."""

    INBOX = "inbox"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    DONE = "done"
    BLOCKED = "blocked"


S = TaskStatus
BOARD_COLUMNS: tuple[TaskStatus, ...] = (
    S.INBOX,
    S.ASSIGNED,
    S.IN_PROGRESS,
    S.REVIEW,
    S.DONE,
    S.BLOCKED,
)

GRAPH: dict[TaskStatus, tuple[TaskStatus, ...]] = {
    S.INBOX: (S.ASSIGNED, S.BLOCKED),
    S.ASSIGNED: (S.INBOX, S.IN_PROGRESS, S.BLOCKED),
    S.IN_PROGRESS: (S.ASSIGNED, S.REVIEW, S.BLOCKED),
    S.REVIEW: (S.IN_PROGRESS, S.DONE, S.BLOCKED),
    S.DONE: (S.IN_PROGRESS,),
    S.BLOCKED: (S.INBOX, S.ASSIGNED, S.IN_PROGRESS),
}


@dataclass(frozen=True, slots=True)
class TaskFacts:
    """What the guards need to know about a task beyond its status."""

    has_assignees: bool
    dependencies_done: bool = True
    subtasks_done: bool = True


def guard_failure(target: TaskStatus, facts: TaskFacts) -> str | None:
    """Why a task with these facts may not enter `target`, or None if it may."""
    if target in (S.ASSIGNED, S.IN_PROGRESS, S.REVIEW) and not facts.has_assignees:
        return "the task has no assignee"
    if target is S.INBOX and facts.has_assignees:
        return "the task still has assignees; unassign it first"
    if target is S.IN_PROGRESS and not facts.dependencies_done:
        return "a dependency is not done"
    if target is S.DONE and not facts.subtasks_done:
        return "a subtask is not done"
    return None


ALL_FACTS = frozenset({"has_assignees", "dependencies_done", "subtasks_done"})


def facts_needed(target: TaskStatus) -> frozenset[str]:
    """The facts `guard_failure(target, ...)` reads (the others need not be looked up)."""
    if target is S.IN_PROGRESS:
        return frozenset({"has_assignees", "dependencies_done"})
    if target in (S.INBOX, S.ASSIGNED, S.REVIEW):
        return frozenset({"has_assignees"})
    if target is S.DONE:
        return frozenset({"subtasks_done"})
    return frozenset()


def allowed_targets(current: TaskStatus, facts: TaskFacts) -> list[TaskStatus]:
    """The statuses a task may move to now, in board order."""
    return [target for target in GRAPH[current] if guard_failure(target, facts) is None]


def check_transition(current: TaskStatus, target: TaskStatus, facts: TaskFacts) -> None:
    """Raise `InvalidTransition` (naming the allowed targets) unless current → target is legal.

    Staying in the same status is not a transition and always passes (idempotent retries).
    """
    if current is target:
        return
    if target in GRAPH[current] and guard_failure(target, facts) is None:
        return
    error = InvalidTransition(
        "task", current.value, target.value, [t.value for t in allowed_targets(current, facts)]
    )
    reason = guard_failure(target, facts) if target in GRAPH[current] else None
    if reason:
        error.detail = f"{error.detail} ({reason})"
        error.extra["reason"] = reason
    raise error
