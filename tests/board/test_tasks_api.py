"""The board over HTTP: tasks, assignment, the state machine, dependencies, subtasks, lists."""

from __future__ import annotations

import httpx

from tests.factories import agent, created, move, ok, problem, task


def test_create_and_get_a_task(api: httpx.Client) -> None:
    body = task(
        api,
        "Research competitors",
        description="Top 5",
        priority="high",
        due_at="2030-01-02T03:04:05+02:00",
    )
    assert body["status"] == "inbox"
    assert body["priority"] == "high"
    assert body["created_by_kind"] == "user"
    assert body["due_at"] == "2030-01-02T01:04:05Z"
    fetched = ok(api.get(f"/tasks/{body['task_id']}"))
    assert fetched == body


def test_a_goal_is_a_top_level_task(api: httpx.Client) -> None:
    goal = task(api, "Ship the launch", is_goal=True)
    assert goal["is_goal"] is True
    sub = task(api, "Draft post", parent_task_id=goal["task_id"])
    assert sub["parent_task_id"] == goal["task_id"]
    problem(
        api.post("/tasks", json={"title": "x", "is_goal": True, "parent_task_id": goal["task_id"]}),
        422,
        "invalid_input",
    )
    listed = ok(api.get("/tasks", params={"is_goal": "true"}))["items"]
    assert [t["task_id"] for t in listed] == [goal["task_id"]]
    subtasks = ok(api.get("/tasks", params={"parent_task_id": goal["task_id"]}))["items"]
    assert [t["task_id"] for t in subtasks] == [sub["task_id"]]


def test_created_with_assignees_it_starts_assigned(api: httpx.Client) -> None:
    writer = agent(api, "writer")
    body = task(api, assignee_ids=[writer["agent_id"]])
    assert body["status"] == "assigned"
    assert body["assignee_ids"] == [writer["agent_id"]]


def test_an_agent_can_create_a_task(api: httpx.Client) -> None:
    boss = agent(api, "orchestrator")
    body = task(api, created_by_agent_id=boss["agent_id"])
    assert body["created_by_kind"] == "agent"
    assert body["created_by_agent_id"] == boss["agent_id"]


def test_assignment_moves_between_inbox_and_assigned(api: httpx.Client) -> None:
    a, b = agent(api, "alpha"), agent(api, "beta")
    t = task(api)
    assigned = ok(
        api.post(
            f"/tasks/{t['task_id']}/assign", json={"agent_ids": [a["agent_id"], b["agent_id"]]}
        )
    )
    assert assigned["status"] == "assigned"
    assert assigned["assignee_ids"] == [a["agent_id"], b["agent_id"]]
    narrowed = ok(api.post(f"/tasks/{t['task_id']}/assign", json={"agent_ids": [b["agent_id"]]}))
    assert narrowed["assignee_ids"] == [b["agent_id"]]
    emptied = ok(api.post(f"/tasks/{t['task_id']}/assign", json={"agent_ids": []}))
    assert emptied["status"] == "inbox"
    assert emptied["assignee_ids"] == []


def test_assigning_an_unknown_agent_is_refused_and_changes_nothing(api: httpx.Client) -> None:
    t = task(api)
    body = problem(
        api.post(
            f"/tasks/{t['task_id']}/assign",
            json={"agent_ids": ["00000000-0000-7000-8000-00000000dead"]},
        ),
        422,
        "invalid_input",
    )
    assert "00000000-0000-7000-8000-00000000dead" in body["detail"]
    assert ok(api.get(f"/tasks/{t['task_id']}"))["status"] == "inbox"


def test_the_full_happy_path_through_the_board(api: httpx.Client) -> None:
    worker = agent(api, "writer")
    t = task(api, assignee_ids=[worker["agent_id"]])
    for status in ("in_progress", "review", "in_progress", "review", "done"):
        body = ok(move(api, t["task_id"], status))
        assert body["status"] == status
    assert body["completed_at"] is not None
    reopened = ok(move(api, t["task_id"], "in_progress"))
    assert reopened["completed_at"] is None


def test_an_illegal_transition_is_409_and_names_the_allowed_ones(api: httpx.Client) -> None:
    t = task(api)
    body = problem(move(api, t["task_id"], "done"), 409, "invalid_transition")
    assert body["current"] == "inbox"
    assert body["target"] == "done"
    assert body["allowed"] == ["blocked"]  # assigned needs an assignee first
    assert "inbox" in body["detail"] and "done" in body["detail"]
    assert ok(api.get(f"/tasks/{t['task_id']}"))["status"] == "inbox"


def test_starting_needs_an_assignee_and_done_dependencies(api: httpx.Client) -> None:
    w = agent(api, "writer")
    first = task(api, "first", assignee_ids=[w["agent_id"]])
    second = task(api, "second", assignee_ids=[w["agent_id"]], depends_on=[first["task_id"]])
    assert second["depends_on"] == [first["task_id"]]
    body = problem(move(api, second["task_id"], "in_progress"), 409, "invalid_transition")
    assert body["reason"] == "a dependency is not done"
    for status in ("in_progress", "review", "done"):
        ok(move(api, first["task_id"], status))
    assert ok(move(api, second["task_id"], "in_progress"))["status"] == "in_progress"


def test_a_parent_cannot_be_done_before_its_subtasks(api: httpx.Client) -> None:
    w = agent(api, "writer")
    parent = task(api, "parent", assignee_ids=[w["agent_id"]])
    child = task(api, "child", parent_task_id=parent["task_id"], assignee_ids=[w["agent_id"]])
    for status in ("in_progress", "review"):
        ok(move(api, parent["task_id"], status))
    body = problem(move(api, parent["task_id"], "done"), 409, "invalid_transition")
    assert body["reason"] == "a subtask is not done"
    for status in ("in_progress", "review", "done"):
        ok(move(api, child["task_id"], status))
    assert ok(move(api, parent["task_id"], "done"))["status"] == "done"


def test_blocking_keeps_a_reason_and_unblocking_clears_it(api: httpx.Client) -> None:
    w = agent(api, "writer")
    t = task(api, assignee_ids=[w["agent_id"]])
    blocked = ok(move(api, t["task_id"], "blocked", reason="waiting for API access"))
    assert blocked["status_reason"] == "waiting for API access"
    resumed = ok(move(api, t["task_id"], "in_progress"))
    assert resumed["status_reason"] is None


def test_moving_to_the_same_status_is_a_harmless_no_op(api: httpx.Client) -> None:
    t = task(api)
    assert ok(move(api, t["task_id"], "inbox"))["status"] == "inbox"


def test_in_progress_work_cannot_lose_its_last_assignee(api: httpx.Client) -> None:
    w = agent(api, "writer")
    t = task(api, assignee_ids=[w["agent_id"]])
    ok(move(api, t["task_id"], "in_progress"))
    problem(api.post(f"/tasks/{t['task_id']}/assign", json={"agent_ids": []}), 409, "conflict")
    assert ok(api.get(f"/tasks/{t['task_id']}"))["assignee_ids"] == [w["agent_id"]]


def test_dependency_cycles_and_self_dependencies_are_refused(api: httpx.Client) -> None:
    a = task(api, "a")
    b = task(api, "b", depends_on=[a["task_id"]])
    c = task(api, "c", depends_on=[b["task_id"]])
    problem(
        api.put(f"/tasks/{a['task_id']}", json={"depends_on": [c["task_id"]]}), 422, "invalid_input"
    )
    problem(
        api.put(f"/tasks/{a['task_id']}", json={"depends_on": [a["task_id"]]}), 422, "invalid_input"
    )
    assert ok(api.get(f"/tasks/{a['task_id']}"))["depends_on"] == []


def test_parent_loops_are_refused(api: httpx.Client) -> None:
    a = task(api, "a")
    b = task(api, "b", parent_task_id=a["task_id"])
    problem(
        api.put(f"/tasks/{a['task_id']}", json={"parent_task_id": b["task_id"]}),
        422,
        "invalid_input",
    )
    problem(
        api.put(f"/tasks/{a['task_id']}", json={"parent_task_id": a["task_id"]}),
        422,
        "invalid_input",
    )


def test_a_new_task_naming_an_unknown_parent_or_dependency_is_refused(api: httpx.Client) -> None:
    real = task(api, "real")
    unknown = "0190a8e4-0000-7000-8000-000000000000"
    body = problem(
        api.post("/tasks", json={"title": "x", "depends_on": [real["task_id"], unknown]}),
        422,
        "invalid_input",
    )
    assert body["field"] == "depends_on" and unknown in body["detail"]
    body = problem(
        api.post("/tasks", json={"title": "x", "parent_task_id": unknown}), 422, "invalid_input"
    )
    assert body["field"] == "parent_task_id" and unknown in body["detail"]
    assert [t["title"] for t in ok(api.get("/tasks"))["items"]] == ["real"]  # nothing made


def test_update_changes_only_what_is_sent_and_null_clears(api: httpx.Client) -> None:
    t = task(api, "old", description="keep", due_at="2030-01-01T00:00:00Z")
    body = ok(api.put(f"/tasks/{t['task_id']}", json={"title": "new", "due_at": None}))
    assert body["title"] == "new"
    assert body["description"] == "keep"
    assert body["due_at"] is None
    patched = ok(api.patch(f"/tasks/{t['task_id']}", json={"priority": "urgent"}))
    assert patched["priority"] == "urgent" and patched["title"] == "new"
    problem(api.put(f"/tasks/{t['task_id']}", json={"title": None}), 422, "invalid_input")


def test_delete_a_task_and_refuse_while_it_has_subtasks(api: httpx.Client) -> None:
    parent = task(api, "parent")
    child = task(api, "child", parent_task_id=parent["task_id"])
    problem(api.delete(f"/tasks/{parent['task_id']}"), 409, "conflict")
    assert api.delete(f"/tasks/{child['task_id']}").status_code == 204
    assert api.delete(f"/tasks/{parent['task_id']}").status_code == 204
    problem(api.get(f"/tasks/{parent['task_id']}"), 404, "not_found")


def test_list_filters(api: httpx.Client) -> None:
    w, r = agent(api, "writer"), agent(api, "reviewer")
    t1 = task(api, "Write the launch post", priority="high", assignee_ids=[w["agent_id"]])
    t2 = task(
        api,
        "Review pricing page",
        description="check the LAUNCH numbers",
        assignee_ids=[r["agent_id"]],
    )
    t3 = task(api, "Inbox item 100%_done")

    def ids(**params: object) -> list[str]:
        return [t["task_id"] for t in ok(api.get("/tasks", params=params))["items"]]

    assert ids() == [t3["task_id"], t2["task_id"], t1["task_id"]]  # newest first
    assert ids(status="inbox") == [t3["task_id"]]
    assert ids(status="assigned") == [t2["task_id"], t1["task_id"]]
    assert ids(assignee_id=w["agent_id"]) == [t1["task_id"]]
    assert ids(priority="high") == [t1["task_id"]]
    assert ids(text="launch") == [t2["task_id"], t1["task_id"]]  # title or description, any case
    assert ids(text="100%_") == [t3["task_id"]]  # LIKE wildcards are literal
    assert ids(text="%") == [t3["task_id"]]


def test_cursor_pagination_walks_every_task_once(api: httpx.Client) -> None:
    made = [task(api, f"task {i}")["task_id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = ok(api.get("/tasks", params=params))
        assert len(page["items"]) <= 3
        seen += [t["task_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))


def test_page_size_is_bounded(api: httpx.Client) -> None:
    problem(api.get("/tasks", params={"limit": 201}), 422, "validation_failed")
    problem(api.get("/tasks", params={"limit": 0}), 422, "validation_failed")
    assert ok(api.get("/tasks", params={"limit": 200}))["items"] == []


def test_create_is_created(api: httpx.Client) -> None:
    body = created(api.post("/tasks", json={"title": "  padded  "}))
    assert body["title"] == "padded"
