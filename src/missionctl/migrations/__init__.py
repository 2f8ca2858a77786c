"""Alembic migrations, shipped inside the package and run programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

HERE = Path(__file__).parent

# Full-text search structures made by hand in 0009 and not mapped by the models: SQLite's FTS5
# table (with its shadow tables), PostgreSQL's generated tsvector column and its GIN index.
UNMAPPED_TABLE_PREFIX = "memories_fts"
UNMAPPED_COLUMNS = frozenset({("memories", "search_vector")})
UNMAPPED_INDEXES = frozenset({"ix_memories_search"})


def is_unmapped_table(name: str) -> bool:
    """True for tables the migrations make on purpose without a model (full-text indexes)."""
    return name == UNMAPPED_TABLE_PREFIX or name.startswith(f"{UNMAPPED_TABLE_PREFIX}_")


def include_object(
    obj: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    """Alembic's `include_object` hook: autogenerate ignores the unmapped full-text objects."""
    if type_ == "table":
        return not is_unmapped_table(name or "")
    if type_ == "column":
        table = getattr(getattr(obj, "table", None), "name", "")
        return (table, name) not in UNMAPPED_COLUMNS
    if type_ == "index":
        return name not in UNMAPPED_INDEXES
    return True


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our scripts and the given database."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to `revision` (idempotent)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def head_revision() -> str:
    """The newest revision shipped with this version of Mission Control."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
