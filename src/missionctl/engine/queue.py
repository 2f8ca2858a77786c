"""The queue's hot path: claim, fence, finish, renew, release and reap jobs.

Statements are SQLAlchemy Core, built once, run on the caller's connection (no ORM, no session:
a worker moves thousands of jobs a second, and a job's own units of work pass
`session.connection()`). A claim is one statement on both databases: the ready jobs are picked in a
materialised CTE (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent claimers skip each
other's rows; SQLite writers are serialised anyway) and leased by the UPDATE around it.

A lease is its `lease_owner`, unique to one claim (`<worker id>/<claim number>`): every write a
worker makes for a job it holds — a step's checkpoint, its result — first checks it in the same
transaction (`fence`). A worker whose lease lapsed, and whose job the reaper handed on, therefore
cannot write anything more for it, even if the job later comes back to the same worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, exists, func, select, text, update

from missionctl.db import utcnow
from missionctl.engine.models import READY_PREDICATE, RUNNING_PREDICATE, JobRow, JobStepRow
from missionctl.engine.schemas import JobStatus

jobs = cast(Table, JobRow.__table__)
steps = cast(Table, JobStepRow.__table__)
S = JobStatus


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker holds a lease on."""

    job_id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    lease_owner: str  # unique to this claim: the lease
    attempt: int  # this attempt's number, 1-based
    max_attempts: int
    priority: int
    run_at: datetime
    cancel_requested: bool
    scheduled_for: datetime | None = None  # the firing, for jobs a schedule enqueued
    has_steps: bool = True  # whether an earlier attempt checkpointed steps (read them first)


@dataclass(frozen=True, slots=True)
class ReapedJob:
    """A job whose lease lapsed, and what became of it."""

    job_id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    lease_owner: str | None
    status: JobStatus


_CLAIMED_COLUMNS = (
    jobs.c.job_id,
    jobs.c.tenant_id,
    jobs.c.kind,
    jobs.c.payload,
    jobs.c.attempts,
    jobs.c.max_attempts,
    jobs.c.priority,
    jobs.c.run_at,
    jobs.c.cancel_requested,
    jobs.c.scheduled_for,
    # Read with the claim: a first attempt (most jobs) then never reads its steps.
    exists().where(steps.c.job_id == jobs.c.job_id).label("has_steps"),
)


def is_postgres(conn: Connection) -> bool:
    """True on PostgreSQL."""
    return conn.dialect.name == "postgresql"


def claim(
    conn: Connection,
    lease_owner: str,
    kinds: Mapping[str, int],
    limit: int,
    lease_seconds: float,
    limits: Mapping[str, int] | None = None,
) -> list[ClaimedJob]:
    """Lease up to `limit` ready jobs of `kinds`: lowest priority number first, then oldest.

    `kinds` maps each kind to its maximum attempts, for jobs enqueued without their own.

    Kinds in `limits` never run more than their limit at once across every worker: they are
    claimed one kind at a time after counting what runs (under an advisory lock per kind on
    PostgreSQL, so two workers cannot both take the last slot).
    """
    limits = limits or {}
    if is_postgres(conn):
        # Without fresh statistics (a new table, a burst of jobs) the planner picks a bitmap scan
        # and sorts every ready job on each claim (15 ms at 20,000 queued); walking the partial
        # index in order stops after `limit` rows (1 ms). This transaction only.
        conn.execute(_ORDERED_SCAN)
    now = utcnow()
    lease_until = now + timedelta(seconds=lease_seconds)
    free = [kind for kind in kinds if kind not in limits]
    claimed = _claim(conn, lease_owner, free, limit, now, lease_until, kinds) if free else []
    for kind, cap in limits.items():
        if kind not in kinds or len(claimed) >= limit:
            continue
        if is_postgres(conn):
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"mc.kind:{kind}"}
            )
        running = conn.scalar(
            select(func.count())
            .select_from(jobs)
            .where(text(RUNNING_PREDICATE), jobs.c.kind == kind)
        )
        slots = min(cap - (running or 0), limit - len(claimed))
        if slots > 0:
            claimed += _claim(conn, lease_owner, [kind], slots, now, lease_until, kinds)
    claimed.sort(key=lambda job: (job.priority, job.run_at))
    return claimed


_ORDERED_SCAN = text("SET LOCAL enable_bitmapscan = off")
_PICKED = (
    select(jobs.c.job_id)
    .where(
        text(READY_PREDICATE),
        jobs.c.run_at <= bindparam("now"),
        jobs.c.kind.in_(bindparam("kinds", expanding=True)),
    )
    .order_by(jobs.c.priority, jobs.c.run_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
    .cte("picked")
    .prefix_with("MATERIALIZED")
)
_CLAIM = (
    update(jobs)
    .where(jobs.c.job_id.in_(select(_PICKED.c.job_id)))
    .values(
        status=S.RUNNING.value,
        attempts=jobs.c.attempts + 1,
        lease_owner=bindparam("owner"),
        lease_expires_at=bindparam("lease_until"),
        started_at=bindparam("now"),
    )
    .returning(*_CLAIMED_COLUMNS)
)


def _claim(
    conn: Connection,
    lease_owner: str,
    kinds: Sequence[str],
    limit: int,
    now: datetime,
    lease_until: datetime,
    max_attempts: Mapping[str, int],
) -> list[ClaimedJob]:
    params = {
        "now": now,
        "kinds": list(kinds),
        "limit": limit,
        "owner": lease_owner,
        "lease_until": lease_until,
    }
    return [
        ClaimedJob(
            job_id=row.job_id,
            tenant_id=row.tenant_id,
            kind=row.kind,
            payload=row.payload,
            lease_owner=lease_owner,
            attempt=row.attempts,
            max_attempts=row.max_attempts or max_attempts[row.kind],
            priority=row.priority,
            run_at=row.run_at,
            cancel_requested=row.cancel_requested,
            scheduled_for=row.scheduled_for,
            has_steps=bool(row.has_steps),
        )
        for row in conn.execute(_CLAIM, params)
    ]


# Statements are built once: building and keying a Core statement costs more than running it.
_HELD = (
    (jobs.c.job_id == bindparam("held_job_id"))
    & (jobs.c.status == S.RUNNING.value)
    & (jobs.c.lease_owner == bindparam("held_owner"))
)
_FENCE = update(jobs).where(_HELD).values(lease_expires_at=bindparam("lease_until"))


def _finishing(status: JobStatus, **values: Any) -> Any:
    """The fenced UPDATE that ends an attempt in `status`, releasing its lease."""
    return (
        update(jobs)
        .where(_HELD)
        .values(status=status.value, lease_owner=None, lease_expires_at=None, **values)
    )


_FINISH = {
    S.SUCCEEDED: _finishing(S.SUCCEEDED, result=bindparam("result"), finished_at=bindparam("now")),
    S.FAILED: _finishing(
        S.FAILED,
        run_at=bindparam("retry_at"),
        last_error=bindparam("error"),
        last_traceback=bindparam("traceback"),
    ),
    S.DEAD: _finishing(
        S.DEAD,
        finished_at=bindparam("now"),
        last_error=bindparam("error"),
        last_traceback=bindparam("traceback"),
    ),
    S.CANCELLED: _finishing(S.CANCELLED, finished_at=bindparam("now")),
}
_SAVE_STEP = steps.insert()
# PostgreSQL: the fence and the checkpoint in one statement (one round trip fewer per step).
_FENCED = _FENCE.returning(jobs.c.job_id).cte("fenced")
_FENCE_AND_SAVE_STEP = (
    steps.insert()
    .from_select(
        ["job_id", "step_key", "result", "attempt", "finished_at", "tenant_id"],
        select(
            _FENCED.c.job_id,
            bindparam("s_key", type_=steps.c.step_key.type),
            bindparam("s_result", type_=steps.c.result.type),
            bindparam("s_attempt", type_=steps.c.attempt.type),
            bindparam("s_finished_at", type_=steps.c.finished_at.type),
            bindparam("s_tenant_id", type_=steps.c.tenant_id.type),
        ),
    )
    .returning(steps.c.job_id)
)  # (psycopg reports no row count for a statement that is a WITH)


def _held(job: ClaimedJob) -> dict[str, Any]:
    return {"held_job_id": job.job_id, "held_owner": job.lease_owner}


def fence(conn: Connection, job: ClaimedJob, lease_seconds: float) -> bool:
    """Check in this transaction that the worker still holds the job, and extend its lease.

    On PostgreSQL this also locks the job's row until commit, so the reaper cannot hand the job
    on while the transaction that checked is still writing.
    """
    lease_until = utcnow() + timedelta(seconds=lease_seconds)
    result = conn.execute(_FENCE, {**_held(job), "lease_until": lease_until})
    return result.rowcount == 1


def finish(
    conn: Connection,
    job: ClaimedJob,
    status: JobStatus,
    *,
    result: Any = None,
    error: str | None = None,
    traceback: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record how the worker's attempt ended; False if it no longer held the job."""
    now = utcnow()
    params = {
        **_held(job),
        "now": now,
        "result": result,
        "retry_at": retry_at or now,
        "error": error,
        "traceback": traceback,
    }
    outcome = conn.execute(_FINISH[status], params)
    return outcome.rowcount == 1


def finish_many(conn: Connection, succeeded: Sequence[tuple[ClaimedJob, Any]]) -> int:
    """Record many successes in one statement; how many the worker still held.

    Rows are updated in job id order, the order `renew` locks them in, so the two cannot
    deadlock (PostgreSQL).
    """
    now = utcnow()
    ordered = sorted(succeeded, key=lambda pair: pair[0].job_id)
    outcome = conn.execute(
        _FINISH[S.SUCCEEDED],
        [{**_held(job), "now": now, "result": result} for job, result in ordered],
    )
    return outcome.rowcount


def _leases(held: Collection[ClaimedJob]) -> tuple[list[uuid.UUID], list[str]]:
    return [job.job_id for job in held], sorted({job.lease_owner for job in held})


def renew(
    conn: Connection, held: Collection[ClaimedJob], lease_seconds: float
) -> dict[uuid.UUID, bool]:
    """Extend the leases still held; job id → cancellation requested (missing: lease lost).

    On PostgreSQL a job whose row another transaction has locked is skipped, and counted as
    held: that transaction is the job's own unit of work (its fence extends the lease), its
    end, or a short cancellation request; the next renewal reads it. Waiting for it instead
    would hold the locks already taken meanwhile, and stall every other job's unit of work.
    """
    if not held:
        return {}
    job_ids, owners = _leases(held)
    lease_until = utcnow() + timedelta(seconds=lease_seconds)
    skipped: set[uuid.UUID] = set()
    if conn.dialect.name == "postgresql":  # lock in job id order first (see finish_many)
        locked = set(
            conn.scalars(
                select(jobs.c.job_id)
                .where(jobs.c.job_id.in_(job_ids))
                .order_by(jobs.c.job_id)
                .with_for_update(skip_locked=True)
            )
        )
        skipped = set(job_ids) - locked
        job_ids = [job_id for job_id in job_ids if job_id in locked]
        if not job_ids:
            return dict.fromkeys(skipped, False)
    rows = conn.execute(
        update(jobs)
        .where(
            jobs.c.job_id.in_(job_ids),
            jobs.c.lease_owner.in_(owners),
            jobs.c.status == S.RUNNING.value,
        )
        .values(lease_expires_at=lease_until)
        .returning(jobs.c.job_id, jobs.c.cancel_requested)
    )
    return {**dict.fromkeys(skipped, False), **{row.job_id: row.cancel_requested for row in rows}}


def release(conn: Connection, held: Collection[ClaimedJob]) -> int:
    """Hand held jobs back to the queue, as if never claimed (shutdown)."""
    if not held:
        return 0
    job_ids, owners = _leases(held)
    result = conn.execute(
        update(jobs)
        .where(
            jobs.c.job_id.in_(job_ids),
            jobs.c.lease_owner.in_(owners),
            jobs.c.status == S.RUNNING.value,
        )
        .values(
            status=S.QUEUED.value,
            attempts=jobs.c.attempts - 1,
            lease_owner=None,
            lease_expires_at=None,
            run_at=utcnow(),
        )
    )
    return result.rowcount


def reap(
    conn: Connection, max_attempts: Mapping[str, int], default: int, limit: int = 500
) -> list[ReapedJob]:
    """Return jobs whose lease lapsed to the queue, or to the dead letters when out of attempts.

    A lapsed lease counts as a failed attempt, so a job that kills every worker that runs it
    ends in the dead-letter list instead of looping. `max_attempts` maps kinds to their maximum
    (`default` for kinds not known here), for jobs enqueued without their own.
    """
    now = utcnow()
    expired = conn.execute(
        select(
            jobs.c.job_id,
            jobs.c.tenant_id,
            jobs.c.kind,
            jobs.c.attempts,
            jobs.c.max_attempts,
            jobs.c.lease_owner,
        )
        .where(text(RUNNING_PREDICATE), jobs.c.lease_expires_at < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    reaped: list[ReapedJob] = []
    for row in expired:
        allowed = row.max_attempts or max_attempts.get(row.kind, default)
        status = S.QUEUED if row.attempts < allowed else S.DEAD
        error = (
            f"lease expired: worker {row.lease_owner} stopped renewing it (attempt {row.attempts})"
        )
        values: dict[str, Any] = {
            "status": status.value,
            "lease_owner": None,
            "lease_expires_at": None,
            "last_error": error,
            "last_traceback": None,
        }
        values |= {"finished_at": now} if status is S.DEAD else {"run_at": now}
        conn.execute(
            update(jobs)
            .where(
                jobs.c.job_id == row.job_id,
                jobs.c.status == S.RUNNING.value,
                jobs.c.lease_expires_at < now,
            )
            .values(**values)
        )
        reaped.append(ReapedJob(row.job_id, row.tenant_id, row.kind, row.lease_owner, status))
    return reaped


def next_lease_expiry(conn: Connection) -> datetime | None:
    """When the soonest lease of a running job lapses."""
    soonest: datetime | None = conn.scalar(
        select(func.min(jobs.c.lease_expires_at)).where(text(RUNNING_PREDICATE))
    )
    return soonest


def next_ready_at(conn: Connection, kinds: Collection[str]) -> datetime | None:
    """When the soonest waiting job of `kinds` becomes ready (it may be now)."""
    if not kinds:
        return None
    soonest: datetime | None = conn.scalar(_SOONEST, {"kinds": list(kinds)})
    return soonest


_SOONEST = select(func.min(jobs.c.run_at)).where(
    text(READY_PREDICATE), jobs.c.kind.in_(bindparam("kinds", expanding=True))
)


def load_steps(conn: Connection, job_id: uuid.UUID) -> dict[str, Any]:
    """The finished steps of a job: step key → result."""
    rows = conn.execute(select(steps.c.step_key, steps.c.result).where(steps.c.job_id == job_id))
    return {row.step_key: row.result for row in rows}


def fence_and_save_step(
    conn: Connection, job: ClaimedJob, lease_seconds: float, step_key: str, result: Any
) -> bool:
    """`fence`, then `save_step` if the worker still holds the job: the step's effects commit
    only with its checkpoint, and only while the job is held. Last in a step's unit of work,
    so the job's row is locked (PostgreSQL) only for the commit."""
    now = utcnow()
    if not is_postgres(conn):
        if not fence(conn, job, lease_seconds):
            return False
        save_step(conn, job, step_key, result, now)
        return True
    saved = conn.execute(
        _FENCE_AND_SAVE_STEP,
        {
            **_held(job),
            "lease_until": now + timedelta(seconds=lease_seconds),
            "s_key": step_key,
            "s_result": result,
            "s_attempt": job.attempt,
            "s_finished_at": now,
            "s_tenant_id": job.tenant_id,
        },
    )
    return saved.first() is not None


def save_step(
    conn: Connection, job: ClaimedJob, step_key: str, result: Any, finished_at: datetime
) -> None:
    """Checkpoint a finished step (in the transaction that made its effects)."""
    conn.execute(
        _SAVE_STEP,
        {
            "job_id": job.job_id,
            "tenant_id": job.tenant_id,
            "step_key": step_key,
            "result": result,
            "attempt": job.attempt,
            "finished_at": finished_at,
        },
    )
