"""Versioned markdown documents."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, or_, select
from sqlalchemy.orm import Session

from missionctl.agents.service import require_agents
from missionctl.board.service import get_task
from missionctl.common import Actor, Page, decode_uuid_cursor, split_page
from missionctl.db import core_execute, utcnow
from missionctl.documents.models import DocumentRow, DocumentVersionRow
from missionctl.documents.schemas import (
    Document,
    DocumentCreate,
    DocumentFilter,
    DocumentSummary,
    DocumentUpdate,
    DocumentVersion,
)
from missionctl.errors import NotFound, VersionConflict
from missionctl.events.service import record_event


def _row(session: Session, document_id: uuid.UUID, *, for_update: bool = False) -> DocumentRow:
    query = select(DocumentRow).where(DocumentRow.document_id == document_id)
    row = session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound("document", document_id)
    return row


def _author(session: Session, actor: Actor, agent_id: uuid.UUID | None) -> Actor:
    if agent_id is None:
        return actor
    require_agents(session, [agent_id])
    return Actor.agent(agent_id)


def _snapshot(row: DocumentRow) -> DocumentVersionRow:
    return DocumentVersionRow(
        document_id=row.document_id,
        version=row.version,
        title=row.title,
        content=row.content,
        doc_type=row.doc_type,
        author_kind=row.author_kind,
        author_agent_id=row.author_agent_id,
        author_user_id=row.author_user_id,
        created_at=row.updated_at,
    )


def create_document(session: Session, data: DocumentCreate, *, actor: Actor) -> Document:
    """Create a document at version 1."""
    actor = _author(session, actor, data.author_agent_id)
    if data.task_id is not None:
        get_task(session, data.task_id)
    now = utcnow()
    row = DocumentRow(
        title=data.title,
        content=data.content,
        doc_type=data.doc_type.value,
        task_id=data.task_id,
        author_kind=actor.kind.value,
        author_agent_id=actor.agent_id,
        author_user_id=actor.user_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    session.add(_snapshot(row))
    record_event(
        session,
        "document.created",
        actor=actor,
        subject_kind="document",
        subject_id=row.document_id,
        task_id=row.task_id,
        agent_id=actor.agent_id,
        summary=f"Document {row.title!r} created",
        payload={"title": row.title, "doc_type": row.doc_type, "version": 1},
    )
    session.flush()
    return Document.model_validate(row)


def get_document(session: Session, document_id: uuid.UUID) -> Document:
    """The document at its latest version, or `NotFound`."""
    return Document.model_validate(_row(session, document_id))


def documents_of(
    session: Session, task_ids: list[uuid.UUID], *, limit: int = 20
) -> dict[uuid.UUID, list[Document]]:
    """Each task's documents in full, newest first, at most `limit` a task (one query)."""
    found: dict[uuid.UUID, list[Document]] = {task_id: [] for task_id in task_ids}
    if not task_ids:
        return found
    query = (
        select(DocumentRow)
        .where(DocumentRow.task_id.in_(task_ids))
        .order_by(DocumentRow.document_id.desc())
    )
    for row in session.scalars(query):
        documents = found.get(row.task_id) if row.task_id else None
        if documents is not None and len(documents) < limit:
            documents.append(Document.model_validate(row))
    return found


def list_documents(session: Session, document_filter: DocumentFilter) -> Page[DocumentSummary]:
    """Documents, newest first, by task, type or text in title and body."""
    query = select(DocumentRow)
    if document_filter.task_id is not None:
        query = query.where(DocumentRow.task_id == document_filter.task_id)
    if document_filter.doc_type is not None:
        query = query.where(DocumentRow.doc_type == document_filter.doc_type.value)
    if document_filter.text:
        query = query.where(
            or_(
                DocumentRow.title.icontains(document_filter.text, autoescape=True),
                DocumentRow.content.icontains(document_filter.text, autoescape=True),
            )
        )
    if document_filter.cursor:
        query = query.where(DocumentRow.document_id < decode_uuid_cursor(document_filter.cursor))
    limit = document_filter.limit
    rows = list(session.scalars(query.order_by(DocumentRow.document_id.desc()).limit(limit + 1)))
    page, next_cursor = split_page(rows, limit, lambda row: row.document_id)
    items = [DocumentSummary.model_validate(row) for row in page]
    return Page[DocumentSummary](items=items, next_cursor=next_cursor)


def document_titles(
    session: Session, task_id: uuid.UUID, limit: int
) -> list[tuple[uuid.UUID, str, int]]:
    """A task's newest `limit` documents as (document id, title, version): what a turn's
    context names (their bodies are read with the tool when wanted)."""
    rows = core_execute(session, _TITLES, {"task_id": task_id, "limit": limit})
    return [(row[0], row[1], row[2]) for row in rows]


_TITLES = (
    select(DocumentRow.document_id, DocumentRow.title, DocumentRow.version)
    .where(
        DocumentRow.task_id == bindparam("task_id"),
        DocumentRow.tenant_id == bindparam("tenant_id"),
    )
    .order_by(DocumentRow.document_id.desc())
    .limit(bindparam("limit"))
)


def update_document(
    session: Session,
    document_id: uuid.UUID,
    data: DocumentUpdate,
    *,
    actor: Actor,
    expected_version: int | None = None,
) -> Document:
    """Save a new version; the previous one stays readable. Optional optimistic check."""
    row = _row(session, document_id, for_update=True)
    expected = expected_version if expected_version is not None else data.expected_version
    if expected is not None and expected != row.version:
        raise VersionConflict("document", expected, row.version)
    actor = _author(session, actor, data.author_agent_id)
    changes = data.model_dump(
        exclude_unset=True, exclude_none=True, exclude={"author_agent_id", "expected_version"}
    )
    if "task_id" in changes:
        get_task(session, changes["task_id"])
    changed = sorted(
        key
        for key, value in changes.items()
        if getattr(row, key) != (value.value if hasattr(value, "value") else value)
    )
    if not changed:
        return Document.model_validate(row)
    for key in changed:
        value = changes[key]
        setattr(row, key, value.value if hasattr(value, "value") else value)
    row.version += 1
    row.author_kind = actor.kind.value
    row.author_agent_id = actor.agent_id
    row.author_user_id = actor.user_id
    row.updated_at = utcnow()
    session.flush()
    session.add(_snapshot(row))
    record_event(
        session,
        "document.updated",
        actor=actor,
        subject_kind="document",
        subject_id=document_id,
        task_id=row.task_id,
        agent_id=actor.agent_id,
        summary=f"Document {row.title!r} is now at version {row.version}",
        payload={"title": row.title, "version": row.version, "changed": changed},
    )
    session.flush()
    return Document.model_validate(row)


def delete_document(session: Session, document_id: uuid.UUID, *, actor: Actor) -> None:
    """Delete a document and all its versions."""
    row = _row(session, document_id)
    title, task_id = row.title, row.task_id
    session.execute(delete(DocumentVersionRow).where(DocumentVersionRow.document_id == document_id))
    session.delete(row)
    session.flush()
    record_event(
        session,
        "document.deleted",
        actor=actor,
        subject_kind="document",
        subject_id=document_id,
        task_id=task_id,
        summary=f"Document {title!r} deleted",
        payload={"title": title},
    )


def list_versions(session: Session, document_id: uuid.UUID) -> list[DocumentVersion]:
    """Every version of a document, newest first."""
    _row(session, document_id)
    rows = session.scalars(
        select(DocumentVersionRow)
        .where(DocumentVersionRow.document_id == document_id)
        .order_by(DocumentVersionRow.version.desc())
    )
    return [DocumentVersion.model_validate(row) for row in rows]


def get_version(session: Session, document_id: uuid.UUID, version: int) -> DocumentVersion:
    """One version of a document, or `NotFound`."""
    row = session.scalar(
        select(DocumentVersionRow).where(
            DocumentVersionRow.document_id == document_id, DocumentVersionRow.version == version
        )
    )
    if row is None:
        raise NotFound("document version", f"{document_id}@{version}")
    return DocumentVersion.model_validate(row)
