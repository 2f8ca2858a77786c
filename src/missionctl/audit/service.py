"""Appending to, reading and verifying the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from missionctl.audit.chain import GENESIS, entry_hash, verify
from missionctl.audit.models import AuditRow
from missionctl.audit.schemas import AuditEntry, AuditFilter, ChainBreak, ChainReport
from missionctl.common import Actor, Page, decode_int_cursor, split_page
from missionctl.db import utcnow

# Appends take this PostgreSQL advisory lock so that the chain has one order; SQLite writers
# are serialised already.
AUDIT_LOCK = 0x6D63_6175  # "mcau"


def record_audit(
    session: Session,
    action: str,
    *,
    actor: Actor | None = None,
    actor_id: str | None = None,
    tenant_id: uuid.UUID | None = None,
    subject_kind: str | None = None,
    subject_id: str | uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an entry in the caller's transaction, chained to the last one."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK})
    last = session.execute(
        select(AuditRow.audit_id, AuditRow.entry_hash).order_by(AuditRow.audit_id.desc()).limit(1)
    ).first()
    who = actor_id or (str(actor.actor_id) if actor and actor.actor_id else None)
    now = utcnow()
    entry: dict[str, Any] = {
        "audit_id": (last[0] + 1) if last else 1,
        "tenant_id": str(tenant_id) if tenant_id else None,
        "actor_kind": actor.kind.value if actor else "system",
        "actor_id": who,
        "action": action,
        "subject_kind": subject_kind,
        "subject_id": str(subject_id) if subject_id is not None else None,
        "details": details or {},
        "created_at": now.isoformat(),
        "prev_hash": last[1] if last else GENESIS,
    }
    session.add(
        AuditRow(
            **{**entry, "tenant_id": tenant_id, "created_at": now},
            entry_hash=entry_hash(entry),
        )
    )
    session.flush()


def _as_chained(row: AuditRow) -> dict[str, Any]:
    return {
        "audit_id": row.audit_id,
        "tenant_id": str(row.tenant_id) if row.tenant_id else None,
        "actor_kind": row.actor_kind,
        "actor_id": row.actor_id,
        "action": row.action,
        "subject_kind": row.subject_kind,
        "subject_id": row.subject_id,
        "details": row.details,
        "created_at": row.created_at.isoformat(),
        "prev_hash": row.prev_hash,
        "entry_hash": row.entry_hash,
    }


def list_audit(
    session: Session, tenant_id: uuid.UUID, audit_filter: AuditFilter
) -> Page[AuditEntry]:
    """The tenant's entries, newest first, by actor, action and time."""
    query = select(AuditRow).where(AuditRow.tenant_id == tenant_id)
    if audit_filter.actor_id:
        query = query.where(AuditRow.actor_id == audit_filter.actor_id)
    if audit_filter.action:
        if audit_filter.action.endswith(".*"):
            query = query.where(
                AuditRow.action.startswith(audit_filter.action[:-1], autoescape=True)
            )
        else:
            query = query.where(AuditRow.action == audit_filter.action)
    if audit_filter.since:
        query = query.where(AuditRow.created_at >= audit_filter.since)
    if audit_filter.until:
        query = query.where(AuditRow.created_at < audit_filter.until)
    if audit_filter.cursor:
        query = query.where(AuditRow.audit_id < decode_int_cursor(audit_filter.cursor))
    rows = list(
        session.scalars(query.order_by(AuditRow.audit_id.desc()).limit(audit_filter.limit + 1))
    )
    page, next_cursor = split_page(rows, audit_filter.limit, lambda row: row.audit_id)
    return Page[AuditEntry](
        items=[AuditEntry.model_validate(row) for row in page], next_cursor=next_cursor
    )


def verify_chain(session: Session) -> ChainReport:
    """Check every entry of the chain, in order (streamed); report the first break."""
    count = 0
    result = session.execute(
        select(AuditRow).order_by(AuditRow.audit_id).execution_options(yield_per=1000)
    ).scalars()

    def entries() -> Iterator[dict[str, Any]]:
        nonlocal count
        for row in result:
            count += 1
            yield _as_chained(row)

    try:
        found = verify(entries())
    finally:
        result.close()  # verification may stop early; free the server-side cursor now
    return ChainReport(
        entries=count,
        intact=found is None,
        first_break=ChainBreak(audit_id=found.audit_id, reason=found.reason) if found else None,
        checked_at=utcnow(),
    )
