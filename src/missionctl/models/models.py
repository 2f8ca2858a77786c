"""Rows of the model layer: deployments, policies, budgets and their ledger, usage, the cache.

Money is stored as integer nano-dollars (`*_nanos`, 1e-9 USD): exact sums in both databases, no
floating drift in budget checks, and room for a cheap call's fraction of a cent.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from missionctl.db import Base, JSONType, TenantMixin, Timestamps, new_id, utcnow


class DeploymentRow(TenantMixin, Timestamps, Base):
    """One model at one provider, with its credential, capabilities, prices and limits."""

    __tablename__ = "model_deployments"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    deployment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    # The API key, sealed (sealing.py) with the deployment id as context; never echoed.
    api_key_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Per-million-token price overrides; None means "ask genai-prices".
    input_price_per_mtok: Mapped[float | None] = mapped_column(default=None)
    output_price_per_mtok: Mapped[float | None] = mapped_column(default=None)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    requests_per_minute: Mapped[int | None] = mapped_column(default=None)
    tokens_per_minute: Mapped[int | None] = mapped_column(default=None)
    timeout_seconds: Mapped[float] = mapped_column(default=60.0)
    is_enabled: Mapped[bool] = mapped_column(default=True)


class PolicyRow(TenantMixin, Timestamps, Base):
    """A routing alias (`smart`, `fast`): ordered deployments, a strategy, what a call needs."""

    __tablename__ = "model_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    policy_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    deployments: Mapped[list[str]] = mapped_column(JSONType, default=list)
    strategy: Mapped[str] = mapped_column(String(16), default="order")
    required_capabilities: Mapped[list[str]] = mapped_column(JSONType, default=list)
    retries: Mapped[int] = mapped_column(default=1)
    cache_ttl_seconds: Mapped[int | None] = mapped_column(default=None)
    description: Mapped[str] = mapped_column(String(500), default="")


class BudgetRow(TenantMixin, Timestamps, Base):
    """A hard limit on model spend for a tenant, agent, workflow or run, per period."""

    __tablename__ = "budgets"
    __table_args__ = (Index("ix_budgets_scope", "tenant_id", "scope", "scope_id"),)

    budget_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[str | None] = mapped_column(String(200), default=None)
    period: Mapped[str] = mapped_column(String(16))
    limit_nanos: Mapped[int | None] = mapped_column(BigInteger, default=None)
    limit_tokens: Mapped[int | None] = mapped_column(BigInteger, default=None)
    description: Mapped[str] = mapped_column(String(500), default="")


class BudgetLedgerRow(TenantMixin, Base):
    """What one budget has spent in one period (`total`, `2026-11` or `2026-11-30`)."""

    __tablename__ = "budget_ledger"

    budget_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("budgets.budget_id", ondelete="CASCADE"), primary_key=True
    )
    period_key: Mapped[str] = mapped_column(String(10), primary_key=True)
    spent_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    spent_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    # Estimates of calls in flight (the sum of this period's live holds).
    held_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    held_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    # Set when a call was first refused in this period; cleared when the budget is raised.
    exhausted_at: Mapped[datetime | None] = mapped_column(default=None)


class BudgetHoldRow(TenantMixin, Base):
    """An in-flight call's estimate, held against a budget until the call is charged.

    The ledger counts it in `held_*`; the row is what lets housekeeping give the estimate back
    when the call never settles (its process was killed), so no budget shrinks for good.
    """

    __tablename__ = "budget_holds"
    __table_args__ = (Index("ix_budget_holds_budget", "budget_id", "period_key"),)

    hold_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    budget_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("budgets.budget_id", ondelete="CASCADE")
    )
    period_key: Mapped[str] = mapped_column(String(10))
    nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime] = mapped_column()


class UsageRow(TenantMixin, Base):
    """One model request: who asked, which deployment answered, tokens, cost, outcome."""

    __tablename__ = "model_usage"
    __table_args__ = (
        Index("ix_model_usage_tenant_created", "tenant_id", "created_at"),
        Index("ix_model_usage_run", "run_id"),
    )

    usage_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    task_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    run_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    workflow: Mapped[str | None] = mapped_column(String(200), default=None)
    alias: Mapped[str] = mapped_column(String(100))
    deployment: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    # None when the model has no known price: flagged, never counted as free.
    cost_nanos: Mapped[int | None] = mapped_column(BigInteger, default=None)
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    is_cache_hit: Mapped[bool] = mapped_column(default=False)
    is_stream: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str] = mapped_column(String(24))
    error: Mapped[str | None] = mapped_column(Text, default=None)


class ResponseCacheRow(TenantMixin, Base):
    """A cached reply to an exact request, until it expires."""

    __tablename__ = "model_response_cache"

    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(100))
    response: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class RateWindowRow(TenantMixin, Base):
    """Requests and tokens a deployment used in one minute, shared by every process."""

    __tablename__ = "model_rate_windows"

    deployment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("model_deployments.deployment_id", ondelete="CASCADE"), primary_key=True
    )
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    requests: Mapped[int] = mapped_column(default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
