"""The node output cache: key = the node's definition and its rendered inputs (per tenant),
kept until its TTL runs out."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from missionctl.db import utcnow
from missionctl.workflows.definition import NodeSpec
from missionctl.workflows.models import WorkflowCacheRow


def cache_key(tenant_id: uuid.UUID, spec: NodeSpec, inputs: dict[str, Any]) -> str:
    """The key of a node's output: tenant, node definition (retry and such left out), inputs."""
    node = spec.model_dump(
        mode="json",
        by_alias=True,
        exclude={"cache", "retry", "timeout_seconds", "needs", "description"},
    )
    text = json.dumps([str(tenant_id), node, inputs], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def store_cache(
    session: Session, tenant_id: uuid.UUID, spec: NodeSpec, inputs: dict[str, Any], output: Any
) -> None:
    """Keep a node's output for its cache TTL (a newer one replaces it)."""
    assert spec.cache is not None
    key = cache_key(tenant_id, spec, inputs)
    expires = utcnow() + timedelta(seconds=spec.cache.ttl_seconds)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(WorkflowCacheRow.__table__).values(
        tenant_id=tenant_id, cache_key=key, output=output, expires_at=expires, created_at=utcnow()
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["cache_key"], set_={"output": output, "expires_at": expires}
        )
    )


def cached_output(session: Session, key: str) -> tuple[bool, Any]:
    """(True, output) when the key has a live entry, else (False, None)."""
    hit = session.get(WorkflowCacheRow, key)
    if hit is not None and hit.expires_at > utcnow():
        return True, hit.output
    return False, None
