"""Engine fixtures: the test job kinds, an effects table, and workers run in this process."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from missionctl.bootstrap import build_registry
from missionctl.db import Database
from missionctl.engine.registry import JobRegistry
from missionctl.engine.worker import Worker, WorkerConfig
from missionctl.runtime.service import TURN_JOB
from tests.conftest import Backend, reset
from tests.engine.plugin import EFFECTS_DDL

PLUGIN = "tests.engine.plugin"


def make_registry(backend: Backend) -> JobRegistry:
    """The built-in kinds plus the test kinds."""
    return build_registry(backend.settings.model_copy(update={"plugins": [PLUGIN]}))


@pytest.fixture
def engine_db(backend: Backend) -> Database:
    """The backend's database, emptied, with an empty effects table."""
    reset(backend.db)
    with backend.db.engine.begin() as connection:
        connection.execute(text(EFFECTS_DDL))
        connection.execute(text("DELETE FROM test_effects"))
    return backend.db


@pytest.fixture
def registry(backend: Backend) -> JobRegistry:
    """Built-in and test job kinds."""
    return make_registry(backend)


RunWorker = Callable[..., Any]


@pytest.fixture
def run_worker(backend: Backend, engine_db: Database, registry: JobRegistry) -> Iterator[RunWorker]:
    """Start in-process workers (`run_worker(concurrency=2, lease_seconds=1)`); all stop after."""
    started: list[Worker] = []

    def start(**config: Any) -> Worker:
        config.setdefault("poll_seconds", 0.2)
        # Agents' turns are left out unless asked for (they are tested in tests/runtime).
        config.setdefault("kinds", tuple(k for k in registry.names() if k != TURN_JOB))
        worker = Worker(engine_db, registry, backend.settings, WorkerConfig(**config))
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop(grace_seconds=5)


def wait_until(
    condition: Callable[[], bool], timeout: float = 20.0, interval: float = 0.02
) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


def job_status(db: Database, job_id: uuid.UUID) -> str:
    """A job's status, read straight from the database."""
    with db.engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT status FROM jobs WHERE job_id = :job_id"),
                {"job_id": job_id.hex if db.is_sqlite else job_id},
            ).scalar_one()
        )


def effects(db: Database) -> list[tuple[str, str, str, int]]:
    """Every effect row: (job id, step, worker, attempt)."""
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT job_id, step, worker, attempt FROM test_effects"))
        return [(r[0], r[1], r[2], r[3]) for r in rows]
