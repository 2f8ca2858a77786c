"""What wakes an agent, what does not, and what an idle agent costs: no event, no model call."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from missionctl.db import DEFAULT_TENANT_ID, Database
from missionctl.engine.models import JobRow
from missionctl.runtime import orchestration
from missionctl.runtime.agenda import has_work
from missionctl.runtime.models import TaskReviewRow
from missionctl.runtime.service import (
    PLANNER_TURN_PRIORITY,
    TURN_JOB,
    request_turn,
    request_turn_now,
)
from missionctl.workspace.service import wake
from tests.conftest import Backend


def turn_jobs(db: Database, agent_id: str) -> int:
    with db.engine.connect() as conn:
        count = conn.scalar(
            select(func.count())
            .select_from(JobRow)
            .where(JobRow.kind == TURN_JOB, JobRow.payload["agent_id"].as_string() == agent_id)
        )
    return int(count or 0)


def probe(db: Database, agent_id: str) -> bool:
    with db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        return has_work(session, uuid.UUID(agent_id))


def new_task(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/tasks", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_a_turn_request_commits_with_its_cause_or_not_at_all(
    backend: Backend, team: dict[str, dict[str, Any]]
) -> None:
    writer = team["writer"]["agent_id"]
    before = turn_jobs(backend.db, writer)
    with pytest.raises(RuntimeError), backend.db.transaction(DEFAULT_TENANT_ID) as session:
        request_turn(session, uuid.UUID(writer))
        raise RuntimeError("the cause was rolled back")
    assert turn_jobs(backend.db, writer) == before
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        request_turn(session, uuid.UUID(writer))
        request_turn(session, uuid.UUID(writer))
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        request_turn(session, uuid.UUID(writer))  # one is already waiting
    assert turn_jobs(backend.db, writer) == before + 1


def test_a_planners_turns_are_queued_first(
    backend: Backend, team: dict[str, dict[str, Any]]
) -> None:
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        for name in ("writer", "orchestrator"):
            request_turn(session, uuid.UUID(team[name]["agent_id"]))
    with backend.db.engine.connect() as conn:
        priorities = dict(
            conn.execute(
                select(JobRow.payload["agent_id"].as_string(), JobRow.priority).where(
                    JobRow.kind == TURN_JOB
                )
            ).all()
        )
    assert priorities == {
        team["orchestrator"]["agent_id"]: PLANNER_TURN_PRIORITY,
        team["writer"]["agent_id"]: 0,
    }
    assert PLANNER_TURN_PRIORITY < 0  # lower numbers are claimed first


def test_work_is_seen_only_when_a_turn_could_act_on_it(
    api: httpx.Client, backend: Backend, team: dict[str, dict[str, Any]]
) -> None:
    writer, lead = team["writer"]["agent_id"], team["orchestrator"]["agent_id"]
    assert not probe(backend.db, writer) and not probe(backend.db, lead)
    first = new_task(api, title="Gather the figures", assignee_ids=[team["researcher"]["agent_id"]])
    new_task(api, title="Write it up", assignee_ids=[writer], depends_on=[first["task_id"]])
    assert not probe(backend.db, writer)  # it waits for the figures
    for status in ("in_progress", "review", "done"):
        moved = api.post(f"/tasks/{first['task_id']}/status", json={"status": status})
        assert moved.status_code == 200, moved.text
    assert probe(backend.db, writer)
    new_task(api, title="Launch the product", is_goal=True)
    assert probe(backend.db, lead)  # a planner sees the unassigned goal
    assert not probe(backend.db, team["researcher"]["agent_id"])  # others do not


def test_an_idle_check_in_records_no_event_and_wakes_no_one(
    api: httpx.Client, backend: Backend, team: dict[str, dict[str, Any]]
) -> None:
    reviewer = team["reviewer"]["agent_id"]
    before = turn_jobs(backend.db, reviewer)
    for _ in range(3):
        assert api.post(f"/agents/{reviewer}/heartbeat").json()["has_work"] is False
        with backend.db.transaction(DEFAULT_TENANT_ID) as session:
            assert wake(session, uuid.UUID(reviewer)).open_tasks == 0
    beats = api.get("/activities", params={"event_type": "agent.heartbeat"}).json()["items"]
    assert beats == []
    assert turn_jobs(backend.db, reviewer) == before
    api.post(f"/agents/{reviewer}/heartbeat", json={"status": "blocked"})
    beats = api.get("/activities", params={"event_type": "agent.heartbeat"}).json()["items"]
    assert [b["payload"]["status"] for b in beats] == ["blocked"]  # a change is an event


def test_reviews_go_to_the_reviewer_with_the_fewest_waiting(
    api: httpx.Client, backend: Backend, team: dict[str, dict[str, Any]]
) -> None:
    second = api.post(
        "/agents", json={"name": "reviewer-2", "role": "Reviewer", "capabilities": ["review"]}
    ).json()
    task = new_task(api, title="Draft the memo", assignee_ids=[team["writer"]["agent_id"]])
    chosen = []
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        for _ in range(4):
            reviewer = orchestration.choose_reviewer(session, _task(session, task["task_id"]))
            assert reviewer is not None
            chosen.append(reviewer.name)
            session.add(
                TaskReviewRow(
                    task_id=uuid.UUID(task["task_id"]), reviewer_agent_id=reviewer.agent_id
                )
            )
            session.flush()
    assert sorted(chosen) == sorted(["reviewer", "reviewer-2"] * 2)
    assert second["agent_id"] != team["reviewer"]["agent_id"]


def _task(session: Any, task_id: str) -> Any:
    from missionctl.board.service import get_task

    return get_task(session, uuid.UUID(task_id))


def test_a_request_that_waited_for_another_sees_the_turn_it_enqueued(
    backend: Backend, team: dict[str, dict[str, Any]]
) -> None:
    """Two units of work wake the same agent at once: the second waits for the first's lock on
    the turn state, then must see the job the first enqueued (on PostgreSQL, a read joined to
    the locking one would use the snapshot from before the wait, miss it, and enqueue again)."""
    writer = uuid.UUID(team["writer"]["agent_id"])
    before = turn_jobs(backend.db, str(writer))
    locked, release = threading.Event(), threading.Event()
    enqueued: dict[str, bool] = {}

    def wake_up(name: str, hold: bool) -> None:
        with backend.db.transaction(DEFAULT_TENANT_ID) as session:
            enqueued[name] = request_turn_now(session, writer)
            if hold:
                locked.set()
                assert release.wait(10)

    first = threading.Thread(target=wake_up, args=("first", True))
    first.start()
    assert locked.wait(10)
    second = threading.Thread(target=wake_up, args=("second", False))
    second.start()
    time.sleep(0.3)  # the second now waits for the first's lock
    release.set()
    first.join(10)
    second.join(10)
    assert enqueued == {"first": True, "second": False}
    assert turn_jobs(backend.db, str(writer)) == before + 1
