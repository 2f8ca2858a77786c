"""What the webhook tests share: making webhooks, reading the log, waiting for deliveries."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import httpx

from missionctl.db import new_id
from missionctl.permissions import Role
from missionctl.tables import TenantRow
from tests.conftest import Backend, make_user
from tests.engine.conftest import wait_until
from tests.factories import created, ok
from tests.webhooks.conftest import Receiver

PUBLIC_URL = "https://93.184.216.34/hook"  # a global address: accepted, never called here
SECRET = "s3cret-for-signing-0123456789"
SIGNATURE = re.compile(r"^t=(\d+),v1=[0-9a-f]{64}$")
T = TypeVar("T")


def webhook(client: httpx.Client, url: str, *event_types: str, **fields: Any) -> dict[str, Any]:
    """Create a webhook (task.created by default)."""
    payload = {"url": url, "event_types": list(event_types or ["task.created"]), **fields}
    return created(client.post("/webhooks", json=payload))


def log(client: httpx.Client, hook_id: str, **params: Any) -> list[dict[str, Any]]:
    """A webhook's delivery log (newest first)."""
    page = ok(client.get(f"/webhooks/{hook_id}/deliveries", params=params))
    items: list[dict[str, Any]] = page["items"]
    return items


def delivery(client: httpx.Client, hook_id: str, delivery_id: str) -> dict[str, Any]:
    """One delivery, with its body."""
    body: dict[str, Any] = ok(client.get(f"/webhooks/{hook_id}/deliveries/{delivery_id}"))
    return body


def settle(client: httpx.Client, hook_id: str, delivery_id: str, *statuses: str) -> dict[str, Any]:
    """Wait until the delivery reaches one of `statuses`; return it."""
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(delivery(client, hook_id, delivery_id))
        return bool(seen["status"] in statuses)

    wait_until(reached, timeout=20, interval=0.05)
    return seen


def only(items: list[T]) -> T:
    """The single item of a list."""
    assert len(items) == 1, items
    return items[0]


def job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """A job as the jobs API shows it."""
    body: dict[str, Any] = ok(client.get(f"/jobs/{job_id}"))
    return body


def wait_for_job(client: httpx.Client, job_id: str, status: str) -> dict[str, Any]:
    """Wait until a job reaches `status`; return it."""
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(job(client, job_id))
        return bool(seen["status"] == status)

    wait_until(reached, timeout=20, interval=0.05)
    return seen


def wait_for_hits(receiver: Receiver, count: int, path: str | None = None) -> None:
    """Wait until the receiver got `count` requests (to `path`)."""
    wait_until(lambda: len(receiver.hits(path)) >= count, timeout=20, interval=0.02)


def events_after(client: httpx.Client, mark: int) -> list[dict[str, Any]]:
    """The tenant's events after id `mark`, oldest first."""
    items: list[dict[str, Any]] = ok(
        client.get("/activities", params={"order": "asc", "after": mark, "limit": 200})
    )["items"]
    return items


def latest_event_id(client: httpx.Client) -> int:
    """The newest event id of the tenant (0 when none)."""
    items = ok(client.get("/activities", params={"limit": 1}))["items"]
    return int(items[0]["event_id"]) if items else 0


def other_tenant_admin(backend: Backend) -> str:
    """A second tenant with an admin; the admin's access token."""
    tenant_id = new_id()
    with backend.db.transaction(None) as session:
        session.add(TenantRow(tenant_id=tenant_id, slug=f"t-{tenant_id.hex[:8]}", name="Other"))
    _user_id, token = make_user(backend, Role.ADMIN, tenant_id=tenant_id)
    return token
