"""The response cache: hits while nothing changes, never stale after any change, anywhere."""

from __future__ import annotations

from pathlib import Path

import httpx

from missionctl.board.schemas import TaskCreate
from missionctl.board.service import create_task
from missionctl.common import Actor
from missionctl.db import make_engine
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
        cache.put("a", 5, b"a5")
        cache.put("a", 4, b"a4")  # older: ignored
        assert cache.get("a", 5) == b"a5"
        assert cache.get("a", 6) is None  # the log moved on
        cache.put("b", 5, b"b5")
        cache.get("a", 5)
        cache.put("c", 5, b"c5")  # evicts b, the least recently used
        assert cache.get("b", 5) is None
        assert cache.get("a", 5) == b"a5" and cache.get("c", 5) == b"c5"
    finally:
        cache.close()
        engine.dispose()
