"""Workflow fixtures: in-process workers that drive runs, and helpers to wait on runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from missionctl.engine.registry import JobRegistry
from missionctl.engine.worker import Worker, WorkerConfig
from missionctl.workflows import jobs
from tests.conftest import Backend
from tests.runtime.conftest import wait_until

# The example, exactly as written.
BRIEF = (Path(__file__).parent / "brief.yaml").read_text(encoding="utf-8")

YAML = {"content-type": "application/yaml"}
StartWorkflows = Callable[..., Worker]


@pytest.fixture
def start_workflows(backend: Backend) -> Iterator[StartWorkflows]:
    """Start a worker that drives workflow runs (`start_workflows(tools=..., concurrency=...)`)."""
    started: list[Worker] = []

    def start(**options: Any) -> Worker:
        registry = JobRegistry()
        jobs.register(registry, **{k: v for k, v in options.items() if k in ("tools",)})
        hosts = options.pop("allowed_hosts", ["127.0.0.1"])  # the tests' own HTTP targets
        config = {k: v for k, v in options.items() if k not in ("tools",)}
        config.setdefault("poll_seconds", 0.05)
        config.setdefault("concurrency", 4)
        settings = backend.settings.model_copy(update={"workflow_allowed_hosts": hosts})
        worker = Worker(backend.db, registry, settings, WorkerConfig(**config))
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop(grace_seconds=10)


def save(api: httpx.Client, text: str) -> dict[str, Any]:
    """Save a YAML definition; its answer."""
    response = api.post("/workflows", content=text, headers=YAML)
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def start(api: httpx.Client, name: str, **inputs: Any) -> dict[str, Any]:
    """Start a run; the run."""
    response = api.post(f"/workflows/{name}/runs", json={"inputs": inputs})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def run_until(
    api: httpx.Client, run_id: str, *statuses: str, timeout: float = 30.0
) -> dict[str, Any]:
    """Poll a run until it reaches one of `statuses`; the run."""

    def reached() -> dict[str, Any] | None:
        run = api.get(f"/workflow-runs/{run_id}").json()
        return run if run["status"] in statuses else None

    return wait_until(reached, timeout=timeout)  # type: ignore[no-any-return]


def steps(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A run's steps by key."""
    return {s["step_key"]: s for s in run["steps"]}
