"""HTTP routes for WORKING.md and agent heartbeats."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import PlainTextResponse

from missionctl.common import MAX_DB_INT
from missionctl.db import DEFAULT_TENANT_ID
from missionctl.errors import Forbidden
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.deps import Ctx, IfMatch, RequestContext
from missionctl.workspace import service
from missionctl.workspace.schemas import (
    HeartbeatRequest,
    HeartbeatResponse,
    WorkingMd,
    WorkingNotesUpdate,
    WorkingNotesVersion,
)

router = APIRouter(tags=["workspace"])
VersionNumber = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="Version number.")]

WORKING_MD_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "JSON by default; the raw file with `Accept: text/markdown`.",
        "content": {"text/markdown": {}},
    }
}


def _mirror(ctx: RequestContext, working_md: WorkingMd) -> None:
    path = service.mirror_path(
        ctx.app.settings.data_dir, ctx.tenant_slug, is_default=ctx.tenant_id == DEFAULT_TENANT_ID
    )
    service.write_mirror(path, working_md.content)


def _respond(request: Request, response: Response, working_md: WorkingMd) -> WorkingMd | Response:
    etag = f'"{working_md.notes_version}"'
    if "text/markdown" in request.headers.get("accept", ""):
        return PlainTextResponse(
            working_md.content, media_type="text/markdown; charset=utf-8", headers={"ETag": etag}
        )
    response.headers["ETag"] = etag
    return working_md


@router.get(
    "/state/working-md",
    summary="Render WORKING.md",
    dependencies=[need(Permission.BOARD_READ)],
    response_model=WorkingMd,
    responses=WORKING_MD_RESPONSES,
)
def get_working_md(ctx: Ctx, request: Request, response: Response) -> WorkingMd | Response:
    with ctx.read() as session:
        working_md = service.render_working_md(session)
    _mirror(ctx, working_md)
    return _respond(request, response, working_md)


@router.put(
    "/state/working-md",
    summary="Replace the notes section of WORKING.md",
    dependencies=[need(Permission.WORKING_MD_WRITE)],
    response_model=WorkingMd,
    responses={
        **WORKING_MD_RESPONSES,
        409: {"description": "The notes changed since the version you sent."},
        428: {"description": "No version sent (If-Match or expected_version)."},
    },
)
def put_working_md(
    ctx: Ctx, request: Request, response: Response, data: WorkingNotesUpdate, if_match: IfMatch
) -> WorkingMd | Response:
    with ctx.write() as session:
        working_md = service.update_notes(session, data, actor=ctx.actor, if_match=if_match)
    _mirror(ctx, working_md)
    return _respond(request, response, working_md)


@router.get(
    "/state/working-md/versions",
    summary="List the notes' versions",
    dependencies=[need(Permission.BOARD_READ)],
)
def list_note_versions(ctx: Ctx) -> list[WorkingNotesVersion]:
    with ctx.read() as session:
        return service.list_note_versions(session)


@router.get(
    "/state/working-md/versions/{version}",
    summary="Get one version of the notes",
    dependencies=[need(Permission.BOARD_READ)],
)
def get_note_version(ctx: Ctx, version: VersionNumber) -> WorkingNotesVersion:
    with ctx.read() as session:
        return service.get_note_version(session, version)


@router.post(
    "/agents/{agent_id}/heartbeat",
    tags=["agents"],
    summary="Record a heartbeat",
    dependencies=[need(Permission.AGENTS_HEARTBEAT)],
)
def heartbeat(
    ctx: Ctx, agent_id: uuid.UUID, data: HeartbeatRequest | None = None
) -> HeartbeatResponse:
    if ctx.principal.agent_id is not None and ctx.principal.agent_id != agent_id:
        raise Forbidden("an agent key can only send its own agent's heartbeat")
    with ctx.write() as session:
        return service.heartbeat(session, agent_id, data or HeartbeatRequest())
