"""Tenant isolation is applied by the session itself, so no service can forget it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from missionctl.agents.schemas import AgentCreate, AgentFilter
from missionctl.agents.service import create_agent, find_agent_by_name, get_agent, list_agents
from missionctl.board.models import TaskRow
from missionctl.board.schemas import TaskCreate, TaskFilter, TaskStatus, TaskStatusChange
from missionctl.board.service import change_status, create_task, get_task, list_tasks
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, TenantIsolationError, new_id
from missionctl.errors import NotFound
from missionctl.events.schemas import EventFilter
from missionctl.events.service import list_events
from missionctl.identity.models import TenantRow
from tests.conftest import Backend, reset


@pytest.fixture
def other_tenant(backend: Backend) -> uuid.UUID:
    reset(backend.db)
    tenant_id = new_id()
    with backend.db.transaction(None) as session:
        session.add(TenantRow(tenant_id=tenant_id, slug=f"t-{tenant_id.hex[:8]}", name="Other"))
    return tenant_id


def test_queries_only_see_the_sessions_tenant(backend: Backend, other_tenant: uuid.UUID) -> None:
    actor = Actor.user()
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        mine = create_agent(session, AgentCreate(name="writer", role="W"), actor=actor)
        my_task = create_task(
            session, TaskCreate(title="mine", assignee_ids=[mine.agent_id]), actor=actor
        )
    with backend.db.transaction(other_tenant) as session:
        theirs = create_agent(
            session, AgentCreate(name="writer", role="W"), actor=actor
        )  # same name is fine
        create_task(session, TaskCreate(title="theirs"), actor=actor)
    with backend.db.transaction(other_tenant) as session:
        assert [a.agent_id for a in list_agents(session, AgentFilter()).items] == [theirs.agent_id]
        assert [t.title for t in list_tasks(session, TaskFilter()).items] == ["theirs"]
        assert find_agent_by_name(session, "writer").agent_id == theirs.agent_id  # type: ignore[union-attr]
        assert all(
            e.agent_id != mine.agent_id for e in list_events(session, EventFilter(limit=200)).items
        )
        with pytest.raises(NotFound):
            get_task(session, my_task.task_id)
        with pytest.raises(NotFound):
            get_agent(session, mine.agent_id)
        with pytest.raises(NotFound):
            change_status(
                session, my_task.task_id, TaskStatusChange(status=TaskStatus.BLOCKED), actor=actor
            )
        # Even a hand-written aggregate is scoped.
        assert session.scalar(select(func.count()).select_from(TaskRow)) == 1
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        assert get_task(session, my_task.task_id).status == TaskStatus.ASSIGNED


def test_assigning_another_tenants_agent_is_refused(
    backend: Backend, other_tenant: uuid.UUID
) -> None:
    with backend.db.transaction(other_tenant) as session:
        stranger = create_agent(session, AgentCreate(name="stranger", role="S"), actor=Actor.user())
    with (
        backend.db.transaction(DEFAULT_TENANT_ID) as session,
        pytest.raises(Exception, match="unknown agent"),
    ):
        create_task(
            session, TaskCreate(title="x", assignee_ids=[stranger.agent_id]), actor=Actor.user()
        )


def test_rows_are_stamped_with_the_tenant_and_cannot_be_written_elsewhere(
    backend: Backend, other_tenant: uuid.UUID
) -> None:
    with backend.db.transaction(other_tenant) as session:
        session.add(TaskRow(title="stamped", created_by_kind="user"))
        session.flush()
        row = session.scalar(select(TaskRow).where(TaskRow.title == "stamped"))
        assert row is not None and row.tenant_id == other_tenant
    with pytest.raises(TenantIsolationError), backend.db.transaction(other_tenant) as session:
        session.add(TaskRow(title="smuggled", created_by_kind="user", tenant_id=DEFAULT_TENANT_ID))
        session.flush()
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        assert session.scalar(select(func.count()).select_from(TaskRow)) == 0
