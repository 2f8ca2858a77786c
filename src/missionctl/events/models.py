"""The append-only event log: the activity feed and the source for live streams."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, BigIntPK, JSONType, TenantMixin, utcnow


class EventRow(TenantMixin, Base):
    """One state change. Rows are only ever inserted; `event_id` increases monotonically."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_tenant", "tenant_id", "event_id"),
        Index("ix_events_tenant_task", "tenant_id", "task_id", "event_id"),
        Index("ix_events_tenant_agent", "tenant_id", "agent_id", "event_id"),
        # Never reuse an id, even after retention empties the table: streams resume by id.
        {"sqlite_autoincrement": True},
    )

    event_id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_type: Mapped[str] = mapped_column(String(64))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    # Denormalised so the per-task and per-agent feeds are index scans; no foreign keys, since
    # the log outlives what it talks about.
    task_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    summary: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
