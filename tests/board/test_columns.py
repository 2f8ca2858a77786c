"""The board's columns read in one query: the same tasks as listing each column."""

from __future__ import annotations

from sqlalchemy.orm import Session

from missionctl.agents.schemas import AgentCreate
from missionctl.agents.service import create_agent
from missionctl.board import service as board
from missionctl.board.schemas import Task, TaskCreate, TaskFilter, TaskStatus, TaskStatusChange
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, new_id
from missionctl.identity.models import TenantRow
from tests.conftest import Backend, reset

SYSTEM = Actor.system()


def new_task(session: Session, title: str) -> Task:
    return board.create_task(session, TaskCreate(title=title), actor=SYSTEM)


def test_the_board_columns_in_one_query_match_listing_each_column(backend: Backend) -> None:
    reset(backend.db)
    db = backend.db
    other = new_id()
    with db.transaction(None) as session:
        session.add(TenantRow(tenant_id=other, slug=f"t-{other.hex[:8]}", name="Other"))
    with db.transaction(other) as session:
        for _ in range(3):
            new_task(session, "another tenant's")
    with db.transaction(DEFAULT_TENANT_ID) as session:
        writer = create_agent(session, AgentCreate(name="w", role="W"), actor=SYSTEM)
        for n in range(5):
            new_task(session, f"inbox {n}")
        for n in range(4):
            data = TaskCreate(title=f"assigned {n}", assignee_ids=[writer.agent_id])
            task = board.create_task(session, data, actor=SYSTEM)
            if n % 2:
                board.change_status(
                    session, task.task_id, TaskStatusChange(status=TaskStatus.BLOCKED), actor=SYSTEM
                )
    with db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        columns = board.board_columns(session, 3)
        for status, shown in columns.items():
            listed = board.list_tasks(session, TaskFilter(status=status, limit=3)).items
            assert shown == listed, status
        assert [len(columns[s]) for s in (TaskStatus.INBOX, TaskStatus.ASSIGNED)] == [3, 2]
        assert [t.title for t in columns[TaskStatus.BLOCKED]] == ["assigned 3", "assigned 1"]
        assert "another tenant's" not in {t.title for tasks in columns.values() for t in tasks}
