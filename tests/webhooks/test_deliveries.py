"""Webhook deliveries end to end: through the queue to a real receiver, signed; event types,
retries, the delivery log, ping, redelivery, disabled and deleted webhooks."""

from __future__ import annotations

import json
import time
import uuid

import httpx
from sqlalchemy import text

from missionctl.webhooks.delivery import verify
from tests.conftest import Backend
from tests.engine.conftest import wait_until
from tests.factories import agent, created, move, ok, problem, task
from tests.webhooks.conftest import MakeReceiver, Receiver, RunWorker
from tests.webhooks.helpers import (
    SECRET,
    SIGNATURE,
    delivery,
    events_after,
    job,
    latest_event_id,
    log,
    only,
    settle,
    wait_for_hits,
    wait_for_job,
    webhook,
)

# -- delivery -------------------------------------------------------------------------------


def test_an_event_reaches_the_receiver_signed_and_is_logged(
    hooks: httpx.Client, receiver: Receiver, run_worker: RunWorker
) -> None:
    hook = webhook(hooks, receiver.url(), secret=SECRET)
    run_worker()
    sent_at = int(time.time())
    t = task(hooks, "Ship the webhooks")
    wait_for_hits(receiver, 1)
    hit = only(receiver.hits())

    entry = only(log(hooks, hook["webhook_id"]))
    done = settle(hooks, hook["webhook_id"], entry["delivery_id"], "succeeded")
    assert hit.path == "/hook"
    assert hit.headers["missioncontrol-delivery"] == entry["delivery_id"]
    assert hit.headers["missioncontrol-event"] == "task.created"
    assert hit.headers["content-type"] == "application/json"
    assert hit.headers["user-agent"].startswith("MissionControl-Webhooks/")
    signature = hit.headers["missioncontrol-signature"]
    match = SIGNATURE.match(signature)
    assert match and abs(int(match.group(1)) - sent_at) <= 5, signature
    now = int(time.time())
    assert verify(SECRET, signature, hit.body, now=now)
    tampered = hit.body.replace(b"Ship", b"Sink")
    assert tampered != hit.body
    assert not verify(SECRET, signature, tampered, now=now)
    assert not verify(SECRET, signature, hit.body + b" ", now=now)
    assert not verify("another-secret-0123456789", signature, hit.body, now=now)
    assert not verify(SECRET, signature, hit.body, now=now + 301)  # a replay, too late

    body = json.loads(hit.body)
    assert body["delivery_id"] == entry["delivery_id"]
    assert body["webhook_id"] == hook["webhook_id"]
    event = body["event"]
    assert event["event_type"] == "task.created"
    assert event["subject_kind"] == "task" and event["subject_id"] == t["task_id"]
    assert event["event_id"] == entry["event_id"] and isinstance(event["event_id"], int)
    assert done["body"] == body  # the log keeps exactly what was sent
    assert done["event_type"] == "task.created"
    assert done["attempts"] == 1
    assert done["response_status"] == 200 and done["response_body"] == "answered 200"
    assert done["error"] is None
    assert done["duration_ms"] is not None and done["duration_ms"] >= 0
    assert done["delivered_at"] is not None and done["last_attempt_at"] is not None
    assert wait_for_job(hooks, done["job_id"], "succeeded")["kind"] == "webhook.deliver"


def test_a_new_secret_signs_the_next_deliveries(
    hooks: httpx.Client, receiver: Receiver, run_worker: RunWorker
) -> None:
    hook = webhook(hooks, receiver.url(), secret=SECRET)
    rotated = "rotated-secret-9876543210"
    ok(hooks.patch(f"/webhooks/{hook['webhook_id']}", json={"secret": rotated}))
    run_worker()
    task(hooks)
    wait_for_hits(receiver, 1)
    hit = only(receiver.hits())
    signature = hit.headers["missioncontrol-signature"]
    assert verify(rotated, signature, hit.body, now=int(time.time()))
    assert not verify(SECRET, signature, hit.body, now=int(time.time()))


def test_event_types_choose_what_each_webhook_gets_and_webhook_events_are_never_sent(
    hooks: httpx.Client, receiver: Receiver, run_worker: RunWorker
) -> None:
    patterns = {
        "agents": ["agent.*"],
        "created": ["task.created"],
        "tasks": ["task.*"],
        "all": ["*"],
        "webhooks": ["webhook.*", "webhook.updated"],
    }
    ids = {
        name: webhook(hooks, receiver.url(name), *p)["webhook_id"] for name, p in patterns.items()
    }
    off = webhook(hooks, receiver.url("off"), "*", is_active=False)["webhook_id"]
    mark = latest_event_id(hooks)

    run_worker()
    writer = agent(hooks, "writer")
    t = task(hooks, "Write it", assignee_ids=[writer["agent_id"]])
    ok(move(hooks, t["task_id"], "in_progress", by_agent_id=writer["agent_id"]))
    ok(hooks.patch(f"/webhooks/{off}", json={"description": "still off"}))  # webhook.updated
    created(hooks.post(f"/webhooks/{ids['tasks']}/ping"))  # a ping goes to that one only

    events = events_after(hooks, mark)
    types = {e["event_type"] for e in events}
    assert {"agent.created", "task.created", "task.assigned", "task.status_changed"} <= types
    assert "webhook.updated" in types  # recorded, so its absence below means something

    def wanted(name: str) -> list[int]:
        def keeps(event_type: str) -> bool:
            if name == "agents":
                return event_type.startswith("agent.")
            if name == "created":
                return event_type == "task.created"
            if name == "tasks":
                return event_type.startswith("task.")
            if name == "webhooks":
                return False
            return not event_type.startswith("webhook.")

        return sorted(e["event_id"] for e in events if keeps(e["event_type"]))

    for name, hook_id in ids.items():
        entries = [e for e in log(hooks, hook_id) if e["event_type"] != "webhook.ping"]
        assert sorted(e["event_id"] for e in entries) == wanted(name), name
        assert all(not e["event_type"].startswith("webhook.") for e in entries), name
    assert log(hooks, off) == []

    # And they really go out: each receiver path gets exactly its log's deliveries.
    for name, hook_id in ids.items():
        entries = log(hooks, hook_id)
        for entry in entries:
            settle(hooks, hook_id, entry["delivery_id"], "succeeded")
        hits = receiver.hits(f"/{name}")
        assert sorted(h.headers["missioncontrol-delivery"] for h in hits) == sorted(
            e["delivery_id"] for e in entries
        ), name
        by_id = {e["delivery_id"]: e["event_type"] for e in entries}
        assert all(
            by_id[h.headers["missioncontrol-delivery"]] == h.headers["missioncontrol-event"]
            for h in hits
        )
    assert receiver.hits("/off") == []
    assert [e["event_type"] for e in log(hooks, ids["tasks"])].count("webhook.ping") == 1


def test_failed_attempts_are_retried_with_backoff_under_the_same_delivery_id(
    hooks: httpx.Client, receiver_factory: MakeReceiver, run_worker: RunWorker
) -> None:
    receiver = receiver_factory([500, 500, 200])
    hook = webhook(hooks, receiver.url(), secret=SECRET)
    base = 0.2
    run_worker(webhook_retry_base_seconds=base)
    task(hooks)
    entry = only(log(hooks, hook["webhook_id"]))
    done = settle(hooks, hook["webhook_id"], entry["delivery_id"], "succeeded", "failed")

    assert done["status"] == "succeeded" and done["attempts"] == 3, done
    assert done["response_status"] == 200 and done["error"] is None
    hits = receiver.hits()
    assert len(hits) == 3
    assert {h.headers["missioncontrol-delivery"] for h in hits} == {entry["delivery_id"]}
    assert {h.body for h in hits} == {hits[0].body}  # the same bytes every time
    assert all(
        verify(SECRET, h.headers["missioncontrol-signature"], h.body, now=int(time.time()))
        for h in hits
    )
    # First delay within [base/2, base], the next within [base, 2*base] (jitter), then sent.
    assert hits[1].at - hits[0].at >= base / 2 - 0.01
    assert hits[2].at - hits[1].at >= base - 0.01
    finished = wait_for_job(hooks, done["job_id"], "succeeded")
    assert finished["attempts"] == 3 and finished["max_attempts"] is None  # the kind's 8


def test_an_unreachable_receiver_is_retried_until_it_answers(
    hooks: httpx.Client, receiver_factory: MakeReceiver, run_worker: RunWorker
) -> None:
    receiver = receiver_factory(start=False)  # its port is bound but nobody listens yet
    hook = webhook(hooks, receiver.url())
    run_worker(webhook_retry_base_seconds=0.3)
    task(hooks)
    entry = only(log(hooks, hook["webhook_id"]))

    def failed_once() -> bool:
        entry.update(delivery(hooks, hook["webhook_id"], entry["delivery_id"]))
        return bool(entry["attempts"] >= 1)

    wait_until(failed_once, timeout=20, interval=0.02)
    assert entry["status"] == "retrying", entry
    assert entry["response_status"] is None
    assert entry["error"].startswith("ConnectError"), entry
    assert job(hooks, entry["job_id"])["status"] in {"failed", "running"}

    receiver.start()
    done = settle(hooks, hook["webhook_id"], entry["delivery_id"], "succeeded", "failed")
    assert done["status"] == "succeeded" and done["attempts"] >= 2, done
    assert done["error"] is None
    assert len(receiver.hits()) == 1


def test_a_delivery_out_of_attempts_fails_and_can_be_sent_again(
    hooks: httpx.Client, receiver_factory: MakeReceiver, run_worker: RunWorker
) -> None:
    receiver = receiver_factory(default=500)
    hook = webhook(hooks, receiver.url())
    hook_id = hook["webhook_id"]
    run_worker(webhook_retry_base_seconds=0.01)
    task(hooks)
    entry = only(log(hooks, hook_id))
    failed = settle(hooks, hook_id, entry["delivery_id"], "succeeded", "failed")

    assert failed["status"] == "failed" and failed["attempts"] == 8, failed
    assert failed["response_status"] == 500 and failed["response_body"] == "answered 500"
    assert failed["error"] == "HTTP 500" and failed["delivered_at"] is None
    hits = receiver.hits()
    assert len(hits) == 8
    assert {h.headers["missioncontrol-delivery"] for h in hits} == {entry["delivery_id"]}
    dead = wait_for_job(hooks, failed["job_id"], "dead")
    assert dead["attempts"] == 8
    assert [d["delivery_id"] for d in log(hooks, hook_id, status="failed")] == [
        entry["delivery_id"]
    ]

    receiver.default = 200
    again = ok(hooks.post(f"/webhooks/{hook_id}/deliveries/{entry['delivery_id']}/redeliver"))
    assert again["delivery_id"] == entry["delivery_id"] and again["status"] == "pending"
    assert again["job_id"] != failed["job_id"]
    done = settle(hooks, hook_id, entry["delivery_id"], "succeeded", "failed")
    assert done["status"] == "succeeded" and done["attempts"] == 9
    assert done["response_status"] == 200 and done["error"] is None
    last = receiver.hits()[-1]
    assert len(receiver.hits()) == 9
    assert last.headers["missioncontrol-delivery"] == entry["delivery_id"]
    assert last.body == hits[0].body
    assert log(hooks, hook_id, status="failed") == []
    assert [d["delivery_id"] for d in log(hooks, hook_id, status="succeeded")] == [
        entry["delivery_id"]
    ]


FINAL_JOB_STATES = {"succeeded", "dead", "cancelled", "discarded"}


def test_redelivering_a_retrying_delivery_leaves_no_older_job_sending_it(
    hooks: httpx.Client, receiver_factory: MakeReceiver, run_worker: RunWorker
) -> None:
    receiver = receiver_factory([500, 200], default=500)
    hook_id = webhook(hooks, receiver.url())["webhook_id"]
    # The first job retries 0.5 to 1 s after failing: time to redeliver in between.
    worker = run_worker(webhook_retry_base_seconds=1.0)
    task(hooks)
    entry = only(log(hooks, hook_id))
    first_job = entry["job_id"]
    wait_until(lambda: delivery(hooks, hook_id, entry["delivery_id"])["attempts"] >= 1)
    ok(hooks.post(f"/webhooks/{hook_id}/deliveries/{entry['delivery_id']}/redeliver"))
    done = settle(hooks, hook_id, entry["delivery_id"], "succeeded", "failed")
    assert done["status"] == "succeeded" and done["job_id"] != first_job
    assert len(receiver.hits()) == 2

    # The first job was waiting to retry the same delivery. Once it is over (or has made its
    # next attempt), the delivered event must not have been sent again, nor its status undone.
    def first_job_moved_on() -> bool:
        seen = job(hooks, first_job)
        if seen["status"] in FINAL_JOB_STATES:
            return True
        return bool(seen["attempts"] >= 2 and seen["status"] != "running")

    wait_until(first_job_moved_on, timeout=20, interval=0.05)
    worker.stop(grace_seconds=5)
    after = delivery(hooks, hook_id, entry["delivery_id"])
    assert (after["status"], len(receiver.hits())) == ("succeeded", 2), after


def test_redirects_are_not_followed(
    hooks: httpx.Client, receiver_factory: MakeReceiver, run_worker: RunWorker
) -> None:
    receiver = receiver_factory([307, 200])
    hook = webhook(hooks, receiver.url())
    run_worker()
    task(hooks)
    entry = only(log(hooks, hook["webhook_id"]))
    done = settle(hooks, hook["webhook_id"], entry["delivery_id"], "succeeded", "failed")
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    assert [h.path for h in receiver.hits()] == ["/hook", "/hook"]
    assert receiver.hits("/elsewhere") == []


def test_ping_sends_a_signed_test_event(
    hooks: httpx.Client, receiver: Receiver, run_worker: RunWorker
) -> None:
    hook = webhook(hooks, receiver.url(), "agent.*", secret=SECRET)
    pinged = created(hooks.post(f"/webhooks/{hook['webhook_id']}/ping"))
    assert pinged["event_type"] == "webhook.ping" and pinged["event_id"] is None
    assert pinged["status"] == "pending" and pinged["attempts"] == 0
    assert pinged["webhook_id"] == hook["webhook_id"]
    problem(hooks.post(f"/webhooks/{uuid.uuid4()}/ping"), 404, "not_found")

    run_worker()
    done = settle(hooks, hook["webhook_id"], pinged["delivery_id"], "succeeded", "failed")
    assert done["status"] == "succeeded" and done["attempts"] == 1
    hit = only(receiver.hits())
    assert hit.headers["missioncontrol-event"] == "webhook.ping"
    assert hit.headers["missioncontrol-delivery"] == pinged["delivery_id"]
    assert verify(SECRET, hit.headers["missioncontrol-signature"], hit.body, now=int(time.time()))
    body = json.loads(hit.body)
    assert body["event"]["event_type"] == "webhook.ping"
    assert body["event"]["subject_id"] == hook["webhook_id"]
    assert body == done["body"]


def test_redeliver_sends_the_same_delivery_again(
    hooks: httpx.Client, receiver: Receiver, run_worker: RunWorker
) -> None:
    hook = webhook(hooks, receiver.url(), secret=SECRET)
    hook_id = hook["webhook_id"]
    run_worker()
    task(hooks)
    entry = only(log(hooks, hook_id))
    first = settle(hooks, hook_id, entry["delivery_id"], "succeeded")
    again = ok(hooks.post(f"/webhooks/{hook_id}/deliveries/{entry['delivery_id']}/redeliver"))
    assert again["job_id"] != first["job_id"]
    wait_for_hits(receiver, 2)
    done = settle(hooks, hook_id, entry["delivery_id"], "succeeded")
    assert done["attempts"] == 2
    one, two = receiver.hits()
    assert one.body == two.body
    assert one.headers["missioncontrol-delivery"] == two.headers["missioncontrol-delivery"]
    assert verify(SECRET, two.headers["missioncontrol-signature"], two.body, now=int(time.time()))
    assert len(log(hooks, hook_id)) == 1  # the same delivery, not a new one
    missing = f"/webhooks/{hook_id}/deliveries/{uuid.uuid4()}/redeliver"
    problem(hooks.post(missing), 404, "not_found")


def test_the_delivery_log_is_newest_first_filtered_and_paged(hooks: httpx.Client) -> None:
    hook = webhook(hooks, "http://127.0.0.1:9/hook", "task.created")  # no worker runs here
    other = webhook(hooks, "http://127.0.0.1:9/other", "task.created")
    titles = ["one", "two", "three"]
    task_ids = [task(hooks, title)["task_id"] for title in titles]

    entries = log(hooks, hook["webhook_id"])
    subjects = [
        delivery(hooks, hook["webhook_id"], e["delivery_id"])["body"]["event"]["subject_id"]
        for e in entries
    ]
    assert subjects == task_ids[::-1]
    assert {e["status"] for e in entries} == {"pending"}
    assert all(e["attempts"] == 0 and e["job_id"] for e in entries)
    assert len(log(hooks, hook["webhook_id"], status="pending")) == 3
    assert log(hooks, hook["webhook_id"], status="succeeded") == []

    first = ok(hooks.get(f"/webhooks/{hook['webhook_id']}/deliveries", params={"limit": 2}))
    assert [e["delivery_id"] for e in first["items"]] == [e["delivery_id"] for e in entries[:2]]
    rest = ok(
        hooks.get(
            f"/webhooks/{hook['webhook_id']}/deliveries",
            params={"limit": 2, "cursor": first["next_cursor"]},
        )
    )
    assert [e["delivery_id"] for e in rest["items"]] == [entries[2]["delivery_id"]]
    assert rest["next_cursor"] is None

    # A delivery is found only under its own webhook.
    theirs = log(hooks, other["webhook_id"])[0]["delivery_id"]
    problem(hooks.get(f"/webhooks/{hook['webhook_id']}/deliveries/{theirs}"), 404, "not_found")
    problem(hooks.get(f"/webhooks/{uuid.uuid4()}/deliveries"), 404, "not_found")


def test_a_disabled_webhook_gets_nothing(
    hooks: httpx.Client, receiver: Receiver, run_worker: RunWorker
) -> None:
    a = webhook(hooks, receiver.url("a"), "task.*")["webhook_id"]
    b = webhook(hooks, receiver.url("b"), "task.*", is_active=False)["webhook_id"]
    task(hooks, "queued while a was on")  # the worker is not running yet
    queued = only(log(hooks, a))
    assert log(hooks, b) == []
    turned_off = ok(hooks.patch(f"/webhooks/{a}", json={"is_active": False}))
    assert turned_off["is_active"] is False

    run_worker()
    skipped = settle(hooks, a, queued["delivery_id"], "skipped", "succeeded", "failed")
    assert skipped["status"] == "skipped" and skipped["attempts"] == 0
    assert skipped["error"] == "the webhook is disabled"

    ok(hooks.patch(f"/webhooks/{b}", json={"is_active": True}))
    t = task(hooks, "after b came on")
    sent = only(log(hooks, b))
    settle(hooks, b, sent["delivery_id"], "succeeded")
    assert json.loads(only(receiver.hits("/b")).body)["event"]["subject_id"] == t["task_id"]
    assert receiver.hits("/a") == []
    assert [e["delivery_id"] for e in log(hooks, a)] == [queued["delivery_id"]]


def test_deleting_a_webhook_removes_its_deliveries_and_drops_queued_ones(
    hooks: httpx.Client, receiver: Receiver, run_worker: RunWorker, backend: Backend
) -> None:
    hook_id = webhook(hooks, receiver.url())["webhook_id"]
    kept = webhook(hooks, receiver.url("kept"))["webhook_id"]
    task(hooks)  # queued, not sent: no worker yet
    queued = only(log(hooks, hook_id))
    assert hooks.delete(f"/webhooks/{hook_id}").status_code == 204
    problem(hooks.get(f"/webhooks/{hook_id}"), 404, "not_found")
    problem(hooks.get(f"/webhooks/{hook_id}/deliveries"), 404, "not_found")
    problem(hooks.delete(f"/webhooks/{hook_id}"), 404, "not_found")
    with backend.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT webhook_id FROM webhook_deliveries")).all()
    assert [str(uuid.UUID(str(row[0]))) for row in rows] == [kept]
    assert [h["webhook_id"] for h in ok(hooks.get("/webhooks"))["items"]] == [kept]

    run_worker()
    wait_for_job(hooks, queued["job_id"], "succeeded")
    wait_for_hits(receiver, 1, "/kept")
    assert receiver.hits("/hook") == []
