"""Agent rows and their immutable definition versions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, JSONType, TenantMixin, Timestamps, new_id, utcnow


class AgentRow(TenantMixin, Timestamps, Base):
    """An agent definition and its live status."""

    __tablename__ = "agents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_agents_tenant_name"),
        UniqueConstraint("tenant_id", "session_key", name="uq_agents_tenant_session_key"),
        Index("ix_agents_next_heartbeat", "next_heartbeat_at"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="idle")
    capabilities: Mapped[list[str]] = mapped_column(JSONType, default=list)
    instructions: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(200), default="offline")
    heartbeat_interval_seconds: Mapped[int] = mapped_column(default=900)
    session_key: Mapped[str] = mapped_column(String(200))
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    current_task_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # When the scheduler next wakes the agent (its heartbeat job); due at once when created.
    next_heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The current definition's number in `agent_versions`; the server default let the migration
    # add it to existing rows without rebuilding the table.
    version: Mapped[int] = mapped_column(default=1, server_default="1")


class AgentVersionRow(TenantMixin, Base):
    """One definition of an agent (name, role, capabilities, instructions, model, heartbeat),
    never changed after it is written; a turn pins the version it started with."""

    __tablename__ = "agent_versions"

    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(200))
    capabilities: Mapped[list[str]] = mapped_column(JSONType)
    instructions: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(200))
    heartbeat_interval_seconds: Mapped[int] = mapped_column()
    created_by_kind: Mapped[str] = mapped_column(String(16))
    created_by_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="SET NULL"), default=None
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
