"""A response cache for hot reads, validated by the tenant's event log.

Every change appends an event in its own transaction (DESIGN: the event log), so the newest
`event_id` of a tenant is a version number for everything the tenant can read. On SQLite, writers
are serialised (BEGIN IMMEDIATE), so ids commit in order and a snapshot whose newest id is R holds
exactly the changes up to R: a response built from that snapshot stays valid while the newest id
is still R. PostgreSQL commits ids out of order, so there the cache is off and scale-out comes
from more API processes instead.

Checking the newest id costs a query; `PRAGMA data_version` (a few microseconds, on a connection
of our own that never writes) says whether any connection of any process committed since the last
check, so the query only runs after a commit. A hit is then served on the event loop without a
thread or a transaction. Written here rather than taken from a library: the hard part is the
validator, which is ours.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import Response
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from missionctl.events.service import latest_event_id
from missionctl.web.deps import RequestContext

JSON = "application/json"


class SqliteRevisions:
    """The newest event id per tenant, re-read only after some connection committed."""

    def __init__(self, engine: Engine) -> None:
        self._connection: Any = engine.raw_connection()
        self._lock = threading.Lock()
        self._known: dict[uuid.UUID, tuple[int, int]] = {}

    def revision(self, tenant_id: uuid.UUID) -> int:
        """The tenant's newest committed event id."""
        with self._lock:
            cursor = self._connection.cursor()
            try:
                data_version = cursor.execute("PRAGMA data_version").fetchone()[0]
                known = self._known.get(tenant_id)
                if known is not None and known[0] == data_version:
                    return known[1]
                # Same statement as events.service.latest_event_id, on the raw connection (the
                # Uuid type stores 32 hex digits on SQLite).
                row = cursor.execute(
                    "SELECT max(event_id) FROM events WHERE tenant_id = ?", (tenant_id.hex,)
                ).fetchone()
            finally:
                cursor.close()
            revision = int(row[0] or 0)
            self._known[tenant_id] = (data_version, revision)
            return revision

    def close(self) -> None:
        """Give the connection back."""
        self._connection.close()


class ResponseCache:
    """Serialised responses by key, each tagged with the event id it was built at (LRU)."""

    def __init__(self, revisions: SqliteRevisions, max_entries: int = 2048) -> None:
        self.revisions = revisions
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, revision: int) -> bytes | None:
        """The body stored under `key` if it was built at `revision`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != revision:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: Hashable, revision: int, body: bytes) -> None:
        """Store a body built at `revision`, evicting the least recently used beyond the cap."""
        with self._lock:
            current = self._entries.get(key)
            if current is not None and current[0] > revision:
                return  # a newer body is already there
            self._entries[key] = (revision, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def close(self) -> None:
        """Release the revision probe's connection."""
        self.revisions.close()


def _build(ctx: RequestContext, build: Callable[[Session], BaseModel]) -> tuple[int, bytes]:
    with ctx.read() as session:
        revision = latest_event_id(session)
        model = build(session)
    return revision, model.__pydantic_serializer__.to_json(model)


async def cached_json(
    ctx: RequestContext, key: Hashable, build: Callable[[Session], BaseModel]
) -> Response:
    """Serve `build(session)` as JSON, from the cache while the tenant's event log stands still.

    Use from `async def` routes: a hit never leaves the event loop; a miss builds in a thread.
    """
    cache = ctx.app.cache
    full_key = (ctx.tenant_id, key)
    if cache is not None:
        hit = cache.get(full_key, cache.revisions.revision(ctx.tenant_id))
        if hit is not None:
            return Response(hit, media_type=JSON)
    revision, body = await run_in_threadpool(_build, ctx, build)
    if cache is not None:
        cache.put(full_key, revision, body)
    return Response(body, media_type=JSON)
