"""The workflows' job kinds: `workflow.run` drives a run, `workflow.timer` wakes one at a time
(a wait, an approval's timeout, a retry's backoff), `workflow.start` fires a trigger (cron
schedules and domain events enqueue it)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from missionctl.engine.context import JobContext
from missionctl.engine.registry import JobKind, JobRegistry
from missionctl.events.service import DomainEvent, on_event
from missionctl.models.gateway import Gateway
from missionctl.runtime.jobs import gateway_for
from missionctl.runtime.turns import submit
from missionctl.workflows.execution import Runner, Submit
from missionctl.workflows.nodes import NodeWorker
from missionctl.workflows.runs import RUN_JOB, TIMER_JOB, finish_task_steps, wake_run
from missionctl.workflows.tools import TOOLS, ToolRegistry
from missionctl.workflows.triggers import START_JOB, fire


class RunPayload(BaseModel):
    """Which run."""

    run_id: uuid.UUID = Field(description="The workflow run.")


class StartPayload(BaseModel):
    """Which trigger fires, and the event that fired it, if any."""

    trigger_id: uuid.UUID = Field(description="The workflow trigger.")
    event: dict[str, Any] | None = Field(default=None, description="The domain event, if any.")


def run_timer(job: JobContext, session: Session) -> dict[str, Any]:
    """Wake a run whose wait, approval timeout or retry backoff is due."""
    payload = RunPayload.model_validate(job.payload)
    wake_run(session, payload.run_id)
    return {"run_id": str(payload.run_id)}


def run_start(job: JobContext, session: Session) -> dict[str, Any]:
    """Fire a trigger: start a run (or skip it, by its overlap policy)."""
    payload = StartPayload.model_validate(job.payload)
    context: dict[str, Any] = {"fired_at": (job.job.scheduled_for or job.job.run_at).isoformat()}
    if payload.event is not None:
        context["event"] = payload.event
    run = fire(session, payload.trigger_id, context)
    return {"run_id": str(run.run_id) if run else None}


@on_event("task.status_changed")
def _task_done(session: Session, event: DomainEvent) -> None:
    if event.payload.get("to") == "done" and event.task_id is not None:
        finish_task_steps(session, event.task_id)


def register(
    registry: JobRegistry,
    *,
    tools: ToolRegistry = TOOLS,
    gateway: Gateway | None = None,
    on_loop: Submit = submit,
) -> None:
    """Add the workflows' job kinds (tests may pass their own tools, gateway or loop)."""

    def run_workflow(job: JobContext) -> dict[str, Any]:
        worker = NodeWorker(
            gateway=lambda: gateway or gateway_for(job.db, job.settings),
            tools=tools,
            allowed_hosts=job.settings.workflow_allowed_hosts,
        )
        return Runner(job, worker, tools, on_loop).run()

    registry.add(
        JobKind(
            name=RUN_JOB,
            handler=run_workflow,
            max_attempts=20,
            timeout_seconds=6 * 3600,
            backoff_base_seconds=1.0,
            backoff_max_seconds=60.0,
            payload_schema=RunPayload,
            description="Drive a workflow run as far as it can go.",
        )
    )
    registry.add(
        JobKind(
            name=TIMER_JOB,
            handler=run_timer,
            is_atomic=True,
            max_attempts=10,
            timeout_seconds=60,
            payload_schema=RunPayload,
            description="Wake a workflow run whose timer is due.",
        )
    )
    registry.add(
        JobKind(
            name=START_JOB,
            handler=run_start,
            is_atomic=True,
            max_attempts=5,
            timeout_seconds=60,
            payload_schema=StartPayload,
            is_schedulable=True,
            description="Fire a workflow trigger (cron schedules and domain events).",
        )
    )
