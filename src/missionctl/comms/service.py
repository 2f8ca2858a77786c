"""Task threads, @mentions and notifications."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from missionctl.agents.service import (
    agent_exists,
    agents_by_name,
    all_agents,
    get_agent,
    require_agents,
)
from missionctl.board.service import get_task
from missionctl.common import Actor, ActorKind, Page, Quotas, decode_uuid_cursor, split_page
from missionctl.comms.models import AttachmentRow, MessageRow, NotificationRow
from missionctl.comms.schemas import (
    Attachment,
    MarkAllRead,
    Message,
    MessageCreate,
    MessageFilter,
    MessageType,
    Notification,
    NotificationFilter,
    NotificationKind,
)
from missionctl.db import IdRef, core_execute, tenant_of, utcnow
from missionctl.errors import InvalidInput, NotFound, PayloadTooLarge, QuotaExceeded
from missionctl.events.service import DomainEvent, on_event, record_event
from missionctl.identity.members import list_members
from missionctl.permissions import Role
from missionctl.storage import AttachmentStore

MENTION = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_-]{0,63})")
EVERYONE = frozenset({"all", "everyone"})


def parse_mentions(content: str) -> list[str]:
    """The distinct `@names` in a text, in order of first appearance."""
    return list(dict.fromkeys(MENTION.findall(content)))


def _attachment(row: AttachmentRow) -> Attachment:
    return Attachment(
        attachment_id=row.attachment_id,
        name=row.name,
        media_type=row.media_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        content_url=f"/api/v1/attachments/{row.attachment_id}/content",
    )


def _messages(
    session: Session, rows: list[MessageRow], *, with_attachments: bool = True
) -> list[Message]:
    attachments: dict[uuid.UUID, list[Attachment]] = defaultdict(list)
    if rows and with_attachments:
        for att in session.scalars(
            select(AttachmentRow)
            .where(AttachmentRow.message_id.in_([r.message_id for r in rows]))
            .order_by(AttachmentRow.attachment_id)
        ):
            attachments[att.message_id].append(_attachment(att))
    return [
        Message(
            message_id=row.message_id,
            task_id=row.task_id,
            author_kind=ActorKind(row.author_kind),
            author_agent_id=row.author_agent_id,
            author_user_id=row.author_user_id,
            content=row.content,
            message_type=MessageType(row.message_type),
            reply_to_message_id=row.reply_to_message_id,
            mentioned_agent_ids=[uuid.UUID(a) for a in row.mentioned_agent_ids],
            attachments=attachments[row.message_id],
            created_at=row.created_at,
        )
        for row in rows
    ]


def _mentioned(
    session: Session, content: str, author_agent_id: uuid.UUID | None
) -> list[uuid.UUID]:
    names = parse_mentions(content)
    if EVERYONE & {n.lower() for n in names}:
        ids = [agent.agent_id for agent in all_agents(session)]
    else:
        found = agents_by_name(session, names)
        ids = [found[name].agent_id for name in names if name in found]
    return [agent_id for agent_id in ids if agent_id != author_agent_id]


def create_message(
    session: Session,
    task_id: uuid.UUID,
    data: MessageCreate,
    *,
    actor: Actor,
    store: AttachmentStore | None,
    max_attachment_bytes: int,
    quotas: Quotas | None = None,
) -> Message:
    """Post to a task's thread; mentioned agents are notified in the same transaction.

    `store` may be None only for messages without attachments (the platform's own posts).
    """
    task = get_task(session, task_id)
    if data.author_agent_id is not None:
        require_agents(session, [data.author_agent_id])
        actor = Actor.agent(data.author_agent_id)
    if data.reply_to_message_id is not None:
        parent = session.scalar(
            select(MessageRow.task_id).where(MessageRow.message_id == data.reply_to_message_id)
        )
        if parent != task_id:
            raise InvalidInput(
                "reply_to_message_id must name a message in the same thread",
                field="reply_to_message_id",
            )
    for upload in data.attachments:
        if len(upload.content_base64) > max_attachment_bytes:
            raise PayloadTooLarge(
                f"attachment {upload.name!r} is larger than {max_attachment_bytes} bytes"
            )
    incoming = sum(len(upload.content_base64) for upload in data.attachments)
    if incoming and quotas is not None and quotas.storage_bytes is not None:
        stored = session.scalar(select(func.coalesce(func.sum(AttachmentRow.size_bytes), 0)))
        if (stored or 0) + incoming > quotas.storage_bytes:
            raise QuotaExceeded(
                f"the tenant stores {stored} bytes of attachments; {incoming} more would pass its "
                f"quota of {quotas.storage_bytes}",
                quota="storage_bytes",
            )
    mentioned = _mentioned(session, data.content, actor.agent_id)
    row = MessageRow(
        task_id=task_id,
        author_kind=actor.kind.value,
        author_agent_id=actor.agent_id,
        author_user_id=actor.user_id,
        content=data.content,
        message_type=data.message_type.value,
        reply_to_message_id=data.reply_to_message_id,
        mentioned_agent_ids=[str(a) for a in mentioned],
    )
    session.add(row)
    session.flush()
    if data.attachments and store is None:
        raise InvalidInput("attachments cannot be stored here", field="attachments")
    for upload in data.attachments:
        assert store is not None
        session.add(
            AttachmentRow(
                message_id=row.message_id,
                name=upload.name,
                media_type=upload.media_type,
                size_bytes=len(upload.content_base64),
                sha256=store.put(upload.content_base64),
            )
        )
    author = get_agent(session, actor.agent_id).name if actor.agent_id else "A person"
    excerpt = data.content if len(data.content) <= 140 else data.content[:139] + "…"
    for agent_id in mentioned:
        session.add(
            NotificationRow(
                recipient_agent_id=agent_id,
                task_id=task_id,
                message_id=row.message_id,
                kind=NotificationKind.MENTION.value,
                content=f"{author} mentioned you on {task.title!r}: {excerpt}",
            )
        )
    session.flush()
    record_event(
        session,
        "message.created",
        actor=actor,
        subject_kind="message",
        subject_id=row.message_id,
        task_id=task_id,
        agent_id=actor.agent_id,
        summary=f"{author} wrote on {task.title!r}: {excerpt}",
        payload={
            "message_type": row.message_type,
            "mentioned_agent_ids": row.mentioned_agent_ids,
            "attachments": len(data.attachments),
        },
    )
    return _messages(session, [row], with_attachments=bool(data.attachments))[0]


def get_message(session: Session, message_id: uuid.UUID) -> Message:
    """The message, or `NotFound`."""
    row = session.scalar(select(MessageRow).where(MessageRow.message_id == message_id))
    if row is None:
        raise NotFound("message", message_id)
    return _messages(session, [row])[0]


def list_messages(
    session: Session, task_id: uuid.UUID, message_filter: MessageFilter
) -> Page[Message]:
    """A task's thread, oldest first."""
    get_task(session, task_id)
    query = select(MessageRow).where(MessageRow.task_id == task_id)
    if message_filter.message_type is not None:
        query = query.where(MessageRow.message_type == message_filter.message_type.value)
    if message_filter.cursor:
        query = query.where(MessageRow.message_id > decode_uuid_cursor(message_filter.cursor))
    rows = list(
        session.scalars(query.order_by(MessageRow.message_id).limit(message_filter.limit + 1))
    )
    page, next_cursor = split_page(rows, message_filter.limit, lambda row: row.message_id)
    return Page[Message](items=_messages(session, list(page)), next_cursor=next_cursor)


def thread_texts(session: Session, task_id: uuid.UUID, limit: int) -> list[tuple[Any, str]]:
    """The first `limit` messages of a task's thread as (author agent id or None, content),
    oldest first: what a turn's context and a lesson read (no page, no attachments, no ORM)."""
    rows = core_execute(session, _THREAD_TEXTS, {"task_id": task_id, "limit": limit})
    return [(row[0], row[1]) for row in rows]


_THREAD_TEXTS = (
    select(MessageRow.author_agent_id, MessageRow.content)
    .where(
        MessageRow.task_id == bindparam("task_id"), MessageRow.tenant_id == bindparam("tenant_id")
    )
    .order_by(MessageRow.message_id)
    .limit(bindparam("limit"))
)


def get_attachment(session: Session, attachment_id: uuid.UUID) -> Attachment:
    """An attachment's metadata, or `NotFound`."""
    row = session.scalar(select(AttachmentRow).where(AttachmentRow.attachment_id == attachment_id))
    if row is None:
        raise NotFound("attachment", attachment_id)
    return _attachment(row)


@on_event("task.assigned")
def _notify_assignees(session: Session, event: DomainEvent) -> None:
    title = event.payload.get("title", "a task")
    for agent_id in event.payload.get("added", []):
        session.add(
            NotificationRow(
                recipient_agent_id=uuid.UUID(agent_id),
                task_id=event.task_id,
                kind=NotificationKind.ASSIGNMENT.value,
                content=f"You were assigned {title!r}",
            )
        )


def notify_agent(
    session: Session,
    agent_id: uuid.UUID,
    kind: NotificationKind,
    content: str,
    *,
    task_id: uuid.UUID | None = None,
) -> None:
    """Leave an agent a notification (its next turn reads it)."""
    session.add(
        NotificationRow(
            recipient_agent_id=agent_id, task_id=task_id, kind=kind.value, content=content
        )
    )


def notify_admins(
    session: Session, kind: NotificationKind, content: str, *, task_id: uuid.UUID | None = None
) -> None:
    """Tell the tenant's admins something needs a person."""
    _notify_admins(session, kind, content, task_id=task_id)


def _notify_admins(session: Session, kind: NotificationKind, content: str, **where: Any) -> None:
    for member in list_members(session):
        if member.role is Role.ADMIN:
            session.add(
                NotificationRow(
                    recipient_user_id=member.user_id, kind=kind.value, content=content, **where
                )
            )


@on_event("budget.exhausted")
def _notify_budget_holders(session: Session, event: DomainEvent) -> None:
    """Tell the tenant's admins, and the agent whose call was refused, that a budget ran out."""
    scope, period = event.payload.get("scope", "tenant"), event.payload.get("period_key")
    content = f"The {scope} budget is exhausted for {period}: model calls are refused until raised"
    _notify_admins(session, NotificationKind.BUDGET, content)
    if event.agent_id is not None and agent_exists(session, event.agent_id):
        session.add(
            NotificationRow(
                recipient_agent_id=event.agent_id,
                task_id=event.task_id,
                kind=NotificationKind.BUDGET.value,
                content=content,
            )
        )


@on_event("task.stalled")
def _escalate_stalled_task(session: Session, event: DomainEvent) -> None:
    """A task made no progress for several heartbeats of its assignee: tell the admins."""
    _notify_admins(session, NotificationKind.ESCALATION, event.summary, task_id=event.task_id)


@on_event("agent.status_changed")
@on_event("agent.heartbeat")
def _escalate_blocked_agent(session: Session, event: DomainEvent) -> None:
    """An agent reported itself blocked: tell the admins (once, when it becomes blocked)."""
    became_blocked = event.payload.get("status") == "blocked" and (
        event.payload.get("previous_status", "") != "blocked"
    )
    if became_blocked:
        name = event.payload.get("name") or "An agent"
        _notify_admins(
            session,
            NotificationKind.ESCALATION,
            f"{name} is blocked and needs a person",
            task_id=event.task_id,
        )


def list_notifications(
    session: Session, notification_filter: NotificationFilter
) -> Page[Notification]:
    """Notifications, newest first, for one agent or all."""
    query = select(NotificationRow)
    if notification_filter.agent_id is not None:
        query = query.where(NotificationRow.recipient_agent_id == notification_filter.agent_id)
    if notification_filter.user_id is not None:
        query = query.where(NotificationRow.recipient_user_id == notification_filter.user_id)
    if notification_filter.is_read is not None:
        query = query.where(NotificationRow.is_read == notification_filter.is_read)
    if notification_filter.is_delivered is not None:
        query = query.where(NotificationRow.is_delivered == notification_filter.is_delivered)
    if notification_filter.cursor:
        cursor = decode_uuid_cursor(notification_filter.cursor)
        query = query.where(NotificationRow.notification_id < cursor)
    limit = notification_filter.limit
    rows = list(
        session.scalars(query.order_by(NotificationRow.notification_id.desc()).limit(limit + 1))
    )
    page, next_cursor = split_page(rows, limit, lambda row: row.notification_id)
    items = [Notification.model_validate(row) for row in page]
    return Page[Notification](items=items, next_cursor=next_cursor)


def mark_read(session: Session, notification_id: uuid.UUID) -> Notification:
    """Mark one notification read (idempotent)."""
    row = session.scalar(
        select(NotificationRow).where(NotificationRow.notification_id == notification_id)
    )
    if row is None:
        raise NotFound("notification", notification_id)
    if not row.is_read:
        row.is_read = True
        row.read_at = utcnow()
        session.flush()
        record_event(
            session,
            "notification.read",
            actor=Actor.agent(row.recipient_agent_id)
            if row.recipient_agent_id is not None
            else Actor.user(row.recipient_user_id),
            subject_kind="notification",
            subject_id=notification_id,
            task_id=row.task_id,
            agent_id=row.recipient_agent_id,
            summary="Notification read",
        )
    return Notification.model_validate(row)


def mark_all_read(session: Session, data: MarkAllRead, *, actor: Actor) -> int:
    """Mark every unread notification (of one agent, or all) read; returns how many."""
    if data.agent_id is not None:
        require_agents(session, [data.agent_id])
    statement = (
        update(NotificationRow)
        .where(NotificationRow.is_read.is_(False))
        .values(is_read=True, read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if data.agent_id is not None:
        statement = statement.where(NotificationRow.recipient_agent_id == data.agent_id)
    updated = session.execute(statement).rowcount  # type: ignore[attr-defined]
    if updated:
        record_event(
            session,
            "notification.all_read",
            actor=actor,
            subject_kind="agent" if data.agent_id else "tenant",
            subject_id=str(data.agent_id or "all"),
            agent_id=data.agent_id,
            summary=f"{updated} notification(s) marked read",
            payload={"updated": updated},
        )
    return int(updated)


def undelivered(
    agent_id: IdRef, kind: NotificationKind | None = None, tenant_id: IdRef | None = None
) -> ColumnElement[bool]:
    """Where-clause: notifications (of `kind`, or any) waiting for the agent (Core statements
    name the `tenant_id`, which the session does not add for them, so the index is used)."""
    clause = and_(
        NotificationRow.recipient_agent_id == agent_id, NotificationRow.is_delivered.is_(False)
    )
    if tenant_id is not None:
        clause = and_(NotificationRow.tenant_id == tenant_id, clause)
    return clause if kind is None else and_(clause, NotificationRow.kind == kind.value)


def count_undelivered(session: Session, agent_id: uuid.UUID) -> int:
    """How many notifications wait for the agent (without delivering them)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(NotificationRow)
            .where(NotificationRow.recipient_agent_id == agent_id)
            .where(NotificationRow.is_delivered.is_(False))
        )
        or 0
    )


def deliver_notifications(
    session: Session, agent_id: uuid.UUID, limit: int = 50
) -> list[Notification]:
    """Hand an agent its undelivered notifications (oldest first) and mark them delivered."""
    session.flush()  # a Core statement on the session's connection: write pending ones first
    tenant_id = tenant_of(session)
    params = {"d_agent": agent_id, "d_tenant": tenant_id, "d_limit": limit, "d_now": utcnow()}
    rows = session.connection().execute(_DELIVER, params).all()
    found = [Notification.model_validate(row) for row in rows]
    return sorted(found, key=lambda note: note.notification_id)


# Every turn with work starts with it: one prebuilt statement marks them and returns them
# (its parameters may not share a column's name).
_NOTIFICATIONS = cast(Table, NotificationRow.__table__).c
_DELIVER = (
    update(NotificationRow)
    .where(
        _NOTIFICATIONS.notification_id.in_(
            select(_NOTIFICATIONS.notification_id)
            .where(
                undelivered(
                    bindparam("d_agent", type_=_NOTIFICATIONS.recipient_agent_id.type),
                    tenant_id=bindparam("d_tenant", type_=_NOTIFICATIONS.tenant_id.type),
                )
            )
            .order_by(_NOTIFICATIONS.notification_id)
            .limit(bindparam("d_limit"))
            .scalar_subquery()
        )
    )
    .values(is_delivered=True, delivered_at=bindparam("d_now"))
    .returning(*_NOTIFICATIONS)
)
