"""When agents take turns: one turn per agent at a time, woken at once by direct events.

A turn is an `agent.turn` job. `request_turn` enqueues one (as its unit of work commits) unless
the agent already has one waiting; if its turn is running, the request is remembered
(`wake_pending`) and the running turn enqueues the next one as it ends, so no wake-up is lost and
no two turns of an agent overlap.

Direct events wake agents in the transaction that records them (so a wake-up commits with its
cause, or not at all):

    task.assigned             the agents added
    message.created           the agents @mentioned (not the author)
    question.answered         the agent that asked (its turn resumes)
    task.created              the orchestrator, for a new unassigned top-level task or goal
    task.status_changed       review: a reviewer is chosen and woken (`orchestration`);
                              done: the assignees of tasks waiting for it, and the goal's
                              orchestrator when the goal's last subtask is done
    agent.status_changed      an agent a person unblocked
    budget.updated / deleted  agents whose last turn was refused for budget
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from missionctl.agents.models import AgentRow
from missionctl.db import Staged, tenant_of, utcnow
from missionctl.engine.models import JobRow
from missionctl.engine.schemas import JobStatus
from missionctl.engine.service import PENDING_STATUSES, enqueue
from missionctl.events.service import DomainEvent, on_event, write_staged_events
from missionctl.runtime.models import AgentTurnRow

TURN_JOB = "agent.turn"
ORCHESTRATOR_CAPABILITY = "planning"
# A planner's turns go first: claimed before other jobs, and urgent at the SQLite write lock
# (`db.WriteLock`). Every goal passes through a planner twice (planned, then reviewed), so it is
# the team's bottleneck: its waiting is everyone's.
PLANNER_TURN_PRIORITY = -1
_REQUESTS = Staged("turn_requests")
_ENDS = Staged("turn_ends")
TURNS = cast(Table, AgentTurnRow.__table__)  # hot paths use Core statements (no ORM overhead)


# The agent's turn state, locked for the unit of work (PostgreSQL; on SQLite the writer holds the
# database), with the agent's capabilities (whether its turns go first). Built once and run as
# Core: every turn and every wake-up reads it.
_LOCK_STATE = (
    select(
        TURNS.c.queued_job_id,
        TURNS.c.running_job_id,
        TURNS.c.wake_pending,
        TURNS.c.turns,
        select(AgentRow.capabilities)
        .where(AgentRow.agent_id == TURNS.c.agent_id)
        .scalar_subquery()
        .label("capabilities"),
    )
    .where(TURNS.c.agent_id == bindparam("agent_id"))
    .with_for_update(of=TURNS)
)
# The status of its queued and running jobs, read once the lock is held. Not joined to the
# locking read: on PostgreSQL a statement that waited for the lock still sees the other tables
# as they were when it began, so it would miss the job the unit of work it waited for enqueued
# (and enqueue a second; tests/runtime/test_wakeups.py).
_JOB_STATUSES = select(JobRow.job_id, JobRow.status).where(
    JobRow.job_id.in_(bindparam("job_ids", expanding=True))
)


@dataclass(frozen=True, slots=True)
class _TurnState:
    queued_job_id: uuid.UUID | None
    running_job_id: uuid.UUID | None
    wake_pending: bool
    turns: int
    capabilities: list[str]
    queued_status: str | None
    running_status: str | None


# Sets the columns named in the parameters besides `state_of`.
_SET_STATE = update(TURNS).where(TURNS.c.agent_id == bindparam("state_of"))


def _add_state(session: Session, agent_id: uuid.UUID) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(TURNS)
        .values(agent_id=agent_id, tenant_id=tenant_of(session), wake_pending=False, turns=0)
        .on_conflict_do_nothing(index_elements=["agent_id"])
    )


def _state(session: Session, agent_id: uuid.UUID) -> _TurnState:
    """The agent's turn state, locked, with its jobs' statuses; made here for an agent older
    than turn states (an agent's is made with it)."""
    conn = session.connection()
    found = conn.execute(_LOCK_STATE, {"agent_id": agent_id}).first()
    if found is None:
        _add_state(session, agent_id)
        found = conn.execute(_LOCK_STATE, {"agent_id": agent_id}).first()
    assert found is not None
    job_ids = [job_id for job_id in (found.queued_job_id, found.running_job_id) if job_id]
    statuses = dict(conn.execute(_JOB_STATUSES, {"job_ids": job_ids}).all()) if job_ids else {}
    return _TurnState(
        found.queued_job_id,
        found.running_job_id,
        found.wake_pending,
        found.turns,
        found.capabilities or [],
        statuses.get(found.queued_job_id),
        statuses.get(found.running_job_id),
    )


def _set_state(session: Session, agent_id: uuid.UUID, **values: Any) -> None:
    session.connection().execute(_SET_STATE, {"state_of": agent_id, **values})


def _is_live(state: _TurnState) -> bool:
    """Whether the state's running job may still run."""
    return state.running_job_id is not None and state.running_status in PENDING_STATUSES


@on_event("agent.created")
def _new_agent_state(session: Session, event: DomainEvent) -> None:
    if event.agent_id is not None:
        _add_state(session, event.agent_id)


def request_turn(session: Session, agent_id: uuid.UUID) -> None:
    """Make sure the agent gets a turn soon, when this unit of work commits.

    The requests of a unit of work are applied together just before it commits, in agent
    order: each locks the agent's turn state, so taking those locks late and in one order keeps
    two units of work that wake each other's agents from deadlocking (PostgreSQL).
    """
    _REQUESTS.add(session, agent_id)


@sa_event.listens_for(Session, "before_commit", insert=True)  # before the workers' NOTIFY
def _apply_turn_requests(session: Session) -> None:
    if not Staged.is_final_commit(session):
        return
    ends: dict[uuid.UUID, _End] = {end.agent_id: end for end in _ENDS.take(session)}
    requests: set[uuid.UUID] = set(_REQUESTS.take(session))
    if not requests and not ends:
        return
    # The events first (and what their sinks write): the turn states locked below stay
    # locked until commit (PostgreSQL), so as little as possible runs after. Ends and wake-ups
    # lock in one order (agent id), so two units of work cannot deadlock on them.
    write_staged_events(session)
    for agent_id in sorted(requests | ends.keys()):
        end = ends.get(agent_id)
        if (end is not None and _end_now(session, end)) or agent_id in requests:
            request_turn_now(session, agent_id)


def request_turn_now(session: Session, agent_id: uuid.UUID) -> bool:
    """`request_turn` applied at once; True when this call enqueued the turn."""
    state = _state(session, agent_id)
    queued = state.queued_status if state.queued_job_id else None
    if queued in PENDING_STATUSES and queued != JobStatus.RUNNING.value:
        return False  # it has not started: it will see what this unit of work did
    if queued == JobStatus.RUNNING.value or _is_live(state):
        _set_state(session, agent_id, wake_pending=True)
        return False
    is_planner = ORCHESTRATOR_CAPABILITY in state.capabilities
    job_id = enqueue(
        session,
        TURN_JOB,
        {"agent_id": str(agent_id)},
        priority=PLANNER_TURN_PRIORITY if is_planner else 0,
    )
    _set_state(session, agent_id, queued_job_id=job_id)
    return True


def start_turn(session: Session, agent_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    """Mark the agent's turn as running in `job_id`; False when another turn is running."""
    state = _state(session, agent_id)
    queued = None if state.queued_job_id == job_id else state.queued_job_id
    if state.running_job_id not in (None, job_id) and _is_live(state):
        # The running turn enqueues another when it ends.
        _set_state(session, agent_id, queued_job_id=queued, wake_pending=True)
        return False
    _set_state(session, agent_id, queued_job_id=queued, running_job_id=job_id)
    return True


def idle_turn(session: Session, agent_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    """Start and end the turn `job_id` at once, in one statement, after `agenda.has_work` saw
    nothing to do; False when that is not safe (take the slow path).

    Safe means: no other turn runs and no wake-up arrived meanwhile. A wake-up that came after
    the check found this job already running and set `wake_pending` (see `request_turn_now`),
    which fails this UPDATE; one that comes later finds no turn queued and enqueues one.
    """
    table = TURNS
    ended = session.connection().execute(
        update(table)
        .where(table.c.agent_id == agent_id)
        .where(table.c.running_job_id.is_(None), table.c.wake_pending.is_(False))
        .values(
            queued_job_id=case(
                (table.c.queued_job_id == job_id, None), else_=table.c.queued_job_id
            ),
            turns=table.c.turns + 1,
            last_outcome="idle",
            last_turn_at=utcnow(),
        )
    )
    return ended.rowcount == 1


@dataclass(frozen=True, slots=True)
class _End:
    agent_id: uuid.UUID
    job_id: uuid.UUID
    outcome: str
    more: bool


def end_turn(
    session: Session, agent_id: uuid.UUID, job_id: uuid.UUID, outcome: str, *, more: bool
) -> None:
    """Record how the turn ended, as this unit of work commits; start the next turn if work
    arrived meanwhile (or `more`).

    Applied with the turn requests, in their order and after everything else the unit of work
    does: the turn state's lock (PostgreSQL) is held only for the commit.
    """
    _ENDS.add(session, _End(agent_id, job_id, outcome, more))


def _end_now(session: Session, end: _End) -> bool:
    """`end_turn` applied; True when the agent should have another turn."""
    state = _state(session, end.agent_id)
    _set_state(
        session,
        end.agent_id,
        running_job_id=None if state.running_job_id == end.job_id else state.running_job_id,
        turns=state.turns + 1,
        last_outcome=end.outcome,
        last_turn_at=utcnow(),
        wake_pending=False,
    )
    return state.wake_pending or end.more


def _wake(session: Session, agent_ids: list[Any], *, except_id: uuid.UUID | None = None) -> None:
    for agent_id in dict.fromkeys(uuid.UUID(str(a)) for a in agent_ids):
        if agent_id != except_id:
            request_turn(session, agent_id)


@on_event("task.assigned")
def _wake_assignees(session: Session, event: DomainEvent) -> None:
    _wake(session, event.payload.get("added", []), except_id=event.actor.agent_id)


@on_event("message.created")
def _wake_mentioned(session: Session, event: DomainEvent) -> None:
    _wake(session, event.payload.get("mentioned_agent_ids", []), except_id=event.agent_id)


@on_event("question.answered")
def _resume_asker(session: Session, event: DomainEvent) -> None:
    if event.agent_id is not None:
        request_turn(session, event.agent_id)


@on_event("agent.status_changed")
def _wake_unblocked(session: Session, event: DomainEvent) -> None:
    if event.payload.get("status") == "idle" and event.agent_id is not None:
        request_turn(session, event.agent_id)


@on_event("budget.updated")
@on_event("budget.deleted")
def _wake_after_budget(session: Session, _event: DomainEvent) -> None:
    waiting = session.scalars(
        select(AgentTurnRow.agent_id).where(AgentTurnRow.last_outcome == "budget")
    )
    for agent_id in list(waiting):
        request_turn(session, agent_id)
    session.execute(
        update(AgentTurnRow)
        .where(AgentTurnRow.last_outcome == "budget")
        .values(last_outcome="budget_raised")
    )
