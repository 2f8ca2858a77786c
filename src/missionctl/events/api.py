"""HTTP routes for the activity feed (the event log)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from anyio import ClosedResourceError
from fastapi import APIRouter, Header, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import Field

from missionctl.common import MAX_DB_BIGINT, Page, PageLimit, QueryModel
from missionctl.errors import InvalidInput
from missionctl.events import service
from missionctl.events.schemas import Event, EventFilter, Order
from missionctl.events.stream import (
    Overflow,
    Ping,
    StreamEvent,
    StreamRequest,
    Subscriber,
    follow,
    subscriber_for,
)
from missionctl.permissions import Permission, hidden_event_prefixes
from missionctl.web.auth import need, need_stream
from missionctl.web.deps import Ctx, RequestContext, get_context

router = APIRouter(prefix="/activities", tags=["activities"])


class ActivityQuery(QueryModel):
    """Filters of the activity feed."""

    event_type: str | None = Field(
        default=None, max_length=64, description="Exact type, or a prefix like `task.*`."
    )
    after: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DB_BIGINT,
        description="Only events with a larger id (resume from here).",
    )
    order: Order = Field(default=Order.NEWEST_FIRST, description="`desc` (default) or `asc`.")
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


def _page(
    ctx: Ctx,
    query: ActivityQuery,
    *,
    task_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
) -> Page[Event]:
    event_filter = EventFilter(
        task_id=task_id,
        agent_id=agent_id,
        hidden_prefixes=hidden_event_prefixes(ctx.principal.role),
        **query.model_dump(),
    )
    with ctx.read() as session:
        return service.list_events(session, event_filter)


@router.get("", summary="The activity feed", dependencies=[need(Permission.BOARD_READ)])
def list_activities(ctx: Ctx, query: Annotated[ActivityQuery, Query()]) -> Page[Event]:
    return _page(ctx, query)


@router.get(
    "/agent/{agent_id}", summary="One agent's activity", dependencies=[need(Permission.BOARD_READ)]
)
def agent_activities(
    ctx: Ctx, agent_id: uuid.UUID, query: Annotated[ActivityQuery, Query()]
) -> Page[Event]:
    return _page(ctx, query, agent_id=agent_id)


@router.get(
    "/task/{task_id}", summary="One task's activity", dependencies=[need(Permission.BOARD_READ)]
)
def task_activities(
    ctx: Ctx, task_id: uuid.UUID, query: Annotated[ActivityQuery, Query()]
) -> Page[Event]:
    return _page(ctx, query, task_id=task_id)


streams = APIRouter(tags=["activities"])
LAST_EVENT_ID = re.compile(r"^\d{1,18}$")


class StreamQuery(QueryModel):
    """Where a live stream starts and what it carries."""

    after: int | None = Field(
        default=None,
        ge=0,
        le=MAX_DB_BIGINT,
        description="Resume after this event id (SSE: `Last-Event-ID` wins); omitted: only "
        "events from now on.",
    )
    types: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^[A-Za-z0-9_.*]+(,[A-Za-z0-9_.*]+)*$",
        description="Comma-separated event types, exact or as prefixes like `task.*`.",
    )
    access_token: str | None = Field(
        default=None,
        max_length=4096,
        description="The bearer token, for clients that cannot set headers (browsers' "
        "EventSource and WebSocket).",
    )


def _stream_request(ctx: RequestContext, query: StreamQuery, after: int | None) -> StreamRequest:
    return StreamRequest(
        tenant_id=ctx.tenant_id,
        role=ctx.principal.role,
        after=after,
        patterns=tuple(query.types.split(",")) if query.types else (),
        max_queue=ctx.app.settings.stream_queue_size,
    )


def _sse(item: StreamEvent | Ping | Overflow) -> str:
    if isinstance(item, StreamEvent):
        return f"id: {item.event_id}\nevent: {item.event_type}\ndata: {item.json}\n\n"
    if isinstance(item, Ping):
        return ": ping\n\n"
    return f"event: overflow\ndata: {json.dumps({'resume_after': item.resume_after})}\n\n"


@streams.get(
    "/events/stream",
    summary="Live events (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An endless stream."}},
    dependencies=[need_stream(Permission.BOARD_READ)],
    openapi_extra={"security": [{"HTTPBearer": []}]},
)
async def stream_events(
    ctx: Ctx,
    query: Annotated[StreamQuery, Query()],
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=20,
            description="Sent by EventSource when it reconnects: resume after this id.",
        ),
    ] = None,
) -> StreamingResponse:
    """Each event as `id`, `event` (its type) and `data` (the event as JSON); `: ping` comments
    keep the connection open; an `overflow` event asks a slow client to reconnect."""
    after = query.after
    if last_event_id is not None:
        if not LAST_EVENT_ID.match(last_event_id):
            raise InvalidInput("Last-Event-ID must be an event id", field="Last-Event-ID")
        after = int(last_event_id)
    request = _stream_request(ctx, query, after)

    async def body() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        async for item in follow(ctx.app.tail, request):
            yield _sse(item)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _ws(item: StreamEvent | Ping | Overflow) -> str:
    if isinstance(item, StreamEvent):
        return f'{{"kind":"event","event":{item.json}}}'
    if isinstance(item, Ping):
        return json.dumps({"kind": "ping", "position": item.position})
    return json.dumps({"kind": "overflow", "resume_after": item.resume_after})


SLOW_CONSUMER = 4008  # an application close code: reconnect and resume
SERVER_RESTART = 1012  # RFC 6455 "service restart"


@streams.websocket("/ws/events", dependencies=[need_stream(Permission.BOARD_READ)])
async def websocket_events(websocket: WebSocket, query: Annotated[StreamQuery, Query()]) -> None:
    """Messages are JSON: `{"kind": "event", "event": {…}}`, `{"kind": "ping", "position": id}`
    (resume after `position` if you reconnect now), and `{"kind": "overflow", "resume_after":
    id}` before the server closes a slow consumer with code 4008. A server shutting down closes
    with 1012: reconnect (to any API process) and resume."""
    ctx = await get_context(websocket)
    request = _stream_request(ctx, query, query.after)
    subscriber = subscriber_for(request)
    await websocket.accept()
    # The client never sends; this task hears it leave (or the server shut the connection) and
    # ends the stream at once instead of at its next send.
    watcher = asyncio.create_task(_close_when_gone(websocket, subscriber))
    try:
        async for item in follow(ctx.app.tail, request, subscriber):
            await websocket.send_text(_ws(item))
            if isinstance(item, Overflow):
                await websocket.close(code=SLOW_CONSUMER, reason="too far behind; resume")
                return
        if not watcher.done():  # the server is shutting down
            await websocket.close(code=SERVER_RESTART, reason="server shutting down; resume")
    except (WebSocketDisconnect, ClosedResourceError, RuntimeError):
        return  # the client left mid-send (RuntimeError: Starlette's "already closed")
    finally:
        watcher.cancel()


async def _close_when_gone(websocket: WebSocket, subscriber: Subscriber) -> None:
    """Wait for the client's close (or a message, which this stream does not take) and end."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    subscriber.close()
