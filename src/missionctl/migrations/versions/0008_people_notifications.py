"""Notifications for people: a notification goes to an agent or to a user (a spent budget).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 17:19:26.561126
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_user_id", sa.Uuid(), nullable=True))
        batch_op.alter_column("recipient_agent_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.create_index(
            "ix_notifications_user",
            ["tenant_id", "recipient_user_id", "notification_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_recipient_user_id_users"),
            "users",
            ["recipient_user_id"],
            ["user_id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE recipient_agent_id IS NULL")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_recipient_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_index("ix_notifications_user")
        batch_op.alter_column("recipient_agent_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("recipient_user_id")
