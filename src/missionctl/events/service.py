"""Appending to and reading the event log."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from missionctl.common import Actor, Page, decode_int_cursor, split_page
from missionctl.events.models import EventRow
from missionctl.events.schemas import Event, EventFilter, Order


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
_handlers: dict[str, list[EventHandler]] = defaultdict(list)


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
    """Append an event in the caller's transaction (it commits or vanishes with the change)."""
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
    session.add(
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
        )
    )
    for handler in _handlers.get(event_type, ()):
        handler(session, event)


def list_events(session: Session, event_filter: EventFilter) -> Page[Event]:
    """A page of the activity feed, newest first unless asked otherwise."""
    query = select(EventRow)
    if event_filter.task_id is not None:
        query = query.where(EventRow.task_id == event_filter.task_id)
    if event_filter.agent_id is not None:
        query = query.where(EventRow.agent_id == event_filter.agent_id)
    if event_filter.event_type:
        if event_filter.event_type.endswith(".*"):
            prefix = event_filter.event_type[:-1]
            query = query.where(EventRow.event_type.startswith(prefix, autoescape=True))
        else:
            query = query.where(EventRow.event_type == event_filter.event_type)
    if event_filter.after is not None:
        query = query.where(EventRow.event_id > event_filter.after)
    newest_first = event_filter.order is Order.NEWEST_FIRST
    if event_filter.cursor:
        last = decode_int_cursor(event_filter.cursor)
        query = query.where(EventRow.event_id < last if newest_first else EventRow.event_id > last)
    order = EventRow.event_id.desc() if newest_first else EventRow.event_id.asc()
    rows = session.scalars(query.order_by(order).limit(event_filter.limit + 1)).all()
    page, next_cursor = split_page(rows, event_filter.limit, lambda row: row.event_id)
    return Page[Event](items=[Event.model_validate(row) for row in page], next_cursor=next_cursor)


def latest_event_id(session: Session) -> int:
    """The tenant's newest event id (0 before the first event): a version of all its state."""
    return session.scalar(select(func.max(EventRow.event_id))) or 0
