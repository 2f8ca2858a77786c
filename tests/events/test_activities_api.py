"""The activity feed: every mutation appends its event, atomically, in order."""

from __future__ import annotations

import httpx

from tests.factories import agent, created, move, ok, problem, task


def test_each_mutation_appends_one_event_with_actor_and_subject(api: httpx.Client) -> None:
    w = agent(api, "writer")
    t = task(api, "Write", assignee_ids=[w["agent_id"]])
    ok(move(api, t["task_id"], "in_progress", by_agent_id=w["agent_id"]))
    created(
        api.post(
            f"/tasks/{t['task_id']}/messages",
            json={"content": "started", "author_agent_id": w["agent_id"]},
        )
    )
    feed = ok(api.get("/activities"))["items"]
    assert [e["event_type"] for e in feed] == [
        "message.created",
        "task.status_changed",
        "task.assigned",
        "task.created",
        "agent.created",
    ]
    ids = [e["event_id"] for e in feed]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    status_event = feed[1]
    assert status_event["actor_kind"] == "agent" and status_event["actor_id"] == w["agent_id"]
    assert status_event["subject_kind"] == "task" and status_event["subject_id"] == t["task_id"]
    assert (
        status_event["payload"]["from"] == "assigned"
        and status_event["payload"]["to"] == "in_progress"
    )
    assert feed[3]["actor_kind"] == "user"


def test_filters_by_task_agent_type_and_resume_after(api: httpx.Client) -> None:
    w = agent(api, "writer")
    t1, t2 = task(api, "one"), task(api, "two")
    ok(api.post(f"/tasks/{t1['task_id']}/assign", json={"agent_ids": [w["agent_id"]]}))
    per_task = ok(api.get(f"/activities/task/{t1['task_id']}"))["items"]
    assert [e["event_type"] for e in per_task] == [
        "task.status_changed",
        "task.assigned",
        "task.created",
    ]
    assert all(e["task_id"] == t1["task_id"] for e in per_task)
    per_agent = ok(api.get(f"/activities/agent/{w['agent_id']}"))["items"]
    assert [e["event_type"] for e in per_agent] == ["task.assigned", "agent.created"]
    tasks_only = ok(api.get("/activities", params={"event_type": "task.*"}))["items"]
    assert {e["event_type"] for e in tasks_only} == {
        "task.created",
        "task.assigned",
        "task.status_changed",
    }
    everything = ok(api.get("/activities", params={"order": "asc"}))["items"]
    mark = everything[1]["event_id"]
    resumed = ok(api.get("/activities", params={"order": "asc", "after": mark}))["items"]
    assert resumed == everything[2:]
    assert t2["task_id"] in {e["task_id"] for e in everything}


def test_feed_pagination_has_no_gaps_or_duplicates(api: httpx.Client) -> None:
    for i in range(9):
        task(api, f"t{i}")
    seen, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = ok(api.get("/activities", params=params))
        seen += [e["event_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 9 and seen == sorted(set(seen), reverse=True)


def test_a_refused_change_leaves_no_event(api: httpx.Client) -> None:
    t = task(api)
    before = ok(api.get("/activities"))["items"]
    problem(move(api, t["task_id"], "done"), 409, "invalid_transition")
    problem(
        api.post(
            f"/tasks/{t['task_id']}/assign",
            json={"agent_ids": ["00000000-0000-7000-8000-000000000999"]},
        ),
        422,
        "invalid_input",
    )
    problem(
        api.post(
            "/tasks", json={"title": "x", "depends_on": ["00000000-0000-7000-8000-000000000999"]}
        ),
        422,
        "invalid_input",
    )
    assert ok(api.get("/activities"))["items"] == before
    assert len(ok(api.get("/tasks"))["items"]) == 1


def test_bad_cursor_is_a_clear_error(api: httpx.Client) -> None:
    problem(api.get("/activities", params={"cursor": "%%%"}), 422, "invalid_input")
    problem(api.get("/tasks", params={"cursor": "nope"}), 422, "invalid_input")
