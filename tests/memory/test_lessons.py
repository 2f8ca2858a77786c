"""What an agent learned is saved when its task is done: one lesson per assignee."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Backend
from tests.factories import agent, created, move, ok, task


def finish(api: httpx.Client, task_id: str, start: str = "assigned") -> None:
    """Walk a task along the board to done."""
    path = ["in_progress", "review", "done"]
    if start == "done":
        path = ["in_progress", *path[1:]]
    for status in path:
        ok(move(api, task_id, status))


def lessons(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Lessons, newest first."""
    hits = ok(api.get("/memories", params={"kind": "lesson", **params}))
    return [hit["memory"] for hit in hits]


def test_finishing_a_task_saves_a_lesson_per_assignee(api: httpx.Client) -> None:
    writer, editor = agent(api, "writer"), agent(api, "editor")
    t = task(
        api,
        "Launch newsletter",
        description="Write the first issue of the customer newsletter.",
        assignee_ids=[writer["agent_id"], editor["agent_id"]],
    )
    thread = f"/tasks/{t['task_id']}/messages"
    created(api.post(thread, json={"content": "Subscribers prefer short issues on Tuesdays."}))
    created(api.post(thread, json={"content": "The unsubscribe link must be in the footer."}))
    ok(move(api, t["task_id"], "in_progress"))
    assert lessons(api) == []  # only done teaches
    ok(move(api, t["task_id"], "review"))
    ok(move(api, t["task_id"], "done"))
    mine = lessons(api, agent_id=writer["agent_id"], include_shared="false")
    assert len(mine) == 1
    lesson = mine[0]
    assert lesson["title"] == "Finished: Launch newsletter"
    assert lesson["task_id"] == t["task_id"] and t["task_id"] in lesson["tags"]
    assert lesson["content"].startswith("Write the first issue of the customer newsletter.")
    assert "Subscribers prefer short issues on Tuesdays." in lesson["content"]
    assert "unsubscribe link" in lesson["content"]
    assert len(lessons(api, agent_id=editor["agent_id"], include_shared="false")) == 1
    # The lesson is found by what it says.
    hits = ok(api.get("/memories", params={"q": "tuesdays", "agent_id": writer["agent_id"]}))
    assert [h["memory"]["memory_id"] for h in hits] == [lesson["memory_id"]]
    saved = ok(api.get("/activities", params={"event_type": "memory.saved"}))["items"]
    assert len(saved) == 2 and {e["actor_kind"] for e in saved} == {"system"}


def test_doing_a_task_again_updates_its_lesson(api: httpx.Client) -> None:
    writer = agent(api, "writer")
    t = task(api, "Fix the build", description="CI fails.", assignee_ids=[writer["agent_id"]])
    finish(api, t["task_id"])
    first = lessons(api)[0]
    created(
        api.post(f"/tasks/{t['task_id']}/messages", json={"content": "Pin the compiler version."})
    )
    finish(api, t["task_id"], start="done")
    again = lessons(api)
    assert len(again) == 1
    assert again[0]["memory_id"] == first["memory_id"]
    assert "Pin the compiler version." in again[0]["content"]
    assert again[0]["updated_at"] > first["updated_at"]


def test_a_lesson_never_blocks_the_task(api: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = agent(api, "writer")
    long = task(api, "L" * 200, description="d" * 20_000, assignee_ids=[writer["agent_id"]])
    created(api.post(f"/tasks/{long['task_id']}/messages", json={"content": "Long. " * 3000}))
    finish(api, long["task_id"])
    lesson = lessons(api)[0]
    assert len(lesson["title"]) <= 200 and lesson["title"].startswith("Finished: LLL")
    assert len(lesson["content"]) <= 20_000

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("summariser down")

    monkeypatch.setattr("missionctl.memory.service.summarise", broken)
    t = task(api, "Still finishes", assignee_ids=[writer["agent_id"]])
    created(api.post(f"/tasks/{t['task_id']}/messages", json={"content": "hello"}))
    finish(api, t["task_id"])
    assert ok(api.get(f"/tasks/{t['task_id']}"))["status"] == "done"
    assert [m["task_id"] for m in lessons(api)] == [long["task_id"]]


def test_memories_follow_their_agent_and_outlive_their_task(
    api: httpx.Client, backend: Backend
) -> None:
    writer = agent(api, "writer")
    t = task(api, "Map the market", assignee_ids=[writer["agent_id"]])
    finish(api, t["task_id"])
    shared = created(
        api.post(
            "/memories",
            json={"title": "Market map", "content": "competitors", "task_id": t["task_id"]},
        )
    )
    assert api.delete(f"/tasks/{t['task_id']}").status_code == 204
    assert ok(api.get(f"/memories/{shared['memory_id']}"))["task_id"] is None
    assert api.delete(f"/agents/{writer['agent_id']}").status_code == 204
    assert lessons(api) == []  # an agent's own memories go with it
    assert ok(api.get("/memories", params={"q": "market"}))[0]["memory"]["title"] == "Market map"
    if backend.name == "sqlite":
        # The FTS5 index agrees with its content table after inserts, updates and cascades.
        with backend.db.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)"
            )
