"""Shared fixtures: a real server over real HTTP, on SQLite and on PostgreSQL.

Every API test runs twice, once per database (`backend` is parametrised). Each backend gets one
migrated database and one uvicorn server per test process; tables are emptied before each test.
PostgreSQL needs MISSIONCTL_TEST_POSTGRES_URL; CI sets it together with
MISSIONCTL_TEST_REQUIRE_POSTGRES=1, which turns a missing server into a failure, not a skip.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url

from missionctl import migrations
from missionctl.db import DEFAULT_TENANT_ID, Database, make_engine, utcnow
from missionctl.identity.credentials import encode_access_token, hash_password
from missionctl.identity.models import MembershipRow, UserRow
from missionctl.permissions import Role
from missionctl.settings import Settings, load_settings
from missionctl.tables import TenantRow, metadata
from missionctl.web.app import create_app

POSTGRES_URL = os.environ.get("MISSIONCTL_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("MISSIONCTL_TEST_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgres"]


@dataclass
class Backend:
    """A migrated database and the settings that point at it."""

    name: str
    settings: Settings
    db: Database
    app: FastAPI | None = None


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _admin_execute(statement: str) -> None:
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def postgres_database(name: str) -> str:
    """Create (or recreate) a PostgreSQL database and return its psycopg URL."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("MISSIONCTL_TEST_POSTGRES_URL is not set but PostgreSQL is required")
        pytest.skip("PostgreSQL tests need MISSIONCTL_TEST_POSTGRES_URL")
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database made by `postgres_database`."""
    _admin_execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@contextmanager
def fresh_database(kind: str, data_dir: Path) -> Iterator[str]:
    """A URL of a brand-new empty database of `kind` (dropped afterwards on PostgreSQL)."""
    if kind == "sqlite":
        yield f"sqlite:///{data_dir / 'missionctl.db'}"
        return
    url = postgres_database(f"mc_test_{_worker()}_{uuid.uuid4().hex[:8]}")
    try:
        yield url
    finally:
        drop_postgres_database(url)


def make_backend(name: str, data_dir: Path) -> Backend:
    """A freshly migrated database of the given kind, with its data dir."""
    if name == "postgres":
        url = postgres_database(f"mc_test_{_worker()}_{uuid.uuid4().hex[:8]}")
    else:
        url = f"sqlite:///{data_dir / 'missionctl.db'}"
    # Limits out of the way: tests sign in and read far faster than people do (their own test
    # sets them low).
    unlimited = {f"rate_limit_{kind}": 10**9 for kind in ("auth", "read", "write")}
    settings = load_settings(data_dir=data_dir, database_url=url, secret_key="x" * 48, **unlimited)
    db = Database(make_engine(settings.resolved_database_url, pool_size=5))
    migrations.upgrade(db.engine)
    return Backend(name=name, settings=settings, db=db)


def reset(db: Database) -> None:
    """Empty every table but keep the default tenant, as after a fresh migration."""
    tables = [t for t in reversed(metadata.sorted_tables) if t.name != "tenants"]
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # Tasks point at tasks (parents); check foreign keys once, at commit.
            connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            for table in tables:
                connection.execute(table.delete())
        connection.execute(
            delete(TenantRow.__table__).where(TenantRow.tenant_id != DEFAULT_TENANT_ID)
        )


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """A migrated database per kind, shared by the tests of one process."""
    data_dir = tmp_path_factory.mktemp(f"data-{request.param}")
    backend = make_backend(request.param, data_dir)
    yield backend
    backend.db.dispose()
    if backend.name == "postgres":
        drop_postgres_database(backend.settings.resolved_database_url)


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free 127.0.0.1 port (its port is known before serving)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class ServerThread:
    """uvicorn serving an app on a pre-bound 127.0.0.1 socket, in a thread."""

    def __init__(self, app: object, sock: socket.socket | None = None) -> None:
        self.socket = sock or bound_socket()
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_exc: object) -> None:
        # Tests serve without lifespan: close the model gateway's clients on the server's loop.
        state = getattr(getattr(self.server.config.app, "state", None), "mission_control", None)
        if state is not None:
            state.gateway.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture(scope="session")
def server(backend: Backend) -> Iterator[str]:
    """The base URL of a real Mission Control server on the backend's database."""
    app = backend.app = create_app(backend.settings, backend.db)
    with ServerThread(app) as base_url:
        yield base_url


TEST_PASSWORD = "correct horse battery staple"
# One argon2 hash per test process: hashing is slow on purpose, and every test needs users.
_PASSWORD_HASH = hash_password(TEST_PASSWORD)


def make_user(
    backend: Backend, role: Role, email: str | None = None, tenant_id: uuid.UUID = DEFAULT_TENANT_ID
) -> tuple[uuid.UUID, str]:
    """A user with `role` in the tenant (password TEST_PASSWORD) and an access token for them."""
    email = email or f"{role.value}-{uuid.uuid4().hex[:6]}@example.com"
    with backend.db.transaction(None) as session:
        user = UserRow(email=email, password_hash=_PASSWORD_HASH)
        session.add(user)
        session.flush()
        session.add(MembershipRow(tenant_id=tenant_id, user_id=user.user_id, role=role.value))
        slug = session.get(TenantRow, tenant_id).slug  # type: ignore[union-attr]
    token, _expires = encode_access_token(
        backend.settings.secret_key or "", user.user_id, tenant_id, slug, role.value, utcnow()
    )
    return user.user_id, token


def client_for(server: str, token: str | None) -> httpx.Client:
    """An HTTP client on the API, signed in with `token` (or anonymous)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{server}/api/v1", timeout=30, headers=headers)


@pytest.fixture
def api(server: str, backend: Backend) -> Iterator[httpx.Client]:
    """An HTTP client signed in as an admin, on an emptied database."""
    reset(backend.db)
    _user_id, token = make_user(backend, Role.ADMIN, "admin@example.com")
    with client_for(server, token) as client:
        yield client


@pytest.fixture
def anonymous(server: str) -> Iterator[httpx.Client]:
    """An HTTP client without credentials."""
    with client_for(server, None) as client:
        yield client
