"""A goal goes from inbox to done with the offline model: planned, assigned, worked, reviewed."""

from __future__ import annotations

from typing import Any

import httpx

from tests.runtime.conftest import StartAgents, wait_until


def test_a_goal_is_planned_worked_reviewed_and_done(
    api: httpx.Client, team: dict[str, dict[str, Any]], start_agents: StartAgents
) -> None:
    goal = api.post(
        "/tasks",
        json={
            "title": "Brief on self-hosting agent teams",
            "description": "Research what teams need to run AI agents on their own machines, "
            "then write a one-page brief for a non-technical reader, then review it for "
            "accuracy.",
            "is_goal": True,
        },
    ).json()
    start_agents()

    def goal_done() -> Any:
        task = api.get(f"/tasks/{goal['task_id']}").json()
        return task if task["status"] == "done" else None

    wait_until(goal_done, timeout=60)
    subtasks = api.get("/tasks", params={"parent_task_id": goal["task_id"]}).json()["items"]
    assert len(subtasks) >= 3
    assert all(task["status"] == "done" for task in subtasks)
    assignees = {task["assignee_ids"][0] for task in subtasks}
    assert len(assignees) >= 2
    assert team["orchestrator"]["agent_id"] not in assignees
    documents = api.get("/documents", params={"task_id": goal["task_id"]}).json()["items"]
    assert any(d["title"].startswith("Results:") for d in documents)
    for task in subtasks:
        assert api.get("/documents", params={"task_id": task["task_id"]}).json()["items"]
    usage = api.get("/usage", params={"group_by": "agent"}).json()
    assert usage["total"]["requests"] >= len(subtasks) * 2 + 2
