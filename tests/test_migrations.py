"""Alembic migrations on empty SQLite and PostgreSQL databases, and `missionctl db upgrade`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text

from missionctl import migrations
from missionctl.agents.models import AgentRow
from missionctl.agents.schemas import AgentCreate, AgentFilter
from missionctl.agents.service import create_agent, list_agents
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, DEFAULT_TENANT_SLUG, Database, make_engine
from missionctl.tables import TenantRow, metadata
from tests.conftest import BACKENDS, drop_postgres_database, postgres_database

MISSIONCTL = Path(sys.executable).parent / "missionctl"


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a brand-new, never-migrated database."""
    if request.param == "postgres":
        url = postgres_database(f"mc_migrations_{uuid.uuid4().hex[:12]}")
    else:
        url = f"sqlite:///{tmp_path / 'missionctl.db'}"
    engine = make_engine(url, pool_size=2)
    try:
        yield engine
    finally:
        engine.dispose()
        if request.param == "postgres":
            drop_postgres_database(url)


def downgrade(engine: Engine, revision: str) -> None:
    """Alembic's downgrade on the engine, the way `migrations.upgrade` runs upgrades."""
    config = migrations.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def tenants(engine: Engine) -> list[tuple[uuid.UUID, str]]:
    """Every tenant as (id, slug)."""
    with Database(engine).transaction(None, write=False) as session:
        rows = session.execute(select(TenantRow.tenant_id, TenantRow.slug)).all()
    return [(row.tenant_id, row.slug) for row in rows]


def schema_diff(engine: Engine) -> list[object]:
    """What autogenerate would change to make the database match the models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": migrations.include_object,
            },
        )
        return list(compare_metadata(context, metadata))


def test_head_revision_is_a_known_script() -> None:
    head = migrations.head_revision()
    assert head
    assert any(path.name.startswith(head) for path in (migrations.HERE / "versions").glob("*.py"))


def test_an_empty_database_is_not_migrated(empty_engine: Engine) -> None:
    assert migrations.current_revision(empty_engine) is None
    assert inspect(empty_engine).get_table_names() == []


def test_migrating_an_empty_database_reaches_head(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    assert migrations.current_revision(empty_engine) == migrations.head_revision()
    tables = set(inspect(empty_engine).get_table_names())
    assert set(metadata.tables) <= tables
    tables = {name for name in tables if not migrations.is_unmapped_table(name)}
    assert tables - set(metadata.tables) == {"alembic_version"}


def test_migrating_creates_the_default_tenant(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    assert tenants(empty_engine) == [(DEFAULT_TENANT_ID, DEFAULT_TENANT_SLUG)]


def test_upgrading_twice_changes_nothing(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    migrations.upgrade(empty_engine)
    assert migrations.current_revision(empty_engine) == migrations.head_revision()
    assert tenants(empty_engine) == [(DEFAULT_TENANT_ID, DEFAULT_TENANT_SLUG)]
    with empty_engine.connect() as connection:
        versions = connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one()
    assert versions == 1


def test_the_migrated_schema_matches_the_models(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    # Nothing is ignored: types, nullability, server defaults, indexes, unique and foreign keys
    # must all agree on both dialects.
    assert schema_diff(empty_engine) == []


def test_downgrade_to_base_and_upgrade_again(empty_engine: Engine) -> None:
    migrations.upgrade(empty_engine)
    downgrade(empty_engine, "base")
    assert migrations.current_revision(empty_engine) is None
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(empty_engine)
    assert migrations.current_revision(empty_engine) == migrations.head_revision()
    assert tenants(empty_engine) == [(DEFAULT_TENANT_ID, DEFAULT_TENANT_SLUG)]
    assert schema_diff(empty_engine) == []


def test_the_migrated_database_takes_writes(empty_engine: Engine) -> None:
    # The schema is usable by the ORM: rows land in the default tenant and read back.
    migrations.upgrade(empty_engine)
    db = Database(empty_engine)
    with db.transaction() as session:
        create_agent(session, AgentCreate(name="scout", role="Scout"), actor=Actor.system())
    with db.transaction(write=False) as session:
        names = [a.name for a in list_agents(session, AgentFilter()).items]
    assert names == ["scout"]
    with empty_engine.connect() as connection:
        tenant_ids = connection.execute(select(AgentRow.tenant_id)).scalars().all()
    assert tenant_ids == [DEFAULT_TENANT_ID]


def test_db_upgrade_command_on_a_fresh_data_dir(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MISSIONCTL_")}
    env["MISSIONCTL_DATA_DIR"] = str(data_dir)
    cache = getattr(request.config, "cache", None)
    if cache is not None and "PYTHONPYCACHEPREFIX" not in env:
        # Bytecode outside the source tree, shared with tests/cli (PYTHONDONTWRITEBYTECODE
        # would otherwise make the child compile every dependency from source).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache.mkdir("missionctl-pycache"))
    result = subprocess.run(
        [str(MISSIONCTL), "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"database at revision {migrations.head_revision()}"
    assert result.stderr == ""
    engine = make_engine(f"sqlite:///{data_dir / 'missionctl.db'}")
    try:
        assert migrations.current_revision(engine) == migrations.head_revision()
        assert tenants(engine) == [(DEFAULT_TENANT_ID, DEFAULT_TENANT_SLUG)]
    finally:
        engine.dispose()
