"""Agent use cases."""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from missionctl.agents.models import AgentRow, AgentVersionRow
from missionctl.agents.schemas import (
    Agent,
    AgentCreate,
    AgentFieldChange,
    AgentFilter,
    AgentStatus,
    AgentUpdate,
    AgentVersion,
    AgentVersionDiff,
)
from missionctl.audit.service import record_audit
from missionctl.common import MAX_DB_INT, Actor, Page, Quotas, decode_uuid_cursor, split_page
from missionctl.db import UnitMemo, tenant_of, utcnow
from missionctl.engine.service import enqueue
from missionctl.errors import AlreadyExists, InvalidInput, NotFound, QuotaExceeded
from missionctl.events.service import record_event

HEARTBEAT_JOB = "agent.heartbeat"
HEARTBEAT_BATCH = 500
AGENTS = cast(Table, AgentRow.__table__)
# What a version captures; status, heartbeats and the current task are live state, not definition.
DEFINITION_FIELDS = (
    "name",
    "role",
    "capabilities",
    "instructions",
    "model",
    "heartbeat_interval_seconds",
)


def _row(session: Session, agent_id: uuid.UUID, *, for_update: bool = False) -> AgentRow:
    if for_update:
        _AGENTS.forget(session)  # the caller is about to change the agent
        # Versions are numbered from the agent's row: concurrent writers take turns.
        query = (
            select(AgentRow)
            .where(AgentRow.agent_id == agent_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        locked = session.scalar(query)
        if locked is None:
            raise NotFound("agent", agent_id)
        return locked
    row = session.get(AgentRow, agent_id)
    # session.get bypasses query criteria when the row is already in the identity map.
    if row is None or row.tenant_id != session.info.get("tenant_id"):
        raise NotFound("agent", agent_id)
    return row


def _name_taken(session: Session, name: str, except_id: uuid.UUID | None = None) -> bool:
    clash = session.scalar(select(AgentRow.agent_id).where(AgentRow.name == name))
    return clash is not None and clash != except_id


def _ensure_name_free(session: Session, name: str, *, except_id: uuid.UUID | None = None) -> None:
    if _name_taken(session, name, except_id):
        raise AlreadyExists(f"an agent named {name!r} already exists", field="name")


def _audit(
    session: Session, action: str, actor: Actor, row: AgentRow, details: dict[str, object]
) -> None:
    record_audit(
        session,
        action,
        actor=actor,
        tenant_id=row.tenant_id,
        subject_kind="agent",
        subject_id=row.agent_id,
        details=details,
    )


def _definition(row: AgentRow | AgentVersionRow) -> dict[str, object]:
    """The definition fields of an agent or a version (lists copied, never shared)."""
    values = {field: getattr(row, field) for field in DEFINITION_FIELDS}
    values["capabilities"] = list(row.capabilities)
    return values


def _save_version(session: Session, row: AgentRow, actor: Actor, note: str | None = None) -> None:
    """Write the row's current definition as version `row.version`."""
    session.add(
        AgentVersionRow(
            agent_id=row.agent_id,
            version=row.version,
            **_definition(row),
            created_by_kind=actor.kind.value,
            created_by_agent_id=actor.agent_id,
            created_by_user_id=actor.user_id,
            note=note,
        )
    )
    session.flush()


def create_agent(
    session: Session, data: AgentCreate, *, actor: Actor, quotas: Quotas | None = None
) -> Agent:
    """Create an agent; names and session keys are unique per tenant; quotas are enforced."""
    if quotas is not None and quotas.agents is not None:
        count = session.scalar(select(func.count()).select_from(AgentRow)) or 0
        if count >= quotas.agents:
            raise QuotaExceeded(f"the tenant has {count} agents, its quota", quota="agents")
    _ensure_name_free(session, data.name)
    session_key = data.session_key or f"agent:{data.name}:main"
    if session.scalar(select(AgentRow.agent_id).where(AgentRow.session_key == session_key)):
        raise AlreadyExists(f"session key {session_key!r} is taken", field="session_key")
    row = AgentRow(
        name=data.name,
        role=data.role,
        status=data.status.value,
        capabilities=list(dict.fromkeys(data.capabilities)),
        instructions=data.instructions,
        model=data.model,
        heartbeat_interval_seconds=data.heartbeat_interval_seconds,
        session_key=session_key,
        version=1,
    )
    session.add(row)
    session.flush()
    _save_version(session, row, actor)
    _audit(session, "agent.created", actor, row, {"name": row.name, "role": row.role})
    record_event(
        session,
        "agent.created",
        actor=actor,
        subject_kind="agent",
        subject_id=row.agent_id,
        agent_id=row.agent_id,
        summary=f"Agent {row.name} ({row.role}) joined",
        payload={"name": row.name, "role": row.role},
    )
    return Agent.model_validate(row)


# Agents as turns read them (several times a turn): plain Core statements built once, scoped to
# the tenant by hand, without the ORM's per-statement and per-row work.
_AGENT_COLUMNS = [AGENTS.c[name] for name in Agent.model_fields]
_AGENT_BY_ID = select(*_AGENT_COLUMNS).where(
    AGENTS.c.agent_id == bindparam("agent_id"), AGENTS.c.tenant_id == bindparam("tenant_id")
)
_EVERY_AGENT = (
    select(*_AGENT_COLUMNS)
    .where(AGENTS.c.tenant_id == bindparam("tenant_id"))
    .order_by(AGENTS.c.agent_id)
)


def get_agent(session: Session, agent_id: uuid.UUID) -> Agent:
    """The agent, or `NotFound` (read once per unit of work: see `_AGENTS`)."""
    memo = _AGENTS.of(session)
    agent: Agent | None = memo.get(agent_id)
    if agent is None:
        tenant_id = session.info.get("tenant_id")
        if tenant_id is None:  # a session for every tenant: the ORM's read
            agent = Agent.model_validate(_row(session, agent_id))
        else:
            session.flush()  # a Core read bypasses the identity map: write pending changes
            found = session.connection().execute(
                _AGENT_BY_ID, {"agent_id": agent_id, "tenant_id": tenant_id}
            )
            row = found.first()
            if row is None:
                raise NotFound("agent", agent_id)
            agent = Agent.model_validate(row)
        memo[agent_id] = agent
    return agent


def capabilities_of(session: Session, agent_id: uuid.UUID) -> list[str]:
    """The agent's capabilities (one column, for hot paths); [] for an unknown agent."""
    known: Agent | None = _AGENTS.of(session).get(agent_id)
    if known is not None:
        return list(known.capabilities)
    return list(
        session.scalar(select(AgentRow.capabilities).where(AgentRow.agent_id == agent_id)) or []
    )


def find_agent_by_name(session: Session, name: str) -> Agent | None:
    """The agent with this name, or None."""
    row = session.scalar(select(AgentRow).where(AgentRow.name == name))
    return Agent.model_validate(row) if row else None


def resolve_agent(session: Session, ref: str) -> Agent:
    """An agent by id or by name (for the CLI and filters)."""
    try:
        return get_agent(session, uuid.UUID(ref))
    except ValueError:
        agent = find_agent_by_name(session, ref)
        if agent is None:
            raise NotFound("agent", ref) from None
        return agent


def list_agents(session: Session, agent_filter: AgentFilter) -> Page[Agent]:
    """A page of agents, oldest first; filter by status or capability."""
    query = select(AgentRow)
    if agent_filter.status is not None:
        query = query.where(AgentRow.status == agent_filter.status.value)
    if agent_filter.cursor:
        query = query.where(AgentRow.agent_id > decode_uuid_cursor(agent_filter.cursor))
    rows = list(session.scalars(query.order_by(AgentRow.agent_id)))
    if agent_filter.capability:
        # Capabilities are a JSON list: filter in Python, agents per tenant are few.
        rows = [row for row in rows if agent_filter.capability in row.capabilities]
    page, next_cursor = split_page(rows, agent_filter.limit, lambda row: row.agent_id)
    return Page[Agent](items=[Agent.model_validate(r) for r in page], next_cursor=next_cursor)


def agents_by_name(session: Session, names: Iterable[str]) -> dict[str, Agent]:
    """The agents among `names` that exist, by name."""
    wanted = set(names)
    if not wanted:
        return {}
    rows = session.scalars(select(AgentRow).where(AgentRow.name.in_(wanted)))
    return {row.name: Agent.model_validate(row) for row in rows}


def all_agents(session: Session) -> list[Agent]:
    """Every agent of the tenant, oldest first (read once per unit of work: see `_AGENTS`)."""
    memo = _AGENTS.of(session)
    every: list[Agent] | None = memo.get(_EVERY)
    if every is None:
        tenant_id = session.info.get("tenant_id")
        if tenant_id is None:  # a session for every tenant: the ORM's read
            rows: Iterable[Any] = session.scalars(select(AgentRow).order_by(AgentRow.agent_id))
        else:
            session.flush()  # a Core read bypasses the identity map: write pending changes
            rows = session.connection().execute(_EVERY_AGENT, {"tenant_id": tenant_id})
        every = memo[_EVERY] = [Agent.model_validate(row) for row in rows]
        memo.update((agent.agent_id, agent) for agent in every)
    return list(every)


# A turn's orchestration asks for agents many times in one unit of work; any change to an
# agent in the session drops what was read.
_AGENTS = UnitMemo("agents", AgentRow, AgentVersionRow)
_EVERY = "every"


def agent_exists(session: Session, agent_id: uuid.UUID) -> bool:
    """Whether the tenant has an agent with this id."""
    return (
        session.scalar(select(AgentRow.agent_id).where(AgentRow.agent_id == agent_id)) is not None
    )


def require_agents(session: Session, agent_ids: Iterable[uuid.UUID]) -> list[Agent]:
    """The agents with these ids; `InvalidInput` naming any that do not exist."""
    wanted = list(dict.fromkeys(agent_ids))
    memo = _AGENTS.of(session)
    unread = [agent_id for agent_id in wanted if agent_id not in memo]
    if unread:
        for row in session.scalars(select(AgentRow).where(AgentRow.agent_id.in_(unread))):
            memo[row.agent_id] = Agent.model_validate(row)
    missing = [str(agent_id) for agent_id in wanted if agent_id not in memo]
    if missing:
        raise InvalidInput(f"unknown agent(s): {', '.join(missing)}", field="agent_ids")
    return [memo[agent_id] for agent_id in wanted]


def update_agent(
    session: Session, agent_id: uuid.UUID, data: AgentUpdate, *, actor: Actor
) -> Agent:
    """Change an agent's definition or status; a changed definition is saved as a new version."""
    row = _row(session, agent_id, for_update=True)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes and changes["name"] != row.name:
        _ensure_name_free(session, changes["name"], except_id=agent_id)
    if "capabilities" in changes:
        changes["capabilities"] = list(dict.fromkeys(changes["capabilities"]))
    changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
    if not changed:
        return Agent.model_validate(row)
    for key, value in changed.items():
        setattr(row, key, value.value if isinstance(value, AgentStatus) else value)
    if changed.keys() & set(DEFINITION_FIELDS):
        row.version += 1
        _save_version(session, row, actor)
    session.flush()
    _audit(session, "agent.updated", actor, row, {"changed": sorted(changed)})
    record_event(
        session,
        "agent.status_changed" if set(changed) == {"status"} else "agent.updated",
        actor=actor,
        subject_kind="agent",
        subject_id=agent_id,
        agent_id=agent_id,
        summary=f"Agent {row.name} updated: {', '.join(sorted(changed))}",
        payload={
            "changed": sorted(changed),
            "name": row.name,
            "status": row.status,
            "version": row.version,
        },
    )
    return Agent.model_validate(row)


def delete_agent(session: Session, agent_id: uuid.UUID, *, actor: Actor) -> None:
    """Remove an agent; its assignments and notifications go with it, its messages stay."""
    row = _row(session, agent_id)
    name = row.name
    _audit(session, "agent.deleted", actor, row, {"name": name})
    session.delete(row)
    session.flush()
    record_event(
        session,
        "agent.deleted",
        actor=actor,
        subject_kind="agent",
        subject_id=agent_id,
        agent_id=agent_id,
        summary=f"Agent {name} was removed",
        payload={"name": name},
    )


def _version_row(session: Session, agent_id: uuid.UUID, version: int) -> AgentVersionRow:
    # Numbers no column can hold are simply not there (and must not reach the driver).
    row = None
    if 1 <= version <= MAX_DB_INT:
        row = session.scalar(
            select(AgentVersionRow).where(
                AgentVersionRow.agent_id == agent_id, AgentVersionRow.version == version
            )
        )
    if row is None:
        raise NotFound("agent version", f"{agent_id}@{version}")
    return row


def list_agent_versions(session: Session, agent_id: uuid.UUID) -> list[AgentVersion]:
    """Every saved definition of an agent, newest first."""
    _row(session, agent_id)
    rows = session.scalars(
        select(AgentVersionRow)
        .where(AgentVersionRow.agent_id == agent_id)
        .order_by(AgentVersionRow.version.desc())
    )
    return [AgentVersion.model_validate(row) for row in rows]


def get_agent_version(session: Session, agent_id: uuid.UUID, version: int) -> AgentVersion:
    """One saved definition of an agent, or `NotFound`."""
    _row(session, agent_id)
    return AgentVersion.model_validate(_version_row(session, agent_id, version))


def diff_agent_versions(
    session: Session, agent_id: uuid.UUID, from_version: int, to_version: int
) -> AgentVersionDiff:
    """The definition fields that differ between two versions, old and new values."""
    _row(session, agent_id)
    old = _version_row(session, agent_id, from_version)
    new = _version_row(session, agent_id, to_version)
    changes: dict[str, AgentFieldChange] = {}
    for field in DEFINITION_FIELDS:
        before, after = getattr(old, field), getattr(new, field)
        if before == after:
            continue
        text_diff = None
        if field == "instructions":
            text_diff = _unified_diff(before, after, from_version, to_version)
        changes[field] = AgentFieldChange(old=before, new=after, unified_diff=text_diff)
    return AgentVersionDiff(
        agent_id=agent_id, from_version=from_version, to_version=to_version, changes=changes
    )


def _unified_diff(before: str, after: str, from_version: int, to_version: int) -> str:
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"v{from_version}/instructions",
        tofile=f"v{to_version}/instructions",
        lineterm="",
    )
    text = "\n".join(lines)
    return f"{text}\n" if text else ""


def rollback_agent(session: Session, agent_id: uuid.UUID, version: int, *, actor: Actor) -> Agent:
    """Bring back an earlier definition as a new version (history is never rewritten).

    Rolling back to the definition the agent already has changes nothing. A name that another
    agent took since is refused with `AlreadyExists`.
    """
    row = _row(session, agent_id, for_update=True)
    target = _version_row(session, agent_id, version)
    definition = _definition(target)
    if definition == _definition(row):
        return Agent.model_validate(row)
    if target.name != row.name and _name_taken(session, target.name, agent_id):
        raise AlreadyExists(
            f"cannot roll back to version {version}: its name {target.name!r} now belongs to "
            "another agent; rename that agent first",
            field="name",
        )
    previous = row.version
    for field, value in definition.items():
        setattr(row, field, value)
    row.version += 1
    _save_version(session, row, actor, note=f"rollback to v{version}")
    details: dict[str, object] = {
        "from_version": previous,
        "to_version": version,
        "version": row.version,
    }
    _audit(session, "agent.rolled_back", actor, row, details)
    record_event(
        session,
        "agent.rolled_back",
        actor=actor,
        subject_kind="agent",
        subject_id=agent_id,
        agent_id=agent_id,
        summary=f"Agent {row.name} rolled back to version {version} (now version {row.version})",
        payload={"name": row.name, **details},
    )
    return Agent.model_validate(row)


def record_heartbeat(
    session: Session,
    agent_id: uuid.UUID,
    *,
    status: AgentStatus | None,
    current_task_id: uuid.UUID | None,
) -> Agent:
    """Note that the agent is alive; optionally update its status and current task.

    A check-in that changes neither is not an event (an idle team would fill the log with
    them): `last_heartbeat_at` on the agent says it is alive.
    """
    row = _row(session, agent_id)
    row.last_heartbeat_at = utcnow()
    previous_status, previous_task_id = row.status, row.current_task_id
    if status is not None:
        row.status = status.value
    row.current_task_id = current_task_id
    session.flush()
    if row.status == previous_status and row.current_task_id == previous_task_id:
        return Agent.model_validate(row)
    record_event(
        session,
        "agent.heartbeat",
        actor=Actor.agent(agent_id),
        subject_kind="agent",
        subject_id=agent_id,
        agent_id=agent_id,
        summary=f"{row.name} checked in ({row.status})",
        payload={"status": row.status, "previous_status": previous_status, "name": row.name},
    )
    return Agent.model_validate(row)


def check_in(session: Session, agent_id: uuid.UUID) -> tuple[str, int]:
    """A scheduled heartbeat's check-in, in one statement (no event: nothing changed but the
    time); the agent's name and heartbeat interval, or `NotFound`."""
    table = AGENTS
    _AGENTS.forget(session)  # a Core statement: no flush says the agent changed
    row = (
        session.connection()
        .execute(
            update(table)
            .where(table.c.agent_id == agent_id, table.c.tenant_id == tenant_of(session))
            .values(last_heartbeat_at=utcnow())
            .returning(table.c.name, table.c.heartbeat_interval_seconds)
        )
        .first()
    )
    if row is None:
        raise NotFound("agent", agent_id)
    return str(row.name), int(row.heartbeat_interval_seconds)


def next_heartbeat_at(session: Session) -> datetime | None:
    """When the soonest agent of any tenant is due to wake."""
    return session.scalar(
        select(func.min(AgentRow.next_heartbeat_at)).execution_options(all_tenants=True)
    )


def enqueue_due_heartbeats(session: Session, now: datetime, limit: int = HEARTBEAT_BATCH) -> int:
    """Enqueue a heartbeat job for every agent of every tenant whose wake-up is due.

    Each job's idempotency key names the agent and the due time, so a second scheduler (or a
    retry of this transaction) adds nothing. An agent whose heartbeats were missed (the
    scheduler was down) wakes once, not once per missed interval.
    """
    rows = session.execute(
        select(
            AgentRow.agent_id,
            AgentRow.tenant_id,
            AgentRow.next_heartbeat_at,
            AgentRow.heartbeat_interval_seconds,
        )
        .where(AgentRow.next_heartbeat_at <= now)
        .order_by(AgentRow.next_heartbeat_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(all_tenants=True)
    ).all()
    for agent_id, tenant_id, due_at, interval in rows:
        enqueue(
            session,
            HEARTBEAT_JOB,
            {"agent_id": str(agent_id)},
            idempotency_key=f"heartbeat:{agent_id}:{due_at.isoformat()}",
            tenant_id=tenant_id,
        )
        session.execute(
            update(AgentRow)
            .where(AgentRow.agent_id == agent_id)
            .values(next_heartbeat_at=now + timedelta(seconds=interval))
            .execution_options(all_tenants=True)
        )
    return len(rows)
