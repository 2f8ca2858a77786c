"""Live events over Server-Sent Events and WebSocket, against real servers on both databases.

Two servers on one database, each with its own `Database` (engine, signals, tail), stand for two
API processes: one learns of the other's commits only as another process would (PostgreSQL
NOTIFY, SQLite's data_version).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from missionctl.common import Actor
from missionctl.db import Database, make_engine
from missionctl.events.models import EventRow
from missionctl.events.service import on_commit_events, record_event
from missionctl.events.stream import EventTail
from missionctl.identity.service import ensure_tenant
from missionctl.permissions import Role
from missionctl.web.app import create_app
from tests.conftest import Backend, ServerThread, make_user, reset
from tests.engine.conftest import wait_until
from tests.factories import problem

PING_SECONDS = 0.3


@dataclass
class Api:
    """A server of its own on the backend's database."""

    url: str
    db: Database
    tail: EventTail

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/v1/ws/events"


@pytest.fixture
def apis(backend: Backend) -> Iterator[tuple[Api, Api]]:
    """Two servers ("API processes") on the emptied database, with short pings and queues."""
    reset(backend.db)
    settings = backend.settings.model_copy(
        update={"stream_ping_seconds": PING_SECONDS, "stream_queue_size": 20}
    )
    servers = []
    for _ in range(2):
        db = Database(make_engine(settings.resolved_database_url, pool_size=4))
        app = create_app(settings, db)
        servers.append((ServerThread(app), app, db))
    urls = [server.__enter__() for server, _app, _db in servers]
    try:
        yield tuple(  # type: ignore[misc]
            Api(url, db, app.state.mission_control.tail)
            for url, (_server, app, db) in zip(urls, servers, strict=True)
        )
    finally:
        for server, app, db in servers:
            server.__exit__(None, None, None)
            app.state.mission_control.tail.stop()
            db.dispose()


SLOW_COMMIT = "test.slow_commit"


@on_commit_events
def _dawdle_before_commit(_session: Session, events: Sequence[EventRow]) -> None:
    """Hold a unit of work open between taking its event ids and committing: the window in which
    another writer's later id can commit first (a reader that went by ids alone would skip)."""
    if any(event.event_type == SLOW_COMMIT for event in events):
        time.sleep(random.uniform(0, 0.02))


def write_events(
    db: Database,
    count: int,
    tenant_id: uuid.UUID | None = None,
    *,
    at_once: bool = False,
    event_type: str = "test.happened",
) -> None:
    """Record `count` events, one unit of work each (as any process's changes would), or all
    in one unit of work (`at_once`: they commit, and reach the streams, as one burst)."""
    kwargs = {} if tenant_id is None else {"tenant_id": tenant_id}
    for first in range(0, count, count if at_once else 1):
        with db.transaction(**kwargs) as session:
            for index in range(first, min(count, first + (count if at_once else 1))):
                record_event(
                    session,
                    event_type,
                    actor=Actor.system(),
                    subject_kind="test",
                    subject_id=str(index),
                    summary=f"event {index}",
                )


@dataclass(frozen=True)
class Received:
    event_id: int
    event_type: str
    data: dict[str, object]


def read_sse(
    url: str, token: str, count: int, *, params: dict[str, str] | None = None, **headers: str
) -> list[Received]:
    """Open the SSE stream and read until `count` events came (or 15 s passed)."""
    got: list[Received] = []
    deadline = time.monotonic() + 15
    with httpx.stream(
        "GET",
        f"{url}/api/v1/events/stream",
        params=params or {},
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=10,
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line == "":
                if "data" in fields and "id" in fields:
                    got.append(
                        Received(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                    )
                fields = {}
                if len(got) >= count or time.monotonic() > deadline:
                    return got
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
    return got


def ws_connect(api: Api, token: str, **params: str) -> ClientConnection:
    """A WebSocket on the live events; it buffers all it receives, so that closing it mid-stream
    does not wait behind unread messages."""
    query = "&".join(f"{k}={v}" for k, v in {"access_token": token, **params}.items())
    return connect(f"{api.ws}?{query}", open_timeout=10, max_queue=None)


def ws_events(
    connection: ClientConnection, count: int, timeout: float = 15
) -> list[dict[str, object]]:
    """Read messages until `count` events came; pings are skipped."""
    got: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        message = json.loads(connection.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["kind"] == "event":
            got.append(message["event"])
    return got


def test_the_stream_needs_a_valid_token(apis: tuple[Api, Api]) -> None:
    first, _ = apis
    problem(httpx.get(f"{first.url}/api/v1/events/stream"), 401, "unauthenticated")
    problem(
        httpx.get(f"{first.url}/api/v1/events/stream", params={"access_token": "forged"}),
        401,
        "unauthenticated",
    )
    for token in ("", "forged"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{first.ws}?access_token={token}", open_timeout=10)
        assert refused.value.response.status_code == 401
        body = json.loads(refused.value.response.body or b"{}")
        assert body["code"] == "unauthenticated"


def test_sse_resumes_after_last_event_id_with_no_gap_and_no_duplicate(
    backend: Backend, apis: tuple[Api, Api]
) -> None:
    first, second = apis
    _user, token = make_user(backend, Role.VIEWER)
    write_events(first.db, 5)
    before = read_sse(first.url, token, 5, params={"after": "0"})
    assert [e.data["subject_id"] for e in before] == ["0", "1", "2", "3", "4"]
    assert [e.event_id for e in before] == sorted({e.event_id for e in before})
    write_events(second.db, 7)  # while this client is away, through the other process
    resumed = read_sse(second.url, token, 7, **{"Last-Event-ID": str(before[-1].event_id)})
    assert [e.data["summary"] for e in resumed] == [f"event {n}" for n in range(7)]
    assert resumed[0].event_id > before[-1].event_id


def test_live_events_reach_a_client_of_another_process(
    backend: Backend, apis: tuple[Api, Api]
) -> None:
    first, second = apis
    _user, token = make_user(backend, Role.OPERATOR)
    with ws_connect(second, token) as client:
        time.sleep(0.3)  # subscribed: from now on
        write_events(first.db, 3)
        got = ws_events(client, 3)
    assert [e["summary"] for e in got] == ["event 0", "event 1", "event 2"]


def test_a_stream_sees_only_its_tenant_and_what_its_role_may_read(
    backend: Backend, apis: tuple[Api, Api]
) -> None:
    first, _ = apis
    with backend.db.transaction(None) as session:
        other = ensure_tenant(session, "other-co")
    _user, operator = make_user(backend, Role.OPERATOR)
    with ws_connect(first, operator, after="0") as client:
        write_events(first.db, 2, tenant_id=other.tenant_id)
        with first.db.transaction() as session:  # operators may not see webhook events
            record_event(
                session,
                "webhook.created",
                actor=Actor.system(),
                subject_kind="webhook",
                subject_id="w",
                summary="hidden",
            )
        write_events(first.db, 1)
        got = ws_events(client, 1)
        assert [e["summary"] for e in got] == ["event 0"]
        with pytest.raises(TimeoutError):
            ws_events(client, 1, timeout=1)


def test_idle_streams_get_pings(backend: Backend, apis: tuple[Api, Api]) -> None:
    first, _ = apis
    _user, token = make_user(backend, Role.VIEWER)
    with ws_connect(first, token) as client:
        message = json.loads(client.recv(timeout=5))
    assert message["kind"] == "ping" and isinstance(message["position"], int)
    with httpx.stream(
        "GET", f"{first.url}/api/v1/events/stream", params={"access_token": token}, timeout=5
    ) as response:
        lines = response.iter_lines()
        assert next(lines) == "retry: 1000"
        assert next(lines) == ""
        assert next(lines) == ": ping"


def test_a_client_that_falls_behind_is_told_to_go_and_resumes_without_loss(
    backend: Backend, apis: tuple[Api, Api]
) -> None:
    first, _ = apis
    _user, token = make_user(backend, Role.VIEWER)
    with ws_connect(first, token, types="test.*") as client:
        time.sleep(0.3)
        # One burst of 60 while this stream may queue 20: it falls behind at once, however
        # fast it reads (a client that reads slowly falls behind the same way, more slowly).
        write_events(first.db, 60, at_once=True)
        got: list[dict[str, object]] = []
        overflow = None
        deadline = time.monotonic() + 15
        while overflow is None and time.monotonic() < deadline:
            message = json.loads(client.recv(timeout=5))
            if message["kind"] == "event":
                got.append(message["event"])
            elif message["kind"] == "overflow":
                overflow = message
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
    assert overflow is not None and overflow["resume_after"] == got[-1]["event_id"]
    assert len(got) < 60
    with ws_connect(first, token, after=str(overflow["resume_after"]), types="test.*") as client:
        rest = ws_events(client, 60 - len(got))
    summaries = [e["summary"] for e in got + rest]
    assert summaries == [f"event {n}" for n in range(60)]


def test_clients_that_drop_and_resume_under_concurrent_writers_see_every_event_once(
    backend: Backend, apis: tuple[Api, Api]
) -> None:
    first, second = apis
    _user, token = make_user(backend, Role.VIEWER)
    writers = [
        threading.Thread(target=write_events, args=(api.db, 40), kwargs={"event_type": SLOW_COMMIT})
        for api in (first, second, first)
    ]
    for writer in writers:
        writer.start()
    rng = random.Random(7)
    TOTAL = 3 * 40  # noqa: N806
    seen: list[int] = []
    after = 0
    while len(seen) < TOTAL:
        api = rng.choice(apis)
        with ws_connect(api, token, after=str(after), types="test.*") as client:
            for event in ws_events(client, min(rng.randint(1, 15), TOTAL - len(seen)), timeout=20):
                seen.append(int(event["event_id"]))  # type: ignore[call-overload]
        after = seen[-1]
    for writer in writers:
        writer.join()
    assert len(seen) == TOTAL
    assert seen == sorted(set(seen))  # in order, nothing twice …
    with backend.db.engine.connect() as connection:
        written = [
            row[0]
            for row in connection.execute(
                text(f"SELECT event_id FROM events WHERE event_type = '{SLOW_COMMIT}' ORDER BY 1")
            )
        ]
    assert seen == written  # … and nothing missed


def test_a_stream_whose_client_left_is_dropped_at_once(
    backend: Backend, apis: tuple[Api, Api]
) -> None:
    first, _ = apis
    first.tail.ping_seconds = 60  # no ping (and so no failed send) will reveal that it left
    _user, token = make_user(backend, Role.VIEWER)
    with ws_connect(first, token):
        wait_until(lambda: first.tail.stream_count == 1, timeout=5)
    wait_until(lambda: first.tail.stream_count == 0, timeout=5)


def test_bad_stream_parameters_are_refused_clearly(backend: Backend, apis: tuple[Api, Api]) -> None:
    first, _ = apis
    _user, token = make_user(backend, Role.VIEWER)
    url = f"{first.url}/api/v1/events/stream"
    auth = {"Authorization": f"Bearer {token}"}
    problem(
        httpx.get(url, params={"types": "task created"}, headers=auth), 422, "validation_failed"
    )
    problem(httpx.get(url, params={"after": "-1"}, headers=auth), 422, "validation_failed")
    problem(httpx.get(url, headers={**auth, "Last-Event-ID": "x1"}), 422, "invalid_input")
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(first, token, after="abc")
    assert refused.value.response.status_code == 422
    assert json.loads(refused.value.response.body or b"{}")["code"] == "validation_failed"
