"""Orchestration at scale and under a budget: balanced assignment, a budget running out
mid-goal and work resuming once it is raised, agents proposed from templates."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import select

from missionctl.db import DEFAULT_TENANT_ID
from missionctl.runtime.models import TaskReviewRow
from missionctl.runtime.orchestration import pending_review
from tests import factories
from tests.conftest import Backend
from tests.factories import move, ok
from tests.runtime.conftest import StartAgents, wait_until

WORKERS = [
    {"name": f"scout{i}", "role": "Researcher", "capabilities": ["research"]} for i in range(5)
] + [{"name": f"scribe{i}", "role": "Writer", "capabilities": ["writing"]} for i in range(5)]


def tasks_of(api: httpx.Client, **query: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get("/tasks", params={**query, "limit": 200, "cursor": cursor or ""}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_fifty_tasks_go_to_ten_agents_once_each_and_evenly(
    api: httpx.Client, start_agents: StartAgents
) -> None:
    api.post("/agents", json={"name": "lead", "role": "Orchestrator", "capabilities": ["planning"]})
    agents = [api.post("/agents", json=agent).json() for agent in WORKERS]
    for i in range(25):
        api.post("/tasks", json={"title": f"Research competitor {i} pricing and sources"})
        api.post("/tasks", json={"title": f"Write the launch announcement draft {i}"})
    start_agents(concurrency=8)
    wait_until(lambda: all(t["status"] == "done" for t in tasks_of(api)), timeout=120)
    tasks = tasks_of(api)
    assert len(tasks) == 50
    assert all(len(task["assignee_ids"]) == 1 for task in tasks)
    assigned = api.get("/activities", params={"event_type": "task.assigned", "limit": 200})
    events = assigned.json()["items"]
    assert len(events) == 50  # each task assigned exactly once, never reassigned
    load = Counter(task["assignee_ids"][0] for task in tasks)
    assert sorted(load.values()) == [5] * 10  # every agent took its share: capacity 5 each
    by_name = {agent["agent_id"]: agent["name"] for agent in agents}
    for task in tasks:
        kind = "scout" if task["title"].startswith("Research") else "scribe"
        assert by_name[task["assignee_ids"][0]].startswith(kind)  # capability matched


def test_a_budget_running_out_stops_work_cleanly_and_raising_it_resumes(
    api: httpx.Client, team: dict[str, dict[str, Any]], start_agents: StartAgents
) -> None:
    budget = api.post(
        "/budgets", json={"scope": "tenant", "period": "total", "limit_tokens": 6000}
    ).json()
    goal = api.post(
        "/tasks",
        json={
            "title": "Market brief",
            "description": "Research the market for agent platforms, then write a short brief, "
            "then review it for accuracy.",
            "is_goal": True,
        },
    ).json()
    start_agents()
    wait_until(
        lambda: api.get("/activities", params={"event_type": "budget.exhausted"}).json()["items"]
    )

    def settled() -> Any:
        jobs = api.get("/jobs", params={"kind": "agent.turn", "limit": 200}).json()["items"]
        return all(j["status"] in ("succeeded", "dead") for j in jobs) and jobs

    wait_until(settled)
    assert api.get(f"/tasks/{goal['task_id']}").json()["status"] != "done"
    stopped = [
        e
        for e in api.get("/activities", params={"event_type": "agent.turn_finished"}).json()[
            "items"
        ]
        if e["payload"]["outcome"] == "budget"
    ]
    assert stopped  # the refused turn ended cleanly (no retry storm, nothing half-done)
    assert not api.get("/activities", params={"event_type": "agent.turn_stopped"}).json()["items"]
    before = api.get("/usage").json()["total"]["requests"]
    raised = api.patch(f"/budgets/{budget['budget_id']}", json={"limit_tokens": 10_000_000})
    assert raised.status_code == 200, raised.text
    wait_until(lambda: api.get(f"/tasks/{goal['task_id']}").json()["status"] == "done", 60)
    assert api.get("/usage").json()["total"]["requests"] > before
    subtasks = tasks_of(api, parent_task_id=goal["task_id"])
    titles = [task["title"] for task in subtasks]
    assert len(titles) == len(set(titles)) >= 3  # planned once, nothing duplicated


def test_a_missing_capability_gets_a_proposed_agent_a_person_approves(
    api: httpx.Client, team: dict[str, dict[str, Any]], start_agents: StartAgents
) -> None:
    goal = api.post(
        "/tasks",
        json={
            "title": "Ship the login page",
            "description": "Design the login page, then implement the login API code, then "
            "test the login flow end to end.",
            "is_goal": True,
        },
    ).json()
    start_agents()
    proposal = wait_until(
        lambda: api.get("/agent-proposals", params={"status": "pending"}).json()["items"]
    )[0]
    assert proposal["task_id"] is not None
    task = api.get(f"/tasks/{proposal['task_id']}").json()
    assert task["parent_task_id"] == goal["task_id"] and task["assignee_ids"] == []
    approved = api.post(f"/agent-proposals/{proposal['proposal_id']}/approve")
    assert approved.status_code == 200, approved.text
    agent_id = approved.json()["agent_id"]
    assert api.get(f"/agents/{agent_id}").json()["role"] == proposal["role"]
    assert api.get(f"/tasks/{proposal['task_id']}").json()["assignee_ids"] == [agent_id]
    again = api.post(f"/agent-proposals/{proposal['proposal_id']}/approve")
    assert again.status_code == 409


def test_a_review_whose_task_a_person_took_out_of_review_is_superseded(
    api: httpx.Client, backend: Backend
) -> None:
    reviewer = factories.agent(api, "checker", capabilities=["review"])
    writer = factories.agent(api, "writer", capabilities=["writing"])
    first = factories.task(api, "first draft", assignee_ids=[writer["agent_id"]])
    second = factories.task(api, "second draft", assignee_ids=[writer["agent_id"]])
    for each in (first, second):
        for status in ("in_progress", "review"):
            ok(move(api, each["task_id"], status))
    ok(move(api, first["task_id"], "in_progress"))  # a person takes it back
    reviewer_id = uuid.UUID(reviewer["agent_id"])
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        review = pending_review(session, reviewer_id)
        assert review is not None and str(review.task_id) == second["task_id"]
    with backend.db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        states = dict(session.execute(select(TaskReviewRow.task_id, TaskReviewRow.status)).all())
    assert states == {
        uuid.UUID(first["task_id"]): "superseded",
        uuid.UUID(second["task_id"]): "requested",
    }
    ok(move(api, second["task_id"], "in_progress"))
    with backend.db.transaction(DEFAULT_TENANT_ID) as session:
        assert pending_review(session, reviewer_id) is None
