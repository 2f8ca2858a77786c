"""Cron schedules: their use cases, and firing them (the scheduler's part).

A firing enqueues one job whose idempotency key names the schedule and the firing time, in the
same transaction that moves the schedule's `next_run_at` on. A scheduler killed at any point
therefore either did both or neither, and a second scheduler (or a restart) that fires the same
time again adds nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from missionctl.audit.service import record_audit
from missionctl.common import Actor, Page, decode_uuid_cursor, split_page
from missionctl.db import utcnow
from missionctl.engine import cron
from missionctl.engine.models import ScheduleRow
from missionctl.engine.registry import JobRegistry
from missionctl.engine.schemas import (
    MisfirePolicy,
    Schedule,
    ScheduleCreate,
    ScheduleFilter,
    ScheduleUpdate,
)
from missionctl.engine.service import enqueue
from missionctl.errors import AlreadyExists, InvalidInput, NotFound
from missionctl.events.service import record_event

FIRE_BATCH = 100


def _row(session: Session, schedule_id: uuid.UUID) -> ScheduleRow:
    row = session.scalar(select(ScheduleRow).where(ScheduleRow.schedule_id == schedule_id))
    if row is None:
        raise NotFound("schedule", schedule_id)
    return row


def _check_timing(expression: str, timezone: str) -> None:
    try:
        cron.check(expression, timezone)
    except cron.CronError as exc:
        field = "timezone" if "time zone" in str(exc) else "cron"
        raise InvalidInput(str(exc), field=field) from None


def _check_job(registry: JobRegistry, kind_name: str, payload: dict[str, object]) -> None:
    kind = registry.get(kind_name)
    if kind is None or not kind.is_schedulable:
        schedulable = ", ".join(k.name for k in registry if k.is_schedulable) or "none"
        raise InvalidInput(
            f"{kind_name!r} is not a kind of job schedules may run; they may run: {schedulable}",
            field="kind",
        )
    if kind.payload_schema is not None:
        try:
            kind.payload_schema.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "payload"
            raise InvalidInput(
                f"payload does not fit {kind_name}: {where}: {first['msg']}", field="payload"
            ) from None


def _schedule_next(row: ScheduleRow) -> None:
    row.next_run_at = cron.next_after(row.cron, row.timezone, utcnow()) if row.is_enabled else None


def _record(session: Session, action: str, actor: Actor, row: ScheduleRow) -> None:
    details = {"name": row.name, "cron": row.cron, "kind": row.kind}
    record_audit(
        session,
        f"schedule.{action}",
        actor=actor,
        tenant_id=row.tenant_id,
        subject_kind="schedule",
        subject_id=row.schedule_id,
        details=details,
    )
    record_event(
        session,
        f"schedule.{action}",
        actor=actor,
        subject_kind="schedule",
        subject_id=row.schedule_id,
        summary=f"Schedule {row.name} {action} ({row.cron}, {row.timezone})",
        payload=details,
    )


def create_schedule(
    session: Session, data: ScheduleCreate, *, actor: Actor, registry: JobRegistry
) -> Schedule:
    """Create a schedule for a schedulable kind of job; its first firing is computed now."""
    _check_timing(data.cron, data.timezone)
    _check_job(registry, data.kind, data.payload)
    if session.scalar(select(ScheduleRow.schedule_id).where(ScheduleRow.name == data.name)):
        raise AlreadyExists(f"a schedule named {data.name!r} already exists", field="name")
    row = ScheduleRow(**data.model_dump())
    _schedule_next(row)
    session.add(row)
    session.flush()
    _record(session, "created", actor, row)
    return Schedule.model_validate(row)


def get_schedule(session: Session, schedule_id: uuid.UUID) -> Schedule:
    """The schedule, or `NotFound`."""
    return Schedule.model_validate(_row(session, schedule_id))


def list_schedules(session: Session, schedule_filter: ScheduleFilter) -> Page[Schedule]:
    """A page of schedules, oldest first."""
    query = select(ScheduleRow)
    if schedule_filter.cursor:
        query = query.where(ScheduleRow.schedule_id > decode_uuid_cursor(schedule_filter.cursor))
    rows = session.scalars(
        query.order_by(ScheduleRow.schedule_id).limit(schedule_filter.limit + 1)
    ).all()
    page, next_cursor = split_page(rows, schedule_filter.limit, lambda row: row.schedule_id)
    return Page[Schedule](
        items=[Schedule.model_validate(row) for row in page], next_cursor=next_cursor
    )


def update_schedule(
    session: Session,
    schedule_id: uuid.UUID,
    data: ScheduleUpdate,
    *,
    actor: Actor,
    registry: JobRegistry,
) -> Schedule:
    """Change a schedule; a new timing or re-enabling computes its next firing from now."""
    row = _row(session, schedule_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    _check_timing(changes.get("cron", row.cron), changes.get("timezone", row.timezone))
    if "payload" in changes:
        _check_job(registry, row.kind, changes["payload"])
    retime = {"cron", "timezone", "is_enabled"} & {
        k for k, v in changes.items() if getattr(row, k) != v
    }
    for key, value in changes.items():
        setattr(row, key, value.value if isinstance(value, MisfirePolicy) else value)
    if retime:
        _schedule_next(row)
    session.flush()
    _record(session, "updated", actor, row)
    return Schedule.model_validate(row)


def delete_schedule(session: Session, schedule_id: uuid.UUID, *, actor: Actor) -> None:
    """Remove a schedule (the jobs it already enqueued stay)."""
    row = _row(session, schedule_id)
    _record(session, "deleted", actor, row)
    session.delete(row)
    session.flush()


def run_schedule_now(session: Session, schedule_id: uuid.UUID, *, actor: Actor) -> uuid.UUID:
    """Enqueue the schedule's job once now, outside its timing; the job's id."""
    row = _row(session, schedule_id)
    now = utcnow()
    record_event(
        session,
        "schedule.run_now",
        actor=actor,
        subject_kind="schedule",
        subject_id=row.schedule_id,
        summary=f"Schedule {row.name} run by hand",
        payload={"name": row.name, "kind": row.kind},
    )
    return enqueue(
        session,
        row.kind,
        row.payload,
        priority=row.priority,
        schedule_id=row.schedule_id,
        scheduled_for=now,
    )


def firing_key(schedule_id: uuid.UUID, fire_at: datetime) -> str:
    """The idempotency key of one firing of a schedule."""
    return f"schedule:{schedule_id}:{fire_at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


def next_due_at(session: Session) -> datetime | None:
    """When the soonest enabled schedule of any tenant fires next."""
    return session.scalar(
        select(func.min(ScheduleRow.next_run_at))
        .where(ScheduleRow.is_enabled)
        .execution_options(all_tenants=True)
    )


def fire_due(session: Session, now: datetime, limit: int = FIRE_BATCH) -> int:
    """Enqueue every due firing of every tenant's schedules; the number of jobs enqueued."""
    rows = session.scalars(
        select(ScheduleRow)
        .where(ScheduleRow.is_enabled, ScheduleRow.next_run_at <= now)
        .order_by(ScheduleRow.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(all_tenants=True)
    ).all()
    fired = 0
    for row in rows:
        assert row.next_run_at is not None
        due = cron.due(
            row.cron,
            row.timezone,
            row.next_run_at,
            now,
            grace_seconds=row.misfire_grace_seconds,
            policy=MisfirePolicy(row.misfire_policy),
        )
        for fire_at in due.fire_times:
            enqueue(
                session,
                row.kind,
                row.payload,
                priority=row.priority,
                idempotency_key=firing_key(row.schedule_id, fire_at),
                tenant_id=row.tenant_id,
                schedule_id=row.schedule_id,
                scheduled_for=fire_at,
            )
            fired += 1
        row.next_run_at = due.next_run_at
        if due.fire_times:
            row.last_run_at = due.fire_times[-1]
    session.flush()
    return fired
