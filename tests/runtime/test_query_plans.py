"""Every turn runs these statements, some on every idle agent: none may scan a whole table.

A scan costs in proportion to everything the tenant ever did (all its tasks, notifications,
requests), so a turn would grow slower the longer a team works. SQLite's EXPLAIN QUERY PLAN
names each table it reads and how: `SEARCH ... USING INDEX` is fine, `SCAN <table>` is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.sql import Executable

from missionctl import migrations
from missionctl.board import service as board
from missionctl.comms import questions
from missionctl.comms import service as comms
from missionctl.documents import service as documents
from missionctl.runtime import agenda, orchestration, service, turns


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("plans") / "plans.db"
    engine = create_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


def scans(engine: Engine, statement: Executable, params: dict[str, Any]) -> list[str]:
    """The whole-table scans in the plan of the statement as it runs with `params`."""
    plans: list[list[str]] = []

    def explain(_conn: Any, cursor: Any, sql: str, parameters: Any, *_args: Any) -> None:
        plan = cursor.connection.execute(f"EXPLAIN QUERY PLAN {sql}", parameters)
        plans.append([row[3] for row in plan])

    event.listen(engine, "after_cursor_execute", explain)
    try:
        with engine.connect() as conn:
            conn.execute(statement, params).all()
    finally:
        event.remove(engine, "after_cursor_execute", explain)
    assert plans, "the statement did not run"
    return [s for plan in plans for s in plan if s.startswith("SCAN") and "CONSTANT" not in s]


AGENT_ID, TENANT_ID = uuid.uuid4(), uuid.uuid4()
IDS = {
    "agent_id": AGENT_ID,
    "tenant_id": TENANT_ID,
    "job_id": uuid.uuid4(),
    "job_ids": [uuid.uuid4(), uuid.uuid4()],
    "task_id": uuid.uuid4(),
    "reviewer_ids": [uuid.uuid4(), uuid.uuid4()],
    "goals": True,
    "limit": 5,
}
DELIVER = {"d_agent": AGENT_ID, "d_tenant": TENANT_ID, "d_limit": 50, "d_now": datetime.now(UTC)}
STATEMENTS = {
    "has work": agenda._has_work_statement(),
    "goal to plan": agenda._first_ready(goal=True),
    "task to work on": agenda._first_ready(goal=False),
    "unassigned inbox": board._UNASSIGNED_INBOX,
    "turn state": service._LOCK_STATE,
    "turn jobs": service._JOB_STATUSES,
    "turn cost": turns._TURN_COST,
    "answered question": questions._ANY_UNRESUMED,
    "notifications handed over": comms._DELIVER,
    "reviews asked for": orchestration._REQUESTED,
    "review rounds": orchestration._ROUNDS,
    "reviews waiting": orchestration._WAITING,
    "open tasks per agent": board._OPEN_COUNTS,
    "dependents": board._DEPENDENTS,
    "subtasks": board._SUBTASKS,
    "thread": comms._THREAD_TEXTS,
    "document titles": documents._TITLES,
}


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_hot_turn_statements_use_indexes(engine: Engine, name: str) -> None:
    params = DELIVER if name == "notifications handed over" else IDS
    assert scans(engine, STATEMENTS[name], params) == []
