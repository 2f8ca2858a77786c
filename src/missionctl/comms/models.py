"""Message, attachment, notification and question rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, JSONType, TenantMixin, new_id, utcnow


class MessageRow(TenantMixin, Base):
    """One message in a task's thread."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_task", "task_id", "message_id"),)

    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.task_id", ondelete="CASCADE"))
    author_kind: Mapped[str] = mapped_column(String(16), default="user")
    author_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="SET NULL"), default=None
    )
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    content: Mapped[str] = mapped_column(Text)
    message_type: Mapped[str] = mapped_column(String(16), default="comment")
    reply_to_message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.message_id", ondelete="SET NULL"), default=None
    )
    mentioned_agent_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttachmentRow(TenantMixin, Base):
    """A file attached to a message; the bytes live in the data dir, addressed by SHA-256."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_message", "message_id"),)

    attachment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.message_id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationRow(TenantMixin, Base):
    """Something an agent or a person should know: a mention, an assignment, a spent budget."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient", "tenant_id", "recipient_agent_id", "notification_id"),
        Index("ix_notifications_user", "tenant_id", "recipient_user_id", "notification_id"),
    )

    notification_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # Exactly one recipient: an agent, or a person (user).
    recipient_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="CASCADE"), default=None
    )
    recipient_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.user_id", ondelete="CASCADE"), default=None
    )
    task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.task_id", ondelete="CASCADE"), default=None
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.message_id", ondelete="CASCADE"), default=None
    )
    kind: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    is_delivered: Mapped[bool] = mapped_column(default=False)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    is_read: Mapped[bool] = mapped_column(default=False)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionRow(TenantMixin, Base):
    """A question an agent asked a person; the agent's turn waits for the answer.

    `resume_state` is the asking turn's own record of where it stopped (opaque here): when the
    question is answered the runtime reads it to carry on from that point.
    """

    __tablename__ = "questions"
    __table_args__ = (
        Index("ix_questions_status", "tenant_id", "status", "created_at"),
        Index("ix_questions_task", "task_id"),
        Index("ix_questions_agent", "agent_id", "status"),
    )

    question_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.agent_id", ondelete="CASCADE"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.task_id", ondelete="CASCADE"), default=None
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.message_id", ondelete="SET NULL"), default=None
    )
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    answered_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.user_id", ondelete="SET NULL"), default=None
    )
    resume_state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    resumed_at: Mapped[datetime | None] = mapped_column(default=None)  # the turn took the answer
