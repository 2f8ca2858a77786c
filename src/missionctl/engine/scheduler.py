"""The scheduler: one active process runs the periodic work of the whole deployment.

Several may run; one leads (see `leader.py`) and the others stand by, trying to take over every
second. The leader runs each `Periodic` at its interval: cron firings, agent heartbeats, the
reaper that returns lapsed leases, and retention. Each runs in its own unit of work, and each is
safe to run twice (cron firings and heartbeats carry idempotency keys), so a leader that dies
half-way through a round, or two leaders for a moment, neither lose nor double anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from missionctl.db import Database, utcnow
from missionctl.engine import processes, queue, schedules, service
from missionctl.engine.leader import Leadership
from missionctl.engine.registry import DEFAULT_MAX_ATTEMPTS, JobRegistry
from missionctl.engine.schemas import JobStatus, WorkerRole
from missionctl.events.service import purge_events

log = structlog.get_logger("missionctl.scheduler")

STANDBY_SECONDS = 1.0
REPORT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Periodic:
    """Work the leader does every `interval_seconds`; `run` returns how much it did."""

    name: str
    interval_seconds: float
    run: Callable[[Database], int]


class Scheduler:
    """Runs `periodic` work while it leads (see module docstring)."""

    def __init__(
        self,
        db: Database,
        leadership: Leadership,
        periodic: Sequence[Periodic],
        *,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.leadership = leadership
        self.periodic = list(periodic)
        self.worker_id = worker_id or processes.new_worker_id()
        self.is_leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.became_leader = threading.Event()

    def start(self) -> Scheduler:
        """Register and run in a background thread."""
        with self.db.transaction(None) as session:
            processes.register_process(session, self.worker_id, WorkerRole.SCHEDULER, kinds=[])
        self._thread = threading.Thread(target=self.run, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop, giving up leadership."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.leadership.release()
        try:
            with self.db.transaction(None) as session:
                processes.mark_stopped(session, self.worker_id)
        except SQLAlchemyError as exc:
            log.warning("scheduler_stop_unrecorded", error=str(exc).splitlines()[0])

    def run(self) -> None:
        """Lead or stand by until stopped."""
        next_due = dict.fromkeys((p.name for p in self.periodic), 0.0)
        next_report = 0.0
        while not self._stop.is_set():
            was_leader = self.is_leader
            self.is_leader = self.leadership.is_held() or self.leadership.try_acquire()
            if self.is_leader != was_leader:
                log.info("scheduler_leadership", worker_id=self.worker_id, leads=self.is_leader)
                next_report = 0.0
                if self.is_leader:
                    self.became_leader.set()
            now = time.monotonic()
            if now >= next_report:
                self._report()
                next_report = now + REPORT_SECONDS
            if not self.is_leader:
                self._stop.wait(STANDBY_SECONDS)
                continue
            for periodic in self.periodic:
                if now >= next_due[periodic.name]:
                    self._run_one(periodic)
                    next_due[periodic.name] = time.monotonic() + periodic.interval_seconds
            wait = min(next_due.values(), default=now + STANDBY_SECONDS) - time.monotonic()
            self._stop.wait(max(0.01, min(wait, STANDBY_SECONDS)))

    def _run_one(self, periodic: Periodic) -> None:
        try:
            done = periodic.run(self.db)
        except SQLAlchemyError as exc:
            log.warning("periodic_failed", name=periodic.name, error=str(exc).splitlines()[0])
            return
        except Exception:
            log.exception("periodic_crashed", name=periodic.name)
            return
        if done:
            log.debug("periodic_ran", name=periodic.name, done=done)

    def _report(self) -> None:
        try:
            with self.db.transaction(None) as session:
                processes.report_alive(session, self.worker_id, is_leader=self.is_leader)
        except SQLAlchemyError as exc:
            log.warning("scheduler_report_failed", error=str(exc).splitlines()[0])


# -- the built-in periodic work -------------------------------------------------------------


Work = Callable[[Database], int]


def when_due(due_at: Callable[[Session], datetime | None], work: Work) -> Work:
    """`work`, run only once `due_at` (read in a read-only unit of work) has come.

    The leader looks several times a second; a look that writes nothing must not take the
    database's write lock (SQLite) or wake every worker (its data_version moves on a write).
    """

    def run(db: Database) -> int:
        with db.transaction(None, write=False) as session:
            due = due_at(session)
        return work(db) if due is not None and due <= utcnow() else 0

    return run


def _lease_expiry(session: Session) -> datetime | None:
    return queue.next_lease_expiry(session.connection())


def reaper(registry: JobRegistry) -> Callable[[Database], int]:
    """Return jobs whose worker stopped renewing their lease (dead when out of attempts)."""
    max_attempts = {kind.name: kind.max_attempts for kind in registry}

    def reap_leases(db: Database) -> int:
        with db.connect() as conn:
            reaped = queue.reap(conn, max_attempts, DEFAULT_MAX_ATTEMPTS)
        for job in reaped:
            if job.status is JobStatus.DEAD:
                with db.transaction(job.tenant_id) as session:
                    error = "lease expired, out of attempts"
                    service.record_dead(session, job.job_id, job.kind, error)
        if reaped:
            log.info("leases_reaped", count=len(reaped))
        return len(reaped)

    return reap_leases


def fire_schedules(db: Database) -> int:
    """Enqueue the jobs of every cron firing that is due."""
    with db.transaction(None) as session:
        return schedules.fire_due(session, utcnow())


def retention(job_days: int, event_days: int) -> Callable[[Database], int]:
    """Delete finished jobs and (if set) events older than their retention, in batches."""

    def purge(db: Database) -> int:
        removed = 0
        now = utcnow()
        if job_days > 0:
            removed += in_batches(
                db, lambda s: service.purge_finished_jobs(s, now - timedelta(days=job_days))
            )
        if event_days > 0:
            removed += in_batches(db, lambda s: purge_events(s, now - timedelta(days=event_days)))
        with db.transaction(None) as session:
            removed += processes.forget_gone(session)
        return removed

    return purge


def in_batches(db: Database, purge_batch: Callable[[Session], int], limit: int = 1000) -> int:
    """Run a purge of at most `limit` rows per unit of work until one removes fewer."""
    total = 0
    while True:
        with db.transaction(None) as session:
            removed = purge_batch(session)
        total += removed
        if removed < limit:
            return total


def builtin_periodic(
    registry: JobRegistry,
    *,
    lease_seconds: float,
    job_retention_days: int,
    event_retention_days: int,
) -> list[Periodic]:
    """Cron firings, the reaper and retention."""
    return [
        Periodic("cron", 0.25, when_due(schedules.next_due_at, fire_schedules)),
        Periodic(
            "reaper",
            max(0.2, min(5.0, lease_seconds / 3)),
            when_due(_lease_expiry, reaper(registry)),
        ),
        Periodic("retention", 600.0, retention(job_retention_days, event_retention_days)),
    ]
