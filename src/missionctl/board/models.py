"""Task rows: tasks, their assignees and their dependencies."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, TenantMixin, Timestamps, new_id, utcnow


class TaskRow(TenantMixin, Timestamps, Base):
    """A unit of work on the board; a goal is a top-level task for the orchestrator."""

    __tablename__ = "tasks"
    __table_args__ = (
        # The board's hot query: one tenant, one column, newest first (ids are time-ordered).
        Index("ix_tasks_tenant_status_id", "tenant_id", "status", "task_id"),
        Index("ix_tasks_tenant_id", "tenant_id", "task_id"),
        Index("ix_tasks_parent", "parent_task_id"),
    )

    task_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="inbox")
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    is_goal: Mapped[bool] = mapped_column(default=False)
    parent_task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.task_id", ondelete="RESTRICT"), default=None
    )
    created_by_kind: Mapped[str] = mapped_column(String(16), default="user")
    created_by_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="SET NULL"), default=None
    )
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class TaskAssigneeRow(TenantMixin, Base):
    """An agent assigned to a task."""

    __tablename__ = "task_assignees"
    __table_args__ = (Index("ix_task_assignees_agent", "agent_id", "task_id"),)

    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.task_id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="CASCADE"), primary_key=True
    )
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskDependencyRow(TenantMixin, Base):
    """`task_id` cannot start before `depends_on_task_id` is done."""

    __tablename__ = "task_dependencies"
    __table_args__ = (Index("ix_task_dependencies_on", "depends_on_task_id"),)

    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.task_id", ondelete="CASCADE"), primary_key=True
    )
    depends_on_task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.task_id", ondelete="CASCADE"), primary_key=True
    )
