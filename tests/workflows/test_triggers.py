"""Triggers start runs: signed webhooks (replays start nothing), cron schedules (one run per slot,
across scheduler restarts; misfire policies), domain events with a filter, and overlap policies."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from missionctl.db import utcnow
from missionctl.engine import scheduler
from missionctl.engine.models import ScheduleRow
from tests.conftest import Backend
from tests.factories import agent, created, move, ok, problem, task
from tests.runtime.conftest import wait_until
from tests.workflows.conftest import BRIEF, StartWorkflows, run_until, save, steps

# A workflow that hands its one input back as its output.
ECHO = """
name: echo
inputs:
  topic: {type: string, required: true}
nodes:
  say: {type: tool, tool: noop, args: {topic: "{{ inputs.topic }}"}}
outputs:
  topic: "{{ nodes.say.output.topic }}"
"""


def add_trigger(api: httpx.Client, workflow: str, **fields: Any) -> dict[str, Any]:
    """Create a trigger on `workflow`; the answer."""
    return created(api.post(f"/workflows/{workflow}/triggers", json=fields))


def runs_of(api: httpx.Client, trigger_id: str) -> list[dict[str, Any]]:
    """The runs a trigger started, oldest first."""
    page = ok(api.get("/workflow-runs", params={"trigger_id": trigger_id, "limit": 500}))
    assert page["next_cursor"] is None
    return list(reversed(page["items"]))


def jobs_of(api: httpx.Client, kind: str) -> list[dict[str, Any]]:
    """Every job of a kind."""
    page = ok(api.get("/jobs", params={"kind": kind, "limit": 200}))
    assert page["next_cursor"] is None
    return list(page["items"])


def fire(api: httpx.Client, trigger_id: str) -> dict[str, Any] | None:
    """Fire a trigger by hand; the run it started, or None when it was skipped."""
    answer: dict[str, Any] | None = ok(api.post(f"/workflow-triggers/{trigger_id}/fire"))
    return answer


def decide(api: httpx.Client, run_id: str, *, approved: bool = True) -> None:
    """Decide the brief's `review` approval."""
    ok(
        api.post(
            f"/workflow-runs/{run_id}/approvals", json={"node": "review", "approved": approved}
        )
    )


def status_of(api: httpx.Client, run_id: str) -> str:
    """A run's status now."""
    return str(ok(api.get(f"/workflow-runs/{run_id}"))["status"])


def as_utc(text: str) -> datetime:
    """An ISO time as an aware UTC datetime (`Z` suffix or offset)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None, text
    return value.astimezone(UTC)


# -- webhooks --------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """What a sender puts in X-MissionControl-Signature: the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_signed_webhook_starts_one_run_per_delivery_and_refuses_bad_signatures(
    api: httpx.Client, anonymous: httpx.Client, server: str, start_workflows: StartWorkflows
) -> None:
    save(api, ECHO)
    hook = add_trigger(
        api, "echo", name="on-push", kind="webhook", inputs={"topic": "{{ trigger.body.topic }}"}
    )
    trigger_id = hook["trigger_id"]
    secret = hook["secret"]
    assert isinstance(secret, str) and len(secret) >= 32
    assert hook["webhook_url"] == f"/api/v1/hooks/workflows/{trigger_id}"
    # The secret is shown once: never again when the trigger is read.
    (listed,) = ok(api.get("/workflows/echo/triggers"))
    assert listed["trigger_id"] == trigger_id and listed["secret"] is None
    url = f"{server}{hook['webhook_url']}"
    body = json.dumps({"topic": "Otters"}).encode()

    def deliver(content: bytes, **headers: str) -> httpx.Response:
        return anonymous.post(
            url, content=content, headers={"content-type": "application/json", **headers}
        )

    # Refused: no signature, a wrong one, and a good signature of another body.
    refused = [
        {},
        {"X-MissionControl-Signature": "sha256=" + "0" * 64},
        {"X-MissionControl-Signature": sign(secret, b'{"topic": "Moles"}')},
        {"X-MissionControl-Signature": sign("not-the-secret", body)},
    ]
    for headers in refused:
        problem(
            deliver(body, **headers, **{"X-MissionControl-Delivery": "d-1"}), 401, "unauthenticated"
        )
    assert runs_of(api, trigger_id) == []
    # A good signature without a delivery id: refused, nothing started.
    problem(
        deliver(body, **{"X-MissionControl-Signature": sign(secret, body)}), 422, "invalid_input"
    )
    assert runs_of(api, trigger_id) == []
    # Signed and identified: a run with the body's topic (the refused "d-1" did not burn the id).
    good = {"X-MissionControl-Signature": sign(secret, body), "X-MissionControl-Delivery": "d-1"}
    first = ok(deliver(body, **good))
    assert first["delivery_id"] == "d-1" and first["is_replay"] is False
    assert first["run_id"] is not None
    (run,) = runs_of(api, trigger_id)
    assert run["run_id"] == first["run_id"]
    assert run["inputs"] == {"topic": "Otters"}
    assert run["trigger_kind"] == "webhook"
    # The same delivery again: a replay that answers with the first run and starts nothing.
    again = ok(deliver(body, **good))
    assert again == {"delivery_id": "d-1", "run_id": first["run_id"], "is_replay": True}
    assert [r["run_id"] for r in runs_of(api, trigger_id)] == [first["run_id"]]
    start_workflows()
    done = run_until(api, first["run_id"], "succeeded", "failed")
    assert done["status"] == "succeeded", done
    assert done["outputs"] == {"topic": "Otters"}
    # Another delivery id is another run.
    other = json.dumps({"topic": "Badgers"}).encode()
    second = ok(
        deliver(
            other,
            **{
                "X-MissionControl-Signature": sign(secret, other),
                "X-MissionControl-Delivery": "d-2",
            },
        )
    )
    assert second["is_replay"] is False and second["run_id"] not in (None, first["run_id"])
    assert run_until(api, second["run_id"], "succeeded")["outputs"] == {"topic": "Badgers"}
    assert [r["inputs"]["topic"] for r in runs_of(api, trigger_id)] == ["Otters", "Badgers"]
    (listed,) = ok(api.get("/workflows/echo/triggers"))
    assert listed["fired"] == 2


def test_a_webhook_of_an_unknown_trigger_is_not_found(
    api: httpx.Client, anonymous: httpx.Client, server: str
) -> None:
    save(api, ECHO)
    manual = add_trigger(api, "echo", name="by-hand", kind="manual", inputs={"topic": "x"})
    body = b"{}"
    headers = {"X-MissionControl-Signature": sign("x", body), "X-MissionControl-Delivery": "d-1"}
    for trigger_id in (str(uuid.uuid4()), manual["trigger_id"]):  # none, and not a webhook
        response = anonymous.post(
            f"{server}/api/v1/hooks/workflows/{trigger_id}", content=body, headers=headers
        )
        problem(response, 404, "not_found")
    assert runs_of(api, manual["trigger_id"]) == []


# -- cron ------------------------------------------------------------------------------------


def _schedule_of(api: httpx.Client, trigger_id: str) -> dict[str, Any]:
    """The engine schedule behind a cron trigger."""
    found: list[dict[str, Any]] = [
        s
        for s in ok(api.get("/schedules", params={"limit": 200}))["items"]
        if s["kind"] == "workflow.start" and s["payload"].get("trigger_id") == trigger_id
    ]
    assert len(found) == 1, found
    return found[0]


def _set_next_run(backend: Backend, schedule_id: str, when: datetime) -> None:
    with backend.db.transaction() as session:
        session.execute(
            update(ScheduleRow)
            .where(ScheduleRow.schedule_id == uuid.UUID(schedule_id))
            .values(next_run_at=when)
        )


def _clear_of_minute_end() -> None:
    """Wait out the last seconds of a minute, so the slots counted are those of one minute."""
    while utcnow().second >= 55:
        time.sleep(0.2)


def test_a_cron_trigger_fires_once_per_slot_across_scheduler_restarts(
    api: httpx.Client, backend: Backend, start_workflows: StartWorkflows
) -> None:
    save(api, ECHO)
    trigger = add_trigger(
        api,
        "echo",
        name="every-minute",
        kind="cron",
        cron="* * * * *",
        timezone="Europe/Paris",
        inputs={"topic": "{{ trigger.fired_at }}"},
    )
    assert trigger["cron"] == "* * * * *" and trigger["timezone"] == "Europe/Paris"
    assert as_utc(trigger["next_run_at"]) > utcnow()
    schedule = _schedule_of(api, trigger["trigger_id"])
    assert (schedule["cron"], schedule["timezone"]) == ("* * * * *", "Europe/Paris")
    assert schedule["is_enabled"] is True
    _clear_of_minute_end()
    three_minutes_ago = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=3)
    slots = [three_minutes_ago + timedelta(minutes=n) for n in range(4)]  # 3, 2, 1 ago, now
    _set_next_run(backend, schedule["schedule_id"], three_minutes_ago)
    assert scheduler.fire_schedules(backend.db) == 4
    # A scheduler restarted (or a second replica) looks again: nothing is due twice …
    assert scheduler.fire_schedules(backend.db) == 0
    # … and one that lost the schedule's progress fires the same slots under the same keys.
    _set_next_run(backend, schedule["schedule_id"], three_minutes_ago)
    scheduler.fire_schedules(backend.db)
    start_jobs = jobs_of(api, "workflow.start")
    assert sorted(as_utc(j["scheduled_for"]) for j in start_jobs) == slots
    assert {j["schedule_id"] for j in start_jobs} == {schedule["schedule_id"]}
    assert {j["payload"]["trigger_id"] for j in start_jobs} == {trigger["trigger_id"]}
    start_workflows()

    def all_succeeded() -> list[dict[str, Any]] | None:
        found = runs_of(api, trigger["trigger_id"])
        return found if len(found) >= 4 and all(r["status"] == "succeeded" for r in found) else None

    cron_runs = wait_until(all_succeeded)
    assert len(cron_runs) == 4
    assert {r["trigger_kind"] for r in cron_runs} == {"cron"}
    # Each run knows its slot (the firing time, not the time the job ran).
    assert sorted(as_utc(r["inputs"]["topic"]) for r in cron_runs) == slots
    assert {j["status"] for j in jobs_of(api, "workflow.start")} == {"succeeded"}
    (listed,) = ok(api.get("/workflows/echo/triggers"))
    assert listed["fired"] == 4


def test_cron_misfires_beyond_the_grace_period_are_skipped_or_run_once(
    api: httpx.Client, backend: Backend, start_workflows: StartWorkflows
) -> None:
    save(api, ECHO)
    common: dict[str, Any] = {"kind": "cron", "cron": "* * * * *", "timezone": "Europe/Paris"}
    common |= {"misfire_grace_seconds": 0, "inputs": {"topic": "{{ trigger.fired_at }}"}}
    skip = add_trigger(api, "echo", name="skipper", misfire_policy="skip", **common)
    once = add_trigger(api, "echo", name="once", misfire_policy="run_once", **common)
    by_schedule = {
        _schedule_of(api, t["trigger_id"])["schedule_id"]: t["trigger_id"] for t in (skip, once)
    }
    _clear_of_minute_end()
    ten_minutes_ago = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=10)
    for schedule_id in by_schedule:
        _set_next_run(backend, schedule_id, ten_minutes_ago)
    # Every slot missed by more than the (zero) grace period: `skip` drops all ten and the
    # current one (already past), `run_once` fires once, as the latest missed slot.
    assert scheduler.fire_schedules(backend.db) == 1
    (job,) = jobs_of(api, "workflow.start")
    assert by_schedule[job["schedule_id"]] == once["trigger_id"]
    assert as_utc(job["scheduled_for"]) == ten_minutes_ago + timedelta(minutes=10)
    for schedule in ok(api.get("/schedules"))["items"]:
        assert as_utc(schedule["next_run_at"]) > utcnow() - timedelta(seconds=1)
    start_workflows()
    (run,) = wait_until(lambda: runs_of(api, once["trigger_id"]))
    assert run_until(api, run["run_id"], "succeeded")["trigger_kind"] == "cron"
    assert runs_of(api, skip["trigger_id"]) == []


# -- domain events ---------------------------------------------------------------------------


def test_an_event_trigger_starts_a_run_only_for_events_its_filter_accepts(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    save(api, ECHO)
    trigger = add_trigger(
        api,
        "echo",
        name="on-done",
        kind="event",
        event_type="task.status_changed",
        filter='trigger.event.payload.to == "done"',
        inputs={"topic": "{{ trigger.event.payload.title }}"},
    )
    assert trigger["event_type"] == "task.status_changed"
    start_workflows()
    writer = agent(api, "writer")
    todo = task(api, "Write the launch memo", assignee_ids=[writer["agent_id"]])
    for status in ("in_progress", "review", "in_progress", "review"):
        ok(move(api, todo["task_id"], status))
    # The trigger is checked in the unit of work that records the event: a change it accepted
    # would have its start job already.
    assert jobs_of(api, "workflow.start") == []
    ok(move(api, todo["task_id"], "done"))
    (job,) = jobs_of(api, "workflow.start")
    assert job["payload"]["trigger_id"] == trigger["trigger_id"]
    (run,) = wait_until(lambda: runs_of(api, trigger["trigger_id"]))
    done = run_until(api, run["run_id"], "succeeded", "failed")
    assert done["status"] == "succeeded", done
    assert done["trigger_kind"] == "event"
    assert done["inputs"] == {"topic": "Write the launch memo"}
    assert done["outputs"] == {"topic": "Write the launch memo"}
    # Other tasks' non-done changes start nothing either.
    other = task(api, "Tidy the backlog", assignee_ids=[writer["agent_id"]])
    ok(move(api, other["task_id"], "blocked", reason="waiting"))
    assert len(jobs_of(api, "workflow.start")) == 1
    assert [r["run_id"] for r in runs_of(api, trigger["trigger_id"])] == [run["run_id"]]


def test_a_task_done_trigger_fires_when_a_task_is_done(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    save(api, ECHO)
    trigger = add_trigger(
        api,
        "echo",
        name="task-done",
        kind="event",
        event_type="task.done",
        filter='startswith(trigger.event.payload.title, "Ship")',
        inputs={"topic": "{{ trigger.event.payload.title }}"},
    )
    start_workflows()
    writer = agent(api, "writer")
    for title in ("Ship the beta", "Sweep the floor"):
        todo = task(api, title, assignee_ids=[writer["agent_id"]])
        for status in ("in_progress", "review", "done"):
            ok(move(api, todo["task_id"], status))
    (run,) = wait_until(lambda: runs_of(api, trigger["trigger_id"]))
    done = run_until(api, run["run_id"], "succeeded")
    assert done["inputs"] == {"topic": "Ship the beta"}
    assert len(jobs_of(api, "workflow.start")) == 1


# -- overlap policies ------------------------------------------------------------------------


def _manual_brief(api: httpx.Client, overlap: str) -> str:
    save(api, BRIEF)
    trigger = add_trigger(
        api,
        "brief",
        name=f"brief-{overlap}",
        kind="manual",
        overlap=overlap,
        inputs={"topic": "Otters"},
    )
    assert trigger["overlap"] == overlap
    return str(trigger["trigger_id"])


def test_overlap_skip_starts_nothing_while_its_run_is_active(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    trigger_id = _manual_brief(api, "skip")
    start_workflows()
    first = fire(api, trigger_id)
    assert first is not None and first["trigger_kind"] == "manual"
    run_until(api, first["run_id"], "waiting")
    assert fire(api, trigger_id) is None
    assert [r["run_id"] for r in runs_of(api, trigger_id)] == [first["run_id"]]
    skipped = ok(api.get("/activities", params={"event_type": "workflow_trigger.skipped"}))
    (event,) = skipped["items"]
    assert event["subject_id"] == trigger_id
    assert event["payload"]["active_run_id"] == first["run_id"]
    # Once the run ended, the trigger starts runs again.
    decide(api, first["run_id"])
    assert run_until(api, first["run_id"], "succeeded", "failed")["status"] == "succeeded"
    second = fire(api, trigger_id)
    assert second is not None and second["run_id"] != first["run_id"]
    run_until(api, second["run_id"], "waiting")
    assert len(runs_of(api, trigger_id)) == 2


def test_overlap_skip_holds_when_a_trigger_is_fired_from_many_places_at_once(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    # Replicas, a cron catch-up and people firing by hand at the same moment: still one run.
    trigger_id = _manual_brief(api, "skip")
    callers = 6
    barrier = threading.Barrier(callers)

    def fire_together(_: int) -> dict[str, Any] | None:
        barrier.wait(timeout=10)
        return fire(api, trigger_id)

    with ThreadPoolExecutor(callers) as pool:
        answers = list(pool.map(fire_together, range(callers)))
    started = [a for a in answers if a is not None]
    assert len(started) == 1, [a["run_id"] for a in started]
    assert [r["run_id"] for r in runs_of(api, trigger_id)] == [started[0]["run_id"]]
    skipped = ok(api.get("/activities", params={"event_type": "workflow_trigger.skipped"}))
    assert len(skipped["items"]) == callers - 1
    (listed,) = ok(api.get("/workflows/brief/triggers"))
    assert listed["fired"] == 1
    start_workflows()
    run_until(api, started[0]["run_id"], "waiting")


def test_overlap_queue_holds_each_run_until_the_one_before_it_ends(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    trigger_id = _manual_brief(api, "queue")
    start_workflows()
    first = fire(api, trigger_id)
    assert first is not None
    run_until(api, first["run_id"], "waiting")
    second, third = fire(api, trigger_id), fire(api, trigger_id)
    assert second is not None and third is not None
    assert second["status"] == third["status"] == "queued"

    def barrier() -> None:
        """A run started after the queued ones reached its approval: the worker has had every
        chance to start them."""
        plain = created(api.post("/workflows/brief/runs", json={"inputs": {"topic": "Barrier"}}))
        run_until(api, plain["run_id"], "waiting")

    barrier()
    for held in (second, third):
        run = ok(api.get(f"/workflow-runs/{held['run_id']}"))
        assert run["status"] == "queued" and run["started_at"] is None and run["steps"] == []
    decide(api, first["run_id"])
    assert run_until(api, first["run_id"], "succeeded", "failed")["status"] == "succeeded"
    # The oldest queued run goes on; the next one still waits for it.
    run_until(api, second["run_id"], "waiting")
    barrier()
    assert status_of(api, third["run_id"]) == "queued"
    decide(api, second["run_id"], approved=False)  # rejected: the run ends all the same
    rejected = run_until(api, second["run_id"], "succeeded", "failed")
    assert steps(rejected)["note"]["status"] == "skipped"
    run_until(api, third["run_id"], "waiting")
    decide(api, third["run_id"])
    finished = run_until(api, third["run_id"], "succeeded", "failed")
    assert finished["status"] == "succeeded", finished
    assert [r["run_id"] for r in runs_of(api, trigger_id)] == [
        first["run_id"],
        second["run_id"],
        third["run_id"],
    ]


def test_overlap_allow_runs_them_side_by_side(
    api: httpx.Client, start_workflows: StartWorkflows
) -> None:
    trigger_id = _manual_brief(api, "allow")
    start_workflows()
    first, second = fire(api, trigger_id), fire(api, trigger_id)
    assert first is not None and second is not None
    for run in (first, second):
        waiting = run_until(api, run["run_id"], "waiting")
        assert steps(waiting)["review"]["status"] == "waiting"
    for run in (first, second):
        decide(api, run["run_id"])
    for run in (first, second):
        assert run_until(api, run["run_id"], "succeeded", "failed")["status"] == "succeeded"
    assert len(runs_of(api, trigger_id)) == 2
