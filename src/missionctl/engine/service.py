"""Job use cases: enqueue in the caller's transaction; list, inspect, retry, cancel, discard.

`enqueue` only adds a row to the caller's unit of work, so a change and the jobs it causes commit
together or not at all. When such a unit of work commits, the jobs signal wakes this process's
workers, and on PostgreSQL a NOTIFY (sent by the same commit) wakes every other process's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from missionctl.audit.service import record_audit
from missionctl.common import Actor, Page, decode_uuid_cursor, split_page
from missionctl.db import Staged, delete_some, new_id, tenant_of, utcnow
from missionctl.engine import policy
from missionctl.engine.models import FINISHED_PREDICATE, READY_PREDICATE, JobRow, JobStepRow
from missionctl.engine.schemas import (
    Job,
    JobCount,
    JobDetail,
    JobFilter,
    JobStatus,
    JobStep,
    JobSummary,
)
from missionctl.errors import InvalidInput, InvalidTransition, NotFound
from missionctl.events.service import record_event
from missionctl.signals import JOBS

JOB_TABLE = cast(Table, JobRow.__table__)
_ENQUEUED = "missionctl.enqueued_jobs"


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to enqueue."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    priority: int = 0
    run_at: datetime | None = None
    max_attempts: int | None = None  # None: the kind's default
    idempotency_key: str | None = None
    tenant_id: uuid.UUID | None = None  # the session's tenant when None
    schedule_id: uuid.UUID | None = None
    scheduled_for: datetime | None = None


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    priority: int = 0,
    run_at: datetime | None = None,
    delay_seconds: float = 0.0,
    max_attempts: int | None = None,
    idempotency_key: str | None = None,
    tenant_id: uuid.UUID | None = None,
    schedule_id: uuid.UUID | None = None,
    scheduled_for: datetime | None = None,
) -> uuid.UUID:
    """Add a job to the caller's unit of work and return its id.

    With an `idempotency_key`, enqueueing the same key again in the tenant returns the first
    job's id and adds nothing. `max_attempts` overrides the kind's own maximum.
    """
    when = run_at or utcnow()
    if delay_seconds:
        when += timedelta(seconds=delay_seconds)
    job = NewJob(
        kind,
        payload or {},
        priority,
        when,
        max_attempts,
        idempotency_key,
        tenant_id,
        schedule_id,
        scheduled_for,
    )
    return _insert(session, job)


def enqueue_many(session: Session, new_jobs: Sequence[NewJob]) -> int:
    """Add many jobs in one statement (no idempotency keys); the number added."""
    if any(job.idempotency_key for job in new_jobs):
        raise ValueError("enqueue_many takes no idempotency keys; use enqueue")
    if not new_jobs:
        return 0
    now = utcnow()
    rows = [_values(session, job, now) for job in new_jobs]
    session.execute(JOB_TABLE.insert(), rows)
    _mark_enqueued(session)
    return len(rows)


def _values(session: Session, job: NewJob, now: datetime) -> dict[str, Any]:
    if job.max_attempts is not None and job.max_attempts < 1:
        raise InvalidInput("max_attempts must be at least 1", field="max_attempts")
    return {
        "job_id": new_id(),
        "tenant_id": job.tenant_id or tenant_of(session),
        "kind": job.kind,
        "payload": job.payload,
        "status": JobStatus.QUEUED.value,
        "priority": job.priority,
        "run_at": job.run_at or now,
        "attempts": 0,
        "max_attempts": job.max_attempts,
        "idempotency_key": job.idempotency_key,
        "cancel_requested": False,
        "created_at": now,
        "schedule_id": job.schedule_id,
        "scheduled_for": job.scheduled_for,
    }


_INSERT_JOB = JOB_TABLE.insert()


def _insert(session: Session, job: NewJob) -> uuid.UUID:
    values = _values(session, job, utcnow())
    if job.idempotency_key is None:
        session.connection().execute(_INSERT_JOB, values)  # built once: every turn enqueues
        _mark_enqueued(session)
        return values["job_id"]  # type: ignore[no-any-return]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    inserted = session.scalar(
        dialect.insert(JOB_TABLE)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
        .returning(JOB_TABLE.c.job_id)
    )
    if inserted is not None:
        _mark_enqueued(session)
        return inserted  # type: ignore[no-any-return]
    existing = session.scalar(
        select(JobRow.job_id)
        .where(
            JobRow.tenant_id == values["tenant_id"], JobRow.idempotency_key == job.idempotency_key
        )
        .execution_options(all_tenants=True)
    )
    assert existing is not None
    return existing


def _mark_enqueued(session: Session) -> None:
    session.info[_ENQUEUED] = True


@sa_event.listens_for(Session, "before_commit")
def _notify_workers(session: Session) -> None:
    if not Staged.is_final_commit(session):
        return
    if session.info.get(_ENQUEUED) and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": JOBS})


@sa_event.listens_for(Session, "after_commit")
def _signal_workers(session: Session) -> None:
    if session.info.pop(_ENQUEUED, False) and (signals := session.info.get("signals")):
        signals.raise_(JOBS)


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_enqueued(session: Session, transaction: SessionTransaction) -> None:
    if not transaction.nested:  # a savepoint's rollback keeps what was enqueued before it
        session.info.pop(_ENQUEUED, None)


def _row(session: Session, job_id: uuid.UUID, *, for_update: bool = False) -> JobRow:
    query = select(JobRow).where(JobRow.job_id == job_id)
    row = session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound("job", job_id)
    return row


PENDING_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.FAILED.value)


def is_job_pending(session: Session, job_id: uuid.UUID) -> bool:
    """Whether the job may still run: queued, running, or failed and waiting for a retry."""
    return job_status(session, job_id) in PENDING_STATUSES


def job_status(session: Session, job_id: uuid.UUID) -> str | None:
    """The job's status (a `JobStatus` value), or None when there is no such job."""
    return session.scalar(select(JobRow.status).where(JobRow.job_id == job_id))


def get_job(session: Session, job_id: uuid.UUID) -> JobDetail:
    """The job with its result, traceback and finished steps, or `NotFound`."""
    row = _row(session, job_id)
    steps = session.scalars(
        select(JobStepRow)
        .where(JobStepRow.job_id == job_id)
        .order_by(JobStepRow.finished_at, JobStepRow.step_key)
    )
    return JobDetail.model_validate(
        {
            **Job.model_validate(row).model_dump(),
            "result": row.result,
            "last_traceback": row.last_traceback,
            "steps": [JobStep.model_validate(step) for step in steps],
        }
    )


def list_jobs(session: Session, job_filter: JobFilter) -> Page[Job]:
    """A page of jobs, newest first, by state and kind."""
    query = select(JobRow)
    if job_filter.status is not None:
        query = query.where(JobRow.status == job_filter.status.value)
    if job_filter.kind:
        query = query.where(JobRow.kind == job_filter.kind)
    if job_filter.cursor:
        query = query.where(JobRow.job_id < decode_uuid_cursor(job_filter.cursor))
    rows = session.scalars(query.order_by(JobRow.job_id.desc()).limit(job_filter.limit + 1)).all()
    page, next_cursor = split_page(rows, job_filter.limit, lambda row: row.job_id)
    return Page[Job](items=[Job.model_validate(row) for row in page], next_cursor=next_cursor)


def summarize_jobs(session: Session) -> JobSummary:
    """Jobs by kind and state, and how long the oldest ready job has waited."""
    counts = session.execute(
        select(JobRow.kind, JobRow.status, func.count())
        .group_by(JobRow.kind, JobRow.status)
        .order_by(JobRow.kind, JobRow.status)
    )
    oldest = session.scalar(
        select(func.min(JobRow.run_at)).where(text(READY_PREDICATE), JobRow.run_at <= utcnow())
    )
    return JobSummary(
        counts=[JobCount(kind=kind, status=status, count=count) for kind, status, count in counts],
        oldest_ready_at=oldest,
    )


def _act(
    session: Session,
    row: JobRow,
    action: str,
    actor: Actor,
    allowed_from: frozenset[JobStatus],
    target: JobStatus,
) -> None:
    current = JobStatus(row.status)
    if current not in allowed_from:
        raise InvalidTransition("job", current.value, target.value, sorted(allowed_from))
    record_audit(
        session,
        f"job.{action}",
        actor=actor,
        tenant_id=row.tenant_id,
        subject_kind="job",
        subject_id=row.job_id,
        details={"kind": row.kind, "from": current.value},
    )
    record_event(
        session,
        f"job.{action}",
        actor=actor,
        subject_kind="job",
        subject_id=row.job_id,
        summary=f"Job {row.kind} {action} (was {current.value})",
        payload={"kind": row.kind, "from": current.value},
    )


def retry_job(session: Session, job_id: uuid.UUID, *, actor: Actor) -> Job:
    """Run a failed, dead, cancelled or discarded job again now, with a fresh set of attempts.

    Its finished steps stay: the retry resumes at the step that failed.
    """
    row = _row(session, job_id, for_update=True)
    _act(session, row, "retried", actor, policy.RETRYABLE, JobStatus.QUEUED)
    row.status = JobStatus.QUEUED.value
    row.attempts = 0
    row.run_at = utcnow()
    row.cancel_requested = False
    row.finished_at = None
    session.flush()
    _mark_enqueued(session)
    return Job.model_validate(row)


def cancel_job(session: Session, job_id: uuid.UUID, *, actor: Actor) -> Job:
    """Cancel a waiting job at once; ask a running one to stop at its next step."""
    row = _row(session, job_id, for_update=True)
    _act(session, row, "cancelled", actor, policy.CANCELLABLE, JobStatus.CANCELLED)
    if row.status == JobStatus.RUNNING.value:
        row.cancel_requested = True
    else:
        row.status = JobStatus.CANCELLED.value
        row.finished_at = utcnow()
    session.flush()
    return Job.model_validate(row)


def discard_job(session: Session, job_id: uuid.UUID, *, actor: Actor) -> Job:
    """Take a dead (or failing) job off the dead-letter list without running it again."""
    row = _row(session, job_id, for_update=True)
    _act(session, row, "discarded", actor, policy.DISCARDABLE, JobStatus.DISCARDED)
    row.status = JobStatus.DISCARDED.value
    row.finished_at = utcnow()
    session.flush()
    return Job.model_validate(row)


def record_dead(session: Session, job_id: uuid.UUID, kind: str, error: str | None) -> None:
    """Raise the `job.dead` event for a job that just ran out of attempts (job's tenant)."""
    record_event(
        session,
        "job.dead",
        actor=Actor.system(),
        subject_kind="job",
        subject_id=job_id,
        summary=f"Job {kind} failed for good: {(error or 'no error recorded')[:200]}",
        payload={"kind": kind, "error": (error or "")[:2000]},
    )


def purge_finished_jobs(session: Session, before: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` jobs of every tenant that finished before `before` (retention).

    Dead jobs stay until someone retries or discards them.
    """
    return delete_some(
        session, JobRow.job_id, text(FINISHED_PREDICATE), JobRow.finished_at < before, limit=limit
    )
