"""The job queue through its service and real in-process workers, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from missionctl.common import Actor
from missionctl.db import Database, utcnow
from missionctl.engine import queue, service
from missionctl.engine.context import JobContext, LeaseLost
from missionctl.engine.schemas import JobDetail, JobFilter, JobStatus
from missionctl.errors import InvalidTransition, NotFound
from missionctl.events.schemas import EventFilter
from missionctl.events.service import list_events
from missionctl.settings import load_settings
from tests.engine.conftest import RunWorker, effects, job_status, wait_until
from tests.engine.plugin import INSERT_EFFECT, record_effect

S = JobStatus


def enqueue(
    db: Database, kind: str, payload: dict[str, object] | None = None, **options: object
) -> uuid.UUID:
    with db.transaction() as session:
        return service.enqueue(session, kind, payload, **options)  # type: ignore[arg-type]


def job(db: Database, job_id: uuid.UUID) -> JobDetail:
    with db.transaction(write=False) as session:
        return service.get_job(session, job_id)


def held_by(db: Database, job: queue.ClaimedJob, worker_id: str) -> JobContext:
    """The context a worker runs its claimed job in (30 s lease and timeout)."""
    return JobContext(
        job,
        worker_id=worker_id,
        db=db,
        settings=load_settings(secret_key="x" * 48),
        lease_seconds=30,
        timeout_seconds=30,
    )


def settles(db: Database, job_id: uuid.UUID, status: JobStatus, timeout: float = 20) -> None:
    wait_until(lambda: job_status(db, job_id) == status.value, timeout)


def test_a_job_enqueued_in_a_rolled_back_transaction_never_exists(engine_db: Database) -> None:
    with pytest.raises(RuntimeError), engine_db.transaction() as session:
        service.enqueue(session, "test.noop")
        raise RuntimeError("the change failed")
    with engine_db.transaction(write=False) as session:
        assert service.list_jobs(session, JobFilter()).items == []


def test_an_idempotency_key_enqueues_once(engine_db: Database) -> None:
    first = enqueue(engine_db, "test.noop", idempotency_key="order-42")
    second = enqueue(engine_db, "test.noop", {"other": 1}, idempotency_key="order-42")
    assert first == second
    with engine_db.transaction(write=False) as session:
        assert [j.job_id for j in service.list_jobs(session, JobFilter()).items] == [first]


def test_lower_priority_numbers_go_first_and_delayed_jobs_wait(engine_db: Database) -> None:
    late = enqueue(engine_db, "test.noop", priority=-5, delay_seconds=3600)
    normal = enqueue(engine_db, "test.noop")
    urgent = enqueue(engine_db, "test.noop", priority=-10)
    idle = enqueue(engine_db, "test.noop", priority=10)
    with engine_db.connect() as conn:
        claimed = queue.claim(conn, "w1/1", {"test.noop": 5}, 10, 30)
    assert [c.job_id for c in claimed] == [urgent, normal, idle]
    assert late not in {c.job_id for c in claimed}
    assert all(c.attempt == 1 for c in claimed)


def test_a_jobs_units_of_work_carry_its_priority(
    engine_db: Database, run_worker: RunWorker
) -> None:
    urgent = enqueue(engine_db, "test.priority", priority=-1)
    normal = enqueue(engine_db, "test.priority")
    run_worker()
    settles(engine_db, urgent, S.SUCCEEDED)
    settles(engine_db, normal, S.SUCCEEDED)
    assert (job(engine_db, urgent).result, job(engine_db, normal).result) == (-1, 0)


def test_an_uncheckpointed_step_commits_but_runs_again_on_a_retry(
    engine_db: Database, run_worker: RunWorker
) -> None:
    job_id = enqueue(engine_db, "test.uncheckpointed")
    run_worker()
    settles(engine_db, job_id, S.SUCCEEDED)
    detail = job(engine_db, job_id)
    assert detail.result == "looked"
    assert [step.step_key for step in detail.steps] == ["keep"]
    assert sorted(row[1] for row in effects(engine_db)) == ["keep", "look", "look"]


def test_a_worker_runs_jobs_and_records_results(engine_db: Database, run_worker: RunWorker) -> None:
    effect = enqueue(engine_db, "test.effect")
    stepped = enqueue(engine_db, "test.steps", {"steps": 3})
    run_worker(concurrency=2)
    settles(engine_db, effect, S.SUCCEEDED)
    settles(engine_db, stepped, S.SUCCEEDED)
    assert job(engine_db, effect).result == {"done": True}
    detail = job(engine_db, stepped)
    assert detail.result == 3
    assert [step.step_key for step in detail.steps] == ["step-0", "step-1", "step-2"]
    assert sorted(row[1] for row in effects(engine_db)) == ["effect", "step-0", "step-1", "step-2"]


def test_failures_retry_with_backoff_then_land_in_the_dead_letters(
    engine_db: Database, run_worker: RunWorker
) -> None:
    recovers = enqueue(engine_db, "test.flaky", {"succeed_on": 2})
    never = enqueue(engine_db, "test.flaky")  # its kind allows 3 attempts
    short = enqueue(engine_db, "test.flaky", max_attempts=1)  # this one, 1
    hopeless = enqueue(engine_db, "test.flaky", {"permanent": True})
    run_worker(concurrency=2)
    settles(engine_db, recovers, S.SUCCEEDED)
    settles(engine_db, never, S.DEAD)
    settles(engine_db, short, S.DEAD)
    settles(engine_db, hopeless, S.DEAD)
    assert job(engine_db, short).attempts == 1
    assert job(engine_db, recovers).attempts == 2
    dead = job(engine_db, never)
    assert dead.attempts == 3
    assert dead.last_error == "RuntimeError: flaky failure on attempt 3"
    assert "run_flaky" in (dead.last_traceback or "")
    assert job(engine_db, hopeless).attempts == 1  # no retry for a permanent failure
    with engine_db.transaction(write=False) as session:
        dead_letters = service.list_jobs(session, JobFilter(status=S.DEAD)).items
        events = list_events(session, EventFilter(event_type="job.dead")).items
    assert {j.job_id for j in dead_letters} == {never, short, hopeless}
    assert {e.subject_id for e in events} == {str(never), str(short), str(hopeless)}


def test_a_retried_dead_job_resumes_at_the_step_that_failed(
    engine_db: Database, run_worker: RunWorker
) -> None:
    job_id = enqueue(engine_db, "test.steps", {"steps": 4, "fail_at": 2}, max_attempts=2)
    run_worker(concurrency=1)
    settles(engine_db, job_id, S.DEAD)
    assert sorted(row[1] for row in effects(engine_db)) == ["step-0", "step-1"]
    with engine_db.transaction() as session:  # someone fixes the cause, then replays the job
        session.execute(
            INSERT_EFFECT,
            {"job_id": str(job_id), "step": "fixed", "worker": "test", "attempt": 0, "at": 0},
        )
        service.retry_job(session, job_id, actor=Actor.user())
    settles(engine_db, job_id, S.SUCCEEDED)
    steps = sorted(row[1] for row in effects(engine_db) if row[1] != "fixed")
    assert steps == ["step-0", "step-1", "step-2", "step-3"]  # each exactly once
    assert job(engine_db, job_id).attempts == 1


def test_cancelling_a_waiting_and_a_running_job(engine_db: Database, run_worker: RunWorker) -> None:
    waiting = enqueue(engine_db, "test.slow", {"seconds": 1}, delay_seconds=3600)
    running = enqueue(engine_db, "test.slow", {"seconds": 30})
    run_worker(concurrency=1, lease_seconds=0.6)
    settles(engine_db, running, S.RUNNING)
    with engine_db.transaction() as session:
        assert service.cancel_job(session, waiting, actor=Actor.user()).status is S.CANCELLED
        asked = service.cancel_job(session, running, actor=Actor.user())
    assert asked.status is S.RUNNING and asked.cancel_requested
    settles(engine_db, running, S.CANCELLED, timeout=10)  # noticed at the lease renewal
    assert effects(engine_db) == []


def test_discarding_and_refused_actions(engine_db: Database, run_worker: RunWorker) -> None:
    dead = enqueue(engine_db, "test.flaky", {"permanent": True})
    done = enqueue(engine_db, "test.noop")
    run_worker(concurrency=1)
    settles(engine_db, dead, S.DEAD)
    settles(engine_db, done, S.SUCCEEDED)
    with engine_db.transaction() as session:
        assert service.discard_job(session, dead, actor=Actor.user()).status is S.DISCARDED
    with pytest.raises(InvalidTransition), engine_db.transaction() as session:
        service.retry_job(session, done, actor=Actor.user())
    with pytest.raises(InvalidTransition), engine_db.transaction() as session:
        service.discard_job(session, done, actor=Actor.user())
    with pytest.raises(NotFound), engine_db.transaction() as session:
        service.cancel_job(session, uuid.uuid4(), actor=Actor.user())


def test_a_kind_runs_at_most_its_concurrency_across_workers(
    engine_db: Database, run_worker: RunWorker
) -> None:
    ids = [enqueue(engine_db, "test.limited", {"sleep": 0.1}) for _ in range(8)]
    run_worker(concurrency=4)
    run_worker(concurrency=4)
    for job_id in ids:
        settles(engine_db, job_id, S.SUCCEEDED)
    marks = sorted((row[4], row[1]) for row in _timed_effects(engine_db))
    running = peak = 0
    for _at, what in marks:
        running += 1 if what == "start" else -1
        peak = max(peak, running)
    assert peak == 2


def _timed_effects(db: Database) -> list[tuple[str, str, str, int, float]]:
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT job_id, step, worker, attempt, at FROM test_effects")
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def test_a_lapsed_lease_is_reaped_and_the_old_holder_is_fenced_out(engine_db: Database) -> None:
    job_id = enqueue(engine_db, "test.steps", {"steps": 1}, max_attempts=3)
    with engine_db.connect() as conn:
        [stale] = queue.claim(conn, "worker-a/1", {"test.steps": 5}, 1, lease_seconds=0.05)
    wait_until(lambda: utcnow() > stale_deadline(engine_db, job_id))
    with engine_db.connect() as conn:
        reaped = queue.reap(conn, {}, default=5)
    assert [(r.job_id, r.status) for r in reaped] == [(job_id, S.QUEUED)]
    with engine_db.connect() as conn:
        [fresh] = queue.claim(conn, "worker-b/1", {"test.steps": 5}, 1, lease_seconds=30)
    assert fresh.attempt == 2
    with engine_db.connect() as conn:  # worker A comes back: every write it tries is refused
        assert not queue.fence(conn, stale, 30)
        assert not queue.finish(conn, stale, S.SUCCEEDED)
    context = held_by(engine_db, stale, "worker-a")
    with pytest.raises(LeaseLost):
        context.step("step-0", lambda session: None)
    with engine_db.connect() as conn:
        assert queue.finish(conn, fresh, S.SUCCEEDED)
    assert job_status(engine_db, job_id) == "succeeded"


def test_renewing_leases_does_not_wait_for_a_job_in_its_own_unit_of_work(
    engine_db: Database,
) -> None:
    """A job whose row is locked (its step is committing, and fences its own lease) counts as
    held and is left to that step: the renewal neither waits for it nor blocks other jobs."""
    enqueue(engine_db, "test.noop")
    enqueue(engine_db, "test.noop")
    with engine_db.connect() as conn:
        held = queue.claim(conn, "worker-a/1", {"test.noop": 5}, 2, lease_seconds=30)
    busy, free = sorted(held, key=lambda claimed: claimed.job_id)
    if engine_db.is_sqlite:  # one writer at a time: no other transaction can hold the row
        with engine_db.connect() as conn:
            assert queue.renew(conn, held, 60) == {busy.job_id: False, free.job_id: False}
        assert stale_deadline(engine_db, busy.job_id) > utcnow() + timedelta(seconds=45)
        return
    # The step's unit of work holds the row to commit (a connection of its own: past this
    # process's write lock, as if in another process).
    with engine_db.engine.begin() as step:
        assert queue.fence(step, busy, 30)
        with engine_db.connect() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert queue.renew(conn, held, 60) == {busy.job_id: False, free.job_id: False}
    assert stale_deadline(engine_db, free.job_id) > utcnow() + timedelta(seconds=45)
    assert stale_deadline(engine_db, busy.job_id) < utcnow() + timedelta(seconds=31)


def test_a_claim_says_whether_an_earlier_attempt_checkpointed_steps(engine_db: Database) -> None:
    """A first attempt knows from its claim that it has no steps to read back; a job handed
    back after a checkpoint reads them (and skips the finished step)."""
    job_id = enqueue(engine_db, "test.steps", {"steps": 2})
    with engine_db.connect() as conn:
        [first] = queue.claim(conn, "worker-a/1", {"test.steps": 5}, 1, lease_seconds=30)
    assert not first.has_steps
    context = held_by(engine_db, first, "worker-a")
    assert context.finished_steps == {}
    assert context.step("step-0", lambda session: {"n": 0}) == {"n": 0}
    with engine_db.connect() as conn:
        assert queue.release(conn, [first]) == 1
        [again] = queue.claim(conn, "worker-b/1", {"test.steps": 5}, 1, lease_seconds=30)
    assert again.job_id == job_id and again.has_steps
    resumed = held_by(engine_db, again, "worker-b")
    assert resumed.step("step-0", lambda session: {"n": "ran again"}) == {"n": 0}


def stale_deadline(db: Database, job_id: uuid.UUID) -> datetime:
    return job(db, job_id).lease_expires_at or utcnow() + timedelta(days=1)


def test_a_job_out_of_attempts_when_its_lease_lapses_is_dead(engine_db: Database) -> None:
    own = enqueue(engine_db, "test.noop", max_attempts=1)  # its own limit
    by_kind = enqueue(engine_db, "test.once")  # its kind's limit: one attempt
    with engine_db.connect() as conn:
        queue.claim(conn, "worker-a/1", {"test.noop": 5, "test.once": 1}, 2, lease_seconds=0.05)
    wait_until(lambda: utcnow() > stale_deadline(engine_db, own))
    with engine_db.connect() as conn:
        reaped = queue.reap(conn, {"test.once": 1}, default=5)
    assert {(r.job_id, r.status) for r in reaped} == {(own, S.DEAD), (by_kind, S.DEAD)}
    for job_id in (own, by_kind):
        detail = job(engine_db, job_id)
        assert detail.status is S.DEAD and "lease expired" in (detail.last_error or "")


def test_stop_releases_running_jobs_and_another_worker_finishes_them(
    engine_db: Database, run_worker: RunWorker
) -> None:
    ids = [enqueue(engine_db, "test.slow", {"seconds": 2}) for _ in range(2)]
    first = run_worker(concurrency=2)
    for job_id in ids:
        settles(engine_db, job_id, S.RUNNING)
    released = first.stop(grace_seconds=0.1)
    assert released == 2
    for job_id in ids:
        detail = job(engine_db, job_id)
        assert detail.status is S.QUEUED and detail.attempts == 0 and detail.lease_owner is None
    run_worker(concurrency=2)
    for job_id in ids:
        settles(engine_db, job_id, S.SUCCEEDED)
    # The first worker's threads ran on past the stop, but could not record their effect.
    assert sorted(row[0] for row in effects(engine_db)) == sorted(str(i) for i in ids)


def test_stop_lets_running_jobs_finish_within_the_grace_period(
    engine_db: Database, run_worker: RunWorker
) -> None:
    job_id = enqueue(engine_db, "test.slow", {"seconds": 0.3})
    worker = run_worker(concurrency=1)
    settles(engine_db, job_id, S.RUNNING)
    wait_until(lambda: worker.executing == 1)  # claimed is not yet started; that one is released
    assert worker.stop(grace_seconds=10) == 0
    assert job_status(engine_db, job_id) == "succeeded"


def test_an_attempt_past_its_timeout_fails(engine_db: Database, run_worker: RunWorker) -> None:
    job_id = enqueue(engine_db, "test.timeout", {"seconds": 5}, max_attempts=1)
    run_worker(concurrency=1)
    settles(engine_db, job_id, S.DEAD)
    assert "ran past its timeout" in (job(engine_db, job_id).last_error or "")


class _Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg's DeadlockDetected carries


def test_a_step_chosen_as_a_deadlock_victim_runs_again_and_commits_once(
    engine_db: Database,
) -> None:
    enqueue(engine_db, "test.steps", {"steps": 1})
    with engine_db.connect() as conn:
        [claimed] = queue.claim(conn, "worker-a/1", {"test.steps": 5}, 1, lease_seconds=30)
    context = held_by(engine_db, claimed, "worker-a")
    runs: list[int] = []

    def step(session: Session) -> int:
        runs.append(len(runs))
        record_effect(session, context, "step-0")
        if len(runs) < 3:  # the database undid it twice
            raise OperationalError("UPDATE …", {}, _Deadlock())
        return len(runs)

    assert context.step("step-0", step) == 3
    assert [row[1] for row in effects(engine_db)] == ["step-0"]  # two rolled back, one kept
    with pytest.raises((OperationalError, ProgrammingError)):  # anything else fails as before
        context.step("step-1", lambda session: session.execute(text("SELECT * FROM nowhere")))
