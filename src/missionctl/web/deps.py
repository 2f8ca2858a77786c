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
from starlette.types import Scope

from missionctl.common import Actor
from missionctl.db import DEFAULT_TENANT_ID, DEFAULT_TENANT_SLUG, Database
from missionctl.errors import InvalidInput
from missionctl.settings import Settings

if TYPE_CHECKING:
    from missionctl.web.cache import ResponseCache
from missionctl.storage import AttachmentStore


@dataclass(frozen=True)
class AppState:
    """What the app holds for its lifetime: settings, database, attachment store, cache."""

    settings: Settings
    db: Database
    store: AttachmentStore
    cache: ResponseCache | None = None


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, for which tenant, and how to open a unit of work."""

    app: AppState
    tenant_id: uuid.UUID
    tenant_slug: str
    actor: Actor

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


def tenant_for(_scope: Scope) -> uuid.UUID:
    """The tenant a request acts in (also keys the response cache, which runs before routing).

    Until identity lands every request acts in the default tenant.
    """
    return DEFAULT_TENANT_ID


async def get_context(request: Request) -> RequestContext:
    """The request's context. Until identity lands, everyone is the local operator."""
    return RequestContext(
        app=request.app.state.mission_control,
        tenant_id=tenant_for(request.scope),
        tenant_slug=DEFAULT_TENANT_SLUG,
        actor=Actor.user(),
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
