"""Document schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from missionctl.common import ActorKind, PageLimit, QueryModel, Schema

MAX_CONTENT = 500_000


class DocumentType(StrEnum):
    """What a document is."""

    DELIVERABLE = "deliverable"
    RESEARCH = "research"
    PROTOCOL = "protocol"


class DocumentCreate(Schema):
    """A new markdown document."""

    title: str = Field(min_length=1, max_length=200, description="Title.")
    content: str = Field(default="", max_length=MAX_CONTENT, description="Markdown body.")
    doc_type: DocumentType = Field(
        default=DocumentType.DELIVERABLE, description="deliverable, research or protocol."
    )
    task_id: uuid.UUID | None = Field(default=None, description="The task it belongs to.")
    author_agent_id: uuid.UUID | None = Field(
        default=None, description="The writing agent, when an agent writes."
    )


class DocumentUpdate(Schema):
    """A new version of a document; omitted fields keep their value."""

    title: str | None = Field(default=None, min_length=1, max_length=200, description="Title.")
    content: str | None = Field(default=None, max_length=MAX_CONTENT, description="Markdown.")
    doc_type: DocumentType | None = Field(default=None, description="Kind of document.")
    task_id: uuid.UUID | None = Field(default=None, description="Move it to another task.")
    author_agent_id: uuid.UUID | None = Field(
        default=None, description="The writing agent, when an agent writes."
    )
    expected_version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="Save only if the document is still at this version (else 409); "
        "the `If-Match` header does the same.",
    )


class Document(BaseModel):
    """A document at its latest version."""

    model_config = ConfigDict(from_attributes=True)

    document_id: uuid.UUID = Field(description="The document's id.")
    title: str = Field(description="Title.")
    content: str = Field(description="Markdown body.")
    doc_type: DocumentType = Field(description="Kind of document.")
    task_id: uuid.UUID | None = Field(description="The task it belongs to.")
    author_kind: ActorKind = Field(description="Who wrote the latest version.")
    author_agent_id: uuid.UUID | None = Field(description="Writing agent, if an agent.")
    author_user_id: uuid.UUID | None = Field(description="Writing user, if known.")
    version: int = Field(description="Current version, from 1.")
    created_at: datetime = Field(description="Creation time (UTC).")
    updated_at: datetime = Field(description="Time of the latest version (UTC).")


class DocumentSummary(BaseModel):
    """A document in a list (without its body)."""

    model_config = ConfigDict(from_attributes=True)

    document_id: uuid.UUID = Field(description="The document's id.")
    title: str = Field(description="Title.")
    doc_type: DocumentType = Field(description="Kind of document.")
    task_id: uuid.UUID | None = Field(description="The task it belongs to.")
    author_kind: ActorKind = Field(description="Who wrote the latest version.")
    author_agent_id: uuid.UUID | None = Field(description="Writing agent, if an agent.")
    version: int = Field(description="Current version.")
    updated_at: datetime = Field(description="Time of the latest version (UTC).")


class DocumentVersion(BaseModel):
    """One saved version of a document."""

    model_config = ConfigDict(from_attributes=True)

    document_id: uuid.UUID = Field(description="The document.")
    version: int = Field(description="Version number, from 1.")
    title: str = Field(description="Title at that version.")
    content: str = Field(description="Body at that version.")
    doc_type: DocumentType = Field(description="Kind at that version.")
    author_kind: ActorKind = Field(description="Who wrote it.")
    author_agent_id: uuid.UUID | None = Field(description="Writing agent, if an agent.")
    author_user_id: uuid.UUID | None = Field(description="Writing user, if known.")
    created_at: datetime = Field(description="When it was saved (UTC).")


class DocumentFilter(QueryModel):
    """Which documents to list (most recently created first)."""

    task_id: uuid.UUID | None = Field(default=None, description="Only this task's documents.")
    doc_type: DocumentType | None = Field(default=None, description="Only this kind.")
    text: str | None = Field(default=None, max_length=200, description="Text in the title or body.")
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")
