"""Authentication and the permission every route declares.

`need(Permission.X)` goes into each route's `dependencies`: resolving it authenticates the caller
(a JWT access token, or an API key `mck_…`, as `Authorization: Bearer`), picks the tenant
(the token's, or `X-Tenant` for a user in several), checks the role against the permission
table and leaves the principal on `request.state` for `get_context`. A test walks every route
and fails if one declares nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from missionctl.db import utcnow
from missionctl.errors import Forbidden, RateLimited, Unauthenticated
from missionctl.identity import service as identity
from missionctl.identity.credentials import API_KEY_PREFIX, InvalidToken, decode_access_token
from missionctl.identity.schemas import Principal
from missionctl.permissions import Permission, allowed
from missionctl.web.deps import AppState
from missionctl.web.ratelimit import RouteClass

MAX_CREDENTIAL = 4096
# Only for the OpenAPI document (an "Authorize" button in /docs); `authenticate` does the work.
BEARER = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT access token or API key (mck_…)",
    description="`Authorization: Bearer <access token or API key>`",
)


def bearer(request: HTTPConnection, *, allow_query: bool = False) -> str | None:
    """The bearer credential of a request, if any.

    Live streams also take it as `?access_token=`: browsers cannot set headers on a WebSocket
    or an EventSource.
    """
    header = request.headers.get("authorization")
    if not header:
        token = request.query_params.get("access_token") if allow_query else None
        if token is not None and not 0 < len(token) <= MAX_CREDENTIAL:
            raise Unauthenticated("the access_token parameter is empty or too long")
        return token
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential or len(credential) > MAX_CREDENTIAL:
        raise Unauthenticated("use `Authorization: Bearer <token or API key>`")
    return credential.strip()


class VerifiedTokens:
    """Access tokens whose signature was checked, until they expire (bounded, LRU).

    A token is immutable and carries its expiry, so checking the signature once is enough;
    the expiry is still checked on every use.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._principals: OrderedDict[str, Principal] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        """The principal of a token verified before and not yet expired."""
        with self._lock:
            principal = self._principals.get(token)
            if principal is None:
                return None
            if principal.expires_at is None or principal.expires_at <= utcnow():
                del self._principals[token]
                return None
            self._principals.move_to_end(token)
            return principal

    def put(self, token: str, principal: Principal) -> None:
        """Remember a verified token."""
        with self._lock:
            self._principals[token] = principal
            while len(self._principals) > self.max_entries:
                self._principals.popitem(last=False)


def principal_from_jwt(state: AppState, credential: str) -> Principal | None:
    """The principal of a valid access token, None if it is not one (no database needed)."""
    known = state.tokens.get(credential)
    if known is not None:
        return known
    try:
        principal = identity.principal_from_claims(
            decode_access_token(state.secret_key, credential)
        )
    except InvalidToken:
        return None
    state.tokens.put(credential, principal)
    return principal


def _api_key_principal(state: AppState, credential: str) -> Principal:
    with state.db.transaction(None, write=False) as session:
        principal, touch = identity.principal_for_api_key(session, credential)
    if touch:
        with state.db.transaction(None) as session:
            identity.touch_api_key(session, principal)
    return principal


def _switch_tenant(state: AppState, principal: Principal, slug: str) -> Principal:
    with state.db.transaction(None, write=False) as session:
        return identity.principal_for_tenant(session, principal, slug)


async def authenticate(request: HTTPConnection, *, allow_query: bool = False) -> Principal:
    """Who is calling, in which tenant; `Unauthenticated` if nobody (valid)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    state: AppState = request.app.state.mission_control
    credential = bearer(request, allow_query=allow_query)
    if credential is None:
        raise Unauthenticated("sign in: send `Authorization: Bearer <token or API key>`")
    if credential.startswith(API_KEY_PREFIX):
        principal = await run_in_threadpool(_api_key_principal, state, credential)
    else:
        found = principal_from_jwt(state, credential)
        if found is None:
            raise Unauthenticated("the access token is invalid or expired; refresh it")
        principal = found
    wanted = request.headers.get("x-tenant")
    if wanted and wanted != principal.tenant_slug:
        principal = await run_in_threadpool(_switch_tenant, state, principal, wanted)
    request.state.principal = principal
    return principal


READS = frozenset({Permission.BOARD_READ, Permission.AUTHENTICATED, Permission.AUDIT_READ})


def principal_key(principal: Principal) -> str:
    """Whose rate-limit bucket a principal draws from."""
    if principal.api_key_id is not None:
        return f"key:{principal.api_key_id}"
    return f"user:{principal.user_id}"


def count_request(
    request: HTTPConnection, route_class: RouteClass, who: str, state: AppState | None = None
) -> None:
    """Count a request against its bucket; `RateLimited` (429) when over the limit."""
    state = state or request.app.state.mission_control
    verdict = state.limiter.check(route_class, who)
    request.state.ratelimit = verdict  # RateLimitHeaders puts it on the response
    if not verdict.allowed:
        raise RateLimited(
            f"over {verdict.limit} {route_class} requests a minute; retry in "
            f"{verdict.reset_seconds} s",
            verdict.reset_seconds,
            verdict.headers(),
        )


class Need:
    """A route's permission (see module docstring)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(
        self,
        request: Request,
        _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
    ) -> None:
        await self.check(request)

    async def check(self, request: HTTPConnection, *, allow_query: bool = False) -> None:
        """Authenticate, authorise and count the request (see module docstring)."""
        if self.permission is Permission.PUBLIC:
            if request.url.path.startswith("/api/v1/auth/"):
                client = request.client.host if request.client else "unknown"
                count_request(request, RouteClass.AUTH, f"ip:{client}")
            return
        principal = await authenticate(request, allow_query=allow_query)
        if not allowed(principal.role, self.permission):
            raise Forbidden(f"a {principal.role} may not do this ({self.permission})")
        route_class = RouteClass.READ if self.permission in READS else RouteClass.WRITE
        count_request(request, route_class, principal_key(principal))


def need(permission: Permission) -> Any:
    """The dependency a route lists to declare (and enforce) its permission."""
    if permission is Permission.PUBLIC:
        return Depends(Public())
    return Depends(Need(permission))


class Public(Need):
    """A route anyone may call (documented without a security requirement)."""

    def __init__(self) -> None:
        super().__init__(Permission.PUBLIC)

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        await self.check(request)


class StreamNeed(Need):
    """A live stream's permission: also for WebSockets, and also with `?access_token=`."""

    async def __call__(self, connection: HTTPConnection) -> None:  # type: ignore[override]
        await self.check(connection, allow_query=True)


def need_stream(permission: Permission) -> Any:
    """The dependency a live-stream route (WebSocket or SSE) lists for its permission."""
    return Depends(StreamNeed(permission))
