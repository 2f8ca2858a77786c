"""Memories over HTTP: saving, reading, scoping to agents, agent keys, hostile queries."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from missionctl.permissions import Role
from tests.conftest import Backend, client_for, make_user
from tests.factories import agent, created, ok, problem, task

MISSING = "00000000-0000-7000-8000-000000000999"


def remember(api: httpx.Client, title: str, content: str = "", **fields: Any) -> dict[str, Any]:
    """Save a memory."""
    return created(api.post("/memories", json={"title": title, "content": content, **fields}))


def found(api: httpx.Client, **params: Any) -> list[str]:
    """The titles a search returns, in order."""
    return [hit["memory"]["title"] for hit in ok(api.get("/memories", params=params))]


def test_save_read_list_and_forget(api: httpx.Client) -> None:
    writer, t = agent(api, "writer"), task(api)
    memory = remember(
        api,
        "Style guide",
        "Use British spelling.",
        kind="fact",
        tags=["style"],
        importance=5,
        agent_id=writer["agent_id"],
        task_id=t["task_id"],
    )
    assert memory["kind"] == "fact" and memory["importance"] == 5
    assert memory["agent_id"] == writer["agent_id"] and memory["task_id"] == t["task_id"]
    assert ok(api.get(f"/memories/{memory['memory_id']}")) == memory
    shared = remember(api, "Office hours", "We answer between nine and five.")
    assert shared["agent_id"] is None and shared["kind"] == "note" and shared["importance"] == 3
    hits = ok(api.get("/memories"))
    assert [h["memory"]["memory_id"] for h in hits] == [shared["memory_id"], memory["memory_id"]]
    assert all(h["score"] is None for h in hits)  # a listing, newest first, is not scored
    assert found(api, kind="fact") == ["Style guide"]
    assert found(api, task_id=t["task_id"]) == ["Style guide"]
    assert found(api, include_shared="false") == ["Style guide"]
    assert api.delete(f"/memories/{memory['memory_id']}").status_code == 204
    problem(api.get(f"/memories/{memory['memory_id']}"), 404, "not_found")
    problem(api.delete(f"/memories/{memory['memory_id']}"), 404, "not_found")
    assert found(api, q="british spelling") == []
    events = ok(api.get("/activities", params={"event_type": "memory.*"}))["items"]
    assert [e["event_type"] for e in events] == ["memory.deleted", "memory.saved", "memory.saved"]
    assert events[0]["subject_id"] == memory["memory_id"]


def test_an_agent_sees_its_own_and_shared_memories_only(api: httpx.Client) -> None:
    writer, scout = agent(api, "writer"), agent(api, "scout")
    remember(api, "Writer secret deadline", "deadline friday", agent_id=writer["agent_id"])
    remember(api, "Scout secret deadline", "deadline monday", agent_id=scout["agent_id"])
    remember(api, "Shared deadline policy", "deadline rules")
    assert found(api, agent_id=writer["agent_id"]) == [
        "Shared deadline policy",
        "Writer secret deadline",
    ]
    mine_only = found(api, agent_id=writer["agent_id"], include_shared="false")
    assert mine_only == ["Writer secret deadline"]
    searched = found(api, agent_id=writer["agent_id"], q="deadline")
    assert sorted(searched) == ["Shared deadline policy", "Writer secret deadline"]
    assert len(found(api, q="deadline")) == 3  # people see every memory of the tenant


def test_agent_keys_save_and_read_as_their_agent(server: str, api: httpx.Client) -> None:
    writer, scout = agent(api, "writer"), agent(api, "scout")
    key = created(api.post("/api-keys", json={"name": "w", "agent_id": writer["agent_id"]}))
    theirs = remember(api, "Scout private notes", "scouting", agent_id=scout["agent_id"])
    remember(api, "Team notes", "shared scouting")
    with client_for(server, key["key"]) as bot:
        mine = created(bot.post("/memories", json={"title": "My notes", "content": "scouting"}))
        assert mine["agent_id"] == writer["agent_id"]
        assert sorted(found(bot, q="scouting")) == ["My notes", "Team notes"]
        assert sorted(found(bot)) == ["My notes", "Team notes"]
        problem(bot.get("/memories", params={"agent_id": scout["agent_id"]}), 403, "forbidden")
        problem(bot.get(f"/memories/{theirs['memory_id']}"), 404, "not_found")
        problem(bot.delete(f"/memories/{theirs['memory_id']}"), 404, "not_found")
        problem(
            bot.post("/memories", json={"title": "x", "agent_id": scout["agent_id"]}),
            403,
            "forbidden",
        )
        assert bot.delete(f"/memories/{mine['memory_id']}").status_code == 204
    assert ok(api.get(f"/memories/{theirs['memory_id']}"))["title"] == "Scout private notes"
    saved = ok(api.get("/activities", params={"event_type": "memory.saved"}))["items"][0]
    assert saved["actor_kind"] == "agent" and saved["actor_id"] == writer["agent_id"]


def test_viewers_read_but_do_not_write(server: str, api: httpx.Client, backend: Backend) -> None:
    memory = remember(api, "Readable", "by everyone")
    _user, token = make_user(backend, Role.VIEWER)
    with client_for(server, token) as viewer:
        assert found(viewer) == ["Readable"]
        problem(viewer.post("/memories", json={"title": "no"}), 403, "forbidden")
        problem(viewer.delete(f"/memories/{memory['memory_id']}"), 403, "forbidden")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"content": "no title"}, "title"),
        ({"title": ""}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "t", "content": "c" * 20_001}, "content"),
        ({"title": "t", "importance": 0}, "importance"),
        ({"title": "t", "importance": 6}, "importance"),
        ({"title": "t", "kind": "rumour"}, "kind"),
        ({"title": "t", "tags": "solo"}, "tags"),
        ({"title": "t", "tags": ["x" * 65]}, "tags"),
        ({"title": "t", "agent_id": "nope"}, "agent_id"),
        ({"title": "t\x00"}, "title"),
        ({"title": "t", "color": "red"}, "color"),
    ],
)
def test_bad_memories_are_refused(api: httpx.Client, payload: dict[str, Any], field: str) -> None:
    body = problem(api.post("/memories", json=payload), 422, "validation_failed")
    assert any(field in str(error.get("field", error)) for error in body["errors"]), body
    assert ok(api.get("/memories")) == []


def test_references_must_exist(api: httpx.Client) -> None:
    unknown = problem(
        api.post("/memories", json={"title": "t", "agent_id": MISSING}), 422, "invalid_input"
    )
    assert MISSING in unknown["detail"]
    problem(api.post("/memories", json={"title": "t", "task_id": MISSING}), 404, "not_found")
    problem(api.get(f"/memories/{MISSING}"), 404, "not_found")
    problem(api.get("/memories/not-a-uuid"), 422, "validation_failed")
    problem(api.get("/memories", params={"limit": 51}), 422, "validation_failed")
    problem(api.get("/memories", params={"q": "x" * 2001}), 422, "validation_failed")
    assert ok(api.get("/memories")) == []


HOSTILE = [
    '"',
    '""',
    "*",
    "deploy*",
    "NEAR(",
    "NEAR(deploy rollback, 2)",
    ":",
    "title:deploy",
    "&|!",
    "deploy & !rollback | (x",
    "<->",
    "'",
    "\\",
    "AND OR NOT",
    "-deploy ^rollback +x",
    "'; DROP TABLE memories; --",
    "ünïcødé 日本語 🙂 ﷽",
    "x" * 2000,
    "deploy " * 285,
    "   ",
]


def test_hostile_queries_never_fail(api: httpx.Client) -> None:
    remember(api, "Deploy checklist", "Roll back when the health check fails.")
    for query in HOSTILE:
        response = api.get("/memories", params={"q": query})
        assert response.status_code == 200, (query, response.text)
        assert isinstance(response.json(), list)
    # Syntax is dropped, words are kept: these still find the memory.
    for query in ['"deploy', "deploy*", "title:deploy", "NEAR(deploy", "deploy & !x", "DEPLOY"]:
        assert found(api, q=query) == ["Deploy checklist"], query
    assert found(api, q="*") == []  # no words: nothing to match
    assert ok(api.get("/memories"))[0]["memory"]["title"] == "Deploy checklist"


def test_unicode_words_are_searchable(api: httpx.Client) -> None:
    remember(api, "Café opening", "Das Straßenfest beginnt um neun", tags=["événement"])
    remember(api, "Unrelated", "nothing here")
    assert found(api, q="café") == ["Café opening"]
    assert found(api, q="straßenfest") == ["Café opening"]
    assert found(api, q="événement") == ["Café opening"]  # tags are searched too
