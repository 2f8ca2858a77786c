"""Goals: giving one, and reading how far its work has come.

A goal is a board task with `is_goal`; the orchestrator breaks it into subtasks (children,
`parent_task_id` = the goal) that agents work, send to review and finish. `goal_progress` reads
all of it through the domains' own services, in a fixed number of queries whatever the number of
subtasks: the subtasks in one list, their agents in one query, usage in one aggregate, the
documents and events written since the goal was given in one scan each.

What needs a person (`Attention`):
- the goal or a subtask is `blocked` (with the reason given);
- a question asked on the goal or a subtask (`question.asked`) with no `question.answered` for
  the same `question_id` since;
- a task of the goal reported stalled (`task.stalled`) or an agent's turn on it stopped by a
  guard (`agent.turn_stopped`), while nothing else has happened on that task since;
- a budget ran out (`budget.exhausted`) since the goal was given and is still exhausted: a tenant
  budget, or one whose refusal concerned the goal's tasks or agents.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from missionctl.agents.schemas import Agent
from missionctl.agents.service import require_agents
from missionctl.board import service as board
from missionctl.board.schemas import Task, TaskCreate, TaskFilter, TaskStatus
from missionctl.common import MAX_PAGE_SIZE, Actor, Page, Quotas
from missionctl.documents.schemas import DocumentFilter
from missionctl.documents.service import list_documents
from missionctl.errors import NotFound
from missionctl.events.schemas import Event, EventFilter, Order
from missionctl.events.service import last_activity, list_events
from missionctl.models.budgets import get_budget
from missionctl.models.schemas import UsageFilter, UsageGroupBy
from missionctl.models.usage import usage_report
from missionctl.runtime.schemas import (
    AgentProgress,
    Attention,
    AttentionKind,
    GoalCreate,
    GoalDocument,
    GoalFilter,
    GoalProgress,
    GoalSummary,
    SubtaskProgress,
    goal_title,
)

QUESTION_ASKED = "question.asked"
QUESTION_ANSWERED = "question.answered"
BUDGET_EXHAUSTED = "budget.exhausted"
TASK_STALLED = "task.stalled"
TURN_STOPPED = "agent.turn_stopped"
ATTENTION_EVENTS = (QUESTION_ASKED, QUESTION_ANSWERED, BUDGET_EXHAUSTED, TASK_STALLED, TURN_STOPPED)
# Events that hold until something else happens on their task.
UNTIL_THE_TASK_MOVES = {
    TASK_STALLED: AttentionKind.STALLED,
    TURN_STOPPED: AttentionKind.TURN_STOPPED,
}


def create_goal(
    session: Session, data: GoalCreate, *, actor: Actor, quotas: Quotas | None = None
) -> Task:
    """Create a goal from text: its first line is the title, all of it the description."""
    task = TaskCreate(
        title=goal_title(data.text), description=data.text, priority=data.priority, is_goal=True
    )
    return board.create_task(session, task, actor=actor, quotas=quotas)


def list_goals(session: Session, goal_filter: GoalFilter) -> Page[Task]:
    """A page of goals, newest first."""
    task_filter = TaskFilter(
        is_goal=True, status=goal_filter.status, limit=goal_filter.limit, cursor=goal_filter.cursor
    )
    return board.list_tasks(session, task_filter)


def get_goal(session: Session, goal_id: uuid.UUID) -> Task:
    """The goal's task, or `NotFound` (also for a task that is not a goal)."""
    try:
        task = board.get_task(session, goal_id)
    except NotFound:
        raise NotFound("goal", goal_id) from None
    if not task.is_goal:
        raise NotFound("goal", goal_id)
    return task


@dataclass(frozen=True, slots=True)
class _Usage:
    """Model usage summed over the goal's tasks."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_requests: int = 0


def goal_progress(session: Session, goal_id: uuid.UUID) -> GoalProgress:
    """The goal, its subtasks, agents, cost, documents, and what needs a person."""
    goal = get_goal(session, goal_id)
    subtasks = _subtasks(session, goal_id)
    tasks = {task.task_id: task for task in (goal, *subtasks)}
    agents = _agents(session, goal, subtasks)
    names = {agent.agent_id: agent.name for agent in agents}
    usage = _usage(session, goal, tasks)
    attention = [
        *_blocked(tasks.values()),
        *_raised(session, goal, tasks, set(names)),
    ]
    counts = dict.fromkeys(TaskStatus, 0)
    for task in subtasks:
        counts[task.status] += 1
    return GoalProgress(
        goal=_summary(goal, names),
        subtasks=[_subtask(task, names) for task in subtasks],
        counts=counts,
        agents=_agent_progress(session, agents, tasks),
        cost_usd=None if usage.unpriced_requests else round(usage.cost_usd, 9),
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        requests=usage.requests,
        unpriced_requests=usage.unpriced_requests,
        documents=_documents(session, goal_id, tasks),
        attention=attention,
        is_finished=goal.status is TaskStatus.DONE,
        needs_person=bool(attention),
    )


def _subtasks(session: Session, goal_id: uuid.UUID) -> list[Task]:
    """The goal's children, oldest first (usually one page)."""
    found: list[Task] = []
    cursor: str | None = None
    while True:
        page = board.list_tasks(
            session, TaskFilter(parent_task_id=goal_id, limit=MAX_PAGE_SIZE, cursor=cursor)
        )
        found.extend(page.items)
        if page.next_cursor is None:
            return found[::-1]
        cursor = page.next_cursor


def _summary(goal: Task, names: dict[uuid.UUID, str]) -> GoalSummary:
    return GoalSummary(
        task_id=goal.task_id,
        title=goal.title,
        status=goal.status,
        status_reason=goal.status_reason,
        priority=goal.priority,
        assignees=[names[agent_id] for agent_id in goal.assignee_ids],
        created_at=goal.created_at,
        completed_at=goal.completed_at,
    )


def _subtask(task: Task, names: dict[uuid.UUID, str]) -> SubtaskProgress:
    return SubtaskProgress(
        task_id=task.task_id,
        title=task.title,
        status=task.status,
        status_reason=task.status_reason,
        assignees=[names[agent_id] for agent_id in task.assignee_ids],
        depends_on=task.depends_on,
    )


def _agents(session: Session, goal: Task, subtasks: Sequence[Task]) -> list[Agent]:
    """The agents assigned to the goal or a subtask, and those who created the subtasks."""
    agent_ids = [*goal.assignee_ids]
    for task in subtasks:
        agent_ids.extend(task.assignee_ids)
        if task.created_by_agent_id is not None:
            agent_ids.append(task.created_by_agent_id)
    return sorted(require_agents(session, agent_ids), key=lambda agent: agent.name)


def _agent_progress(
    session: Session, agents: Sequence[Agent], tasks: dict[uuid.UUID, Task]
) -> list[AgentProgress]:
    """Each agent's status and current task; a task outside the goal is looked up on its own."""
    progress = []
    for agent in agents:
        title = None
        if agent.current_task_id in tasks:
            title = tasks[agent.current_task_id].title
        elif agent.current_task_id is not None:
            try:
                title = board.get_task(session, agent.current_task_id).title
            except NotFound:
                title = None
        progress.append(
            AgentProgress(
                agent_id=agent.agent_id,
                name=agent.name,
                status=agent.status,
                current_task_id=agent.current_task_id,
                current_task_title=title,
            )
        )
    return progress


def _usage(session: Session, goal: Task, tasks: dict[uuid.UUID, Task]) -> _Usage:
    """Model usage of the goal and its subtasks: one aggregate by task since the goal's day."""
    report = usage_report(
        session, UsageFilter(group_by=UsageGroupBy.TASK, since=goal.created_at.date())
    )
    wanted = {str(task_id) for task_id in tasks}
    groups = [group for group in report.groups if group.key in wanted]
    return _Usage(
        requests=sum(group.requests for group in groups),
        input_tokens=sum(group.input_tokens for group in groups),
        output_tokens=sum(group.output_tokens for group in groups),
        cost_usd=sum(group.cost_usd for group in groups),
        unpriced_requests=sum(group.unpriced_requests for group in groups),
    )


def _documents(
    session: Session, goal_id: uuid.UUID, tasks: dict[uuid.UUID, Task]
) -> list[GoalDocument]:
    """Documents of the goal's tasks, oldest first.

    Ids are time-ordered, and a goal's documents are written after it: the tenant's documents
    are read newest first, down to the goal's id.
    """
    found: list[GoalDocument] = []
    cursor: str | None = None
    while True:
        page = list_documents(session, DocumentFilter(limit=MAX_PAGE_SIZE, cursor=cursor))
        for document in page.items:
            if document.task_id in tasks:
                found.append(
                    GoalDocument(
                        document_id=document.document_id,
                        title=document.title,
                        version=document.version,
                        task_id=document.task_id,
                        updated_at=document.updated_at,
                    )
                )
        is_older = bool(page.items) and page.items[-1].document_id < goal_id
        if page.next_cursor is None or is_older:
            return found[::-1]
        cursor = page.next_cursor


def _blocked(tasks: Iterable[Task]) -> Iterator[Attention]:
    """The goal or subtasks that are blocked, with their reasons."""
    for task in tasks:
        if task.status is TaskStatus.BLOCKED:
            reason = task.status_reason
            yield Attention(
                kind=AttentionKind.BLOCKED,
                summary=f"{task.title!r} is blocked" + (f": {reason}" if reason else ""),
                task_id=task.task_id,
                subject_id=str(task.task_id),
                reason=reason,
                event_id=None,
                created_at=task.updated_at,
            )


def _events_since(session: Session, goal_id: uuid.UUID) -> Iterator[Event]:
    """The tenant's attention events since the goal was created, oldest first."""
    created = list_events(
        session,
        EventFilter(task_id=goal_id, event_type="task.created", order=Order.OLDEST_FIRST, limit=1),
    ).items
    after = created[0].event_id if created else None
    cursor: str | None = None
    while True:
        page = list_events(
            session,
            EventFilter(
                event_types=list(ATTENTION_EVENTS),
                after=after,
                order=Order.OLDEST_FIRST,
                limit=500,
                cursor=cursor,
            ),
        )
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _raised(
    session: Session, goal: Task, tasks: dict[uuid.UUID, Task], agent_ids: set[uuid.UUID]
) -> list[Attention]:
    """Open questions, stalled or stopped work, and exhausted budgets since the goal was given."""
    questions: dict[str, Event] = {}
    answered: set[str] = set()
    on_tasks: dict[uuid.UUID, Event] = {}
    budgets: dict[str, Event] = {}
    for event in _events_since(session, goal.task_id):
        in_goal = event.task_id in tasks
        if event.event_type == QUESTION_ASKED and in_goal:
            questions[_question_id(event)] = event
        elif event.event_type == QUESTION_ANSWERED:
            answered.add(_question_id(event))
        elif event.event_type in UNTIL_THE_TASK_MOVES and in_goal and event.task_id is not None:
            on_tasks[event.task_id] = event
        elif event.event_type == BUDGET_EXHAUSTED and _concerns(event, tasks, agent_ids):
            budgets[event.subject_id] = event
    raised = [
        _attention(AttentionKind.QUESTION, event, question_id)
        for question_id, event in questions.items()
        if question_id not in answered
    ]
    raised.extend(_still_stuck(session, on_tasks))
    raised.extend(_still_exhausted(session, budgets))
    return sorted(raised, key=lambda item: item.event_id or 0)


def _question_id(event: Event) -> str:
    return str(event.payload.get("question_id") or event.subject_id)


def _concerns(event: Event, tasks: dict[uuid.UUID, Task], agent_ids: set[uuid.UUID]) -> bool:
    """A refusal matters to the goal if the budget is the tenant's or it hit the goal's work."""
    return (
        event.payload.get("scope", "tenant") == "tenant"
        or event.task_id in tasks
        or event.agent_id in agent_ids
    )


def _still_stuck(session: Session, on_tasks: dict[uuid.UUID, Event]) -> Iterator[Attention]:
    """Stalled or stopped work whose task has seen nothing newer since."""
    newest = last_activity(session, on_tasks)
    for task_id, event in on_tasks.items():
        if newest.get(task_id) == (event.event_type, event.created_at):
            yield _attention(UNTIL_THE_TASK_MOVES[event.event_type], event, str(task_id))


def _still_exhausted(session: Session, budgets: dict[str, Event]) -> Iterator[Attention]:
    """Budgets that ran out and have not been raised (or deleted, or rolled over) since."""
    for budget_id, event in budgets.items():
        try:
            is_exhausted = get_budget(session, uuid.UUID(budget_id)).is_exhausted
        except (NotFound, ValueError):
            continue
        if is_exhausted:
            yield _attention(AttentionKind.BUDGET, event, budget_id)


def _attention(kind: AttentionKind, event: Event, subject_id: str) -> Attention:
    return Attention(
        kind=kind,
        summary=event.summary,
        task_id=event.task_id,
        subject_id=subject_id,
        reason=None,
        event_id=event.event_id,
        created_at=event.created_at,
    )
