"""Document rows and their immutable versions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, TenantMixin, Timestamps, new_id, utcnow


class DocumentRow(TenantMixin, Timestamps, Base):
    """A markdown document; its current content is also its latest version."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_task", "task_id"),)

    document_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    doc_type: Mapped[str] = mapped_column(String(16))
    task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.task_id", ondelete="SET NULL"), default=None
    )
    author_kind: Mapped[str] = mapped_column(String(16), default="user")
    author_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="SET NULL"), default=None
    )
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(default=1)


class DocumentVersionRow(TenantMixin, Base):
    """One saved version of a document, never changed after it is written."""

    __tablename__ = "document_versions"

    document_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("documents.document_id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    doc_type: Mapped[str] = mapped_column(String(16))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="SET NULL"), default=None
    )
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
