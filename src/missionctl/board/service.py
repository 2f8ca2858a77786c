"""Task use cases: the board."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Executable
from sqlalchemy.types import NullType

from missionctl.agents.service import require_agents
from missionctl.board.models import TaskAssigneeRow, TaskDependencyRow, TaskRow
from missionctl.board.schemas import (
    Task,
    TaskAssign,
    TaskCreate,
    TaskFilter,
    TaskStatusChange,
    TaskUpdate,
)
from missionctl.board.transitions import (
    ALL_FACTS,
    BOARD_COLUMNS,
    GRAPH,
    TaskFacts,
    TaskStatus,
    check_transition,
    facts_needed,
    guard_failure,
)
from missionctl.common import Actor, ActorKind, Page, Quotas, decode_uuid_cursor, split_page
from missionctl.db import IdRef, UnitMemo, core_execute, new_id, utcnow
from missionctl.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from missionctl.events.service import record_event

# What a Task is read from (as raw columns, below): no ORM objects on the board's hot path.
TASK_COLUMNS = (
    TaskRow.task_id,
    TaskRow.title,
    TaskRow.description,
    TaskRow.status,
    TaskRow.status_reason,
    TaskRow.priority,
    TaskRow.is_goal,
    TaskRow.parent_task_id,
    TaskRow.created_by_kind,
    TaskRow.created_by_agent_id,
    TaskRow.created_by_user_id,
    TaskRow.due_at,
    TaskRow.completed_at,
    TaskRow.created_at,
    TaskRow.updated_at,
)
OPEN_STATUSES = (TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.REVIEW)
Dependency = aliased(TaskRow, name="dependency")
Subtask = aliased(TaskRow, name="subtask")


def _row(session: Session, task_id: uuid.UUID, *, for_update: bool = False) -> TaskRow:
    """The task's row; `for_update` locks it (PostgreSQL) so read-modify-write cannot race.

    SQLite needs no row lock: writing transactions already hold the database's write lock.
    """
    query = _ROW_FOR_UPDATE if for_update else _ROW
    row = session.scalar(query, {"task_id": task_id})
    if row is None:
        raise NotFound("task", task_id)
    return row


_ROW = select(TaskRow).where(TaskRow.task_id == bindparam("task_id"))  # built once: hot
_ROW_FOR_UPDATE = _ROW.with_for_update()
TASK_KEYS = tuple(column.key for column in TASK_COLUMNS)
TASK_LIST = TypeAdapter(list[Task])
# Reads of tasks take the driver's own values (hex strings and text timestamps on SQLite, UUIDs
# and datetimes on PostgreSQL) and let pydantic's Rust core parse a whole page in one call:
# SQLAlchemy's per-value Python converters were most of a list request's time.
RAW = NullType()
RAW_TASK_COLUMNS = tuple(type_coerce(column, RAW).label(column.key) for column in TASK_COLUMNS)
_assignees = TaskAssigneeRow.__table__.c
_dependencies = TaskDependencyRow.__table__.c
_raw_task_ids = bindparam("task_ids", expanding=True, type_=RAW)
# Children of tasks already scoped to the tenant: plain Core on the session's connection, which
# also skips the ORM's per-row bookkeeping.
# Both kinds of children of a page of tasks in one statement: assignees (`kind` 0, in the order
# they were assigned) and dependencies (`kind` 1, by id).
CHILDREN_OF = union_all(
    select(
        type_coerce(_assignees.task_id, RAW).label("task_id"),
        type_coerce(_assignees.agent_id, RAW).label("other_id"),
        literal(0).label("kind"),
        _assignees.assigned_at.label("at"),
    ).where(type_coerce(_assignees.task_id, RAW).in_(_raw_task_ids)),
    select(
        type_coerce(_dependencies.task_id, RAW),
        type_coerce(_dependencies.depends_on_task_id, RAW),
        literal(1),
        null(),
    ).where(type_coerce(_dependencies.task_id, RAW).in_(_raw_task_ids)),
).order_by("kind", "at", "other_id")


def _assemble(session: Session, rows: Sequence[Row[Any]] | Sequence[Any]) -> list[Task]:
    """Tasks (raw rows of RAW_TASK_COLUMNS) with their assignees and dependencies.

    One query for the children and one validation for the whole page.
    """
    if not rows:
        return []
    task_ids = {"task_ids": [row.task_id for row in rows]}
    children: tuple[dict[Any, list[Any]], dict[Any, list[Any]]] = (
        defaultdict(list),  # assignees
        defaultdict(list),  # dependencies
    )
    for task_id, other_id, kind, _at in session.connection().execute(CHILDREN_OF, task_ids):
        children[kind][task_id].append(other_id)
    assignees, depends_on = children
    fields = []
    for row in rows:
        item = row._asdict()
        item["assignee_ids"] = assignees[row.task_id]
        item["depends_on"] = depends_on[row.task_id]
        fields.append(item)
    return TASK_LIST.validate_python(fields)


def get_task(session: Session, task_id: uuid.UUID) -> Task:
    """The task, or `NotFound` (read once per unit of work until it changes: `_TASKS`)."""
    session.flush()  # raw reads bypass the identity map: write pending changes first
    memo = _TASKS.of(session)
    task: Task | None = memo.get(task_id)
    if task is None:
        tenant_id = session.info.get("tenant_id")  # None: a session for every tenant
        query = _TASK_BY_ID if tenant_id is not None else _TASK_BY_ID_ANY_TENANT
        params = {"task_id": task_id, "tenant_id": tenant_id}
        row = session.connection().execute(query, params).first()
        if row is None:
            raise NotFound("task", task_id)
        task = memo[task_id] = _assemble(session, [row])[0]
    return task


# The hottest read of all (a turn reads its tasks tens of times): a plain Core statement built
# once, scoped to the tenant by hand, skips the ORM's per-statement work (half its cost).
_TASK_BY_ID_ANY_TENANT = select(*RAW_TASK_COLUMNS).where(TaskRow.task_id == bindparam("task_id"))
_TASK_BY_ID = _TASK_BY_ID_ANY_TENANT.where(TaskRow.tenant_id == bindparam("tenant_id"))


# A turn's use cases and the event handlers they set off read the same few tasks many times in
# one unit of work; a write to a task in the session drops what was read of it.
_TASKS = UnitMemo("tasks", TaskRow, TaskAssigneeRow, TaskDependencyRow, by="task_id")


def list_tasks(session: Session, task_filter: TaskFilter) -> Page[Task]:
    """A page of tasks, newest first, filtered by status, assignee, priority and text."""
    query = select(*RAW_TASK_COLUMNS)
    if task_filter.status is not None:
        query = query.where(TaskRow.status == task_filter.status.value)
    if task_filter.priority is not None:
        query = query.where(TaskRow.priority == task_filter.priority.value)
    if task_filter.is_goal is not None:
        query = query.where(TaskRow.is_goal == task_filter.is_goal)
    if task_filter.parent_task_id is not None:
        query = query.where(TaskRow.parent_task_id == task_filter.parent_task_id)
    if task_filter.assignee_id is not None:
        query = query.where(
            exists().where(
                TaskAssigneeRow.task_id == TaskRow.task_id,
                TaskAssigneeRow.agent_id == task_filter.assignee_id,
            )
        )
    if task_filter.text:
        query = query.where(
            or_(
                TaskRow.title.icontains(task_filter.text, autoescape=True),
                TaskRow.description.icontains(task_filter.text, autoescape=True),
            )
        )
    if task_filter.cursor:
        query = query.where(TaskRow.task_id < decode_uuid_cursor(task_filter.cursor))
    rows = session.execute(query.order_by(TaskRow.task_id.desc()).limit(task_filter.limit + 1))
    # Raw ids: a UUID on PostgreSQL, 32 hex digits on SQLite.
    page, next_cursor = split_page(
        rows.all(), task_filter.limit, lambda row: uuid.UUID(str(row.task_id))
    )
    return Page[Task](items=_assemble(session, page), next_cursor=next_cursor)


def board_columns(session: Session, limit: int) -> dict[TaskStatus, list[Task]]:
    """The newest `limit` tasks of each board column (as `list_tasks` by status would give
    them), in one query: one LIMITed index scan per column, joined with UNION ALL."""
    found: dict[TaskStatus, list[Task]] = {status: [] for status in BOARD_COLUMNS}
    for task in read_tasks(session, _BOARD_COLUMNS, {"limit": limit}):
        found[task.status].append(task)
    for tasks in found.values():
        tasks.sort(key=lambda task: task.task_id, reverse=True)  # a union keeps no order
    return found


def count_by_status(session: Session) -> dict[TaskStatus, int]:
    """How many tasks sit in each board column."""
    counts = dict.fromkeys(TaskStatus, 0)
    for status, count in core_execute(session, _COUNT_BY_STATUS):
        counts[TaskStatus(status)] = count
    return counts


# WORKING.md reads both for every plan: built once (building them cost more than running them)
# and run as Core, scoped to the tenant by hand.
_BOARD_COLUMNS = union_all(
    *(
        select(
            *select(*RAW_TASK_COLUMNS)
            .where(TaskRow.tenant_id == bindparam("tenant_id"), TaskRow.status == status.value)
            .order_by(TaskRow.task_id.desc())
            .limit(bindparam("limit"))
            .subquery()
            .c
        )
        for status in BOARD_COLUMNS
    )
)
_COUNT_BY_STATUS = (
    select(TaskRow.status, func.count())
    .where(TaskRow.tenant_id == bindparam("tenant_id"))
    .group_by(TaskRow.status)
)


def open_tasks_for_agent(session: Session, agent_id: uuid.UUID, limit: int = 50) -> list[Task]:
    """The agent's assigned, in-progress and in-review tasks, most urgent first."""
    rows = session.execute(
        select(*RAW_TASK_COLUMNS)
        .join(TaskAssigneeRow, TaskAssigneeRow.task_id == TaskRow.task_id)
        .where(TaskAssigneeRow.agent_id == agent_id)
        .where(TaskRow.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(TaskRow.task_id)
        .limit(limit)
    ).all()
    return sorted(_assemble(session, rows), key=lambda task: _URGENCY[task.priority.value])


def read_tasks(session: Session, statement: Executable, params: dict[str, Any]) -> list[Task]:
    """The tasks a prebuilt Core statement of `RAW_TASK_COLUMNS` selects (the statement scopes
    itself to the tenant: `tenant_id` is set in `params` here)."""
    return _assemble(session, core_execute(session, statement, params).all())


def ready_first(where: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """A statement for `read_tasks`: the most urgent task of the tenant (`tenant_id`) matching
    `where`, oldest first among the equally urgent."""
    return (
        select(*RAW_TASK_COLUMNS)
        .where(TaskRow.tenant_id == bindparam("tenant_id"), where)
        .order_by(case(_URGENCY, value=TaskRow.priority, else_=len(_URGENCY)), TaskRow.task_id)
        .limit(1)
    )


_URGENCY = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


def ready_for(agent_id: IdRef, tenant_id: IdRef | None = None) -> ColumnElement[bool]:
    """Where-clause on tasks: assigned to the agent, to start or going on, with every
    dependency done (a goal only while it has no subtasks: until it is planned). Core
    statements name the `tenant_id` (the session does not add it for them): the tenant's
    open tasks are found by index, not by a scan of every task."""
    pending_dependency = (
        select(TaskDependencyRow.task_id)
        .join(Dependency, Dependency.task_id == TaskDependencyRow.depends_on_task_id)
        .where(TaskDependencyRow.task_id == TaskRow.task_id)
        .where(Dependency.status != TaskStatus.DONE.value)
    )
    return and_(
        *([TaskRow.tenant_id == tenant_id] if tenant_id is not None else []),
        TaskRow.status.in_([TaskStatus.ASSIGNED.value, TaskStatus.IN_PROGRESS.value]),
        exists().where(
            TaskAssigneeRow.task_id == TaskRow.task_id, TaskAssigneeRow.agent_id == agent_id
        ),
        ~pending_dependency.exists(),
        or_(TaskRow.is_goal.is_(False), ~exists().where(Subtask.parent_task_id == TaskRow.task_id)),
    )


def unassigned_in_inbox(tenant_id: IdRef | None = None) -> ColumnElement[bool]:
    """Where-clause on tasks: in the inbox with nobody assigned (of `tenant_id`, for Core
    statements, which the session does not scope)."""
    clause = and_(
        TaskRow.status == TaskStatus.INBOX.value,
        ~exists().where(TaskAssigneeRow.task_id == TaskRow.task_id),
    )
    return clause if tenant_id is None else and_(clause, TaskRow.tenant_id == tenant_id)


# The task a where-clause of this module is about, for clauses of higher domains to refer to.
THE_TASK_ID = TaskRow.task_id
THE_TASK_IS_GOAL = TaskRow.is_goal.is_(True)


def open_task_counts(session: Session) -> dict[uuid.UUID, int]:
    """How many open (assigned, in progress, in review) tasks each agent holds."""
    rows = core_execute(session, _OPEN_COUNTS)
    return {uuid.UUID(str(agent_id)): int(count) for agent_id, count in rows}


# Every assignment and review request weighs the load: built once, scoped by hand.
_OPEN_COUNTS = (
    select(TaskAssigneeRow.agent_id, func.count())
    .join(TaskRow, TaskRow.task_id == TaskAssigneeRow.task_id)
    .where(
        TaskRow.tenant_id == bindparam("tenant_id"),
        TaskRow.status.in_([s.value for s in OPEN_STATUSES]),
    )
    .group_by(TaskAssigneeRow.agent_id)
)


def unassigned_inbox_tasks(session: Session, *, goals: bool, limit: int = 200) -> list[Task]:
    """The goals (or the other tasks) in the inbox with nobody assigned, oldest first."""
    return read_tasks(session, _UNASSIGNED_INBOX, {"goals": goals, "limit": limit})


def has_unassigned_inbox(session: Session) -> bool:
    """Whether any task or goal waits in the inbox with nobody assigned."""
    return bool(core_execute(session, _ANY_UNASSIGNED_INBOX).scalar())


# An orchestrator's every turn asks both: built once, run as Core, scoped to the tenant by hand.
_UNASSIGNED_INBOX = (
    select(*RAW_TASK_COLUMNS)
    .where(unassigned_in_inbox(bindparam("tenant_id")), TaskRow.is_goal == bindparam("goals"))
    .order_by(TaskRow.task_id)
    .limit(bindparam("limit"))
)
_ANY_UNASSIGNED_INBOX = select(exists().where(unassigned_in_inbox(bindparam("tenant_id"))))


def dependents_of(session: Session, task_id: uuid.UUID) -> list[Task]:
    """The tasks that wait for `task_id` to be done."""
    return read_tasks(session, _DEPENDENTS, {"task_id": task_id})


def subtasks_of(session: Session, task_id: uuid.UUID) -> list[Task]:
    """A task's subtasks, oldest first."""
    return read_tasks(session, _SUBTASKS, {"task_id": task_id})


# Every task done asks both (who waited for it, and is its goal complete).
_DEPENDENTS = (
    select(*RAW_TASK_COLUMNS)
    .join(TaskDependencyRow, TaskDependencyRow.task_id == TaskRow.task_id)
    .where(
        TaskDependencyRow.depends_on_task_id == bindparam("task_id"),
        TaskRow.tenant_id == bindparam("tenant_id"),
    )
    .order_by(TaskRow.task_id)
)
_SUBTASKS = (
    select(*RAW_TASK_COLUMNS)
    .where(
        TaskRow.parent_task_id == bindparam("task_id"), TaskRow.tenant_id == bindparam("tenant_id")
    )
    .order_by(TaskRow.task_id)
)


def tasks_by_id(session: Session, task_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Task]:
    """The tasks among `task_ids` that exist."""
    wanted = list(dict.fromkeys(task_ids))
    if not wanted:
        return {}
    rows = session.execute(select(*RAW_TASK_COLUMNS).where(TaskRow.task_id.in_(wanted))).all()
    return {task.task_id: task for task in _assemble(session, rows)}


def _acting(session: Session, actor: Actor, agent_id: uuid.UUID | None) -> Actor:
    """The actor of a change: the agent named in the request, if any, else the caller."""
    if agent_id is None:
        return actor
    require_agents(session, [agent_id])
    return Actor.agent(agent_id)


def _missing_tasks(session: Session, task_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `task_ids` that are not tasks of the session's tenant."""
    if not task_ids:
        return set()
    session.flush()
    tenant_id = session.info.get("tenant_id")  # None: a session for every tenant
    query = _TASK_IDS if tenant_id is not None else _TASK_IDS_ANY_TENANT
    found = session.connection().execute(query, {"ids": task_ids, "tenant_id": tenant_id})
    return set(task_ids) - {uuid.UUID(str(task_id)) for (task_id,) in found}


_TASK_IDS_ANY_TENANT = select(type_coerce(TaskRow.task_id, RAW)).where(
    TaskRow.task_id.in_(bindparam("ids", expanding=True))
)
_TASK_IDS = _TASK_IDS_ANY_TENANT.where(TaskRow.tenant_id == bindparam("tenant_id"))


def _require_tasks(session: Session, task_ids: Iterable[uuid.UUID], field: str) -> None:
    missing = sorted(str(task_id) for task_id in _missing_tasks(session, list(set(task_ids))))
    if missing:
        raise InvalidInput(f"unknown task(s): {', '.join(missing)}", field=field)


def _check_parent(session: Session, task_id: uuid.UUID, parent_id: uuid.UUID) -> None:
    """The parent exists and does not descend from the task (no loops in the tree)."""
    if not session.scalar(select(exists().where(TaskRow.task_id == parent_id))):
        raise InvalidInput(f"unknown parent task {parent_id}", field="parent_task_id")
    current: uuid.UUID | None = parent_id
    seen: set[uuid.UUID] = set()
    while current is not None and current not in seen:
        if current == task_id:
            raise InvalidInput("a task cannot be its own ancestor", field="parent_task_id")
        seen.add(current)
        current = session.scalar(select(TaskRow.parent_task_id).where(TaskRow.task_id == current))


def _check_dependencies(session: Session, task_id: uuid.UUID, depends_on: list[uuid.UUID]) -> None:
    """Dependencies exist and keep the dependency graph acyclic."""
    if task_id in depends_on:
        raise InvalidInput("a task cannot depend on itself", field="depends_on")
    _require_tasks(session, depends_on, "depends_on")
    frontier, seen = set(depends_on), set(depends_on)
    while frontier:
        step = set(
            session.scalars(
                select(TaskDependencyRow.depends_on_task_id).where(
                    TaskDependencyRow.task_id.in_(frontier)
                )
            )
        )
        if task_id in step:
            raise InvalidInput("these dependencies would form a cycle", field="depends_on")
        frontier = step - seen
        seen |= step


def _check_daily_tasks(session: Session, quotas: Quotas) -> None:
    if quotas.tasks_per_day is None:
        return
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    today = session.scalar(
        select(func.count()).select_from(TaskRow).where(TaskRow.created_at >= midnight)
    )
    if (today or 0) >= quotas.tasks_per_day:
        raise QuotaExceeded(
            f"the tenant created {today} tasks today, its daily quota", quota="tasks_per_day"
        )


def create_task(
    session: Session, data: TaskCreate, *, actor: Actor, quotas: Quotas | None = None
) -> Task:
    """Create a task (or goal); with assignees it starts `assigned`, else in the inbox."""
    return get_task(session, add_task(session, data, actor=actor, quotas=quotas))


def add_task(
    session: Session, data: TaskCreate, *, actor: Actor, quotas: Quotas | None = None
) -> uuid.UUID:
    """`create_task` for a caller that needs only the new task's id (no read back)."""
    if quotas is not None:
        _check_daily_tasks(session, quotas)
    actor = _acting(session, actor, data.created_by_agent_id)
    if data.is_goal and data.parent_task_id is not None:
        raise InvalidInput("a goal is a top-level task and cannot have a parent", field="is_goal")
    assignees = require_agents(session, data.assignee_ids)
    depends_on = list(dict.fromkeys(data.depends_on))
    parent = [data.parent_task_id] if data.parent_task_id is not None else []
    # One read for both. A new task cannot be its parent's ancestor: nothing descends from it.
    missing = _missing_tasks(session, [*depends_on, *parent])
    if missing - set(parent):
        unknown = ", ".join(sorted(str(task_id) for task_id in missing - set(parent)))
        raise InvalidInput(f"unknown task(s): {unknown}", field="depends_on")
    if missing:
        raise InvalidInput(f"unknown parent task {data.parent_task_id}", field="parent_task_id")
    row = TaskRow(
        task_id=new_id(),
        title=data.title,
        description=data.description,
        priority=data.priority.value,
        is_goal=data.is_goal,
        status=(TaskStatus.ASSIGNED if assignees else TaskStatus.INBOX).value,
        created_by_kind=actor.kind.value,
        created_by_agent_id=actor.agent_id if actor.kind is ActorKind.AGENT else None,
        created_by_user_id=actor.user_id,
        due_at=data.due_at,
        parent_task_id=data.parent_task_id,
    )
    session.add(row)
    session.flush()
    # Its children as Core inserts: rows of a task nothing has read yet (no memo to drop).
    if depends_on:
        session.connection().execute(
            insert(TaskDependencyRow),
            [
                {"task_id": row.task_id, "depends_on_task_id": dep, "tenant_id": row.tenant_id}
                for dep in depends_on
            ],
        )
    if assignees:
        session.connection().execute(
            insert(TaskAssigneeRow),
            [
                {"task_id": row.task_id, "agent_id": a.agent_id, "tenant_id": row.tenant_id}
                for a in assignees
            ],
        )
    kind = "goal" if row.is_goal else "task"
    record_event(
        session,
        "task.created",
        actor=actor,
        subject_kind="task",
        subject_id=row.task_id,
        task_id=row.task_id,
        agent_id=actor.agent_id,
        summary=f"New {kind}: {row.title}",
        payload={
            "title": row.title,
            "priority": row.priority,
            "is_goal": row.is_goal,
            "parent_task_id": str(row.parent_task_id) if row.parent_task_id else None,
        },
    )
    if assignees:
        _record_assignment(session, row, actor, [a.agent_id for a in assignees], [])
    return row.task_id


def _record_assignment(
    session: Session,
    row: TaskRow,
    actor: Actor,
    added: list[uuid.UUID],
    removed: list[uuid.UUID],
) -> None:
    record_event(
        session,
        "task.assigned",
        actor=actor,
        subject_kind="task",
        subject_id=row.task_id,
        task_id=row.task_id,
        agent_id=added[0] if added else None,
        summary=f"Assignees of {row.title!r} changed",
        payload={
            "title": row.title,
            "added": [str(a) for a in added],
            "removed": [str(r) for r in removed],
        },
    )


# The guards' facts, as plain Core statements built once (a status change asks one or two of
# them). They name a task the caller already read in its tenant, and its children: task ids are
# unique across tenants, so no tenant filter is needed.
_FACT_TASK = bindparam("task_id", type_=TaskRow.task_id.type)
_FACT_STATEMENTS = {
    "has_assignees": select(exists().where(TaskAssigneeRow.task_id == _FACT_TASK)),
    "open_dependency": select(
        exists()
        .where(TaskDependencyRow.task_id == _FACT_TASK)
        .where(TaskDependencyRow.depends_on_task_id == TaskRow.task_id)
        .where(TaskRow.status != TaskStatus.DONE.value)
    ),
    "open_subtask": select(
        exists()
        .where(TaskRow.parent_task_id == _FACT_TASK)
        .where(TaskRow.status != TaskStatus.DONE.value)
    ),
}


def _fact(session: Session, name: str, task_id: uuid.UUID) -> bool:
    session.flush()  # a Core read bypasses the identity map: write pending changes first
    found = session.connection().execute(_FACT_STATEMENTS[name], {"task_id": task_id})
    return bool(found.scalar())


def _facts(session: Session, row: TaskRow, needed: frozenset[str] = ALL_FACTS) -> TaskFacts:
    """What the guards know of the task; only the `needed` facts are looked up."""
    task_id = row.task_id
    has_assignees = "has_assignees" in needed and _fact(session, "has_assignees", task_id)
    open_dependency = "dependencies_done" in needed and _fact(session, "open_dependency", task_id)
    open_subtask = "subtasks_done" in needed and _fact(session, "open_subtask", task_id)
    return TaskFacts(
        has_assignees=bool(has_assignees),
        dependencies_done=not open_dependency,
        subtasks_done=not open_subtask,
    )


def _set_status(
    session: Session, row: TaskRow, target: TaskStatus, actor: Actor, reason: str | None
) -> None:
    previous = TaskStatus(row.status)
    if previous is not target:
        facts = _facts(session, row, facts_needed(target))
        if guard_failure(target, facts) is not None or target not in GRAPH[previous]:
            facts = _facts(session, row)  # all of them: the error lists the allowed moves
        check_transition(previous, target, facts)
    elif reason == row.status_reason:
        return
    row.status = target.value
    row.status_reason = reason
    row.completed_at = utcnow() if target is TaskStatus.DONE else None
    session.flush()
    record_event(
        session,
        "task.status_changed",
        actor=actor,
        subject_kind="task",
        subject_id=row.task_id,
        task_id=row.task_id,
        agent_id=actor.agent_id,
        summary=f"{row.title!r} moved from {previous} to {target}",
        payload={"title": row.title, "from": previous.value, "to": target.value, "reason": reason},
    )


def change_status(
    session: Session, task_id: uuid.UUID, data: TaskStatusChange, *, actor: Actor
) -> Task:
    """Move a task along the state machine; illegal moves raise `InvalidTransition`."""
    actor = _acting(session, actor, data.by_agent_id)
    row = _row(session, task_id, for_update=True)
    _set_status(session, row, data.status, actor, data.reason)
    return get_task(session, task_id)


def assign_task(session: Session, task_id: uuid.UUID, data: TaskAssign, *, actor: Actor) -> Task:
    """Replace a task's assignees; an inbox task becomes assigned, an emptied one returns."""
    return _assign(session, _row(session, task_id, for_update=True), data, actor)


def _assign(session: Session, row: TaskRow, data: TaskAssign, actor: Actor) -> Task:
    task_id = row.task_id
    actor = _acting(session, actor, data.by_agent_id)
    wanted = [a.agent_id for a in require_agents(session, data.agent_ids)]
    current = list(
        session.scalars(select(TaskAssigneeRow.agent_id).where(TaskAssigneeRow.task_id == task_id))
    )
    added = [a for a in wanted if a not in current]
    removed = [a for a in current if a not in wanted]
    status = TaskStatus(row.status)
    if not wanted and status in (TaskStatus.IN_PROGRESS, TaskStatus.REVIEW):
        raise Conflict(
            f"a task in {status} needs an assignee; move it back first", current=status.value
        )
    if removed:
        session.execute(
            delete(TaskAssigneeRow).where(
                TaskAssigneeRow.task_id == task_id, TaskAssigneeRow.agent_id.in_(removed)
            )
        )
    session.add_all(TaskAssigneeRow(task_id=task_id, agent_id=agent_id) for agent_id in added)
    session.flush()
    if added or removed:
        _record_assignment(session, row, actor, added, removed)
    if wanted and status is TaskStatus.INBOX:
        _set_status(session, row, TaskStatus.ASSIGNED, actor, None)
    elif not wanted and status is TaskStatus.ASSIGNED:
        _set_status(session, row, TaskStatus.INBOX, actor, None)
    return get_task(session, task_id)


def claim_task(
    session: Session, task_id: uuid.UUID, agent_id: uuid.UUID, *, by: uuid.UUID | None = None
) -> Task | None:
    """Assign an unassigned task to `agent_id` (by agent `by`, default itself); None if
    someone holds it by now.

    The task row is locked first, so two agents claiming at once cannot both win.
    """
    row = _row(session, task_id, for_update=True)
    taken = session.scalar(select(exists().where(TaskAssigneeRow.task_id == task_id)))
    if taken:
        return None
    by = by or agent_id
    return _assign(session, row, TaskAssign(agent_ids=[agent_id], by_agent_id=by), Actor.agent(by))


def update_task(session: Session, task_id: uuid.UUID, data: TaskUpdate, *, actor: Actor) -> Task:
    """Change a task's fields (not its status or assignees, which have their own routes)."""
    row = _row(session, task_id, for_update=True)
    changes = data.model_dump(exclude_unset=True)
    for required in ("title", "description", "priority", "is_goal"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null", field=required)
    changed: list[str] = []
    if "depends_on" in changes:
        depends_on = list(dict.fromkeys(changes.pop("depends_on") or []))
        _check_dependencies(session, task_id, depends_on)
        current = set(
            session.scalars(
                select(TaskDependencyRow.depends_on_task_id).where(
                    TaskDependencyRow.task_id == task_id
                )
            )
        )
        if current != set(depends_on):
            session.execute(delete(TaskDependencyRow).where(TaskDependencyRow.task_id == task_id))
            session.add_all(
                TaskDependencyRow(task_id=task_id, depends_on_task_id=dep) for dep in depends_on
            )
            changed.append("depends_on")
    if changes.get("parent_task_id") is not None:
        _check_parent(session, task_id, changes["parent_task_id"])
    is_goal = changes.get("is_goal", row.is_goal)
    parent = changes.get("parent_task_id", row.parent_task_id)
    if is_goal and parent is not None:
        raise InvalidInput("a goal is a top-level task and cannot have a parent", field="is_goal")
    for key, value in changes.items():
        stored = value.value if hasattr(value, "value") else value
        if getattr(row, key) != stored:
            setattr(row, key, stored)
            changed.append(key)
    if changed:
        row.updated_at = utcnow()
        session.flush()
        record_event(
            session,
            "task.updated",
            actor=actor,
            subject_kind="task",
            subject_id=task_id,
            task_id=task_id,
            summary=f"{row.title!r} updated: {', '.join(sorted(changed))}",
            payload={"title": row.title, "changed": sorted(changed)},
        )
    return get_task(session, task_id)


def delete_task(session: Session, task_id: uuid.UUID, *, actor: Actor) -> None:
    """Delete a task and its thread; refused while it has subtasks."""
    row = _row(session, task_id, for_update=True)
    subtasks = session.scalar(
        select(func.count()).select_from(TaskRow).where(TaskRow.parent_task_id == task_id)
    )
    if subtasks:
        raise Conflict(f"task has {subtasks} subtask(s); delete or move them first")
    title = row.title
    session.delete(row)
    session.flush()
    record_event(
        session,
        "task.deleted",
        actor=actor,
        subject_kind="task",
        subject_id=task_id,
        task_id=task_id,
        summary=f"Task {title!r} deleted",
        payload={"title": title},
    )
