"""Identity use cases: users and memberships, sign-in and tokens, API keys, principals.

Users, refresh tokens and key look-ups span tenants, so these functions run in sessions opened
without a tenant (`Database.transaction(None)`) where they must, and say so.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from missionctl.agents.service import require_agents
from missionctl.audit.service import record_audit
from missionctl.common import Actor
from missionctl.db import utcnow
from missionctl.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
)
from missionctl.events.service import record_event
from missionctl.identity.credentials import (
    ACCESS_TOKEN_TTL,
    API_KEY_PREFIX,
    REFRESH_TOKEN_TTL,
    AccessClaims,
    digest,
    encode_access_token,
    hash_password,
    new_api_key,
    new_refresh_token,
    same,
    verify_password,
)
from missionctl.identity.models import (
    ApiKeyRow,
    MembershipRow,
    RefreshTokenRow,
    TenantRow,
    UserRow,
)
from missionctl.identity.schemas import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    LoginRequest,
    Me,
    Principal,
    Tenant,
    TenantMembership,
    TokenPair,
    User,
    UserCreate,
)
from missionctl.permissions import Role

# Failed sign-ins: from the third on, each waits twice as long as the last (1 s, 2 s, 4 s …),
# up to a 15-minute lock.
FREE_ATTEMPTS = 3
MAX_LOCK = timedelta(minutes=15)
ALL_TENANTS = {"all_tenants": True}
# last_used_at is refreshed at most this often, so that using a key is not a write.
LAST_USED_PRECISION = timedelta(minutes=5)


def get_tenant(session: Session, slug: str) -> Tenant:
    """The tenant with this slug, or `NotFound`."""
    row = session.scalar(select(TenantRow).where(TenantRow.slug == slug))
    if row is None:
        raise NotFound("tenant", slug)
    return Tenant.model_validate(row)


def ensure_tenant(session: Session, slug: str, name: str | None = None) -> Tenant:
    """The tenant with this slug, created if missing."""
    row = session.scalar(select(TenantRow).where(TenantRow.slug == slug))
    if row is None:
        row = TenantRow(slug=slug, name=name or slug)
        session.add(row)
        session.flush()
    return Tenant.model_validate(row)


def has_users(session: Session) -> bool:
    """True once any user exists."""
    return session.scalar(select(UserRow.user_id).limit(1)) is not None


def create_user(
    session: Session, tenant_id: uuid.UUID, data: UserCreate, *, actor: Actor | None = None
) -> User:
    """Create a user (or take the existing one with that e-mail) with a role in the tenant."""
    email = data.email.lower()
    user = session.scalar(select(UserRow).where(UserRow.email == email))
    if user is None:
        user = UserRow(
            email=email, display_name=data.display_name, password_hash=hash_password(data.password)
        )
        session.add(user)
        session.flush()
    member = session.scalar(
        select(MembershipRow)
        .where(MembershipRow.user_id == user.user_id, MembershipRow.tenant_id == tenant_id)
        .execution_options(**ALL_TENANTS)
    )
    if member is not None:
        raise AlreadyExists(f"{email} is already a member of this tenant", field="email")
    session.add(MembershipRow(tenant_id=tenant_id, user_id=user.user_id, role=data.role.value))
    session.flush()
    record_audit(
        session,
        "membership.created",
        actor=actor,
        tenant_id=tenant_id,
        subject_kind="user",
        subject_id=user.user_id,
        details={"email": email, "role": data.role.value},
    )
    return User.model_validate(user)


def _tokens(
    session: Session,
    key: str,
    user_id: uuid.UUID,
    tenant: TenantRow,
    role: str,
    family_id: uuid.UUID,
    now: datetime,
) -> TokenPair:
    access, _expires = encode_access_token(key, user_id, tenant.tenant_id, tenant.slug, role, now)
    refresh = new_refresh_token()
    session.add(
        RefreshTokenRow(
            family_id=family_id,
            user_id=user_id,
            tenant_id=tenant.tenant_id,
            token_hash=digest(refresh),
            expires_at=now + REFRESH_TOKEN_TTL,
        )
    )
    session.flush()
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(ACCESS_TOKEN_TTL.total_seconds()),
    )


def issue_tokens(
    session: Session, key: str, user_id: uuid.UUID, tenant: TenantRow, role: str
) -> TokenPair:
    """A fresh sign-in (a new refresh-token family) for a user in a tenant."""
    return _tokens(session, key, user_id, tenant, role, uuid.uuid4(), utcnow())


def _membership(
    session: Session,
    user_id: uuid.UUID,
    slug: str | None = None,
    *,
    tenant_id: uuid.UUID | None = None,
) -> tuple[TenantRow, MembershipRow] | None:
    """A user's tenant and membership: the named one, or their first."""
    query = (
        select(TenantRow, MembershipRow)
        .join(MembershipRow, MembershipRow.tenant_id == TenantRow.tenant_id)
        .where(MembershipRow.user_id == user_id)
        .order_by(MembershipRow.created_at)
        .execution_options(**ALL_TENANTS)
    )
    if slug is not None:
        query = query.where(TenantRow.slug == slug)
    if tenant_id is not None:
        query = query.where(TenantRow.tenant_id == tenant_id)
    found = session.execute(query.limit(1)).first()
    return (found[0], found[1]) if found else None


def login(session: Session, data: LoginRequest, *, key: str) -> TokenPair | None:
    """Tokens for a right password; None (with the failure counted) for a wrong one.

    Raises `TooManyAttempts` while the account waits out earlier failures. The caller commits
    before answering, so failures count even though the request fails.
    """
    now = utcnow()
    user = session.scalar(select(UserRow).where(UserRow.email == data.email.lower()))
    if user is not None and user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        raise TooManyAttempts(f"too many failed sign-ins; try again in {wait} s", wait)
    if not verify_password(user.password_hash if user else None, data.password):
        record_audit(
            session,
            "auth.login_failed",
            actor_id=data.email.lower(),
            subject_kind="user",
            subject_id=user.user_id if user else None,
            details={"known_user": user is not None},
        )
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= FREE_ATTEMPTS:
                delay = timedelta(seconds=2 ** (user.failed_logins - FREE_ATTEMPTS))
                user.locked_until = now + min(delay, MAX_LOCK)
            session.flush()
        return None
    if user is None or not user.is_active:
        return None
    membership = _membership(session, user.user_id, data.tenant)
    if membership is None:
        return None
    user.failed_logins = 0
    user.locked_until = None
    tenant, member = membership
    record_audit(
        session,
        "auth.login_succeeded",
        actor=Actor.user(user.user_id),
        tenant_id=tenant.tenant_id,
        subject_kind="user",
        subject_id=user.user_id,
        details={"role": member.role},
    )
    return _tokens(session, key, user.user_id, tenant, member.role, uuid.uuid4(), now)


def refresh(session: Session, refresh_token: str, *, key: str) -> TokenPair | None:
    """New tokens for an unused refresh token, which is used up; None when refused.

    Presenting an already used token means it was stolen or replayed: the whole family is
    revoked, so the thief's and the owner's sessions both end (the caller commits, then refuses).
    """
    now = utcnow()
    row = session.scalar(
        select(RefreshTokenRow).where(RefreshTokenRow.token_hash == digest(refresh_token))
    )
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.used_at is not None:
        _end_sign_in(session, row, "auth.refresh_token_reused")
        return None
    user = session.get(UserRow, row.user_id)
    # The role is read again: a changed role takes effect at the next refresh.
    tenant_member = _membership(session, row.user_id, tenant_id=row.tenant_id)
    if user is None or not user.is_active or tenant_member is None:
        return None
    row.used_at = now
    tenant, member = tenant_member
    return _tokens(session, key, row.user_id, tenant, member.role, row.family_id, now)


def _end_sign_in(session: Session, row: RefreshTokenRow, action: str) -> None:
    revoke_family(session, row.family_id)
    record_audit(
        session,
        action,
        actor=Actor.user(row.user_id),
        tenant_id=row.tenant_id,
        subject_kind="session",
        subject_id=row.family_id,
    )


def revoke_family(session: Session, family_id: uuid.UUID) -> None:
    """Revoke every refresh token of a sign-in."""
    session.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.family_id == family_id, RefreshTokenRow.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def logout(session: Session, refresh_token: str) -> None:
    """End the sign-in the refresh token belongs to (idempotent)."""
    row = session.scalar(
        select(RefreshTokenRow).where(RefreshTokenRow.token_hash == digest(refresh_token))
    )
    if row is not None and row.revoked_at is None:
        _end_sign_in(session, row, "auth.logout")


def principal_from_claims(claims: AccessClaims) -> Principal:
    """The principal an access token stands for (no database needed)."""
    return Principal(
        tenant_id=claims.tenant_id,
        tenant_slug=claims.tenant_slug,
        role=Role(claims.role),
        user_id=claims.user_id,
        expires_at=claims.expires_at,
    )


def principal_for_tenant(session: Session, principal: Principal, slug: str) -> Principal:
    """The same user acting in another of their tenants (`X-Tenant`); keys cannot switch."""
    membership = _membership(session, principal.user_id, slug) if principal.user_id else None
    if membership is None:
        raise NotFound("tenant", slug)  # not a member: as if it did not exist
    tenant, member = membership
    return Principal(
        tenant_id=tenant.tenant_id,
        tenant_slug=tenant.slug,
        role=Role(member.role),
        user_id=principal.user_id,
        expires_at=principal.expires_at,
    )


def principal_for_api_key(session: Session, key: str) -> tuple[Principal, bool]:
    """The principal an API key stands for, and whether its last use is worth recording.

    Raises `Unauthenticated` for an unknown, revoked or expired key.
    """
    prefix = key.removeprefix(API_KEY_PREFIX).split("_", 1)[0]
    found = session.execute(
        select(ApiKeyRow, TenantRow)
        .join(TenantRow, TenantRow.tenant_id == ApiKeyRow.tenant_id)
        .where(ApiKeyRow.prefix == prefix)
        .execution_options(**ALL_TENANTS)
    ).first()
    now = utcnow()
    if found is None or not same(found[0].key_hash, digest(key)):
        raise Unauthenticated("unknown API key")
    row, tenant = found
    if row.revoked_at is not None:
        raise Unauthenticated("this API key was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("this API key has expired")
    principal = Principal(
        tenant_id=tenant.tenant_id,
        tenant_slug=tenant.slug,
        role=Role(row.role) if row.role else Role.AGENT,
        api_key_id=row.api_key_id,
        agent_id=row.agent_id,
    )
    stale = row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION
    return principal, stale


def touch_api_key(session: Session, principal: Principal) -> None:
    """Record that the principal's key was used now."""
    session.execute(
        update(ApiKeyRow)
        .where(ApiKeyRow.api_key_id == principal.api_key_id)
        .values(last_used_at=utcnow())
        .execution_options(**ALL_TENANTS)
    )


def me(session: Session, principal: Principal) -> Me:
    """Who the principal is."""
    tenant = session.scalar(select(TenantRow).where(TenantRow.tenant_id == principal.tenant_id))
    assert tenant is not None
    user = session.get(UserRow, principal.user_id) if principal.user_id else None
    memberships = []
    if principal.user_id is not None:
        rows = session.execute(
            select(TenantRow, MembershipRow.role)
            .join(MembershipRow, MembershipRow.tenant_id == TenantRow.tenant_id)
            .where(MembershipRow.user_id == principal.user_id)
            .order_by(TenantRow.name, TenantRow.slug)
            .execution_options(all_tenants=True)  # a person's own memberships, everywhere
        ).all()
        memberships = [
            TenantMembership(tenant=Tenant.model_validate(row), role=Role(role))
            for row, role in rows
        ]
    return Me(
        kind="user" if principal.user_id else "api_key",
        user=User.model_validate(user) if user else None,
        api_key_id=principal.api_key_id,
        agent_id=principal.agent_id,
        tenant=Tenant.model_validate(tenant),
        role=principal.role,
        memberships=memberships,
    )


def create_api_key(session: Session, data: ApiKeyCreate, *, actor: Actor) -> ApiKeyCreated:
    """A new key (its secret is returned this once, only its hash is kept)."""
    if (data.role is None) == (data.agent_id is None):
        raise InvalidInput("give either a role or an agent_id", field="role")
    if data.role is Role.AGENT:
        raise InvalidInput("agent keys are made with agent_id, not the agent role", field="role")
    if data.agent_id is not None:
        require_agents(session, [data.agent_id])
    key, prefix = new_api_key()
    row = ApiKeyRow(
        name=data.name,
        prefix=prefix,
        key_hash=digest(key),
        role=data.role.value if data.role else None,
        agent_id=data.agent_id,
        created_by_user_id=actor.user_id,
        expires_at=data.expires_at,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        "api_key.created",
        actor=actor,
        tenant_id=session.info.get("tenant_id"),
        subject_kind="api_key",
        subject_id=row.api_key_id,
        details={"prefix": prefix, "role": row.role, "agent_id": str(row.agent_id or "") or None},
    )
    record_event(
        session,
        "api_key.created",
        actor=actor,
        subject_kind="api_key",
        subject_id=row.api_key_id,
        agent_id=row.agent_id,
        summary=f"API key {row.name!r} ({prefix}) created",
        payload={"prefix": prefix, "role": row.role},
    )
    return ApiKeyCreated.model_validate({**ApiKey.model_validate(row).model_dump(), "key": key})


def list_api_keys(session: Session) -> list[ApiKey]:
    """The tenant's keys, newest first (never their secrets)."""
    rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.api_key_id.desc()))
    return [ApiKey.model_validate(row) for row in rows]


def revoke_api_key(session: Session, api_key_id: uuid.UUID, *, actor: Actor) -> ApiKey:
    """Revoke a key at once (idempotent)."""
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.api_key_id == api_key_id))
    if row is None:
        raise NotFound("API key", api_key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        record_audit(
            session,
            "api_key.revoked",
            actor=actor,
            tenant_id=row.tenant_id,
            subject_kind="api_key",
            subject_id=api_key_id,
            details={"prefix": row.prefix},
        )
        record_event(
            session,
            "api_key.revoked",
            actor=actor,
            subject_kind="api_key",
            subject_id=api_key_id,
            summary=f"API key {row.name!r} ({row.prefix}) revoked",
            payload={"prefix": row.prefix},
        )
    return ApiKey.model_validate(row)


def sign_in_external(
    session: Session,
    email: str,
    display_name: str,
    tenant_slug: str,
    role: Role,
    *,
    key: str,
    provider: str,
) -> TokenPair:
    """Sign in someone an identity provider vouched for: find or create the user, and let them
    join the tenant with `role` on their first visit (an existing membership keeps its role)."""
    user = session.scalar(select(UserRow).where(UserRow.email == email))
    if user is None:
        user = UserRow(email=email, display_name=display_name)
        session.add(user)
        session.flush()
    if not user.is_active:
        raise Unauthenticated("this account is disabled")
    tenant = session.scalar(select(TenantRow).where(TenantRow.slug == tenant_slug))
    if tenant is None:
        raise NotFound("tenant", tenant_slug)
    member = session.scalar(
        select(MembershipRow)
        .where(MembershipRow.user_id == user.user_id, MembershipRow.tenant_id == tenant.tenant_id)
        .execution_options(**ALL_TENANTS)
    )
    if member is None:
        member = MembershipRow(tenant_id=tenant.tenant_id, user_id=user.user_id, role=role.value)
        session.add(member)
        session.flush()
    record_audit(
        session,
        "auth.login_succeeded",
        actor=Actor.user(user.user_id),
        tenant_id=tenant.tenant_id,
        subject_kind="user",
        subject_id=user.user_id,
        details={"role": member.role, "via": provider},
    )
    return issue_tokens(session, key, user.user_id, tenant, member.role)
