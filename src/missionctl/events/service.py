"""Appending to and reading the event log.

Events are written when their unit of work commits, not when they are recorded: `record_event`
runs the in-transaction handlers at once and stages the row; the `before_commit` hook inserts
the staged rows last, hands them to the commit sinks (webhooks turn them into deliveries, in the
same transaction), and raises the events signal once the commit is through.

On PostgreSQL, ids come from a sequence and transactions commit in any order, so a reader that
saw id 105 could miss 104 committing later. Writers therefore take a *shared* advisory lock just
before inserting their events, and hold it to commit; a stream reader takes the same lock
*exclusively* (`read_settled`), which waits until every writer that holds an id has committed or
rolled back. Writers never wait for each other; they pause only while a reader reads. On SQLite,
writers are serialised, so ids commit in order anyway.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast, overload

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Table,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    true,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from missionctl.common import Actor, Page, decode_int_cursor, split_page
from missionctl.db import Staged, core_execute, delete_some, stamp_tenant, utcnow
from missionctl.events.models import EventRow
from missionctl.events.schemas import Event, EventFilter, Order
from missionctl.signals import EVENTS

# Writers hold it shared from their first event id to commit; `read_settled` takes it exclusive.
EVENTS_LOCK = 0x6D63_6576  # "mcev"
_STAGED = Staged("events")
_WROTE = "missionctl.wrote_events"


@dataclass(frozen=True)
class DomainEvent:
    """An event as handed to in-transaction handlers."""

    event_type: str
    actor: Actor
    subject_kind: str
    subject_id: str
    summary: str
    task_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    payload: dict[str, Any] = field(default_factory=dict)


EventHandler = Callable[[Session, DomainEvent], None]
CommitSink = Callable[[Session, Sequence[EventRow]], None]
_handlers: dict[str, list[EventHandler]] = defaultdict(list)


@dataclass(frozen=True)
class _Sink:
    run: CommitSink
    interest: ColumnElement[bool] | None


_sinks: list[_Sink] = []
_interests: list[Any] = []  # [statement, sinks it asks about] once built
# The tenants of a unit of work's events, in a sink's `interest`.
EVENT_TENANTS: BindParameter[Any] = bindparam("event_tenants", expanding=True)


def on_event(event_type: str) -> Callable[[EventHandler], EventHandler]:
    """Register a handler run inside the transaction that records `event_type`.

    Lets a higher domain react to a lower one (comms notifies the agents a task was assigned
    to) without the lower one importing it; the reaction commits or rolls back with the change.
    """

    def register(handler: EventHandler) -> EventHandler:
        if handler not in _handlers[event_type]:
            _handlers[event_type].append(handler)
        return handler

    return register


@overload
def on_commit_events(sink: CommitSink) -> CommitSink: ...


@overload
def on_commit_events(*, interest: ColumnElement[bool]) -> Callable[[CommitSink], CommitSink]: ...


def on_commit_events(
    sink: CommitSink | None = None, *, interest: ColumnElement[bool] | None = None
) -> CommitSink | Callable[[CommitSink], CommitSink]:
    """Register a sink handed each unit of work's events, with their ids, before it commits.

    The sink runs in that transaction (what it writes commits with the events) and must not
    record events itself. `interest`, when given, is an EXISTS over the sink's own table
    (webhooks, triggers) with the events' tenants as `EVENT_TENANTS`: the sink runs only when
    it holds. The interests of all sinks are asked in one statement per unit of work, so a
    tenant without webhooks or triggers pays one short query, not one per sink.
    """

    def register(run: CommitSink) -> CommitSink:
        if all(existing.run is not run for existing in _sinks):
            _sinks.append(_Sink(run, interest))
            _interests.clear()
        return run

    return register(sink) if sink is not None else register


def _interested_sinks(session: Session, staged: Sequence[EventRow]) -> list[CommitSink]:
    if not _interests:
        asking = [sink for sink in _sinks if sink.interest is not None]
        labelled = [
            sink.interest.label(f"s{n}")
            for n, sink in enumerate(asking)
            if sink.interest is not None
        ]
        _interests.extend([select(*labelled) if labelled else None, asking])
    statement, asking = _interests
    wanted = {sink.run for sink in _sinks if sink.interest is None}
    if statement is not None:
        tenants = list({row.tenant_id for row in staged})
        answers = session.connection().execute(statement, {"event_tenants": tenants}).one()
        wanted.update(sink.run for sink, answer in zip(asking, answers, strict=True) if answer)
    return [sink.run for sink in _sinks if sink.run in wanted]


def record_event(
    session: Session,
    event_type: str,
    *,
    actor: Actor,
    subject_kind: str,
    subject_id: uuid.UUID | str,
    summary: str,
    task_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Append an event in the caller's transaction (it commits or vanishes with the change).

    The row is written when the transaction commits; handlers registered with `on_event` run now.
    """
    event = DomainEvent(
        event_type=event_type,
        actor=actor,
        subject_kind=subject_kind,
        subject_id=str(subject_id),
        summary=summary,
        task_id=task_id,
        agent_id=agent_id,
        payload=payload or {},
    )
    _STAGED.add(
        session,
        EventRow(
            event_type=event.event_type,
            actor_kind=actor.kind.value,
            actor_id=actor.actor_id,
            subject_kind=event.subject_kind,
            subject_id=event.subject_id,
            task_id=task_id,
            agent_id=agent_id,
            summary=summary,
            payload=event.payload,
        ),
    )
    for handler in _handlers.get(event_type, ()):
        handler(session, event)


@sa_event.listens_for(Session, "before_commit")
def write_staged_events(session: Session) -> None:
    """Write the unit of work's staged events now and hand them to the commit sinks.

    Every commit does this (`before_commit`; a savepoint's release leaves them staged);
    `runtime.service._apply_turn_requests` calls it first, so that the turn states it then
    locks stay locked only for the commit.
    """
    if not Staged.is_final_commit(session):
        return
    staged: list[EventRow] = _STAGED.take(session)
    if not staged:
        return
    if session.get_bind().dialect.name == "postgresql":
        # One round trip: the notification goes out only if the unit of work commits.
        session.execute(_LOCK_AND_NOTIFY, {"key": EVENTS_LOCK, "channel": EVENTS})
    _insert(session, staged)
    for sink in _interested_sinks(session, staged):
        sink(session, staged)
    if _STAGED.peek(session):
        raise RuntimeError("a commit sink recorded events")
    session.info[_WROTE] = True


_LOCK_AND_NOTIFY = text("SELECT pg_advisory_xact_lock_shared(:key), pg_notify(:channel, '')")


_EVENTS = cast(Table, EventRow.__table__)
_INSERT = insert(_EVENTS).returning(_EVENTS.c.event_id)
_VALUES = tuple(column.key for column in _EVENTS.c if column.key != "event_id")


def _insert(session: Session, staged: list[EventRow]) -> None:
    """Write a unit of work's events in one statement (not one INSERT each, as a flush would,
    since it must read every new id back) and give each row its id.

    Within one INSERT, rows take their ids in the order given, on SQLite (AUTOINCREMENT, one
    writer) and PostgreSQL (the sequence is drawn row by row), so the ids read back, sorted,
    belong to the rows in order.
    """
    stamp_tenant(session, staged)
    now = utcnow()
    for row in staged:
        row.created_at = row.created_at or now
        row.payload = row.payload if row.payload is not None else {}
    values = [{key: getattr(row, key) for key in _VALUES} for row in staged]
    event_ids = sorted(session.connection().scalars(_INSERT, values))
    for row, event_id in zip(staged, event_ids, strict=True):
        row.event_id = event_id


@sa_event.listens_for(Session, "after_commit")
def _signal_events(session: Session) -> None:
    if session.info.pop(_WROTE, False) and (signals := session.info.get("signals")):
        signals.raise_(EVENTS)


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_written(session: Session, transaction: SessionTransaction) -> None:
    if not transaction.nested:
        session.info.pop(_WROTE, None)


def _type_is(pattern: str) -> ColumnElement[bool]:
    """`event_type` matches an exact type, a `prefix.*` or `*`."""
    if pattern == "*":
        return true()
    if pattern.endswith(".*"):
        return EventRow.event_type.startswith(pattern[:-1], autoescape=True)
    return EventRow.event_type == pattern


def list_events(session: Session, event_filter: EventFilter) -> Page[Event]:
    """A page of the activity feed, newest first unless asked otherwise."""
    query = select(EventRow)
    if event_filter.task_id is not None:
        query = query.where(EventRow.task_id == event_filter.task_id)
    if event_filter.agent_id is not None:
        query = query.where(EventRow.agent_id == event_filter.agent_id)
    if event_filter.event_type:
        query = query.where(_type_is(event_filter.event_type))
    if event_filter.event_types:
        query = query.where(or_(*(_type_is(pattern) for pattern in event_filter.event_types)))
    for prefix in event_filter.hidden_prefixes:
        query = query.where(~EventRow.event_type.startswith(prefix, autoescape=True))
    if event_filter.after is not None:
        query = query.where(EventRow.event_id > event_filter.after)
    if event_filter.until is not None:
        query = query.where(EventRow.event_id <= event_filter.until)
    newest_first = event_filter.order is Order.NEWEST_FIRST
    if event_filter.cursor:
        last = decode_int_cursor(event_filter.cursor)
        query = query.where(EventRow.event_id < last if newest_first else EventRow.event_id > last)
    order = EventRow.event_id.desc() if newest_first else EventRow.event_id.asc()
    rows = session.scalars(query.order_by(order).limit(event_filter.limit + 1)).all()
    page, next_cursor = split_page(rows, event_filter.limit, lambda row: row.event_id)
    return Page[Event](items=[Event.model_validate(row) for row in page], next_cursor=next_cursor)


def last_activity(
    session: Session, task_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, datetime]]:
    """The type and time of each task's newest event (tasks without events are left out)."""
    found: dict[uuid.UUID, tuple[str, datetime]] = {}
    for task_id in task_ids:
        row = session.execute(
            select(EventRow.event_type, EventRow.created_at)
            .where(EventRow.task_id == task_id)
            .order_by(EventRow.event_id.desc())
            .limit(1)
        ).first()
        if row is not None:
            found[task_id] = (row.event_type, row.created_at)
    return found


def recent_activity(session: Session, limit: int) -> list[tuple[datetime, str]]:
    """The time and summary of the tenant's newest `limit` events, newest first."""
    rows = core_execute(session, _RECENT, {"limit": limit})
    return [(at, summary) for at, summary in rows]


# WORKING.md shows it on every plan: built once, run as Core, scoped to the tenant by hand.
_RECENT = (
    select(EventRow.created_at, EventRow.summary)
    .where(EventRow.tenant_id == bindparam("tenant_id"))
    .order_by(EventRow.event_id.desc())
    .limit(bindparam("limit"))
)


def latest_event_id(session: Session) -> int:
    """The tenant's newest event id (0 before the first event): a version of all its state."""
    return session.scalar(select(func.max(EventRow.event_id))) or 0


def settled_position(connection: Connection) -> int:
    """The newest event id of any tenant such that no smaller id can still commit."""
    with Session(bind=connection) as session, session.begin():
        if connection.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENTS_LOCK})
        newest = session.scalar(
            select(func.max(EventRow.event_id)).execution_options(all_tenants=True)
        )
    return newest or 0


def read_settled(connection: Connection, after: int, limit: int) -> list[tuple[uuid.UUID, Event]]:
    """Up to `limit` events of every tenant after `after`, oldest first, with no gap to come.

    Runs in a transaction of its own on `connection`; on PostgreSQL it first waits out every
    writer between its first event id and commit (see the module docstring), so no event with a
    smaller id than those returned can commit later. Each event comes with its tenant.
    """
    with Session(bind=connection) as session, session.begin():
        if connection.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENTS_LOCK})
        rows = session.scalars(
            select(EventRow)
            .where(EventRow.event_id > after)
            .order_by(EventRow.event_id)
            .limit(limit)
            .execution_options(all_tenants=True)
        ).all()
        return [(row.tenant_id, Event.model_validate(row)) for row in rows]


def purge_events(session: Session, before: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` events of every tenant older than `before` (retention).

    Ids are never reused (streams resume by id), so a gap left here is never filled.
    """
    return delete_some(session, EventRow.event_id, EventRow.created_at < before, limit=limit)
