"""A pooled PostgreSQL connection that died while idle (a server restart, an admin's kill) is
replaced before use; a busy pool is not pinged on every checkout."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from missionctl import db as dbmod
from missionctl.db import libpq_conninfo, make_engine
from tests.conftest import fresh_database


def test_an_idle_connection_killed_on_the_server_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbmod, "PING_AFTER_IDLE_SECONDS", 0.2)
    with fresh_database("postgres", tmp_path) as url:
        engine = make_engine(url, pool_size=1)
        pings: list[Any] = []
        do_ping = engine.dialect.do_ping

        def counted(dbapi_connection: Any) -> bool:
            pings.append(dbapi_connection)
            return do_ping(dbapi_connection)

        monkeypatch.setattr(engine.dialect, "do_ping", counted)
        try:
            with engine.connect() as conn:
                victim = conn.scalar(text("SELECT pg_backend_pid()"))
            for _ in range(3):  # busy: reused at once, never pinged
                with engine.connect() as conn:
                    assert conn.scalar(text("SELECT pg_backend_pid()")) == victim
            assert pings == []
            with psycopg.connect(libpq_conninfo(engine), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (victim,))
            time.sleep(0.3)
            with engine.connect() as conn:  # idle long enough: pinged, found dead, replaced
                assert conn.scalar(text("SELECT 1 + 1")) == 2
                assert conn.scalar(text("SELECT pg_backend_pid()")) != victim
            assert len(pings) >= 1
        finally:
            engine.dispose()
