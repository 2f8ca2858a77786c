"""Webhook subscriptions over HTTP: secrets, bad input, SSRF refusals, roles, tenants; and what a
worker refuses to send."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from missionctl.permissions import Role
from missionctl.sealing import Sealer
from missionctl.tables import metadata
from missionctl.webhooks.delivery import sign, verify
from missionctl.webhooks.service import seal_context
from tests.conftest import Backend, client_for, make_user
from tests.factories import created, ok, problem, task
from tests.webhooks.conftest import Receiver, RunWorker
from tests.webhooks.helpers import (
    PUBLIC_URL,
    SECRET,
    events_after,
    log,
    only,
    other_tenant_admin,
    settle,
    wait_for_job,
    webhook,
)

# -- subscriptions --------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_stored_only_sealed(
    api: httpx.Client, backend: Backend
) -> None:
    generated = webhook(api, PUBLIC_URL, "task.*", "task.*", "agent.created", description="ci")
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{40,}", generated["secret"]), generated
    assert generated["event_types"] == ["task.*", "agent.created"]  # duplicates dropped
    assert generated["url"] == PUBLIC_URL and generated["is_active"] is True
    given = webhook(api, PUBLIC_URL, secret=SECRET)
    assert given["secret"] == SECRET
    plain = {generated["webhook_id"]: generated["secret"], given["webhook_id"]: SECRET}
    assert generated["secret"] != webhook(api, PUBLIC_URL)["secret"]  # a new one each time

    hook_id = given["webhook_id"]
    responses = [
        api.get("/webhooks"),
        api.get(f"/webhooks/{hook_id}"),
        api.patch(f"/webhooks/{hook_id}", json={"description": "renamed"}),
        api.patch(f"/webhooks/{hook_id}", json={"secret": SECRET}),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert "secret" not in response.text, response.text
        assert all(s not in response.text for s in plain.values())
    listed = ok(api.get("/webhooks"))["items"]
    assert {item["webhook_id"] for item in listed} >= set(plain)
    assert ok(api.get(f"/webhooks/{hook_id}"))["description"] == "renamed"

    # Nowhere in the database (webhooks, events, audit trail, jobs, …) is a secret in clear.
    with backend.db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(text(f"SELECT * FROM {table.name}")):
                assert all(s not in str(tuple(row)) for s in plain.values()), table.name
        sealed = {
            str(uuid.UUID(str(row[0]))): row[1]
            for row in connection.execute(text("SELECT webhook_id, secret_sealed FROM webhooks"))
        }
    sealer = Sealer(backend.settings.secret_key or "")
    for webhook_id, secret in plain.items():
        assert sealed[webhook_id].startswith("v1.") and sealed[webhook_id] != secret
        assert sealer.open(sealed[webhook_id], seal_context(uuid.UUID(webhook_id))) == secret


def test_bad_input_is_a_validation_problem(api: httpx.Client) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": PUBLIC_URL}, "event_types"),
        ({"url": PUBLIC_URL, "event_types": []}, "event_types"),
        ({"url": PUBLIC_URL, "event_types": ["Task Created"]}, "event_types.0"),
        ({"url": PUBLIC_URL, "event_types": ["task.created", "task*"]}, "event_types.1"),
        ({"url": PUBLIC_URL, "event_types": ["*.created"]}, "event_types.0"),
        ({"url": PUBLIC_URL, "event_types": "task.created"}, "event_types"),
        ({"url": PUBLIC_URL, "event_types": ["task.*"], "secret": "too-short"}, "secret"),
        ({"event_types": ["task.*"]}, "url"),
        ({"url": "", "event_types": ["task.*"]}, "url"),
        ({"url": PUBLIC_URL, "event_types": ["task.*"], "surprise": 1}, "surprise"),
    ]
    for payload, field in cases:
        body = problem(api.post("/webhooks", json=payload), 422, "validation_failed")
        assert field in [error["field"] for error in body["errors"]], (payload, body)
    assert ok(api.get("/webhooks"))["items"] == []

    hook = webhook(api, PUBLIC_URL)
    for change, field in [
        ({"event_types": ["Bad Pattern"]}, "event_types.0"),
        ({"event_types": []}, "event_types"),
        ({"secret": "short"}, "secret"),
    ]:
        body = problem(
            api.patch(f"/webhooks/{hook['webhook_id']}", json=change), 422, "validation_failed"
        )
        assert field in [error["field"] for error in body["errors"]], (change, body)
    assert ok(api.get(f"/webhooks/{hook['webhook_id']}"))["event_types"] == ["task.created"]
    bad_json = api.post(
        "/webhooks", content=b'{"url": ', headers={"Content-Type": "application/json"}
    )
    problem(bad_json, 400, "malformed_json")
    problem(api.get("/webhooks/not-a-uuid"), 422, "validation_failed")
    problem(
        api.get(f"/webhooks/{hook['webhook_id']}/deliveries?status=lost"), 422, "validation_failed"
    )
    problem(api.get(f"/webhooks/{uuid.uuid4()}"), 404, "not_found")


def test_private_targets_are_refused_by_default(api: httpx.Client, hooks: httpx.Client) -> None:
    inward = [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://LOCALHOST/hook",
        "http://10.1.2.3/hook",
        "http://172.16.5.4/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9000/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://127.1/hook",  # shorthand for 127.0.0.1
        "http://2130706433/hook",  # 127.0.0.1 as one number
        "http://0x7f000001/hook",  # and in hex
    ]
    for url in inward:
        body = problem(
            api.post("/webhooks", json={"url": url, "event_types": ["*"]}), 422, "invalid_input"
        )
        assert body["field"] == "url", body
        assert "refused" in body["detail"] and "non-public" in body["detail"], body
        assert "MISSIONCTL_ALLOW_PRIVATE_WEBHOOKS" in body["detail"], body
    assert ok(api.get("/webhooks"))["items"] == []

    # Changing a saved webhook's URL is checked the same way.
    hook = webhook(api, PUBLIC_URL)
    body = problem(
        api.patch(f"/webhooks/{hook['webhook_id']}", json={"url": "http://127.0.0.1/x"}),
        422,
        "invalid_input",
    )
    assert body["field"] == "url"
    assert ok(api.get(f"/webhooks/{hook['webhook_id']}"))["url"] == PUBLIC_URL

    # The same targets pass where the setting allows them.
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/hook"):
        assert webhook(hooks, url)["url"] == url


def test_bad_schemes_and_credentials_are_refused_whatever_the_setting(
    api: httpx.Client, hooks: httpx.Client
) -> None:
    refused = [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.com/hook",
        "http:///hook",
        "http://user:password@example.com/hook",
        "https://token@example.com/hook",
    ]
    for client in (api, hooks):
        for url in refused:
            response = client.post("/webhooks", json={"url": url, "event_types": ["*"]})
            body = problem(response, 422, "invalid_input")
            assert body["field"] == "url", (url, body)
    assert ok(api.get("/webhooks"))["items"] == []


def test_only_admins_and_developers_manage_webhooks(
    api: httpx.Client, server: str, backend: Backend
) -> None:
    hook = webhook(api, PUBLIC_URL)
    ping = created(api.post(f"/webhooks/{hook['webhook_id']}/ping"))
    base = f"/webhooks/{hook['webhook_id']}"
    one = f"{base}/deliveries/{ping['delivery_id']}"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/webhooks", None),
        ("POST", "/webhooks", {"url": PUBLIC_URL, "event_types": ["*"]}),
        ("GET", base, None),
        ("PATCH", base, {"description": "mine now"}),
        ("POST", f"{base}/ping", None),
        ("GET", f"{base}/deliveries", None),
        ("GET", one, None),
        ("POST", f"{one}/redeliver", None),
        ("DELETE", base, None),
    ]
    for role in (Role.OPERATOR, Role.VIEWER):
        _user_id, token = make_user(backend, role)
        with client_for(server, token) as client:
            for method, path, payload in calls:
                problem(client.request(method, path, json=payload), 403, "forbidden")
    with client_for(server, None) as anonymous:
        for method, path, payload in calls:
            problem(anonymous.request(method, path, json=payload), 401, "unauthenticated")
    assert ok(api.get(base))["description"] == ""
    assert len(log(api, hook["webhook_id"])) == 1

    _user_id, token = make_user(backend, Role.DEVELOPER)
    with client_for(server, token) as developer:
        expected = [200, 201, 200, 200, 201, 200, 200, 200, 204]
        for (method, path, payload), status in zip(calls, expected, strict=True):
            response = developer.request(method, path, json=payload)
            assert response.status_code == status, (method, path, response.text)
    problem(api.get(base), 404, "not_found")


# -- isolation and SSRF at delivery time ---------------------------------------------------


def test_tenants_never_see_each_others_webhooks_or_events(
    hooks: httpx.Client,
    receiver: Receiver,
    run_worker: RunWorker,
    backend: Backend,
    permissive_server: str,
) -> None:
    mine = webhook(hooks, receiver.url("mine"), "*")["webhook_id"]
    with client_for(permissive_server, other_tenant_admin(backend)) as them:
        theirs = webhook(them, receiver.url("theirs"), "*")["webhook_id"]
        their_task = task(them, "their secret plan")
        my_task = task(hooks, "my plan")
        run_worker()
        their_delivery = only(log(them, theirs))
        my_delivery = only(log(hooks, mine))
        settle(them, theirs, their_delivery["delivery_id"], "succeeded")
        settle(hooks, mine, my_delivery["delivery_id"], "succeeded")

        base = f"/webhooks/{mine}"
        for method, path in [
            ("GET", base),
            ("PATCH", base),
            ("DELETE", base),
            ("POST", f"{base}/ping"),
            ("GET", f"{base}/deliveries"),
            ("GET", f"{base}/deliveries/{my_delivery['delivery_id']}"),
            ("POST", f"{base}/deliveries/{my_delivery['delivery_id']}/redeliver"),
        ]:
            payload = {"description": "taken"} if method == "PATCH" else None
            problem(them.request(method, path, json=payload), 404, "not_found")
        assert [h["webhook_id"] for h in ok(them.get("/webhooks"))["items"]] == [theirs]
        # The other way round too, and a delivery id does not cross over under my own webhook.
        problem(hooks.get(f"/webhooks/{theirs}"), 404, "not_found")
        problem(hooks.get(f"{base}/deliveries/{their_delivery['delivery_id']}"), 404, "not_found")

    assert [h["webhook_id"] for h in ok(hooks.get("/webhooks"))["items"]] == [mine]
    assert ok(hooks.get(base))["description"] == ""
    assert only(log(hooks, mine))["delivery_id"] == my_delivery["delivery_id"]
    [my_hit] = receiver.hits("/mine")
    [their_hit] = receiver.hits("/theirs")
    assert json.loads(my_hit.body)["event"]["subject_id"] == my_task["task_id"]
    assert json.loads(their_hit.body)["event"]["subject_id"] == their_task["task_id"]


def test_a_private_target_fails_for_good_once_the_worker_refuses_it(
    hooks: httpx.Client, receiver: Receiver, run_worker: RunWorker, backend: Backend
) -> None:
    # Saved while private targets were allowed; sent by a worker whose settings refuse them.
    hook = webhook(hooks, receiver.url())
    run_worker(settings=backend.settings)
    task(hooks)
    entry = only(log(hooks, hook["webhook_id"]))
    done = settle(hooks, hook["webhook_id"], entry["delivery_id"], "failed", "succeeded")
    assert done["status"] == "failed" and done["attempts"] == 1, done
    assert done["error"].startswith("refused"), done
    assert "127.0.0.1" in done["error"]
    assert done["response_status"] is None and done["delivered_at"] is None
    dead = wait_for_job(hooks, done["job_id"], "dead")
    assert dead["attempts"] == 1
    assert receiver.hits() == []


def test_a_failing_webhook_does_not_feed_itself_through_job_events(
    hooks: httpx.Client, receiver: Receiver, run_worker: RunWorker, backend: Backend
) -> None:
    # `*` also matches `job.dead`, which the queue records when a delivery job dies: that event
    # must not become a delivery to the webhook whose delivery died (or it never stops).
    hook = webhook(hooks, receiver.url(), "*")
    worker = run_worker(settings=backend.settings)
    task(hooks)
    entry = only(log(hooks, hook["webhook_id"]))
    done = settle(hooks, hook["webhook_id"], entry["delivery_id"], "failed", "succeeded")
    wait_for_job(hooks, done["job_id"], "dead")  # job.dead commits with the job's death
    worker.stop(grace_seconds=5)
    sent = [(e["event_type"], e["status"]) for e in log(hooks, hook["webhook_id"])]
    assert sent == [("task.created", "failed")]
    dead_events = [e for e in events_after(hooks, 0) if e["event_type"] == "job.dead"]
    assert [e["subject_id"] for e in dead_events] == [done["job_id"]]


def test_verify_rejects_malformed_and_stale_signatures() -> None:
    body = b'{"event":{}}'
    now = 1_800_000_000
    good = sign(SECRET, now, body)
    assert verify(SECRET, good, body, now=now)
    assert verify(SECRET, good, body, now=now + 300)
    assert not verify(SECRET, good, body, now=now + 301)
    assert not verify(SECRET, good, body, now=now - 301)
    digest = good.split("v1=", 1)[1]
    for header in [
        "",
        f"v1={digest}",
        f"t=soon,v1={digest}",
        f"t={now}",
        f"t={now},v1=",
        f"t={now},v1={digest[:-1]}",
        f"t={now + 1},v1={digest}",
        f"t={now},v1={digest[:-1]}é",
        "garbage",
    ]:
        assert not verify(SECRET, header, body, now=now), header
