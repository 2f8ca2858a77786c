"""The runtime's job kinds: `agent.heartbeat` (an agent wakes on its interval) and `agent.turn`.

A heartbeat records the check-in, escalates stalled tasks, and requests a turn when the agent
has work (new notifications or open tasks). A turn runs with the gateway's routed model on the
agent's model alias; tests pass their own `model_factory` (a pydantic-ai `FunctionModel`).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from missionctl.agents.schemas import Agent
from missionctl.agents.service import HEARTBEAT_JOB
from missionctl.db import Database
from missionctl.engine.context import JobContext
from missionctl.engine.registry import JobKind, JobRegistry
from missionctl.models.gateway import Gateway, GatewayOptions
from missionctl.models.metering import CallContext
from missionctl.models.routed import RoutedModel
from missionctl.runtime.agenda import has_work as has_work_for
from missionctl.runtime.service import TURN_JOB, request_turn
from missionctl.runtime.turns import ModelFactory, TurnRunner
from missionctl.sealing import Sealer
from missionctl.settings import Settings, ensure_secret_key
from missionctl.workspace.service import wake

_gateways: weakref.WeakKeyDictionary[Database, Gateway] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class AgentPayload(BaseModel):
    """Which agent wakes or takes a turn."""

    agent_id: uuid.UUID = Field(description="The agent.")


def gateway_for(db: Database, settings: Settings) -> Gateway:
    """This process's gateway for the database (one per database, shared by all turns)."""
    with _lock:
        gateway = _gateways.get(db)
        if gateway is None:
            gateway = Gateway(
                db, Sealer(ensure_secret_key(settings)), GatewayOptions.from_settings(settings)
            )
            _gateways[db] = gateway
        return gateway


def run_heartbeat(job: JobContext, session: Session) -> dict[str, Any]:
    """Record the agent's check-in; request a turn when it has work."""
    payload = AgentPayload.model_validate(job.payload)
    woke = wake(session, payload.agent_id, stall_heartbeats=job.settings.stall_heartbeats)
    has_work = has_work_for(session, payload.agent_id)
    if has_work:
        request_turn(session, payload.agent_id)
    return woke.model_copy(update={"has_work": has_work}).model_dump(mode="json")


def register(registry: JobRegistry, *, model_factory: ModelFactory | None = None) -> None:
    """Add the runtime's job kinds (turns use the routed model unless `model_factory` is given)."""

    def routed(db: Database, settings: Settings) -> ModelFactory:
        def build(agent: Agent, context: CallContext) -> RoutedModel:
            return RoutedModel(gateway_for(db, settings), agent.model, context)

        return build

    def run_turn(job: JobContext) -> dict[str, Any]:
        factory = model_factory or routed(job.db, job.settings)
        return TurnRunner(factory).run(job)

    registry.add(
        JobKind(
            name=HEARTBEAT_JOB,
            handler=run_heartbeat,
            is_atomic=True,
            max_attempts=1,
            timeout_seconds=60,
            payload_schema=AgentPayload,
            description="An agent wakes on its heartbeat and checks for work.",
        )
    )
    registry.add(
        JobKind(
            name=TURN_JOB,
            handler=run_turn,
            max_attempts=5,
            timeout_seconds=900,
            backoff_base_seconds=5.0,
            payload_schema=AgentPayload,
            description="An agent's turn: choose work, run the tool loop, apply the result.",
        )
    )
