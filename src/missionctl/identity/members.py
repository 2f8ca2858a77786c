"""Members and invitations of a tenant (a concept of its own, beside sign-in in service.py)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from missionctl.audit.service import record_audit
from missionctl.common import Actor
from missionctl.db import tenant_of, utcnow
from missionctl.errors import Conflict, NotFound
from missionctl.identity.credentials import digest, hash_password, verify_password
from missionctl.identity.models import (
    InvitationRow,
    MembershipRow,
    RefreshTokenRow,
    TenantRow,
    UserRow,
)
from missionctl.identity.schemas import (
    Invitation,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    Member,
    TokenPair,
)
from missionctl.identity.service import ALL_TENANTS, issue_tokens
from missionctl.permissions import Role

INVITATION_TTL = timedelta(days=7)
INVITATION_PREFIX = "mci_"


def list_members(session: Session) -> list[Member]:
    """The tenant's members, oldest first."""
    rows = session.execute(
        select(UserRow, MembershipRow)
        .join(MembershipRow, MembershipRow.user_id == UserRow.user_id)
        .order_by(MembershipRow.created_at)
    )
    return [_member(user, member) for user, member in rows]


def _member(user: UserRow, member: MembershipRow) -> Member:
    return Member(
        user_id=user.user_id,
        email=user.email,
        display_name=user.display_name,
        role=Role(member.role),
        joined_at=member.created_at,
    )


def _membership(session: Session, user_id: uuid.UUID) -> tuple[UserRow, MembershipRow]:
    found = session.execute(
        select(UserRow, MembershipRow)
        .join(MembershipRow, MembershipRow.user_id == UserRow.user_id)
        .where(UserRow.user_id == user_id)
        .with_for_update(of=MembershipRow)
    ).first()
    if found is None:
        raise NotFound("member", user_id)
    return found[0], found[1]


def _keep_an_admin(session: Session, member: MembershipRow) -> None:
    if member.role != Role.ADMIN.value:
        return
    admins = session.scalar(
        select(func.count()).select_from(MembershipRow).where(MembershipRow.role == Role.ADMIN)
    )
    if (admins or 0) <= 1:
        raise Conflict("this is the tenant's last admin; make someone else admin first")


def update_member_role(session: Session, user_id: uuid.UUID, role: Role, *, actor: Actor) -> Member:
    """Give a member another role (never leaving the tenant without an admin)."""
    user, member = _membership(session, user_id)
    if role is Role.AGENT:
        raise Conflict("people cannot have the agent role")
    previous = member.role
    if previous != role.value:
        if role is not Role.ADMIN:
            _keep_an_admin(session, member)
        member.role = role.value
        session.flush()
        record_audit(
            session,
            "membership.role_changed",
            actor=actor,
            tenant_id=member.tenant_id,
            subject_kind="user",
            subject_id=user_id,
            details={"email": user.email, "from": previous, "to": role.value},
        )
    return _member(user, member)


def remove_member(session: Session, user_id: uuid.UUID, *, actor: Actor) -> None:
    """Take a user out of the tenant and end their sign-ins here."""
    user, member = _membership(session, user_id)
    _keep_an_admin(session, member)
    tenant_id = member.tenant_id
    session.delete(member)
    session.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.user_id == user_id, RefreshTokenRow.tenant_id == tenant_id)
        .where(RefreshTokenRow.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.flush()
    record_audit(
        session,
        "membership.removed",
        actor=actor,
        tenant_id=tenant_id,
        subject_kind="user",
        subject_id=user_id,
        details={"email": user.email, "role": member.role},
    )


def create_invitation(
    session: Session, data: InvitationCreate, *, actor: Actor
) -> InvitationCreated:
    """Invite an e-mail with a role; the token (in the returned link) works once, for 7 days."""
    if data.role is Role.AGENT:
        raise Conflict("people cannot have the agent role")
    token = INVITATION_PREFIX + secrets.token_urlsafe(32)
    row = InvitationRow(
        email=data.email.lower(),
        role=data.role.value,
        token_hash=digest(token),
        expires_at=utcnow() + INVITATION_TTL,
        created_by_user_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        "invitation.created",
        actor=actor,
        tenant_id=tenant_of(session),
        subject_kind="invitation",
        subject_id=row.invitation_id,
        details={"email": row.email, "role": row.role},
    )
    return InvitationCreated.model_validate(
        {
            **Invitation.model_validate(row).model_dump(),
            "token": token,
            "accept_path": f"/invite/{token}",
        }
    )


def list_invitations(session: Session) -> list[Invitation]:
    """The tenant's invitations, newest first."""
    rows = session.scalars(select(InvitationRow).order_by(InvitationRow.invitation_id.desc()))
    return [Invitation.model_validate(row) for row in rows]


def revoke_invitation(session: Session, invitation_id: uuid.UUID, *, actor: Actor) -> Invitation:
    """Withdraw an invitation that was not accepted yet (idempotent)."""
    row = session.scalar(select(InvitationRow).where(InvitationRow.invitation_id == invitation_id))
    if row is None:
        raise NotFound("invitation", invitation_id)
    if row.revoked_at is None and row.accepted_at is None:
        row.revoked_at = utcnow()
        session.flush()
        record_audit(
            session,
            "invitation.revoked",
            actor=actor,
            tenant_id=row.tenant_id,
            subject_kind="invitation",
            subject_id=invitation_id,
            details={"email": row.email},
        )
    return Invitation.model_validate(row)


def accept_invitation(session: Session, data: InvitationAccept, *, key: str) -> TokenPair | None:
    """Join the tenant: a new user sets a password, an existing one proves theirs.

    Returns tokens for the new membership, or None if the token or password is not right.
    """
    now = utcnow()
    invitation = session.scalar(
        select(InvitationRow)
        .where(InvitationRow.token_hash == digest(data.token))
        .execution_options(**ALL_TENANTS)
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= now
    ):
        return None
    user = session.scalar(select(UserRow).where(UserRow.email == invitation.email))
    if user is None:
        user = UserRow(
            email=invitation.email,
            display_name=data.display_name,
            password_hash=hash_password(data.password),
        )
        session.add(user)
        session.flush()
    elif not verify_password(user.password_hash, data.password):
        return None
    already = session.scalar(
        select(MembershipRow)
        .where(MembershipRow.user_id == user.user_id)
        .where(MembershipRow.tenant_id == invitation.tenant_id)
        .execution_options(**ALL_TENANTS)
    )
    if already is None:
        session.add(
            MembershipRow(
                tenant_id=invitation.tenant_id, user_id=user.user_id, role=invitation.role
            )
        )
    invitation.accepted_at = now
    session.flush()
    record_audit(
        session,
        "invitation.accepted",
        actor=Actor.user(user.user_id),
        tenant_id=invitation.tenant_id,
        subject_kind="invitation",
        subject_id=invitation.invitation_id,
        details={"email": invitation.email, "role": invitation.role},
    )
    tenant = session.get(TenantRow, invitation.tenant_id)
    assert tenant is not None
    role = already.role if already is not None else invitation.role
    return issue_tokens(session, key, user.user_id, tenant, role)
