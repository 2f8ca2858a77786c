"""HTTP routes for agents."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from missionctl.agents import service
from missionctl.agents.schemas import Agent, AgentCreate, AgentFilter, AgentUpdate
from missionctl.common import Page
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.deps import Ctx

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", summary="List agents", dependencies=[need(Permission.BOARD_READ)])
def list_agents(ctx: Ctx, query: Annotated[AgentFilter, Query()]) -> Page[Agent]:
    with ctx.read() as session:
        return service.list_agents(session, query)


@router.post(
    "", status_code=201, summary="Create an agent", dependencies=[need(Permission.AGENTS_WRITE)]
)
def create_agent(ctx: Ctx, data: AgentCreate) -> Agent:
    with ctx.write() as session:
        return service.create_agent(session, data, actor=ctx.actor, quotas=ctx.app.quotas)


@router.get("/{agent_id}", summary="Get an agent", dependencies=[need(Permission.BOARD_READ)])
def get_agent(ctx: Ctx, agent_id: uuid.UUID) -> Agent:
    with ctx.read() as session:
        return service.get_agent(session, agent_id)


@router.put("/{agent_id}", summary="Update an agent", dependencies=[need(Permission.AGENTS_WRITE)])
@router.patch(
    "/{agent_id}",
    summary="Update an agent (same as PUT)",
    dependencies=[need(Permission.AGENTS_WRITE)],
)
def update_agent(ctx: Ctx, agent_id: uuid.UUID, data: AgentUpdate) -> Agent:
    with ctx.write() as session:
        return service.update_agent(session, agent_id, data, actor=ctx.actor)


@router.delete(
    "/{agent_id}",
    status_code=204,
    summary="Delete an agent",
    dependencies=[need(Permission.AGENTS_WRITE)],
)
def delete_agent(ctx: Ctx, agent_id: uuid.UUID) -> Response:
    with ctx.write() as session:
        service.delete_agent(session, agent_id, actor=ctx.actor)
    return Response(status_code=204)
