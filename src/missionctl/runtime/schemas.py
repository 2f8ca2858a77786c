"""Runtime schemas: goals, and how far their work has come."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from missionctl.agents.schemas import AgentStatus
from missionctl.board.schemas import TaskPriority, TaskStatus
from missionctl.common import PageLimit, QueryModel, Schema, StoredUTC

__all__ = [
    "AgentProgress",
    "Attention",
    "AttentionKind",
    "GoalCreate",
    "GoalDocument",
    "GoalFilter",
    "GoalProgress",
    "GoalSummary",
    "SubtaskProgress",
]

MAX_GOAL_TEXT = 20_000
MAX_TITLE = 200


def goal_title(text: str) -> str:
    """A goal's title: the first line of its text, cut to 200 characters."""
    first_line = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(first_line) > MAX_TITLE:
        return first_line[: MAX_TITLE - 1] + "…"
    return first_line


class GoalCreate(Schema):
    """A goal in a person's words; the orchestrator breaks it into subtasks."""

    text: str = Field(
        min_length=1,
        max_length=MAX_GOAL_TEXT,
        description="What you want done. The first line becomes the title (cut to 200 "
        "characters), the whole text the description.",
    )
    priority: TaskPriority = Field(default=TaskPriority.NORMAL, description="Urgency.")

    @field_validator("text")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not goal_title(value):
            raise ValueError("text must not be blank")
        return value


class GoalFilter(QueryModel):
    """Which goals to list; newest first."""

    status: TaskStatus | None = Field(default=None, description="Only goals in this status.")
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


class GoalSummary(BaseModel):
    """The goal itself."""

    task_id: uuid.UUID = Field(description="The goal's task id.")
    title: str = Field(description="Short title.")
    status: TaskStatus = Field(description="Board column.")
    status_reason: str | None = Field(description="Why it is in its status, if given.")
    priority: TaskPriority = Field(description="Urgency.")
    assignees: list[str] = Field(description="Names of the agents assigned to the goal.")
    created_at: StoredUTC = Field(description="When the goal was given (UTC).")
    completed_at: StoredUTC | None = Field(description="When it reached done (UTC).")


class SubtaskProgress(BaseModel):
    """One subtask of the goal."""

    task_id: uuid.UUID = Field(description="The subtask's id.")
    title: str = Field(description="Short title.")
    status: TaskStatus = Field(description="Board column.")
    status_reason: str | None = Field(description="Why it is in its status, if given.")
    assignees: list[str] = Field(description="Names of the assigned agents.")
    depends_on: list[uuid.UUID] = Field(description="Tasks that must be done first.")


class AgentProgress(BaseModel):
    """An agent working on the goal: assigned to it or a subtask, or the subtasks' creator."""

    agent_id: uuid.UUID = Field(description="The agent's id.")
    name: str = Field(description="The agent's name.")
    status: AgentStatus = Field(description="idle, active or blocked.")
    current_task_id: uuid.UUID | None = Field(description="Task it is working on, if any.")
    current_task_title: str | None = Field(
        description="Title of that task, if it still exists (it may belong to another goal)."
    )


class GoalDocument(BaseModel):
    """A document written for the goal or one of its subtasks."""

    document_id: uuid.UUID = Field(description="The document's id.")
    title: str = Field(description="Title.")
    version: int = Field(description="Current version, from 1.")
    task_id: uuid.UUID = Field(description="The goal or subtask it belongs to.")
    updated_at: StoredUTC = Field(description="Time of the latest version (UTC).")


class AttentionKind(StrEnum):
    """Why a goal needs a person."""

    BLOCKED = "blocked"  # the goal or a subtask is blocked
    QUESTION = "question"  # an agent asked a question nobody answered yet
    BUDGET = "budget"  # a hard budget ran out and refuses model calls
    STALLED = "stalled"  # a task saw no progress for several heartbeats
    TURN_STOPPED = "turn_stopped"  # an agent's turn was stopped by a guard


class Attention(BaseModel):
    """Something only a person can resolve."""

    kind: AttentionKind = Field(description="What needs doing.")
    summary: str = Field(description="One human-readable line.")
    task_id: uuid.UUID | None = Field(description="The goal or subtask concerned, if any.")
    subject_id: str | None = Field(
        description="What to act on: the question's or the budget's id; the task's if blocked."
    )
    reason: str | None = Field(description="The reason given, for a blocked task.")
    event_id: int | None = Field(description="The event that raised it (none for blocked).")
    created_at: StoredUTC | None = Field(description="When it was raised (UTC), if known.")


class GoalProgress(BaseModel):
    """How far a goal has come: subtasks, agents, cost, results, and what needs a person."""

    goal: GoalSummary = Field(description="The goal: title, status, assignees, times.")
    subtasks: list[SubtaskProgress] = Field(description="Its subtasks, oldest first.")
    counts: dict[TaskStatus, int] = Field(description="Subtasks per board column.")
    agents: list[AgentProgress] = Field(description="Agents involved, by name.")
    cost_usd: float | None = Field(
        description="Model cost of the goal and its subtasks; null when a request was unpriced."
    )
    input_tokens: int = Field(description="Model tokens in, over the goal and its subtasks.")
    output_tokens: int = Field(description="Model tokens out.")
    requests: int = Field(description="Model requests.")
    unpriced_requests: int = Field(description="Requests to models without a known price.")
    documents: list[GoalDocument] = Field(description="Documents of the goal and its subtasks.")
    attention: list[Attention] = Field(description="What needs a person now.")
    is_finished: bool = Field(description="The goal is done.")
    needs_person: bool = Field(description="Something in `attention` waits for a person.")


class AgentProposal(BaseModel):
    """An agent the orchestrator proposed."""

    model_config = ConfigDict(from_attributes=True)

    proposal_id: uuid.UUID = Field(description="The proposal's id.")
    template: str = Field(description="The template it comes from.")
    name: str = Field(description="The agent's name, if approved.")
    role: str = Field(description="Job title.")
    capabilities: list[str] = Field(description="What it can do.")
    instructions: str = Field(description="Standing instructions.")
    reason: str = Field(description="Why the orchestrator wants it.")
    task_id: uuid.UUID | None = Field(description="The task that needs it.")
    status: str = Field(description="pending, approved or rejected.")
    agent_id: uuid.UUID | None = Field(description="The agent created on approval.")
    created_at: datetime = Field(description="When it was proposed (UTC).")
    decided_at: datetime | None = Field(description="When a person decided (UTC).")


class ProposalFilter(QueryModel):
    """Which proposals to list (newest first)."""

    status: str | None = Field(
        default=None, pattern="^(pending|approved|rejected)$", description="Only this status."
    )
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


@dataclass(frozen=True, slots=True)
class Policy:
    """The limits orchestration works within (from settings)."""

    capacity: int = 5
    max_review_rounds: int = 3
    auto_approve_agents: bool = False
