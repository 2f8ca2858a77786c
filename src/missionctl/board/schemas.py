"""Task schemas."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, Field

from missionctl.board.transitions import TaskStatus
from missionctl.common import ActorKind, PageLimit, QueryModel, Schema, StoredUTC, UTCDatetime

__all__ = [
    "Task",
    "TaskAssign",
    "TaskCreate",
    "TaskFilter",
    "TaskPriority",
    "TaskStatus",
    "TaskStatusChange",
    "TaskUpdate",
]

MAX_ASSIGNEES = 20
MAX_DEPENDENCIES = 50


class TaskPriority(StrEnum):
    """How urgent a task is."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TaskCreate(Schema):
    """A new task (or goal). It starts in `inbox`, or `assigned` when assignees are given."""

    title: str = Field(min_length=1, max_length=200, description="Short title.")
    description: str = Field(default="", max_length=20_000, description="Markdown description.")
    priority: TaskPriority = Field(default=TaskPriority.NORMAL, description="Urgency.")
    is_goal: bool = Field(
        default=False, description="A goal: a top-level task the orchestrator breaks down."
    )
    parent_task_id: uuid.UUID | None = Field(default=None, description="Parent task, for subtasks.")
    assignee_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=MAX_ASSIGNEES, description="Agents to assign."
    )
    depends_on: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_DEPENDENCIES,
        description="Tasks that must be done before this one can start.",
    )
    due_at: UTCDatetime | None = Field(default=None, description="Deadline (with time zone).")
    created_by_agent_id: uuid.UUID | None = Field(
        default=None, description="The agent creating the task, when an agent does."
    )


class TaskUpdate(Schema):
    """Changes to a task; omitted fields stay, explicit nulls clear. Status has its own route."""

    title: str | None = Field(default=None, min_length=1, max_length=200, description="Title.")
    description: str | None = Field(default=None, max_length=20_000, description="Description.")
    priority: TaskPriority | None = Field(default=None, description="Urgency.")
    is_goal: bool | None = Field(default=None, description="Whether the task is a goal.")
    parent_task_id: uuid.UUID | None = Field(default=None, description="New parent, or null.")
    depends_on: list[uuid.UUID] | None = Field(
        default=None, max_length=MAX_DEPENDENCIES, description="Replaces the dependencies."
    )
    due_at: UTCDatetime | None = Field(default=None, description="New deadline, or null.")


class TaskAssign(Schema):
    """Set a task's assignees (the list replaces the current one)."""

    agent_ids: list[uuid.UUID] = Field(
        max_length=MAX_ASSIGNEES,
        description="The agents who should work on the task; empty unassigns everyone.",
    )
    by_agent_id: uuid.UUID | None = Field(
        default=None, description="The agent making the assignment, when an agent does."
    )


class TaskStatusChange(Schema):
    """Move a task to another status."""

    status: TaskStatus = Field(description="Target status.")
    reason: str | None = Field(
        default=None, max_length=2000, description="Why (shown on blocked tasks)."
    )
    by_agent_id: uuid.UUID | None = Field(
        default=None, description="The agent making the change, when an agent does."
    )


class Task(BaseModel):
    """A task as stored."""

    task_id: uuid.UUID = Field(description="The task's id.")
    title: str = Field(description="Short title.")
    description: str = Field(description="Markdown description.")
    status: TaskStatus = Field(description="Board column.")
    status_reason: str | None = Field(description="Why the task is in its status, if given.")
    priority: TaskPriority = Field(description="Urgency.")
    is_goal: bool = Field(description="Whether the task is a goal.")
    parent_task_id: uuid.UUID | None = Field(description="Parent task, for subtasks.")
    assignee_ids: list[uuid.UUID] = Field(description="Assigned agents.")
    depends_on: list[uuid.UUID] = Field(description="Tasks that must be done first.")
    created_by_kind: ActorKind = Field(description="Who created it: user, agent or system.")
    created_by_agent_id: uuid.UUID | None = Field(description="Creating agent, if an agent.")
    created_by_user_id: uuid.UUID | None = Field(description="Creating user, if known.")
    due_at: StoredUTC | None = Field(description="Deadline (UTC).")
    completed_at: StoredUTC | None = Field(description="When it reached done (UTC).")
    created_at: StoredUTC = Field(description="Creation time (UTC).")
    updated_at: StoredUTC = Field(description="Last change (UTC).")


class TaskFilter(QueryModel):
    """Which tasks to list; newest first."""

    status: TaskStatus | None = Field(default=None, description="Only this board column.")
    assignee_id: uuid.UUID | None = Field(default=None, description="Only this agent's tasks.")
    priority: TaskPriority | None = Field(default=None, description="Only this priority.")
    is_goal: bool | None = Field(default=None, description="Only goals (true) or non-goals.")
    parent_task_id: uuid.UUID | None = Field(default=None, description="Only its subtasks.")
    text: str | None = Field(
        default=None, max_length=200, description="Text in the title or description."
    )
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")
