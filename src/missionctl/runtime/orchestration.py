"""Orchestration decided in code: goals into subtasks, assignment, reviews, goals closed.

Models propose; this module disposes. A plan from the orchestrator's model becomes subtasks with
dependencies here, and `assignment.assign` (capability, load, availability, priority) picks every
assignee, so the board stays balanced whatever the model said. A subtask needing a capability
no agent has gets a proposed agent from a template (`proposals`). When a task goes to `review` a
reviewer is chosen (another agent with the `review` capability, else the orchestrator; a goal is
always reviewed by the orchestrator) and woken; its verdict approves the task (done) or returns
it with comments, at most `review_max_rounds` times before a person is asked. When a goal's last
subtask is done the goal goes to review, and its approval writes the results document.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from pydantic import BaseModel, Field
from sqlalchemy import Row, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from missionctl.agents.schemas import Agent, AgentStatus
from missionctl.agents.service import all_agents, get_agent
from missionctl.board import service as board
from missionctl.board.models import TaskRow
from missionctl.board.schemas import Task, TaskCreate, TaskStatus, TaskStatusChange
from missionctl.common import Actor
from missionctl.comms.schemas import MessageCreate, MessageType, NotificationKind
from missionctl.comms.service import create_message, notify_admins, notify_agent
from missionctl.db import utcnow
from missionctl.documents.schemas import DocumentCreate
from missionctl.documents.service import create_document, documents_of
from missionctl.events.service import DomainEvent, on_event, record_event
from missionctl.models.offline_text import infer_capability
from missionctl.runtime.assignment import Candidate, Need, assign
from missionctl.runtime.models import TaskReviewRow
from missionctl.runtime.proposals import has_pending_proposal, propose_for, template_for
from missionctl.runtime.schemas import Policy
from missionctl.runtime.service import ORCHESTRATOR_CAPABILITY, request_turn

REVIEW_CAPABILITY = "review"
MAX_SUBTASKS = 8


class PlannedTask(BaseModel):
    """One subtask of a plan."""

    title: str = Field(min_length=1, max_length=200, description="Short imperative title.")
    description: str = Field(default="", max_length=4000, description="What to do and deliver.")
    capability: str | None = Field(
        default=None, max_length=64, description="The capability it needs, e.g. research."
    )
    depends_on: list[int] = Field(
        default_factory=list, description="Indices (from 0) of earlier subtasks it waits for."
    )


class Plan(BaseModel):
    """A goal broken down into ordered subtasks."""

    subtasks: list[PlannedTask] = Field(min_length=1, max_length=MAX_SUBTASKS)


class ReviewVerdict(BaseModel):
    """A reviewer's decision on a task's work."""

    approved: bool = Field(description="True to accept the work; false to return it.")
    comments: list[str] = Field(default_factory=list, description="What to change, or praise.")


def post_update(
    session: Session, task_id: uuid.UUID, agent_id: uuid.UUID | None, text: str
) -> None:
    """A status update in the task's thread, by the agent (or the system)."""
    actor = Actor.agent(agent_id) if agent_id else Actor.system()
    data = MessageCreate(
        content=text[:20_000], message_type=MessageType.STATUS_UPDATE, author_agent_id=agent_id
    )
    create_message(session, task_id, data, actor=actor, store=None, max_attachment_bytes=0)


def _move(
    session: Session, task_id: uuid.UUID, status: TaskStatus, by: uuid.UUID | None, reason: str
) -> Task:
    actor = Actor.agent(by) if by else Actor.system()
    change = TaskStatusChange(status=status, reason=reason[:500] or None, by_agent_id=by)
    return board.change_status(session, task_id, change, actor=actor)


# -- who -------------------------------------------------------------------------------------


def planners(session: Session) -> list[Agent]:
    """The agents able to plan and not blocked, oldest first."""
    able = [
        agent
        for agent in all_agents(session)
        if ORCHESTRATOR_CAPABILITY in agent.capabilities and agent.status is not AgentStatus.BLOCKED
    ]
    return sorted(able, key=lambda a: (a.created_at, a.name))


def orchestrator(session: Session) -> Agent | None:
    """The tenant's lead orchestrator (it triages the inbox): the oldest planner."""
    return next(iter(planners(session)), None)


def candidates(session: Session, capacity: int) -> list[Candidate]:
    """Every agent as assignment sees it, with its current load."""
    load = board.open_task_counts(session)
    agents = all_agents(session)
    # Orchestrators coordinate rather than take work, unless they are all the team there is.
    workers = [a for a in agents if ORCHESTRATOR_CAPABILITY not in a.capabilities] or agents
    return [
        Candidate(
            agent_id=agent.agent_id,
            name=agent.name,
            capabilities=frozenset(agent.capabilities),
            open_tasks=load.get(agent.agent_id, 0),
            capacity=capacity,
            is_available=agent.status is not AgentStatus.BLOCKED,
        )
        for agent in workers
    ]


def needs_new_agent(session: Session, pool: Sequence[Candidate], capability: str) -> bool:
    """No agent has `capability`, but a template offers it (so one can be proposed)."""
    return known_capability(pool, capability) is None and template_for(capability) is not None


def known_capability(agents: Sequence[Candidate], wanted: str | None) -> str | None:
    """`wanted` if some agent has it, else None (anyone may take the task)."""
    return wanted if wanted and any(wanted in a.capabilities for a in agents) else None


def assign_all(
    session: Session, needs: Sequence[Need], *, by: Agent, policy: Policy
) -> dict[uuid.UUID, uuid.UUID | None]:
    """Assign each task to the agent scored best for it (as `by`); None where nobody fits."""
    chosen = assign(needs, candidates(session, policy.capacity))
    for task_id, agent_id in chosen.items():
        # Only if still unassigned: another orchestrator's turn may have taken it meanwhile.
        if agent_id is not None and not board.claim_task(
            session, task_id, agent_id, by=by.agent_id
        ):
            chosen[task_id] = None
    return chosen


def triage(session: Session, by: Agent, policy: Policy) -> int:
    """Assign the inbox's unassigned tasks that are not goals; how many were assigned."""
    waiting = board.unassigned_inbox_tasks(session, goals=False)
    if not waiting:
        return 0
    pool = candidates(session, policy.capacity)
    needs = []
    for task in waiting:
        wanted = infer_capability(f"{task.title}\n{task.description}", "")
        if (
            wanted
            and needs_new_agent(session, pool, wanted)
            and has_pending_proposal(session, wanted)
        ):
            continue  # it waits for the agent proposed for it
        needs.append(Need(task.task_id, known_capability(pool, wanted), task.priority.value))
    return sum(1 for a in assign_all(session, needs, by=by, policy=policy).values() if a)


def choose_reviewer(session: Session, task: Task) -> Agent | None:
    """Who reviews `task`: the orchestrator for a goal; else the least busy other reviewer."""
    if task.is_goal:  # the orchestrator that planned it, else the tenant's
        planners = [a for a in all_agents(session) if a.agent_id in task.assignee_ids]
        planner = next((a for a in planners if ORCHESTRATOR_CAPABILITY in a.capabilities), None)
        return planner or orchestrator(session)
    reviewers = [
        agent
        for agent in all_agents(session)
        if REVIEW_CAPABILITY in agent.capabilities
        and agent.agent_id not in task.assignee_ids
        and agent.status is not AgentStatus.BLOCKED
    ]
    if reviewers:
        load = board.open_task_counts(session)
        for reviewer_id, waiting in review_counts(session, [a.agent_id for a in reviewers]):
            load[reviewer_id] = load.get(reviewer_id, 0) + waiting
        return min(reviewers, key=lambda a: (load.get(a.agent_id, 0), a.name))
    lead = orchestrator(session)
    if lead is not None and lead.agent_id not in task.assignee_ids:
        return lead
    return None


# -- plans -----------------------------------------------------------------------------------


def apply_plan(
    session: Session, goal: Task, plan: Plan, *, by: Agent, policy: Policy
) -> list[uuid.UUID]:
    """Create the plan's subtasks under `goal`, with dependencies, each assigned in code.

    Who does what is scored before the subtasks exist, so each is created already assigned
    (one write per subtask, not a create and then a claim); a step no agent can take waits in
    the inbox for the agent proposed for it.
    """
    actor = Actor.agent(by.agent_id)
    steps = plan.subtasks[:MAX_SUBTASKS]
    pool = candidates(session, policy.capacity)
    waiting = {  # step → the capability nobody has
        index: step.capability
        for index, step in enumerate(steps)
        if step.capability and needs_new_agent(session, pool, step.capability)
    }
    keys = [uuid.UUID(int=index + 1) for index in range(len(steps))]  # the Needs' ids
    chosen = assign(
        [
            Need(keys[index], known_capability(pool, step.capability), goal.priority.value)
            for index, step in enumerate(steps)
            if index not in waiting
        ],
        pool,
    )
    created: list[uuid.UUID] = []
    for index, step in enumerate(steps):
        owner = chosen.get(keys[index])
        data = TaskCreate(
            title=step.title,
            description=step.description,
            priority=goal.priority,
            parent_task_id=goal.task_id,
            depends_on=[created[i] for i in dict.fromkeys(step.depends_on) if 0 <= i < index],
            assignee_ids=[owner] if owner else [],
            created_by_agent_id=by.agent_id,
        )
        created.append(board.add_task(session, data, actor=actor))
    for index, capability in sorted(waiting.items()):  # for the agent proposed, once approved
        propose_for(session, capability, task_id=created[index], by=by, policy=policy)
    names = {agent.agent_id: agent.name for agent in all_agents(session)}
    lines = []
    for n, step in enumerate(steps, 1):
        owner = chosen.get(keys[n - 1])
        who = names[owner] if owner else "nobody yet"  # no @: assignment already notified
        if n - 1 in waiting:
            who = f"a new {step.capability} agent (proposed; a person approves it)"
        after = [str(i + 1) for i in step.depends_on if 0 <= i < n - 1]
        lines.append(
            f"{n}. {step.title} → {who}" + (f" (after {', '.join(after)})" if after else "")
        )
    post_update(session, goal.task_id, by.agent_id, "Plan:\n" + "\n".join(lines))
    return created


# -- reviews ---------------------------------------------------------------------------------


def _rounds(session: Session, task_id: uuid.UUID) -> int:
    session.flush()  # a Core read on the session's connection: write pending changes first
    return session.connection().execute(_ROUNDS, {"task_id": task_id}).scalar() or 0


def request_review(session: Session, task: Task) -> TaskReviewRow | None:
    """Open a review round for a task that went to review, and wake its reviewer."""
    reviewer = choose_reviewer(session, task)
    if reviewer is None:
        return None  # people review it on the board
    row = TaskReviewRow(
        task_id=task.task_id,
        reviewer_agent_id=reviewer.agent_id,
        round=_rounds(session, task.task_id) + 1,
        status="requested",
    )
    session.add(row)
    session.flush()
    notify_agent(
        session,
        reviewer.agent_id,
        NotificationKind.REVIEW,
        f"Please review {task.title!r} (round {row.round})",
        task_id=task.task_id,
    )
    request_turn(session, reviewer.agent_id)
    return row


def review_counts(session: Session, reviewer_ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, int]]:
    """How many requested reviews wait for each of these reviewers (part of its load)."""
    session.flush()  # a Core read on the session's connection: write pending changes first
    rows = session.connection().execute(_WAITING, {"reviewer_ids": reviewer_ids})
    return [(uuid.UUID(str(agent_id)), int(count)) for agent_id, count in rows]


def pending_review(session: Session, agent_id: uuid.UUID) -> Row[Any] | None:
    """The oldest review (its `review_id` and `task_id`) the agent was asked for whose task
    still waits in review."""
    session.flush()  # a Core read on the session's connection: write pending changes first
    conn = session.connection()
    stale = []
    for review in conn.execute(_REQUESTED, {"agent_id": agent_id}):
        if review.task_status == TaskStatus.REVIEW.value:
            break
        stale.append(review.review_id)  # the task left review some other way (a person moved it)
    else:
        review = None
    if stale:
        conn.execute(_SUPERSEDE, {"stale": stale})
    return review


# Every turn of a reviewer asks it: built once, run as Core (a reviewer's ids name its tenant).
_REVIEWS = cast(Table, TaskReviewRow.__table__).c
_REQUESTED = (
    select(_REVIEWS.review_id, _REVIEWS.task_id, TaskRow.status.label("task_status"))
    .join(TaskRow, TaskRow.task_id == _REVIEWS.task_id)
    .where(
        _REVIEWS.reviewer_agent_id == bindparam("agent_id", type_=_REVIEWS.reviewer_agent_id.type),
        _REVIEWS.status == "requested",
    )
    .order_by(_REVIEWS.created_at)
)
# Run for every task sent to review: built once; the ids they name belong to one tenant.
_ROUNDS = select(func.count()).where(_REVIEWS.task_id == bindparam("task_id"))
_WAITING = (
    select(_REVIEWS.reviewer_agent_id, func.count())
    .where(
        _REVIEWS.reviewer_agent_id.in_(bindparam("reviewer_ids", expanding=True)),
        _REVIEWS.status == "requested",
    )
    .group_by(_REVIEWS.reviewer_agent_id)
)
_SUPERSEDE = (
    update(TaskReviewRow)
    .where(_REVIEWS.review_id.in_(bindparam("stale", expanding=True)))
    .values(status="superseded")
)


def apply_review(
    session: Session, review_id: uuid.UUID, verdict: ReviewVerdict, *, policy: Policy
) -> str:
    """Carry out a reviewer's verdict; the outcome: approved, returned or escalated."""
    row = session.get(TaskReviewRow, review_id)
    if row is None or row.status != "requested":
        return "superseded"
    task = board.get_task(session, row.task_id)
    if task.status is not TaskStatus.REVIEW:
        row.status = "superseded"
        return "superseded"
    reviewer = row.reviewer_agent_id
    comments = [c.strip() for c in verdict.comments if c.strip()]
    row.comments = "\n".join(comments)
    row.decided_at = utcnow()
    if verdict.approved:
        row.status = "approved"
        post_update(session, task.task_id, reviewer, "Approved. " + " ".join(comments))
        if task.is_goal:
            write_results(session, task, by=reviewer)
        _move(session, task.task_id, TaskStatus.DONE, reviewer, "approved in review")
        return "approved"
    names = ", ".join(f"@{get_agent(session, a).name}" for a in task.assignee_ids)
    bullets = "\n".join(f"- {c}" for c in comments) or "- (no comments given)"
    if row.round >= policy.max_review_rounds:
        row.status = "escalated"
        reason = f"returned in {row.round} review rounds; a person should decide"
        post_update(
            session, task.task_id, reviewer, f"Changes requested again:\n{bullets}\n\n{reason}."
        )
        _move(session, task.task_id, TaskStatus.BLOCKED, reviewer, reason)
        notify_admins(
            session,
            NotificationKind.ESCALATION,
            f"{task.title!r} was {reason}",
            task_id=task.task_id,
        )
        return "escalated"
    row.status = "returned"
    post_update(
        session,
        task.task_id,
        reviewer,
        f"{names} changes requested (round {row.round}):\n{bullets}",
    )
    _move(session, task.task_id, TaskStatus.IN_PROGRESS, reviewer, "returned by review")
    return "returned"


# -- goals -----------------------------------------------------------------------------------


def write_results(session: Session, goal: Task, *, by: uuid.UUID | None) -> uuid.UUID:
    """The goal's results document: each subtask and the documents it produced."""
    sections = [f"# Results: {goal.title}", goal.description.strip()]
    subtasks = board.subtasks_of(session, goal.task_id)
    documents = documents_of(session, [subtask.task_id for subtask in subtasks])
    for subtask in subtasks:
        sections.append(f"## {subtask.title}")
        found = documents[subtask.task_id]
        for document in found:
            sections.append(
                f"### {document.title} (document {document.document_id}, "
                f"version {document.version})\n\n{_demote(document.content)}"
            )
        if not found:
            sections.append("_No document; see the task's thread._")
    data = DocumentCreate(
        title=f"Results: {goal.title}"[:200],
        content="\n\n".join(s for s in sections if s)[:200_000],
        task_id=goal.task_id,
        author_agent_id=by,
    )
    actor = Actor.agent(by) if by else Actor.system()
    return create_document(session, data, actor=actor).document_id


def _demote(markdown: str) -> str:
    """Headings pushed down three levels, so a document nests under its subtask."""
    return "\n".join(
        "###" + line if line.startswith("#") else line for line in markdown.strip().splitlines()
    )


def _after_done(session: Session, task: Task) -> None:
    for dependent in board.dependents_of(session, task.task_id):
        for agent_id in dependent.assignee_ids:
            request_turn(session, agent_id)
    if task.parent_task_id is not None:
        goal = board.get_task(session, task.parent_task_id)
        siblings = board.subtasks_of(session, goal.task_id)
        if all(s.status is TaskStatus.DONE for s in siblings) and goal.status in (
            TaskStatus.ASSIGNED,
            TaskStatus.IN_PROGRESS,
        ):
            if goal.status is TaskStatus.ASSIGNED:
                _move(session, goal.task_id, TaskStatus.IN_PROGRESS, None, "")
            _move(session, goal.task_id, TaskStatus.REVIEW, None, "every subtask is done")
    if board.has_unassigned_inbox(session) and (lead := orchestrator(session)):
        request_turn(session, lead.agent_id)


@on_event("task.status_changed")
def _react_to_status(session: Session, event: DomainEvent) -> None:
    if event.task_id is None:
        return
    target, source = event.payload.get("to"), event.payload.get("from")
    if target == TaskStatus.REVIEW.value:
        request_review(session, board.get_task(session, event.task_id))
    elif target == TaskStatus.DONE.value:
        _after_done(session, board.get_task(session, event.task_id))
    elif source == TaskStatus.BLOCKED.value and event.actor.agent_id is None:
        for agent_id in board.get_task(session, event.task_id).assignee_ids:
            request_turn(session, agent_id)  # a person unblocked it


@on_event("task.created")
def _wake_orchestrator(session: Session, event: DomainEvent) -> None:
    if event.task_id is None or event.payload.get("parent_task_id"):
        return  # a subtask: its planner assigns it
    task = board.get_task(session, event.task_id)
    if task.assignee_ids:
        return
    # A goal goes to whichever planner takes a turn first; other tasks are triaged by the lead.
    wake = planners(session) if task.is_goal else planners(session)[:1]
    for planner in wake:
        if planner.agent_id != event.actor.agent_id:
            request_turn(session, planner.agent_id)


def escalate_stopped_turn(
    session: Session, agent: Agent, task_id: uuid.UUID | None, reason: str, detail: str
) -> None:
    """A turn hit a safety limit: record it, block its task, and tell the admins."""
    record_event(
        session,
        "agent.turn_stopped",
        actor=Actor.system(),
        subject_kind="agent",
        subject_id=agent.agent_id,
        task_id=task_id,
        agent_id=agent.agent_id,
        summary=f"{agent.name}'s turn was stopped: {detail}",
        payload={"reason": reason, "detail": detail, "name": agent.name},
    )
    if task_id is not None:
        task = board.get_task(session, task_id)
        if task.status is not TaskStatus.BLOCKED and task.status is not TaskStatus.DONE:
            _move(session, task_id, TaskStatus.BLOCKED, None, f"turn stopped: {detail}")
    notify_admins(
        session,
        NotificationKind.ESCALATION,
        f"{agent.name}'s turn was stopped ({reason}): {detail}",
        task_id=task_id,
    )
