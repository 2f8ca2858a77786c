"""Saving and finding memories, and the lessons saved when a task is done."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from missionctl.agents.service import require_agents
from missionctl.board.schemas import Task
from missionctl.board.service import get_task
from missionctl.board.transitions import TaskStatus
from missionctl.common import MAX_PAGE_SIZE, Actor
from missionctl.comms.service import thread_texts
from missionctl.db import tenant_of, utcnow
from missionctl.errors import NotFound
from missionctl.events.service import DomainEvent, on_event, record_event
from missionctl.memory import search
from missionctl.memory.models import MemoryRow
from missionctl.memory.schemas import (
    MAX_CONTENT,
    Memory,
    MemoryCreate,
    MemoryFilter,
    MemoryHit,
    MemoryKind,
)
from missionctl.models.offline_text import summarise

log = logging.getLogger(__name__)
TASK_DONE_TAG = "task-done"


def _row(session: Session, memory_id: uuid.UUID, viewer: uuid.UUID | None) -> MemoryRow:
    query = select(MemoryRow).where(MemoryRow.memory_id == memory_id)
    if viewer is not None:
        query = query.where(search.visible_to(viewer))
    row = session.scalar(query)
    if row is None:
        raise NotFound("memory", memory_id)
    return row


def _record_saved(session: Session, row: MemoryRow, actor: Actor) -> None:
    record_event(
        session,
        "memory.saved",
        actor=actor,
        subject_kind="memory",
        subject_id=row.memory_id,
        task_id=row.task_id,
        agent_id=row.agent_id,
        summary=f"Memory {row.title!r} saved",
        payload={"title": row.title, "kind": row.kind, "shared": row.agent_id is None},
    )


def save_memory(session: Session, data: MemoryCreate, *, actor: Actor) -> Memory:
    """Save a memory for an agent, or shared by the tenant's agents when `agent_id` is None."""
    if data.agent_id is not None:
        require_agents(session, [data.agent_id])
    if data.task_id is not None:
        get_task(session, data.task_id)
    now = utcnow()
    row = MemoryRow(
        agent_id=data.agent_id,
        task_id=data.task_id,
        kind=data.kind.value,
        title=data.title,
        content=data.content,
        tags=list(data.tags),
        importance=data.importance,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    _record_saved(session, row, actor)
    return Memory.model_validate(row)


def get_memory(
    session: Session, memory_id: uuid.UUID, *, viewer_agent_id: uuid.UUID | None = None
) -> Memory:
    """The memory, or `NotFound` (also when it is another agent's than `viewer_agent_id`)."""
    return Memory.model_validate(_row(session, memory_id, viewer_agent_id))


def search_memories(session: Session, memory_filter: MemoryFilter) -> list[MemoryHit]:
    """Memories best matching `q` (see `memory.search` for the ranking); without it, newest."""
    shape: list[str] = []
    params: dict[str, object] = {}
    if memory_filter.agent_id is not None:
        shape.append("visible" if memory_filter.include_shared else "own")
        params["agent_id"] = memory_filter.agent_id
    elif not memory_filter.include_shared:
        shape.append("agents_only")
    if memory_filter.kind is not None:
        shape.append("kind")
        params["kind"] = memory_filter.kind.value
    if memory_filter.task_id is not None:
        shape.append("task")
        params["task_id"] = memory_filter.task_id
    if memory_filter.q is None or not memory_filter.q.strip():
        rows = session.scalars(
            select(MemoryRow)
            .where(*search.filter_clause(tuple(shape)))
            .order_by(MemoryRow.created_at.desc(), MemoryRow.memory_id.desc())
            .limit(memory_filter.limit),
            params | {"tenant_id": tenant_of(session)},
        )
        return [MemoryHit(memory=Memory.model_validate(row), score=None) for row in rows]
    terms = search.search_terms(memory_filter.q)
    matches = search.text_matches(session, terms, tuple(shape), params)
    ranked = search.rank(matches, utcnow())[: memory_filter.limit]
    wanted = [candidate.memory_id for candidate, _score in ranked]
    kept = {row.memory_id: row for row in session.scalars(_BY_IDS, {"ids": wanted})}
    return [
        MemoryHit(memory=Memory.model_validate(kept[candidate.memory_id]), score=value)
        for candidate, value in ranked
    ]


_BY_IDS = select(MemoryRow).where(MemoryRow.memory_id.in_(bindparam("ids", expanding=True)))


def delete_memory(
    session: Session,
    memory_id: uuid.UUID,
    *,
    actor: Actor,
    viewer_agent_id: uuid.UUID | None = None,
) -> None:
    """Forget a memory (`viewer_agent_id` may only delete its own or shared ones)."""
    row = _row(session, memory_id, viewer_agent_id)
    title, task_id, agent_id = row.title, row.task_id, row.agent_id
    session.delete(row)
    session.flush()
    record_event(
        session,
        "memory.deleted",
        actor=actor,
        subject_kind="memory",
        subject_id=memory_id,
        task_id=task_id,
        agent_id=agent_id,
        summary=f"Memory {title!r} deleted",
        payload={"title": title},
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lesson_text(session: Session, task: Task) -> str:
    """The task's description and an extractive summary of its thread."""
    thread = thread_texts(session, task.task_id, MAX_PAGE_SIZE)
    parts = [task.description.strip()]
    if summary := summarise("\n".join(content for _author, content in thread), 5):
        parts.append(f"From the thread: {summary}")
    return _clip("\n\n".join(part for part in parts if part), MAX_CONTENT) or task.title


def _save_lesson(session: Session, task: Task, agent_id: uuid.UUID, content: str) -> None:
    """Save (or, for a task done again, update) the agent's lesson from the task."""
    existing = session.scalars(
        select(MemoryRow).where(
            MemoryRow.task_id == task.task_id,
            MemoryRow.agent_id == agent_id,
            MemoryRow.kind == MemoryKind.LESSON.value,
        )
    )
    row = next((r for r in existing if TASK_DONE_TAG in r.tags), None)
    if row is None:
        row = MemoryRow(agent_id=agent_id, task_id=task.task_id, kind=MemoryKind.LESSON.value)
        session.add(row)
    row.title = _clip(f"Finished: {task.title}", 200)
    row.content = content
    row.tags = [str(task.task_id), TASK_DONE_TAG]
    row.importance = 3
    row.updated_at = utcnow()
    session.flush()
    _record_saved(session, row, Actor.system())


@on_event("task.status_changed")
def _learn_from_finished_task(session: Session, event: DomainEvent) -> None:
    """When a task is done, each assignee keeps a lesson from it.

    Never fails the transaction that completed the task: everything that could go wrong
    (reading and summarising) happens before the one write, which only touches rows that exist.
    """
    if event.payload.get("to") != TaskStatus.DONE.value or event.task_id is None:
        return
    try:
        task = get_task(session, event.task_id)
        content = _lesson_text(session, task)
    except Exception:  # the lesson is a by-product; the task is done either way
        log.exception("could not prepare the lesson of task %s", event.task_id)
        return
    for agent_id in task.assignee_ids:
        _save_lesson(session, task, agent_id, content)
