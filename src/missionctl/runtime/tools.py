"""The platform tools an agent's model may call: the board, threads, documents, WORKING.md.

Each tool checks the permission it needs against the agent's role (the table in
`permissions.py`, as for any principal), runs one unit of work through the domain's own
service as the agent, and answers the model with a small JSON-able summary. A refused or bad
call raises `ModelRetry` with the reason: the model sees it and may correct itself, and
pydantic-ai bounds how often (`Agent(retries=...)`).

`fetch_url` reaches only hosts on `MISSIONCTL_FETCH_ALLOWED_HOSTS` and follows no redirect
(a redirect could leave the list).

Not here yet (issue 6): memory, ask-a-human, and the
per-call checkpoints that let a killed turn resume without repeating a tool's effect.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic_ai import ModelRetry, RunContext, Tool
from sqlalchemy.orm import Session

from missionctl.agents.service import agents_by_name
from missionctl.board import service as board
from missionctl.board.schemas import (
    Task,
    TaskAssign,
    TaskCreate,
    TaskFilter,
    TaskStatus,
    TaskStatusChange,
)
from missionctl.common import Actor
from missionctl.comms import service as comms
from missionctl.comms.schemas import MessageCreate
from missionctl.db import Database
from missionctl.documents import service as documents
from missionctl.documents.schemas import DocumentCreate
from missionctl.errors import MissionControlError
from missionctl.permissions import Permission, Role, allowed
from missionctl.storage import AttachmentStore
from missionctl.workspace.schemas import WorkingNotesUpdate
from missionctl.workspace.service import render_working_md, update_notes

T = TypeVar("T")


@dataclass(frozen=True)
class TurnDeps:
    """What a turn's tools act with: the database, the tenant, the agent and its task."""

    db: Database
    tenant_id: uuid.UUID
    agent_id: uuid.UUID
    store: AttachmentStore
    max_attachment_bytes: int
    task_id: uuid.UUID | None = None
    role: Role = Role.AGENT
    fetch_allowed_hosts: tuple[str, ...] = ()

    @property
    def actor(self) -> Actor:
        """Who the tools' changes are recorded as."""
        return Actor.agent(self.agent_id)


def _act(deps: TurnDeps, permission: Permission, work: Callable[[Session], T]) -> T:
    """One permission-checked unit of work; refusals and bad input go back to the model."""
    if not allowed(deps.role, permission):
        raise ModelRetry(f"forbidden: this agent may not use a tool needing {permission.value}")
    try:
        with deps.db.transaction(deps.tenant_id) as session:
            return work(session)
    except MissionControlError as exc:
        raise ModelRetry(f"{exc.code}: {exc.detail}") from exc


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ModelRetry(f"{what} must be a task id (a UUID), not {value!r}") from None


def _task_view(task: Task) -> dict[str, Any]:
    return {
        "task_id": str(task.task_id),
        "title": task.title,
        "status": task.status.value,
        "priority": task.priority.value,
        "assignee_ids": [str(a) for a in task.assignee_ids],
    }


def list_tasks(ctx: RunContext[TurnDeps], status: str | None = None) -> list[dict[str, Any]]:
    """List tasks on the board (optionally only one status: inbox, assigned, in_progress,
    review, done, blocked), newest first, at most 50."""
    try:
        status_filter = TaskStatus(status) if status else None
    except ValueError:
        raise ModelRetry(f"unknown status {status!r}") from None
    page = _act(
        ctx.deps,
        Permission.BOARD_READ,
        lambda s: board.list_tasks(s, TaskFilter(status=status_filter, limit=50)),
    )
    return [_task_view(task) for task in page.items]


def create_task(
    ctx: RunContext[TurnDeps],
    title: str,
    description: str = "",
    parent_task_id: str | None = None,
    depends_on: list[str] | None = None,
) -> dict[str, Any]:
    """Create a task (a subtask when parent_task_id is given; depends_on lists task ids that
    must be done before it can start)."""
    deps = ctx.deps
    data = TaskCreate(
        title=title[:200],
        description=description,
        parent_task_id=_uuid(parent_task_id, "parent_task_id") if parent_task_id else None,
        depends_on=[_uuid(d, "depends_on") for d in depends_on or []],
        created_by_agent_id=deps.agent_id,
    )
    task = _act(
        deps, Permission.TASKS_WRITE, lambda s: board.create_task(s, data, actor=deps.actor)
    )
    return _task_view(task)


def assign_task(ctx: RunContext[TurnDeps], task_id: str, agent_names: list[str]) -> dict[str, Any]:
    """Assign a task to agents by name (replacing its assignees)."""
    deps = ctx.deps

    def work(session: Session) -> Task:
        found = agents_by_name(session, agent_names)
        missing = sorted(set(agent_names) - set(found))
        if missing:
            raise ModelRetry(f"no agent named {', '.join(missing)}")
        data = TaskAssign(agent_ids=[a.agent_id for a in found.values()], by_agent_id=deps.agent_id)
        return board.assign_task(session, _uuid(task_id, "task_id"), data, actor=deps.actor)

    return _task_view(_act(deps, Permission.TASKS_WRITE, work))


def update_task_status(
    ctx: RunContext[TurnDeps], task_id: str, status: str, reason: str | None = None
) -> dict[str, Any]:
    """Move a task to another status (the board's state machine decides what is legal)."""
    deps = ctx.deps
    try:
        target = TaskStatus(status)
    except ValueError:
        raise ModelRetry(f"unknown status {status!r}") from None
    data = TaskStatusChange(status=target, reason=reason, by_agent_id=deps.agent_id)
    task = _act(
        deps,
        Permission.TASKS_WRITE,
        lambda s: board.change_status(s, _uuid(task_id, "task_id"), data, actor=deps.actor),
    )
    return _task_view(task)


def post_message(ctx: RunContext[TurnDeps], task_id: str, content: str) -> dict[str, Any]:
    """Post a message in a task's thread; @name mentions notify those agents."""
    deps = ctx.deps
    message = _act(
        deps,
        Permission.MESSAGES_WRITE,
        lambda s: comms.create_message(
            s,
            _uuid(task_id, "task_id"),
            MessageCreate(content=content, author_agent_id=deps.agent_id),
            actor=deps.actor,
            store=deps.store,
            max_attachment_bytes=deps.max_attachment_bytes,
        ),
    )
    return {
        "message_id": str(message.message_id),
        "mentioned_agent_ids": [str(a) for a in message.mentioned_agent_ids],
    }


def write_document(
    ctx: RunContext[TurnDeps], title: str, content: str, task_id: str | None = None
) -> dict[str, Any]:
    """Save a markdown document (attached to a task when task_id is given)."""
    deps = ctx.deps
    data = DocumentCreate(
        title=title[:200],
        content=content,
        task_id=_uuid(task_id, "task_id") if task_id else deps.task_id,
        author_agent_id=deps.agent_id,
    )
    document = _act(
        deps,
        Permission.DOCUMENTS_WRITE,
        lambda s: documents.create_document(s, data, actor=deps.actor),
    )
    return {"document_id": str(document.document_id), "version": document.version}


def read_document(ctx: RunContext[TurnDeps], document_id: str) -> dict[str, Any]:
    """Read a document's current version."""
    document = _act(
        ctx.deps,
        Permission.BOARD_READ,
        lambda s: documents.get_document(s, _uuid(document_id, "document_id")),
    )
    return {"title": document.title, "content": document.content, "version": document.version}


def read_working_md(ctx: RunContext[TurnDeps]) -> dict[str, Any]:
    """Read WORKING.md: the team's shared state (agents, board, recent activity, notes)."""
    working = _act(ctx.deps, Permission.BOARD_READ, render_working_md)
    return {"content": working.content, "notes_version": working.notes_version}


def append_working_note(ctx: RunContext[TurnDeps], note: str) -> dict[str, Any]:
    """Add a line to WORKING.md's shared notes (kept with every earlier version)."""
    deps = ctx.deps

    def work(session: Session) -> int:
        current = render_working_md(session)
        notes = f"{current.notes.rstrip()}\n- {note.strip()}".lstrip()
        update = WorkingNotesUpdate(
            notes=notes, author_agent_id=deps.agent_id, expected_version=current.notes_version
        )
        return update_notes(session, update, actor=deps.actor).notes_version

    return {"notes_version": _act(deps, Permission.WORKING_MD_WRITE, work)}


FETCH_TIMEOUT_SECONDS = 10.0
FETCH_MAX_CHARS = 20_000


def host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    """Whether `host` is on the allow-list (`.example.com` allows example.com's subdomains)."""
    host = host.lower().rstrip(".")
    for entry in (a.lower().strip() for a in allowed_hosts):
        if entry.startswith(".") and (host.endswith(entry) or host == entry[1:]):
            return True
        if host == entry:
            return True
    return False


def fetch_url(ctx: RunContext[TurnDeps], url: str) -> dict[str, Any]:
    """Fetch a web page or API response (only from the allowed hosts); text, cut to 20,000
    characters."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ModelRetry(f"not an http(s) URL: {url!r}")
    if not host_allowed(parsed.hostname, ctx.deps.fetch_allowed_hosts):
        raise ModelRetry(f"forbidden: {parsed.hostname} is not on the fetch allow-list")
    try:
        reply = httpx.get(url, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise ModelRetry(f"fetch failed: {exc!r}") from exc
    return {
        "status": reply.status_code,
        "content_type": reply.headers.get("content-type", ""),
        "text": reply.text[:FETCH_MAX_CHARS],
    }


def platform_tools() -> list[Tool[TurnDeps]]:
    """Every platform tool, for an `Agent(deps_type=TurnDeps, tools=platform_tools())`."""
    functions = (
        list_tasks,
        create_task,
        assign_task,
        update_task_status,
        post_message,
        write_document,
        read_document,
        read_working_md,
        append_working_note,
        fetch_url,
    )
    return [Tool(function, takes_ctx=True) for function in functions]
