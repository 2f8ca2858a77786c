"""What a turn works on, decided in code before any model is asked, and the material for it.

In order, an agent's turn takes the first of:

1. an answered question of its own: the parked turn resumes with the answer;
2. for an orchestrator: unassigned inbox tasks are assigned in code (no model call; only by
   the tenant's lead orchestrator), then a goal to plan (it claims an unassigned goal first);
3. a review it was asked for;
4. its most urgent assigned or in-progress task whose dependencies are done and that does not
   wait for a person's answer (`assigned` moves to `in_progress` as the turn starts);
5. a mention to answer.

Nothing to do means an idle turn: no model call. Notifications are handed over (marked
delivered) when the turn starts and shown to the model as context.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, Uuid, bindparam, exists, select
from sqlalchemy.orm import Session

from missionctl.agents.schemas import Agent
from missionctl.agents.service import capabilities_of
from missionctl.board import service as board
from missionctl.board.schemas import Task, TaskStatus, TaskStatusChange
from missionctl.common import Actor
from missionctl.comms.questions import (
    claim_answered_question,
    open_question_on,
    unresumed_answer,
)
from missionctl.comms.schemas import Notification, NotificationKind
from missionctl.comms.service import deliver_notifications, thread_texts, undelivered
from missionctl.db import core_execute
from missionctl.documents.service import document_titles, documents_of
from missionctl.memory.schemas import MemoryFilter
from missionctl.memory.service import search_memories
from missionctl.runtime.context import ThreadMessage, TurnMaterial
from missionctl.runtime.models import TaskReviewRow
from missionctl.runtime.orchestration import (
    orchestrator,
    pending_review,
    triage,
)
from missionctl.runtime.schemas import Policy
from missionctl.runtime.service import ORCHESTRATOR_CAPABILITY
from missionctl.workspace.service import render_working_md

PLAN, WRITE, REVIEW, ANSWER = "plan", "write", "review", "answer"
INSTRUCTIONS = {
    PLAN: "Break this goal into 3 to 8 subtasks. For each give a short imperative title, what "
    "to deliver, the capability it needs (research, writing, review, engineering, analysis…) "
    "and the earlier subtasks it depends on (by index, from 0). Answer with the plan only: "
    "assignees are chosen for you.",
    WRITE: "Do this task now. Write its deliverable as a markdown document with the "
    "write_document tool (the task's title as the document's title), post in the thread only "
    "what the team must know, then reply with a two-line report of what you did. Use "
    "ask_human only if you cannot go on without a person's answer.",
    REVIEW: "Review the work below against the task. Approve it if it meets the task; "
    "otherwise return it with specific, actionable comments.",
    ANSWER: "You were mentioned in this thread. Reply with a short, useful answer; it is posted "
    "in the thread for you.",
}
THREAD_LIMIT = 200
GOALS_TO_TRY = 5
EXCERPT_CHARS = 300


@dataclass(frozen=True, slots=True)
class Work:
    """What a turn works on (stored in the turn's first checkpoint)."""

    mode: str
    task_id: str | None = None
    review_id: str | None = None
    message_id: str | None = None  # the mention to answer
    question_id: str | None = None  # the answered question a resumed turn continues from

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def _start(session: Session, task: Task, agent: Agent) -> None:
    if task.status is TaskStatus.ASSIGNED:
        change = TaskStatusChange(status=TaskStatus.IN_PROGRESS, by_agent_id=agent.agent_id)
        board.change_status(session, task.task_id, change, actor=Actor.agent(agent.agent_id))


def _goal_to_plan(session: Session, agent: Agent) -> Task | None:
    # A few: a claim fails only where another planner took the goal meanwhile.
    for task in board.unassigned_inbox_tasks(session, goals=True, limit=GOALS_TO_TRY):
        if claimed := board.claim_task(session, task.task_id, agent.agent_id):
            return claimed
    found = board.read_tasks(session, _first_ready(goal=True), {"agent_id": agent.agent_id})
    return next(iter(found), None)


def _task_to_work_on(session: Session, agent: Agent) -> Task | None:
    found = board.read_tasks(session, _first_ready(goal=False), {"agent_id": agent.agent_id})
    return next(iter(found), None)


@functools.cache
def _first_ready(*, goal: bool) -> Select[*tuple[Any, ...]]:
    """The agent's most urgent goal to plan (`goal`: assigned to it and no subtasks yet), or
    task to work on (its dependencies done, no question of its own open on it). Built once:
    every turn asks one of them."""
    agent_id = bindparam("agent_id", type_=Uuid())
    where = board.ready_for(agent_id)
    if goal:
        return board.ready_first(where & board.THE_TASK_IS_GOAL)
    waits = exists().where(open_question_on(agent_id, board.THE_TASK_ID))
    return board.ready_first(where & ~board.THE_TASK_IS_GOAL & ~waits)


def has_work(session: Session, agent_id: uuid.UUID) -> bool:
    """Whether `choose_work` could find anything for the agent, in one read (False: it would
    not; True: it may). Idle turns and heartbeats stop here, before any bookkeeping.

    Only a mention asks for a turn of its own; other notifications (an assignment, say) wait
    to be handed over with the next turn that has work.
    """
    found = core_execute(session, _has_work_statement(), {"agent_id": agent_id})
    personal, inbox = found.one()
    if personal:
        return True
    return bool(inbox) and ORCHESTRATOR_CAPABILITY in capabilities_of(session, agent_id)


@functools.cache
def _has_work_statement() -> Select[bool, bool]:
    # Built once, run as a Core statement (the hot path of every idle agent). Agent ids are
    # unique across tenants, but the notifications and the open tasks are indexed tenant first,
    # so those clauses name the tenant too (as does the inbox's).
    agent_id = bindparam("agent_id", type_=Uuid())
    tenant_id = bindparam("tenant_id", type_=Uuid())
    return select(
        exists().where(undelivered(agent_id, NotificationKind.MENTION, tenant_id))
        | exists().where(unresumed_answer(agent_id))
        | exists().where(
            TaskReviewRow.reviewer_agent_id == agent_id, TaskReviewRow.status == "requested"
        )
        | exists().where(
            board.ready_for(agent_id, tenant_id),
            ~exists().where(open_question_on(agent_id, board.THE_TASK_ID)),
        ),
        exists().where(board.unassigned_in_inbox(tenant_id)),
    )


def choose_work(
    session: Session, agent: Agent, notifications: list[Notification], policy: Policy
) -> tuple[Work | None, dict[str, Any]]:
    """The turn's work (None: idle) and, for a resumed turn, the state it resumes from."""
    claimed = claim_answered_question(session, agent.agent_id)
    if claimed is not None:
        question, state = claimed
        state = {**state, "answer": question.answer or ""}
        mode = str(state.get("mode", WRITE))
        work = Work(
            mode,
            str(question.task_id) if question.task_id else None,
            state.get("review_id"),
            state.get("message_id"),
            str(question.question_id),
        )
        return work, state
    if ORCHESTRATOR_CAPABILITY in agent.capabilities:
        lead = orchestrator(session)
        if lead is not None and lead.agent_id == agent.agent_id:
            triage(session, agent, policy)  # one triager: two could overfill an agent
        goal = _goal_to_plan(session, agent)
        if goal is not None:
            _start(session, goal, agent)
            return Work(PLAN, str(goal.task_id)), {}
    review = pending_review(session, agent.agent_id)
    if review is not None:
        return Work(REVIEW, str(review.task_id), str(review.review_id)), {}
    task = _task_to_work_on(session, agent)
    if task is not None:
        _start(session, task, agent)
        return Work(WRITE, str(task.task_id)), {}
    for note in notifications:
        if note.kind is NotificationKind.MENTION and note.task_id and note.message_id:
            return Work(ANSWER, str(note.task_id), message_id=str(note.message_id)), {}
    return None, {}


def hand_over_notifications(session: Session, agent_id: uuid.UUID) -> list[Notification]:
    """The agent's undelivered notifications, now delivered."""
    return deliver_notifications(session, agent_id)


def _names(session: Session) -> dict[uuid.UUID, str]:
    from missionctl.agents.service import all_agents

    return {agent.agent_id: agent.name for agent in all_agents(session)}


def _work_under_review(session: Session, task: Task) -> str:
    """The documents of the task (a goal: of its subtasks), in full."""
    tasks = [task, *board.subtasks_of(session, task.task_id)] if task.is_goal else [task]
    found = documents_of(session, [each.task_id for each in tasks])
    return "\n\n".join(d.content.strip() for each in tasks for d in found[each.task_id])


def build_material(
    session: Session, definition: dict[str, Any], work: Work, notifications: list[str]
) -> TurnMaterial:
    """Everything the turn could show the model (`context.build_context` fits it to budget)."""
    assert work.task_id is not None
    task = board.get_task(session, uuid.UUID(work.task_id))
    thread: list[ThreadMessage] = []
    if work.mode != PLAN:  # a plan is made from the goal and the board, not its thread
        names = _names(session)
        thread = [
            ThreadMessage(names.get(author_id, "agent") if author_id else "person", content)
            for author_id, content in thread_texts(session, task.task_id, THREAD_LIMIT)
        ]
    documents = [
        f"{title} (document {document_id}, version {version})"
        for document_id, title, version in document_titles(session, task.task_id, 20)
    ]
    agent_id = uuid.UUID(definition["agent_id"])
    hits = search_memories(
        session,
        MemoryFilter(q=f"{task.title} {task.description}"[:2000], agent_id=agent_id, limit=5),
    )
    memories = [f"{h.memory.title}: {h.memory.content[:EXCERPT_CHARS]}" for h in hits]
    description = task.description
    if work.mode == PLAN:
        description = task.description.strip() or task.title
    return TurnMaterial(
        agent_name=definition["name"],
        role=definition["role"],
        instructions=definition["instructions"],
        task_title=task.title,
        task_description=description,
        task_status=task.status.value,
        instruction=INSTRUCTIONS[work.mode],
        task_id=str(task.task_id),
        thread=thread,
        work=_work_under_review(session, task) if work.mode == REVIEW else "",
        documents=documents,
        notifications=notifications,
        memories=memories,
        working_md=render_working_md(session).content if work.mode == PLAN else "",
        mode=work.mode,
    )
