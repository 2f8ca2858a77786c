"""Indexes for an agent's turn: its reviews, its questions, a turn's requests.

Each turn asks whether the agent has a review or an answered question waiting, and at its end
what its requests cost: without these, each was a scan of the whole table (a turn cost more the
longer the tenant had worked).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 19:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_task_reviews_reviewer", "task_reviews", ["reviewer_agent_id", "status"], unique=False
    )
    op.create_index("ix_questions_agent", "questions", ["agent_id", "status"], unique=False)
    op.create_index("ix_model_usage_run", "model_usage", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_model_usage_run", table_name="model_usage")
    op.drop_index("ix_questions_agent", table_name="questions")
    op.drop_index("ix_task_reviews_reviewer", table_name="task_reviews")
