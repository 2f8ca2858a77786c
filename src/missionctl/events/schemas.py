"""Event schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from missionctl.common import ActorKind


class Order(StrEnum):
    """List order."""

    NEWEST_FIRST = "desc"
    OLDEST_FIRST = "asc"


class Event(BaseModel):
    """One entry of the activity feed."""

    model_config = ConfigDict(from_attributes=True)

    event_id: int = Field(description="Monotonically increasing id; resume streams after it.")
    event_type: str = Field(description="What happened, e.g. `task.assigned`.")
    actor_kind: ActorKind = Field(description="Who did it: user, agent or system.")
    actor_id: uuid.UUID | None = Field(description="The acting agent or user, if any.")
    subject_kind: str = Field(description="Kind of object the event is about, e.g. `task`.")
    subject_id: str = Field(description="Id of that object.")
    task_id: uuid.UUID | None = Field(description="The task involved, if any.")
    agent_id: uuid.UUID | None = Field(description="The agent involved, if any.")
    summary: str = Field(description="One human-readable line.")
    payload: dict[str, Any] = Field(description="Event details (changed fields, ids).")
    created_at: datetime = Field(description="When it happened (UTC).")


class EventFilter(BaseModel):
    """Which events to list."""

    task_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    event_type: str | None = None  # exact, or a prefix like `task.*`
    event_types: list[str] = []  # any of these (exact, `prefix.*` or `*`)
    hidden_prefixes: list[str] = []  # types the reader may not see
    after: int | None = None
    until: int | None = None  # at most this id
    order: Order = Order.NEWEST_FIRST
    limit: int = 50
    cursor: str | None = None
