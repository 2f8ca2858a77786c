"""Runs: start (inputs checked), read, list, approve, cancel, pause, resume; the dead letters.

A run is driven by `workflow.run` jobs, one at a time (`wake_run`): a wake-up while its runner
is working sets `wake_pending` and the runner goes round again, so none is lost. Everything here
changes the run and wakes it in the caller's unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from missionctl.audit.service import record_audit
from missionctl.board.service import get_task
from missionctl.common import Actor, Page, decode_uuid_cursor, split_page
from missionctl.db import utcnow
from missionctl.engine.service import enqueue, is_job_pending
from missionctl.errors import InvalidInput, InvalidTransition, NotFound
from missionctl.events.service import record_event
from missionctl.workflows.definition import Definition, InputSpec
from missionctl.workflows.graph import StepStatus
from missionctl.workflows.models import WorkflowRunRow, WorkflowStepRow, WorkflowTriggerRow
from missionctl.workflows.schemas import (
    ACTIVE_RUN_STATUSES,
    FINAL_RUN_STATUSES,
    ApprovalDecision,
    RunCreate,
    RunFilter,
    RunStatus,
    Step,
    WorkflowRun,
)
from missionctl.workflows.service import graph_of, version_for_run

_ACTIVE = ["queued", "running", "waiting", "paused"]
RUN_JOB = "workflow.run"
TIMER_JOB = "workflow.timer"
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def check_inputs(definition: Definition, given: dict[str, Any]) -> dict[str, Any]:
    """The run's inputs: defaults filled in, every one checked against its spec."""
    problems: list[dict[str, str]] = []
    for name in given:
        if name not in definition.inputs:
            problems.append({"field": f"inputs.{name}", "msg": "not an input of this workflow"})
    values: dict[str, Any] = {}
    for name, spec in definition.inputs.items():
        if name in given and given[name] is not None:
            message = _input_fault(spec, given[name])
            if message:
                problems.append({"field": f"inputs.{name}", "msg": message})
            values[name] = given[name]
        elif spec.required and spec.default is None:
            problems.append({"field": f"inputs.{name}", "msg": "required"})
        else:
            values[name] = spec.default
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"{first['field']}: {first['msg']}", field=first["field"], errors=problems
        )
    return values


def _input_fault(spec: InputSpec, value: Any) -> str | None:
    types = _TYPES.get(spec.type)
    if types is not None:
        is_bool = isinstance(value, bool)
        if not isinstance(value, types) or (is_bool and spec.type != "boolean"):
            return f"must be of type {spec.type}"
    if spec.enum is not None and value not in spec.enum:
        return f"must be one of {spec.enum}"
    return None


def _actor_label(actor: Actor) -> str:
    return f"{actor.kind.value}:{actor.actor_id}" if actor.actor_id else actor.kind.value


def start_run(
    session: Session,
    name: str,
    data: RunCreate,
    *,
    actor: Actor,
    trigger_kind: str = "api",
    trigger_id: uuid.UUID | None = None,
    parent: tuple[uuid.UUID, str] | None = None,
    wake: bool = True,
) -> WorkflowRun:
    """Queue a run of the workflow's chosen version and wake it (when this unit of work commits)."""
    workflow, version = version_for_run(session, name, data.version, data.tag)
    definition = graph_of(version).definition
    inputs = check_inputs(definition, data.inputs)
    row = WorkflowRunRow(
        workflow_id=workflow.workflow_id,
        version_id=version.version_id,
        workflow_name=workflow.name,
        version=version.version,
        status=RunStatus.QUEUED.value,
        inputs=inputs,
        trigger_kind=trigger_kind,
        trigger_id=trigger_id,
        parent_run_id=parent[0] if parent else None,
        parent_step=parent[1] if parent else None,
        started_by=_actor_label(actor),
    )
    session.add(row)
    session.flush()
    record_run_event(
        session, row, "queued", actor, f"run of {workflow.name!r} v{version.version} queued"
    )
    if wake:
        wake_run(session, row.run_id)
    return _run(row, [])


def record_run_event(
    session: Session, row: WorkflowRunRow, what: str, actor: Actor, summary: str, **payload: Any
) -> None:
    """Record `workflow_run.<what>` for the run."""
    record_event(
        session,
        f"workflow_run.{what}",
        actor=actor,
        subject_kind="workflow_run",
        subject_id=row.run_id,
        summary=f"Workflow {summary}",
        payload={"workflow": row.workflow_name, "version": row.version, **payload},
    )


def wake_run(session: Session, run_id: uuid.UUID) -> None:
    """Make sure a runner looks at the run soon (one runner per run at a time)."""
    row = run_row(session, run_id, for_update=True)
    if RunStatus(row.status) in FINAL_RUN_STATUSES or row.status == RunStatus.PAUSED:
        return
    if row.runner_job_id is not None and is_job_pending(session, row.runner_job_id):
        row.wake_pending = True
        session.flush()
        return
    row.runner_job_id = enqueue(session, RUN_JOB, {"run_id": str(run_id)}, tenant_id=row.tenant_id)
    session.flush()


def schedule_timer(session: Session, row: WorkflowStepRow, at: datetime) -> None:
    """Wake the step's run at `at` (a wait, an approval's timeout, a retry's backoff)."""
    row.wake_at = at
    enqueue(
        session,
        TIMER_JOB,
        {"run_id": str(row.run_id)},
        run_at=at,
        idempotency_key=f"wf-timer:{row.run_id}:{row.step_key}:{row.attempts}:{at.isoformat()}",
    )


def run_row(session: Session, run_id: uuid.UUID, *, for_update: bool = False) -> WorkflowRunRow:
    """The run's row (locked for this unit of work with `for_update`)."""
    query = select(WorkflowRunRow).where(WorkflowRunRow.run_id == run_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise NotFound("workflow run", run_id)
    return row


def steps_of(session: Session, run_id: uuid.UUID, *, fresh: bool = False) -> list[WorkflowStepRow]:
    """The run's steps, in start order (`fresh`: re-read rows this unit of work already holds)."""
    query = (
        select(WorkflowStepRow)
        .where(WorkflowStepRow.run_id == run_id)
        .order_by(WorkflowStepRow.started_at, WorkflowStepRow.step_key)
    )
    if fresh:
        query = query.execution_options(populate_existing=True)
    return list(session.scalars(query))


def _run(row: WorkflowRunRow, steps: Sequence[WorkflowStepRow]) -> WorkflowRun:
    run = WorkflowRun.model_validate(row)
    return run.model_copy(update={"steps": [Step.model_validate(s) for s in steps]})


def get_run(session: Session, run_id: uuid.UUID) -> WorkflowRun:
    """A run with its steps."""
    row = run_row(session, run_id)
    return _run(row, steps_of(session, run_id))


def list_runs(session: Session, run_filter: RunFilter) -> Page[WorkflowRun]:
    """Runs, newest first."""
    query = select(WorkflowRunRow)
    if run_filter.workflow:
        query = query.where(WorkflowRunRow.workflow_name == run_filter.workflow)
    if run_filter.status:
        query = query.where(WorkflowRunRow.status == run_filter.status.value)
    if run_filter.trigger_id:
        query = query.where(WorkflowRunRow.trigger_id == run_filter.trigger_id)
    if run_filter.cursor:
        anchor = session.get(WorkflowRunRow, decode_uuid_cursor(run_filter.cursor))
        if anchor is not None:
            query = query.where(
                (WorkflowRunRow.created_at < anchor.created_at)
                | (
                    (WorkflowRunRow.created_at == anchor.created_at)
                    & (WorkflowRunRow.run_id < anchor.run_id)
                )
            )
    query = query.order_by(WorkflowRunRow.created_at.desc(), WorkflowRunRow.run_id.desc())
    rows = list(session.scalars(query.limit(run_filter.limit + 1)))
    items, cursor = split_page(rows, run_filter.limit, lambda r: r.run_id)
    return Page(items=[_run(r, []) for r in items], next_cursor=cursor)


def _step_row(session: Session, run_id: uuid.UUID, key: str) -> WorkflowStepRow:
    row = session.scalar(
        select(WorkflowStepRow)
        .where(WorkflowStepRow.run_id == run_id, WorkflowStepRow.step_key == key)
        .with_for_update()
    )
    if row is None:
        raise NotFound("workflow step", f"{run_id}/{key}")
    return row


def finish_step(row: WorkflowStepRow, status: StepStatus, output: Any = None) -> None:
    """Record a step's end."""
    now = utcnow()
    row.status = status.value
    row.output = output
    row.finished_at = now
    row.wake_at = None
    row.duration_ms = (now - row.started_at).total_seconds() * 1000


def decide_approval(
    session: Session,
    run_id: uuid.UUID,
    decision: ApprovalDecision,
    *,
    actor: Actor,
    timed_out: bool = False,
) -> WorkflowRun:
    """Approve or reject a waiting approval node; the run goes on."""
    run = run_row(session, run_id, for_update=True)
    step = _step_row(session, run_id, decision.node)
    if step.node_type != "approval":
        raise InvalidInput(f"{decision.node!r} is not an approval node", field="node")
    if step.status != StepStatus.WAITING.value or RunStatus(run.status) in FINAL_RUN_STATUSES:
        raise InvalidTransition(f"approval {decision.node!r}", step.status, "decided", [])
    output = {
        "approved": decision.approved,
        "comment": decision.comment,
        "decided_by": _actor_label(actor),
        "decided_at": utcnow().isoformat(),
        "timed_out": timed_out,
    }
    finish_step(step, StepStatus.SUCCEEDED, output)
    run.steps_done += 1
    step.logs = [
        *step.logs,
        f"{'approved' if decision.approved else 'rejected'} by {output['decided_by']}",
    ]
    session.flush()
    verdict = "approved" if decision.approved else "rejected"
    record_run_event(
        session,
        run,
        "approval_decided",
        actor,
        f"{decision.node!r} {verdict}",
        node=decision.node,
        approved=decision.approved,
    )
    if not timed_out:
        record_audit(
            session,
            "workflow_run.approval_decided",
            actor=actor,
            subject_kind="workflow_run",
            subject_id=run_id,
            details={"node": decision.node, "approved": decision.approved},
        )
    wake_run(session, run_id)
    return get_run(session, run_id)


def cancel_run(
    session: Session, run_id: uuid.UUID, *, actor: Actor, reason: str = ""
) -> WorkflowRun:
    """Stop a run for good (its child runs too); finished steps stay as they are."""
    run = run_row(session, run_id, for_update=True)
    if RunStatus(run.status) in FINAL_RUN_STATUSES:
        raise InvalidTransition("workflow run", run.status, "cancelled", _ACTIVE)
    run.status = RunStatus.CANCELLED.value
    run.finished_at = utcnow()
    run.error = reason or None
    session.execute(
        update(WorkflowStepRow)
        .where(
            WorkflowStepRow.run_id == run_id,
            WorkflowStepRow.status.in_([StepStatus.WAITING.value, StepStatus.PENDING.value]),
        )
        .values(status=StepStatus.CANCELLED.value, finished_at=utcnow(), wake_at=None)
    )
    session.flush()
    record_run_event(session, run, "cancelled", actor, f"run of {run.workflow_name!r} cancelled")
    start_next_queued(session, run)
    children = session.scalars(
        select(WorkflowRunRow.run_id).where(
            WorkflowRunRow.parent_run_id == run_id,
            WorkflowRunRow.status.in_([s.value for s in ACTIVE_RUN_STATUSES]),
        )
    ).all()
    for child in children:
        cancel_run(session, child, actor=actor, reason="its parent run was cancelled")
    return get_run(session, run_id)


def pause_run(session: Session, run_id: uuid.UUID, *, actor: Actor) -> WorkflowRun:
    """Hold a run: steps already started finish, no new one starts until it is resumed."""
    run = run_row(session, run_id, for_update=True)
    if RunStatus(run.status) not in ACTIVE_RUN_STATUSES or run.status == RunStatus.PAUSED:
        raise InvalidTransition("workflow run", run.status, "paused", _ACTIVE[:3])
    run.status = RunStatus.PAUSED.value
    session.flush()
    record_run_event(session, run, "paused", actor, f"run of {run.workflow_name!r} paused")
    return get_run(session, run_id)


def resume_run(
    session: Session, run_id: uuid.UUID, *, actor: Actor, version: int | None = None
) -> WorkflowRun:
    """Go on with a paused run, or a failed one from its failed steps (finished ones stay)."""
    run = run_row(session, run_id, for_update=True)
    if run.status not in (RunStatus.PAUSED, RunStatus.FAILED):
        raise InvalidTransition("workflow run", run.status, "queued", ["paused", "failed"])
    if version is not None and version != run.version:
        _, chosen = version_for_run(session, run.workflow_name, version)
        run.version_id, run.version = chosen.version_id, chosen.version
    if run.status == RunStatus.FAILED:
        failed = session.scalars(
            select(WorkflowStepRow).where(
                WorkflowStepRow.run_id == run_id,
                WorkflowStepRow.status == StepStatus.FAILED.value,
            )
        ).all()
        for step in failed:
            step.status = StepStatus.PENDING.value
            step.attempts = 0
            step.logs = [*step.logs, f"resumed by {_actor_label(actor)} after: {step.error}"]
            step.finished_at = None
        run.error, run.failed_step, run.finished_at = None, None, None
    run.status = RunStatus.QUEUED.value
    session.flush()
    record_run_event(
        session, run, "resumed", actor, f"run of {run.workflow_name!r} resumed", version=run.version
    )
    record_audit(
        session,
        "workflow_run.resumed",
        actor=actor,
        subject_kind="workflow_run",
        subject_id=run_id,
        details={"version": run.version},
    )
    wake_run(session, run_id)
    return get_run(session, run_id)


def start_next_queued(session: Session, run: WorkflowRunRow) -> None:
    """A trigger's run ended: wake the oldest run it queued behind it (overlap `queue`)."""
    if run.trigger_id is None:
        return
    session.execute(  # the same lock a firing takes: a run queued meanwhile is not missed
        select(WorkflowTriggerRow.trigger_id)
        .where(WorkflowTriggerRow.trigger_id == run.trigger_id)
        .with_for_update()
    )
    waiting = session.scalar(
        select(WorkflowRunRow.run_id)
        .where(
            WorkflowRunRow.trigger_id == run.trigger_id,
            WorkflowRunRow.status == RunStatus.QUEUED.value,
            WorkflowRunRow.runner_job_id.is_(None),
        )
        .order_by(WorkflowRunRow.created_at)
        .limit(1)
    )
    if waiting is not None:
        wake_run(session, waiting)


def finish_task_steps(session: Session, task_id: uuid.UUID) -> None:
    """A board task is done: the `task` steps waiting for it succeed and their runs go on."""
    waiting = session.scalars(
        select(WorkflowStepRow).where(
            WorkflowStepRow.status == StepStatus.WAITING.value,
            WorkflowStepRow.node_type == "task",
        )
    ).all()
    for step in waiting:
        if step.details.get("task_id") == str(task_id):
            task = get_task(session, task_id)
            run_row(session, step.run_id).steps_done += 1
            finish_step(
                step,
                StepStatus.SUCCEEDED,
                {"task_id": str(task_id), "status": task.status.value, "title": task.title},
            )
            wake_run(session, step.run_id)


def list_dead_letters(session: Session, limit: int = 100) -> list[WorkflowRun]:
    """Failed runs with their failing step (resume them after a fix)."""
    rows = session.scalars(
        select(WorkflowRunRow)
        .where(WorkflowRunRow.status == RunStatus.FAILED.value)
        .order_by(WorkflowRunRow.finished_at.desc())
        .limit(limit)
    ).all()
    result = []
    for row in rows:
        failing = [s for s in steps_of(session, row.run_id) if s.status == StepStatus.FAILED.value]
        result.append(_run(row, failing))
    return result
