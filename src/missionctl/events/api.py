"""HTTP routes for the activity feed (the event log)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from missionctl.common import MAX_DB_BIGINT, Page, PageLimit, QueryModel
from missionctl.events import service
from missionctl.events.schemas import Event, EventFilter, Order
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.deps import Ctx

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
    event_filter = EventFilter(task_id=task_id, agent_id=agent_id, **query.model_dump())
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
