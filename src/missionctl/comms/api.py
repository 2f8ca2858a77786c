"""HTTP routes for task threads, attachments and notifications."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from missionctl.common import Page
from missionctl.comms import questions, service
from missionctl.comms.schemas import (
    Attachment,
    MarkAllRead,
    MarkedCount,
    Message,
    MessageCreate,
    MessageFilter,
    Notification,
    NotificationFilter,
    Question,
    QuestionAnswer,
    QuestionFilter,
)
from missionctl.permissions import Permission
from missionctl.web.auth import need
from missionctl.web.deps import Ctx

router = APIRouter(tags=["messages"])


@router.get(
    "/tasks/{task_id}/messages",
    summary="List a task's thread",
    dependencies=[need(Permission.BOARD_READ)],
)
def list_messages(
    ctx: Ctx, task_id: uuid.UUID, query: Annotated[MessageFilter, Query()]
) -> Page[Message]:
    with ctx.read() as session:
        return service.list_messages(session, task_id, query)


@router.post(
    "/tasks/{task_id}/messages",
    status_code=201,
    summary="Post to a task's thread",
    dependencies=[need(Permission.MESSAGES_WRITE)],
)
def create_message(ctx: Ctx, task_id: uuid.UUID, data: MessageCreate) -> Message:
    with ctx.write() as session:
        return service.create_message(
            session,
            task_id,
            data,
            actor=ctx.actor,
            store=ctx.app.store,
            max_attachment_bytes=ctx.app.settings.max_attachment_bytes,
            quotas=ctx.app.quotas,
        )


@router.get(
    "/messages/{message_id}", summary="Get a message", dependencies=[need(Permission.BOARD_READ)]
)
def get_message(ctx: Ctx, message_id: uuid.UUID) -> Message:
    with ctx.read() as session:
        return service.get_message(session, message_id)


@router.get(
    "/attachments/{attachment_id}",
    summary="Get an attachment's metadata",
    dependencies=[need(Permission.BOARD_READ)],
)
def get_attachment(ctx: Ctx, attachment_id: uuid.UUID) -> Attachment:
    with ctx.read() as session:
        return service.get_attachment(session, attachment_id)


@router.get(
    "/attachments/{attachment_id}/content",
    summary="Download an attachment",
    dependencies=[need(Permission.BOARD_READ)],
    response_class=FileResponse,
    responses={200: {"content": {"*/*": {}}, "description": "The file, in its own type."}},
)
def download_attachment(ctx: Ctx, attachment_id: uuid.UUID) -> FileResponse:
    with ctx.read() as session:
        attachment = service.get_attachment(session, attachment_id)
    return FileResponse(
        ctx.app.store.path_for(attachment.sha256),
        media_type=attachment.media_type,
        filename=attachment.name,
    )


notifications = APIRouter(prefix="/notifications", tags=["notifications"])


@notifications.get("", summary="List notifications", dependencies=[need(Permission.BOARD_READ)])
def list_notifications(
    ctx: Ctx, query: Annotated[NotificationFilter, Query()]
) -> Page[Notification]:
    with ctx.read() as session:
        return service.list_notifications(session, query)


@notifications.put(
    "/{notification_id}/read",
    summary="Mark a notification read",
    dependencies=[need(Permission.NOTIFICATIONS_WRITE)],
)
def mark_read(ctx: Ctx, notification_id: uuid.UUID) -> Notification:
    with ctx.write() as session:
        return service.mark_read(session, notification_id)


@notifications.post(
    "/mark-all-read",
    summary="Mark all (of one agent's) notifications read",
    dependencies=[need(Permission.NOTIFICATIONS_WRITE)],
)
def mark_all_read(ctx: Ctx, data: MarkAllRead | None = None) -> MarkedCount:
    with ctx.write() as session:
        updated = service.mark_all_read(session, data or MarkAllRead(), actor=ctx.actor)
    return MarkedCount(updated=updated)


@router.get(
    "/questions",
    summary="List agents' questions to people",
    tags=["questions"],
    dependencies=[need(Permission.BOARD_READ)],
)
def list_questions(ctx: Ctx, query: Annotated[QuestionFilter, Query()]) -> Page[Question]:
    with ctx.read() as session:
        return questions.list_questions(session, query)


@router.get(
    "/questions/{question_id}",
    summary="Get a question",
    tags=["questions"],
    dependencies=[need(Permission.BOARD_READ)],
)
def get_question(ctx: Ctx, question_id: uuid.UUID) -> Question:
    with ctx.read() as session:
        return questions.get_question(session, question_id)


@router.post(
    "/questions/{question_id}/answer",
    summary="Answer an agent's question (its turn resumes with the answer)",
    tags=["questions"],
    dependencies=[need(Permission.QUESTIONS_ANSWER)],
)
def answer_question(ctx: Ctx, question_id: uuid.UUID, data: QuestionAnswer) -> Question:
    with ctx.write() as session:
        return questions.answer_question(session, question_id, data, actor=ctx.actor)
