"""Database core: engine, sessions, column types, and tenant isolation applied centrally.

One transaction per unit of work: a request, a job or a CLI command opens it with
`Database.transaction()`; services only `flush()`. Every row of a tenant-owned table mixes in
`TenantMixin`; the session adds `tenant_id = <current tenant>` to every ORM query and sets it on
every insert, so no service can forget it. Queries that must span tenants say so explicitly with
`execution_options(all_tenants=True)`.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVarTuple, overload

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    CursorResult,
    DateTime,
    Dialect,
    Engine,
    Executable,
    ForeignKey,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    Uuid,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    declared_attr,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.selectable import TypedReturnsRows
from uuid_utils.compat import uuid7

from missionctl.signals import CHANNELS, PgListener, Signals

# An id in a where-clause builder: a value, or a bind parameter (statements built once).
IdRef = uuid.UUID | ColumnElement[Any] | InstrumentedAttribute[Any]

DEFAULT_TENANT_ID = uuid.UUID("00000000-0000-7000-8000-000000000001")
DEFAULT_TENANT_SLUG = "default"

# Time-ordered ids: creation order is key order, so cursors are just the last id.
new_id = uuid7


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a real bigint.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class TenantMixin:
    """Marks a tenant-owned table; isolation is enforced by the session, not by callers."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805
        # Typed here, not taken from the foreign key: until the tenants table is mapped the
        # column would have no type, and Core statements could not bind a UUID to it.
        return mapped_column(Uuid(), ForeignKey("tenants.tenant_id"), nullable=False)


class Timestamps:
    """created_at / updated_at columns, UTC."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def short_string(length: int) -> String:
    """A VARCHAR of the given length (enforced by the schemas, declared for PostgreSQL)."""
    return String(length)


class TenantIsolationError(RuntimeError):
    """A session tried to write a row into a tenant other than its own."""


def tenant_of(session: Session) -> uuid.UUID:
    """The tenant the session acts for."""
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None:
        raise TenantIsolationError("session has no tenant")
    return tenant_id  # type: ignore[no-any-return]


_Row = TypeVarTuple("_Row")


# Typed like `Connection.execute`: a typed statement gives typed rows.
@overload
def core_execute(  # type: ignore[overload-overlap]  # (as SQLAlchemy's own overloads)
    session: Session,
    statement: TypedReturnsRows[*_Row],
    params: Mapping[str, Any] | None = None,
) -> CursorResult[*_Row]: ...
@overload
def core_execute(
    session: Session, statement: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]: ...
def core_execute(
    session: Session, statement: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """Run a prebuilt Core statement on the session's connection, in the session's tenant.

    Hot reads are built once and run as Core (building a statement costs more than running
    it). Core bypasses the session, so its pending changes are flushed first, and the tenant the
    ORM would add is bound here as `tenant_id`: the statement names it itself.
    """
    session.flush()
    return session.connection().execute(
        statement, {**(params or {}), "tenant_id": tenant_of(session)}
    )


class Staged:
    """What a unit of work collects for its commit (events, turn requests): a list in the
    session's `info`, taken by a `before_commit` hook.

    Savepoint-aware: a savepoint that rolls back drops only what was added inside it, and the
    hooks that take it wait for the outermost commit (`is_final_commit`): SQLAlchemy runs
    `before_commit` when a savepoint is released too.
    """

    _all: ClassVar[list[Staged]] = []

    def __init__(self, name: str) -> None:
        self.key = f"missionctl.staged.{name}"
        Staged._all.append(self)

    def add(self, session: Session, item: Any) -> None:
        """Stage `item` for this unit of work's commit."""
        session.info.setdefault(self.key, []).append(item)

    def peek(self, session: Session) -> list[Any]:
        """What is staged now (not taken)."""
        return session.info.get(self.key) or []

    def take(self, session: Session) -> list[Any]:
        """Everything staged, removed from the unit of work."""
        return session.info.pop(self.key, None) or []

    @staticmethod
    def is_final_commit(session: Session) -> bool:
        """Whether a `before_commit` hook runs for the unit of work itself (not a savepoint)."""
        return not session.in_nested_transaction()


_SAVEPOINT_MARKS = "missionctl.staged.marks"


@event.listens_for(Session, "after_transaction_create")
def _mark_staged(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = {s.key: len(session.info.get(s.key) or ()) for s in Staged._all}
        session.info.setdefault(_SAVEPOINT_MARKS, {})[transaction] = marks


@event.listens_for(Session, "after_transaction_end")
def _unmark_staged(session: Session, transaction: SessionTransaction) -> None:
    # Kept until the unit of work ends: a savepoint's rollback is announced after its end.
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_SAVEPOINT_MARKS, None)


@event.listens_for(Session, "after_soft_rollback")
def _drop_staged(session: Session, transaction: SessionTransaction) -> None:
    marks = session.info.get(_SAVEPOINT_MARKS, {}).get(transaction) if transaction.nested else None
    for staged in Staged._all:
        items = session.info.get(staged.key)
        if items is None:
            continue
        if marks is None:
            del session.info[staged.key]  # the unit of work rolled back: all of it
        else:
            del items[marks.get(staged.key, 0) :]


class UnitMemo:
    """Reads remembered for the rest of one unit of work (a dict in the session's `info`).

    A turn's use cases ask for the same task or agent many times in one transaction; each
    asks again at no cost. An entry is dropped when the session writes one of `tables`' rows
    naming it (attribute `by`; without `by`, or when a row is deleted, the whole memo goes), the
    whole memo on a bulk UPDATE or DELETE of them and when the unit of work or a savepoint ends:
    a read never outlives a change this unit of work made.
    """

    def __init__(self, name: str, *tables: type[Any], by: str | None = None) -> None:
        self.key = f"missionctl.memo.{name}"
        self.tables = tables
        self.by = by  # the changed row's attribute that names the one entry it affects
        self._names = {table.__tablename__ for table in tables}
        event.listen(Session, "after_flush", self._after_flush)
        event.listen(Session, "do_orm_execute", self._on_execute)
        event.listen(Session, "after_transaction_end", self._on_end)

    def of(self, session: Session) -> dict[Any, Any]:
        """This unit of work's memo (made on first use)."""
        memo: dict[Any, Any] | None = session.info.get(self.key)
        if memo is None:
            memo = session.info[self.key] = {}
        return memo

    def forget(self, session: Session) -> None:
        """Drop everything remembered."""
        session.info.pop(self.key, None)

    def _after_flush(self, session: Session, _context: object) -> None:
        memo = session.info.get(self.key)
        if not memo:
            return
        changed = [o for o in (*session.new, *session.dirty) if isinstance(o, self.tables)]
        deleted = any(isinstance(o, self.tables) for o in session.deleted)
        if deleted or (changed and self.by is None):
            self.forget(session)  # a deletion may cascade beyond the rows it names
        elif self.by is not None:
            for obj in changed:
                memo.pop(getattr(obj, self.by), None)

    def _on_execute(self, state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete) and self.key in state.session.info:
            target = getattr(state.statement, "table", None)
            if getattr(target, "name", None) in self._names:
                self.forget(state.session)

    def _on_end(self, session: Session, transaction: SessionTransaction) -> None:
        # Not the inner transaction every flush runs in: a savepoint, or the whole unit.
        if transaction.nested or transaction.parent is None:
            self.forget(session)


@event.listens_for(Session, "do_orm_execute")
def _scope_queries_to_tenant(state: ORMExecuteState) -> None:
    # Statements on plain Tables (the job queue's hot path) have no entities to scope; they
    # say which rows they touch themselves.
    if state.is_column_load or state.is_relationship_load or not state.is_orm_statement:
        return
    if state.execution_options.get("all_tenants"):
        return
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(_tenant_criteria(tenant_id))


@functools.lru_cache(maxsize=1024)
def _tenant_criteria(tenant_id: uuid.UUID) -> Any:
    # One option per tenant, made once: building it (a lambda SQLAlchemy analyses) cost more
    # than a short query itself. The tenant id is the lambda's bound value, not part of the
    # statement's cache key, so every tenant shares one compiled form.
    return with_loader_criteria(
        TenantMixin, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
    )


@event.listens_for(Session, "before_flush")
def _stamp_tenant_on_insert(session: Session, _context: object, _instances: object) -> None:
    stamp_tenant(session, (obj for obj in session.new if isinstance(obj, TenantMixin)))


def stamp_tenant(session: Session, rows: Iterable[TenantMixin]) -> None:
    """Set the session's tenant on rows about to be inserted; refuse another tenant's (done
    for every ORM insert; callers that insert rows with Core statements call it themselves)."""
    tenant_id = session.info.get("tenant_id")
    for obj in rows:
        current = obj.tenant_id
        if current is None:
            if tenant_id is None:
                raise TenantIsolationError(f"{type(obj).__name__} inserted without a tenant")
            obj.tenant_id = tenant_id
        elif tenant_id is not None and current != tenant_id:
            raise TenantIsolationError(f"{type(obj).__name__} inserted into another tenant")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # We emit BEGIN ourselves (below) so that writers take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes can fail with SQLITE_BUSY without
        # waiting; BEGIN IMMEDIATE waits for the write lock instead (readers are never blocked).
        # Straight to the driver: SQLAlchemy's statement machinery would double the cost of
        # a short transaction.
        is_write = conn.get_execution_options().get("write", False)
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if is_write else "BEGIN")


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (psycopg 3)."""
    if url.startswith("sqlite"):
        is_memory = url in {"sqlite://", "sqlite:///:memory:"}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            poolclass=NullPool if is_memory else None,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    _ping_idle_connections(engine)
    return engine


# A pooled PostgreSQL connection idle this long is pinged before use.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection on checkout only if it sat idle (SQLAlchemy's "pessimistic"
    recipe with a checkout hook): a server restart is caught before use, as `pool_pre_ping`
    does, without a round trip for every unit of work of a busy process (several a turn).
    A failed ping discards the connection and the pool opens another."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)  # what pool_pre_ping runs
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(str(exc)) from exc


# How long a SQLite writer queues in the process before leaving the wait to SQLite's own
# busy timeout (same length): the lock is a fast path, never a new way to fail.
WRITE_LOCK_TIMEOUT_SECONDS = 10.0

# The priority of the units of work the current thread or task starts: a job's priority while
# a worker runs it (lower first, as jobs are claimed). Urgent (< 0) ones go first to the
# write lock (db.WriteLock).
write_priority: contextvars.ContextVar[int] = contextvars.ContextVar(
    "missionctl_write_priority", default=0
)


class WriteLock:
    """The process's write lock (`permits` holders at once), with urgent writers served first.

    A plain `threading.Lock` wakes an arbitrary waiter, so a writer on the critical path (the
    turns of the team's planner, which every goal passes through) queues behind whoever is
    waiting. Here an urgent writer waits only for the holder: other writers do not take the
    lock while an urgent one waits. Among writers of one kind it is first come, mostly: a
    released lock goes to whoever gets it first, as with a plain lock, so it is never idle
    while the next one in line wakes up. Written here because nothing in the standard library
    orders waiters; it is a mutex and two conditions.
    """

    def __init__(self, permits: int = 1) -> None:
        self._mutex = threading.Lock()
        self._urgent_turn = threading.Condition(self._mutex)
        self._turn = threading.Condition(self._mutex)
        self._permits = permits
        self._held = 0
        self._urgent_waiting = 0

    @property
    def _is_held(self) -> bool:
        return self._held >= self._permits

    def acquire(self, *, urgent: bool, timeout: float) -> bool:
        """Take the lock; False after `timeout` seconds without it."""
        deadline = time.monotonic() + timeout
        with self._mutex:
            turn, waiting = (self._urgent_turn, 1) if urgent else (self._turn, 0)
            self._urgent_waiting += waiting
            try:
                while self._is_held or (self._urgent_waiting and not urgent):
                    if not turn.wait(deadline - time.monotonic()):
                        break
                else:
                    self._held += 1
                    return True
            finally:
                self._urgent_waiting -= waiting
            if not self._is_held:
                self._next()  # it gave up, maybe just as it was woken: pass that on
            return False

    def release(self) -> None:
        """Let the next writer in: an urgent one if any waits."""
        with self._mutex:
            self._held -= 1
            self._next()

    def _next(self) -> None:
        if self._urgent_waiting:
            self._urgent_turn.notify()
        else:
            self._turn.notify()


class Database:
    """An engine plus the sessions that run units of work on it.

    `signals` wakes this process's stream tail and workers when a unit of work commits events or
    jobs. Writers of this process queue on a lock (`WriteLock`). On SQLite one at a time, before
    `BEGIN IMMEDIATE`: SQLite's busy handler sleeps in steps of milliseconds, a lock hands over
    in microseconds. On PostgreSQL `writers` at a time (0: no limit), because one process runs
    Python one thread at a time: units of work that interleave under the GIL stretch every
    statement's round trip (a `SELECT 1` took 0.17 ms at the median and 0.6 at p90 from another
    process, 0.38 and 3.7 from a thread of a busy worker), so a unit of work on the critical
    path took several times its own time. Queued, each runs nearly alone, urgent ones first.
    More writing is more processes (README, "Running on PostgreSQL").
    """

    def __init__(self, engine: Engine, *, writers: int = 1) -> None:
        self.engine = engine
        self.signals = Signals()
        self.is_sqlite = engine.dialect.name == "sqlite"
        limit = 1 if self.is_sqlite else writers
        self._write_lock = WriteLock(limit) if limit else None
        self._listener: PgListener | None = None
        self._listener_lock = threading.Lock()
        self._write_engine = engine.execution_options(write=True)
        self._read = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
        self._write = sessionmaker(bind=self._write_engine, expire_on_commit=False, autoflush=True)

    @contextmanager
    def transaction(
        self, tenant_id: uuid.UUID | None = DEFAULT_TENANT_ID, *, write: bool = True
    ) -> Iterator[Session]:
        """One unit of work: commits when the block ends, rolls back if it raises."""
        factory = self._write if write else self._read
        with self.write_turn(write), factory() as session:
            session.info["tenant_id"] = tenant_id
            session.info["signals"] = self.signals
            with session.begin():
                yield session

    @contextmanager
    def connect(self, *, write: bool = True) -> Iterator[Connection]:
        """A Core connection in a transaction, for hot paths that need no ORM (the job queue).

        No tenant scoping and no session hooks: callers name the rows they touch.
        """
        with self.write_turn(write), (self._write_engine if write else self.engine).begin() as conn:
            yield conn

    @contextmanager
    def write_turn(self, write: bool = True) -> Iterator[None]:
        """Hold a place among this process's writers for the block (see the class)."""
        lock = self._write_lock if write else None
        is_held = (
            lock.acquire(urgent=write_priority.get() < 0, timeout=WRITE_LOCK_TIMEOUT_SECONDS)
            if lock
            else False
        )
        try:
            yield
        finally:
            if is_held and lock is not None:
                lock.release()

    def listen(self) -> None:
        """On PostgreSQL, hear other processes' commits as signals (once per process; idempotent).

        On SQLite there is nothing to start: waiters probe `PRAGMA data_version` instead.
        """
        if self.is_sqlite:
            return
        with self._listener_lock:
            if self._listener is None:
                self._listener = PgListener(libpq_conninfo(self.engine), self.signals, CHANNELS)
                self._listener.start()

    def dispose(self) -> None:
        """Stop listening and close every pooled connection."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self.engine.dispose()


def libpq_conninfo(engine: Engine) -> str:
    """The engine's PostgreSQL URL as libpq takes it (no SQLAlchemy driver name)."""
    return make_url(engine.url).set(drivername="postgresql").render_as_string(hide_password=False)


def delete_some(
    session: Session, key: InstrumentedAttribute[Any], *where: Any, limit: int = 1000
) -> int:
    """Delete at most `limit` rows of `key`'s table (every tenant) matching `where`; how many.

    For retention: a bounded batch per unit of work keeps locks and transactions short.
    """
    doomed = select(key).where(*where).limit(limit).scalar_subquery()
    result = session.execute(
        delete(key.class_)
        .where(key.in_(doomed))
        .execution_options(all_tenants=True, synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


class ChangeProbe:
    """Tells cheaply whether another connection committed to the database since the last look.

    On SQLite, `PRAGMA data_version` on a connection of our own that never writes moves with
    every commit of any other connection, in this process or another (a few microseconds). On
    PostgreSQL there is no such probe: `changed()` is always True and callers rely on
    LISTEN/NOTIFY plus a slower poll.
    """

    def __init__(self, engine: Engine, *, writers: int = 1) -> None:
        self._connection: Any = engine.raw_connection() if engine.dialect.name == "sqlite" else None
        self._version: int | None = None

    def changed(self) -> bool:
        """True if something committed since the previous call (always True the first time)."""
        if self._connection is None:
            return True
        cursor = self._connection.cursor()
        try:
            version = cursor.execute("PRAGMA data_version").fetchone()[0]
        finally:
            cursor.close()
        is_changed: bool = version != self._version
        self._version = version
        return is_changed

    def close(self) -> None:
        """Give the connection back."""
        if self._connection is not None:
            self._connection.close()
