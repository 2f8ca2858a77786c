"""Request-scoped dependencies, as `Annotated` aliases for the routers.

A route opens its own unit of work (`ctx.write()` or `ctx.read()`), so the commit happens before
the response is built: a client that gets a 2xx can read its change back from any replica.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from missionctl.common import Actor, Quotas
from missionctl.db import Database
from missionctl.errors import InvalidInput
from missionctl.identity.schemas import Principal
from missionctl.settings import Settings

if TYPE_CHECKING:
    from missionctl.engine.registry import JobRegistry
    from missionctl.events.stream import EventTail
    from missionctl.identity.oidc import OidcClient
    from missionctl.models.gateway import Gateway
    from missionctl.web.auth import VerifiedTokens
    from missionctl.web.cache import ResponseCache
    from missionctl.web.ratelimit import RateLimiter


from missionctl.storage import AttachmentStore


@dataclass(frozen=True)
class AppState:
    """What the app holds for its lifetime: settings, database, attachment store, cache, the job
    kinds it knows, the event tail its live streams follow, and the model gateway."""

    settings: Settings
    db: Database
    store: AttachmentStore
    secret_key: str
    tokens: VerifiedTokens
    limiter: RateLimiter
    quotas: Quotas
    registry: JobRegistry
    tail: EventTail
    gateway: Gateway
    oidc: OidcClient | None = None
    cache: ResponseCache | None = None


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, for which tenant, and how to open a unit of work."""

    app: AppState
    tenant_id: uuid.UUID
    tenant_slug: str
    actor: Actor
    principal: Principal

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work in the caller's tenant."""
        with self.app.db.transaction(self.tenant_id, write=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that commits its changes, events and jobs together."""
        with self.app.db.transaction(self.tenant_id, write=True) as session:
            yield session


# Dependencies are `async def` on purpose: a sync one would cost a thread-pool hop per request.
async def get_app_state(request: Request) -> AppState:
    """The running app's state."""
    state: AppState = request.app.state.mission_control
    return state


def actor_of(principal: Principal) -> Actor:
    """Who changes are recorded as: the agent of an agent key, else the user (if any)."""
    if principal.agent_id is not None:
        return Actor.agent(principal.agent_id)
    return Actor.user(principal.user_id)


async def get_context(request: HTTPConnection) -> RequestContext:
    """The request's context, from the principal its route's `need(...)` established."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        # A route that uses the context must declare a non-public permission.
        raise RuntimeError(f"{request.url.path} uses Ctx without authenticating")
    return RequestContext(
        app=request.app.state.mission_control,
        tenant_id=principal.tenant_id,
        tenant_slug=principal.tenant_slug,
        actor=actor_of(principal),
        principal=principal,
    )


Ctx = Annotated[RequestContext, Depends(get_context)]
State = Annotated[AppState, Depends(get_app_state)]


async def if_match_version(
    if_match: Annotated[
        str | None,
        Header(max_length=64, description='Version the change is based on, e.g. `"3"`.'),
    ] = None,
) -> int | None:
    """A version number from an `If-Match` header (`"3"`, `3` or `W/"3"`), if sent."""
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isascii() or not raw.isdigit() or int(raw) > 2**31 - 1:
        raise InvalidInput('If-Match must carry a version number, e.g. "3"', field="If-Match")
    return int(raw)


IfMatch = Annotated[int | None, Depends(if_match_version)]
