"""Agent schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from missionctl.common import MAX_DB_INT, ActorKind, PageLimit, QueryModel, Schema

AGENT_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"

AgentName = Annotated[
    str,
    Field(
        pattern=AGENT_NAME_PATTERN,
        description="Unique within the tenant; letters, digits, `-` and `_`, so `@name` "
        "mentions it.",
        examples=["researcher"],
    ),
]
Capability = Annotated[str, Field(min_length=1, max_length=64)]


class AgentStatus(StrEnum):
    """What an agent is doing."""

    IDLE = "idle"
    ACTIVE = "active"
    BLOCKED = "blocked"


class AgentCreate(Schema):
    """A new agent."""

    name: AgentName
    role: str = Field(min_length=1, max_length=200, description="Job title, e.g. `Researcher`.")
    capabilities: list[Capability] = Field(
        default_factory=list,
        max_length=50,
        description="What the agent can do; used to match tasks, e.g. `research`, `writing`.",
    )
    instructions: str = Field(
        default="", max_length=20_000, description="Standing instructions (the agent's SOUL)."
    )
    model: str = Field(
        default="offline",
        min_length=1,
        max_length=200,
        description="Model or policy alias the agent runs on; `offline` is the built-in model.",
    )
    heartbeat_interval_seconds: int = Field(
        default=900, ge=10, le=86_400, description="How often the agent wakes up, in seconds."
    )
    session_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Stable session key; defaults to `agent:<name>:main`.",
    )
    status: AgentStatus = Field(default=AgentStatus.IDLE, description="Initial status.")


class AgentUpdate(Schema):
    """Changes to an agent; omitted fields stay as they are."""

    name: AgentName | None = Field(default=None, description="New unique name.")
    role: str | None = Field(default=None, min_length=1, max_length=200, description="Job title.")
    capabilities: list[Capability] | None = Field(
        default=None, max_length=50, description="What the agent can do."
    )
    instructions: str | None = Field(
        default=None, max_length=20_000, description="Standing instructions."
    )
    model: str | None = Field(
        default=None, min_length=1, max_length=200, description="Model or policy alias."
    )
    heartbeat_interval_seconds: int | None = Field(
        default=None, ge=10, le=86_400, description="Wake-up interval, in seconds."
    )
    status: AgentStatus | None = Field(default=None, description="New status.")


class Agent(BaseModel):
    """An agent as stored."""

    model_config = ConfigDict(from_attributes=True)

    agent_id: uuid.UUID = Field(description="The agent's id.")
    name: str = Field(description="Unique name within the tenant.")
    role: str = Field(description="Job title.")
    status: AgentStatus = Field(description="idle, active or blocked.")
    capabilities: list[str] = Field(description="What the agent can do.")
    instructions: str = Field(description="Standing instructions.")
    model: str = Field(description="Model or policy alias.")
    heartbeat_interval_seconds: int = Field(description="Wake-up interval, in seconds.")
    session_key: str = Field(description="Stable session key.")
    last_heartbeat_at: datetime | None = Field(description="Last heartbeat (UTC), if any.")
    current_task_id: uuid.UUID | None = Field(description="Task the agent is working on.")
    version: int = Field(description="Number of the current definition, from 1.")
    created_at: datetime = Field(description="Creation time (UTC).")
    updated_at: datetime = Field(description="Last change (UTC).")


class AgentFilter(QueryModel):
    """Which agents to list (oldest first)."""

    status: AgentStatus | None = Field(default=None, description="Only agents in this status.")
    capability: str | None = Field(
        default=None, max_length=64, description="Only agents with this capability."
    )
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


class AgentVersion(BaseModel):
    """One definition of an agent, as it was saved; versions are never changed."""

    model_config = ConfigDict(from_attributes=True)

    agent_id: uuid.UUID = Field(description="The agent.")
    version: int = Field(description="Version number, from 1.")
    name: str = Field(description="Name at that version.")
    role: str = Field(description="Job title at that version.")
    capabilities: list[str] = Field(description="Capabilities at that version.")
    instructions: str = Field(description="Standing instructions at that version.")
    model: str = Field(description="Model or policy alias at that version.")
    heartbeat_interval_seconds: int = Field(description="Wake-up interval at that version.")
    created_by_kind: ActorKind = Field(description="Who saved it: user, agent or system.")
    created_by_agent_id: uuid.UUID | None = Field(description="Saving agent, if an agent.")
    created_by_user_id: uuid.UUID | None = Field(description="Saving user, if known.")
    note: str | None = Field(description="Why it was saved, e.g. `rollback to v2`.")
    created_at: datetime = Field(description="When it was saved (UTC).")


class AgentRollback(Schema):
    """Which earlier definition to bring back (as a new version)."""

    version: int = Field(ge=1, le=MAX_DB_INT, description="The version to roll back to.")


DefinitionValue = str | int | list[str]


class AgentFieldChange(BaseModel):
    """How one definition field differs between two versions."""

    old: DefinitionValue = Field(description="Value in the `from` version.")
    new: DefinitionValue = Field(description="Value in the `to` version.")
    unified_diff: str | None = Field(
        default=None,
        description="For `instructions`: a unified diff of the text, line by line.",
    )


class AgentVersionDiff(BaseModel):
    """What changed in an agent's definition from one version to another."""

    agent_id: uuid.UUID = Field(description="The agent.")
    from_version: int = Field(description="The version compared from.")
    to_version: int = Field(description="The version compared to.")
    changes: dict[str, AgentFieldChange] = Field(
        description="Changed definition fields by name, in definition order; empty when the "
        "two versions define the same agent."
    )
