"""The response cache: hits while nothing changes, never stale after any change, anywhere."""

from __future__ import annotations

from pathlib import Path

import httpx

from missionctl.board.schemas import TaskCreate
from missionctl.board.service import create_task
from missionctl.common import Actor
from missionctl.db import make_engine
from missionctl.permissions import Permission
from missionctl.web.cache import ResponseCache, SqliteRevisions
from missionctl.web.deps import AppState
from tests.conftest import Backend
from tests.factories import agent, move, ok, task


def state_of(backend: Backend) -> AppState:
    assert backend.app is not None
    state: AppState = backend.app.state.mission_control
    return state


def titles(api: httpx.Client, **params: object) -> list[str]:
    return [t["title"] for t in ok(api.get("/tasks", params=params))["items"]]


def test_cache_is_on_for_sqlite_only(api: httpx.Client, backend: Backend) -> None:
    cache = state_of(backend).cache
    assert (cache is not None) == (backend.name == "sqlite")


def test_repeated_reads_hit_and_every_kind_of_change_is_seen(
    api: httpx.Client, backend: Backend
) -> None:
    cache = state_of(backend).cache
    w = agent(api, "writer")
    t = task(api, "first")
    assert titles(api, status="inbox") == ["first"]
    hits = cache.hits if cache else 0
    assert titles(api, status="inbox") == ["first"]
    if cache:
        assert cache.hits == hits + 1
    ok(api.post(f"/tasks/{t['task_id']}/assign", json={"agent_ids": [w["agent_id"]]}))
    assert titles(api, status="inbox") == []
    assert titles(api, status="assigned") == ["first"]
    ok(move(api, t["task_id"], "in_progress"))
    assert titles(api, status="assigned") == []
    ok(api.put(f"/tasks/{t['task_id']}", json={"title": "renamed"}))
    assert titles(api, status="in_progress") == ["renamed"]
    assert api.delete(f"/agents/{w['agent_id']}").status_code == 204
    assert ok(api.get("/tasks"))["items"][0]["assignee_ids"] == []


def test_writes_from_another_connection_are_seen(api: httpx.Client, backend: Backend) -> None:
    """A CLI (another process, another connection) writing while the server caches."""
    task(api, "from the api")
    assert titles(api) == ["from the api"]
    assert titles(api) == ["from the api"]
    with backend.db.transaction() as session:
        create_task(session, TaskCreate(title="from elsewhere"), actor=Actor.system())
    assert titles(api) == ["from elsewhere", "from the api"]


def test_lru_and_newer_entries_win(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    cache = ResponseCache(SqliteRevisions(engine), max_entries=2)
    try:
        read = Permission.BOARD_READ
        cache.put("a", 5, b"a5", read)
        cache.put("a", 4, b"a4", read)  # older: ignored
        assert cache.get("a", 5) == (b"a5", read)
        assert cache.get("a", 6) is None  # the log moved on
        cache.put("b", 5, b"b5", read)
        cache.get("a", 5)
        cache.put("c", 5, b"c5", Permission.API_KEYS_MANAGE)  # evicts b, least recently used
        assert cache.get("b", 5) is None
        assert cache.get("a", 5) == (b"a5", read)
        assert cache.get("c", 5) == (b"c5", Permission.API_KEYS_MANAGE)
    finally:
        cache.close()
        engine.dispose()


def test_a_hit_is_the_same_response_as_the_miss(api: httpx.Client, backend: Backend) -> None:
    w = agent(api, "writer")
    task(api, "a", assignee_ids=[w["agent_id"]], due_at="2030-01-01T00:00:00Z")
    task(api, "b")
    params = {"limit": 1, "status": "assigned"}
    first = api.get("/tasks", params=params)
    second = api.get("/tasks", params=params)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert first.headers["content-type"] == second.headers["content-type"] == "application/json"
    assert first.json()["items"][0]["due_at"] == "2030-01-01T00:00:00Z"
    # A different spelling of the query is a different entry, answered correctly too.
    assert api.get("/tasks?status=assigned&limit=1").json() == first.json()
    # Invalid queries are never cached: the second is refused like the first.
    assert api.get("/tasks", params={"limit": 0}).status_code == 422
    assert api.get("/tasks", params={"limit": 0}).status_code == 422
