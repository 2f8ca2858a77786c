"""Webhook schemas."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from missionctl.common import PageLimit, QueryModel, Schema, StoredUTC

EventPattern = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$",
        description="An event type (`task.created`), a prefix (`task.*`) or `*` for all.",
    ),
]
Secret = Annotated[str, Field(min_length=16, max_length=256)]


class DeliveryStatus(StrEnum):
    """Where a delivery is."""

    PENDING = "pending"  # waiting for its first attempt
    RETRYING = "retrying"  # an attempt failed; another follows
    SUCCEEDED = "succeeded"  # the target answered 2xx
    FAILED = "failed"  # out of attempts, or refused for good
    SKIPPED = "skipped"  # the webhook was disabled before it went out


class WebhookCreate(Schema):
    """A new webhook subscription."""

    url: str = Field(min_length=1, max_length=2000, description="Where to POST (http or https).")
    event_types: list[EventPattern] = Field(
        min_length=1, max_length=50, description="Which events to send."
    )
    secret: Secret | None = Field(
        default=None,
        description="Signing secret (16+ characters); generated and shown once when omitted.",
    )
    description: str = Field(default="", max_length=500, description="What it is for.")
    is_active: bool = Field(default=True, description="Whether events are sent.")


class WebhookUpdate(Schema):
    """Changes to a webhook; omitted fields stay as they are."""

    url: str | None = Field(default=None, min_length=1, max_length=2000, description="Target.")
    event_types: list[EventPattern] | None = Field(
        default=None, min_length=1, max_length=50, description="Which events to send."
    )
    secret: Secret | None = Field(default=None, description="A new signing secret.")
    description: str | None = Field(default=None, max_length=500, description="What it is for.")
    is_active: bool | None = Field(default=None, description="Whether events are sent.")


class Webhook(BaseModel):
    """A webhook as stored (the secret is never shown again)."""

    model_config = ConfigDict(from_attributes=True)

    webhook_id: uuid.UUID = Field(description="The webhook's id.")
    url: str = Field(description="Where events are POSTed.")
    event_types: list[str] = Field(description="Which events are sent.")
    description: str = Field(description="What it is for.")
    is_active: bool = Field(description="Whether events are sent.")
    created_at: StoredUTC = Field(description="Creation time (UTC).")
    updated_at: StoredUTC = Field(description="Last change (UTC).")


class WebhookCreated(Webhook):
    """A new webhook, with its signing secret: shown this once."""

    secret: str = Field(description="The signing secret; store it now, it is not shown again.")


class WebhookFilter(QueryModel):
    """Which webhooks to list (oldest first)."""

    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


class Delivery(BaseModel):
    """One event sent (or being sent) to one webhook."""

    model_config = ConfigDict(from_attributes=True)

    delivery_id: uuid.UUID = Field(
        description="Unique id, sent as `MissionControl-Delivery`: receivers dedupe by it."
    )
    webhook_id: uuid.UUID = Field(description="The webhook.")
    event_id: int | None = Field(description="The event sent (none for a ping).")
    event_type: str = Field(description="Its type.")
    status: DeliveryStatus = Field(description="pending, retrying, succeeded, failed, skipped.")
    attempts: int = Field(description="Attempts so far.")
    response_status: int | None = Field(description="HTTP status of the last answer, if any.")
    response_body: str | None = Field(description="Start of the last answer's body.")
    error: str | None = Field(description="Why the last attempt failed.")
    duration_ms: int | None = Field(description="How long the last attempt took.")
    job_id: uuid.UUID | None = Field(description="The job that sends it.")
    created_at: StoredUTC = Field(description="When the event was queued for it (UTC).")
    last_attempt_at: StoredUTC | None = Field(description="Last attempt (UTC).")
    delivered_at: StoredUTC | None = Field(description="When a 2xx came back (UTC).")


class DeliveryDetail(Delivery):
    """A delivery with the body it sends."""

    body: dict[str, Any] = Field(description="The JSON body POSTed on every attempt.")


class DeliveryFilter(QueryModel):
    """Which deliveries to list (newest first)."""

    status: DeliveryStatus | None = Field(default=None, description="Only this status.")
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")
