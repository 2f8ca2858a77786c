"""Webhook fixtures: a server that allows private targets, in-process workers, local receivers.

The shared `server` refuses private targets (the default), and a receiver in a test can only
listen on 127.0.0.1; so webhooks that must really be delivered are made through a second
server on the same database whose settings allow them, and sent by workers run in this process.
Receivers are real HTTP servers on 127.0.0.1 that record every request and answer with a
programmed sequence of statuses.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from missionctl.bootstrap import build_registry
from missionctl.engine.registry import JobRegistry
from missionctl.engine.worker import Worker, WorkerConfig
from missionctl.runtime.service import TURN_JOB
from missionctl.settings import Settings
from missionctl.web.app import create_app
from tests.conftest import Backend, ServerThread, bound_socket

RETRY_BASE_SECONDS = 0.05


@pytest.fixture(scope="session")
def permissive_settings(backend: Backend) -> Settings:
    """The backend's settings, but private targets allowed and retries quick."""
    return backend.settings.model_copy(
        update={
            "allow_private_webhooks": True,
            "webhook_retry_base_seconds": RETRY_BASE_SECONDS,
            "response_cache": False,
        }
    )


@pytest.fixture(scope="session")
def permissive_server(backend: Backend, permissive_settings: Settings) -> Iterator[str]:
    """A second Mission Control server on the backend's database that allows private targets."""
    with ServerThread(create_app(permissive_settings, backend.db)) as base_url:
        yield base_url


@pytest.fixture
def hooks(api: httpx.Client, permissive_server: str) -> Iterator[httpx.Client]:
    """The `api` admin (on the emptied database), signed in on the permissive server."""
    with httpx.Client(
        base_url=f"{permissive_server}/api/v1", headers=api.headers, timeout=30
    ) as client:
        yield client


@dataclass(frozen=True)
class Hit:
    """One request a receiver got."""

    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic()


class Receiver:
    """A real HTTP server on 127.0.0.1 recording requests and answering `statuses` in turn.

    When the programmed statuses run out it answers `default`. A 3xx answer points elsewhere
    (`/elsewhere`), to see that redirects are not followed.
    """

    def __init__(self, statuses: list[int], default: int, sock: socket.socket) -> None:
        self.statuses = list(statuses)
        self.default = default
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/{path:path}", self._answer, methods=["POST", "GET"])])
        self._server = ServerThread(app, sock)
        self.base_url = f"http://127.0.0.1:{self._server.port}"
        self.is_running = False

    def url(self, path: str = "hook") -> str:
        """A URL on this receiver."""
        return f"{self.base_url}/{path}"

    async def _answer(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        with self._lock:
            self._hits.append(
                Hit(
                    path=request.url.path,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=body,
                    at=time.monotonic(),
                )
            )
            status = self.statuses.pop(0) if self.statuses else self.default
        headers = {"Location": f"{self.base_url}/elsewhere"} if 300 <= status < 400 else None
        return PlainTextResponse(f"answered {status}", status_code=status, headers=headers)

    def hits(self, path: str | None = None) -> list[Hit]:
        """The requests so far (to `path` only, when given)."""
        with self._lock:
            return [hit for hit in self._hits if path is None or hit.path == path]

    def start(self) -> Receiver:
        """Start listening (until then connections to its port are refused)."""
        self._server.__enter__()
        self.is_running = True
        return self

    def close(self) -> None:
        """Stop listening."""
        if self.is_running:
            self._server.__exit__(None, None, None)
            self.is_running = False
        else:
            self._server.socket.close()


MakeReceiver = Callable[..., Receiver]


@pytest.fixture
def receiver_factory() -> Iterator[MakeReceiver]:
    """`make(statuses=[500, 200], default=200, start=True)`: receivers, all closed after."""
    made: list[Receiver] = []

    def make(statuses: list[int] | None = None, default: int = 200, start: bool = True) -> Receiver:
        receiver = Receiver(statuses or [], default, bound_socket())
        made.append(receiver)
        return receiver.start() if start else receiver

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def receiver(receiver_factory: MakeReceiver) -> Receiver:
    """A receiver answering 200 to everything."""
    return receiver_factory()


@pytest.fixture(scope="session")
def registry(permissive_settings: Settings) -> JobRegistry:
    """The deployment's job kinds (webhook.deliver among them)."""
    return build_registry(permissive_settings)


RunWorker = Callable[..., Worker]


@pytest.fixture
def run_worker(
    backend: Backend,
    api: httpx.Client,
    receiver_factory: MakeReceiver,
    permissive_settings: Settings,
    registry: JobRegistry,
) -> Iterator[RunWorker]:
    """`run_worker(settings=None, **setting_overrides)`: in-process workers, stopped after.

    Default settings are the permissive ones; `settings=backend.settings` gives a worker that
    refuses private targets. Stopped before the receivers close (fixture order).
    """
    started: list[Worker] = []

    def start(settings: Settings | None = None, **overrides: Any) -> Worker:
        chosen = (settings or permissive_settings).model_copy(update=overrides)
        # Agents' turns are left out: here they would add events of their own (tests/runtime).
        kinds = tuple(name for name in registry.names() if name != TURN_JOB)
        config = WorkerConfig(concurrency=2, poll_seconds=0.1, kinds=kinds)
        worker = Worker(backend.db, registry, chosen, config)
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop(grace_seconds=5)
