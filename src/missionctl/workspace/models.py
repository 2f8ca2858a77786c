"""Versions of the free-form notes section of WORKING.md."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, TenantMixin, utcnow


class WorkingNotesRow(TenantMixin, Base):
    """One version of a tenant's WORKING.md notes; the highest version is current."""

    __tablename__ = "working_notes"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.tenant_id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    author_kind: Mapped[str] = mapped_column(String(16))
    author_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="SET NULL"), default=None
    )
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
