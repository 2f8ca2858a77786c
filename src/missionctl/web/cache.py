"""A response cache for hot reads, validated by the tenant's event log.

Every change appends an event in its own transaction (DESIGN: the event log), so the newest
`event_id` of a tenant is a version number for everything the tenant can read. On SQLite, writers
are serialised (BEGIN IMMEDIATE), so ids commit in order and a snapshot whose newest id is R holds
exactly the changes up to R: a response built from that snapshot stays valid while the newest id
is still R. PostgreSQL commits ids out of order, so there the cache is off and scale-out comes
from more API processes instead.

Checking the newest id costs a query; `PRAGMA data_version` (a few microseconds, on a connection
of our own that never writes) says whether any connection of any process committed since the last
check, so the query only runs after a commit. A hit is then served by `CachedReads` before routing,
without a thread, a transaction or FastAPI's request handling. Written here rather than taken
from a library: the hard part is the validator, which is ours.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from missionctl.events.service import latest_event_id
from missionctl.permissions import Permission, allowed
from missionctl.web.auth import principal_from_jwt, principal_key
from missionctl.web.deps import AppState, RequestContext
from missionctl.web.ratelimit import RouteClass

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
        self._entries: OrderedDict[Hashable, tuple[int, bytes, Permission]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, revision: int) -> tuple[bytes, Permission] | None:
        """The body stored under `key`, and the permission it needs, if built at `revision`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != revision:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1], entry[2]

    def put(self, key: Hashable, revision: int, body: bytes, permission: Permission) -> None:
        """Store a body built at `revision`, evicting the least recently used beyond the cap."""
        with self._lock:
            current = self._entries.get(key)
            if current is not None and current[0] > revision:
                return  # a newer body is already there
            self._entries[key] = (revision, body, permission)
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


def request_key(tenant_id: uuid.UUID, scope: Scope) -> Hashable:
    """What identifies a cached response: tenant, path and the raw query string."""
    return (tenant_id, scope["path"], scope["query_string"])


async def cached_json(
    ctx: RequestContext,
    request: Request,
    permission: Permission,
    build: Callable[[Session], BaseModel],
) -> Response:
    """Serve `build(session)` as JSON, from the cache while the tenant's event log stands still.

    Use from `async def` routes: a hit never leaves the event loop; a miss builds in a thread.
    Usually `CachedReads` answers hits before routing; this path serves the rest.
    `permission` is the route's own: a hit served before routing is checked against it.
    """
    cache = ctx.app.cache
    full_key = request_key(ctx.tenant_id, request.scope)
    if cache is not None:
        hit = cache.get(full_key, cache.revisions.revision(ctx.tenant_id))
        if hit is not None:
            return Response(hit[0], media_type=JSON)
    revision, body = await run_in_threadpool(_build, ctx, build)
    if cache is not None:
        cache.put(full_key, revision, body, permission)
    return Response(body, media_type=JSON)


class CachedReads:
    """ASGI middleware answering a GET from the cache before routing and validation.

    Safe because only responses of validated, successful requests are stored, under the exact
    tenant, path and query string: a hit is a request that was answered before, at the current
    revision. The caller must still prove who it is: only a valid access token (checked without
    the database) in its own tenant, with a role that holds the entry's permission, is served
    here; everything else (API keys, `X-Tenant`, no credentials) takes the normal path.
    """

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache = self.state.cache
        if cache is not None and scope["type"] == "http" and scope["method"] == "GET":
            body = self._hit(cache, scope)
            if body is not None:
                headers = [(b"content-type", JSON.encode()), (b"content-length", b"%d" % len(body))]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _hit(self, cache: ResponseCache, scope: Scope) -> bytes | None:
        headers = dict(scope["headers"])
        if b"x-tenant" in headers:
            return None
        scheme, _, credential = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not credential:
            return None
        principal = principal_from_jwt(self.state, credential.strip())
        if principal is None:
            return None
        hit = cache.get(
            request_key(principal.tenant_id, scope),
            cache.revisions.revision(principal.tenant_id),
        )
        if hit is None or not allowed(principal.role, hit[1]):
            return None
        verdict = self.state.limiter.check(RouteClass.READ, principal_key(principal))
        if not verdict.allowed:
            return None  # the normal path counts again and answers 429
        scope.setdefault("state", {})["ratelimit"] = verdict
        return hit[0]
