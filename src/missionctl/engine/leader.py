"""Who is the one active scheduler: a lock that dies with the process that holds it.

- PostgreSQL: a session-level advisory lock on a connection of its own. When the holder dies,
  its connection closes and PostgreSQL frees the lock; a standby's next try takes it.
- SQLite: an exclusive `flock` on a file next to the database (SQLite lives on one host). The
  kernel frees it when the holder dies.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Protocol

import psycopg
from sqlalchemy import Engine

from missionctl.db import libpq_conninfo

SCHEDULER_LOCK = 0x6D63_7363  # "mcsc"


class Leadership(Protocol):
    """A lock at most one process holds."""

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True if this process holds it now."""

    def is_held(self) -> bool:
        """True while this process still holds it."""

    def release(self) -> None:
        """Give it up."""


class PgAdvisoryLeadership:
    """Leadership by `pg_try_advisory_lock` on a dedicated connection."""

    def __init__(self, conninfo: str, key: int = SCHEDULER_LOCK) -> None:
        self.conninfo = conninfo
        self.key = key
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free."""
        if self.is_held():
            return True
        try:
            connection = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
        except psycopg.Error:
            return False
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if row and row[0]:
            self._connection = connection
            return True
        connection.close()
        return False

    def is_held(self) -> bool:
        """True while the holding connection still answers (losing it frees the lock)."""
        if self._connection is None:
            return False
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error:
            self.release()
            return False
        return True

    def release(self) -> None:
        """Close the connection, which frees the lock."""
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


class FileLeadership:
    """Leadership by an exclusive `flock` on a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def is_held(self) -> bool:
        """A held flock stays held until released or the process ends."""
        return self._fd is not None

    def release(self) -> None:
        """Unlock and close."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class SoleLeadership:
    """An in-memory database has one process: it always leads."""

    def try_acquire(self) -> bool:
        """Always."""
        return True

    def is_held(self) -> bool:
        """Always."""
        return True

    def release(self) -> None:
        """Nothing to release."""


def leadership_for(engine: Engine) -> Leadership:
    """The right kind of leadership lock for the engine's database."""
    if engine.dialect.name == "postgresql":
        return PgAdvisoryLeadership(libpq_conninfo(engine))
    database = engine.url.database
    if not database or database == ":memory:":
        return SoleLeadership()
    return FileLeadership(Path(f"{database}.scheduler.lock"))
