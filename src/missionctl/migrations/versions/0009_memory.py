"""Agent memory: the memories table and its full-text index.

SQLite gets an FTS5 table over `memories` (external content: it indexes title, content and the
tag words, and reads the text from `memories` by rowid), kept in step by triggers. PostgreSQL
gets a generated `search_vector` column (title and tags weighted A, content B) with a GIN index.
Neither is mapped by the models; `migrations.include_object` keeps them out of autogenerate.

A later migration that rebuilds `memories` on SQLite (batch mode copies it, renumbering rowids)
must recreate the triggers and run `INSERT INTO memories_fts(memories_fts) VALUES('rebuild')`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# The tag words, not their JSON (which escapes non-ASCII). A 'delete' must be given exactly the
# values that were indexed, so every trigger uses the same expressions.
SQLITE_UPGRADE = (
    "CREATE VIRTUAL TABLE memories_fts USING fts5(title, content, tags, content='memories', "
    "content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
    """CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts(rowid, title, content, tags) VALUES (new.rowid, new.title,
            new.content, (SELECT group_concat(value, ' ') FROM json_each(new.tags)));
    END""",
    """CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, title, content, tags) VALUES ('delete',
            old.rowid, old.title, old.content,
            (SELECT group_concat(value, ' ') FROM json_each(old.tags)));
    END""",
    """CREATE TRIGGER memories_fts_update AFTER UPDATE ON memories BEGIN
        INSERT INTO memories_fts(memories_fts, rowid, title, content, tags) VALUES ('delete',
            old.rowid, old.title, old.content,
            (SELECT group_concat(value, ' ') FROM json_each(old.tags)));
        INSERT INTO memories_fts(rowid, title, content, tags) VALUES (new.rowid, new.title,
            new.content, (SELECT group_concat(value, ' ') FROM json_each(new.tags)));
    END""",
)
SQLITE_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS memories_fts_update",
    "DROP TRIGGER IF EXISTS memories_fts_delete",
    "DROP TRIGGER IF EXISTS memories_fts_insert",
    "DROP TABLE IF EXISTS memories_fts",
)
POSTGRES_UPGRADE = (
    "ALTER TABLE memories ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(jsonb_to_tsvector('english'::regconfig, tags, '[\"string\"]'), 'A') || "
    "setweight(to_tsvector('english'::regconfig, content), 'B')) STORED",
    "CREATE INDEX ix_memories_search ON memories USING gin (search_vector)",
)
POSTGRES_DOWNGRADE = (
    "DROP INDEX IF EXISTS ix_memories_search",
    "ALTER TABLE memories DROP COLUMN IF EXISTS search_vector",
)


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("memory_id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("importance", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.agent_id"],
            name=op.f("fk_memories_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.task_id"],
            name=op.f("fk_memories_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_memories_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("memory_id", name=op.f("pk_memories")),
    )
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.create_index(
            "ix_memories_agent", ["tenant_id", "agent_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_memories_task", ["task_id"], unique=False)
    is_postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_UPGRADE if is_postgres else SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    is_postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_DOWNGRADE if is_postgres else SQLITE_DOWNGRADE:
        op.execute(statement)
    with op.batch_alter_table("memories", schema=None) as batch_op:
        batch_op.drop_index("ix_memories_task")
        batch_op.drop_index("ix_memories_agent")
    op.drop_table("memories")
