"""Versioned agent definitions: the agent_versions table and agents.version.

Every existing agent gets its current definition as version 1, recorded by the system. The new
column comes with a (literal) server default so that SQLite adds it in place: rebuilding `agents`
in batch mode drops the table, and with foreign keys on that deletes every row that cascades from
an agent (assignments, memories, notifications).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

BACKFILL = """
INSERT INTO agent_versions (
    tenant_id, agent_id, version, name, role, capabilities, instructions, model,
    heartbeat_interval_seconds, created_by_kind, created_by_agent_id, created_by_user_id, note,
    created_at
)
SELECT
    tenant_id, agent_id, 1, name, role, capabilities, instructions, model,
    heartbeat_interval_seconds, 'system', NULL, NULL, 'recorded when versions were introduced',
    updated_at
FROM agents
"""


def upgrade() -> None:
    op.create_table(
        "agent_versions",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("capabilities", JSON, nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("heartbeat_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("created_by_kind", sa.String(length=16), nullable=False),
        sa.Column("created_by_agent_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.agent_id"],
            name=op.f("fk_agent_versions_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_agent_id"],
            ["agents.agent_id"],
            name=op.f("fk_agent_versions_created_by_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_agent_versions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("agent_id", "version", name=op.f("pk_agent_versions")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.execute(BACKFILL)


def downgrade() -> None:
    # Not in batch mode: that would rebuild `agents` on SQLite; SQLite 3.35+ drops it in place.
    op.drop_column("agents", "version")
    op.drop_table("agent_versions")
