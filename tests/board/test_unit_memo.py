"""A unit of work reads a task or an agent once, and never sees a read outlive its own change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from missionctl.agents.schemas import AgentCreate, AgentUpdate
from missionctl.agents.service import all_agents, create_agent, get_agent, update_agent
from missionctl.board import service as board
from missionctl.board.schemas import Task, TaskAssign, TaskCreate, TaskUpdate
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID
from tests.conftest import Backend, reset

SYSTEM = Actor.system()


@pytest.fixture
def clean(backend: Backend) -> Backend:
    reset(backend.db)
    return backend


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """The SELECT statements `engine` runs inside the block."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def new_task(session: Session, title: str = "t") -> Task:
    return board.create_task(session, TaskCreate(title=title), actor=SYSTEM)


def test_a_task_is_read_once_until_it_changes(clean: Backend) -> None:
    with clean.db.transaction(DEFAULT_TENANT_ID) as session:
        agent = create_agent(session, AgentCreate(name="w", role="Writer"), actor=SYSTEM)
        task, other = new_task(session, "t"), new_task(session, "other")
        board.get_task(session, task.task_id)
        with counting(clean.db.engine) as selects:
            again = board.get_task(session, task.task_id)
        assert selects == [] and again.title == "t"
        board.assign_task(
            session, task.task_id, TaskAssign(agent_ids=[agent.agent_id]), actor=SYSTEM
        )
        with counting(clean.db.engine) as selects:
            assert board.get_task(session, other.task_id).assignee_ids == []  # still remembered
            assert selects == []
        assert board.get_task(session, task.task_id).assignee_ids == [agent.agent_id]
        board.update_task(session, task.task_id, TaskUpdate(title="renamed"), actor=SYSTEM)
        assert board.get_task(session, task.task_id).title == "renamed"


def test_a_rolled_back_savepoint_leaves_no_read_of_its_changes(clean: Backend) -> None:
    with clean.db.transaction(DEFAULT_TENANT_ID) as session:
        task = new_task(session, "before")
        with pytest.raises(RuntimeError), session.begin_nested():
            board.update_task(session, task.task_id, TaskUpdate(title="inside"), actor=SYSTEM)
            assert board.get_task(session, task.task_id).title == "inside"
            raise RuntimeError("undo")
        assert board.get_task(session, task.task_id).title == "before"


def test_each_unit_of_work_reads_afresh(clean: Backend) -> None:
    with clean.db.transaction(DEFAULT_TENANT_ID) as session:
        task = new_task(session, "first")
    with clean.db.transaction(DEFAULT_TENANT_ID) as session:
        board.get_task(session, task.task_id)
        board.update_task(session, task.task_id, TaskUpdate(title="second"), actor=SYSTEM)
    with clean.db.transaction(DEFAULT_TENANT_ID) as session:
        assert board.get_task(session, task.task_id).title == "second"


def test_agents_are_read_once_until_one_changes(clean: Backend) -> None:
    with clean.db.transaction(DEFAULT_TENANT_ID) as session:
        agent = create_agent(session, AgentCreate(name="a", role="Writer"), actor=SYSTEM)
        assert [a.name for a in all_agents(session)] == ["a"]
        with counting(clean.db.engine) as selects:
            assert get_agent(session, agent.agent_id).role == "Writer"
            assert selects == []  # all_agents remembered it
        update_agent(session, agent.agent_id, AgentUpdate(role="Editor"), actor=SYSTEM)
        assert get_agent(session, agent.agent_id).role == "Editor"
        assert [a.role for a in all_agents(session)] == ["Editor"]
