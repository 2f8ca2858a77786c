"""HTTP routes for agent memory.

An agent key works with its own memories: it saves to its own agent unless it names none, reads
its own plus the shared ones, and never sees another agent's.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from missionctl.errors import Forbidden
from missionctl.memory import service
from missionctl.memory.schemas import Memory, MemoryCreate, MemoryFilter, MemoryHit
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.deps import Ctx

router = APIRouter(prefix="/memories", tags=["memory"])


def _as_agent(ctx: Ctx, agent_id: uuid.UUID | None) -> uuid.UUID | None:
    """The agent an agent key acts for (refusing any other); a person's choice as given."""
    own = ctx.principal.agent_id
    if own is None:
        return agent_id
    if agent_id is not None and agent_id != own:
        raise Forbidden("an agent key can only use its own agent's memories")
    return own


@router.get("", summary="Search or list memories", dependencies=[need(Permission.BOARD_READ)])
def search_memories(ctx: Ctx, query: Annotated[MemoryFilter, Query()]) -> list[MemoryHit]:
    query = query.model_copy(update={"agent_id": _as_agent(ctx, query.agent_id)})
    with ctx.read() as session:
        return service.search_memories(session, query)


@router.post(
    "", status_code=201, summary="Save a memory", dependencies=[need(Permission.MEMORY_WRITE)]
)
def save_memory(ctx: Ctx, data: MemoryCreate) -> Memory:
    if ctx.principal.agent_id is not None and data.agent_id is None:
        data = data.model_copy(update={"agent_id": ctx.principal.agent_id})
    else:
        _as_agent(ctx, data.agent_id)
    with ctx.write() as session:
        return service.save_memory(session, data, actor=ctx.actor)


@router.get("/{memory_id}", summary="Get a memory", dependencies=[need(Permission.BOARD_READ)])
def get_memory(ctx: Ctx, memory_id: uuid.UUID) -> Memory:
    with ctx.read() as session:
        return service.get_memory(session, memory_id, viewer_agent_id=ctx.principal.agent_id)


@router.delete(
    "/{memory_id}",
    status_code=204,
    summary="Forget a memory",
    dependencies=[need(Permission.MEMORY_WRITE)],
)
def delete_memory(ctx: Ctx, memory_id: uuid.UUID) -> Response:
    with ctx.write() as session:
        service.delete_memory(
            session, memory_id, actor=ctx.actor, viewer_agent_id=ctx.principal.agent_id
        )
    return Response(status_code=204)
