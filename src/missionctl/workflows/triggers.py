"""Triggers: what starts runs besides a person — cron schedules, signed webhooks, domain events.

- *cron*: an engine schedule (time zone, misfire policy) enqueues `workflow.start` for the
  trigger at each firing, with an idempotency key per firing, so a slot fires once across
  scheduler restarts and replicas.
- *webhook*: `POST /api/v1/hooks/workflows/{trigger_id}` with `X-MissionControl-Signature:
  sha256=<HMAC-SHA256 of the body under the trigger's secret>` and `X-MissionControl-Delivery`;
  a delivery id already seen starts nothing and answers with the first delivery's run.
- *event*: events of the trigger's type (a `*` suffix matches a prefix) whose `filter` holds
  enqueue `workflow.start` in the unit of work that records them (idempotent per event).
- *manual*: fired through the API or CLI.

The overlap policy is applied when a trigger fires: `skip` starts nothing while a run it started
is active, `queue` queues the run and starts it when the active one ends, `allow` starts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from missionctl.audit.service import record_audit
from missionctl.common import Actor
from missionctl.engine import schedules
from missionctl.engine.registry import JobRegistry
from missionctl.engine.schemas import ScheduleCreate
from missionctl.engine.service import enqueue
from missionctl.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from missionctl.events.models import EventRow
from missionctl.events.schemas import Event
from missionctl.events.service import EVENT_TENANTS, on_commit_events, record_event
from missionctl.sealing import Sealer
from missionctl.workflows import expressions
from missionctl.workflows.expressions import ExpressionError
from missionctl.workflows.models import (
    WorkflowDeliveryRow,
    WorkflowRow,
    WorkflowRunRow,
    WorkflowTriggerRow,
)
from missionctl.workflows.runs import start_run
from missionctl.workflows.schemas import (
    ACTIVE_RUN_STATUSES,
    OverlapPolicy,
    RunCreate,
    Trigger,
    TriggerCreate,
    TriggerKind,
    WebhookAccepted,
    WorkflowRun,
)

START_JOB = "workflow.start"
SIGNATURE_HEADER = "X-MissionControl-Signature"
DELIVERY_HEADER = "X-MissionControl-Delivery"
SYSTEM = Actor.system()


def _seal_context(trigger_id: uuid.UUID) -> str:
    return f"workflow-trigger:{trigger_id}"


def _row(
    session: Session, trigger_id: uuid.UUID, *, for_update: bool = False
) -> WorkflowTriggerRow:
    query = select(WorkflowTriggerRow).where(WorkflowTriggerRow.trigger_id == trigger_id)
    if for_update:  # firings of one trigger take turns: its overlap check and count hold
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise NotFound("workflow trigger", trigger_id)
    return row


def _check(data: TriggerCreate) -> None:
    if data.kind is TriggerKind.CRON and not data.cron:
        raise InvalidInput("a cron trigger needs `cron`", field="cron")
    if data.kind is TriggerKind.EVENT and not data.event_type:
        raise InvalidInput("an event trigger needs `event_type`", field="event_type")
    if data.filter:
        try:
            expressions.parse(data.filter)
        except ExpressionError as exc:
            raise InvalidInput(f"filter: {exc}", field="filter") from None
    for where, source in expressions.templates_in(data.inputs, "inputs"):
        try:
            expressions.parse_template(source)
        except ExpressionError as exc:
            raise InvalidInput(f"{where}: {exc}", field=where) from None


def _trigger(session: Session, row: WorkflowTriggerRow, secret: str | None = None) -> Trigger:
    workflow = session.get_one(WorkflowRow, row.workflow_id)
    schedule = None
    if row.schedule_id is not None:
        try:
            schedule = schedules.get_schedule(session, row.schedule_id)
        except NotFound:
            schedule = None
    return Trigger(
        trigger_id=row.trigger_id,
        name=row.name,
        workflow=workflow.name,
        kind=TriggerKind(row.kind),
        is_enabled=row.is_enabled,
        inputs=row.inputs,
        version=row.version,
        overlap=OverlapPolicy(row.overlap),
        cron=schedule.cron if schedule else None,
        timezone=schedule.timezone if schedule else None,
        next_run_at=schedule.next_run_at if schedule else None,
        event_type=row.event_type,
        filter=row.event_filter,
        webhook_url=(
            f"/api/v1/hooks/workflows/{row.trigger_id}" if row.kind == TriggerKind.WEBHOOK else None
        ),
        secret=secret,
        fired=row.fired,
        last_fired_at=row.last_fired_at,
    )


def create_trigger(
    session: Session,
    workflow_name: str,
    data: TriggerCreate,
    *,
    actor: Actor,
    registry: JobRegistry,
    sealer: Sealer,
) -> Trigger:
    """Add a trigger to a workflow (a webhook's secret is in the answer, this once)."""
    _check(data)
    workflow = session.scalar(select(WorkflowRow).where(WorkflowRow.name == workflow_name))
    if workflow is None:
        raise NotFound("workflow", workflow_name)
    if session.scalar(select(WorkflowTriggerRow.name).where(WorkflowTriggerRow.name == data.name)):
        raise AlreadyExists(f"a trigger named {data.name!r} already exists", field="name")
    row = WorkflowTriggerRow(
        workflow_id=workflow.workflow_id,
        name=data.name,
        kind=data.kind.value,
        is_enabled=data.is_enabled,
        inputs=data.inputs,
        version=data.version,
        overlap=data.overlap.value,
        event_type=data.event_type if data.kind is TriggerKind.EVENT else None,
        event_filter=data.filter if data.kind is TriggerKind.EVENT else None,
        fired=0,
    )
    session.add(row)
    session.flush()
    secret = None
    if data.kind is TriggerKind.WEBHOOK:
        secret = secrets.token_urlsafe(32)
        row.secret_sealed = sealer.seal(secret, _seal_context(row.trigger_id))
    elif data.kind is TriggerKind.CRON:
        assert data.cron is not None
        schedule = schedules.create_schedule(
            session,
            ScheduleCreate(
                name=f"workflow-trigger:{data.name}"[:100],
                cron=data.cron,
                timezone=data.timezone,
                kind=START_JOB,
                payload={"trigger_id": str(row.trigger_id)},
                is_enabled=data.is_enabled,
                misfire_policy=data.misfire_policy,
                misfire_grace_seconds=data.misfire_grace_seconds,
            ),
            actor=actor,
            registry=registry,
        )
        row.schedule_id = schedule.schedule_id
    session.flush()
    record_audit(
        session,
        "workflow_trigger.created",
        actor=actor,
        subject_kind="workflow_trigger",
        subject_id=row.trigger_id,
        details={"workflow": workflow.name, "kind": row.kind, "name": row.name},
    )
    return _trigger(session, row, secret)


def list_triggers(session: Session, workflow_name: str | None = None) -> list[Trigger]:
    """Triggers, of one workflow or all."""
    query = select(WorkflowTriggerRow).order_by(WorkflowTriggerRow.name)
    if workflow_name is not None:
        workflow = session.scalar(select(WorkflowRow).where(WorkflowRow.name == workflow_name))
        if workflow is None:
            raise NotFound("workflow", workflow_name)
        query = query.where(WorkflowTriggerRow.workflow_id == workflow.workflow_id)
    return [_trigger(session, r) for r in session.scalars(query)]


def delete_trigger(session: Session, trigger_id: uuid.UUID, *, actor: Actor) -> None:
    """Remove a trigger (and its schedule)."""
    row = _row(session, trigger_id)
    if row.schedule_id is not None:
        with contextlib.suppress(NotFound):
            schedules.delete_schedule(session, row.schedule_id, actor=actor)
    record_audit(
        session,
        "workflow_trigger.deleted",
        actor=actor,
        subject_kind="workflow_trigger",
        subject_id=trigger_id,
        details={"name": row.name},
    )
    session.delete(row)
    session.flush()


def fire(
    session: Session, trigger_id: uuid.UUID, context: dict[str, Any], *, actor: Actor = SYSTEM
) -> WorkflowRun | None:
    """Start a run for the trigger (overlap policy applied); None when it was skipped."""
    row = _row(session, trigger_id, for_update=True)
    workflow = session.get_one(WorkflowRow, row.workflow_id)
    active = session.scalar(
        select(WorkflowRunRow.run_id)
        .where(
            WorkflowRunRow.trigger_id == trigger_id,
            WorkflowRunRow.status.in_([s.value for s in ACTIVE_RUN_STATUSES]),
        )
        .limit(1)
    )
    if active is not None and row.overlap == OverlapPolicy.SKIP:
        record_event(
            session,
            "workflow_trigger.skipped",
            actor=actor,
            subject_kind="workflow_trigger",
            subject_id=trigger_id,
            summary=f"Trigger {row.name!r} skipped: run {active} is still active",
            payload={"workflow": workflow.name, "active_run_id": str(active)},
        )
        return None
    try:
        inputs = expressions.render(row.inputs, {"trigger": context})
    except ExpressionError as exc:
        raise InvalidInput(f"trigger inputs: {exc}", field="inputs") from None
    run = start_run(
        session,
        workflow.name,
        RunCreate(inputs=inputs, version=row.version),
        actor=actor,
        trigger_kind=row.kind,
        trigger_id=trigger_id,
        wake=active is None or row.overlap == OverlapPolicy.ALLOW,
    )
    row.fired += 1
    row.last_fired_at = run.created_at
    session.flush()
    return run


def signature(secret: str, body: bytes) -> str:
    """The header value a webhook sender puts in `X-MissionControl-Signature`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def find_webhook_tenant(session: Session, trigger_id: uuid.UUID) -> uuid.UUID:
    """The tenant a webhook trigger belongs to (the hook URL carries no credentials)."""
    tenant = session.scalar(
        select(WorkflowTriggerRow.tenant_id)
        .where(
            WorkflowTriggerRow.trigger_id == trigger_id,
            WorkflowTriggerRow.kind == TriggerKind.WEBHOOK.value,
            WorkflowTriggerRow.is_enabled,
        )
        .execution_options(all_tenants=True)
    )
    if tenant is None:
        raise NotFound("webhook trigger", trigger_id)
    return tenant


def receive_webhook(
    session: Session,
    trigger_id: uuid.UUID,
    body: bytes,
    payload: Any,
    *,
    signature_header: str | None,
    delivery_id: str | None,
    sealer: Sealer,
) -> WebhookAccepted:
    """Check a delivery's signature; start a run unless its delivery id was seen before."""
    row = _row(session, trigger_id)
    if row.kind != TriggerKind.WEBHOOK or row.secret_sealed is None or not row.is_enabled:
        raise NotFound("webhook trigger", trigger_id)
    secret = sealer.open(row.secret_sealed, _seal_context(trigger_id))
    if not signature_header or not hmac.compare_digest(signature_header, signature(secret, body)):
        raise Unauthenticated(f"bad or missing {SIGNATURE_HEADER} (HMAC-SHA256 of the body)")
    if not delivery_id or len(delivery_id) > 200:
        raise InvalidInput(
            f"{DELIVERY_HEADER} is required (at most 200 characters)", field="delivery"
        )
    seen = session.get(WorkflowDeliveryRow, (trigger_id, delivery_id))
    if seen is not None:
        return WebhookAccepted(delivery_id=delivery_id, run_id=seen.run_id, is_replay=True)
    delivery = WorkflowDeliveryRow(trigger_id=trigger_id, delivery_id=delivery_id)
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
    except IntegrityError:  # the same delivery, at the same moment, through another replica
        first = session.get(WorkflowDeliveryRow, (trigger_id, delivery_id))
        return WebhookAccepted(
            delivery_id=delivery_id, run_id=first.run_id if first else None, is_replay=True
        )
    run = fire(session, trigger_id, {"body": payload, "delivery_id": delivery_id})
    delivery.run_id = run.run_id if run else None
    session.flush()
    return WebhookAccepted(delivery_id=delivery_id, run_id=delivery.run_id, is_replay=False)


def _matches(pattern: str, event: EventRow) -> bool:
    return any(
        kind.startswith(pattern[:-1]) if pattern.endswith("*") else pattern == kind
        for kind in _types_of(event)
    )


def _types_of(event: EventRow) -> list[str]:
    """The event's type, and for a task's status change also `task.<new status>` (`task.done`)."""
    if event.event_type == "task.status_changed" and event.payload.get("to"):
        return [event.event_type, f"task.{event.payload['to']}"]
    return [event.event_type]


@on_commit_events(
    interest=exists().where(
        WorkflowTriggerRow.tenant_id.in_(EVENT_TENANTS),
        WorkflowTriggerRow.kind == TriggerKind.EVENT.value,
        WorkflowTriggerRow.is_enabled,
    )
)
def enqueue_event_triggers(session: Session, events: Sequence[EventRow]) -> None:
    """Queue `workflow.start` for each event trigger an event matches (filter included)."""
    wanted = [e for e in events if not e.event_type.startswith("workflow_trigger.")]
    if not wanted:
        return
    tenants = {e.tenant_id for e in wanted}
    triggers = session.scalars(
        select(WorkflowTriggerRow)
        .where(
            WorkflowTriggerRow.tenant_id.in_(tenants),
            WorkflowTriggerRow.kind == TriggerKind.EVENT.value,
            WorkflowTriggerRow.is_enabled,
        )
        .execution_options(all_tenants=True)
    ).all()
    for trigger in triggers:
        assert trigger.event_type is not None
        for event in wanted:
            if event.tenant_id != trigger.tenant_id or not _matches(trigger.event_type, event):
                continue
            body = Event.model_validate(event).model_dump(mode="json")
            if trigger.event_filter:
                try:
                    if not expressions.parse(trigger.event_filter).evaluate(
                        {"trigger": {"event": body}}
                    ):
                        continue
                except ExpressionError:
                    continue
            enqueue(
                session,
                START_JOB,
                {"trigger_id": str(trigger.trigger_id), "event": body},
                tenant_id=trigger.tenant_id,
                idempotency_key=f"wf-event:{trigger.trigger_id}:{event.event_id}",
            )
