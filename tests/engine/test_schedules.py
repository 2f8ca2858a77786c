"""Cron schedules over HTTP and the scheduler's periodic work: firing, heartbeats, retention."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update

from missionctl.agents.models import AgentRow
from missionctl.bootstrap import periodic_work
from missionctl.db import Database, utcnow
from missionctl.engine import scheduler, service
from missionctl.engine.models import JobRow, ScheduleRow
from missionctl.engine.schemas import JobFilter
from missionctl.events.models import EventRow
from missionctl.events.service import purge_events
from missionctl.permissions import Role
from missionctl.settings import load_settings
from missionctl.webhooks.models import DeliveryRow
from tests.conftest import Backend, client_for, make_user
from tests.engine.conftest import RunWorker, job_status, wait_until
from tests.factories import agent, created, ok, problem

WEEKLY = {
    "name": "weekly-report",
    "cron": "0 9 * * 1",
    "timezone": "Europe/Berlin",
    "kind": "board.create_task",
    "payload": {"title": "Weekly report {date}", "is_goal": True},
}


def test_a_schedule_is_created_listed_changed_and_deleted(
    engine_db: Database, api: httpx.Client
) -> None:
    schedule = created(api.post("/schedules", json=WEEKLY))
    assert schedule["next_run_at"] > utcnow().isoformat()[:19]
    assert schedule["misfire_policy"] == "run_once"
    assert [s["name"] for s in ok(api.get("/schedules"))["items"]] == ["weekly-report"]
    disabled = ok(api.patch(f"/schedules/{schedule['schedule_id']}", json={"is_enabled": False}))
    assert disabled["next_run_at"] is None
    enabled = ok(
        api.patch(
            f"/schedules/{schedule['schedule_id']}",
            json={"is_enabled": True, "cron": "*/5 * * * *", "timezone": "UTC"},
        )
    )
    assert enabled["next_run_at"] is not None and enabled["cron"] == "*/5 * * * *"
    assert api.delete(f"/schedules/{schedule['schedule_id']}").status_code == 204
    problem(api.get(f"/schedules/{schedule['schedule_id']}"), 404, "not_found")
    audit = {
        entry["action"] for entry in ok(api.get("/audit", params={"action": "schedule.*"}))["items"]
    }
    assert audit == {"schedule.created", "schedule.updated", "schedule.deleted"}


def test_bad_schedules_are_refused_with_the_field_named(
    engine_db: Database, api: httpx.Client
) -> None:
    cases = [
        ({"cron": "61 * * * *"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"kind": "nothing.known"}, "kind"),
        ({"kind": "agent.heartbeat"}, "kind"),  # exists, but is not for schedules
        ({"payload": {"description": "no title"}}, "payload"),
    ]
    for change, field in cases:
        body = problem(api.post("/schedules", json={**WEEKLY, **change}), 422, "invalid_input")
        assert body["field"] == field, body
    problem(api.post("/schedules", json={**WEEKLY, "kind": "Not A Kind"}), 422, "validation_failed")
    created(api.post("/schedules", json=WEEKLY))
    problem(api.post("/schedules", json=WEEKLY), 409, "already_exists")


def test_viewers_read_schedules_but_only_developers_and_admins_write_them(
    engine_db: Database, api: httpx.Client, server: str, backend: Backend
) -> None:
    schedule = created(api.post("/schedules", json=WEEKLY))
    _user, token = make_user(backend, Role.OPERATOR)
    with client_for(server, token) as operator:
        assert ok(operator.get("/schedules"))["items"]
        problem(operator.post("/schedules", json={**WEEKLY, "name": "x"}), 403, "forbidden")
        problem(operator.post(f"/schedules/{schedule['schedule_id']}/run"), 403, "forbidden")


def test_due_firings_enqueue_one_job_each_and_run_on_the_board(
    engine_db: Database, api: httpx.Client, run_worker: RunWorker
) -> None:
    schedule = created(
        api.post("/schedules", json={**WEEKLY, "cron": "* * * * *", "timezone": "UTC"})
    )
    schedule_id = uuid.UUID(schedule["schedule_id"])
    three_minutes_ago = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=3)
    with engine_db.transaction() as session:
        session.execute(
            update(ScheduleRow)
            .where(ScheduleRow.schedule_id == schedule_id)
            .values(next_run_at=three_minutes_ago)
        )
    assert scheduler.fire_schedules(engine_db) == 4  # 3 minutes ago, 2, 1, and now
    assert scheduler.fire_schedules(engine_db) == 0  # nothing due twice
    with engine_db.transaction(write=False) as session:
        jobs = service.list_jobs(session, JobFilter(kind="board.create_task")).items
    assert len(jobs) == 4 and {job.schedule_id for job in jobs} == {schedule_id}
    assert sorted(job.scheduled_for for job in jobs) == [  # type: ignore[type-var]
        three_minutes_ago + timedelta(minutes=n) for n in range(4)
    ]
    run_worker(concurrency=2)
    for job in jobs:
        wait_until(lambda job=job: job_status(engine_db, job.job_id) == "succeeded")
    titles = sorted(
        task["title"] for task in ok(api.get("/tasks", params={"is_goal": True}))["items"]
    )
    expected = sorted(f"Weekly report {(j.scheduled_for or utcnow()):%Y-%m-%d}" for j in jobs)
    assert titles == expected


def test_running_a_schedule_by_hand(engine_db: Database, api: httpx.Client) -> None:
    schedule = created(api.post("/schedules", json=WEEKLY))
    run = created(api.post(f"/schedules/{schedule['schedule_id']}/run"))
    job = ok(api.get(f"/jobs/{run['job_id']}"))
    assert job["kind"] == "board.create_task" and job["schedule_id"] == schedule["schedule_id"]
    assert job["payload"] == WEEKLY["payload"]


def test_agents_wake_on_their_heartbeat_once_per_interval(
    engine_db: Database, api: httpx.Client, run_worker: RunWorker
) -> None:
    busy = agent(api, "busy", heartbeat_interval_seconds=60)
    agent(api, "idle", heartbeat_interval_seconds=60)
    created(api.post("/tasks", json={"title": "Work", "assignee_ids": [busy["agent_id"]]}))
    assert scheduler_heartbeats(engine_db) == 2  # new agents are due at once
    assert scheduler_heartbeats(engine_db) == 0  # and then not before their interval
    with engine_db.transaction() as session:
        session.execute(update(AgentRow).values(next_heartbeat_at=utcnow() - timedelta(seconds=1)))
    assert scheduler_heartbeats(engine_db) == 2
    run_worker(concurrency=2)
    with engine_db.transaction(write=False) as session:
        jobs = service.list_jobs(session, JobFilter(kind="agent.heartbeat")).items
    assert len(jobs) == 4
    for job in jobs:
        wait_until(lambda job=job: job_status(engine_db, job.job_id) == "succeeded")
    with engine_db.transaction(write=False) as session:
        results = [service.get_job(session, job.job_id).result for job in jobs]
    by_agent = {result["agent_id"]: result["has_work"] for result in results}
    assert by_agent == {
        busy["agent_id"]: True,
        next(a for a in by_agent if a != busy["agent_id"]): False,
    }
    agents = {a["name"]: a for a in ok(api.get("/agents"))["items"]}
    assert agents["busy"]["last_heartbeat_at"] and agents["idle"]["last_heartbeat_at"]


def scheduler_heartbeats(db: Database) -> int:
    """One round of the scheduler's heartbeat work, as the leader runs it."""
    work = periodic_work(load_settings(secret_key="x" * 48))
    [heartbeats] = [periodic for periodic in work if periodic.name == "heartbeats"]
    return heartbeats.run(db)


def test_retention_deletes_old_finished_jobs_and_events_but_keeps_dead_letters(
    engine_db: Database, run_worker: RunWorker, api: httpx.Client
) -> None:
    old_done = enqueue_noop(engine_db)
    old_dead = enqueue_noop(engine_db, kind="test.flaky", payload={"permanent": True})
    run_worker(concurrency=1)
    wait_until(lambda: job_status(engine_db, old_dead) == "dead")
    wait_until(lambda: job_status(engine_db, old_done) == "succeeded")
    recent = enqueue_noop(engine_db)
    wait_until(lambda: job_status(engine_db, recent) == "succeeded")
    long_ago = utcnow() - timedelta(days=30)
    with engine_db.transaction() as session:
        session.execute(
            update(JobRow)
            .where(JobRow.job_id.in_([old_done, old_dead]))
            .values(finished_at=long_ago)
        )
        session.execute(update(EventRow).values(created_at=long_ago))
    agent(api, "fresh")  # one new event
    scheduler.retention(job_days=7, event_days=7)(engine_db)
    assert job_exists(engine_db, recent) and job_exists(engine_db, old_dead)
    assert not job_exists(engine_db, old_done)
    events = ok(api.get("/activities"))["items"]
    assert [event["event_type"] for event in events] == ["agent.created"]
    with engine_db.transaction() as session:
        assert purge_events(session, utcnow() - timedelta(days=7)) == 0


def enqueue_noop(
    db: Database, kind: str = "test.noop", payload: dict[str, object] | None = None
) -> uuid.UUID:
    with db.transaction() as session:
        return service.enqueue(session, kind, payload)


def job_exists(db: Database, job_id: uuid.UUID) -> bool:
    with db.transaction(write=False) as session:
        return bool(session.get(JobRow, job_id))


def test_retention_deletes_old_finished_webhook_deliveries(
    engine_db: Database, api: httpx.Client
) -> None:
    hook = created(
        api.post("/webhooks", json={"url": "https://93.184.216.34/hook", "event_types": ["*"]})
    )
    agent(api, "first")
    agent(api, "second")
    deliveries = ok(api.get(f"/webhooks/{hook['webhook_id']}/deliveries"))["items"]
    old, pending = deliveries[1]["delivery_id"], deliveries[0]["delivery_id"]
    with engine_db.transaction() as session:
        session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.delivery_id == uuid.UUID(old))
            .values(status="succeeded", created_at=utcnow() - timedelta(days=30))
        )
    work = periodic_work(load_settings(secret_key="x" * 48, job_retention_days=7))
    [retention] = [periodic for periodic in work if periodic.name == "delivery retention"]
    assert retention.run(engine_db) == 1
    remaining = ok(api.get(f"/webhooks/{hook['webhook_id']}/deliveries"))["items"]
    assert [d["delivery_id"] for d in remaining] == [pending]
