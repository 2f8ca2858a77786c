"""The `agent.heartbeat` job: an agent wakes on its interval (enqueued by the scheduler)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from missionctl.agents.service import HEARTBEAT_JOB
from missionctl.engine.context import JobContext
from missionctl.engine.registry import JobKind, JobRegistry
from missionctl.workspace.service import wake


class HeartbeatPayload(BaseModel):
    """Which agent wakes."""

    agent_id: uuid.UUID = Field(description="The agent.")


def run_heartbeat(job: JobContext, session: Session) -> dict[str, Any]:
    """Record the agent's check-in and whether it has work."""
    payload = HeartbeatPayload.model_validate(job.payload)
    stall_heartbeats = job.settings.stall_heartbeats if job.settings else 3
    return wake(session, payload.agent_id, stall_heartbeats=stall_heartbeats).model_dump(
        mode="json"
    )


def register(registry: JobRegistry) -> None:
    """Add the workspace's job kinds."""
    registry.add(
        JobKind(
            name=HEARTBEAT_JOB,
            handler=run_heartbeat,
            is_atomic=True,
            max_attempts=1,
            timeout_seconds=60,
            payload_schema=HeartbeatPayload,
            description="An agent wakes on its heartbeat and checks for work.",
        )
    )
