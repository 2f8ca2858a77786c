"""Part 2 of bench/agents.py: goals of 4 subtasks run by a team of agents on a 200 ms model.

A fresh, migrated database gets the team (`TEAMS`, 20 agents on `model: "default"`), a
deployment `slow` (`openai-compatible`, the fake server of bench/agents_fake.py, priced so that
budgets count it), the tenant policy `default` = [`slow`] and a tenant budget of $1,000 (so every
request takes a budget hold and is charged). A real worker and scheduler (`bootstrap.make_worker`,
`make_scheduler`, the built-in job kinds, turns on the gateway's routed model) run in this
process, as `missionctl up` runs them. The clock starts when the transaction that creates the
goals commits and stops at the last goal's `completed_at`, read back from the database.

The latency-bound critical path comes from the run's usage rows (one per request, with agent,
task and run): a goal's chain is its own requests (plan, goal review) plus the most requests
along one dependency path through its subtasks; an agent's load is the requests it made (an agent
takes one turn at a time). Bound = max(longest chain, largest load) x latency.

Where a turn's time goes comes from the jobs table and the turn's checkpoints (`job_steps`):
queue (enqueued → claimed), begin (claimed → `begin` checkpoint), each model request (previous
checkpoint → `model:N`, the HTTP round trip and the gateway included), finish (→ `finish`) and
completion (→ `finished_at`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from bench_common import base_env
from board_list import group_cpu_seconds
from missionctl.agents.schemas import AgentCreate
from missionctl.agents.service import all_agents, create_agent
from missionctl.board import service as board
from missionctl.board.models import TaskRow
from missionctl.board.schemas import TaskCreate, TaskStatus
from missionctl.bootstrap import build_registry, make_scheduler, make_worker, tune_gc
from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, Database
from missionctl.engine.models import JobRow, JobStepRow, WorkerRow
from missionctl.models import budgets, service
from missionctl.models.models import UsageRow
from missionctl.models.schemas import BudgetCreate, DeploymentCreate, PolicyCreate, Prices
from missionctl.runtime.jobs import gateway_for
from missionctl.runtime.models import TaskReviewRow
from missionctl.runtime.turns import run_async
from missionctl.sealing import Sealer
from missionctl.settings import Settings, ensure_secret_key

API_KEY = "sk-bench-agents"  # what bench/agents_fake.py expects
DEPLOYMENT = "slow"
ALIAS = "default"
SUBTASKS = 4
BUDGET_USD = 1000.0

Team = tuple[tuple[str, int, tuple[str, ...]], ...]
# (name prefix, how many, capabilities); 20 agents each.
TEAMS: dict[str, Team] = {
    # The documented shape: one orchestrator (plans goals, assigns in code, reviews each goal it
    # planned), dedicated reviewers for subtasks, and workers whose capabilities match the 4
    # steps of every goal (research, analysis, writing x 2).
    "dedicated": (
        ("orchestrator", 1, ("planning", "coordination")),
        ("reviewer", 4, ("review", "quality")),
        ("researcher", 4, ("research",)),
        ("analyst", 4, ("analysis",)),
        ("writer", 7, ("writing", "editing")),
    ),
    # Peer review: no dedicated reviewers; every worker also reviews (never its own task).
    "peer": (
        ("orchestrator", 1, ("planning", "coordination")),
        ("researcher", 5, ("research", "review")),
        ("analyst", 5, ("analysis", "review")),
        ("writer", 9, ("writing", "editing", "review")),
    ),
}


def team_note(team: Team) -> str:
    """The team's shape in one line."""
    return ", ".join(f"{count} {name}{'s' if count > 1 else ''}" for name, count, _ in team)


def goal_text(index: int) -> TaskCreate:
    """Goal `index`: its description lists exactly four chained steps."""
    product = f"product {index:03d}"
    return TaskCreate(
        title=f"Launch {product}",
        description=(
            f"Prepare the launch of {product}. Do these:\n"
            f"1. Research the market for {product};\n"
            f"2. Analyse the pricing data for {product};\n"
            f"3. Write the launch plan for {product};\n"
            f"4. Write the announcement email for {product}."
        ),
        is_goal=True,
    )


def set_up(db: Database, settings: Settings, base_url: str, team: Team) -> None:
    """The deployment, the `default` policy, a tenant budget and the team."""
    system = Actor.system()
    with db.transaction(DEFAULT_TENANT_ID) as session:
        slow = DeploymentCreate(
            name=DEPLOYMENT,
            provider="openai-compatible",
            model="offline-slow",
            base_url=base_url,
            api_key=API_KEY,
            prices=Prices(input_per_mtok=0.15, output_per_mtok=0.6),
        )
        service.create_deployment(
            session, slow, actor=system, sealer=Sealer(ensure_secret_key(settings))
        )
        policy = PolicyCreate(name=ALIAS, deployments=[DEPLOYMENT])
        service.create_policy(session, policy, actor=system)
        budget = BudgetCreate(scope="tenant", limit_usd=BUDGET_USD)
        budgets.create_budget(session, budget, actor=system)
        for prefix, count, capabilities in team:
            for n in range(1, count + 1):
                agent = AgentCreate(
                    name=prefix if count == 1 else f"{prefix}-{n}",
                    role=prefix.capitalize(),
                    capabilities=list(capabilities),
                    instructions=f"You are the team's {prefix}.",
                    model=ALIAS,
                )
                create_agent(session, agent, actor=system)


@dataclass
class GoalRun:
    """One run of G goals: wall time, the bound, and what the rows say."""

    database: str
    round: int
    goals: int
    concurrency: int
    latency_seconds: float
    wall_seconds: float
    create_seconds: float
    process_cpu_seconds: float
    requests: int
    chain_requests: int
    max_agent_requests: int
    requests_by_agent: dict[str, int] = field(default_factory=dict)
    subtasks_per_goal: dict[int, int] = field(default_factory=dict)
    turn_outcomes: dict[str, int] = field(default_factory=dict)
    turn_retries: int = 0  # attempts beyond the first (a deadlock, say: see the report)
    failed_requests: list[str] = field(default_factory=list)  # usage rows not `ok`
    reviews: dict[str, int] = field(default_factory=dict)
    client_latency_ms: dict[str, float] = field(default_factory=dict)
    phases_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    loop_lag_ms: dict[str, float] = field(default_factory=dict)
    other_load_cores: float = 0.0
    processes: int = 1  # worker processes (this one and `missionctl worker`s)
    statements: int = 0  # SQL statements this process sent (the others' are not counted)
    problems: list[str] = field(default_factory=list)

    @property
    def turns(self) -> int:
        """Turn jobs run."""
        return sum(self.turn_outcomes.values())

    @property
    def chain_seconds(self) -> float:
        """Longest chain of dependent requests of one goal x latency."""
        return self.chain_requests * self.latency_seconds

    @property
    def agent_seconds(self) -> float:
        """Most requests of one agent x latency."""
        return self.max_agent_requests * self.latency_seconds

    @property
    def bound_seconds(self) -> float:
        """The latency-bound critical path."""
        return max(self.chain_seconds, self.agent_seconds)

    @property
    def ratio(self) -> float:
        """Wall time / bound."""
        return self.wall_seconds / self.bound_seconds if self.bound_seconds else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """JSON-able, with the derived figures."""
        return asdict(self) | {
            "turns": self.turns,
            "chain_seconds": round(self.chain_seconds, 3),
            "agent_seconds": round(self.agent_seconds, 3),
            "bound_seconds": round(self.bound_seconds, 3),
            "ratio": round(self.ratio, 3),
        }


class StatementCounter:
    """SQL statements the worker and scheduler of this process send (each cursor execution;
    BEGIN and COMMIT aside; not the bench's own, from the main thread): a figure of the work
    per turn that, unlike CPU time, a slower or busier machine does not move."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        self.count = 0
        self._main = threading.main_thread()
        event.listen(self.engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        if threading.current_thread() is not self._main:
            self.count += 1  # not locked: a lost update would be one in ~10^5

    def stop(self) -> None:
        """Stop counting."""
        event.remove(self.engine, "before_cursor_execute", self._count)


class ExtraWorkers:
    """`count` more `missionctl worker` processes on the same database (scale-out)."""

    def __init__(self, settings: Settings, db: Database, count: int, concurrency: int) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self._cpu_at_start = 0.0
        if count < 1:
            return
        env = base_env() | {
            "MISSIONCTL_DATABASE_URL": settings.database_url,
            "MISSIONCTL_DATA_DIR": str(settings.data_dir),
            "MISSIONCTL_SECRET_KEY": ensure_secret_key(settings),
            "MISSIONCTL_AGENT_CAPACITY": str(settings.agent_capacity),
        }
        missionctl = Path(sys.executable).parent / "missionctl"
        for _ in range(count):
            self.procs.append(
                subprocess.Popen(
                    [str(missionctl), "worker", "--concurrency", str(concurrency)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 60
        while self._alive(db) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                self.stop()
                raise RuntimeError("the extra worker processes did not start")
            time.sleep(0.1)
        self._cpu_at_start = self.cpu_seconds()

    def _alive(self, db: Database) -> int:
        pids = {p.pid for p in self.procs}
        with db.connect(write=False) as conn:
            rows = conn.execute(
                select(WorkerRow.pid).where(
                    WorkerRow.role == "worker", WorkerRow.stopped_at.is_(None)
                )
            ).all()
        return sum(1 for (pid,) in rows if pid in pids)

    def cpu_seconds(self) -> float:
        """CPU the extra workers used since they were ready."""
        return sum(group_cpu_seconds(p.pid) for p in self.procs) - self._cpu_at_start

    def stop(self) -> None:
        """SIGTERM, then SIGKILL for any that linger."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs = []


class LoopLag:
    """How late the turns' event loop (`turns.run_async`) wakes from a 5 ms sleep.

    Every model request of every turn of the process is awaited on that one loop; whatever
    runs on it without awaiting (database work, CPU) delays all of them.
    """

    PERIOD = 0.005

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=run_async, args=(self._probe(),), daemon=True)

    async def _probe(self) -> None:
        while not self._stop.is_set():
            began = time.perf_counter()
            await asyncio.sleep(self.PERIOD)
            self.lags.append(time.perf_counter() - began - self.PERIOD)

    def __enter__(self) -> LoopLag:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def summary(self) -> dict[str, float]:
        """Percentiles of the lag (ms), and the share of time it was late by more than 50 ms."""
        lags = sorted(self.lags)
        if not lags:
            return {}
        late = sum(lag for lag in lags if lag > 0.05)
        return {
            "p50": round(lags[len(lags) // 2] * 1000, 1),
            "p99": round(lags[int(len(lags) * 0.99)] * 1000, 1),
            "max": round(lags[-1] * 1000, 1),
            "share_late_over_50ms": round(late / (sum(lags) + self.PERIOD * len(lags)), 3),
        }


def _goal_states(db: Database) -> Counter[str]:
    with db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        rows = session.execute(
            select(TaskRow.status, func.count())
            .where(TaskRow.is_goal.is_(True))
            .group_by(TaskRow.status)
        ).all()
    return Counter(dict(rows))


def _dead_jobs(db: Database) -> int:
    with db.connect(write=False) as conn:
        found = conn.scalar(select(func.count()).select_from(JobRow).where(JobRow.status == "dead"))
    return int(found or 0)


def wait_for_goals(db: Database, goals: int, timeout: float) -> None:
    """Poll until every goal is done; fail on a blocked goal, a dead job or the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        states = _goal_states(db)
        if states.get(TaskStatus.DONE.value, 0) >= goals:
            return
        if states.get(TaskStatus.BLOCKED.value):
            raise RuntimeError(f"a goal was blocked: {dict(states)}")
        if _dead_jobs(db):
            raise RuntimeError("a job died (see the jobs table)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"goals not done after {timeout:.0f} s: {dict(states)}")
        time.sleep(0.25)


def run_goals(
    db: Database,
    settings: Settings,
    *,
    database: str,
    round_index: int,
    goals: int,
    concurrency: int,
    latency: float,
    timeout: float,
    processes: int = 1,
) -> GoalRun:
    """Create the goals with a worker running; wait until all are done; read the rows back.

    `processes` > 1: that many workers in all, the others `missionctl worker` processes of
    their own (scale-out), each with `concurrency`; their CPU is added to the process's.
    """
    registry = build_registry(settings)
    worker = make_worker(settings, db, registry, concurrency=concurrency)
    scheduler = make_scheduler(settings, db, registry)
    extra = ExtraWorkers(settings, db, processes - 1, concurrency)
    tune_gc()  # as `missionctl up` and `missionctl worker` do before they start
    counter = StatementCounter(db)
    worker.start()
    scheduler.start()
    lag = LoopLag()
    extra_cpu = 0.0
    try:
        lag.__enter__()
        cpu, began = time.process_time(), time.monotonic()
        with db.transaction(DEFAULT_TENANT_ID) as session:
            goal_ids = [
                board.create_task(session, goal_text(i), actor=Actor.system()).task_id
                for i in range(1, goals + 1)
            ]
        committed = datetime.now(UTC)
        create_seconds = time.monotonic() - began
        wait_for_goals(db, goals, timeout)
        cpu = time.process_time() - cpu
        extra_cpu = extra.cpu_seconds()
    finally:
        lag.__exit__()
        counter.stop()
        extra.stop()
        scheduler.stop()
        worker.stop(grace_seconds=10)
        gateway_for(db, settings).close()
    run = analyse(db, goal_ids, committed)
    run.database, run.round, run.concurrency, run.latency_seconds = (
        database,
        round_index,
        concurrency,
        latency,
    )
    run.create_seconds = round(create_seconds, 3)
    run.process_cpu_seconds = round(cpu + extra_cpu, 2)
    run.processes = processes
    run.statements = counter.count
    run.loop_lag_ms = lag.summary()
    return run


def analyse(db: Database, goal_ids: list[uuid.UUID], committed: datetime) -> GoalRun:
    """Wall time from the goals, the critical path from the usage rows, phases from the jobs."""
    with db.transaction(DEFAULT_TENANT_ID, write=False) as session:
        done_at = session.scalar(
            select(func.max(TaskRow.completed_at)).where(TaskRow.task_id.in_(goal_ids))
        )
        usage = session.execute(
            select(
                UsageRow.agent_id,
                UsageRow.task_id,
                UsageRow.outcome,
                UsageRow.latency_ms,
                UsageRow.error,
            )
        ).all()
        names = {agent.agent_id: agent.name for agent in all_agents(session)}
        subtasks = {goal_id: board.subtasks_of(session, goal_id) for goal_id in goal_ids}
        reviews = Counter(status for (status,) in session.execute(select(TaskReviewRow.status)))
        spent = budgets.list_budgets(session)
    assert done_at is not None
    done_at = done_at if done_at.tzinfo else done_at.replace(tzinfo=UTC)
    ok = [row for row in usage if row.outcome == "ok"]
    per_task = Counter(row.task_id for row in ok)
    per_agent = Counter(names.get(row.agent_id, str(row.agent_id)) for row in ok)
    chains = [per_task[g] + _longest_path(subtasks[g], per_task) for g in goal_ids]
    latencies = sorted(row.latency_ms for row in ok)
    outcomes, phases, retries = turn_phases(db)
    run = GoalRun(
        database="",
        round=0,
        goals=len(goal_ids),
        concurrency=0,
        latency_seconds=0.0,
        wall_seconds=round((done_at - committed).total_seconds(), 3),
        create_seconds=0.0,
        process_cpu_seconds=0.0,
        requests=len(ok),
        chain_requests=max(chains),
        max_agent_requests=max(per_agent.values()),
        requests_by_agent=dict(sorted(per_agent.items())),
        subtasks_per_goal=dict(Counter(len(s) for s in subtasks.values())),
        turn_outcomes=outcomes,
        turn_retries=retries,
        reviews=dict(reviews),
        client_latency_ms={
            "p50": round(statistics.median(latencies), 1),
            "p90": round(latencies[int(len(latencies) * 0.9)], 1),
            "max": round(latencies[-1], 1),
        },
        phases_ms=phases,
        budget={
            "spent_usd": spent[0].spent_usd if spent else None,
            "held_usd": spent[0].held_usd if spent else None,
        },
    )
    if run.subtasks_per_goal != {SUBTASKS: len(goal_ids)}:
        run.problems.append(f"subtasks per goal: {run.subtasks_per_goal}, expected {SUBTASKS}")
    run.failed_requests = [
        f"{row.outcome}: {row.error}"[:300] for row in usage if row.outcome != "ok"
    ]
    if not spent or spent[0].held_usd or not spent[0].spent_usd:
        run.problems.append(f"budget after the run: {run.budget}")
    return run


def _longest_path(tasks: list[Any], per_task: Counter[Any]) -> int:
    """Most requests along one dependency path through `tasks` (depends_on inside the goal)."""
    by_id = {task.task_id: task for task in tasks}
    memo: dict[uuid.UUID, int] = {}

    def longest(task_id: uuid.UUID) -> int:
        if task_id not in memo:
            deps = [d for d in by_id[task_id].depends_on if d in by_id]
            memo[task_id] = per_task[task_id] + max((longest(d) for d in deps), default=0)
        return memo[task_id]

    return max((longest(task_id) for task_id in by_id), default=0)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def turn_phases(db: Database) -> tuple[dict[str, int], dict[str, dict[str, float]], int]:
    """Turn outcomes (work modes, idle, busy), per mode the median ms of each phase, and the
    attempts beyond the first."""
    with db.connect(write=False) as conn:
        turns = conn.execute(
            select(
                JobRow.job_id,
                JobRow.result,
                JobRow.created_at,
                JobRow.started_at,
                JobRow.finished_at,
            ).where(JobRow.kind == "agent.turn", JobRow.status == "succeeded")
        ).all()
        retries = conn.scalar(
            select(func.coalesce(func.sum(JobRow.attempts - 1), 0)).where(
                JobRow.kind == "agent.turn"
            )
        )
        steps: dict[Any, dict[str, datetime]] = defaultdict(dict)
        for job_id, key, finished in conn.execute(
            select(JobStepRow.job_id, JobStepRow.step_key, JobStepRow.finished_at)
        ):
            steps[job_id][key] = _utc(finished)
    outcomes: Counter[str] = Counter()
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for job_id, result, created, started, finished in turns:
        mode = str((result or {}).get("mode") or (result or {}).get("outcome"))
        outcomes[mode] += 1
        marks = steps.get(job_id, {})
        if "begin" not in marks or started is None or finished is None:
            continue
        phase = samples[mode]
        phase["queue"].append((_utc(started) - _utc(created)).total_seconds())
        phase["begin"].append((marks["begin"] - _utc(started)).total_seconds())
        ordered = sorted((at, key) for key, at in marks.items() if key not in ("begin", "finish"))
        last = marks["begin"]
        for at, key in ordered:
            phase["model" if key.startswith("model:") else "tool"].append(
                (at - last).total_seconds()
            )
            last = at
        if "finish" in marks:
            phase["finish"].append((marks["finish"] - last).total_seconds())
            last = marks["finish"]
        phase["complete"].append((_utc(finished) - last).total_seconds())
        phase["total"].append((_utc(finished) - _utc(created)).total_seconds())
    medians = {
        mode: {name: round(statistics.median(values) * 1000, 1) for name, values in phase.items()}
        for mode, phase in samples.items()
    }
    return dict(outcomes), medians, int(retries or 0)
