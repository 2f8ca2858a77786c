"""Message, attachment, notification and question schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field

from missionctl.common import ActorKind, PageLimit, QueryModel, Schema


class MessageType(StrEnum):
    """What a message is for."""

    COMMENT = "comment"
    STATUS_UPDATE = "status_update"
    QUESTION = "question"
    ANSWER = "answer"


class NotificationKind(StrEnum):
    """Why an agent is notified."""

    MENTION = "mention"
    ASSIGNMENT = "assignment"
    BUDGET = "budget"  # a budget ran out: model calls are refused until it is raised
    ESCALATION = "escalation"  # a stalled task or a blocked agent needs a person
    QUESTION = "question"  # an agent asked a person something and waits for the answer
    REVIEW = "review"  # an agent is asked to review a task
    APPROVAL = "approval"  # something waits for a person's approval (a proposed agent)


class AttachmentUpload(Schema):
    """A file to attach, sent inline as base64."""

    name: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[^/\\\x00]+$",
        description="File name (no path separators).",
    )
    media_type: str = Field(
        default="application/octet-stream",
        max_length=255,
        pattern=r"^[\w.+-]+/[\w.+-]+$",
        description="MIME type, e.g. `text/markdown`.",
    )
    content_base64: Base64Bytes = Field(description="The file's bytes, base64-encoded.")


class MessageCreate(Schema):
    """A new message in a task's thread. `@name` mentions notify those agents; `@all` everyone."""

    content: str = Field(min_length=1, max_length=20_000, description="Markdown text.")
    message_type: MessageType = Field(default=MessageType.COMMENT, description="Kind of message.")
    reply_to_message_id: uuid.UUID | None = Field(
        default=None, description="The message (in the same thread) this answers."
    )
    author_agent_id: uuid.UUID | None = Field(
        default=None, description="The agent writing, when an agent does."
    )
    attachments: list[AttachmentUpload] = Field(
        default_factory=list, max_length=10, description="Files to attach."
    )


class Attachment(BaseModel):
    """A stored attachment's metadata; fetch the bytes from its `content_url`."""

    model_config = ConfigDict(from_attributes=True)

    attachment_id: uuid.UUID = Field(description="The attachment's id.")
    name: str = Field(description="File name.")
    media_type: str = Field(description="MIME type.")
    size_bytes: int = Field(description="Size in bytes.")
    sha256: str = Field(description="SHA-256 of the content, hex.")
    content_url: str = Field(description="Where to download the bytes.")


class Message(BaseModel):
    """A message as stored."""

    message_id: uuid.UUID = Field(description="The message's id.")
    task_id: uuid.UUID = Field(description="The thread's task.")
    author_kind: ActorKind = Field(description="user, agent or system.")
    author_agent_id: uuid.UUID | None = Field(description="Writing agent, if an agent.")
    author_user_id: uuid.UUID | None = Field(description="Writing user, if known.")
    content: str = Field(description="Markdown text.")
    message_type: MessageType = Field(description="Kind of message.")
    reply_to_message_id: uuid.UUID | None = Field(description="The message this answers.")
    mentioned_agent_ids: list[uuid.UUID] = Field(description="Agents mentioned (notified).")
    attachments: list[Attachment] = Field(description="Attached files.")
    created_at: datetime = Field(description="When it was posted (UTC).")


class MessageFilter(QueryModel):
    """Which messages of a thread to list (oldest first)."""

    message_type: MessageType | None = Field(default=None, description="Only this kind.")
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


class Notification(BaseModel):
    """Something an agent or a person should know about."""

    model_config = ConfigDict(from_attributes=True)

    notification_id: uuid.UUID = Field(description="The notification's id.")
    recipient_agent_id: uuid.UUID | None = Field(description="The agent notified, if an agent.")
    recipient_user_id: uuid.UUID | None = Field(description="The person notified, if a person.")
    task_id: uuid.UUID | None = Field(description="The task concerned, if any.")
    message_id: uuid.UUID | None = Field(description="The message that caused it, if any.")
    kind: NotificationKind = Field(description="mention, assignment, budget or escalation.")
    content: str = Field(description="What happened, in one line.")
    is_delivered: bool = Field(description="Handed to the agent (on its heartbeat).")
    delivered_at: datetime | None = Field(description="When it was delivered (UTC).")
    is_read: bool = Field(description="Marked read.")
    read_at: datetime | None = Field(description="When it was read (UTC).")
    created_at: datetime = Field(description="When it was raised (UTC).")


class NotificationFilter(QueryModel):
    """Which notifications to list (newest first)."""

    agent_id: uuid.UUID | None = Field(default=None, description="Only this agent's.")
    user_id: uuid.UUID | None = Field(default=None, description="Only this person's.")
    is_read: bool | None = Field(default=None, description="Only read (true) or unread.")
    is_delivered: bool | None = Field(default=None, description="Only delivered or pending.")
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")


class MarkAllRead(Schema):
    """Mark many notifications read."""

    agent_id: uuid.UUID | None = Field(
        default=None, description="Only this agent's notifications; all when omitted."
    )


class MarkedCount(BaseModel):
    """How many notifications changed."""

    updated: int = Field(description="Number of notifications marked.")


class QuestionStatus(StrEnum):
    """Where a question is."""

    OPEN = "open"
    ANSWERED = "answered"
    CANCELLED = "cancelled"


class QuestionCreate(Schema):
    """A question an agent asks a person."""

    agent_id: uuid.UUID = Field(description="The asking agent.")
    task_id: uuid.UUID | None = Field(default=None, description="The task it is about, if any.")
    question: str = Field(min_length=1, max_length=4_000, description="What the agent asks.")


class QuestionAnswer(Schema):
    """A person's answer to an agent's question."""

    answer: str = Field(min_length=1, max_length=20_000, description="The answer, in markdown.")


class Question(BaseModel):
    """A question as stored (without the asking turn's private resume state)."""

    model_config = ConfigDict(from_attributes=True)

    question_id: uuid.UUID = Field(description="The question's id.")
    agent_id: uuid.UUID = Field(description="The asking agent.")
    task_id: uuid.UUID | None = Field(description="The task it is about, if any.")
    message_id: uuid.UUID | None = Field(description="The question's message in the thread.")
    question: str = Field(description="What the agent asks.")
    status: QuestionStatus = Field(description="open, answered or cancelled.")
    answer: str | None = Field(description="The answer, once given.")
    answered_by_user_id: uuid.UUID | None = Field(description="Who answered, if a person did.")
    created_at: datetime = Field(description="When it was asked (UTC).")
    answered_at: datetime | None = Field(description="When it was answered (UTC).")


class QuestionFilter(QueryModel):
    """Which questions to list (newest first)."""

    status: QuestionStatus | None = Field(default=None, description="Only this status.")
    agent_id: uuid.UUID | None = Field(default=None, description="Only this agent's.")
    task_id: uuid.UUID | None = Field(default=None, description="Only about this task.")
    limit: PageLimit = Field(default=50, description="Page size (max 200).")
    cursor: str | None = Field(default=None, max_length=64, description="From `next_cursor`.")
