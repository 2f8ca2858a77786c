"""Bad input never yields a 500: every class of mistake gets a problem+json with a stable code."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import agent, ok, problem, task

UNKNOWN = "00000000-0000-7000-8000-000000000999"


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/tasks"), ("post", "/agents"), ("post", "/documents"), ("put", "/state/working-md")],
)
def test_malformed_json_is_400(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(
        method, path, content=b'{"title": "x",', headers={"content-type": "application/json"}
    )
    problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x", "colour": "red"},  # unknown field
        {"title": 123},  # mistyped
        {"title": "x", "assignee_ids": "not-a-list"},
        {"title": "x", "assignee_ids": ["not-a-uuid"]},
        {"title": "x", "is_goal": "maybe"},
        {"title": "x" * 201},  # over-long
        {"title": "x", "description": "d" * 20_001},
        {"title": ""},
        {"title": "   "},  # blank once stripped
        {"title": "x", "priority": "mega"},  # bad enum
        {"title": "x", "due_at": "tomorrow"},
        {"title": "x", "due_at": "2030-01-01T00:00:00"},  # no time zone
        {"title": "x", "due_at": "0001-01-01T00:00:00+01:00"},  # out of range once in UTC
        {"title": "nul \x00 byte"},
        {"title": "x", "assignee_ids": [UNKNOWN] * 21},  # too many
        {},
        [],
        "just a string",
    ],
)
def test_invalid_task_bodies_are_422_with_the_field(api: httpx.Client, body: object) -> None:
    response = api.post("/tasks", json=body)
    details = problem(response, 422, "validation_failed")
    assert details["errors"], details
    assert all({"loc", "field", "msg", "type"} <= set(e) for e in details["errors"])
    assert ok(api.get("/tasks"))["items"] == []


def test_lone_surrogates_are_refused(api: httpx.Client) -> None:
    response = api.post(
        "/tasks",
        content=b'{"title": "bad \\ud800 text"}',
        headers={"content-type": "application/json"},
    )
    problem(response, 422, "validation_failed")


def test_the_error_names_the_offending_field(api: httpx.Client) -> None:
    body = problem(
        api.post("/agents", json={"name": "ok", "role": "R", "heartbeat_interval_seconds": 10**30}),
        422,
        "validation_failed",
    )
    assert body["errors"][0]["field"] == "heartbeat_interval_seconds"
    assert body["detail"].startswith("heartbeat_interval_seconds:")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/tasks", {"status": "finished"}),
        ("/tasks", {"priority": "mega"}),
        ("/tasks", {"assignee_id": "bob"}),
        ("/tasks", {"limit": "many"}),
        ("/tasks", {"unknown_filter": "1"}),
        ("/tasks", {"text": "t" * 201}),
        ("/tasks", {"text": "nul\x00"}),
        ("/agents", {"status": "sleeping"}),
        ("/documents", {"doc_type": "poem"}),
        ("/notifications", {"is_read": "perhaps"}),
        ("/activities", {"order": "sideways"}),
        ("/activities", {"after": str(2**64)}),
    ],
)
def test_invalid_query_parameters_are_422(
    api: httpx.Client, path: str, params: dict[str, str]
) -> None:
    problem(api.get(path, params=params), 422, "validation_failed")


@pytest.mark.parametrize(
    "path",
    [
        f"/tasks/{UNKNOWN}",
        f"/agents/{UNKNOWN}",
        f"/documents/{UNKNOWN}",
        f"/documents/{UNKNOWN}/versions",
        f"/messages/{UNKNOWN}",
        f"/attachments/{UNKNOWN}",
        f"/attachments/{UNKNOWN}/content",
        f"/tasks/{UNKNOWN}/messages",
        "/state/working-md/versions/1",
        "/no/such/route",
    ],
)
def test_unknown_things_are_404(api: httpx.Client, path: str) -> None:
    problem(api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/tasks/not-a-uuid",
        "/agents/123",
        "/documents/x/versions/1",
        f"/documents/{UNKNOWN}/versions/0",
        f"/documents/{UNKNOWN}/versions/99999999999999999999",
        "/state/working-md/versions/-1",
    ],
)
def test_malformed_path_parameters_are_422(api: httpx.Client, path: str) -> None:
    problem(api.get(path), 422, "validation_failed")


def test_mutations_on_unknown_ids_are_404(api: httpx.Client) -> None:
    problem(api.put(f"/tasks/{UNKNOWN}", json={"title": "x"}), 404, "not_found")
    problem(api.delete(f"/tasks/{UNKNOWN}"), 404, "not_found")
    problem(api.post(f"/tasks/{UNKNOWN}/assign", json={"agent_ids": []}), 404, "not_found")
    problem(api.post(f"/tasks/{UNKNOWN}/status", json={"status": "done"}), 404, "not_found")
    problem(api.put(f"/agents/{UNKNOWN}", json={"role": "x"}), 404, "not_found")
    problem(api.delete(f"/agents/{UNKNOWN}"), 404, "not_found")
    problem(api.put(f"/documents/{UNKNOWN}", json={"content": "x"}), 404, "not_found")
    problem(api.delete(f"/documents/{UNKNOWN}"), 404, "not_found")


def test_references_to_unknown_ids_in_bodies_are_422(api: httpx.Client) -> None:
    problem(
        api.post("/tasks", json={"title": "x", "parent_task_id": UNKNOWN}), 422, "invalid_input"
    )
    problem(
        api.post("/tasks", json={"title": "x", "created_by_agent_id": UNKNOWN}),
        422,
        "invalid_input",
    )
    t = task(api)
    problem(
        api.post(
            f"/tasks/{t['task_id']}/status", json={"status": "blocked", "by_agent_id": UNKNOWN}
        ),
        422,
        "invalid_input",
    )
    problem(
        api.post("/notifications/mark-all-read", json={"agent_id": UNKNOWN}), 422, "invalid_input"
    )


def test_uniqueness_clash_is_409(api: httpx.Client) -> None:
    agent(api, "writer")
    problem(api.post("/agents", json={"name": "writer", "role": "W"}), 409, "already_exists")


def test_wrong_method_is_405_problem(api: httpx.Client) -> None:
    problem(api.patch("/activities"), 405, "method_not_allowed")


def test_bad_if_match_values(api: httpx.Client) -> None:
    for value in ['"x"', "W/", "-1", "99999999999999999999", "١"]:
        headers = {"If-Match": value.encode()}  # raw bytes: the last one is not ASCII
        problem(
            api.put("/state/working-md", json={"notes": "n"}, headers=headers), 422, "invalid_input"
        )
