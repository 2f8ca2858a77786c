"""Audit schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from missionctl.common import PageLimit, QueryModel, StoredUTC, UTCDatetime


class AuditFormat(StrEnum):
    """How to export the trail."""

    JSON = "json"
    CSV = "csv"


class AuditEntry(BaseModel):
    """One audited action."""

    model_config = ConfigDict(from_attributes=True)

    audit_id: int = Field(description="Position in the chain, from 1.")
    tenant_id: uuid.UUID | None = Field(description="The tenant concerned, if any.")
    actor_kind: str = Field(description="user, agent, api_key or system.")
    actor_id: str | None = Field(description="Who acted (user or key id, or an e-mail).")
    action: str = Field(description="What happened, e.g. `auth.login_failed`.")
    subject_kind: str | None = Field(description="Kind of object acted on.")
    subject_id: str | None = Field(description="The object acted on.")
    details: dict[str, Any] = Field(description="Action details.")
    created_at: StoredUTC = Field(description="When (UTC).")
    prev_hash: str = Field(description="Hash of the entry before (64 zeros for the first).")
    entry_hash: str = Field(description="SHA-256 over this entry's canonical form.")


class AuditFilter(QueryModel):
    """Which audit entries to list (newest first)."""

    actor_id: str | None = Field(default=None, max_length=320, description="Only this actor.")
    action: str | None = Field(
        default=None, max_length=64, description="Exact action, or a prefix like `auth.*`."
    )
    since: UTCDatetime | None = Field(default=None, description="Only entries at or after.")
    until: UTCDatetime | None = Field(default=None, description="Only entries before.")
    format: AuditFormat = Field(default=AuditFormat.JSON, description="`json` or `csv`.")
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


class ChainBreak(BaseModel):
    """Where the chain is broken."""

    audit_id: int = Field(description="The first entry that fails verification.")
    reason: str = Field(description="What is wrong with it.")


class ChainReport(BaseModel):
    """The result of verifying the whole chain."""

    entries: int = Field(description="Entries checked.")
    intact: bool = Field(description="True when every entry verifies.")
    first_break: ChainBreak | None = Field(description="The first bad entry, if any.")
    checked_at: datetime = Field(description="When (UTC).")
