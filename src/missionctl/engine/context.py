"""What a job handler gets: its job, fenced units of work, and checkpointed steps."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from missionctl.db import Database, utcnow
from missionctl.engine import queue
from missionctl.engine.queue import ClaimedJob
from missionctl.settings import Settings

T = TypeVar("T")


class JobInterrupted(Exception):
    """The attempt must stop now; raised by `JobContext.check()` and its steps."""


class LeaseLost(JobInterrupted):
    """The worker no longer holds the job (its lease lapsed and the job was handed on)."""


class JobCancelled(JobInterrupted):
    """A person cancelled the job while it ran."""


class JobTimedOut(JobInterrupted):
    """The attempt ran past its kind's timeout."""


@dataclass(frozen=True, slots=True)
class Uncheckpointed(Generic[T]):
    """A step's result that is not checkpointed: its unit of work commits, and a later attempt
    runs the step again. For outcomes that are harmless to redo (an idle agent turn), where the
    checkpoint would cost more than the step."""

    value: T


class JobContext:
    """A running attempt of a job, as its handler sees it.

    `step(name, fn)` runs `fn(session)` in a unit of work that also checkpoints its result, once
    per job: a retried job gets the stored result back instead of running the step again.
    `call(name, fn)` does the same for work outside the database (a model call, an HTTP request);
    such work can repeat if the worker dies between doing it and checkpointing it, so it should
    pass `step_key(name)` on as an idempotency key.
    """

    def __init__(
        self,
        job: ClaimedJob,
        *,
        worker_id: str,
        db: Database,
        settings: Settings,
        lease_seconds: float,
        timeout_seconds: float,
        steps: dict[str, Any] | None = None,
    ) -> None:
        self.job = job
        self.worker_id = worker_id
        self.db = db
        self.settings = settings
        self.lease_seconds = lease_seconds
        self.deadline = time.monotonic() + timeout_seconds
        # Loaded on the first step when None; none to load when no attempt checkpointed any.
        self._steps = steps if steps is not None or job.has_steps else {}
        # Set from the worker's lease-renewal thread.
        self.is_lost = False
        self.is_cancel_requested = job.cancel_requested

    @property
    def job_id(self) -> uuid.UUID:
        """The job's id."""
        return self.job.job_id

    @property
    def tenant_id(self) -> uuid.UUID:
        """The tenant the job belongs to (its units of work run there)."""
        return self.job.tenant_id

    @property
    def payload(self) -> dict[str, Any]:
        """The job's input."""
        return self.job.payload

    @property
    def attempt(self) -> int:
        """This attempt's number, from 1."""
        return self.job.attempt

    @property
    def is_timed_out(self) -> bool:
        """True once the attempt ran past its timeout."""
        return time.monotonic() > self.deadline

    def check(self) -> None:
        """Raise if the attempt must stop: lease lost, cancelled, or timed out."""
        if self.is_lost:
            raise LeaseLost(f"job {self.job_id} is no longer held by {self.worker_id}")
        if self.is_cancel_requested:
            raise JobCancelled(f"job {self.job_id} was cancelled")
        if self.is_timed_out:
            raise JobTimedOut(f"job {self.job_id} ran past its timeout")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work in the job's tenant that commits only while the worker holds the job."""
        self.check()
        with self.db.transaction(self.tenant_id) as session:
            if not queue.fence(session.connection(), self.job, self.lease_seconds):
                self._lost()
            yield session

    def _lost(self) -> NoReturn:
        self.is_lost = True
        raise LeaseLost(f"job {self.job_id} is no longer held by {self.worker_id}")

    def step_key(self, name: str) -> str:
        """A key unique to this job and step: the idempotency key for what the step calls."""
        return f"{self.job_id}:{name}"

    @property
    def finished_steps(self) -> dict[str, Any]:
        """Steps finished by this job so far (any attempt): name → result."""
        if self._steps is None:
            with self.db.connect(write=False) as conn:
                self._steps = queue.load_steps(conn, self.job_id)
        return self._steps

    def steps_in(self, session: Session) -> dict[str, Any]:
        """`finished_steps`, read in the caller's unit of work if not read yet (one connection
        fewer for a handler that starts with a transaction anyway)."""
        if self._steps is None:
            self._steps = queue.load_steps(session.connection(), self.job_id)
        return self._steps

    def step(self, name: str, fn: Callable[[Session], T | Uncheckpointed[T]]) -> T:
        """Run `fn(session)` once per job; its effects and its checkpoint commit together
        (unless it returns `Uncheckpointed`).

        The job's finished steps are read in the step's own unit of work when not read yet. A
        unit of work PostgreSQL chose as a deadlock victim (or a serialization failure) is
        rolled back whole, so it is run again at once, a few times, rather than failing the job
        into its backoff.
        """
        if self._steps is not None and name in self._steps:
            return self._steps[name]  # type: ignore[no-any-return]
        for attempt in range(1, CONFLICT_RETRIES + 2):
            try:
                self.check()
                # Fenced last, with the checkpoint: the job's row is locked (PostgreSQL) only
                # for the commit, and a lost lease rolls the step's effects back.
                with self.db.transaction(self.tenant_id) as session:
                    steps = self.steps_in(session)
                    if name in steps:
                        return steps[name]  # type: ignore[no-any-return]
                    outcome = fn(session)
                    conn = session.connection()
                    if isinstance(outcome, Uncheckpointed):
                        if not queue.fence(conn, self.job, self.lease_seconds):
                            self._lost()
                        return as_json(outcome.value)  # type: ignore[no-any-return]
                    result = as_json(outcome)
                    if not queue.fence_and_save_step(
                        conn, self.job, self.lease_seconds, name, result
                    ):
                        self._lost()
                break
            except DBAPIError as exc:
                if not is_transient_conflict(exc) or attempt > CONFLICT_RETRIES:
                    raise
                time.sleep(random.uniform(0.005, 0.05) * attempt)  # noqa: S311 - jitter
        self.finished_steps[name] = result
        return result  # type: ignore[no-any-return]

    def checkpoint(self, conn: Connection, name: str, result: Any) -> bool:
        """Checkpoint `name` in the caller's transaction, for work done outside the database
        whose record commits with other rows (a model reply with its metering): it counts once
        that transaction commits. False, and the job is lost, when the worker no longer holds
        the job."""
        if not queue.fence_and_save_step(conn, self.job, self.lease_seconds, name, as_json(result)):
            self.is_lost = True
            return False
        return True

    def call(self, name: str, fn: Callable[[], T]) -> T:
        """Run `fn()` outside any transaction, then checkpoint its result (see class docstring)."""
        if name in self.finished_steps:
            return self.finished_steps[name]  # type: ignore[no-any-return]
        self.check()
        result = as_json(fn())
        with self.transaction() as session:
            queue.save_step(session.connection(), self.job, name, result, utcnow())
        self.finished_steps[name] = result
        return result  # type: ignore[no-any-return]


CONFLICT_RETRIES = 3
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def is_transient_conflict(exc: DBAPIError) -> bool:
    """Whether the database undid the transaction only because of concurrent ones."""
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def as_json(value: Any) -> Any:
    """The value as it will read back from the checkpoint (tuples become lists, and so on)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.loads(json.dumps(value))
