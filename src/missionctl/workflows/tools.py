"""Tools a workflow's `tool` nodes call: built-ins here, more from plugins.

A tool is a function of its (rendered) arguments. A *transactional* tool also takes the unit of
work that records its step: what it writes commits with the step's result, so it happens exactly
once even if the worker dies (documents, tasks, memories). Other tools run outside the database,
on the workflow loop (`async`) or in a thread, and may repeat if a worker dies mid-call.

A plugin module (named in `MISSIONCTL_PLUGINS`) may define `register_workflow_tools(tools)` and
call `tools.add(...)` with its own; built-ins are registered the same way.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from missionctl.board.schemas import TaskCreate
from missionctl.board.service import create_task
from missionctl.common import Actor
from missionctl.documents.schemas import DocumentCreate
from missionctl.documents.service import create_document
from missionctl.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ToolCall:
    """Who calls a tool: the run and step, as the tool may record them."""

    tenant_id: uuid.UUID
    run_id: uuid.UUID
    step_key: str
    workflow: str

    @property
    def idempotency_key(self) -> str:
        """Unique to this run and step: pass it on to anything the tool changes elsewhere."""
        return f"{self.run_id}:{self.step_key}"


@dataclass(frozen=True, slots=True)
class Tool:
    """One tool. `fn(args, call)`; with `is_transactional`, `fn(session, args, call)` (and
    `is_pure` when it writes nothing, so a failure has nothing to undo)."""

    name: str
    fn: Callable[..., Any]
    description: str = ""
    is_transactional: bool = False
    is_async: bool = False
    is_pure: bool = False  # transactional and writes nothing: no savepoint needed


@dataclass
class ToolRegistry:
    """The tools `tool` nodes may name."""

    tools: dict[str, Tool] = field(default_factory=dict)

    def add(self, tool: Tool) -> Tool:
        """Register a tool; a name can be registered once."""
        if tool.name in self.tools:
            raise ValueError(f"workflow tool {tool.name!r} is registered twice")
        self.tools[tool.name] = tool
        return tool

    def get(self, name: str) -> Tool:
        """The tool called `name`."""
        try:
            return self.tools[name]
        except KeyError:
            raise InvalidInput(f"no workflow tool {name!r}", field="tool") from None

    def names(self) -> list[str]:
        """Every tool's name, sorted."""
        return sorted(self.tools)

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools[n] for n in self.names())


TOOLS = ToolRegistry()


def _actor() -> Actor:
    return Actor.system()


def noop(_session: Session, args: dict[str, Any], _call: ToolCall) -> dict[str, Any]:
    """Do nothing; the output is the arguments (a join point, or a value to pass on)."""
    return args


async def sleep(args: dict[str, Any], _call: ToolCall) -> dict[str, Any]:
    """Sleep `seconds` (at most an hour)."""
    seconds = float(args.get("seconds", 0))
    if not 0 <= seconds <= 3600:
        raise InvalidInput("sleep: seconds must be between 0 and 3600", field="seconds")
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def write_document(session: Session, args: dict[str, Any], call: ToolCall) -> dict[str, Any]:
    """Write a markdown document (`title`, `content`, optional `task_id`)."""
    task_id = args.get("task_id")
    document = create_document(
        session,
        DocumentCreate(
            title=str(args.get("title") or f"{call.workflow} output")[:200],
            content=str(args.get("content") or ""),
            task_id=uuid.UUID(str(task_id)) if task_id else None,
        ),
        actor=_actor(),
    )
    return {"document_id": str(document.document_id), "title": document.title}


def new_task(session: Session, args: dict[str, Any], _call: ToolCall) -> dict[str, Any]:
    """Put a task on the board (`title`, `description`, `priority`) without waiting for it."""
    task = create_task(
        session,
        TaskCreate(
            title=str(args.get("title") or "Workflow task")[:200],
            description=str(args.get("description") or ""),
            priority=args.get("priority") or "normal",
        ),
        actor=_actor(),
    )
    return {"task_id": str(task.task_id), "status": task.status.value}


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_CARD = re.compile(r"\b(?:\d[ -]?){13,16}\b")


def guardrails(_session: Session, args: dict[str, Any], _call: ToolCall) -> dict[str, Any]:
    """Check a reply before it goes out: personal data is redacted, banned terms flagged,
    length bounded. Output: `ok`, `issues`, and the `text` safe to send."""
    text = str(args.get("text") or "")
    banned = [str(b).lower() for b in args.get("banned", []) if str(b).strip()]
    max_chars = int(args.get("max_chars") or 4000)
    issues: list[str] = []
    redacted = text
    for label, pattern in (("card number", _CARD), ("email address", _EMAIL), ("phone", _PHONE)):
        if pattern.search(redacted):
            issues.append(f"{label} redacted")
            redacted = pattern.sub(f"[{label}]", redacted)
    lowered = redacted.lower()
    flagged = [term for term in banned if term in lowered]
    issues.extend(f"banned term: {term}" for term in flagged)
    if len(redacted) > max_chars:
        issues.append(f"cut to {max_chars} characters")
        redacted = redacted[:max_chars]
    return {"ok": not flagged, "issues": issues, "text": redacted}


def register_workflow_tools(tools: ToolRegistry) -> None:
    """The built-in tools."""
    tools.add(Tool("noop", noop, noop.__doc__ or "", is_transactional=True, is_pure=True))
    tools.add(Tool("sleep", sleep, sleep.__doc__ or "", is_async=True))
    tools.add(Tool("document.write", write_document, write_document.__doc__ or "", True))
    tools.add(Tool("task.create", new_task, new_task.__doc__ or "", is_transactional=True))
    tools.add(
        Tool(
            "guardrails", guardrails, guardrails.__doc__ or "", is_transactional=True, is_pure=True
        )
    )


register_workflow_tools(TOOLS)
