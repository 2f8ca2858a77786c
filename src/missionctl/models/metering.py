"""Writing down what model calls used: usage rows, budget charges, rate windows, the cache.

All of a call's accounting commits in one transaction after the call (`settle`), and its
budget holds go in the same one: a call is either held or charged, never both or neither.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from sqlalchemy import Connection, Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from missionctl.db import new_id
from missionctl.models import ledger
from missionctl.models.catalog import DeploymentSpec
from missionctl.models.hot import HotStatement, bind_all
from missionctl.models.ledger import BudgetKey, Hold
from missionctl.models.models import ResponseCacheRow, UsageRow

_usage = cast(Table, UsageRow.__table__)
_cache = cast(Table, ResponseCacheRow.__table__)
_response_adapter = ModelMessagesTypeAdapter
_RECORD_USAGE = HotStatement(insert(_usage).values(bind_all(_usage)))


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who a model call is for: the tenant, and the agent, task, run and workflow if any."""

    tenant_id: uuid.UUID
    agent_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None
    workflow: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """One request made to one deployment, as it is metered."""

    deployment: DeploymentSpec
    outcome: str
    latency_ms: float
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nanos: int | None = 0
    is_cache_hit: bool = False
    is_stream: bool = False
    error: str | None = None
    rate_window: int | None = None
    estimated_tokens: int = 0


def usage_row(context: CallContext, alias: str, request: Request, now: datetime) -> dict[str, Any]:
    """The usage row of one request."""
    spec = request.deployment
    return {
        "usage_id": new_id(),
        "tenant_id": context.tenant_id,
        "created_at": now,
        "agent_id": context.agent_id,
        "task_id": context.task_id,
        "run_id": context.run_id,
        "workflow": context.workflow,
        "alias": alias,
        "deployment": spec.name,
        "provider": spec.provider.value,
        "model": spec.model,
        "input_tokens": request.input_tokens,
        "output_tokens": request.output_tokens,
        "cost_nanos": request.cost_nanos,
        "latency_ms": round(request.latency_ms, 3),
        "is_cache_hit": request.is_cache_hit,
        "is_stream": request.is_stream,
        "outcome": request.outcome,
        "error": request.error,
    }


def meter(
    conn: Connection, context: CallContext, alias: str, requests: Sequence[Request], now: datetime
) -> None:
    """Record every request of a call (its usage rows; its rate windows' actual tokens)."""
    if requests:
        _RECORD_USAGE.execute_many(conn, [usage_row(context, alias, r, now) for r in requests])
    for r in requests:
        if r.rate_window is not None and r.deployment.deployment_id is not None:
            actual = r.input_tokens + r.output_tokens
            ledger.correct_rate(
                conn, r.deployment.deployment_id, r.rate_window, actual - r.estimated_tokens
            )


def charge(
    conn: Connection,
    context: CallContext,
    budgets: Sequence[BudgetKey],
    holds: Sequence[Hold],
    requests: Sequence[Request],
) -> None:
    """Charge a call's budgets what its requests cost, releasing its holds.

    Last in its unit of work: charging a budget locks its ledger row (PostgreSQL) until commit,
    and every call of the tenant waits for that lock.
    """
    nanos = sum(r.cost_nanos or 0 for r in requests)
    tokens = sum(r.input_tokens + r.output_tokens for r in requests)
    ledger.settle(conn, context.tenant_id, budgets, holds, nanos, tokens)


def cache_key(
    tenant_id: uuid.UUID,
    alias: str,
    messages: Sequence[ModelMessage],
    settings: ModelSettings | None,
    parameters: ModelRequestParameters,
) -> str:
    """The exact-match key of a request: same tenant, alias, messages, settings and tools."""
    digest = hashlib.sha256()
    digest.update(f"{tenant_id}\x00{alias}\x00".encode())
    for message in messages:
        for part in message.parts:
            content = getattr(part, "content", None)
            args = getattr(part, "args", None)
            digest.update(f"{part.part_kind}\x00{content!r}\x00{args!r}\x00".encode())
        digest.update(b"\x01")
    digest.update(orjson.dumps(dict(settings or {}), option=orjson.OPT_SORT_KEYS, default=str))
    tools = [*parameters.function_tools, *parameters.output_tools]
    for tool in tools:
        digest.update(orjson.dumps([tool.name, tool.parameters_json_schema], default=str))
    digest.update(f"{parameters.output_mode}\x00{parameters.allow_text_output}".encode())
    return digest.hexdigest()


def cached_response(conn: Connection, key: str, now: datetime) -> tuple[str, ModelResponse] | None:
    """A live cached reply (and the deployment that gave it), if there is one."""
    row = conn.execute(
        select(_cache.c.deployment, _cache.c.response).where(
            _cache.c.cache_key == key, _cache.c.expires_at > now
        )
    ).first()
    if row is None:
        return None
    response = _response_adapter.validate_python([row.response])[0]
    if not isinstance(response, ModelResponse):
        return None
    return row.deployment, response


def store_response(
    conn: Connection,
    tenant_id: uuid.UUID,
    key: str,
    deployment: str,
    response: ModelResponse,
    now: datetime,
    ttl_seconds: int,
) -> None:
    """Keep a reply for `ttl_seconds` (replacing an expired entry of the same key)."""
    stored = _response_adapter.dump_python([response], mode="json")[0]
    conn.execute(delete(_cache).where(_cache.c.cache_key == key))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(_cache)
        .values(
            cache_key=key,
            tenant_id=tenant_id,
            deployment=deployment,
            response=stored,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
        .on_conflict_do_nothing()
    )


def purge_expired_cache(conn: Connection, now: datetime) -> int:
    """Delete cached replies past their lifetime."""
    return conn.execute(delete(_cache).where(_cache.c.expires_at <= now)).rowcount
