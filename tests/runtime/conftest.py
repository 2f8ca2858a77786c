"""Runtime fixtures: a team of agents and in-process workers that run their turns."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from missionctl.engine.registry import JobRegistry
from missionctl.engine.worker import Worker, WorkerConfig
from missionctl.runtime import jobs
from missionctl.runtime.turns import ModelFactory
from tests.conftest import Backend

TEAM = (
    {
        "name": "orchestrator",
        "role": "Orchestrator",
        "capabilities": ["planning", "coordination"],
        "instructions": "Break goals into tasks; keep the board moving.",
    },
    {
        "name": "researcher",
        "role": "Researcher",
        "capabilities": ["research", "analysis"],
        "instructions": "Find and check facts; write findings as documents.",
    },
    {
        "name": "writer",
        "role": "Writer",
        "capabilities": ["writing", "editing"],
        "instructions": "Turn research into clear deliverables.",
    },
    {
        "name": "reviewer",
        "role": "Reviewer",
        "capabilities": ["review", "quality"],
        "instructions": "Approve work that meets the task; return it with comments otherwise.",
    },
)

StartAgents = Callable[..., Worker]


def wait_until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail with the last value on timeout."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s; last value: {value!r}")
        time.sleep(interval)
        value = check()
    return value


@pytest.fixture
def team(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """The four-agent team, by name."""
    made = {}
    for agent in TEAM:
        response = api.post("/agents", json=agent)
        assert response.status_code == 201, response.text
        made[agent["name"]] = response.json()
    return made


@pytest.fixture
def start_agents(backend: Backend) -> Iterator[StartAgents]:
    """Start a worker that runs agents' turns (`start_agents(model_factory=...)`)."""
    started: list[Worker] = []

    def start(model_factory: ModelFactory | None = None, **config: Any) -> Worker:
        registry = JobRegistry()
        jobs.register(registry, model_factory=model_factory)
        config.setdefault("poll_seconds", 0.1)
        config.setdefault("concurrency", 4)
        worker = Worker(backend.db, registry, backend.settings, WorkerConfig(**config))
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop(grace_seconds=10)
