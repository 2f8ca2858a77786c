"""Escalation to people: a task stalled for several heartbeats, an agent that is blocked."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update

from missionctl.db import utcnow
from missionctl.events.models import EventRow
from missionctl.workspace.service import wake
from tests.conftest import Backend


def admin_notes(api: httpx.Client) -> list[dict[str, object]]:
    admin_id = api.get("/auth/me").json()["user"]["user_id"]
    items = api.get("/notifications", params={"user_id": admin_id}).json()["items"]
    return [n for n in items if n["kind"] == "escalation"]


def age_events(backend: Backend, task_id: str, seconds: int) -> None:
    """Pretend the task's events happened `seconds` ago."""
    with backend.db.engine.begin() as conn:
        conn.execute(
            update(EventRow)
            .where(EventRow.task_id == uuid.UUID(task_id))
            .values(created_at=utcnow() - timedelta(seconds=seconds))
        )


def beat(backend: Backend, agent_id: str) -> int:
    with backend.db.transaction() as session:
        return wake(session, uuid.UUID(agent_id), stall_heartbeats=3).stalled_tasks


def test_a_task_without_progress_for_three_heartbeats_is_escalated_once(
    api: httpx.Client, backend: Backend
) -> None:
    agent = api.post(
        "/agents", json={"name": "scout", "role": "Researcher", "heartbeat_interval_seconds": 60}
    ).json()
    task = api.post(
        "/tasks", json={"title": "Survey the market", "assignee_ids": [agent["agent_id"]]}
    ).json()
    age_events(backend, task["task_id"], 150)  # 2.5 heartbeats: not yet
    assert beat(backend, agent["agent_id"]) == 0
    age_events(backend, task["task_id"], 200)  # more than 3 heartbeats of 60 s
    assert beat(backend, agent["agent_id"]) == 1
    assert beat(backend, agent["agent_id"]) == 0  # once, until the task moves again
    events = api.get(f"/activities/task/{task['task_id']}").json()["items"]
    assert events[0]["event_type"] == "task.stalled"
    assert events[0]["payload"]["idle_seconds"] >= 200
    notes = admin_notes(api)
    assert len(notes) == 1
    assert "Survey the market" in notes[0]["content"]
    assert notes[0]["task_id"] == task["task_id"]
    # Progress (a message) resets the clock; another long silence escalates again.
    api.post(f"/tasks/{task['task_id']}/messages", json={"content": "Still on it."})
    assert beat(backend, agent["agent_id"]) == 0
    age_events(backend, task["task_id"], 400)
    assert beat(backend, agent["agent_id"]) == 1


def test_an_agent_that_becomes_blocked_is_escalated(api: httpx.Client) -> None:
    agent = api.post("/agents", json={"name": "writer", "role": "Writer"}).json()
    assert admin_notes(api) == []
    api.patch(f"/agents/{agent['agent_id']}", json={"status": "blocked"})
    notes = admin_notes(api)
    assert [n["content"] for n in notes] == ["writer is blocked and needs a person"]
    api.patch(f"/agents/{agent['agent_id']}", json={"status": "active"})
    assert len(admin_notes(api)) == 1
