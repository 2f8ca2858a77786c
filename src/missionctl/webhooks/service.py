"""Webhook use cases, and turning each unit of work's events into deliveries.

Deliveries are made in the transaction that commits their events (a commit sink, see
`events.service.on_commit_events`): an event and the jobs that deliver it commit together, so
a crash can lose neither. Events about webhooks and about delivery jobs (`job.dead` of a
`webhook.deliver`) are never delivered, so a failing webhook cannot feed itself.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from missionctl.audit.service import record_audit
from missionctl.common import Actor, Page, decode_uuid_cursor, split_page
from missionctl.db import delete_some, new_id, utcnow
from missionctl.engine.service import enqueue
from missionctl.errors import InvalidInput, NotFound
from missionctl.events.models import EventRow
from missionctl.events.schemas import Event
from missionctl.events.service import EVENT_TENANTS, on_commit_events, record_event
from missionctl.events.stream import matches
from missionctl.sealing import Sealer
from missionctl.webhooks.delivery import Outcome, TargetRefused, check_target
from missionctl.webhooks.models import DeliveryRow, WebhookRow
from missionctl.webhooks.schemas import (
    Delivery,
    DeliveryDetail,
    DeliveryFilter,
    DeliveryStatus,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookFilter,
    WebhookUpdate,
)

DELIVER_JOB = "webhook.deliver"
DELIVER_ATTEMPTS = 8
PING = "webhook.ping"


def seal_context(webhook_id: uuid.UUID) -> str:
    """What a webhook's sealed secret is bound to."""
    return f"webhook:{webhook_id}"


def _checked_url(url: str, *, allow_private: bool) -> str:
    try:
        check_target(url, allow_private=allow_private)
    except ValueError as exc:
        raise InvalidInput(f"url {exc}", field="url") from None
    except TargetRefused as exc:
        raise InvalidInput(
            f"url refused: {exc}; set MISSIONCTL_ALLOW_PRIVATE_WEBHOOKS=1 to allow",
            field="url",
            reason="private_target",
        ) from None
    return url


def _row(session: Session, webhook_id: uuid.UUID) -> WebhookRow:
    row = session.scalar(select(WebhookRow).where(WebhookRow.webhook_id == webhook_id))
    if row is None:
        raise NotFound("webhook", webhook_id)
    return row


def _record(session: Session, action: str, actor: Actor, row: WebhookRow, **details: Any) -> None:
    details = {"url": row.url, "event_types": row.event_types, **details}
    record_audit(
        session,
        f"webhook.{action}",
        actor=actor,
        tenant_id=row.tenant_id,
        subject_kind="webhook",
        subject_id=row.webhook_id,
        details=details,
    )
    record_event(
        session,
        f"webhook.{action}",
        actor=actor,
        subject_kind="webhook",
        subject_id=row.webhook_id,
        summary=f"Webhook to {row.url} {action}",
        payload=details,
    )


def create_webhook(
    session: Session, data: WebhookCreate, *, actor: Actor, sealer: Sealer, allow_private: bool
) -> WebhookCreated:
    """Subscribe a URL to events; the secret (given or generated) is returned this once."""
    url = _checked_url(data.url, allow_private=allow_private)
    secret = data.secret or f"whsec_{secrets.token_urlsafe(32)}"
    row = WebhookRow(
        webhook_id=new_id(),
        url=url,
        event_types=list(dict.fromkeys(data.event_types)),
        description=data.description,
        is_active=data.is_active,
    )
    row.secret_sealed = sealer.seal(secret, seal_context(row.webhook_id))
    session.add(row)
    session.flush()
    _record(session, "created", actor, row)
    return WebhookCreated.model_validate(
        {**Webhook.model_validate(row).model_dump(), "secret": secret}
    )


def get_webhook(session: Session, webhook_id: uuid.UUID) -> Webhook:
    """The webhook, or `NotFound`."""
    return Webhook.model_validate(_row(session, webhook_id))


def list_webhooks(session: Session, webhook_filter: WebhookFilter) -> Page[Webhook]:
    """A page of the tenant's webhooks, oldest first."""
    query = select(WebhookRow)
    if webhook_filter.cursor:
        query = query.where(WebhookRow.webhook_id > decode_uuid_cursor(webhook_filter.cursor))
    rows = session.scalars(query.order_by(WebhookRow.webhook_id).limit(webhook_filter.limit + 1))
    page, next_cursor = split_page(rows.all(), webhook_filter.limit, lambda row: row.webhook_id)
    return Page[Webhook](items=[Webhook.model_validate(r) for r in page], next_cursor=next_cursor)


def update_webhook(
    session: Session,
    webhook_id: uuid.UUID,
    data: WebhookUpdate,
    *,
    actor: Actor,
    sealer: Sealer,
    allow_private: bool,
) -> Webhook:
    """Change a webhook (a new secret is sealed; it is not echoed)."""
    row = _row(session, webhook_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "url" in changes:
        row.url = _checked_url(changes["url"], allow_private=allow_private)
    if "event_types" in changes:
        row.event_types = list(dict.fromkeys(changes["event_types"]))
    if "secret" in changes:
        row.secret_sealed = sealer.seal(changes["secret"], seal_context(row.webhook_id))
    for key in ("description", "is_active"):
        if key in changes:
            setattr(row, key, changes[key])
    session.flush()
    _record(session, "updated", actor, row, changed=sorted(changes))
    return Webhook.model_validate(row)


def delete_webhook(session: Session, webhook_id: uuid.UUID, *, actor: Actor) -> None:
    """Remove a webhook and its delivery log; deliveries on their way are dropped."""
    row = _row(session, webhook_id)
    _record(session, "deleted", actor, row)
    session.delete(row)
    session.flush()


def _delivery_row(session: Session, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryRow:
    row = session.scalar(
        select(DeliveryRow).where(
            DeliveryRow.delivery_id == delivery_id, DeliveryRow.webhook_id == webhook_id
        )
    )
    if row is None:
        raise NotFound("delivery", delivery_id)
    return row


def list_deliveries(
    session: Session, webhook_id: uuid.UUID, delivery_filter: DeliveryFilter
) -> Page[Delivery]:
    """A webhook's delivery log, newest first."""
    _row(session, webhook_id)
    query = select(DeliveryRow).where(DeliveryRow.webhook_id == webhook_id)
    if delivery_filter.status is not None:
        query = query.where(DeliveryRow.status == delivery_filter.status.value)
    if delivery_filter.cursor:
        query = query.where(DeliveryRow.delivery_id < decode_uuid_cursor(delivery_filter.cursor))
    rows = session.scalars(
        query.order_by(DeliveryRow.delivery_id.desc()).limit(delivery_filter.limit + 1)
    )
    page, next_cursor = split_page(rows.all(), delivery_filter.limit, lambda r: r.delivery_id)
    return Page[Delivery](items=[Delivery.model_validate(r) for r in page], next_cursor=next_cursor)


def get_delivery(session: Session, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryDetail:
    """One delivery with its body, or `NotFound`."""
    return DeliveryDetail.model_validate(_delivery_row(session, webhook_id, delivery_id))


def _new_delivery(
    session: Session,
    webhook: WebhookRow,
    event_type: str,
    event: dict[str, Any],
    event_id: int | None,
) -> DeliveryRow:
    delivery_id = new_id()
    body = {"delivery_id": str(delivery_id), "webhook_id": str(webhook.webhook_id), "event": event}
    row = DeliveryRow(
        delivery_id=delivery_id,
        tenant_id=webhook.tenant_id,
        webhook_id=webhook.webhook_id,
        event_id=event_id,
        event_type=event_type,
        body=body,
    )
    session.add(row)
    _send_later(session, row)
    return row


def _send_later(session: Session, row: DeliveryRow) -> None:
    """Enqueue the job that sends the delivery (it becomes the delivery's current job)."""
    row.job_id = enqueue(
        session,
        DELIVER_JOB,
        {"delivery_id": str(row.delivery_id)},
        tenant_id=row.tenant_id,
    )


def _about_webhooks(event: EventRow) -> bool:
    if event.event_type.startswith("webhook."):
        return True
    return event.event_type.startswith("job.") and event.payload.get("kind") == DELIVER_JOB


@on_commit_events(
    interest=exists().where(WebhookRow.tenant_id.in_(EVENT_TENANTS), WebhookRow.is_active)
)
def deliver_events(session: Session, events: Sequence[EventRow]) -> None:
    """Queue a delivery of each event to every active webhook of its tenant that wants it."""
    wanted = [event for event in events if not _about_webhooks(event)]
    if not wanted:
        return
    tenants = {event.tenant_id for event in wanted}
    hooks = session.scalars(
        select(WebhookRow)
        .where(WebhookRow.tenant_id.in_(tenants), WebhookRow.is_active)
        .execution_options(all_tenants=True)
    ).all()
    for hook in hooks:
        for event in wanted:
            if event.tenant_id == hook.tenant_id and matches(event.event_type, hook.event_types):
                body = Event.model_validate(event).model_dump(mode="json")
                _new_delivery(session, hook, event.event_type, body, event.event_id)


def ping(session: Session, webhook_id: uuid.UUID, *, actor: Actor) -> Delivery:
    """Send a test event (`webhook.ping`) to one webhook now."""
    hook = _row(session, webhook_id)
    now = utcnow()
    event: dict[str, Any] = {
        "event_id": None,
        "event_type": PING,
        "actor_kind": actor.kind.value,
        "actor_id": str(actor.actor_id) if actor.actor_id else None,
        "subject_kind": "webhook",
        "subject_id": str(webhook_id),
        "task_id": None,
        "agent_id": None,
        "summary": "Ping from Mission Control",
        "payload": {},
        "created_at": now.isoformat(),
    }
    row = _new_delivery(session, hook, PING, event, None)
    session.flush()
    return Delivery.model_validate(row)


def redeliver(
    session: Session, webhook_id: uuid.UUID, delivery_id: uuid.UUID, *, actor: Actor
) -> Delivery:
    """Send a delivery again (same id and body, so receivers can tell), whatever its status."""
    row = _delivery_row(session, webhook_id, delivery_id)
    row.status = DeliveryStatus.PENDING.value
    _send_later(session, row)
    record_audit(
        session,
        "webhook.redelivered",
        actor=actor,
        tenant_id=row.tenant_id,
        subject_kind="webhook_delivery",
        subject_id=delivery_id,
        details={"webhook_id": str(webhook_id)},
    )
    session.flush()
    return Delivery.model_validate(row)


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    """What a delivery job needs to send."""

    delivery_id: uuid.UUID
    url: str
    secret_sealed: str
    webhook_id: uuid.UUID
    event_type: str
    body: dict[str, Any]
    is_active: bool
    job_id: uuid.UUID | None  # the job that currently sends it (a redelivery replaces it)


def delivery_target(session: Session, delivery_id: uuid.UUID) -> DeliveryTarget | None:
    """The delivery and its webhook; None when either is gone."""
    row = session.execute(
        select(DeliveryRow, WebhookRow)
        .join(WebhookRow, WebhookRow.webhook_id == DeliveryRow.webhook_id)
        .where(DeliveryRow.delivery_id == delivery_id)
    ).first()
    if row is None:
        return None
    delivery, hook = row
    return DeliveryTarget(
        delivery_id=delivery.delivery_id,
        url=hook.url,
        secret_sealed=hook.secret_sealed,
        webhook_id=hook.webhook_id,
        event_type=delivery.event_type,
        body=delivery.body,
        is_active=hook.is_active,
        job_id=delivery.job_id,
    )


def record_attempt(
    session: Session, delivery_id: uuid.UUID, outcome: Outcome | None, *, is_last: bool
) -> None:
    """Log an attempt's outcome on the delivery (None: skipped, the webhook is disabled)."""
    row = session.scalar(select(DeliveryRow).where(DeliveryRow.delivery_id == delivery_id))
    if row is None:
        return
    now = utcnow()
    if outcome is None:
        row.status = DeliveryStatus.SKIPPED.value
        row.error = "the webhook is disabled"
        return
    row.attempts += 1
    row.last_attempt_at = now
    row.response_status = outcome.response_status
    row.response_body = outcome.response_body
    row.error = outcome.error
    row.duration_ms = outcome.duration_ms
    if outcome.is_success:
        row.status = DeliveryStatus.SUCCEEDED.value
        row.delivered_at = now
    elif is_last or not outcome.is_retryable:
        row.status = DeliveryStatus.FAILED.value
    else:
        row.status = DeliveryStatus.RETRYING.value


FINISHED_DELIVERIES = (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)


def purge_deliveries(session: Session, before: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` finished deliveries of every tenant created before `before`."""
    return delete_some(
        session,
        DeliveryRow.delivery_id,
        DeliveryRow.status.in_([status.value for status in FINISHED_DELIVERIES]),
        DeliveryRow.created_at < before,
        limit=limit,
    )
