"""WORKING.md: the board rendered for agents and people, with versioned shared notes."""

from __future__ import annotations

import os
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from missionctl.agents.service import all_agents, check_in, record_heartbeat, require_agents
from missionctl.board.schemas import Task
from missionctl.board.service import (
    board_columns,
    count_by_status,
    get_task,
    open_tasks_for_agent,
)
from missionctl.board.transitions import BOARD_COLUMNS
from missionctl.common import Actor
from missionctl.comms.service import count_undelivered, deliver_notifications
from missionctl.db import core_execute, utcnow
from missionctl.errors import NotFound, PreconditionRequired, VersionConflict
from missionctl.events.service import last_activity, recent_activity, record_event
from missionctl.workspace.models import WorkingNotesRow
from missionctl.workspace.schemas import (
    HeartbeatRequest,
    HeartbeatResponse,
    WakeUp,
    WorkingMd,
    WorkingNotesUpdate,
    WorkingNotesVersion,
)

TASKS_PER_COLUMN = 20
RECENT_EVENTS = 15
COLUMN_TITLES = {
    "inbox": "Inbox",
    "assigned": "Assigned",
    "in_progress": "In progress",
    "review": "Review",
    "done": "Done",
    "blocked": "Blocked",
}


def _latest_notes(session: Session) -> tuple[str, int]:
    """The newest notes and their version ("" and 0 before the first save)."""
    found = core_execute(session, _LATEST).first()
    return (found.content, found.version) if found else ("", 0)


# Read on every plan (in WORKING.md): built once, run as Core, scoped to the tenant by hand.
_LATEST = (
    select(WorkingNotesRow.content, WorkingNotesRow.version)
    .where(WorkingNotesRow.tenant_id == bindparam("tenant_id"))
    .order_by(WorkingNotesRow.version.desc())
    .limit(1)
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _task_line(task: Task, names: dict[uuid.UUID, str]) -> str:
    who = ", ".join(f"@{names.get(a, str(a)[:8])}" for a in task.assignee_ids) or "unassigned"
    goal = "🎯 " if task.is_goal else ""
    reason = f" — {task.status_reason}" if task.status_reason else ""
    return f"- {goal}**{task.title}** [{task.priority}] · {who} · `{task.task_id}`{reason}"


def render_working_md(session: Session) -> WorkingMd:
    """Render WORKING.md from the live board and the latest notes."""
    now = utcnow()
    agents = all_agents(session)
    names = {agent.agent_id: agent.name for agent in agents}
    notes, version = _latest_notes(session)
    lines = [
        "# WORKING.md",
        "",
        f"_Rendered {now:%Y-%m-%d %H:%M} UTC by Mission Control · notes version {version}_",
        "",
        "## Agents",
        "",
    ]
    if agents:
        lines += [
            "| Agent | Role | Status | Current task | Last heartbeat |",
            "|---|---|---|---|---|",
        ]
        for agent in agents:
            beat = (
                f"{agent.last_heartbeat_at:%Y-%m-%d %H:%M}" if agent.last_heartbeat_at else "never"
            )
            current = f"`{agent.current_task_id}`" if agent.current_task_id else "—"
            lines.append(
                f"| @{agent.name} | {_cell(agent.role)} | {agent.status} | {current} | {beat} |"
            )
    else:
        lines.append("_No agents yet._")
    lines += ["", "## Board", ""]
    counts = count_by_status(session)
    columns = board_columns(session, TASKS_PER_COLUMN)
    for status in BOARD_COLUMNS:
        lines.append(f"### {COLUMN_TITLES[status.value]} ({counts[status]})")
        shown = columns[status]
        lines += [_task_line(task, names) for task in shown] or ["_empty_"]
        if counts[status] > len(shown):
            lines.append(f"- … and {counts[status] - len(shown)} more")
        lines.append("")
    lines += ["## Recent activity", ""]
    events = recent_activity(session, RECENT_EVENTS)
    lines += [f"- {at:%m-%d %H:%M} {summary}" for at, summary in events] or ["_nothing yet_"]
    lines += ["", "## Notes", "", notes.rstrip() or "_No notes yet._", ""]
    return WorkingMd(content="\n".join(lines), notes=notes, notes_version=version, rendered_at=now)


def update_notes(
    session: Session,
    data: WorkingNotesUpdate,
    *,
    actor: Actor,
    if_match: int | None = None,
) -> WorkingMd:
    """Replace the notes if nobody saved since `expected_version`; every version is kept."""
    expected = if_match if if_match is not None else data.expected_version
    if expected is None:
        raise PreconditionRequired(
            "send the notes version you edited as If-Match (or expected_version)"
        )
    if data.author_agent_id is not None:
        require_agents(session, [data.author_agent_id])
        actor = Actor.agent(data.author_agent_id)
    current = session.scalar(select(func.max(WorkingNotesRow.version))) or 0
    if expected != current:
        raise VersionConflict("WORKING.md notes", expected, current)
    session.add(
        WorkingNotesRow(
            version=current + 1,
            content=data.notes,
            author_kind=actor.kind.value,
            author_agent_id=actor.agent_id,
            author_user_id=actor.user_id,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        # The (tenant, version) key: a concurrent save of the same version got there first.
        raise VersionConflict("WORKING.md notes", expected, current + 1) from None
    record_event(
        session,
        "working_md.updated",
        actor=actor,
        subject_kind="working_md",
        subject_id="notes",
        agent_id=actor.agent_id,
        summary=f"WORKING.md notes saved as version {current + 1}",
        payload={"version": current + 1},
    )
    return render_working_md(session)


def list_note_versions(session: Session) -> list[WorkingNotesVersion]:
    """Every saved version of the notes, newest first."""
    rows = session.scalars(select(WorkingNotesRow).order_by(WorkingNotesRow.version.desc()))
    return [WorkingNotesVersion.model_validate(row) for row in rows]


def get_note_version(session: Session, version: int) -> WorkingNotesVersion:
    """One saved version of the notes, or `NotFound`."""
    row = session.scalar(select(WorkingNotesRow).where(WorkingNotesRow.version == version))
    if row is None:
        raise NotFound("WORKING.md notes version", version)
    return WorkingNotesVersion.model_validate(row)


def heartbeat(session: Session, agent_id: uuid.UUID, data: HeartbeatRequest) -> HeartbeatResponse:
    """Record an agent's heartbeat and hand it its open tasks and new notifications."""
    if data.current_task_id is not None:
        get_task(session, data.current_task_id)
    agent = record_heartbeat(
        session, agent_id, status=data.status, current_task_id=data.current_task_id
    )
    tasks = open_tasks_for_agent(session, agent_id)
    notifications = deliver_notifications(session, agent_id)
    return HeartbeatResponse(
        agent=agent,
        tasks=tasks,
        notifications=notifications,
        has_work=bool(tasks or notifications),
    )


STALLED = "task.stalled"


def wake(session: Session, agent_id: uuid.UUID, *, stall_heartbeats: int = 3) -> WakeUp:
    """A scheduled heartbeat: the agent checks in and sees whether it has work.

    Nothing is handed over or marked delivered: the agent's turn does that when it runs. Its
    open tasks that have seen no event for `stall_heartbeats` of its intervals are escalated
    once as stalled (a `task.stalled` event; people are notified) until they move again.
    """
    name, interval = check_in(session, agent_id)
    open_tasks = open_tasks_for_agent(session, agent_id)
    pending = count_undelivered(session, agent_id)
    patience = timedelta(seconds=interval * stall_heartbeats)
    now = utcnow()
    last = last_activity(session, [task.task_id for task in open_tasks]) if open_tasks else {}
    stalled = [
        task
        for task in open_tasks
        if task.task_id in last
        and last[task.task_id][0] != STALLED
        and now - last[task.task_id][1] > patience
    ]
    for task in stalled:
        idle = int((now - last[task.task_id][1]).total_seconds())
        record_event(
            session,
            STALLED,
            actor=Actor.system(),
            subject_kind="task",
            subject_id=task.task_id,
            task_id=task.task_id,
            agent_id=agent_id,
            summary=f"No progress on {task.title!r} for {stall_heartbeats} heartbeats of {name}",
            payload={"title": task.title, "idle_seconds": idle, "agent": name},
        )
    return WakeUp(
        agent_id=agent_id,
        open_tasks=len(open_tasks),
        pending_notifications=pending,
        has_work=bool(open_tasks or pending),
        stalled_tasks=len(stalled),
    )


def mirror_path(data_dir: Path, tenant_slug: str, *, is_default: bool) -> Path:
    """Where a tenant's WORKING.md is mirrored: the data dir, or a per-tenant folder."""
    if is_default:
        return data_dir / "WORKING.md"
    return data_dir / "tenants" / tenant_slug / "WORKING.md"


def write_mirror(path: Path, content: str) -> None:
    """Write WORKING.md atomically: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".WORKING.md.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(temp_name, 0o644)  # mkstemp makes it private; WORKING.md is for reading
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
