"""The platform tools an agent's model may call: the board, threads, documents, WORKING.md.

Each tool checks the permission it needs against the agent's role (the table in
`permissions.py`, as for any principal), runs one unit of work through the domain's own
service as the agent, and answers the model with a small JSON-able summary. A refused or bad
call raises `ModelRetry` with the reason: the model sees it and may correct itself, and
pydantic-ai bounds how often (`Agent(retries=...)`).

`fetch_url` reaches only hosts on `MISSIONCTL_FETCH_ALLOWED_HOSTS` and follows no redirect
(a redirect could leave the list). `ask_human` defers the call: the turn ends parked with the
question, and a person's answer becomes the call's result when the turn resumes.

Exactly once: inside a turn, each tool's unit of work runs through the turn's `Journal` (the
job's checkpointed steps) under a key made of the model step and the tool call's id. The effect
and its checkpoint commit together, so a turn resumed after a crash gets the recorded result back
instead of posting the message or saving the document a second time.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic_ai import CallDeferred, ModelRetry, RunContext, Tool
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
from missionctl.documents.schemas import DocumentCreate, DocumentFilter, DocumentUpdate
from missionctl.errors import MissionControlError
from missionctl.memory import service as memory
from missionctl.memory.schemas import MemoryCreate, MemoryFilter, MemoryKind
from missionctl.permissions import Permission, Role, allowed
from missionctl.storage import AttachmentStore
from missionctl.workspace.schemas import WorkingNotesUpdate
from missionctl.workspace.service import render_working_md, update_notes

T = TypeVar("T")


class Journal(Protocol):
    """Where a turn checkpoints its effects (a job's `JobContext` is one)."""

    def step(self, name: str, fn: Callable[[Session], T]) -> T:
        """Run `fn` in a unit of work once; later calls with `name` get its result back."""
        ...

    def call(self, name: str, fn: Callable[[], T]) -> T:
        """Run `fn` (no database) once and record its result under `name`."""
        ...


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
    journal: Journal | None = None  # None: each tool call is a plain unit of work

    @property
    def actor(self) -> Actor:
        """Who the tools' changes are recorded as."""
        return Actor.agent(self.agent_id)


def _key(ctx: RunContext[TurnDeps]) -> str:
    return f"tool:{ctx.run_step}:{ctx.tool_call_id}"


def _act(ctx: RunContext[TurnDeps], permission: Permission, work: Callable[[Session], T]) -> T:
    """One permission-checked, checkpointed unit of work; refusals go back to the model."""
    deps = ctx.deps
    if not allowed(deps.role, permission):
        raise ModelRetry(f"forbidden: this agent may not use a tool needing {permission.value}")
    try:
        if deps.journal is not None:
            return deps.journal.step(_key(ctx), work)
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
    return _act(
        ctx,
        Permission.BOARD_READ,
        lambda s: [
            _task_view(t)
            for t in board.list_tasks(s, TaskFilter(status=status_filter, limit=50)).items
        ],
    )


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
    return _act(
        ctx,
        Permission.TASKS_WRITE,
        lambda s: _task_view(board.create_task(s, data, actor=deps.actor)),
    )


def assign_task(ctx: RunContext[TurnDeps], task_id: str, agent_names: list[str]) -> dict[str, Any]:
    """Assign a task to agents by name (replacing its assignees)."""
    deps = ctx.deps

    def work(session: Session) -> dict[str, Any]:
        found = agents_by_name(session, agent_names)
        missing = sorted(set(agent_names) - set(found))
        if missing:
            raise ModelRetry(f"no agent named {', '.join(missing)}")
        data = TaskAssign(agent_ids=[a.agent_id for a in found.values()], by_agent_id=deps.agent_id)
        return _task_view(
            board.assign_task(session, _uuid(task_id, "task_id"), data, actor=deps.actor)
        )

    return _act(ctx, Permission.TASKS_WRITE, work)


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
    return _act(
        ctx,
        Permission.TASKS_WRITE,
        lambda s: _task_view(
            board.change_status(s, _uuid(task_id, "task_id"), data, actor=deps.actor)
        ),
    )


def post_message(ctx: RunContext[TurnDeps], task_id: str, content: str) -> dict[str, Any]:
    """Post a message in a task's thread; @name mentions notify those agents."""
    deps = ctx.deps

    def work(session: Session) -> dict[str, Any]:
        message = comms.create_message(
            session,
            _uuid(task_id, "task_id"),
            MessageCreate(content=content, author_agent_id=deps.agent_id),
            actor=deps.actor,
            store=deps.store,
            max_attachment_bytes=deps.max_attachment_bytes,
        )
        return {
            "message_id": str(message.message_id),
            "mentioned_agent_ids": [str(a) for a in message.mentioned_agent_ids],
        }

    return _act(ctx, Permission.MESSAGES_WRITE, work)


def write_document(
    ctx: RunContext[TurnDeps], title: str, content: str, task_id: str | None = None
) -> dict[str, Any]:
    """Save a markdown document (attached to a task when task_id is given). Writing a title
    the task already has a document under saves a new version of that document."""
    deps = ctx.deps
    target = _uuid(task_id, "task_id") if task_id else deps.task_id

    def work(session: Session) -> dict[str, Any]:
        existing = _document_titled(session, target, title[:200])
        if existing is not None:
            update = DocumentUpdate(content=content, author_agent_id=deps.agent_id)
            document = documents.update_document(session, existing, update, actor=deps.actor)
        else:
            data = DocumentCreate(
                title=title[:200], content=content, task_id=target, author_agent_id=deps.agent_id
            )
            document = documents.create_document(session, data, actor=deps.actor)
        return {"document_id": str(document.document_id), "version": document.version}

    return _act(ctx, Permission.DOCUMENTS_WRITE, work)


def _document_titled(session: Session, task_id: uuid.UUID | None, title: str) -> uuid.UUID | None:
    if task_id is None:
        return None
    found = documents.list_documents(session, DocumentFilter(task_id=task_id, limit=200)).items
    return next((d.document_id for d in found if d.title == title), None)


def read_document(ctx: RunContext[TurnDeps], document_id: str) -> dict[str, Any]:
    """Read a document's current version."""

    def work(session: Session) -> dict[str, Any]:
        document = documents.get_document(session, _uuid(document_id, "document_id"))
        return {"title": document.title, "content": document.content, "version": document.version}

    return _act(ctx, Permission.BOARD_READ, work)


def read_working_md(ctx: RunContext[TurnDeps]) -> dict[str, Any]:
    """Read WORKING.md: the team's shared state (agents, board, recent activity, notes)."""

    def work(session: Session) -> dict[str, Any]:
        working = render_working_md(session)
        return {"content": working.content, "notes_version": working.notes_version}

    return _act(ctx, Permission.BOARD_READ, work)


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

    return {"notes_version": _act(ctx, Permission.WORKING_MD_WRITE, work)}


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

    def fetch() -> dict[str, Any]:
        try:
            reply = httpx.get(url, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise ModelRetry(f"fetch failed: {exc!r}") from exc
        return {
            "status": reply.status_code,
            "content_type": reply.headers.get("content-type", ""),
            "text": reply.text[:FETCH_MAX_CHARS],
        }

    journal = ctx.deps.journal
    return journal.call(_key(ctx), fetch) if journal is not None else fetch()


def search_memory(ctx: RunContext[TurnDeps], query: str) -> list[dict[str, Any]]:
    """Search your memories and the team's shared ones (best matches first, at most 5)."""
    deps = ctx.deps

    def work(session: Session) -> list[dict[str, Any]]:
        hits = memory.search_memories(
            session, MemoryFilter(q=query[:2000], agent_id=deps.agent_id, limit=5)
        )
        return [
            {
                "title": hit.memory.title,
                "content": hit.memory.content[:1500],
                "kind": hit.memory.kind.value,
                "shared": hit.memory.agent_id is None,
            }
            for hit in hits
        ]

    return _act(ctx, Permission.BOARD_READ, work)


def save_memory(
    ctx: RunContext[TurnDeps], title: str, content: str, shared: bool = False
) -> dict[str, Any]:
    """Remember something for later turns (shared=true: for every agent of the team)."""
    deps = ctx.deps
    data = MemoryCreate(
        kind=MemoryKind.NOTE,
        title=title[:200],
        content=content[:20_000],
        agent_id=None if shared else deps.agent_id,
        task_id=deps.task_id,
    )
    return _act(
        ctx,
        Permission.MEMORY_WRITE,
        lambda s: {"memory_id": str(memory.save_memory(s, data, actor=deps.actor).memory_id)},
    )


def ask_human(ctx: RunContext[TurnDeps], question: str) -> str:
    """Ask a person a question you cannot answer yourself. Your turn pauses until they answer;
    the answer comes back as this call's result."""
    if not question.strip():
        raise ModelRetry("the question is empty")
    raise CallDeferred(metadata={"question": question.strip()[:4000]}, kind="question")


def platform_tools() -> list[Tool[TurnDeps]]:
    """Every platform tool, for an `Agent(deps_type=TurnDeps, tools=platform_tools())`."""
    return list(_built())


@functools.cache
def _built() -> tuple[Tool[TurnDeps], ...]:
    # Built once per process: each Tool derives its JSON schema when made (milliseconds), and
    # they hold no state (a call's state comes in its RunContext).
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
        search_memory,
        save_memory,
        fetch_url,
        ask_human,
    )
    # Sequential: each call's effect is checkpointed before the next one starts.
    return tuple(Tool(function, takes_ctx=True, sequential=True) for function in functions)


READ_ONLY = frozenset(
    {"list_tasks", "read_document", "read_working_md", "search_memory", "fetch_url", "ask_human"}
)


def read_only_tools() -> list[Tool[TurnDeps]]:
    """The tools that look but change nothing on the board (for planning and reviewing)."""
    return [tool for tool in _built() if tool.name in READ_ONLY]
