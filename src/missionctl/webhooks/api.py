"""HTTP routes for webhooks and their delivery log (admins and developers)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from missionctl.common import Page
from missionctl.permissions import Permission
from missionctl.sealing import Sealer
from missionctl.web.auth import need
from missionctl.web.deps import Ctx
from missionctl.webhooks import service
from missionctl.webhooks.schemas import (
    Delivery,
    DeliveryDetail,
    DeliveryFilter,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookFilter,
    WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
MANAGE = [need(Permission.WEBHOOKS_MANAGE)]


@router.get("", summary="List webhooks", dependencies=MANAGE)
def list_webhooks(ctx: Ctx, query: Annotated[WebhookFilter, Query()]) -> Page[Webhook]:
    with ctx.read() as session:
        return service.list_webhooks(session, query)


@router.post("", status_code=201, summary="Subscribe a URL to events", dependencies=MANAGE)
def create_webhook(ctx: Ctx, data: WebhookCreate) -> WebhookCreated:
    with ctx.write() as session:
        return service.create_webhook(
            session,
            data,
            actor=ctx.actor,
            sealer=Sealer(ctx.app.secret_key),
            allow_private=ctx.app.settings.allow_private_webhooks,
        )


@router.get("/{webhook_id}", summary="Get a webhook", dependencies=MANAGE)
def get_webhook(ctx: Ctx, webhook_id: uuid.UUID) -> Webhook:
    with ctx.read() as session:
        return service.get_webhook(session, webhook_id)


@router.patch("/{webhook_id}", summary="Change a webhook", dependencies=MANAGE)
def update_webhook(ctx: Ctx, webhook_id: uuid.UUID, data: WebhookUpdate) -> Webhook:
    with ctx.write() as session:
        return service.update_webhook(
            session,
            webhook_id,
            data,
            actor=ctx.actor,
            sealer=Sealer(ctx.app.secret_key),
            allow_private=ctx.app.settings.allow_private_webhooks,
        )


@router.delete("/{webhook_id}", status_code=204, summary="Delete a webhook", dependencies=MANAGE)
def delete_webhook(ctx: Ctx, webhook_id: uuid.UUID) -> Response:
    with ctx.write() as session:
        service.delete_webhook(session, webhook_id, actor=ctx.actor)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/ping", status_code=201, summary="Send a test event", dependencies=MANAGE
)
def ping_webhook(ctx: Ctx, webhook_id: uuid.UUID) -> Delivery:
    with ctx.write() as session:
        return service.ping(session, webhook_id, actor=ctx.actor)


@router.get("/{webhook_id}/deliveries", summary="The delivery log", dependencies=MANAGE)
def list_deliveries(
    ctx: Ctx, webhook_id: uuid.UUID, query: Annotated[DeliveryFilter, Query()]
) -> Page[Delivery]:
    with ctx.read() as session:
        return service.list_deliveries(session, webhook_id, query)


@router.get("/{webhook_id}/deliveries/{delivery_id}", summary="One delivery", dependencies=MANAGE)
def get_delivery(ctx: Ctx, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryDetail:
    with ctx.read() as session:
        return service.get_delivery(session, webhook_id, delivery_id)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    summary="Send a delivery again",
    dependencies=MANAGE,
)
def redeliver(ctx: Ctx, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    with ctx.write() as session:
        return service.redeliver(session, webhook_id, delivery_id, actor=ctx.actor)
