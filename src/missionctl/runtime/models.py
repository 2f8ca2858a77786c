"""Runtime rows: each agent's turn state, review rounds, and agents the orchestrator proposed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, JSONType, TenantMixin, new_id, utcnow


class AgentTurnRow(TenantMixin, Base):
    """Whether an agent has a turn running or queued (one turn per agent at a time).

    `queued_job_id` is the turn job waiting to start (wake-ups while it waits add nothing);
    `running_job_id` the one running; `wake_pending` says something arrived while it ran, so
    another turn follows it.
    """

    __tablename__ = "agent_turns"

    agent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="CASCADE"), primary_key=True
    )
    queued_job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    running_job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    wake_pending: Mapped[bool] = mapped_column(default=False)
    turns: Mapped[int] = mapped_column(default=0)
    last_outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    last_turn_at: Mapped[datetime | None] = mapped_column(default=None)


class TaskReviewRow(TenantMixin, Base):
    """One review round of a task: who reviews it and what they decided."""

    __tablename__ = "task_reviews"
    __table_args__ = (
        Index("ix_task_reviews_task", "task_id", "round"),
        Index("ix_task_reviews_reviewer", "reviewer_agent_id", "status"),
    )

    review_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tasks.task_id", ondelete="CASCADE"))
    reviewer_agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="SET NULL"), default=None
    )
    round: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    comments: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class AgentProposalRow(TenantMixin, Base):
    """A new agent the orchestrator proposed from a template; a person approves it."""

    __tablename__ = "agent_proposals"
    __table_args__ = (Index("ix_agent_proposals_status", "tenant_id", "status", "created_at"),)

    proposal_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    template: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(200))
    capabilities: Mapped[list[str]] = mapped_column(JSONType, default=list)
    instructions: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.task_id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.agent_id", ondelete="SET NULL"), default=None
    )
    decided_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.user_id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
