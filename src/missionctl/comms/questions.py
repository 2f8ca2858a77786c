"""Questions agents ask people: asking parks the agent's turn, answering resumes it.

A question is a message of type `question` in the task's thread (when it is about a task), a
row that remembers where the asking turn stopped (`resume_state`, opaque here), and a
notification to the people who may answer. Answering posts the answer in the thread and records
`question.answered`; the runtime reacts to that event by resuming the turn in the same
transaction, so an answer is never lost between the two.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, select
from sqlalchemy.orm import Session

from missionctl.agents.service import get_agent
from missionctl.board.service import get_task
from missionctl.common import Actor, Page, decode_uuid_cursor, split_page
from missionctl.comms.models import NotificationRow, QuestionRow
from missionctl.comms.schemas import (
    MessageCreate,
    MessageType,
    NotificationKind,
    Question,
    QuestionAnswer,
    QuestionCreate,
    QuestionFilter,
    QuestionStatus,
)
from missionctl.comms.service import create_message
from missionctl.db import IdRef, utcnow
from missionctl.errors import Conflict, NotFound
from missionctl.events.service import record_event
from missionctl.identity.members import list_members
from missionctl.permissions import Permission, allowed

ANSWER_PERMISSION = Permission.QUESTIONS_ANSWER


def _row(session: Session, question_id: uuid.UUID, *, for_update: bool = False) -> QuestionRow:
    query = select(QuestionRow).where(QuestionRow.question_id == question_id)
    row = session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound("question", question_id)
    return row


def _notify_answerers(session: Session, row: QuestionRow, content: str) -> None:
    """Everyone in the tenant whose role may answer questions."""
    for member in list_members(session):
        if allowed(member.role, ANSWER_PERMISSION):
            session.add(
                NotificationRow(
                    recipient_user_id=member.user_id,
                    task_id=row.task_id,
                    message_id=row.message_id,
                    kind=NotificationKind.QUESTION.value,
                    content=content,
                )
            )


def ask_question(
    session: Session, data: QuestionCreate, *, resume_state: dict[str, Any] | None = None
) -> Question:
    """Record an agent's question (in its task's thread too) and notify who may answer."""
    agent = get_agent(session, data.agent_id)
    actor = Actor.agent(agent.agent_id)
    message_id = None
    if data.task_id is not None:
        get_task(session, data.task_id)
        message = create_message(
            session,
            data.task_id,
            MessageCreate(
                content=data.question,
                message_type=MessageType.QUESTION,
                author_agent_id=agent.agent_id,
            ),
            actor=actor,
            store=None,
            max_attachment_bytes=0,
        )
        message_id = message.message_id
    row = QuestionRow(
        agent_id=agent.agent_id,
        task_id=data.task_id,
        message_id=message_id,
        question=data.question,
        status=QuestionStatus.OPEN.value,
        resume_state=resume_state or {},
    )
    session.add(row)
    session.flush()
    excerpt = data.question if len(data.question) <= 140 else data.question[:139] + "…"
    _notify_answerers(session, row, f"{agent.name} asks: {excerpt}")
    record_event(
        session,
        "question.asked",
        actor=actor,
        subject_kind="question",
        subject_id=row.question_id,
        task_id=data.task_id,
        agent_id=agent.agent_id,
        summary=f"{agent.name} asks: {excerpt}",
        payload={"question_id": str(row.question_id), "question": excerpt},
    )
    return Question.model_validate(row)


def answer_question(
    session: Session, question_id: uuid.UUID, data: QuestionAnswer, *, actor: Actor
) -> Question:
    """Answer an open question; the answer goes to the thread and the agent carries on."""
    row = _row(session, question_id, for_update=True)
    if row.status != QuestionStatus.OPEN.value:
        raise Conflict(f"the question is {row.status}, not open", current=row.status)
    row.status = QuestionStatus.ANSWERED.value
    row.answer = data.answer
    row.answered_by_user_id = actor.user_id
    row.answered_at = utcnow()
    session.flush()
    if row.task_id is not None:
        create_message(
            session,
            row.task_id,
            MessageCreate(
                content=data.answer,
                message_type=MessageType.ANSWER,
                reply_to_message_id=row.message_id,
            ),
            actor=actor,
            store=None,
            max_attachment_bytes=0,
        )
    record_event(
        session,
        "question.answered",
        actor=actor,
        subject_kind="question",
        subject_id=row.question_id,
        task_id=row.task_id,
        agent_id=row.agent_id,
        summary="A person answered the question",
        payload={"question_id": str(row.question_id)},
    )
    return Question.model_validate(row)


def get_question(session: Session, question_id: uuid.UUID) -> Question:
    """The question, or `NotFound`."""
    return Question.model_validate(_row(session, question_id))


def resume_state(session: Session, question_id: uuid.UUID) -> tuple[Question, dict[str, Any]]:
    """The question and where the asking turn stopped (for the runtime only)."""
    row = _row(session, question_id)
    return Question.model_validate(row), dict(row.resume_state or {})


def list_questions(session: Session, question_filter: QuestionFilter) -> Page[Question]:
    """Questions, newest first."""
    query = select(QuestionRow)
    if question_filter.status is not None:
        query = query.where(QuestionRow.status == question_filter.status.value)
    if question_filter.agent_id is not None:
        query = query.where(QuestionRow.agent_id == question_filter.agent_id)
    if question_filter.task_id is not None:
        query = query.where(QuestionRow.task_id == question_filter.task_id)
    if question_filter.cursor:
        query = query.where(QuestionRow.question_id < decode_uuid_cursor(question_filter.cursor))
    limit = question_filter.limit
    rows = list(session.scalars(query.order_by(QuestionRow.question_id.desc()).limit(limit + 1)))
    page, next_cursor = split_page(rows, limit, lambda row: row.question_id)
    return Page[Question](
        items=[Question.model_validate(row) for row in page], next_cursor=next_cursor
    )


def claim_answered_question(
    session: Session, agent_id: uuid.UUID
) -> tuple[Question, dict[str, Any]] | None:
    """The agent's oldest answered question its turn has not resumed yet, now marked resumed.

    Called in the unit of work that starts the resuming turn, so each answer resumes a turn
    exactly once.
    """
    if not _has_unresumed_answer(session, agent_id):
        return None  # the common case, asked without the ORM (every working turn asks)
    row = session.scalar(
        select(QuestionRow)
        .where(unresumed_answer(agent_id))
        .order_by(QuestionRow.question_id)
        .limit(1)
        .with_for_update()
    )
    if row is None:
        return None
    row.resumed_at = utcnow()
    session.flush()
    return Question.model_validate(row), dict(row.resume_state or {})


def _has_unresumed_answer(session: Session, agent_id: uuid.UUID) -> bool:
    session.flush()  # a Core read bypasses the identity map: write pending changes first
    # The agent names the rows (agent ids are unique across tenants).
    return bool(session.connection().execute(_ANY_UNRESUMED, {"agent_id": agent_id}).scalar())


def unresumed_answer(agent_id: IdRef) -> ColumnElement[bool]:
    """Where-clause: the agent's answered questions no turn has resumed from yet."""
    return and_(
        QuestionRow.agent_id == agent_id,
        QuestionRow.status == QuestionStatus.ANSWERED.value,
        QuestionRow.resumed_at.is_(None),
    )


_ANY_UNRESUMED = select(
    exists().where(unresumed_answer(bindparam("agent_id", type_=QuestionRow.agent_id.type)))
)


def open_question_on(agent_id: IdRef, task_id: IdRef) -> ColumnElement[bool]:
    """Where-clause: the agent's unanswered questions about `task_id` (a value or a column)."""
    return and_(
        QuestionRow.agent_id == agent_id,
        QuestionRow.status == QuestionStatus.OPEN.value,
        QuestionRow.task_id == task_id,
    )
