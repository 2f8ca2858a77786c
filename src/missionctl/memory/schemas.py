"""Memory schemas."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from missionctl.common import QueryModel, Schema, StoredUTC

MAX_CONTENT = 20_000
MAX_QUERY = 2_000
MAX_HITS = 50
Tag = Annotated[str, Field(min_length=1, max_length=64)]


class MemoryKind(StrEnum):
    """What a memory is."""

    FACT = "fact"
    LESSON = "lesson"
    NOTE = "note"
    SUMMARY = "summary"


class MemoryCreate(Schema):
    """A memory to save."""

    kind: MemoryKind = Field(default=MemoryKind.NOTE, description="fact, lesson, note or summary.")
    title: str = Field(min_length=1, max_length=200, description="One-line gist.")
    content: str = Field(
        default="", max_length=MAX_CONTENT, description="What was learned (markdown)."
    )
    tags: list[Tag] = Field(
        default_factory=list, max_length=20, description="Labels, searched with the text."
    )
    importance: int = Field(
        default=3, ge=1, le=5, description="1 (trivia) to 5 (vital); weighs in the ranking."
    )
    agent_id: uuid.UUID | None = Field(
        default=None,
        description="The agent it belongs to; omitted means shared by every agent of the "
        "tenant (an agent key saves to its own agent).",
    )
    task_id: uuid.UUID | None = Field(default=None, description="The task it came from.")


class Memory(BaseModel):
    """A saved memory."""

    model_config = ConfigDict(from_attributes=True)

    memory_id: uuid.UUID = Field(description="The memory's id.")
    agent_id: uuid.UUID | None = Field(description="Owning agent; null when shared.")
    task_id: uuid.UUID | None = Field(description="The task it came from.")
    kind: MemoryKind = Field(description="fact, lesson, note or summary.")
    title: str = Field(description="One-line gist.")
    content: str = Field(description="What was learned (markdown).")
    tags: list[str] = Field(description="Labels.")
    importance: int = Field(description="1 (trivia) to 5 (vital).")
    created_at: StoredUTC = Field(description="When it was first saved (UTC).")
    updated_at: StoredUTC = Field(description="When it was last saved (UTC).")


class MemoryHit(BaseModel):
    """A memory found by a search, with its score."""

    memory: Memory = Field(description="The memory.")
    score: float | None = Field(
        description="Relevance weighed by recency and importance (higher is better); "
        "null when listing without a query."
    )


class MemoryFilter(QueryModel):
    """Which memories to find: ranked by relevance to `q`, or newest first without it."""

    q: str | None = Field(
        default=None,
        max_length=MAX_QUERY,
        description="Words to look for in title, content and tags (any word matches).",
    )
    agent_id: uuid.UUID | None = Field(
        default=None,
        description="Whose memories: this agent's own (plus shared ones, see include_shared). "
        "An agent key reads as its own agent.",
    )
    include_shared: bool = Field(
        default=True, description="Include memories shared by the tenant's agents."
    )
    kind: MemoryKind | None = Field(default=None, description="Only this kind.")
    task_id: uuid.UUID | None = Field(default=None, description="Only memories of this task.")
    limit: int = Field(default=20, ge=1, le=MAX_HITS, description="How many (max 50).")
