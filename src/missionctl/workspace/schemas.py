"""WORKING.md and heartbeat schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from missionctl.agents.schemas import Agent, AgentStatus
from missionctl.board.schemas import Task
from missionctl.common import ActorKind, Schema
from missionctl.comms.schemas import Notification

MAX_NOTES = 100_000


class WorkingMd(BaseModel):
    """WORKING.md: the live board rendered as markdown, plus the shared notes."""

    content: str = Field(description="The whole file: agents, board, recent activity, notes.")
    notes: str = Field(description="The free-form notes section alone.")
    notes_version: int = Field(
        description="Version of the notes (0 before the first save); send it as `If-Match`."
    )
    rendered_at: datetime = Field(description="When the board part was rendered (UTC).")


class WorkingNotesUpdate(Schema):
    """Replace the notes section of WORKING.md."""

    notes: str = Field(max_length=MAX_NOTES, description="The new notes (markdown).")
    author_agent_id: uuid.UUID | None = Field(
        default=None, description="The writing agent, when an agent writes."
    )
    expected_version: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="The notes version this edit is based on; the `If-Match` header does the "
        "same. One of the two is required.",
    )


class WorkingNotesVersion(BaseModel):
    """One saved version of the notes."""

    model_config = ConfigDict(from_attributes=True)

    version: int = Field(description="Version number, from 1.")
    content: str = Field(description="The notes at that version.")
    author_kind: ActorKind = Field(description="Who saved it.")
    author_agent_id: uuid.UUID | None = Field(description="Writing agent, if an agent.")
    author_user_id: uuid.UUID | None = Field(description="Writing user, if known.")
    created_at: datetime = Field(description="When it was saved (UTC).")


class HeartbeatRequest(Schema):
    """An agent checking in."""

    status: AgentStatus | None = Field(default=None, description="The agent's status now.")
    current_task_id: uuid.UUID | None = Field(
        default=None, description="The task it is working on, if any."
    )


class HeartbeatResponse(BaseModel):
    """What an agent should look at after waking up."""

    agent: Agent = Field(description="The agent, with its heartbeat recorded.")
    tasks: list[Task] = Field(description="Its assigned, in-progress and in-review tasks.")
    notifications: list[Notification] = Field(
        description="Notifications delivered by this heartbeat (now marked delivered)."
    )
    has_work: bool = Field(description="False when there is nothing to do (no model call needed).")


class WakeUp(BaseModel):
    """What a scheduled heartbeat found."""

    agent_id: uuid.UUID = Field(description="The agent that woke.")
    open_tasks: int = Field(description="Its assigned, in-progress and in-review tasks.")
    pending_notifications: int = Field(description="Notifications not yet delivered to it.")
    has_work: bool = Field(description="False when there is nothing to do (no model call).")
    stalled_tasks: int = Field(
        default=0, description="Open tasks escalated as stalled by this heartbeat."
    )
