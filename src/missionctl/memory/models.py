"""Memory rows.

The full-text index is not mapped here: on SQLite it is the FTS5 table `memories_fts` (kept in
step by triggers), on PostgreSQL the generated `search_vector` column with a GIN index. Both are
made by migration 0009 and read only by `memory.search`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, JSONType, TenantMixin, Timestamps, new_id


class MemoryRow(TenantMixin, Timestamps, Base):
    """Something an agent learned; an agent of NULL means shared by the tenant's agents."""

    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_agent", "tenant_id", "agent_id", "created_at"),
        Index("ix_memories_task", "task_id"),
    )

    memory_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="CASCADE"), default=None
    )
    task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.task_id", ondelete="SET NULL"), default=None
    )
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    importance: Mapped[int] = mapped_column(default=3)
