"""HTTP routes for documents and their versions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from missionctl.common import MAX_DB_INT, Page
from missionctl.documents import service
from missionctl.documents.schemas import (
    Document,
    DocumentCreate,
    DocumentFilter,
    DocumentSummary,
    DocumentUpdate,
    DocumentVersion,
)
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.deps import Ctx, IfMatch

router = APIRouter(prefix="/documents", tags=["documents"])
VersionNumber = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="Version number.")]


def _with_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.get("", summary="List or search documents", dependencies=[need(Permission.BOARD_READ)])
def list_documents(ctx: Ctx, query: Annotated[DocumentFilter, Query()]) -> Page[DocumentSummary]:
    with ctx.read() as session:
        return service.list_documents(session, query)


@router.post(
    "",
    status_code=201,
    summary="Create a document",
    dependencies=[need(Permission.DOCUMENTS_WRITE)],
)
def create_document(ctx: Ctx, data: DocumentCreate, response: Response) -> Document:
    with ctx.write() as session:
        document = service.create_document(session, data, actor=ctx.actor)
    _with_etag(response, document.version)
    return document


@router.get(
    "/{document_id}",
    summary="Get a document at its latest version",
    dependencies=[need(Permission.BOARD_READ)],
)
def get_document(ctx: Ctx, document_id: uuid.UUID, response: Response) -> Document:
    with ctx.read() as session:
        document = service.get_document(session, document_id)
    _with_etag(response, document.version)
    return document


@router.put(
    "/{document_id}",
    summary="Save a new version of a document",
    dependencies=[need(Permission.DOCUMENTS_WRITE)],
    responses={409: {"description": "The document moved on since the version you sent."}},
)
def update_document(
    ctx: Ctx,
    document_id: uuid.UUID,
    data: DocumentUpdate,
    response: Response,
    if_match: IfMatch,
) -> Document:
    with ctx.write() as session:
        document = service.update_document(
            session, document_id, data, actor=ctx.actor, expected_version=if_match
        )
    _with_etag(response, document.version)
    return document


@router.delete(
    "/{document_id}",
    status_code=204,
    summary="Delete a document",
    dependencies=[need(Permission.DOCUMENTS_WRITE)],
)
def delete_document(ctx: Ctx, document_id: uuid.UUID) -> Response:
    with ctx.write() as session:
        service.delete_document(session, document_id, actor=ctx.actor)
    return Response(status_code=204)


@router.get(
    "/{document_id}/versions",
    summary="List a document's versions",
    dependencies=[need(Permission.BOARD_READ)],
)
def list_versions(ctx: Ctx, document_id: uuid.UUID) -> list[DocumentVersion]:
    with ctx.read() as session:
        return service.list_versions(session, document_id)


@router.get(
    "/{document_id}/versions/{version}",
    summary="Get one version of a document",
    dependencies=[need(Permission.BOARD_READ)],
)
def get_version(ctx: Ctx, document_id: uuid.UUID, version: VersionNumber) -> DocumentVersion:
    with ctx.read() as session:
        return service.get_version(session, document_id, version)
