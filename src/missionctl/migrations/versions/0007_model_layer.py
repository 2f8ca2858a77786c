"""The model layer: deployments, policies, budgets and their ledger, usage, the response cache,
rate windows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 17:05:41.200383
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=200), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("limit_nanos", sa.BigInteger(), nullable=True),
        sa.Column("limit_tokens", sa.BigInteger(), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_budgets_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("budget_id", name=op.f("pk_budgets")),
    )
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.create_index("ix_budgets_scope", ["tenant_id", "scope", "scope_id"], unique=False)

    op.create_table(
        "model_deployments",
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=2000), nullable=True),
        sa.Column("api_key_sealed", sa.Text(), nullable=True),
        sa.Column("capabilities", JSON, nullable=False),
        sa.Column("input_price_per_mtok", sa.Double(), nullable=True),
        sa.Column("output_price_per_mtok", sa.Double(), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column("tokens_per_minute", sa.Integer(), nullable=True),
        sa.Column("timeout_seconds", sa.Double(), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenant_id"],
            name=op.f("fk_model_deployments_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_model_deployments")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_model_deployments_tenant_id")),
    )
    op.create_table(
        "model_policies",
        sa.Column("policy_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("deployments", JSON, nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("required_capabilities", JSON, nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("cache_ttl_seconds", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_model_policies_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_model_policies")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_model_policies_tenant_id")),
    )
    op.create_table(
        "model_response_cache",
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("deployment", sa.String(length=100), nullable=False),
        sa.Column("response", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenant_id"],
            name=op.f("fk_model_response_cache_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("cache_key", name=op.f("pk_model_response_cache")),
    )
    op.create_table(
        "model_usage",
        sa.Column("usage_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("workflow", sa.String(length=200), nullable=True),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("deployment", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("is_cache_hit", sa.Boolean(), nullable=False),
        sa.Column("is_stream", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_model_usage_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("usage_id", name=op.f("pk_model_usage")),
    )
    with op.batch_alter_table("model_usage", schema=None) as batch_op:
        batch_op.create_index(
            "ix_model_usage_tenant_created", ["tenant_id", "created_at"], unique=False
        )

    op.create_table(
        "budget_holds",
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("period_key", sa.String(length=10), nullable=False),
        sa.Column("nanos", sa.BigInteger(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.budget_id"],
            name=op.f("fk_budget_holds_budget_id_budgets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_budget_holds_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("hold_id", name=op.f("pk_budget_holds")),
    )
    with op.batch_alter_table("budget_holds", schema=None) as batch_op:
        batch_op.create_index("ix_budget_holds_budget", ["budget_id", "period_key"], unique=False)

    op.create_table(
        "budget_ledger",
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("period_key", sa.String(length=10), nullable=False),
        sa.Column("spent_nanos", sa.BigInteger(), nullable=False),
        sa.Column("spent_tokens", sa.BigInteger(), nullable=False),
        sa.Column("held_nanos", sa.BigInteger(), nullable=False),
        sa.Column("held_tokens", sa.BigInteger(), nullable=False),
        sa.Column("exhausted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.budget_id"],
            name=op.f("fk_budget_ledger_budget_id_budgets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_budget_ledger_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("budget_id", "period_key", name=op.f("pk_budget_ledger")),
    )
    op.create_table(
        "model_rate_windows",
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["model_deployments.deployment_id"],
            name=op.f("fk_model_rate_windows_deployment_id_model_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenant_id"],
            name=op.f("fk_model_rate_windows_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("deployment_id", "window", name=op.f("pk_model_rate_windows")),
    )


def downgrade() -> None:
    op.drop_table("model_rate_windows")
    op.drop_table("budget_ledger")
    with op.batch_alter_table("budget_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_budget_holds_budget")

    op.drop_table("budget_holds")
    with op.batch_alter_table("model_usage", schema=None) as batch_op:
        batch_op.drop_index("ix_model_usage_tenant_created")

    op.drop_table("model_usage")
    op.drop_table("model_response_cache")
    op.drop_table("model_policies")
    op.drop_table("model_deployments")
    with op.batch_alter_table("budgets", schema=None) as batch_op:
        batch_op.drop_index("ix_budgets_scope")

    op.drop_table("budgets")
