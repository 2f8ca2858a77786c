"""A unit of work's events and turn requests are written once, at its commit, and a savepoint
that rolls back takes back only what was staged inside it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from missionctl.agents.schemas import AgentCreate
from missionctl.agents.service import create_agent
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, Database
from missionctl.engine.models import JobRow
from missionctl.events.models import EventRow
from missionctl.events.service import on_commit_events, record_event
from missionctl.runtime.service import TURN_JOB, request_turn
from tests.conftest import Backend, reset

SYSTEM = Actor.system()


def note(session: Session, summary: str) -> None:
    record_event(
        session, "test.staged", actor=SYSTEM, subject_kind="test", subject_id="s", summary=summary
    )


def written(db: Database) -> list[str]:
    with db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        return list(
            session.scalars(
                select(EventRow.summary)
                .where(EventRow.event_type == "test.staged")
                .order_by(EventRow.event_id)
            )
        )


CALLS: list[list[str]] = []


@on_commit_events
def _sink(_session: Session, rows: Sequence[EventRow]) -> None:
    staged = [row.summary for row in rows if row.event_type == "test.staged"]
    if staged:
        CALLS.append(staged)


@pytest.fixture
def sink_calls() -> Iterator[list[list[str]]]:
    CALLS.clear()
    yield CALLS
    CALLS.clear()


def test_a_released_savepoint_leaves_its_events_for_the_commit(
    backend: Backend, sink_calls: list[list[str]]
) -> None:
    reset(backend.db)
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        note(session, "before")
        with session.begin_nested():
            note(session, "inside")
        note(session, "after")
    assert written(backend.db) == ["before", "inside", "after"]
    assert sink_calls == [["before", "inside", "after"]]  # the sinks ran once, at the commit


def test_a_savepoint_that_rolls_back_drops_only_its_own_events(
    backend: Backend, sink_calls: list[list[str]]
) -> None:
    reset(backend.db)
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        note(session, "before")
        with pytest.raises(RuntimeError), session.begin_nested():
            note(session, "undone")
            raise RuntimeError
        with session.begin_nested():
            note(session, "kept")
            with pytest.raises(RuntimeError), session.begin_nested():
                note(session, "undone too")
                raise RuntimeError
        note(session, "after")
    assert written(backend.db) == ["before", "kept", "after"]


def test_a_rolled_back_unit_of_work_writes_nothing(backend: Backend) -> None:
    reset(backend.db)
    with pytest.raises(RuntimeError), backend.db.transaction(DEFAULT_TENANT_ID) as session:
        with session.begin_nested():
            note(session, "inside")
        raise RuntimeError
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        note(session, "next")  # the next unit of work starts with nothing staged
    assert written(backend.db) == ["next"]


def test_turn_requests_follow_the_savepoints_too(backend: Backend) -> None:
    reset(backend.db)
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        kept = create_agent(session, AgentCreate(name="kept", role="W"), actor=SYSTEM)
        undone = create_agent(session, AgentCreate(name="undone", role="W"), actor=SYSTEM)
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        with session.begin_nested():
            request_turn(session, kept.agent_id)
        with pytest.raises(RuntimeError), session.begin_nested():
            request_turn(session, undone.agent_id)
            raise RuntimeError
        # Not enqueued when the savepoint was released: at the commit, with the rest.
        assert session.scalar(select(func.count()).where(JobRow.kind == TURN_JOB)) == 0
    with backend.db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        payloads = session.scalars(select(JobRow.payload).where(JobRow.kind == TURN_JOB)).all()
    assert [p["agent_id"] for p in payloads] == [str(kept.agent_id)]


def test_sinks_with_nothing_to_do_cost_one_question_together(backend: Backend) -> None:
    reset(backend.db)  # no webhooks, no workflow triggers
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa_event.listen(backend.db.engine, "before_cursor_execute", seen)
    try:
        with backend.db.transaction(DEFAULT_TENANT_ID) as session:
            note(session, "alone")
    finally:
        sa_event.remove(backend.db.engine, "before_cursor_execute", seen)
    asking = [s for s in statements if "webhooks" in s or "workflow_triggers" in s]
    assert len(asking) == 1
    assert "webhooks" in asking[0] and "workflow_triggers" in asking[0]
    assert written(backend.db) == ["alone"]
