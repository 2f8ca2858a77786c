"""Part 1 of bench/agents.py: what an idle agent costs, per heartbeat and per turn.

A fresh, migrated database gets N agents (default 1,000) with nothing to do: no tasks, no
notifications, the built-in `offline` model. Then, for each worker concurrency and round:

- Heartbeats. Every agent's `next_heartbeat_at` is set a minute in the past; the scheduler's
  `enqueue_due_heartbeats` enqueues them (called here in its batches of 500, as the scheduler's
  periodic task does) while a real worker (`bootstrap.make_worker`, the built-in job kinds)
  is already running in this process; the run ends when all N `agent.heartbeat` jobs succeeded.
- Idle turns. `runtime.service.request_turn_now` enqueues an `agent.turn` job for every agent (one
  transaction); the worker runs them; each must end `idle` and no usage row may exist (no model
  was asked).

Per job: wall = (last `finished_at` of the jobs table - the moment before enqueueing) / N; the
process's CPU over that time / N; and the handler's own cost, timed around the registered handler
(wall, and the executor thread's CPU with `time.thread_time`, which leaves out time spent waiting
for the GIL, a lock or the database). The handlers are the registered ones, wrapped by a timer.
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from missionctl.agents.models import AgentRow
from missionctl.agents.schemas import AgentCreate
from missionctl.agents.service import HEARTBEAT_JOB, create_agent, enqueue_due_heartbeats
from missionctl.bootstrap import build_registry, make_worker, periodic_work, tune_gc
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, Database, utcnow
from missionctl.engine.leader import leadership_for
from missionctl.engine.models import JobRow
from missionctl.engine.registry import JobRegistry
from missionctl.engine.scheduler import Scheduler
from missionctl.models.models import UsageRow
from missionctl.runtime.service import TURN_JOB, request_turn_now
from missionctl.settings import Settings

GOAL_IDLE_TURN_MS = 2.0


class HandlerTimer:
    """Wall and thread-CPU seconds of every call of the handlers it wraps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def wrap(self, name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        """`handler`, timed under `name`."""

        def timed(*args: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return handler(*args)
            finally:
                spent = time.perf_counter() - wall, time.thread_time() - cpu
                with self._lock:
                    self.wall.setdefault(name, []).append(spent[0])
                    self.cpu.setdefault(name, []).append(spent[1])
                    self._changed.notify_all()

        return timed

    def wait_for(self, name: str, calls: int, timeout: float) -> bool:
        """Wait until `name` was called `calls` times; False on timeout."""
        with self._lock:
            return self._changed.wait_for(lambda: len(self.wall.get(name, ())) >= calls, timeout)

    def take(self, name: str) -> tuple[list[float], list[float]]:
        """The timings of `name` so far, forgotten here."""
        with self._lock:
            return self.wall.pop(name, []), self.cpu.pop(name, [])


def timed_registry(settings: Settings, timer: HandlerTimer) -> JobRegistry:
    """The deployment's registry, with the heartbeat and turn handlers timed."""
    registry = JobRegistry()
    for kind in build_registry(settings):
        timed = kind.name in (HEARTBEAT_JOB, TURN_JOB)
        wrapped = dataclasses.replace(kind, handler=timer.wrap(kind.name, kind.handler))
        registry.add(wrapped if timed else kind)
    return registry


def housekeeping_scheduler(settings: Settings, db: Database, registry: JobRegistry) -> Scheduler:
    """The deployment's scheduler (reaper, cron, retention) without its heartbeat task.

    The reaper matters: a job whose success was not recorded (see the report: a completion
    lost to a deadlock on PostgreSQL) runs again once its lease lapsed, as under `missionctl up`.
    Heartbeats are enqueued by the bench itself, with the scheduler's own function.
    """
    work = [p for p in periodic_work(settings, registry) if p.name != "heartbeats"]
    return Scheduler(db, leadership_for(db.engine), work)


def create_idle_agents(db: Database, count: int) -> float:
    """`count` agents with nothing to do; the seconds it took."""
    began = time.perf_counter()
    with db.transaction(DEFAULT_TENANT_ID) as session:
        for n in range(count):
            agent = AgentCreate(
                name=f"idle-{n:05d}",
                role="Idler",
                capabilities=["research"],
                heartbeat_interval_seconds=3600,
            )
            create_agent(session, agent, actor=Actor.system())
    return time.perf_counter() - began


@dataclass
class IdleBatch:
    """One round of N idle jobs of one kind at one concurrency."""

    kind: str
    concurrency: int
    round: int
    jobs: int
    wall_ms_per_job: float
    process_cpu_ms_per_job: float
    handler_wall_ms_p50: float
    handler_wall_ms_mean: float
    handler_cpu_ms_mean: float
    enqueue_ms_per_job: float
    extra: dict[str, Any] = field(default_factory=dict)


def _count(db: Database, kind: str, status: str, since: datetime) -> int:
    with db.connect(write=False) as conn:
        found = conn.scalar(
            select(func.count())
            .select_from(JobRow)
            .where(JobRow.kind == kind, JobRow.status == status, JobRow.created_at >= since)
        )
    return int(found or 0)


def _last_finished(db: Database, kind: str, since: datetime) -> datetime:
    with db.connect(write=False) as conn:
        last = conn.scalar(
            select(func.max(JobRow.finished_at)).where(
                JobRow.kind == kind, JobRow.created_at >= since
            )
        )
    assert last is not None
    return last if last.tzinfo else last.replace(tzinfo=UTC)


def _wait_all(
    db: Database, timer: HandlerTimer, kind: str, count: int, since: datetime, timeout: float
) -> None:
    """Until `count` jobs of `kind` succeeded: the handler calls first (no polling), then the
    jobs table (successes are written after the handler returns)."""
    deadline = time.monotonic() + timeout
    while not timer.wait_for(kind, count, 1.0) or _count(db, kind, "succeeded", since) < count:
        for status in ("failed", "dead"):
            if _count(db, kind, status, since):
                raise RuntimeError(f"an {kind} job {status}; see the jobs table")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{kind}: not all {count} jobs succeeded after {timeout:.0f} s")
        time.sleep(0.01)


def _enqueue_heartbeats(db: Database, count: int) -> int:
    with db.transaction(None) as session:
        session.execute(
            update(AgentRow)
            .values(next_heartbeat_at=utcnow() - timedelta(minutes=1))
            .execution_options(all_tenants=True)
        )
    enqueued = 0
    while True:
        with db.transaction(None) as session:
            batch = enqueue_due_heartbeats(session, utcnow())
        enqueued += batch
        if not batch:
            return enqueued


def _enqueue_turns(db: Database, agent_ids: list[Any]) -> int:
    with db.transaction(DEFAULT_TENANT_ID) as session:
        return sum(request_turn_now(session, agent_id) for agent_id in agent_ids)


def run_batch(
    db: Database,
    settings: Settings,
    *,
    kind: str,
    count: int,
    concurrency: int,
    round_index: int,
    timeout: float = 300.0,
) -> IdleBatch:
    """Enqueue `count` idle jobs of `kind` with a worker running; wait; measure."""
    timer = HandlerTimer()
    registry = timed_registry(settings, timer)
    worker = make_worker(settings, db, registry, concurrency=concurrency)
    scheduler = housekeeping_scheduler(settings, db, registry)
    tune_gc()  # as `missionctl up` and `missionctl worker` do before they start
    worker.start()
    scheduler.start()
    try:
        with db.connect(write=False) as conn:
            agent_ids = list(conn.scalars(select(AgentRow.agent_id).order_by(AgentRow.agent_id)))
        since = utcnow() - timedelta(seconds=1)
        began_at, cpu = datetime.now(UTC), time.process_time()
        began = time.perf_counter()
        if kind == HEARTBEAT_JOB:
            enqueued = _enqueue_heartbeats(db, count)
        else:
            enqueued = _enqueue_turns(db, agent_ids)
        enqueue_seconds = time.perf_counter() - began
        if enqueued != count:
            raise RuntimeError(f"{kind}: {enqueued} jobs enqueued for {count} agents")
        _wait_all(db, timer, kind, count, since, timeout)
        cpu = time.process_time() - cpu
    finally:
        scheduler.stop()
        worker.stop(grace_seconds=10)
    wall = (_last_finished(db, kind, since) - began_at).total_seconds()
    walls, cpus = timer.take(kind)
    extra = _check_turns(db, since) if kind == TURN_JOB else {}
    extra["attempts_beyond_first"] = _reruns(db, kind, since)
    return IdleBatch(
        kind=kind,
        concurrency=concurrency,
        round=round_index,
        jobs=count,
        wall_ms_per_job=round(wall * 1000 / count, 4),
        process_cpu_ms_per_job=round(cpu * 1000 / count, 4),
        handler_wall_ms_p50=round(statistics.median(walls) * 1000, 4),
        handler_wall_ms_mean=round(statistics.fmean(walls) * 1000, 4),
        handler_cpu_ms_mean=round(statistics.fmean(cpus) * 1000, 4),
        enqueue_ms_per_job=round(enqueue_seconds * 1000 / count, 4),
        extra=extra,
    )


def _reruns(db: Database, kind: str, since: datetime) -> int:
    """Attempts beyond the first: jobs that ran again (a lost completion, say)."""
    with db.connect(write=False) as conn:
        extra = conn.scalar(
            select(func.coalesce(func.sum(JobRow.attempts - 1), 0)).where(
                JobRow.kind == kind, JobRow.created_at >= since
            )
        )
    return int(extra or 0)


def _check_turns(db: Database, since: datetime) -> dict[str, Any]:
    """Every turn ended idle, and no model was asked."""
    with db.connect(write=False) as conn:
        results = list(
            conn.scalars(
                select(JobRow.result).where(JobRow.kind == TURN_JOB, JobRow.created_at >= since)
            )
        )
        usage_rows = int(conn.scalar(select(func.count()).select_from(UsageRow)) or 0)
    outcomes: dict[str, int] = {}
    for result in results:
        outcome = str((result or {}).get("outcome"))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if set(outcomes) != {"idle"}:
        raise RuntimeError(f"idle turns ended {outcomes}, expected all idle")
    if usage_rows:
        raise RuntimeError(f"{usage_rows} usage rows after idle turns: a model was asked")
    return {"outcomes": outcomes, "usage_rows": usage_rows}


def summarise(batches: list[IdleBatch]) -> dict[str, float]:
    """Medians over rounds of each figure."""
    keys = (
        "wall_ms_per_job",
        "process_cpu_ms_per_job",
        "handler_wall_ms_p50",
        "handler_wall_ms_mean",
        "handler_cpu_ms_mean",
        "enqueue_ms_per_job",
    )
    return {key: round(statistics.median(getattr(b, key) for b in batches), 3) for key in keys}
