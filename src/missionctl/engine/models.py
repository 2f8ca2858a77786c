"""Engine rows: jobs, their step checkpoints, cron schedules, and the processes that run them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, JSONType, TenantMixin, Timestamps, new_id, utcnow

# Written as literals in the claim query too: a partial index is used only when the query
# repeats its predicate word for word (SQLite) or provably (PostgreSQL).
READY_PREDICATE = "status IN ('queued', 'failed')"
RUNNING_PREDICATE = "status = 'running'"
FINISHED_PREDICATE = "status IN ('succeeded', 'cancelled', 'discarded')"


class JobRow(TenantMixin, Base):
    """One unit of background work, from enqueue to its final state.

    `attempts` counts claims; together with `lease_owner` it fences a claim: a worker whose
    lease expired and was handed on can no longer write its steps or its result.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        # The claim: ready jobs by priority (lower first, like `nice`), then age.
        Index(
            "ix_jobs_ready",
            "priority",
            "run_at",
            sqlite_where=text(READY_PREDICATE),
            postgresql_where=text(READY_PREDICATE),
        ),
        # The reaper and per-kind concurrency counts: running jobs only.
        Index(
            "ix_jobs_running",
            "lease_expires_at",
            sqlite_where=text(RUNNING_PREDICATE),
            postgresql_where=text(RUNNING_PREDICATE),
        ),
        Index("ix_jobs_tenant_status", "tenant_id", "status", "job_id"),
        # Retention: finished jobs by age.
        Index(
            "ix_jobs_finished",
            "finished_at",
            sqlite_where=text(FINISHED_PREDICATE),
            postgresql_where=text(FINISHED_PREDICATE),
        ),
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_jobs_tenant_idempotency_key"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    priority: Mapped[int] = mapped_column(default=0)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    # None: the kind's default (engine/registry.py), resolved when the job is claimed.
    max_attempts: Mapped[int | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    result: Mapped[Any] = mapped_column(JSONType, default=None, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_traceback: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set for jobs a schedule enqueued: which one, and for which of its firings.
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    scheduled_for: Mapped[datetime | None] = mapped_column(default=None)


class JobStepRow(TenantMixin, Base):
    """A finished step of a multi-step job and its result: a retry skips it."""

    __tablename__ = "job_steps"

    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.job_id", ondelete="CASCADE"), primary_key=True
    )
    step_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    result: Mapped[Any] = mapped_column(JSONType, default=None, nullable=True)
    attempt: Mapped[int] = mapped_column(default=1)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduleRow(TenantMixin, Timestamps, Base):
    """A cron schedule that enqueues a job of one kind at each firing."""

    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_schedules_tenant_name"),
        Index("ix_schedules_due", "next_run_at"),
    )

    schedule_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    cron: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    priority: Mapped[int] = mapped_column(default=0)
    is_enabled: Mapped[bool] = mapped_column(default=True)
    misfire_policy: Mapped[str] = mapped_column(String(16), default="run_once")
    misfire_grace_seconds: Mapped[int] = mapped_column(default=300)
    # Null while disabled; the scheduler fires everything due at or before it.
    next_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)


class WorkerRow(Base):
    """A worker or scheduler process, as it last reported itself (not tenant-owned)."""

    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column()
    concurrency: Mapped[int] = mapped_column(default=0)
    kinds: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_leader: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)
