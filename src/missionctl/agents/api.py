"""HTTP routes for agents."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from missionctl.agents import service
from missionctl.agents.schemas import (
    Agent,
    AgentCreate,
    AgentFilter,
    AgentRollback,
    AgentUpdate,
    AgentVersion,
    AgentVersionDiff,
)
from missionctl.common import MAX_DB_INT, Page
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.deps import Ctx

router = APIRouter(prefix="/agents", tags=["agents"])
VersionNumber = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="Version number.")]
FromVersion = Annotated[
    int, Query(alias="from", ge=1, le=MAX_DB_INT, description="The version to compare from.")
]
ToVersion = Annotated[
    int, Query(alias="to", ge=1, le=MAX_DB_INT, description="The version to compare to.")
]


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


@router.get(
    "/{agent_id}/versions",
    summary="List an agent's definition versions, newest first",
    dependencies=[need(Permission.BOARD_READ)],
)
def list_agent_versions(ctx: Ctx, agent_id: uuid.UUID) -> list[AgentVersion]:
    with ctx.read() as session:
        return service.list_agent_versions(session, agent_id)


@router.get(
    "/{agent_id}/versions/{version}",
    summary="Get one definition version of an agent",
    dependencies=[need(Permission.BOARD_READ)],
)
def get_agent_version(ctx: Ctx, agent_id: uuid.UUID, version: VersionNumber) -> AgentVersion:
    with ctx.read() as session:
        return service.get_agent_version(session, agent_id, version)


@router.get(
    "/{agent_id}/diff",
    summary="Compare two definition versions of an agent",
    dependencies=[need(Permission.BOARD_READ)],
)
def diff_agent_versions(
    ctx: Ctx, agent_id: uuid.UUID, from_version: FromVersion, to_version: ToVersion
) -> AgentVersionDiff:
    with ctx.read() as session:
        return service.diff_agent_versions(session, agent_id, from_version, to_version)


@router.post(
    "/{agent_id}/rollback",
    summary="Bring back an earlier definition as a new version",
    dependencies=[need(Permission.AGENTS_WRITE)],
)
def rollback_agent(ctx: Ctx, agent_id: uuid.UUID, data: AgentRollback) -> Agent:
    with ctx.write() as session:
        return service.rollback_agent(session, agent_id, data.version, actor=ctx.actor)
