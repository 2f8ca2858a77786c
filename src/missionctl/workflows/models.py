"""Workflow rows: definitions and their immutable versions, runs and their steps, triggers,
webhook deliveries and the node output cache."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, JSONType, TenantMixin, Timestamps, new_id, utcnow


class WorkflowRow(TenantMixin, Timestamps, Base):
    """A workflow: its name, newest version and the version runs start on by default."""

    __tablename__ = "workflows"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_workflows_tenant_name"),)

    workflow_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    latest_version: Mapped[int] = mapped_column(default=1)
    published_version: Mapped[int | None] = mapped_column(default=None)
    tags: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # tag → version


class WorkflowVersionRow(TenantMixin, Base):
    """One saved definition; never changed once written."""

    __tablename__ = "workflow_versions"
    __table_args__ = (
        UniqueConstraint("workflow_id", "version", name="uq_workflow_versions_version"),
    )

    version_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.workflow_id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column()
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowRunRow(TenantMixin, Base):
    """One run of one version of a workflow.

    `runner_job_id` is the `workflow.run` job driving it now (one at a time); a wake-up that
    arrives while it runs sets `wake_pending`, and the runner goes round again.
    """

    __tablename__ = "workflow_runs"
    __table_args__ = (
        Index("ix_workflow_runs_created", "tenant_id", "created_at"),
        Index("ix_workflow_runs_status", "tenant_id", "status", "created_at"),
        Index("ix_workflow_runs_workflow", "workflow_id", "created_at"),
        Index("ix_workflow_runs_trigger", "trigger_id", "status"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.workflow_id", ondelete="CASCADE")
    )
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflow_versions.version_id"))
    workflow_name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="queued")
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    failed_step: Mapped[str | None] = mapped_column(String(200), default=None)
    trigger_kind: Mapped[str] = mapped_column(String(16), default="manual")
    trigger_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    parent_run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workflow_runs.run_id", ondelete="SET NULL"), default=None
    )
    parent_step: Mapped[str | None] = mapped_column(String(200), default=None)
    started_by: Mapped[str] = mapped_column(String(80), default="")
    runner_job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    wake_pending: Mapped[bool] = mapped_column(default=False)
    cost_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    steps_done: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class WorkflowStepRow(TenantMixin, Base):
    """One node execution of a run (a map's items are one each): what went in and came out."""

    __tablename__ = "workflow_steps"
    __table_args__ = (
        UniqueConstraint("run_id", "step_key", name="uq_workflow_steps_key"),
        Index("ix_workflow_steps_waiting", "status", "wake_at"),
    )

    step_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflow_runs.run_id", ondelete="CASCADE")
    )
    step_key: Mapped[str] = mapped_column(String(200))
    node_id: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(16))
    item_index: Mapped[int | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="running")
    attempts: Mapped[int] = mapped_column(default=0)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    output: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    error_class: Mapped[str | None] = mapped_column(String(32), default=None)
    logs: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    wake_at: Mapped[datetime | None] = mapped_column(default=None)
    is_cache_hit: Mapped[bool] = mapped_column(default=False)
    cost_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[float | None] = mapped_column(default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class WorkflowTriggerRow(TenantMixin, Timestamps, Base):
    """What starts runs of a workflow: a cron schedule, a webhook, a domain event, or a person."""

    __tablename__ = "workflow_triggers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_workflow_triggers_tenant_name"),
        Index("ix_workflow_triggers_event", "tenant_id", "kind", "event_type"),
    )

    trigger_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workflow_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflows.workflow_id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    is_enabled: Mapped[bool] = mapped_column(default=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    version: Mapped[int | None] = mapped_column(default=None)
    overlap: Mapped[str] = mapped_column(String(8), default="allow")
    # cron
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # event
    event_type: Mapped[str | None] = mapped_column(String(64), default=None)
    event_filter: Mapped[str | None] = mapped_column(Text, default=None)
    # webhook: the HMAC secret, sealed
    secret_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    fired: Mapped[int] = mapped_column(default=0)
    last_fired_at: Mapped[datetime | None] = mapped_column(default=None)


class WorkflowDeliveryRow(TenantMixin, Base):
    """A webhook delivery a trigger accepted (a replayed delivery id starts nothing)."""

    __tablename__ = "workflow_deliveries"

    trigger_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workflow_triggers.trigger_id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    run_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowCacheRow(TenantMixin, Base):
    """A node's output, reusable by the same node definition with the same inputs until expiry."""

    __tablename__ = "workflow_cache"

    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    output: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
