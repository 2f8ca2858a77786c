"""Jobs and the dead letters over HTTP: list, inspect, retry, cancel, discard; roles, tenants."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from missionctl.db import Database
from missionctl.engine import service
from missionctl.identity.service import ensure_tenant
from missionctl.permissions import Role
from tests.conftest import Backend, client_for, make_user
from tests.engine.conftest import RunWorker, job_status, wait_until
from tests.factories import ok, problem


def enqueue(db: Database, kind: str, payload: dict[str, Any] | None = None, **options: Any) -> str:
    with db.transaction() as session:
        return str(service.enqueue(session, kind, payload, **options))


def dead_and_done(db: Database, run_worker: RunWorker) -> tuple[str, str]:
    """A job in the dead letters and one that succeeded."""
    dead = enqueue(db, "test.flaky", {"permanent": True})
    done = enqueue(db, "test.noop")
    worker = run_worker(concurrency=1)
    wait_until(lambda: job_status(db, uuid.UUID(dead)) == "dead")
    wait_until(lambda: job_status(db, uuid.UUID(done)) == "succeeded")
    worker.stop()
    return dead, done


def test_the_dead_letters_show_the_error_and_traceback(
    engine_db: Database, run_worker: RunWorker, api: httpx.Client
) -> None:
    dead, done = dead_and_done(engine_db, run_worker)
    listed = ok(api.get("/jobs", params={"status": "dead"}))
    assert [job["job_id"] for job in listed["items"]] == [dead]
    detail = ok(api.get(f"/jobs/{dead}"))
    assert detail["status"] == "dead" and detail["attempts"] == 1
    assert detail["last_error"] == "PermanentFailure: this cannot work"
    assert "Traceback" in detail["last_traceback"]
    assert ok(api.get(f"/jobs/{done}"))["status"] == "succeeded"
    kinds = ok(api.get("/jobs", params={"kind": "test.noop"}))["items"]
    assert [job["job_id"] for job in kinds] == [done]


def test_retry_discard_and_cancel_through_the_api(
    engine_db: Database, run_worker: RunWorker, api: httpx.Client
) -> None:
    dead, done = dead_and_done(engine_db, run_worker)
    retried = ok(api.post(f"/jobs/{dead}/retry"))
    assert retried["status"] == "queued" and retried["attempts"] == 0
    ok(api.post(f"/jobs/{dead}/cancel"))
    assert ok(api.get(f"/jobs/{dead}"))["status"] == "cancelled"
    refused = problem(api.post(f"/jobs/{done}/discard"), 409, "invalid_transition")
    assert refused["current"] == "succeeded" and "dead" in refused["allowed"]
    problem(api.post(f"/jobs/{done}/retry"), 409, "invalid_transition")
    waiting = enqueue(engine_db, "test.noop", delay_seconds=3600)
    assert ok(api.post(f"/jobs/{waiting}/cancel"))["status"] == "cancelled"
    audit = ok(api.get("/audit", params={"action": "job.*"}))["items"]
    assert {entry["action"] for entry in audit} == {"job.retried", "job.cancelled"}
    events = ok(api.get("/activities", params={"event_type": "job.*"}))["items"]
    assert {"job.retried", "job.cancelled", "job.dead"} <= {e["event_type"] for e in events}


def test_bad_requests_get_clear_problems(engine_db: Database, api: httpx.Client) -> None:
    problem(api.get(f"/jobs/{uuid.uuid4()}"), 404, "not_found")
    problem(api.post(f"/jobs/{uuid.uuid4()}/retry"), 404, "not_found")
    problem(api.get("/jobs/not-a-uuid"), 422, "validation_failed")
    problem(api.get("/jobs", params={"status": "exploded"}), 422, "validation_failed")
    problem(api.get("/jobs", params={"cursor": "!!"}), 422, "invalid_input")
    problem(api.get("/jobs", params={"limit": 0}), 422, "validation_failed")
    problem(api.get("/jobs", params={"surprise": 1}), 422, "validation_failed")


def test_lists_page_newest_first(engine_db: Database, api: httpx.Client) -> None:
    ids = [enqueue(engine_db, "test.noop") for _ in range(5)]
    first = ok(api.get("/jobs", params={"limit": 3}))
    second = ok(api.get("/jobs", params={"limit": 3, "cursor": first["next_cursor"]}))
    assert [j["job_id"] for j in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None


def test_summary_kinds_and_workers(
    engine_db: Database, run_worker: RunWorker, api: httpx.Client
) -> None:
    dead_and_done(engine_db, run_worker)
    enqueue(engine_db, "test.noop")
    summary = ok(api.get("/jobs/summary"))
    counts = {(c["kind"], c["status"]): c["count"] for c in summary["counts"]}
    assert counts == {
        ("test.flaky", "dead"): 1,
        ("test.noop", "succeeded"): 1,
        ("test.noop", "queued"): 1,
    }
    assert summary["oldest_ready_at"] is not None
    kinds = {kind["name"]: kind for kind in ok(api.get("/jobs/kinds"))}
    assert {"agent.heartbeat", "board.create_task", "webhook.deliver"} <= set(kinds)
    assert kinds["board.create_task"]["is_schedulable"] is True
    workers = ok(api.get("/workers"))
    assert any(w["role"] == "worker" and w["stopped_at"] is not None for w in workers)


def test_who_may_see_and_replay_jobs(
    engine_db: Database, run_worker: RunWorker, server: str, backend: Backend
) -> None:
    dead, _done = dead_and_done(engine_db, run_worker)
    for role, may_replay in (
        (Role.VIEWER, False),
        (Role.OPERATOR, False),
        (Role.DEVELOPER, True),
    ):
        _user, token = make_user(backend, role)
        with client_for(server, token) as client:
            assert ok(client.get("/jobs"))["items"]
            response = client.post(f"/jobs/{dead}/discard")
            if may_replay:
                assert ok(response)["status"] == "discarded"
            else:
                problem(response, 403, "forbidden")


def test_another_tenants_jobs_are_not_found(
    engine_db: Database, api: httpx.Client, backend: Backend
) -> None:
    with backend.db.transaction(None) as session:
        other = ensure_tenant(session, "elsewhere")
    theirs = enqueue(engine_db, "test.noop", tenant_id=other.tenant_id)
    problem(api.get(f"/jobs/{theirs}"), 404, "not_found")
    problem(api.post(f"/jobs/{theirs}/cancel"), 404, "not_found")
    assert ok(api.get("/jobs"))["items"] == []
