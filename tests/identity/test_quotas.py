"""Per-tenant quotas: agents, tasks a day, attachment storage — refused with `quota_exceeded`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from missionctl import migrations
from missionctl.db import Database, make_engine
from missionctl.permissions import Role
from missionctl.settings import load_settings
from missionctl.web.app import create_app
from tests.conftest import BACKENDS, Backend, ServerThread, fresh_database, make_user
from tests.factories import created, problem


@pytest.fixture(params=BACKENDS)
def small(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """An admin on a server whose tenants may hold 2 agents, 3 tasks a day and 10 bytes."""
    with fresh_database(request.param, tmp_path) as url:
        settings = load_settings(
            data_dir=tmp_path,
            database_url=url,
            secret_key="q" * 48,
            quota_agents=2,
            quota_tasks_per_day=3,
            quota_storage_bytes=10,
        )
        db = Database(make_engine(settings.resolved_database_url))
        migrations.upgrade(db.engine)
        _user, token = make_user(Backend(name=request.param, settings=settings, db=db), Role.ADMIN)
        with (
            ServerThread(create_app(settings, db)) as base,
            httpx.Client(
                base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}
            ) as client,
        ):
            yield client
        db.dispose()


def test_agents_quota(small: httpx.Client) -> None:
    for name in ("a", "b"):
        created(small.post("/agents", json={"name": name, "role": "R"}))
    body = problem(small.post("/agents", json={"name": "c", "role": "R"}), 409, "quota_exceeded")
    assert body["quota"] == "agents"
    assert len(small.get("/agents").json()["items"]) == 2


def test_daily_tasks_quota(small: httpx.Client) -> None:
    for n in range(3):
        created(small.post("/tasks", json={"title": f"t{n}"}))
    body = problem(small.post("/tasks", json={"title": "one too many"}), 409, "quota_exceeded")
    assert body["quota"] == "tasks_per_day"


def test_storage_quota(small: httpx.Client) -> None:
    task = created(small.post("/tasks", json={"title": "t"}))
    path = f"/tasks/{task['task_id']}/messages"

    def attach(size: int) -> httpx.Response:
        content = base64.b64encode(b"x" * size).decode()
        return small.post(
            path, json={"content": "see", "attachments": [{"name": "f", "content_base64": content}]}
        )

    created(attach(6))
    body = problem(attach(6), 409, "quota_exceeded")
    assert body["quota"] == "storage_bytes"
    created(attach(4))  # exactly at the quota is fine
    created(small.post(path, json={"content": "text costs no storage"}))
