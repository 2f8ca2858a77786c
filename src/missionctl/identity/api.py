"""HTTP routes for signing in and out, and for API keys."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from missionctl.errors import NotFound, Unauthenticated
from missionctl.identity import members, service
from missionctl.identity.schemas import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    Invitation,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    LoginRequest,
    Me,
    Member,
    MemberUpdate,
    RefreshRequest,
    TokenPair,
)
from missionctl.permissions import Permission, Role
from missionctl.web.auth import need
from missionctl.web.deps import Ctx, State

router = APIRouter(prefix="/auth", tags=["auth"])
UNAUTHENTICATED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong credentials, or a used or revoked token."}
}


@router.post(
    "/login",
    summary="Sign in",
    dependencies=[need(Permission.PUBLIC)],
    responses={**UNAUTHENTICATED, 429: {"description": "Too many failed attempts: wait."}},
)
def login(state: State, data: LoginRequest) -> TokenPair:
    with state.db.transaction(None) as session:
        tokens = service.login(session, data, key=state.secret_key)
    if tokens is None:  # the failure was counted and committed above
        raise Unauthenticated("wrong e-mail or password")
    return tokens


@router.post(
    "/refresh",
    summary="Exchange a refresh token for new tokens",
    dependencies=[need(Permission.PUBLIC)],
    responses=UNAUTHENTICATED,
)
def refresh(state: State, data: RefreshRequest) -> TokenPair:
    with state.db.transaction(None) as session:
        tokens = service.refresh(session, data.refresh_token, key=state.secret_key)
    if tokens is None:  # a replayed token revoked its family above
        raise Unauthenticated("this refresh token is not valid; sign in again")
    return tokens


@router.post(
    "/logout",
    status_code=204,
    summary="Sign out (revokes the refresh token's whole sign-in)",
    dependencies=[need(Permission.PUBLIC)],
)
def logout(state: State, data: RefreshRequest) -> Response:
    with state.db.transaction(None) as session:
        service.logout(session, data.refresh_token)
    return Response(status_code=204)


@router.get("/me", summary="Who am I", dependencies=[need(Permission.AUTHENTICATED)])
def me(ctx: Ctx) -> Me:
    with ctx.read() as session:
        return service.me(session, ctx.principal)


keys = APIRouter(prefix="/api-keys", tags=["auth"])


@keys.get("", summary="List API keys", dependencies=[need(Permission.API_KEYS_MANAGE)])
def list_api_keys(ctx: Ctx) -> list[ApiKey]:
    with ctx.read() as session:
        return service.list_api_keys(session)


@keys.post(
    "",
    status_code=201,
    summary="Create an API key (its secret is shown once)",
    dependencies=[need(Permission.API_KEYS_MANAGE)],
)
def create_api_key(ctx: Ctx, data: ApiKeyCreate) -> ApiKeyCreated:
    with ctx.write() as session:
        return service.create_api_key(session, data, actor=ctx.actor)


@keys.delete(
    "/{api_key_id}", summary="Revoke an API key", dependencies=[need(Permission.API_KEYS_MANAGE)]
)
def revoke_api_key(ctx: Ctx, api_key_id: uuid.UUID) -> ApiKey:
    with ctx.write() as session:
        return service.revoke_api_key(session, api_key_id, actor=ctx.actor)


@router.post(
    "/accept-invitation",
    summary="Accept an invitation (and sign in)",
    dependencies=[need(Permission.PUBLIC)],
    responses=UNAUTHENTICATED,
)
def accept_invitation(state: State, data: InvitationAccept) -> TokenPair:
    with state.db.transaction(None) as session:
        tokens = members.accept_invitation(session, data, key=state.secret_key)
    if tokens is None:
        raise Unauthenticated(
            "the invitation is not valid (used, revoked or expired), or the password is wrong"
        )
    return tokens


people = APIRouter(tags=["members"])


@people.get("/members", summary="List members", dependencies=[need(Permission.USERS_MANAGE)])
def list_members(ctx: Ctx) -> list[Member]:
    with ctx.read() as session:
        return members.list_members(session)


@people.put(
    "/members/{user_id}",
    summary="Change a member's role",
    dependencies=[need(Permission.USERS_MANAGE)],
)
def update_member(ctx: Ctx, user_id: uuid.UUID, data: MemberUpdate) -> Member:
    with ctx.write() as session:
        return members.update_member_role(session, user_id, data.role, actor=ctx.actor)


@people.delete(
    "/members/{user_id}",
    status_code=204,
    summary="Remove a member from this tenant",
    dependencies=[need(Permission.USERS_MANAGE)],
)
def remove_member(ctx: Ctx, user_id: uuid.UUID) -> Response:
    with ctx.write() as session:
        members.remove_member(session, user_id, actor=ctx.actor)
    return Response(status_code=204)


@people.get(
    "/invitations", summary="List invitations", dependencies=[need(Permission.USERS_MANAGE)]
)
def list_invitations(ctx: Ctx) -> list[Invitation]:
    with ctx.read() as session:
        return members.list_invitations(session)


@people.post(
    "/invitations",
    status_code=201,
    summary="Invite someone (the one-time link is shown once)",
    dependencies=[need(Permission.USERS_MANAGE)],
)
def create_invitation(ctx: Ctx, data: InvitationCreate) -> InvitationCreated:
    with ctx.write() as session:
        return members.create_invitation(session, data, actor=ctx.actor)


@people.delete(
    "/invitations/{invitation_id}",
    summary="Revoke an invitation",
    dependencies=[need(Permission.USERS_MANAGE)],
)
def revoke_invitation(ctx: Ctx, invitation_id: uuid.UUID) -> Invitation:
    with ctx.write() as session:
        return members.revoke_invitation(session, invitation_id, actor=ctx.actor)


OIDC_COOKIE = "mc_oidc"


@router.get(
    "/oidc/login",
    summary="Sign in with the configured OpenID Connect provider",
    dependencies=[need(Permission.PUBLIC)],
    response_class=RedirectResponse,
    status_code=302,
    responses={404: {"description": "OIDC sign-in is not configured."}},
)
def oidc_login(state: State, request: Request) -> RedirectResponse:
    if state.oidc is None:
        raise NotFound("OIDC sign-in", "configuration")
    url, cookie = state.oidc.start(state.secret_key)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        OIDC_COOKIE,
        cookie,
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/api/v1/auth/oidc",
    )
    return response


@router.get(
    "/oidc/callback",
    summary="Where the OpenID Connect provider sends the browser back",
    dependencies=[need(Permission.PUBLIC)],
    responses={**UNAUTHENTICATED, 404: {"description": "OIDC sign-in is not configured."}},
)
def oidc_callback(
    state: State,
    request: Request,
    response: Response,
    code: Annotated[
        str, Query(min_length=1, max_length=4096, description="The provider's one-time code.")
    ],
    flow_state: Annotated[
        str,
        Query(alias="state", min_length=1, max_length=512, description="Echo of our state."),
    ],
) -> TokenPair:
    if state.oidc is None:
        raise NotFound("OIDC sign-in", "configuration")
    identity = state.oidc.finish(
        state.secret_key, request.cookies.get(OIDC_COOKIE), code, flow_state
    )
    settings = state.settings
    with state.db.transaction(None) as session:
        tokens = service.sign_in_external(
            session,
            identity.email,
            identity.name,
            settings.oidc_tenant,
            Role(settings.oidc_role),
            key=state.secret_key,
            provider="oidc",
        )
    response.delete_cookie(OIDC_COOKIE, path="/api/v1/auth/oidc")
    return tokens
