"""Engine schemas: jobs, steps, schedules and engine processes."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from missionctl.common import PageLimit, QueryModel, Schema, StoredUTC

KIND_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
MAX_PRIORITY = 100


class JobStatus(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"  # waiting for a worker (at or after run_at)
    RUNNING = "running"  # leased by a worker
    FAILED = "failed"  # an attempt failed; retried at run_at
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # out of attempts or failed for good: the dead-letter list
    CANCELLED = "cancelled"
    DISCARDED = "discarded"  # taken off the dead-letter list by a person


class MisfirePolicy(StrEnum):
    """What a schedule does with firings missed by more than its grace period."""

    RUN_ONCE = "run_once"  # fire once for all of them, then carry on
    SKIP = "skip"  # drop them


class Job(BaseModel):
    """A job as listed."""

    model_config = ConfigDict(from_attributes=True)

    job_id: uuid.UUID = Field(description="The job's id (time-ordered).")
    kind: str = Field(description="What the job does, e.g. `webhook.deliver`.")
    status: JobStatus = Field(description="queued, running, failed, succeeded, dead, ….")
    priority: int = Field(description="Lower runs first (like `nice`); 0 by default.")
    payload: dict[str, Any] = Field(description="The job's input.")
    attempts: int = Field(description="Attempts started so far.")
    max_attempts: int | None = Field(
        description="Attempts allowed before the job is dead; null: its kind's maximum."
    )
    run_at: StoredUTC = Field(description="Not before this time (UTC); the next retry if failed.")
    idempotency_key: str | None = Field(description="Key that made enqueueing idempotent.")
    lease_owner: str | None = Field(description="The worker holding the job while it runs.")
    lease_expires_at: StoredUTC | None = Field(description="When that lease lapses (UTC).")
    cancel_requested: bool = Field(description="Cancellation asked for while running.")
    last_error: str | None = Field(description="The last attempt's error, if it failed.")
    created_at: StoredUTC = Field(description="Enqueued at (UTC).")
    started_at: StoredUTC | None = Field(description="Last attempt started at (UTC).")
    finished_at: StoredUTC | None = Field(description="Reached its final state at (UTC).")
    schedule_id: uuid.UUID | None = Field(description="The schedule that enqueued it, if any.")
    scheduled_for: StoredUTC | None = Field(description="That schedule's firing time (UTC).")


class JobStep(BaseModel):
    """A checkpointed step of a job."""

    model_config = ConfigDict(from_attributes=True)

    step_key: str = Field(description="The step's name within the job.")
    result: Any = Field(description="What the step returned (JSON).")
    attempt: int = Field(description="The attempt that finished it.")
    finished_at: StoredUTC = Field(description="When it finished (UTC).")


class JobDetail(Job):
    """A job with its result, traceback and finished steps."""

    result: Any = Field(description="What the job returned, once succeeded (JSON).")
    last_traceback: str | None = Field(description="Traceback of the last failed attempt.")
    steps: list[JobStep] = Field(description="Finished steps, in the order they finished.")


class JobFilter(QueryModel):
    """Which jobs to list (newest first)."""

    status: JobStatus | None = Field(
        default=None, description="Only jobs in this state (`dead` is the dead-letter list)."
    )
    kind: str | None = Field(default=None, max_length=64, description="Only jobs of this kind.")
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


class JobCount(BaseModel):
    """How many jobs of a kind are in a state."""

    kind: str = Field(description="Job kind.")
    status: JobStatus = Field(description="State.")
    count: int = Field(description="Number of jobs.")


class JobSummary(BaseModel):
    """Queue depth at a glance."""

    counts: list[JobCount] = Field(description="Jobs by kind and state.")
    oldest_ready_at: StoredUTC | None = Field(
        description="run_at of the longest-waiting ready job: how far behind the workers are."
    )


class ScheduleCreate(Schema):
    """A new cron schedule."""

    name: str = Field(min_length=1, max_length=100, description="Unique within the tenant.")
    cron: str = Field(
        min_length=1,
        max_length=120,
        description="Cron expression: 5 fields (minute hour day month weekday), or 6 with "
        "seconds last.",
        examples=["0 9 * * 1-5"],
    )
    timezone: str = Field(
        default="UTC", max_length=64, description="IANA time zone the expression is read in."
    )
    kind: str = Field(
        max_length=64, pattern=KIND_PATTERN, description="Kind of job to enqueue at each firing."
    )
    payload: dict[str, Any] = Field(default_factory=dict, description="The job's input.")
    priority: int = Field(
        default=0,
        ge=-MAX_PRIORITY,
        le=MAX_PRIORITY,
        description="Priority of its jobs (lower runs first).",
    )
    is_enabled: bool = Field(default=True, description="Whether it fires.")
    misfire_policy: MisfirePolicy = Field(
        default=MisfirePolicy.RUN_ONCE,
        description="Firings missed by more than the grace period: `run_once` or `skip`.",
    )
    misfire_grace_seconds: int = Field(
        default=300,
        ge=0,
        le=86_400,
        description="Firings late by at most this much (a restart) all still fire.",
    )


class ScheduleUpdate(Schema):
    """Changes to a schedule; omitted fields stay as they are."""

    cron: str | None = Field(default=None, min_length=1, max_length=120, description="Cron.")
    timezone: str | None = Field(default=None, max_length=64, description="IANA time zone.")
    payload: dict[str, Any] | None = Field(default=None, description="The job's input.")
    priority: int | None = Field(
        default=None, ge=-MAX_PRIORITY, le=MAX_PRIORITY, description="Priority of its jobs."
    )
    is_enabled: bool | None = Field(default=None, description="Whether it fires.")
    misfire_policy: MisfirePolicy | None = Field(default=None, description="Misfire policy.")
    misfire_grace_seconds: int | None = Field(
        default=None, ge=0, le=86_400, description="Grace period, in seconds."
    )


class Schedule(BaseModel):
    """A cron schedule as stored."""

    model_config = ConfigDict(from_attributes=True)

    schedule_id: uuid.UUID = Field(description="The schedule's id.")
    name: str = Field(description="Unique within the tenant.")
    cron: str = Field(description="Cron expression.")
    timezone: str = Field(description="IANA time zone.")
    kind: str = Field(description="Kind of job it enqueues.")
    payload: dict[str, Any] = Field(description="The job's input.")
    priority: int = Field(description="Priority of its jobs.")
    is_enabled: bool = Field(description="Whether it fires.")
    misfire_policy: MisfirePolicy = Field(description="Misfire policy.")
    misfire_grace_seconds: int = Field(description="Grace period, in seconds.")
    next_run_at: StoredUTC | None = Field(description="Next firing (UTC); null when disabled.")
    last_run_at: StoredUTC | None = Field(description="Last firing (UTC), if any.")
    created_at: StoredUTC = Field(description="Creation time (UTC).")
    updated_at: StoredUTC = Field(description="Last change (UTC).")


class ScheduleFilter(QueryModel):
    """Which schedules to list (oldest first)."""

    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


class WorkerRole(StrEnum):
    """What an engine process does."""

    WORKER = "worker"
    SCHEDULER = "scheduler"


class WorkerInfo(BaseModel):
    """A worker or scheduler process."""

    model_config = ConfigDict(from_attributes=True)

    worker_id: str = Field(description="host:pid:random, unique per process start.")
    role: WorkerRole = Field(description="worker or scheduler.")
    hostname: str = Field(description="Host it runs on.")
    pid: int = Field(description="Its process id.")
    concurrency: int = Field(description="Jobs it runs at once (workers).")
    kinds: list[str] = Field(description="Job kinds it runs (workers).")
    is_leader: bool = Field(description="The active scheduler (schedulers).")
    started_at: StoredUTC = Field(description="Started at (UTC).")
    last_seen_at: StoredUTC = Field(description="Last report (UTC).")
    stopped_at: StoredUTC | None = Field(description="Stopped cleanly at (UTC), if it did.")
    is_alive: bool = Field(description="Reported recently and not stopped.")


class JobKindInfo(BaseModel):
    """A kind of job this deployment can run."""

    name: str = Field(description="The kind, e.g. `webhook.deliver`.")
    description: str = Field(description="What it does.")
    max_attempts: int = Field(description="Default attempts before it is dead.")
    timeout_seconds: float = Field(description="How long one attempt may run.")
    concurrency: int | None = Field(description="At most this many run at once, cluster-wide.")
    is_schedulable: bool = Field(description="Whether schedules may enqueue it.")

    @field_validator("description")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return value.strip().splitlines()[0] if value.strip() else ""
