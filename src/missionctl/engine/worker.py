"""A worker: claims jobs with a lease, runs them on a pool of threads, records how they ended.

Threads, not asyncio: handlers call the (synchronous) services and SQLAlchemy sessions.
- The dispatcher claims batches of ready jobs while there is room (`concurrency` running plus as
  many waiting), and sleeps when there is nothing to do until a jobs signal (this process's
  commits; PostgreSQL NOTIFY from others), the soonest delayed job, or the poll interval. On
  SQLite it also looks at `PRAGMA data_version` every 50 ms, so other processes' jobs start
  without a full poll.
- Executor threads run one job each at a time. A plain handler's success is handed to the
  completer, which records successes in batches (one transaction for many jobs); an atomic
  handler's success commits with its effects; failures are recorded at once.
- The renewer extends every held lease every third of its length, and tells running handlers
  when their job was cancelled or their lease lost (see `JobContext.check`).

`stop()` (SIGTERM) stops claiming, hands back jobs not started yet, waits up to the grace period
for running ones, and releases those still running: another worker takes them, and whatever the
old thread still tries to write is fenced out.
"""

from __future__ import annotations

import itertools
import queue as queue_module
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from traceback import format_exc

import structlog
from sqlalchemy.exc import SQLAlchemyError

from missionctl.db import ChangeProbe, Database, utcnow, write_priority
from missionctl.engine import policy, processes, queue, service
from missionctl.engine.context import JobCancelled, JobContext, JobInterrupted, LeaseLost, as_json
from missionctl.engine.queue import ClaimedJob
from missionctl.engine.registry import JobKind, JobRegistry
from missionctl.engine.schemas import JobStatus, WorkerRole
from missionctl.errors import InvalidInput, NotFound, PermanentFailure, RetryLater
from missionctl.settings import Settings
from missionctl.signals import JOBS

log = structlog.get_logger("missionctl.worker")

SQLITE_PROBE_SECONDS = 0.05
COMPLETION_BATCH = 256
MAX_ERROR_CHARS = 2000
MAX_TRACEBACK_CHARS = 20_000
NOT_RETRYABLE = (PermanentFailure, InvalidInput, NotFound)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker runs."""

    concurrency: int = 4
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    shutdown_grace_seconds: float = 30.0
    kinds: tuple[str, ...] | None = None  # None: every registered kind

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> WorkerConfig:
        """The configuration the settings describe."""
        values: dict[str, object] = {
            "concurrency": settings.worker_concurrency,
            "lease_seconds": settings.job_lease_seconds,
            "poll_seconds": settings.job_poll_seconds,
            "shutdown_grace_seconds": settings.shutdown_grace_seconds,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]


class Worker:
    """Runs jobs until stopped (see module docstring)."""

    def __init__(
        self,
        db: Database,
        registry: JobRegistry,
        settings: Settings,
        config: WorkerConfig,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.config = config
        self.worker_id = worker_id or processes.new_worker_id()
        wanted = config.kinds if config.kinds is not None else registry.names()
        unknown = [kind for kind in wanted if kind not in registry]
        if unknown:
            raise ValueError(f"no handler registered for job kind(s): {', '.join(unknown)}")
        self.kinds: list[JobKind] = [kind for name in wanted if (kind := registry.get(name))]
        self._names = [kind.name for kind in self.kinds]
        self._max_attempts = {kind.name: kind.max_attempts for kind in self.kinds}
        self._limits = {k.name: k.concurrency for k in self.kinds if k.concurrency is not None}
        # Jobs held at once: running, waiting to run, or waiting for their success to be written.
        # Claims wait until half of it is free, so each claim takes a batch.
        self._capacity = config.concurrency + max(config.concurrency, 8)
        self._inbox: queue_module.SimpleQueue[ClaimedJob | None] = queue_module.SimpleQueue()
        self._succeeded: queue_module.SimpleQueue[tuple[ClaimedJob, object] | None] = (
            queue_module.SimpleQueue()
        )
        self._lock = threading.Lock()
        # Jobs this worker holds a lease on, and the contexts of those running.
        self._held: dict[uuid.UUID, ClaimedJob] = {}
        self._contexts: dict[uuid.UUID, JobContext] = {}
        self._claims = itertools.count(1)
        self._room = threading.Event()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> Worker:
        """Register the process and start claiming."""
        self.db.listen()
        with self.db.transaction(None) as session:
            processes.register_process(
                session,
                self.worker_id,
                WorkerRole.WORKER,
                concurrency=self.config.concurrency,
                kinds=self._names,
            )
        self._spawn(self._dispatch, "dispatcher")
        self._spawn(self._complete, "completer")
        self._spawn(self._renew_leases, "lease-renewer")
        for index in range(self.config.concurrency):
            self._spawn(self._execute, f"executor-{index}")
        log.info("worker_started", worker_id=self.worker_id, kinds=len(self._names))
        return self

    @property
    def executing(self) -> int:
        """How many claimed jobs an executor thread has started (claimed-but-waiting excluded)."""
        with self._lock:
            return len(self._contexts)

    def _spawn(self, target: object, name: str) -> None:
        # Daemon threads: a handler stuck past shutdown must not keep the process alive.
        thread = threading.Thread(target=target, name=f"worker-{name}", daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def stop(self, grace_seconds: float | None = None) -> int:
        """Stop claiming, finish or release in-flight jobs; the number released."""
        if self._stopping.is_set():
            return 0
        grace = self.config.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        self._stopping.set()
        self._room.set()
        self.db.signals.raise_(JOBS)
        self._threads[0].join(timeout=10)  # the dispatcher
        not_started = self._drain_inbox()
        deadline = time.monotonic() + grace
        while self._held and time.monotonic() < deadline:
            self._room.wait(0.05)
            self._room.clear()
        with self._lock:
            still_running = list(self._held.values())
            for context in self._contexts.values():
                context.is_lost = True  # stop at its next step; its writes are fenced
        released = self._release(not_started + still_running)
        for _ in range(self.config.concurrency):
            self._inbox.put(None)
        self._succeeded.put(None)
        self._threads[1].join(timeout=10)  # the completer, after writing what it has
        self._stopped.set()
        try:
            with self.db.transaction(None) as session:
                processes.mark_stopped(session, self.worker_id)
        except SQLAlchemyError as exc:
            log.warning("worker_stop_unrecorded", error=str(exc).splitlines()[0])
        log.info("worker_stopped", worker_id=self.worker_id, released=released)
        return released

    def _drain_inbox(self) -> list[ClaimedJob]:
        drained: list[ClaimedJob] = []
        while True:
            try:
                job = self._inbox.get_nowait()
            except queue_module.Empty:
                return drained
            if job is not None:
                drained.append(job)
                with self._lock:
                    self._held.pop(job.job_id, None)

    def _release(self, jobs: Sequence[ClaimedJob]) -> int:
        if not jobs:
            return 0
        try:
            with self.db.connect() as conn:
                return queue.release(conn, jobs)
        except SQLAlchemyError as exc:
            # Their leases lapse and the reaper hands them on instead.
            log.warning("worker_release_failed", error=str(exc).splitlines()[0])
            return 0

    # -- claiming -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        # Every job waits for its claim: on SQLite the claim goes before other writers.
        write_priority.set(-1)
        probe = ChangeProbe(self.db.engine)
        errors = 0
        try:
            while not self._stopping.is_set():
                held = len(self._held)
                room = self._capacity - held
                if held and room < self._capacity // 2:
                    self._room.wait(self.config.poll_seconds)
                    self._room.clear()
                    continue
                seen = self.db.signals.seen(JOBS)
                try:
                    claimed = self._claim(room)
                    errors = 0
                except SQLAlchemyError as exc:
                    errors += 1
                    log.warning("claim_failed", error=str(exc).splitlines()[0])
                    self._stopping.wait(min(30.0, 0.5 * 2**errors))
                    continue
                if len(claimed) == room:
                    continue  # more may be ready
                self._idle(seen, probe)  # returns at once if jobs were signalled meanwhile
        finally:
            probe.close()

    def _claim(self, room: int) -> list[ClaimedJob]:
        lease_owner = f"{self.worker_id}/{next(self._claims)}"
        with self.db.connect() as conn:
            claimed = queue.claim(
                conn,
                lease_owner,
                self._max_attempts,
                room,
                self.config.lease_seconds,
                self._limits,
            )
        with self._lock:  # held from the commit on, not before: a failed claim holds nothing
            for job in claimed:
                self._held[job.job_id] = job
        for job in claimed:
            self._inbox.put(job)
        return claimed

    def _idle(self, seen: int, probe: ChangeProbe) -> None:
        """Sleep until a jobs signal, the soonest delayed job, the poll, or (SQLite) a commit
        elsewhere that made a job ready: a commit that did not is looked at, not claimed on."""
        deadline = time.monotonic() + self._wait_for_next()
        probe.changed()
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            step = min(left, SQLITE_PROBE_SECONDS) if self.db.is_sqlite else left
            if self.db.signals.wait(JOBS, seen, step) != seen:
                return
            if probe.changed():
                wait = self._wait_for_next()
                if wait == 0:
                    return
                deadline = min(deadline, time.monotonic() + wait)

    def _wait_for_next(self) -> float:
        """Seconds until the soonest waiting job is ready (0: now), at most the poll interval."""
        try:
            with self.db.connect(write=False) as conn:
                soonest = queue.next_ready_at(conn, self._names)
        except SQLAlchemyError:
            return 0.0
        if soonest is None:
            return self.config.poll_seconds
        return max(0.0, min(self.config.poll_seconds, (soonest - utcnow()).total_seconds()))

    # -- running ------------------------------------------------------------------------------

    def _execute(self) -> None:
        while True:
            job = self._inbox.get()
            if job is None:
                return
            is_handed_on = False
            try:
                is_handed_on = self._run(job)
            except Exception:  # never let one job take the executor thread down
                log.exception("job_crashed_executor", job_id=str(job.job_id))
            finally:
                if not is_handed_on:
                    self._let_go([job.job_id])

    def _let_go(self, job_ids: Sequence[uuid.UUID]) -> None:
        with self._lock:
            for job_id in job_ids:
                self._held.pop(job_id, None)
                self._contexts.pop(job_id, None)
        self._room.set()

    def _run(self, job: ClaimedJob) -> bool:
        """Run one attempt; True when its success went to the completer (still held)."""
        kind = self.registry.get(job.kind)
        assert kind is not None  # only registered kinds are claimed
        try:
            context = JobContext(
                job,
                worker_id=self.worker_id,
                db=self.db,
                settings=self.settings,
                lease_seconds=self.config.lease_seconds,
                timeout_seconds=kind.timeout_seconds,
            )
            with self._lock:
                if job.job_id not in self._held:  # released by stop() while waiting
                    return False
                self._contexts[job.job_id] = context
            context.check()
            priority = write_priority.set(job.priority)  # its units of work queue by it
            try:
                return self._succeed(kind, context)
            finally:
                write_priority.reset(priority)
        except LeaseLost:
            log.info("job_lease_lost", job_id=str(job.job_id), kind=job.kind)
        except JobCancelled:
            self._finish(job, JobStatus.CANCELLED)
        except Exception as exc:
            self._fail(kind, job, exc)
        return False

    def _succeed(self, kind: JobKind, context: JobContext) -> bool:
        job = context.job
        if kind.is_atomic:
            with context.transaction() as session:
                result = as_json(kind.run(context, session))
                is_held = queue.finish(
                    session.connection(), job, JobStatus.SUCCEEDED, result=result
                )
                if not is_held:
                    raise LeaseLost(f"job {job.job_id} was handed on before it finished")
            return False
        result = as_json(kind.run(context))
        self._succeeded.put((job, result))
        return True

    def _complete(self) -> None:
        """Record plain handlers' successes, many per transaction."""
        stopping = False
        while not stopping:
            first = self._succeeded.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < COMPLETION_BATCH:
                try:
                    item = self._succeeded.get_nowait()
                except queue_module.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                with self.db.connect() as conn:
                    written = queue.finish_many(conn, batch)
                if written < len(batch):
                    log.info("job_leases_lost", count=len(batch) - written)
            except SQLAlchemyError as exc:
                # Not recorded: their leases lapse and they run again (steps are not repeated).
                log.warning("completion_failed", error=str(exc).splitlines()[0])
            self._let_go([job.job_id for job, _result in batch])

    def _finish(
        self,
        job: ClaimedJob,
        status: JobStatus,
        *,
        error: str | None = None,
        traceback: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """Record an attempt that did not succeed (cancelled, failed, dead) at once."""
        with self.db.transaction(job.tenant_id) as session:
            is_held = queue.finish(
                session.connection(),
                job,
                status,
                error=error,
                traceback=traceback,
                retry_at=retry_at,
            )
            if is_held and status is JobStatus.DEAD:
                service.record_dead(session, job.job_id, job.kind, error)
        if not is_held:
            log.info("job_lease_lost", job_id=str(job.job_id), kind=job.kind)

    def _fail(self, kind: JobKind, job: ClaimedJob, exc: Exception) -> None:
        is_retryable = not isinstance(exc, NOT_RETRYABLE)
        status = policy.status_after_failure(
            job.attempt, job.max_attempts, is_retryable=is_retryable
        )
        if isinstance(exc, RetryLater) and exc.after_seconds is not None:
            delay = exc.after_seconds
        else:
            delay = policy.retry_delay(
                job.attempt,
                kind.backoff_base_seconds,
                kind.backoff_max_seconds,
                random.random(),  # noqa: S311 - jitter, not a secret
            )
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        if not isinstance(exc, JobInterrupted):
            log.warning("job_failed", job_id=str(job.job_id), kind=job.kind, error=error)
        retry_at = utcnow() + timedelta(seconds=delay)
        self._finish(
            job,
            status,
            error=error,
            traceback=format_exc()[-MAX_TRACEBACK_CHARS:],
            retry_at=retry_at,
        )

    # -- leases -------------------------------------------------------------------------------

    def _renew_leases(self) -> None:
        interval = self.config.lease_seconds / 3
        while not self._stopped.wait(interval):
            with self._lock:
                held = list(self._held.values())
                contexts = dict(self._contexts)
            # An attempt past its timeout is no longer renewed: its lease lapses and the reaper
            # hands the job on, whatever its thread is still doing.
            renewable = [
                job
                for job in held
                if not ((context := contexts.get(job.job_id)) and context.is_timed_out)
            ]
            try:
                with self.db.transaction(None) as session:
                    states = queue.renew(session.connection(), renewable, self.config.lease_seconds)
                    processes.report_alive(session, self.worker_id)
            except SQLAlchemyError as exc:
                log.warning("lease_renewal_failed", error=str(exc).splitlines()[0])
                continue
            for job in renewable:
                context = contexts.get(job.job_id)
                if context is None:
                    continue
                if job.job_id not in states:
                    context.is_lost = True
                elif states[job.job_id]:
                    context.is_cancel_requested = True
