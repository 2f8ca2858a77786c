"""Job kinds for the engine's tests, loaded as a plugin (`MISSIONCTL_PLUGINS=tests.engine.plugin`).

Their effects go to `test_effects`, a table the tests create (it is not part of the schema): one
row per effect, never deduplicated by the database, so a job whose effect happened twice shows
two rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from missionctl.db import write_priority
from missionctl.engine.context import JobContext, Uncheckpointed
from missionctl.engine.registry import JobKind, JobRegistry
from missionctl.errors import PermanentFailure

EFFECTS_DDL = (
    "CREATE TABLE IF NOT EXISTS test_effects (job_id VARCHAR(40), step VARCHAR(40), "
    "worker VARCHAR(128), attempt INTEGER, at DOUBLE PRECISION)"
)
INSERT_EFFECT = text(
    "INSERT INTO test_effects (job_id, step, worker, attempt, at) "
    "VALUES (:job_id, :step, :worker, :attempt, :at)"
)
FIXED = text("SELECT count(*) FROM test_effects WHERE job_id = :job_id AND step = 'fixed'")


def record_effect(session: Session, job: JobContext, step: str) -> None:
    """One effect row, written in the caller's unit of work."""
    session.execute(
        INSERT_EFFECT,
        {
            "job_id": str(job.job_id),
            "step": step,
            "worker": job.worker_id,
            "attempt": job.attempt,
            "at": time.time(),
        },
    )


def _effect_step(job: JobContext, index: int) -> Callable[[Session], None]:
    def step(session: Session) -> None:
        if index == job.payload.get("fail_at") and not session.scalar(
            FIXED, {"job_id": str(job.job_id)}
        ):
            raise RuntimeError(f"step {index} is broken until fixed")
        record_effect(session, job, f"step-{index}")

    return step


def _pause(job: JobContext) -> None:
    seconds = float(job.payload.get("sleep", 0))
    if seconds:
        time.sleep(seconds)


def run_effect(job: JobContext, session: Session) -> dict[str, Any]:
    """Atomic: the effect and the job's success commit together (after `sleep`, if given)."""
    _pause(job)
    record_effect(session, job, "effect")
    return {"done": True}


def run_tick(job: JobContext, session: Session) -> str:
    """Atomic and schedulable: records the firing it was enqueued for."""
    fired = job.job.scheduled_for.isoformat() if job.job.scheduled_for else "by hand"
    record_effect(session, job, fired[:40])
    return fired


def run_steps(job: JobContext) -> int:
    """`steps` checkpointed steps, each writing one effect; pauses between them.

    Step `fail_at` raises until the test writes a `fixed` effect row for the job.
    """
    count = int(job.payload.get("steps", 3))
    for index in range(count):
        _pause(job)
        job.step(f"step-{index}", _effect_step(job, index))
    return count


def run_noop(job: JobContext) -> None:
    """Nothing at all."""


def run_flaky(job: JobContext) -> dict[str, Any]:
    """Fails until attempt `succeed_on` (never when absent); `permanent` fails for good."""
    if job.payload.get("permanent"):
        raise PermanentFailure("this cannot work")
    succeed_on = job.payload.get("succeed_on")
    if succeed_on is None or job.attempt < int(succeed_on):
        raise RuntimeError(f"flaky failure on attempt {job.attempt}")
    return {"attempt": job.attempt}


def run_slow(job: JobContext) -> str:
    """Works for `seconds`, checking in every 10 ms (so cancellation and shutdown reach it)."""
    deadline = time.monotonic() + float(job.payload.get("seconds", 1))
    while time.monotonic() < deadline:
        job.check()
        time.sleep(0.01)
    with job.transaction() as session:
        record_effect(session, job, "slow")
    return "finished"


def run_limited(job: JobContext) -> None:
    """Sleeps a little; at most two run at once across all workers."""
    with job.transaction() as session:
        record_effect(session, job, "start")
    time.sleep(float(job.payload.get("sleep", 0.05)))
    with job.transaction() as session:
        record_effect(session, job, "end")


def run_priority(job: JobContext, session: Session) -> int:
    """Atomic: the write priority its unit of work runs with (the job's)."""
    priority = write_priority.get()
    record_effect(session, job, f"priority {priority}")
    return priority


def run_uncheckpointed(job: JobContext) -> str:
    """A step with no checkpoint (`look`), one with (`keep`); fails its first attempt."""

    def look(session: Session) -> Uncheckpointed[str]:
        record_effect(session, job, "look")
        return Uncheckpointed("looked")

    def keep(session: Session) -> int:
        record_effect(session, job, "keep")
        return 1

    looked = job.step("look", look)
    job.step("keep", keep)
    if job.attempt < 2:
        raise RuntimeError("once more")
    return looked


def register(registry: JobRegistry) -> None:
    """Add the test kinds."""
    registry.add(JobKind("test.effect", run_effect, is_atomic=True, max_attempts=100))
    registry.add(JobKind("test.steps", run_steps, max_attempts=100))
    registry.add(JobKind("test.noop", run_noop))
    registry.add(JobKind("test.once", run_noop, max_attempts=1))
    registry.add(JobKind("test.tick", run_tick, is_atomic=True, is_schedulable=True))
    registry.add(
        JobKind(
            "test.flaky",
            run_flaky,
            max_attempts=3,
            backoff_base_seconds=0.05,
            backoff_max_seconds=0.2,
        )
    )
    registry.add(JobKind("test.slow", run_slow, timeout_seconds=30))
    registry.add(JobKind("test.limited", run_limited, concurrency=2))
    registry.add(JobKind("test.timeout", run_slow, timeout_seconds=0.3, max_attempts=1))
    registry.add(JobKind("test.priority", run_priority, is_atomic=True))
    registry.add(JobKind("test.uncheckpointed", run_uncheckpointed, backoff_base_seconds=0.05))
