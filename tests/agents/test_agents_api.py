"""Agents over HTTP: definitions, uniqueness, status and heartbeats."""

from __future__ import annotations

import httpx

from tests.factories import agent, created, ok, problem, task


def test_create_get_list_an_agent(api: httpx.Client) -> None:
    body = agent(
        api,
        "researcher",
        capabilities=["research", "web", "research"],
        heartbeat_interval_seconds=60,
    )
    assert body["status"] == "idle"
    assert body["capabilities"] == ["research", "web"]  # duplicates dropped, order kept
    assert body["session_key"] == "agent:researcher:main"
    assert body["model"] == "offline"
    assert body["last_heartbeat_at"] is None
    assert ok(api.get(f"/agents/{body['agent_id']}")) == body
    page = ok(api.get("/agents"))
    assert [a["name"] for a in page["items"]] == ["researcher"]
    assert page["next_cursor"] is None


def test_names_and_session_keys_are_unique(api: httpx.Client) -> None:
    agent(api, "writer")
    body = problem(
        api.post("/agents", json={"name": "writer", "role": "Other"}), 409, "already_exists"
    )
    assert body["field"] == "name"
    problem(
        api.post("/agents", json={"name": "w2", "role": "W", "session_key": "agent:writer:main"}),
        409,
        "already_exists",
    )
    other = agent(api, "editor")
    problem(api.put(f"/agents/{other['agent_id']}", json={"name": "writer"}), 409, "already_exists")


def test_names_must_be_mentionable(api: httpx.Client) -> None:
    for bad in ["", "has space", "9lives", "@at", "x" * 65, "a/b"]:
        problem(api.post("/agents", json={"name": bad, "role": "R"}), 422, "validation_failed")


def test_filter_by_status_and_capability(api: httpx.Client) -> None:
    agent(api, "a1", capabilities=["research"])
    busy = agent(api, "a2", capabilities=["writing"], status="active")
    assert [a["name"] for a in ok(api.get("/agents", params={"status": "active"}))["items"]] == [
        "a2"
    ]
    assert [
        a["name"] for a in ok(api.get("/agents", params={"capability": "research"}))["items"]
    ] == ["a1"]
    assert busy["status"] == "active"


def test_agent_pagination(api: httpx.Client) -> None:
    for i in range(5):
        agent(api, f"agent{i}")
    first = ok(api.get("/agents", params={"limit": 2}))
    second = ok(api.get("/agents", params={"limit": 2, "cursor": first["next_cursor"]}))
    third = ok(api.get("/agents", params={"limit": 2, "cursor": second["next_cursor"]}))
    names = [a["name"] for page in (first, second, third) for a in page["items"]]
    assert names == [f"agent{i}" for i in range(5)]
    assert third["next_cursor"] is None


def test_update_and_status_change_record_events(api: httpx.Client) -> None:
    body = agent(api, "writer")
    updated = ok(api.patch(f"/agents/{body['agent_id']}", json={"status": "blocked"}))
    assert updated["status"] == "blocked"
    renamed = ok(
        api.put(
            f"/agents/{body['agent_id']}",
            json={"role": "Senior writer", "instructions": "Be brief."},
        )
    )
    assert renamed["role"] == "Senior writer" and renamed["instructions"] == "Be brief."
    types = [e["event_type"] for e in ok(api.get(f"/activities/agent/{body['agent_id']}"))["items"]]
    assert types == ["agent.updated", "agent.status_changed", "agent.created"]


def test_delete_an_agent_unassigns_it(api: httpx.Client) -> None:
    w = agent(api, "writer")
    t = task(api, assignee_ids=[w["agent_id"]])
    assert api.delete(f"/agents/{w['agent_id']}").status_code == 204
    problem(api.get(f"/agents/{w['agent_id']}"), 404, "not_found")
    assert ok(api.get(f"/tasks/{t['task_id']}"))["assignee_ids"] == []


def test_heartbeat_hands_over_work_once(api: httpx.Client) -> None:
    w = agent(api, "writer")
    idle = ok(api.post(f"/agents/{w['agent_id']}/heartbeat"))
    assert idle["has_work"] is False and idle["tasks"] == [] and idle["notifications"] == []
    assert idle["agent"]["last_heartbeat_at"] is not None
    low = task(api, "low", priority="low", assignee_ids=[w["agent_id"]])
    urgent = task(api, "urgent", priority="urgent", assignee_ids=[w["agent_id"]])
    beat = ok(
        api.post(
            f"/agents/{w['agent_id']}/heartbeat",
            json={"status": "active", "current_task_id": urgent["task_id"]},
        )
    )
    assert beat["has_work"] is True
    assert [t["task_id"] for t in beat["tasks"]] == [urgent["task_id"], low["task_id"]]
    assert [n["kind"] for n in beat["notifications"]] == ["assignment", "assignment"]
    assert all(n["is_delivered"] for n in beat["notifications"])
    assert beat["agent"]["status"] == "active"
    assert beat["agent"]["current_task_id"] == urgent["task_id"]
    again = ok(api.post(f"/agents/{w['agent_id']}/heartbeat", json={}))
    assert again["notifications"] == []  # delivered exactly once
    assert len(again["tasks"]) == 2


def test_heartbeat_of_unknown_agent_or_task_is_404(api: httpx.Client) -> None:
    problem(api.post("/agents/00000000-0000-7000-8000-000000000999/heartbeat"), 404, "not_found")
    w = agent(api, "writer")
    problem(
        api.post(
            f"/agents/{w['agent_id']}/heartbeat",
            json={"current_task_id": "00000000-0000-7000-8000-000000000999"},
        ),
        404,
        "not_found",
    )


def test_create_returns_201_with_body(api: httpx.Client) -> None:
    body = created(api.post("/agents", json={"name": "x", "role": "X", "model": "gpt-4o-mini"}))
    assert body["model"] == "gpt-4o-mini"
