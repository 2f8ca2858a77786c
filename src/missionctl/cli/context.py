"""What every CLI command needs: settings and a migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from missionctl import migrations
from missionctl.bootstrap import open_database
from missionctl.db import DEFAULT_TENANT_ID, Database
from missionctl.errors import MissionControlError
from missionctl.identity.service import get_tenant
from missionctl.settings import Settings, load_settings


class NotMigrated(MissionControlError):
    """The database has no schema (or an old one)."""

    code = "not_migrated"
    exit_code = 5


@contextmanager
def database() -> Iterator[tuple[Settings, Database]]:
    """Settings and an open database whose schema is current."""
    settings = load_settings()
    db = open_database(settings)
    try:
        if migrations.current_revision(db.engine) != migrations.head_revision():
            raise NotMigrated("the database is not migrated; run `missionctl db upgrade` first")
        yield settings, db
    finally:
        db.dispose()


@contextmanager
def unit_of_work(*, write: bool = True, tenant: str | None = None) -> Iterator[Session]:
    """One transaction in the default tenant, or the tenant with slug `tenant`."""
    with database() as (_settings, db):
        tenant_id = DEFAULT_TENANT_ID
        if tenant is not None:
            with db.transaction(None, write=False) as session:
                tenant_id = get_tenant(session, tenant).tenant_id
        with db.transaction(tenant_id, write=write) as session:
            yield session
