"""The `webhook.deliver` job: one attempt to POST one delivery.

A plain (not atomic) handler: the HTTP request happens outside any transaction, then the
attempt is logged on the delivery in a fenced unit of work. A failed attempt raises, so the
queue retries it with backoff; a refused target (SSRF) fails for good at once.
"""

from __future__ import annotations

import atexit
import random
import threading
import uuid
from functools import lru_cache

import httpx
from pydantic import BaseModel, Field

from missionctl.engine.context import JobContext
from missionctl.engine.policy import retry_delay
from missionctl.engine.registry import JobKind, JobRegistry
from missionctl.errors import PermanentFailure, RetryLater
from missionctl.sealing import Sealer
from missionctl.settings import ensure_secret_key
from missionctl.webhooks import service
from missionctl.webhooks.delivery import guarded_client, send

MAX_RETRY_SECONDS = 3600.0


class DeliverPayload(BaseModel):
    """Which delivery to send."""

    delivery_id: uuid.UUID = Field(description="The delivery.")


@lru_cache(maxsize=4)
def _sealer(secret_key: str) -> Sealer:
    return Sealer(secret_key)


_clients: dict[bool, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(allow_private: bool) -> httpx.Client:
    """One pooled client per process (and setting), made on first need."""
    with _clients_lock:
        client = _clients.get(allow_private)
        if client is None:
            if not _clients:
                atexit.register(_close_clients)
            client = _clients[allow_private] = guarded_client(allow_private=allow_private)
        return client


def _close_clients() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def run_delivery(job: JobContext) -> dict[str, object]:
    """Send the delivery once and log how it went."""
    delivery_id = DeliverPayload.model_validate(job.payload).delivery_id
    with job.db.transaction(job.tenant_id, write=False) as session:
        target = service.delivery_target(session, delivery_id)
    if target is None:
        return {"status": "gone"}
    if target.job_id != job.job_id:  # redelivered since: the newer job sends it
        return {"status": "superseded"}
    if not target.is_active:
        with job.transaction() as session:
            service.record_attempt(session, delivery_id, None, is_last=True)
        return {"status": "skipped"}
    secret = _sealer(ensure_secret_key(job.settings)).open(
        target.secret_sealed, service.seal_context(target.webhook_id)
    )
    outcome = send(
        _client(job.settings.allow_private_webhooks),
        target.url,
        secret=secret,
        delivery_id=str(delivery_id),
        event_type=target.event_type,
        body=target.body,
    )
    is_last = job.attempt >= job.job.max_attempts
    with job.transaction() as session:
        service.record_attempt(session, delivery_id, outcome, is_last=is_last)
    if outcome.is_success:
        return {"status": "succeeded", "response_status": outcome.response_status}
    if not outcome.is_retryable:
        raise PermanentFailure(outcome.error or "refused")
    delay = retry_delay(
        job.attempt,
        job.settings.webhook_retry_base_seconds,
        MAX_RETRY_SECONDS,
        random.random(),  # noqa: S311 - jitter, not a secret
    )
    raise RetryLater(outcome.error or "failed", after_seconds=delay)


def register(registry: JobRegistry) -> None:
    """Add the webhooks' job kind."""
    registry.add(
        JobKind(
            name=service.DELIVER_JOB,
            handler=run_delivery,
            max_attempts=service.DELIVER_ATTEMPTS,
            timeout_seconds=60,
            payload_schema=DeliverPayload,
            description="POST one event, signed, to one webhook.",
        )
    )
